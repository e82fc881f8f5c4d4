//! Frames of the baton-to-baton link: pure bytes in and out, no I/O.
//!
//! Inside the TLS stream every frame is `u32 length | u16 type | u16 flags | body`, all
//! big endian, where `length` counts what follows it (so at least 4). The body is JSON
//! (see [`super::message`]); this file does not look inside it.
//!
//! [`Decoder`] takes bytes as they arrive (half a frame, several frames in one chunk) and
//! yields whole frames. It checks `length` against its current limit as soon as the four
//! length bytes are in, so a peer cannot make it buffer more than the limit; the session
//! raises the limit from [`LIMIT_BEFORE_TRUST`] to [`LIMIT_TRUSTED`] once the peer is
//! trusted. After an error the stream has lost its framing, so the decoder stays failed.
//! [`encode`] appends a frame to a buffer, so a caller can write several in one write.

use std::fmt;

/// Largest frame (after the length field) accepted from a peer not yet trusted: it can
/// only say Hello, HelloAck, Heartbeat and Close, all far smaller.
pub const LIMIT_BEFORE_TRUST: u32 = 4 * 1024;
/// Largest frame accepted from a trusted peer: room for the status and config summary of
/// about a thousand instances.
pub const LIMIT_TRUSTED: u32 = 1024 * 1024;

/// Bytes of type and flags, counted by the length field.
const TYPE_AND_FLAGS: usize = 4;
/// Bytes of the length field itself.
const LENGTH: usize = 4;

/// What a frame carries. The numbers are fixed forever; unknown ones survive as
/// `Unknown(n)`, and so do the reserved numbers (the rest of the handover range, data
/// sync) until a version of the protocol gives them bodies. Which types a peer may send
/// depends on the agreed version; the session judges that, not this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameType {
    Hello,
    HelloAck,
    Heartbeat,
    HeartbeatAck,
    Status,
    ConfigSummary,
    Close,
    /// Version 2 on: [`super::message::ReleaseRequest`].
    ReleaseRequest,
    /// Version 2 on: [`super::message::Released`].
    Released,
    /// Version 2 on: [`super::message::Holding`].
    Holding,
    /// Version 3 on: a data sync message (`crate::sync::message`), numbers 32 to 39.
    /// The session passes its body through without reading it.
    Sync(u16),
    Unknown(u16),
}

impl FrameType {
    pub fn number(self) -> u16 {
        match self {
            FrameType::Hello => 1,
            FrameType::HelloAck => 2,
            FrameType::Heartbeat => 3,
            FrameType::HeartbeatAck => 4,
            FrameType::Status => 5,
            FrameType::ConfigSummary => 6,
            FrameType::Close => 7,
            FrameType::ReleaseRequest => super::message::HANDOVER_RELEASE_REQUEST,
            FrameType::Released => super::message::HANDOVER_RELEASED,
            FrameType::Holding => super::message::HANDOVER_HOLDING,
            FrameType::Sync(n) | FrameType::Unknown(n) => n,
        }
    }
}

impl From<u16> for FrameType {
    fn from(n: u16) -> Self {
        match n {
            1 => FrameType::Hello,
            2 => FrameType::HelloAck,
            3 => FrameType::Heartbeat,
            4 => FrameType::HeartbeatAck,
            5 => FrameType::Status,
            6 => FrameType::ConfigSummary,
            7 => FrameType::Close,
            super::message::HANDOVER_RELEASE_REQUEST => FrameType::ReleaseRequest,
            super::message::HANDOVER_RELEASED => FrameType::Released,
            super::message::HANDOVER_HOLDING => FrameType::Holding,
            n if super::message::SYNC_IN_USE.contains(&n) => FrameType::Sync(n),
            n => FrameType::Unknown(n),
        }
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameType::Unknown(n) => write!(f, "unknown type {n}"),
            FrameType::Sync(n) => write!(f, "Sync({n})"),
            known => write!(f, "{known:?}"),
        }
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameType,
    /// Sent as 0. Ignored on receipt, so that a later version may set hints an older
    /// peer can ignore; anything a peer must understand gets a type of its own.
    pub flags: u16,
    pub body: Vec<u8>,
}

