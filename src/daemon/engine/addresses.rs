//! Addresses: the sets of virtual and excluded addresses, routes and rules that an
//! instance hands to the effects worker — when it gains or loses mastership, when a
//! previous run left some behind, when a reload drops some, when someone else deletes
//! an address or a VMAC of a master, and the extra announcements after a
//! lower-priority advert.
//!
//! These functions only decide what to send; the effects worker changes the host, in
//! order. Nothing here calls netlink to change anything (it may read what is there).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::proto::{InstanceId, State};

use super::super::effects::{AddressSet, Effect};
use super::super::plan::{self, InstancePlan};
use super::Engine;

impl Engine {
    /// Starts the GARP / NA schedule of instance `i`'s virtual addresses.
    pub(super) fn announce(&self, i: usize) {
        let (Some(p), Some(rt)) = (self.plan.instances.get(i), self.rt.get(i)) else {
            return;
        };
        let Some(ifname) = rt.ifname.clone() else {
            return;
        };
        let _ = self.effects.send(Effect::Announce {
            instance: p.name.clone(),
            interface: ifname,
            addresses: p.virtual_addresses.iter().map(|a| a.address).collect(),
            garp: p.garp,
        });
    }

    pub(super) fn address_set(&self, i: usize) -> Option<AddressSet> {
        let p = self.plan.instances.get(i)?;
        let ifname = self.rt.get(i)?.ifname.clone()?;
        Some(AddressSet {
            instance: p.name.clone(),
            interface: ifname,
            addresses: all_addresses(p),
            routes: p.routes.clone(),
            rules: p.rules.clone(),
        })
    }

    /// One set of announcements after a lower-priority advert, beside (not instead of)
    /// the schedule that started when the instance became master.
    pub(super) fn announce_lower_priority(&self, i: usize, repeat: u32) {
        let (Some(p), Some(rt)) = (self.plan.instances.get(i), self.rt.get(i)) else {
            return;
        };
        let Some(ifname) = rt.ifname.clone() else {
            return;
        };
        info!(instance = %p.name, repeat, "lower priority advert heard: announcing the virtual addresses again");
        let _ = self.effects.send(Effect::Announce {
            instance: format!("{} (lower priority)", p.name),
            interface: ifname,
            addresses: p.virtual_addresses.iter().map(|a| a.address).collect(),
            garp: plan::GarpPlan {
                delay: Duration::ZERO,
                repeat,
                refresh: Duration::ZERO,
                ..p.garp
            },
        });
    }

    /// A previous run that did not stop cleanly (SIGKILL, OOM kill) leaves its virtual
    /// addresses on the interface. An instance starting as anything but MASTER must not
    /// keep them, or two nodes answer for one VIP; only addresses actually present are
    /// removed (with the instance's routes and rules), so a clean start logs nothing.
    pub(super) async fn drop_stale_addresses(&self, i: usize) {
        let Some(mut set) = self.address_set(i) else {
            return;
        };
        let mut present = Vec::new();
        for a in &set.addresses {
            let dev = a.dev.as_deref().unwrap_or(&set.interface);
            let Some(link) = self.links.get(dev) else {
                continue;
            };
            let held = self
                .netlink
                .addresses(link.ifindex)
                .await
                .is_ok_and(|addrs| addrs.iter().any(|x| x.addr == a.address));
            if held {
                present.push(a.clone());
            }
        }
        if present.is_empty() {
            return;
        }
        // Left-over addresses mean the previous run was MASTER, so its virtual routes
        // and rules are most likely still in place too: remove them with the addresses
        // (routes cannot be listed here to pick only the present ones).
        warn!(instance = %set.instance, count = present.len(), "virtual addresses left over from a previous run: removing them and the virtual routes and rules");
        set.addresses = present;
        let _ = self.effects.send(Effect::Remove(Box::new(set)));
    }

    /// The addresses a reload dropped from a master, as they were configured before.
    pub(super) fn removed_addresses(
        &self,
        i: usize,
        removed: &[IpAddr],
    ) -> Vec<crate::config::model::VirtualAddress> {
        let Some(name) = self.plan.instances.get(i).map(|p| &p.name) else {
            return Vec::new();
        };
        let old = self.departed.get(&format!("reload:{name}"));
        removed
            .iter()
            .map(|addr| {
                old.and_then(|(p, _)| {
                    p.virtual_addresses
                        .iter()
                        .find(|a| a.address == *addr)
                        .cloned()
                })
                .unwrap_or_else(|| host_address(*addr))
            })
            .collect()
    }

    /// Someone deleted a VMAC baton uses: create it again (binding does), and give the
    /// masters on it their addresses back, announced.
    pub(super) async fn restore_vmac(&mut self, now: Instant, name: &str) {
        warn!(vmac = %name, "VMAC removed by someone else; creating it again");
        self.rebind(now).await;
        for (i, p) in self.plan.instances.iter().enumerate() {
            let on_it = p.vmac.as_ref().is_some_and(|v| v.name == name);
            if !on_it || self.node.state(InstanceId(i)) != State::Master {
                continue;
            }
            let Some(set) = self.address_set(i) else {
                continue;
            };
            put_and_announce(&self.effects, p, set);
        }
    }

    /// Someone deleted a virtual address of a master: put it back.
    pub(super) fn restore_address(&mut self, ifindex: u32, addr: IpAddr) {
        for (i, p) in self.plan.instances.iter().enumerate() {
            if self.node.state(InstanceId(i)) != State::Master {
                continue;
            }
            let Some(rt) = self.rt.get(i) else { continue };
            let Some(a) = p
                .virtual_addresses
                .iter()
                .find(|a| a.address == addr && !a.no_track)
            else {
                continue;
            };
            let dev = a.dev.clone().or_else(|| rt.ifname.clone());
            let on_dev = dev
                .as_ref()
                .and_then(|d| self.links.get(d))
                .is_some_and(|l| l.ifindex == ifindex);
            if !on_dev {
                continue;
            }
            warn!(instance = %p.name, address = %addr, "virtual address removed by someone else; putting it back");
            if let Some(ifname) = rt.ifname.clone() {
                let _ = self.effects.send(Effect::Add(Box::new(AddressSet {
                    instance: p.name.clone(),
                    interface: ifname,
                    addresses: vec![a.clone()],
                    routes: Vec::new(),
                    rules: Vec::new(),
                })));
            }
        }
    }
}

pub(super) fn all_addresses(p: &InstancePlan) -> Vec<crate::config::model::VirtualAddress> {
    p.virtual_addresses
        .iter()
        .chain(&p.excluded_addresses)
        .cloned()
        .collect()
}

fn host_address(addr: IpAddr) -> crate::config::model::VirtualAddress {
    crate::config::model::VirtualAddress::new(addr, if addr.is_ipv4() { 32 } else { 128 })
}

/// A master's addresses put in place on `set`'s interface, then announced there.
pub(super) fn put_and_announce(
    effects: &tokio::sync::mpsc::UnboundedSender<Effect>,
    p: &InstancePlan,
    set: AddressSet,
) {
    let interface = set.interface.clone();
    let _ = effects.send(Effect::Add(Box::new(set)));
    let _ = effects.send(Effect::Announce {
        instance: p.name.clone(),
        interface,
        addresses: p.virtual_addresses.iter().map(|a| a.address).collect(),
        garp: p.garp,
    });
}
