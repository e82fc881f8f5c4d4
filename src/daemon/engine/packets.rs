//! Packets and sockets: resolving each instance's interface and source address, the
//! raw VRRP sockets and their readers, attributing a received advert to its instance
//! (or counting it as unknown), and sending adverts.
//!
//! Only this file opens sockets or reads and writes VRRP packets. It does not decide
//! anything about the protocol: a parsed advert or a receive error goes to the node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, warn};

use crate::net::{Family, RxPacket, SocketConfig, VrrpSocket};
use crate::proto::{Input, InstanceId, RxError};
use crate::wire::{self, Advert};

use super::super::plan::InstancePlan;
use super::{Engine, Event, SockKey};

pub(super) struct SockEntry {
    pub(super) sock: Arc<VrrpSocket>,
    reader: JoinHandle<()>,
    groups: Vec<IpAddr>,
}

impl Drop for SockEntry {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Engine {
    pub(super) async fn send_advert(&mut self, i: usize, advert: &Advert) {
        let (Some(p), Some(rt)) = (self.plan.instances.get(i), self.rt.get(i)) else {
            return;
        };
        let (Some(ifindex), Some(src)) = (rt.ifindex, rt.primary) else {
            debug!(instance = %p.name, "no interface or source address yet: advert not sent");
            return;
        };
        let Some(entry) = self.sockets.get(&(ifindex, p.family)) else {
            return;
        };
        send_to_all(&entry.sock, p, src, advert).await;
    }

    pub(super) fn on_packet(&mut self, now: Instant, key: SockKey, pkt: RxPacket) {
        let Some(vrid) = wire::vrrp::peek_vrid(&pkt.payload) else {
            self.unattributed += 1;
            return;
        };
        let Some(&i) = self.by_vrid.get(&(key.0, key.1, vrid)) else {
            self.unknown_vrid(now, key, vrid, &pkt);
            return;
        };
        let (Some(p), Some(rt)) = (self.plan.instances.get(i), self.rt.get(i)) else {
            return;
        };
        if Some(pkt.src) == rt.primary {
            return;
        }
        let id = InstanceId(i);
        let multicast = pkt.dst.is_multicast();
        if multicast && p.is_unicast() || !multicast && !p.is_unicast() {
            // A unicast instance ignores multicast adverts and the other way round, so
            // a neighbour in the other mode cannot confuse an election.
            return;
        }
        if multicast {
            if pkt.ttl != 255 {
                self.node.handle(now, id, Input::RxError(RxError::Ttl));
                return;
            }
        } else {
            let peer = p.peers.iter().find(|peer| peer.address == pkt.src);
            if p.check_unicast_src && peer.is_none() {
                let name = p.name.clone();
                self.log_foreign_source(&name, pkt.src);
                self.node.handle(now, id, Input::RxError(RxError::Source));
                return;
            }
            if let Some(peer) = peer {
                let low = peer.min_ttl.unwrap_or(0);
                let high = peer.max_ttl.unwrap_or(255);
                if pkt.ttl < low || pkt.ttl > high {
                    self.node.handle(now, id, Input::RxError(RxError::Ttl));
                    return;
                }
            }
        }
        let mut parsed = Advert::parse(&pkt.payload, pkt.src, pkt.dst, p.checksum);
        if parsed == Err(wire::Error::Checksum) && !multicast && pkt.dst.is_ipv4() {
            // A keepalived peer with `old_unicast_checksum` (or older than 1.3.6)
            // checksums unicast VRRPv3 as if sent to the multicast group; keepalived
            // accepts that from its peers, and so does baton.
            parsed = Advert::parse(&pkt.payload, pkt.src, p.mcast_group, p.checksum);
        }
        match parsed {
            Ok(advert) => {
                self.note_advert(now, i, pkt.src, advert.priority);
                self.node.handle(
                    now,
                    id,
                    Input::Advert {
                        from: pkt.src,
                        advert,
                    },
                )
            }
            Err(e) => {
                debug!(instance = %p.name, from = %pkt.src, error = %e, "advert dropped");
                self.node.handle(now, id, Input::RxError(rx_error(&e)));
            }
        }
    }

