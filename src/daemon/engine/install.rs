//! Installing a plan: at start and on every reload (SIGHUP or `baton reload`) the new
//! plan becomes the running one — interfaces and sockets bound, the node reconfigured
//! (instances that stay keep their state), tracked objects restarted only if their
//! definitions changed, a master's host-side settings and VMAC moved, and instances
//! the configuration no longer has retired.
//!
//! What a reload changes on a master besides its virtual addresses is computed, without
//! any I/O, in `daemon/reload.rs` ([`HostSideDiff`]); this file carries it out. A
//! configuration that fails to load changes nothing here.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config;
use crate::hooks::{self, Target};
use crate::proto::{self, Input, InstanceId, State, TrackStatus};
use crate::track::{ScriptSettings, Tracker};
use crate::wire::Advert;

use super::super::effects::{AddressSet, Effect};
use super::super::plan::{self, Plan};
use super::super::reload::HostSideDiff;
use super::addresses::{all_addresses, put_and_announce};
use super::packets::send_to_all;
use super::{Engine, Event, InstanceRt, forward, hook_settings, sd, set_all_notify, state_name};

impl Engine {
    /// Re-reads the configuration; on any error the running one stays untouched.
    pub(super) async fn reload(&mut self) -> anyhow::Result<()> {
        sd::reloading();
        let result = config::load(&self.opts.config, &self.opts.load);
        let mut loaded = match result {
            Ok(l) => l,
            Err(failure) => {
                sd::ready(&self.status_line());
                return Err(anyhow::anyhow!("{failure}"));
            }
        };
        for d in &loaded.diagnostics {
            warn!("{d}");
        }
        self.arbiter_keep(&mut loaded.config);
        let plan = Plan::new(&loaded.config);
        let now = Instant::now();
        let vmacs_before = super::vmac::names(&self.plan);
        self.install(plan, now).await;
        self.drain().await;
        self.move_vmac_changes(vmacs_before);
        self.reload_link(&loaded.config);
        self.reload_web(&loaded.config);
        info!(
            instances = self.plan.instances.len(),
            "configuration reloaded"
        );
        sd::ready(&self.status_line());
        Ok(())
    }

    /// Makes `plan` the running configuration: binds interfaces and sockets, hands the
    /// node its new instance list (instances that still exist keep their state), and
    /// restarts tracked objects only if their definitions changed.
    pub(super) async fn install(&mut self, plan: Plan, now: Instant) {
        let old_masters: HashSet<String> = (self.plan.instances.iter().enumerate())
            .filter(|(i, _)| self.node.state(InstanceId(*i)) == State::Master)
            .map(|(_, p)| p.name.clone())
            .collect();
        let old_plan = std::mem::replace(&mut self.plan, plan);
        let mut old_rt: HashMap<String, InstanceRt> = old_plan
            .instances
            .iter()
            .zip(std::mem::take(&mut self.rt))
            .map(|(p, rt)| (p.name.clone(), rt))
            .collect();
        self.departed.clear();
        for p in &old_plan.instances {
            if let Some(rt) = old_rt.get(&p.name) {
                if self.plan.position(&p.name).is_none() {
                    self.departed
                        .insert(p.name.clone(), (p.clone(), rt.clone()));
                } else {
                    self.departed
                        .insert(format!("reload:{}", p.name), (p.clone(), rt.clone()));
                }
            }
        }
        self.rt = self
            .plan
            .instances
            .iter()
            .map(|p| {
                old_rt.remove(&p.name).unwrap_or(InstanceRt {
                    ifname: None,
                    ifindex: None,
                    primary: None,
                    since: now,
                    reason: "starting".into(),
                    operator: None,
                })
            })
            .collect();
        let plan = &self.plan;
        (self.history).retain_instances(|name| plan.position(name).is_some());
        self.bind_all().await;

        let configs = self.proto_configs();
        self.node
            .reconfigure(now, configs, plan::proto_groups(&self.plan));
        self.move_host_side(&old_masters);

        // Link states first, so an instance on a missing interface starts in FAULT.
        let watched: Vec<String> = self
            .plan
            .instances
            .iter()
            .flat_map(|p| p.watched_interfaces.clone())
            .collect();
        for name in watched {
            let up = self.links.get(&name).is_some_and(|l| l.up);
            let key = plan::iface_key(&name);
            let status = if up {
                TrackStatus::Up
            } else {
                TrackStatus::Down
            };
            self.track_state.insert(key.clone(), status);
            self.node.track(now, &key, status);
        }

        set_all_notify(&self.plan, |t, s| {
            let _ = self.effects.send(Effect::SetNotify { target: t, spec: s });
        });

        if self.tracker.is_none() || old_plan.track != self.plan.track {
            if let Some(t) = self.tracker.take() {
                t.stop().await;
            }
            let (track_tx, track_rx) = mpsc::unbounded_channel();
            forward(&self.tx, track_rx, Event::Track);
            // A new tracker starts every script as "not yet known" and reports it Up at
            // once; after a reload that would lift a FAULT (and run hooks) until the
            // first run fails again. Start each known script in the state it is in.
            let mut specs = self.plan.track.clone();
            for s in &mut specs.scripts {
                match self.track_state.get(&format!("script:{}", s.name)) {
                    Some(TrackStatus::Up) => s.init_fail = false,
                    Some(TrackStatus::Down) => s.init_fail = true,
                    _ => {}
                }
            }
            self.tracker = Some(Tracker::start(
                specs,
                ScriptSettings {
                    script_user: hook_settings(&self.plan).script_user,
                    script_security: self.plan.script_security,
                },
                track_tx,
            ));
        }

        self.priority_watch.reset(&self.plan, &self.node);
        self.handover_setup(now);

        // Instances new in this configuration start now (at startup: after the delay).
        if self.startup_at.is_none() && !old_plan.instances.is_empty() {
            for i in 0..self.rt.len() {
                if self.node.state(InstanceId(i)) == State::Initialize {
                    self.node.handle(now, InstanceId(i), Input::Startup);
                }
            }
        }
    }

