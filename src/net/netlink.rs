//! Netlink: interfaces, addresses, routes, rules, and a monitor of link / address events.
//!
//! Owns every rtnetlink request baton makes. It never runs the `ip` tool and never
//! decides *when* to change anything: the daemon asks, this module does it. Adding an
//! address or route that exists, or deleting one that is gone, succeeds, so the daemon
//! can repeat itself after a restart or a lost event without special cases.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use std::collections::{HashMap, VecDeque};

use futures::StreamExt;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressHeaderFlags, AddressMessage, AddressScope,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{Error, Result};

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
    LinkUp {
        ifindex: u32,
        name: String,
    },
    /// The link lost IFF_UP or IFF_RUNNING.
    LinkDown {
        ifindex: u32,
        name: String,
    },
    /// A link appeared (also reported for links renamed in).
    LinkAdded {
        ifindex: u32,
        name: String,
    },
    LinkRemoved {
        ifindex: u32,
        name: String,
    },
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

// errno values the kernel answers with that mean "already done".
const EEXIST: i32 = libc::EEXIST;
const ESRCH: i32 = libc::ESRCH;
const ENOENT: i32 = libc::ENOENT;
const EADDRNOTAVAIL: i32 = libc::EADDRNOTAVAIL;
const ENODEV: i32 = libc::ENODEV;

/// IFA_F_NODAD: a virtual address taken over from a peer must be usable at once, and
/// the old master may still answer for it for a moment, which would fail DAD for good.
const IFA_F_NODAD: u8 = 0x02;

impl Netlink {
    pub fn new() -> Result<Netlink> {
        let (conn, handle, _messages) =
            rtnetlink::new_connection().map_err(|e| Error::io("netlink socket", e))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Sends one request and waits for the kernel's answer; an error whose errno is in
    /// `ok` counts as success (the state already is what we asked for).
    pub(super) async fn request_ack(
        &self,
        op: &'static str,
        msg: RouteNetlinkMessage,
        flags: u16,
        ok: &[i32],
    ) -> Result<()> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut handle = self.handle.clone();
        let mut resp = handle
            .request(req)
            .map_err(|_| Error::io(op, std::io::Error::other("netlink connection closed")))?;
        while let Some(m) = resp.next().await {
            if let NetlinkPayload::Error(e) = m.payload {
                if let Some(code) = e.code {
                    let errno = -code.get();
                    if ok.contains(&errno) {
                        return Ok(());
                    }
                    return Err(Error::Netlink {
                        op,
                        source: std::io::Error::from_raw_os_error(errno),
                    });
                }
            }
        }
        Ok(())
    }

    /// Sends a request and collects every answer message (a dump or a single get).
    pub(super) async fn request_collect(
        &self,
        op: &'static str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = NLM_F_REQUEST | flags;
        let mut handle = self.handle.clone();
        let mut resp = handle
            .request(req)
            .map_err(|_| Error::io(op, std::io::Error::other("netlink connection closed")))?;
        let mut out = Vec::new();
        while let Some(m) = resp.next().await {
            match m.payload {
                NetlinkPayload::InnerMessage(inner) => out.push(inner),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(Error::Netlink {
                            op,
                            source: std::io::Error::from_raw_os_error(-code.get()),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    async fn get_link(&self, msg: LinkMessage, what: String) -> Result<LinkInfo> {
        let answers = match self
            .request_collect("get link", RouteNetlinkMessage::GetLink(msg), 0)
            .await
        {
            Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(ENODEV) => {
                return Err(Error::NoSuchInterface(what));
            }
            r => r?,
        };
        answers
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => link_info(&l),
                _ => None,
            })
            .ok_or(Error::NoSuchInterface(what))
    }

    pub async fn link_by_name(&self, name: &str) -> Result<LinkInfo> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.get_link(msg, name.to_string()).await
    }

    pub async fn link_by_index(&self, ifindex: u32) -> Result<LinkInfo> {
        let mut msg = LinkMessage::default();
        msg.header.index = ifindex;
        self.get_link(msg, format!("index {ifindex}")).await
    }

    /// All links.
    pub async fn links(&self) -> Result<Vec<LinkInfo>> {
        let answers = self
            .request_collect(
                "dump links",
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                NLM_F_DUMP,
            )
            .await?;
        Ok(answers
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => link_info(l),
                _ => None,
            })
            .collect())
    }