    /// A peer that sends from an address its partner does not list (a second address,
    /// a renumbered host) is shut out by the source check, and both nodes end up master:
    /// say so once per instance and source, not once per advert.
    fn log_foreign_source(&mut self, instance: &str, src: IpAddr) {
        const MAX_LOGGED: usize = 256;
        if self.foreign_sources.len() >= MAX_LOGGED
            || !self.foreign_sources.insert((instance.to_string(), src))
        {
            return;
        }
        warn!(
            %instance,
            from = %src,
            "{instance}: dropping adverts from {src}, which is not a unicast_peer (counted as source errors; logged once per source). baton takes unicast adverts only from the configured peers unless its own file sets unicast_accept_any_source"
        );
    }

    /// Other VRIDs on a shared LAN are normal, a mistyped virtual_router_id looks the
    /// same: count each (interface, VRID) for `baton status` and log its first advert.
    fn unknown_vrid(&mut self, now: Instant, key: SockKey, vrid: u8, pkt: &RxPacket) {
        if wire::vrrp::peek_version(&pkt.payload).is_none() {
            self.unattributed += 1;
            return;
        }
        let Some(ifname) = self
            .links
            .values()
            .find(|l| l.ifindex == key.0)
            .map(|l| l.name.clone())
        else {
            self.unattributed += 1;
            return;
        };
        if self.unknown.record(&ifname, key.1, vrid, pkt.src, now) {
            warn!(
                interface = %ifname,
                vrid,
                from = %pkt.src,
                "advert for unknown VRID {vrid} on {ifname} from {}: no instance here has it (counted in `baton status`; logged once per interface and VRID)",
                pkt.src
            );
        }
    }

    /// After the instances or their interfaces changed: a VRID an instance now has is
    /// no longer unknown.
    fn forget_known_vrids(&mut self) {
        let by_vrid = &self.by_vrid;
        let links = &self.links;
        self.unknown.forget(|ifname, family, vrid| {
            links
                .get(ifname)
                .is_some_and(|l| by_vrid.contains_key(&(l.ifindex, family, vrid)))
        });
    }

    /// Resolves every instance's interface, index and source address, and opens the
    /// sockets they need (closing the ones nobody needs any more).
    pub(super) async fn bind_all(&mut self) {
        let mut wanted: HashMap<SockKey, (String, Vec<IpAddr>)> = HashMap::new();
        // Hundreds of instances share a few interfaces: ask the kernel once for each.
        let mut primaries: HashMap<SockKey, Option<IpAddr>> = HashMap::new();
        self.by_vrid.clear();
        for i in 0..self.plan.instances.len() {
            let p = self.plan.instances[i].clone();
            let ifname = match &p.interface {
                Some(name) => Some(name.clone()),
                None => self.interface_holding(p.source).await,
            };
            let link = ifname.as_ref().and_then(|n| self.links.get(n)).cloned();
            let primary = match (&link, p.source) {
                (_, Some(src)) => Some(src),
                (Some(l), None) => match primaries.get(&(l.ifindex, p.family)) {
                    Some(known) => *known,
                    None => {
                        let found = self.primary_address(l.ifindex, p.family).await;
                        primaries.insert((l.ifindex, p.family), found);
                        found
                    }
                },
                (None, None) => None,
            };
            // use_vmac: the addresses live on the macvlan, and so do the adverts unless
            // vmac_xmit_base; the source address stays the base interface's.
            let (link, ifname) = match &link {
                Some(base) if p.vmac.is_some() => {
                    match super::vmac::ensure(
                        &self.netlink,
                        &p,
                        base,
                        primary,
                        &mut self.rp_filter_saved,
                    )
                    .await
                    {
                        Some(vlink) => {
                            self.links.insert(vlink.name.clone(), vlink.clone());
                            let xmit_base = p.vmac.as_ref().is_some_and(|v| v.xmit_base);
                            let sock = if xmit_base {
                                base.clone()
                            } else {
                                vlink.clone()
                            };
                            (Some(sock), Some(vlink.name))
                        }
                        None => (link, ifname),
                    }
                }
                _ => (link, ifname),
            };
            if let Some(rt) = self.rt.get_mut(i) {
                rt.ifname = ifname.clone();
                rt.ifindex = link.as_ref().map(|l| l.ifindex);
                rt.primary = primary;
            }
            if let (Some(l), Some(_)) = (&link, &ifname) {
                let key = (l.ifindex, p.family);
                let entry = wanted
                    .entry(key)
                    .or_insert_with(|| (l.name.clone(), Vec::new()));
                if !p.is_unicast() && !entry.1.contains(&p.mcast_group) {
                    entry.1.push(p.mcast_group);
                }
                if self
                    .by_vrid
                    .insert((l.ifindex, p.family, p.vrid), i)
                    .is_some()
                {
                    warn!(instance = %p.name, vrid = p.vrid, "two instances share a VRID on one interface");
                }
            } else {
                warn!(instance = %p.name, interface = ?ifname, "interface not present: instance waits in FAULT");
            }
        }
        self.forget_known_vrids();
        self.sockets.retain(|k, _| wanted.contains_key(k));
        for (key, (ifname, groups)) in wanted {
            if let Some(entry) = self.sockets.get_mut(&key) {
                for g in &groups {
                    if !entry.groups.contains(g) {
                        if let Err(e) = entry.sock.join(*g) {
                            warn!(interface = %ifname, group = %g, error = %e, "joining multicast group failed");
                        } else {
                            entry.groups.push(*g);
                        }
                    }
                }
                continue;
            }
            let cfg = SocketConfig {
                ifname: ifname.clone(),
                ifindex: key.0,
                family: key.1,
                groups: groups.clone(),
            };
            match VrrpSocket::open(&cfg) {
                Ok(sock) => {
                    let sock = Arc::new(sock);
                    let reader = spawn_reader(key, Arc::clone(&sock), self.tx.clone());
                    self.sockets.insert(
                        key,
                        SockEntry {
                            sock,
                            reader,
                            groups,
                        },
                    );
                }
                Err(e) => error!(interface = %ifname, error = %e, "cannot open VRRP socket"),
            }
        }
    }

