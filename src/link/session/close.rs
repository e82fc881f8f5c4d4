//! Why a session ended, and what each reason tells the peer and the refusal counters.

use std::time::Duration;

use super::Phase;
use crate::link::codec::{DecodeError, FrameType};
use crate::link::message::{Close, CloseCode, VersionError};

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    #[error("no hello within the hello timeout")]
    HelloTimeout,
    #[error("peer silent for {0:?}")]
    PeerDead(Duration),
    #[error(transparent)]
    Version(VersionError),
    #[error("framing: {0}")]
    Frame(DecodeError),
    #[error("frame type {0} before hello")]
    UnknownTypeBeforeHello(u16),
    /// The agreed version names every type a peer may send, so anything else is a bug or
    /// an attack, not a newer peer.
    #[error("frame type {0}, unknown in the agreed version")]
    UnknownType(u16),
    #[error("{0} before hello")]
    ExpectedHello(FrameType),
    #[error("a second hello")]
    DuplicateHello,
    #[error("bad {kind} body: {error}")]
    BadBody { kind: FrameType, error: String },
    #[error("hello names fingerprint {hello}, TLS saw {tls}")]
    FingerprintMismatch { tls: String, hello: String },
    #[error("peer acknowledged version {theirs}, we agreed on {ours}")]
    AckVersion { ours: u16, theirs: u16 },
    #[error("heartbeat {seq} after {last}: replayed or out of order")]
    HeartbeatReplay { seq: u64, last: u64 },
    #[error("echo of heartbeat {seq}, which we did not send or which it misquotes")]
    BadHeartbeatAck { seq: u64 },
    #[error("{kind} not allowed while {phase:?}")]
    NotAllowed { kind: FrameType, phase: Phase },
    #[error("peer closed: {code:?} {detail}", code = .0.code, detail = .0.detail)]
    PeerClosed(Close),
    #[error("connection ended")]
    Eof,
    #[error("peer's trust revoked")]
    Revoked,
    #[error("shutting down")]
    Shutdown,
    #[error("our own message: {0}")]
    Outgoing(String),
}

impl CloseReason {
    /// A stable key for counting refusals per peer and cause.
    pub fn cause(&self) -> &'static str {
        match self {
            CloseReason::HelloTimeout => "hello_timeout",
            CloseReason::PeerDead(_) => "peer_dead",
            CloseReason::Version(_) => "version",
            CloseReason::Frame(DecodeError::Oversized { .. }) => "oversized",
            CloseReason::Frame(DecodeError::Truncated { .. }) => "truncated",
            CloseReason::Frame(_) => "garbage",
            CloseReason::UnknownTypeBeforeHello(_) => "unknown_type_before_hello",
            CloseReason::UnknownType(_) => "unknown_type",
            CloseReason::ExpectedHello(_) => "expected_hello",
            CloseReason::DuplicateHello => "duplicate_hello",
            CloseReason::BadBody { .. } => "bad_body",
            CloseReason::FingerprintMismatch { .. } => "fingerprint_mismatch",
            CloseReason::AckVersion { .. } => "ack_version",
            CloseReason::HeartbeatReplay { .. } => "heartbeat_replay",
            CloseReason::BadHeartbeatAck { .. } => "bad_heartbeat_ack",
            CloseReason::NotAllowed { .. } => "not_allowed",
            CloseReason::PeerClosed(_) => "peer_closed",
            CloseReason::Eof => "eof",
            CloseReason::Revoked => "revoked",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Outgoing(_) => "outgoing",
        }
    }

    /// What the Close frame we send for this reason says; `None`: the peer is gone.
    pub(super) fn code(&self) -> Option<CloseCode> {
        match self {
            CloseReason::PeerClosed(_) | CloseReason::Eof => None,
            CloseReason::HelloTimeout | CloseReason::PeerDead(_) => Some(CloseCode::Timeout),
            CloseReason::Version(_) => Some(CloseCode::Version),
            CloseReason::Revoked => Some(CloseCode::Revoked),
            CloseReason::Shutdown => Some(CloseCode::Shutdown),
            _ => Some(CloseCode::ProtocolError),
        }
    }
}