    /// Sets the link administratively up or down.
    pub async fn set_link_up(&self, ifindex: u32, up: bool) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = ifindex;
        msg.header.flags = if up {
            LinkFlags::Up
        } else {
            LinkFlags::empty()
        };
        msg.header.change_mask = LinkFlags::Up;
        self.request_ack("set link", RouteNetlinkMessage::SetLink(msg), 0, &[])
            .await
    }

    /// Every address on the interface (both families).
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<AddrInfo>> {
        let answers = self
            .request_collect(
                "dump addresses",
                RouteNetlinkMessage::GetAddress(AddressMessage::default()),
                NLM_F_DUMP,
            )
            .await?;
        Ok(answers
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == ifindex => addr_info(a),
                _ => None,
            })
            .collect())
    }

    /// The interface's primary IPv4 address: the first non-secondary one the kernel lists
    /// (the kernel keeps primaries in the order they were added).
    pub async fn primary_ipv4(&self, ifindex: u32) -> Result<Option<Ipv4Addr>> {
        Ok(self
            .addresses(ifindex)
            .await?
            .into_iter()
            .find_map(|a| match a.addr {
                IpAddr::V4(v4) if !a.secondary => Some(v4),
                _ => None,
            }))
    }

    /// The interface's IPv6 link-local address (fe80::/10), if any.
    pub async fn ipv6_link_local(&self, ifindex: u32) -> Result<Option<Ipv6Addr>> {
        Ok(self
            .addresses(ifindex)
            .await?
            .into_iter()
            .find_map(|a| match a.addr {
                IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(v6),
                _ => None,
            }))
    }

    /// Adds an address. Already present: success. IPv6 addresses are added without
    /// duplicate address detection (IFA_F_NODAD).
    pub async fn add_address(&self, a: &VirtualAddress) -> Result<()> {
        let msg = address_message(a, true);
        self.request_ack(
            "add address",
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &[EEXIST],
        )
        .await
    }

    /// Deletes an address. Already gone: success.
    pub async fn del_address(&self, a: &VirtualAddress) -> Result<()> {
        let msg = address_message(a, false);
        self.request_ack(
            "delete address",
            RouteNetlinkMessage::DelAddress(msg),
            0,
            &[EADDRNOTAVAIL, ENOENT, ENODEV],
        )
        .await
    }

    /// Adds a route. Already present: success.
    pub async fn add_route(&self, r: &Route) -> Result<()> {
        let msg = route_message(r, true)?;
        self.request_ack(
            "add route",
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &[EEXIST],
        )
        .await
    }

    /// Deletes a route. Already gone: success.
    pub async fn del_route(&self, r: &Route) -> Result<()> {
        let msg = route_message(r, false)?;
        self.request_ack(
            "delete route",
            RouteNetlinkMessage::DelRoute(msg),
            0,
            &[ESRCH, ENOENT],
        )
        .await
    }

    /// Adds a policy rule. Already present: success.
    pub async fn add_rule(&self, r: &Rule) -> Result<()> {
        let msg = rule_message(r)?;
        self.request_ack(
            "add rule",
            RouteNetlinkMessage::NewRule(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &[EEXIST],
        )
        .await
    }

    /// Deletes a policy rule. Already gone: success.
    pub async fn del_rule(&self, r: &Rule) -> Result<()> {
        let msg = rule_message(r)?;
        self.request_ack(
            "delete rule",
            RouteNetlinkMessage::DelRule(msg),
            0,
            &[ENOENT, ESRCH],
        )
        .await
    }
}

fn addr_scope(s: Scope) -> AddressScope {
    match s {
        Scope::Global => AddressScope::Universe,
        Scope::Site => AddressScope::Site,
        Scope::Link => AddressScope::Link,
        Scope::Host => AddressScope::Host,
        Scope::Nowhere => AddressScope::Nowhere,
        Scope::Other(n) => AddressScope::Other(n),
    }
}

fn route_scope(s: Scope) -> RouteScope {
    match s {
        Scope::Global => RouteScope::Universe,
        Scope::Site => RouteScope::Site,
        Scope::Link => RouteScope::Link,
        Scope::Host => RouteScope::Host,
        Scope::Nowhere => RouteScope::NoWhere,
        Scope::Other(n) => RouteScope::Other(n),
    }
}

fn scope_from_u8(n: u8) -> Scope {
    match n {
        0 => Scope::Global,
        200 => Scope::Site,
        253 => Scope::Link,
        254 => Scope::Host,
        255 => Scope::Nowhere,
        n => Scope::Other(n),
    }
}

fn family(addr: &IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

pub(super) fn link_info(l: &LinkMessage) -> Option<LinkInfo> {
    let mut name = None;
    let mut mac = None;
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::Address(bytes) => mac = <[u8; 6]>::try_from(bytes.as_slice()).ok(),
            _ => {}
        }
    }
    let flags = l.header.flags;
    Some(LinkInfo {
        ifindex: l.header.index,
        name: name?,
        mac,
        admin_up: flags.contains(LinkFlags::Up),
        up: flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running),
    })
}