    /// After a reload: a master whose `use_vmac` changed moves its addresses from the old
    /// interface to the new one, and VMACs no instance uses any more are deleted, in the
    /// effects queue so that every removal decided before them happens first.
    fn move_vmac_changes(&mut self, before: std::collections::BTreeSet<String>) {
        let now_used = super::vmac::names(&self.plan);
        for (i, p) in self.plan.instances.iter().enumerate() {
            let Some((old, old_rt)) = self.departed.get(&format!("reload:{}", p.name)) else {
                continue;
            };
            if old.vmac == p.vmac || self.node.state(InstanceId(i)) != State::Master {
                continue;
            }
            let (Some(old_if), Some(set)) = (old_rt.ifname.clone(), self.address_set(i)) else {
                continue;
            };
            info!(instance = %p.name, from = %old_if, to = %set.interface, "use_vmac changed: moving the virtual addresses");
            let _ = self.effects.send(Effect::Remove(Box::new(AddressSet {
                interface: old_if,
                ..set.clone()
            })));
            put_and_announce(&self.effects, p, set);
        }
        let gone: Vec<String> = before.difference(&now_used).cloned().collect();
        if !gone.is_empty() {
            let _ = self.effects.send(Effect::DeleteVmacs(gone));
        }
    }

    /// After a reload: an instance that was and stays master gets its excluded
    /// addresses, virtual routes and rules as the new configuration has them, without a
    /// transition or a hook (its virtual addresses move through
    /// [`Action::UpdateAddresses`]). A backup holds none of them and is left alone; an
    /// instance the reload replaced is retired whole.
    fn move_host_side(&self, old_masters: &HashSet<String>) {
        for (i, p) in self.plan.instances.iter().enumerate() {
            // A replaced instance (new VRID, version or family) starts in Initialize.
            if !old_masters.contains(&p.name) || self.node.state(InstanceId(i)) == State::Initialize
            {
                continue;
            }
            let Some((old, old_rt)) = self.departed.get(&format!("reload:{}", p.name)) else {
                continue;
            };
            let diff = HostSideDiff::between(old, p);
            if diff.removes_anything() {
                if let Some(ifname) = old_rt.ifname.clone() {
                    let _ = self.effects.send(Effect::Withdraw(Box::new(AddressSet {
                        instance: p.name.clone(),
                        interface: ifname,
                        addresses: diff.removed_addresses.clone(),
                        routes: diff.removed_routes.clone(),
                        rules: diff.removed_rules.clone(),
                    })));
                }
            }
            if diff.adds_anything() {
                if let Some(ifname) = self.rt.get(i).and_then(|rt| rt.ifname.clone()) {
                    let _ = self.effects.send(Effect::Add(Box::new(AddressSet {
                        instance: p.name.clone(),
                        interface: ifname,
                        addresses: diff.added_addresses.clone(),
                        routes: diff.added_routes.clone(),
                        rules: diff.added_rules.clone(),
                    })));
                }
            }
            if diff.removes_anything() || diff.adds_anything() {
                info!(
                    instance = %p.name,
                    "excluded addresses, virtual routes and rules updated without a transition"
                );
            }
        }
    }

    pub(super) fn proto_configs(&self) -> Vec<proto::InstanceConfig> {
        self.plan
            .instances
            .iter()
            .zip(&self.rt)
            .map(|(p, rt)| p.proto_config(rt.primary.unwrap_or_else(|| p.unspecified())))
            .collect()
    }

    /// An instance that a reload removed: release mastership, remove its addresses, STOP.
    pub(super) async fn retire(&mut self, name: &str, from: State, release: Option<Advert>) {
        // An instance whose VRID, version or family a reload changed keeps its name: it
        // is retired under its reload entry, and its successor starts afresh.
        let departed = (self.departed.remove(name))
            .or_else(|| self.departed.get(&format!("reload:{name}")).cloned());
        let Some((p, rt)) = departed else {
            return;
        };
        if let (Some(advert), Some(ifindex), Some(src)) = (release, rt.ifindex, rt.primary) {
            if let Some(entry) = self.sockets.get(&(ifindex, p.family)) {
                send_to_all(&entry.sock, &p, src, &advert).await;
            }
        }
        if from == State::Master {
            if let Some(ifname) = rt.ifname.clone() {
                let _ = self.effects.send(Effect::Remove(Box::new(AddressSet {
                    instance: p.name.clone(),
                    interface: ifname,
                    addresses: all_addresses(&p),
                    routes: p.routes.clone(),
                    rules: p.rules.clone(),
                })));
            }
        }
        info!(instance = %p.name, "{}: {} -> STOP (removed from the configuration)", p.name, state_name(from));
        let _ = self.effects.send(Effect::Notify {
            target: Target::Instance(p.name.clone()),
            notify: hooks::Notify::Stop,
            priority: 0,
            done: None,
        });
    }
}