    async fn primary_address(&self, ifindex: u32, family: Family) -> Option<IpAddr> {
        match family {
            Family::V4 => self
                .netlink
                .primary_ipv4(ifindex)
                .await
                .ok()
                .flatten()
                .map(IpAddr::V4),
            Family::V6 => self
                .netlink
                .ipv6_link_local(ifindex)
                .await
                .ok()
                .flatten()
                .map(IpAddr::V6),
        }
    }

    /// The interface that holds `addr` (for unicast instances that name no interface).
    async fn interface_holding(&self, addr: Option<IpAddr>) -> Option<String> {
        let addr = addr?;
        for l in self.links.values() {
            if let Ok(addrs) = self.netlink.addresses(l.ifindex).await {
                if addrs.iter().any(|a| a.addr == addr) {
                    return Some(l.name.clone());
                }
            }
        }
        None
    }
}

pub(super) async fn send_to_all(sock: &VrrpSocket, p: &InstancePlan, src: IpAddr, advert: &Advert) {
    for dst in p.destinations() {
        match advert.to_bytes(src, p.checksum_destination(dst), p.checksum) {
            Ok(bytes) => {
                if let Err(e) = sock.send(src, dst, &bytes).await {
                    warn!(instance = %p.name, %dst, error = %e, "sending advert failed");
                }
            }
            Err(e) => warn!(instance = %p.name, error = %e, "cannot encode advert"),
        }
    }
}

fn spawn_reader(
    key: SockKey,
    sock: Arc<VrrpSocket>,
    tx: mpsc::UnboundedSender<Event>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            match sock.recv().await {
                Ok(pkt) => {
                    failures = 0;
                    if tx.send(Event::Packet(key, pkt)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_power_of_two() {
                        warn!(ifindex = key.0, error = %e, "receive failed");
                    }
                    // A socket whose interface went away fails at once, every time:
                    // back off so it does not spin.
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(failures.min(20))))
                        .await;
                }
            }
        }
    })
}

fn rx_error(e: &wire::Error) -> RxError {
    match e {
        wire::Error::Checksum => RxError::Checksum,
        wire::Error::Version(_) => RxError::Version,
        wire::Error::Type(_) => RxError::Type,
        wire::Error::AuthType(_) | wire::Error::AuthAh => RxError::Auth,
        wire::Error::Interval => RxError::Interval,
        wire::Error::AddressCount | wire::Error::Family => RxError::AddressList,
        _ => RxError::Length,
    }
}
