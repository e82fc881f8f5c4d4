//! The baton-to-baton link (docs/link-design.md): one authenticated, encrypted connection
//! between two nodes beside VRRP, carrying hello, heartbeat, status and config summary.
//! VRRP never waits on it.
//!
//! - [`identity`]: the node's key, self-signed certificate, fingerprint and node id, kept
//!   in the state directory;
//! - [`trust`]: the peers the node trusts (approved, or named in baton's own file) and
//!   those pending approval;
//! - [`tls`]: TLS 1.3 configurations whose verifier records the peer's fingerprint, so
//!   trust is decided by fingerprint after the handshake;
//! - [`codec`], [`message`], [`session`]: frames, their bodies, and the sans-IO state
//!   machine of one connection (time is an argument; no sockets, no clock);
//! - [`compare`]: the per-instance settings two nodes must agree on, and their differences;
//! - [`handover`]: the sans-IO rule that keeps two linked nodes' service intervals apart
//!   (issue 11; not yet driven by the daemon).
//!
//! The driver that runs all this beside the engine is `daemon::link`.

pub mod codec;
pub mod compare;
pub mod handover;
pub mod identity;
pub mod message;
pub mod session;
pub mod tls;
pub mod trust;