fn addr_info(a: &AddressMessage) -> Option<AddrInfo> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
    // point-to-point links and equal to IFA_LOCAL otherwise. IPv6 sends only IFA_ADDRESS.
    Some(AddrInfo {
        ifindex: a.header.index,
        addr: local.or(address)?,
        prefix_len: a.header.prefix_len,
        label,
        scope: scope_from_u8(u8::from(a.header.scope)),
        secondary: a.header.flags.contains(AddressHeaderFlags::Secondary),
    })
}

fn address_message(a: &VirtualAddress, adding: bool) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = family(&a.addr);
    msg.header.prefix_len = a.prefix_len;
    msg.header.index = a.ifindex;
    msg.header.scope = addr_scope(a.scope);
    msg.attributes.push(AddressAttribute::Local(a.addr));
    msg.attributes.push(AddressAttribute::Address(a.addr));
    if a.addr.is_ipv4() {
        if adding {
            if let Some(b) = a.broadcast {
                msg.attributes.push(AddressAttribute::Broadcast(b));
            }
        }
        // Only on add: a delete that named a label would miss the address if the label
        // changed since (e.g. across a reload) and leave the VIP behind.
        if let (true, Some(l)) = (adding, &a.label) {
            msg.attributes.push(AddressAttribute::Label(l.clone()));
        }
    } else if adding {
        msg.header.flags = AddressHeaderFlags::from_bits_retain(IFA_F_NODAD);
    }
    msg
}

/// Routing table ids above 255 do not fit the header byte; the kernel then reads the
/// RTA_TABLE / FRA_TABLE attribute, which we always send.
fn header_table(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(0)
}

const RT_TABLE_MAIN: u32 = 254;

fn route_message(r: &Route, adding: bool) -> Result<RouteMessage> {
    let fam = family(&r.dst);
    for other in [r.gateway, r.src].into_iter().flatten() {
        if family(&other) != fam {
            return Err(Error::Invalid(format!(
                "route to {}: {other} is of the other family",
                r.dst
            )));
        }
    }
    let max = if fam == AddressFamily::Inet { 32 } else { 128 };
    if r.prefix_len > max {
        return Err(Error::Invalid(format!("prefix /{} too long", r.prefix_len)));
    }
    let table = r.table.unwrap_or(RT_TABLE_MAIN);
    let mut msg = RouteMessage::default();
    msg.header.address_family = fam;
    msg.header.destination_prefix_length = r.prefix_len;
    msg.header.table = header_table(table);
    let kind = match r.kind {
        RouteKind::Unicast => RouteType::Unicast,
        RouteKind::Blackhole => RouteType::BlackHole,
        RouteKind::Unreachable => RouteType::Unreachable,
        RouteKind::Prohibit => RouteType::Prohibit,
        RouteKind::Local => RouteType::Local,
    };
    if adding {
        msg.header.protocol = RouteProtocol::Static;
        msg.header.kind = kind;
        msg.header.scope = match r.scope {
            Some(s) => route_scope(s),
            None if r.kind == RouteKind::Local => RouteScope::Host,
            // A device route without a next hop reaches its destination directly.
            None if r.kind == RouteKind::Unicast && r.gateway.is_none() && r.ifindex.is_some() => {
                RouteScope::Link
            }
            None => RouteScope::Universe,
        };
    } else {
        // On delete, NOWHERE and an unset type/protocol mean "any": match by the keys.
        msg.header.scope = r.scope.map_or(RouteScope::NoWhere, route_scope);
        if r.kind != RouteKind::Unicast {
            msg.header.kind = kind;
        }
    }
    if r.prefix_len > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(r.dst)));
    }
    if let Some(gw) = r.gateway {
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
    }
    if let Some(oif) = r.ifindex {
        msg.attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(src) = r.src {
        msg.attributes
            .push(RouteAttribute::PrefSource(RouteAddress::from(src)));
    }
    if let Some(m) = r.metric {
        msg.attributes.push(RouteAttribute::Priority(m));
    }
    msg.attributes.push(RouteAttribute::Table(table));
    Ok(msg)
}

