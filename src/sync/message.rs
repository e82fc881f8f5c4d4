//! The data sync messages: bodies of the link's frames 32 to 39 (protocol version 3).
//!
//! Every message but [`Data`] is JSON, like the rest of the link; [`Data`] carries file
//! bytes, so its body is a fixed binary header and the bytes themselves. [`decode`] takes
//! a frame's type and body from an untrusted peer and either returns a message or says
//! why not; it never panics and never allocates more than the body's size. No I/O.
//!
//! A directory is named on the wire by its path as both nodes' files write it
//! (`sync_dir /opt/neuronex/data ...`); a node ignores, and counts, messages about a
//! directory it does not keep in step.

use serde::{Deserialize, Serialize};

use super::tree::Entry;

pub const MANIFEST: u16 = 32;
pub const OFFER: u16 = 33;
pub const ACK: u16 = 34;
pub const PULL: u16 = 35;
pub const WANT: u16 = 36;
pub const DATA: u16 = 37;
pub const CREDIT: u16 = 38;
pub const ABORT: u16 = 39;

/// Bytes of file content one [`Data`] frame carries at most.
pub const CHUNK: usize = 64 * 1024;
/// Entries one [`Manifest`] page carries at most (about 200 bytes each in JSON, so a page
/// stays far below the link's 1 MiB frame limit).
pub const PAGE: usize = 2000;
/// Bytes a source may send past the receiver's last credit: it bounds what waits in the
/// connection ahead of a heartbeat or a handover message, and what a receiver buffers.
pub const WINDOW: u64 = 1024 * 1024;

/// A source's current generation of a directory, sent when it changes, when the link
/// comes up and on the compare timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub dir: String,
    pub generation: u64,
    /// [`super::tree::Manifest::digest`] of the generation.
    pub digest: String,
    pub files: u64,
    pub bytes: u64,
    /// The sender's service for the directory's instance or group is running. An offer
    /// from a node whose service is stopped (the last one that served) is taken only when
    /// its generation is newer than the receiver's.
    pub serving: bool,
}

/// Asks the source for the manifest of its current generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pull {
    pub dir: String,
    pub generation: u64,
    /// Named again in the answer's pages, so pages that answer an earlier pull are told
    /// apart (and dropped).
    #[serde(default)]
    pub transfer: u32,
}

/// One page of a generation's manifest; pages come in order, the last one says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub dir: String,
    pub generation: u64,
    pub digest: String,
    pub page: u32,
    pub last: bool,
    /// The pull this answers.
    #[serde(default)]
    pub transfer: u32,
    pub entries: Vec<Entry>,
}

/// Asks for the contents of files of a generation, by their index in its manifest. The
/// source sends them in this order, each whole, as [`Data`] frames of `transfer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Want {
    pub dir: String,
    pub generation: u64,
    pub transfer: u32,
    pub files: Vec<u32>,
}

/// The receiver has written `bytes` more of `transfer`: the source may send that much
/// more past [`WINDOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub transfer: u32,
    pub bytes: u64,
}

/// A transfer ends early: the source's file changed while it was read (a newer
/// generation follows), the generation is no longer the source's, or the receiver
/// refused what it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abort {
    pub dir: String,
    pub transfer: u32,
    pub reason: String,
}

/// What the receiver holds after an offer: `ok` with the generation now in its
/// directory, or not, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub dir: String,
    pub generation: u64,
    pub digest: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// File bytes: `transfer | file index | offset | bytes`, the numbers big endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    pub transfer: u32,
    pub index: u32,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// Bytes of [`Data`]'s header.
pub const DATA_HEADER: usize = 4 + 4 + 8;

/// One message read from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Msg {
    Offer(Offer),
    Pull(Pull),
    Manifest(Manifest),
    Want(Want),
    Data(Data),
    Credit(Credit),
    Abort(Abort),
    Ack(Ack),
}

/// Why a frame's body is not a sync message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("sync frame type {0} is not one this baton knows")]
    UnknownType(u16),
    #[error("data frame of {0} bytes is shorter than its header")]
    ShortData(usize),
    #[error("data frame carries {0} bytes, over the chunk size")]
    LongData(usize),
    #[error("bad sync message body: {0}")]
    Json(String),
}

impl DecodeError {
    /// The counter a refusal of this kind goes to.
    pub fn cause(&self) -> &'static str {
        match self {
            DecodeError::UnknownType(_) => "unknown_type",
            DecodeError::ShortData(_) | DecodeError::LongData(_) => "bad_data_frame",
            DecodeError::Json(_) => "bad_json",
        }
    }
}

