//! Netlink: interfaces, addresses, routes, rules, and a monitor of link / address events.
//!
//! Owns every rtnetlink request baton makes. It never runs the `ip` tool and never
//! decides *when* to change anything: the daemon asks, this module does it. Adding an
//! address or route that exists, or deleting one that is gone, succeeds, so the daemon
//! can repeat itself after a restart or a lost event without special cases.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Result;

/// Address / route scope (`ip addr ... scope X`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Scope {
    #[default]
    Global,
    Site,
    Link,
    Host,
    Nowhere,
    Other(u8),
}

/// One interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub ifindex: u32,
    pub name: String,
    /// Hardware address, if the link has a 6-byte one (Ethernet, veth, bridge).
    pub mac: Option<[u8; 6]>,
    /// Administratively up (IFF_UP).
    pub admin_up: bool,
    /// Operationally up: IFF_UP and IFF_RUNNING (carrier). What VRRP calls "up".
    pub up: bool,
}

/// One address on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub label: Option<String>,
    pub scope: Scope,
    /// IFA_F_SECONDARY: not the primary address of its subnet.
    pub secondary: bool,
}

/// An address to add or delete (a keepalived `virtual_ipaddress` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAddress {
    pub ifindex: u32,
    pub addr: IpAddr,
    /// 32 / 128 when the config gives none.
    pub prefix_len: u8,
    /// IPv4 only. `None`: no broadcast attribute.
    pub broadcast: Option<Ipv4Addr>,
    /// IPv4 only (`dev eth0 label eth0:vip`). Must start with the interface name.
    pub label: Option<String>,
    pub scope: Scope,
}

impl VirtualAddress {
    /// A host address (/32 or /128), global scope, no label or broadcast.
    pub fn host(ifindex: u32, addr: IpAddr) -> VirtualAddress {
        let prefix_len = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        VirtualAddress {
            ifindex,
            addr,
            prefix_len,
            broadcast: None,
            label: None,
            scope: Scope::Global,
        }
    }
}

/// Route type (`ip route add blackhole ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RouteKind {
    #[default]
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Local,
}

/// A route to add or delete (a keepalived `virtual_routes` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub kind: RouteKind,
    /// Destination network; its family decides the route's family.
    pub dst: IpAddr,
    pub prefix_len: u8,
    /// `via`: next hop.
    pub gateway: Option<IpAddr>,
    /// `dev`: output interface.
    pub ifindex: Option<u32>,
    /// `src`: preferred source address.
    pub src: Option<IpAddr>,
    /// `metric` / `preference`. `None`: kernel default (0 for v4, 1024 for v6).
    pub metric: Option<u32>,
    /// `table`. `None`: main (254).
    pub table: Option<u32>,
    /// `scope`. `None`: link for routes without a gateway on a device, else global.
    pub scope: Option<Scope>,
}

/// A policy rule to add or delete (a keepalived `virtual_rules` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `from ADDR/LEN`.
    pub from: Option<(IpAddr, u8)>,
    /// `to ADDR/LEN`.
    pub to: Option<(IpAddr, u8)>,
    /// `table N` (lookup).
    pub table: u32,
    /// `priority N` / `preference N`. `None`: the kernel picks one.
    pub priority: Option<u32>,
    /// Family when neither `from` nor `to` is given (they decide it otherwise).
    pub v6: bool,
}

/// A change seen by the [`Monitor`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetEvent {
    /// The link became operationally up (IFF_UP and IFF_RUNNING).
    LinkUp { ifindex: u32, name: String },
    /// The link lost IFF_UP or IFF_RUNNING.
    LinkDown { ifindex: u32, name: String },
    /// A link appeared (also reported for links renamed in).
    LinkAdded { ifindex: u32, name: String },
    LinkRemoved { ifindex: u32, name: String },
    AddressAdded {
        ifindex: u32,
        addr: IpAddr,
        prefix: u8,
    },
    AddressRemoved {
        ifindex: u32,
        addr: IpAddr,
        prefix: u8,
    },
}

/// A netlink request handle. Cheap to clone; every clone shares one connection.
///
/// Must be created inside a tokio runtime: `new` spawns the connection task.
#[derive(Debug, Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl Netlink {
    pub fn new() -> Result<Netlink> {
        todo!()
    }

    pub async fn link_by_name(&self, name: &str) -> Result<LinkInfo> {
        let _ = name;
        todo!()
    }

    pub async fn link_by_index(&self, ifindex: u32) -> Result<LinkInfo> {
        let _ = ifindex;
        todo!()
    }

    /// All links.
    pub async fn links(&self) -> Result<Vec<LinkInfo>> {
        todo!()
    }

    /// Sets the link administratively up or down.
    pub async fn set_link_up(&self, ifindex: u32, up: bool) -> Result<()> {
        let _ = (ifindex, up);
        todo!()
    }

    /// Every address on the interface (both families).
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<AddrInfo>> {
        let _ = ifindex;
        todo!()
    }

    /// The interface's primary IPv4 address: the first non-secondary one the kernel lists.
    pub async fn primary_ipv4(&self, ifindex: u32) -> Result<Option<Ipv4Addr>> {
        let _ = ifindex;
        todo!()
    }

    /// The interface's IPv6 link-local address (fe80::/10), if any.
    pub async fn ipv6_link_local(&self, ifindex: u32) -> Result<Option<Ipv6Addr>> {
        let _ = ifindex;
        todo!()
    }

    /// Adds an address. Already present: success.
    pub async fn add_address(&self, a: &VirtualAddress) -> Result<()> {
        let _ = a;
        todo!()
    }

    /// Deletes an address. Already gone: success.
    pub async fn del_address(&self, a: &VirtualAddress) -> Result<()> {
        let _ = a;
        todo!()
    }

    /// Adds a route. Already present: success.
    pub async fn add_route(&self, r: &Route) -> Result<()> {
        let _ = r;
        todo!()
    }

    /// Deletes a route. Already gone: success.
    pub async fn del_route(&self, r: &Route) -> Result<()> {
        let _ = r;
        todo!()
    }

    /// Adds a policy rule. Already present: success.
    pub async fn add_rule(&self, r: &Rule) -> Result<()> {
        let _ = r;
        todo!()
    }

    /// Deletes a policy rule. Already gone: success.
    pub async fn del_rule(&self, r: &Rule) -> Result<()> {
        let _ = r;
        todo!()
    }
}

/// A stream of [`NetEvent`]s from RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and
/// RTNLGRP_IPV6_IFADDR. Link events are edges: the monitor remembers each link's state
/// and reports only changes.
pub struct Monitor {
    _private: (),
}

impl Monitor {
    /// Subscribes, then reads the current links so the first events are real changes.
    /// Must be called inside a tokio runtime.
    pub async fn new() -> Result<Monitor> {
        todo!()
    }

    /// The next event; `None` when the netlink socket closed.
    pub async fn next(&mut self) -> Option<NetEvent> {
        todo!()
    }
}