fn rule_message(r: &Rule) -> Result<RuleMessage> {
    let fam = match (r.from, r.to) {
        (Some((a, _)), Some((b, _))) if family(&a) != family(&b) => {
            return Err(Error::Invalid(format!(
                "rule from {a} to {b} mixes families"
            )));
        }
        (Some((a, _)), _) | (_, Some((a, _))) => family(&a),
        (None, None) if r.v6 => AddressFamily::Inet6,
        (None, None) => AddressFamily::Inet,
    };
    let mut msg = RuleMessage::default();
    msg.header.family = fam;
    msg.header.table = header_table(r.table);
    msg.header.action = RuleAction::ToTable;
    if let Some((a, len)) = r.from {
        msg.header.src_len = len;
        msg.attributes.push(RuleAttribute::Source(a));
    }
    if let Some((a, len)) = r.to {
        msg.header.dst_len = len;
        msg.attributes.push(RuleAttribute::Destination(a));
    }
    msg.attributes.push(RuleAttribute::Table(r.table));
    if let Some(p) = r.priority {
        msg.attributes.push(RuleAttribute::Priority(p));
    }
    Ok(msg)
}

type NlMessages = futures::channel::mpsc::UnboundedReceiver<(
    NetlinkMessage<RouteNetlinkMessage>,
    rtnetlink::sys::SocketAddr,
)>;

/// A stream of [`NetEvent`]s from RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and
/// RTNLGRP_IPV6_IFADDR. Link events are edges: the monitor remembers each link's state
/// and reports only changes.
pub struct Monitor {
    messages: NlMessages,
    links: HashMap<u32, (String, bool)>,
    pending: VecDeque<NetEvent>,
    conn: tokio::task::JoinHandle<()>,
    // The connection task ends when its last handle is dropped, taking the event
    // channel with it: keep one for as long as the monitor lives.
    _handle: Netlink,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("links", &self.links)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl Monitor {
    /// Subscribes, then reads the current links so the first events are real changes.
    /// Must be called inside a tokio runtime.
    pub async fn new() -> Result<Monitor> {
        use rtnetlink::MulticastGroup;
        let (conn, handle, messages) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])
        .map_err(|e| Error::io("netlink monitor socket", e))?;
        let conn = tokio::spawn(conn);
        // Subscribed first, dumped second: a change between the two shows up as an event
        // rather than being lost.
        let nl = Netlink { handle };
        let mut links = HashMap::new();
        for l in nl.links().await? {
            links.insert(l.ifindex, (l.name, l.up));
        }
        Ok(Monitor {
            messages,
            links,
            pending: VecDeque::new(),
            conn,
            _handle: nl,
        })
    }

    /// Whether the monitor believes this link is up (`None`: unknown link).
    pub fn is_up(&self, ifindex: u32) -> Option<bool> {
        self.links.get(&ifindex).map(|(_, up)| *up)
    }

    /// The next event; `None` when the netlink socket closed.
    pub async fn next(&mut self) -> Option<NetEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            let (msg, _) = self.messages.next().await?;
            if let NetlinkPayload::InnerMessage(m) = msg.payload {
                self.absorb(m);
            }
        }
    }

    /// Turns the monitor into a `Stream` of events.
    pub fn into_stream(self) -> impl futures::Stream<Item = NetEvent> {
        futures::stream::unfold(self, |mut m| async move { m.next().await.map(|e| (e, m)) })
    }

    fn absorb(&mut self, m: RouteNetlinkMessage) {
        match m {
            RouteNetlinkMessage::NewLink(l) => {
                let Some(info) = link_info(&l) else { return };
                let (ifindex, name, up) = (info.ifindex, info.name, info.up);
                match self.links.insert(ifindex, (name.clone(), up)) {
                    None => {
                        self.pending.push_back(NetEvent::LinkAdded {
                            ifindex,
                            name: name.clone(),
                        });
                        if up {
                            self.pending.push_back(NetEvent::LinkUp { ifindex, name });
                        }
                    }
                    Some((_, was_up)) if was_up != up => {
                        self.pending.push_back(if up {
                            NetEvent::LinkUp { ifindex, name }
                        } else {
                            NetEvent::LinkDown { ifindex, name }
                        });
                    }
                    Some(_) => {}
                }
            }
            RouteNetlinkMessage::DelLink(l) => {
                let ifindex = l.header.index;
                let known = self.links.remove(&ifindex);
                let name = link_info(&l)
                    .map(|i| i.name)
                    .or(known.map(|(n, _)| n))
                    .unwrap_or_default();
                self.pending
                    .push_back(NetEvent::LinkRemoved { ifindex, name });
            }
            RouteNetlinkMessage::NewAddress(a) => {
                if let Some(i) = addr_info(&a) {
                    self.pending.push_back(NetEvent::AddressAdded {
                        ifindex: i.ifindex,
                        addr: i.addr,
                        prefix: i.prefix_len,
                    });
                }
            }
            RouteNetlinkMessage::DelAddress(a) => {
                if let Some(i) = addr_info(&a) {
                    self.pending.push_back(NetEvent::AddressRemoved {
                        ifindex: i.ifindex,
                        addr: i.addr,
                        prefix: i.prefix_len,
                    });
                }
            }
            _ => {}
        }
    }
}
