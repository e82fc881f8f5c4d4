//! Bytes on the wire: VRRP v2 (RFC 3768) and v3 (RFC 5798 / RFC 9568) advertisements.
//!
//! This module owns parsing and emitting only. It knows nothing of instances, sockets or
//! time. Every function here accepts untrusted bytes: after a successful length check no
//! accessor can panic, and malformed input comes back as an [`Error`].

pub mod vrrp;

pub use vrrp::{
    Advert, Auth, Centis, ChecksumMode, Error, Packet, Version, peek_version, peek_vrid,
};
