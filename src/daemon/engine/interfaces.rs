//! Interfaces: what the netlink monitor reports (links up, down, added and removed,
//! addresses added and removed) turned into tracked-interface states for the node and
//! into re-binding when an interface or a source address appears or goes.
//!
//! The monitor itself runs as its own task and reports through the engine's channel;
//! this file only reacts to its events.

use std::net::IpAddr;
use std::time::Instant;

use tracing::{info, warn};

use crate::net::NetEvent;
use crate::proto::TrackStatus;

use super::super::plan;
use super::Engine;

impl Engine {
    pub(super) async fn on_net(&mut self, now: Instant, ev: NetEvent) {
        match ev {
            NetEvent::LinkUp { ifindex, name } | NetEvent::LinkAdded { ifindex, name } => {
                let known = self.links.get(&name).map(|l| (l.ifindex, l.up));
                let link = self.netlink.link_by_index(ifindex).await.ok();
                let up = link.as_ref().is_some_and(|l| l.up);
                if let Some(l) = link {
                    self.links.insert(name.clone(), l);
                }
                let changed = known != Some((ifindex, up));
                if changed && self.watches(&name) {
                    info!(interface = %name, up, "interface changed");
                    self.rebind(now).await;
                    self.set_iface(now, &name, up);
                }
            }
            NetEvent::LinkDown { ifindex: _, name } => {
                if let Some(l) = self.links.get_mut(&name) {
                    l.up = false;
                }
                if self.watches(&name) {
                    warn!(interface = %name, "interface down");
                    self.set_iface(now, &name, false);
                }
            }
            NetEvent::LinkRemoved { ifindex: _, name } => {
                self.links.remove(&name);
                if self.watches(&name) {
                    warn!(interface = %name, "interface removed");
                    self.set_iface(now, &name, false);
                    self.rebind(now).await;
                } else if super::vmac::names(&self.plan).contains(&name) {
                    self.restore_vmac(now, &name).await;
                }
            }
            NetEvent::AddressAdded { ifindex, .. } => {
                // An instance waiting for a source address on this interface can bind.
                if self
                    .rt
                    .iter()
                    .any(|r| r.ifindex == Some(ifindex) && r.primary.is_none())
                {
                    self.rebind(now).await;
                }
            }
            NetEvent::AddressRemoved { ifindex, addr, .. } => self.restore_address(ifindex, addr),
        }
    }

    fn watches(&self, name: &str) -> bool {
        self.plan
            .instances
            .iter()
            .any(|p| p.watched_interfaces.iter().any(|w| w == name))
    }

    fn set_iface(&mut self, now: Instant, name: &str, up: bool) {
        let key = plan::iface_key(name);
        let status = if up {
            TrackStatus::Up
        } else {
            TrackStatus::Down
        };
        if self.track_state.get(&key) != Some(&status) {
            self.track_state.insert(key.clone(), status);
            self.node.track(now, &key, status);
        }
    }

    /// Re-resolves interfaces and addresses after a link or address change, and tells
    /// the node about instances whose source address changed.
    pub(super) async fn rebind(&mut self, now: Instant) {
        let before: Vec<Option<IpAddr>> = self.rt.iter().map(|r| r.primary).collect();
        self.bind_all().await;
        let after: Vec<Option<IpAddr>> = self.rt.iter().map(|r| r.primary).collect();
        if before != after {
            let configs = self.proto_configs();
            self.node
                .reconfigure(now, configs, plan::proto_groups(&self.plan));
        }
    }
}