impl Msg {
    /// The frame type and body that carry this message.
    pub fn encode(&self) -> (u16, Vec<u8>) {
        let json =
            |kind, value: Result<Vec<u8>, serde_json::Error>| (kind, value.unwrap_or_default());
        match self {
            Msg::Offer(m) => json(OFFER, serde_json::to_vec(m)),
            Msg::Pull(m) => json(PULL, serde_json::to_vec(m)),
            Msg::Manifest(m) => json(MANIFEST, serde_json::to_vec(m)),
            Msg::Want(m) => json(WANT, serde_json::to_vec(m)),
            Msg::Credit(m) => json(CREDIT, serde_json::to_vec(m)),
            Msg::Abort(m) => json(ABORT, serde_json::to_vec(m)),
            Msg::Ack(m) => json(ACK, serde_json::to_vec(m)),
            Msg::Data(d) => {
                let mut body = Vec::with_capacity(DATA_HEADER + d.bytes.len());
                body.extend_from_slice(&d.transfer.to_be_bytes());
                body.extend_from_slice(&d.index.to_be_bytes());
                body.extend_from_slice(&d.offset.to_be_bytes());
                body.extend_from_slice(&d.bytes);
                (DATA, body)
            }
        }
    }

    /// The directory the message is about, when it names one ([`Data`] and [`Credit`]
    /// name their transfer instead).
    pub fn dir(&self) -> Option<&str> {
        match self {
            Msg::Offer(m) => Some(&m.dir),
            Msg::Pull(m) => Some(&m.dir),
            Msg::Manifest(m) => Some(&m.dir),
            Msg::Want(m) => Some(&m.dir),
            Msg::Abort(m) => Some(&m.dir),
            Msg::Ack(m) => Some(&m.dir),
            Msg::Data(_) | Msg::Credit(_) => None,
        }
    }
}

/// Reads a sync frame's body.
pub fn decode(kind: u16, body: &[u8]) -> Result<Msg, DecodeError> {
    fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))
    }
    Ok(match kind {
        OFFER => Msg::Offer(json(body)?),
        PULL => Msg::Pull(json(body)?),
        MANIFEST => Msg::Manifest(json(body)?),
        WANT => Msg::Want(json(body)?),
        CREDIT => Msg::Credit(json(body)?),
        ABORT => Msg::Abort(json(body)?),
        ACK => Msg::Ack(json(body)?),
        DATA => {
            let (Some(t), Some(i), Some(o), Some(bytes)) = (
                body.get(0..4),
                body.get(4..8),
                body.get(8..16),
                body.get(DATA_HEADER..),
            ) else {
                return Err(DecodeError::ShortData(body.len()));
            };
            if bytes.len() > CHUNK {
                return Err(DecodeError::LongData(bytes.len()));
            }
            let be4 = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap_or_default());
            let be8 = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or_default());
            Msg::Data(Data {
                transfer: be4(t),
                index: be4(i),
                offset: be8(o),
                bytes: bytes.to_vec(),
            })
        }
        n => return Err(DecodeError::UnknownType(n)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_round_trips_with_a_fixed_header() {
        let d = Msg::Data(Data {
            transfer: 7,
            index: 3,
            offset: 65536,
            bytes: b"hello".to_vec(),
        });
        let (kind, body) = d.encode();
        assert_eq!(kind, DATA);
        assert_eq!(
            body,
            [
                0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, b'h', b'e', b'l', b'l', b'o'
            ]
        );
        assert_eq!(decode(kind, &body), Ok(d));
    }

    #[test]
    fn json_messages_round_trip() {
        let msgs = [
            Msg::Offer(Offer {
                dir: "/opt/d".into(),
                generation: 4,
                digest: "ab".into(),
                files: 2,
                bytes: 10,
                serving: true,
            }),
            Msg::Want(Want {
                dir: "/opt/d".into(),
                generation: 4,
                transfer: 1,
                files: vec![0, 5],
            }),
            Msg::Ack(Ack {
                dir: "/opt/d".into(),
                generation: 4,
                digest: "ab".into(),
                ok: false,
                error: Some("disk full".into()),
            }),
        ];
        for m in msgs {
            let (kind, body) = m.encode();
            assert_eq!(decode(kind, &body), Ok(m));
        }
    }

    #[test]
    fn bad_bodies_are_refused_not_panicked_on() {
        assert_eq!(decode(DATA, &[0; 15]), Err(DecodeError::ShortData(15)));
        let long = vec![0; DATA_HEADER + CHUNK + 1];
        assert_eq!(decode(DATA, &long), Err(DecodeError::LongData(CHUNK + 1)));
        assert!(matches!(decode(OFFER, b"{"), Err(DecodeError::Json(_))));
        assert_eq!(decode(40, b"{}"), Err(DecodeError::UnknownType(40)));
        assert_eq!(decode(DATA, &[0; 16]).map(|_| ()), Ok(()));
    }
}
