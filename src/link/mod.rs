//! The baton-to-baton link: one authenticated, encrypted connection between two nodes
//! beside VRRP, carrying hello, heartbeat, status and config summary. VRRP never waits
//! on it. See docs/link-design.md.

pub mod codec;
pub mod message;
pub mod session;