/// Why a byte stream is not a sequence of frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("frame of {len} bytes over the limit of {limit}")]
    Oversized { len: u32, limit: u32 },
    #[error("frame length {len} is shorter than its type and flags")]
    BadLength { len: u32 },
    #[error("stream ended inside a frame ({buffered} bytes of it received)")]
    Truncated { buffered: usize },
}

/// A frame we were asked to send is larger than any peer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame body of {len} bytes over the limit of {LIMIT_TRUSTED}")]
pub struct FrameTooLarge {
    pub len: usize,
}

/// Appends one frame to `out`. Nothing is appended on error.
pub fn encode(
    out: &mut Vec<u8>,
    kind: FrameType,
    flags: u16,
    body: &[u8],
) -> Result<(), FrameTooLarge> {
    let len = body
        .len()
        .checked_add(TYPE_AND_FLAGS)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n <= LIMIT_TRUSTED)
        .ok_or(FrameTooLarge { len: body.len() })?;
    out.reserve(LENGTH + TYPE_AND_FLAGS + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&kind.number().to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// Buffer capacity a decoder keeps between frames.
const KEEP_CAPACITY: usize = 16 * 1024;

/// Reassembles frames from a byte stream that arrives in arbitrary pieces.
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the bytes not yet returned; consumed bytes are dropped in one move when
    /// a call has taken what it can, so many small frames in one chunk stay linear.
    start: usize,
    limit: u32,
    failed: Option<DecodeError>,
}

