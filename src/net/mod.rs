//! net: everything that touches the kernel for VRRP.
//!
//! - [`socket`]: raw IP sockets for protocol 112 (v4 and v6), multicast membership,
//!   sending adverts with TTL / hop limit 255, receiving them with their IP metadata.
//! - [`netlink`]: interface lookup, link state, addresses, routes and rules, and a
//!   monitor of link / address changes (rtnetlink, never the `ip` tool).
//! - [`announce`]: gratuitous ARP and unsolicited neighbour advertisements.
//! - [`vmac`]: virtual MAC interfaces (macvlan) for `use_vmac`, and their sysctls.
//!
//! This module moves opaque VRRP payload bytes: it never parses VRRP (that is `wire`'s
//! job) and knows nothing of instances or state. It may use `crate::wire` types only.

pub mod announce;
pub mod netlink;
pub mod socket;
pub mod vmac;

pub use announce::Announcer;
pub use netlink::{
    AddrInfo, LinkInfo, Monitor, NetEvent, Netlink, Route, RouteKind, Rule, Scope, VirtualAddress,
};
pub use socket::{Family, RxPacket, RxStats, SocketConfig, VrrpSocket};
pub use vmac::{VmacSpec, virtual_mac};

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused a netlink request (the errno it returned).
    #[error("netlink {op}: {source}")]
    Netlink {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// No interface with that name or index.
    #[error("no such interface: {0}")]
    NoSuchInterface(String),
    /// The arguments do not make sense together (e.g. a v6 source on a v4 socket).
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(op: &'static str, source: std::io::Error) -> Self {
        Error::Io { op, source }
    }
}

/// Result alias for this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