impl Decoder {
    pub fn new(limit: u32) -> Self {
        Decoder {
            buf: Vec::new(),
            start: 0,
            limit,
            failed: None,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Applies to frames not yet started; a frame whose length was already accepted is
    /// not judged again.
    pub fn set_limit(&mut self, limit: u32) {
        self.limit = limit;
    }

    /// Bytes received and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Takes bytes as they came off the stream. Call [`Decoder::next_frame`] until it
    /// returns `Ok(None)`.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.parse_one() {
            Ok(Some(frame)) => Ok(Some(frame)),
            Ok(None) => {
                self.compact();
                Ok(None)
            }
            Err(e) => {
                self.buf = Vec::new();
                self.start = 0;
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The stream ended: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.buffered() {
            0 => Ok(()),
            buffered => Err(DecodeError::Truncated { buffered }),
        }
    }

    fn parse_one(&mut self) -> Result<Option<Frame>, DecodeError> {
        let rest = &self.buf[self.start..];
        let Some((len_bytes, after_len)) = rest.split_first_chunk::<LENGTH>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*len_bytes);
        if len > self.limit {
            return Err(DecodeError::Oversized {
                len,
                limit: self.limit,
            });
        }
        let Ok(len_usize) = usize::try_from(len) else {
            return Err(DecodeError::Oversized {
                len,
                limit: self.limit,
            });
        };
        if len_usize < TYPE_AND_FLAGS {
            return Err(DecodeError::BadLength { len });
        }
        let Some(content) = after_len.get(..len_usize) else {
            return Ok(None);
        };
        let Some((head, body)) = content.split_first_chunk::<TYPE_AND_FLAGS>() else {
            return Err(DecodeError::BadLength { len });
        };
        let frame = Frame {
            kind: FrameType::from(u16::from_be_bytes([head[0], head[1]])),
            flags: u16::from_be_bytes([head[2], head[3]]),
            body: body.to_vec(),
        };
        self.start += LENGTH + len_usize;
        Ok(Some(frame))
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        // A large frame (a status of many instances) leaves a large buffer behind: give
        // it back once it is empty rather than hold it for the whole connection.
        if self.buf.is_empty() && self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOLDEN: [u8; 13] = [0, 0, 0, 9, 0, 3, 0, 0, b'{', b'"', b'a', b'"', b'}'];

    fn frame(kind: FrameType, body: &[u8]) -> Frame {
        Frame {
            kind,
            flags: 0,
            body: body.to_vec(),
        }
    }

    #[test]
    fn encode_writes_length_type_flags_body() {
        let mut out = Vec::new();
        encode(&mut out, FrameType::Heartbeat, 0, b"{\"a\"}").unwrap();
        assert_eq!(out, GOLDEN);
    }

    #[test]
    fn decode_golden_bytes() {
        let mut d = Decoder::new(LIMIT_BEFORE_TRUST);
        d.push(&GOLDEN);
        assert_eq!(
            d.next_frame().unwrap(),
            Some(frame(FrameType::Heartbeat, b"{\"a\"}"))
        );
        assert_eq!(d.next_frame().unwrap(), None);
        d.finish().unwrap();
    }

    #[test]
    fn frames_split_at_every_byte_and_joined_in_one_chunk() {
        let mut stream = Vec::new();
        encode(&mut stream, FrameType::Hello, 0, b"hello").unwrap();
        encode(&mut stream, FrameType::Unknown(40), 7, b"").unwrap();
        encode(&mut stream, FrameType::Status, 0, &[b'x'; 300]).unwrap();
        let want = vec![
            frame(FrameType::Hello, b"hello"),
            Frame {
                kind: FrameType::Unknown(40),
                flags: 7,
                body: Vec::new(),
            },
            frame(FrameType::Status, &[b'x'; 300]),
        ];
        for chunk in [1, 2, 3, 7, 64, stream.len()] {
            let mut d = Decoder::new(LIMIT_BEFORE_TRUST);
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                d.push(piece);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, want, "chunk size {chunk}");
            d.finish().unwrap();
        }
    }

    #[test]
    fn oversized_is_refused_from_the_length_alone_and_the_limit_can_be_raised() {
        let body = vec![b' '; LIMIT_BEFORE_TRUST as usize];
        let mut bytes = Vec::new();
        encode(&mut bytes, FrameType::Status, 0, &body).unwrap();

        let mut d = Decoder::new(LIMIT_BEFORE_TRUST);
        d.push(&bytes[..4]);
        let len = LIMIT_BEFORE_TRUST + 4;
        let err = DecodeError::Oversized {
            len,
            limit: LIMIT_BEFORE_TRUST,
        };
        assert_eq!(d.next_frame(), Err(err.clone()));
        // The framing is lost: the decoder stays failed.
        d.push(&bytes[4..]);
        assert_eq!(d.next_frame(), Err(err));

        let mut d = Decoder::new(LIMIT_BEFORE_TRUST);
        d.set_limit(LIMIT_TRUSTED);
        d.push(&bytes);
        assert_eq!(
            d.next_frame().unwrap().map(|f| f.body.len()),
            Some(body.len())
        );
    }

    #[test]
    fn length_below_type_and_flags_is_refused() {
        let mut d = Decoder::new(LIMIT_BEFORE_TRUST);
        // Refused from the length alone, without waiting for the bytes it announces.
        d.push(&[0, 0, 0, 3]);
        assert_eq!(d.next_frame(), Err(DecodeError::BadLength { len: 3 }));
    }

    #[test]
    fn end_of_stream_inside_a_frame_is_truncated() {
        let mut d = Decoder::new(LIMIT_BEFORE_TRUST);
        d.push(&GOLDEN[..10]);
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.finish(), Err(DecodeError::Truncated { buffered: 10 }));
    }

    #[test]
    fn encode_refuses_what_no_peer_accepts() {
        let mut out = vec![1];
        let body = vec![0; LIMIT_TRUSTED as usize];
        assert_eq!(
            encode(&mut out, FrameType::Status, 0, &body),
            Err(FrameTooLarge { len: body.len() })
        );
        assert_eq!(out, [1]);
    }

    #[test]
    fn type_numbers_round_trip() {
        for n in 0..=64u16 {
            assert_eq!(FrameType::from(n).number(), n);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_chunks_never_panic(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..64), 0..16), limit in 0u32..5000) {
            let mut d = Decoder::new(limit);
            for c in &chunks {
                d.push(c);
                while let Ok(Some(f)) = d.next_frame() {
                    prop_assert!(f.body.len() + 4 <= limit as usize);
                }
            }
            let _ = d.finish();
        }
    }
}
