//! The engine's side of the etcd arbiter (the election's state machine is
//! [`crate::arbiter::Arbiter`], the etcd calls are [`super::super::arbiter`]'s, on a thread
//! of their own). One [`Gate`] per arbitrated target: an instance outside any sync group,
//! or a sync group.
//!
//! `mode vrrp`: VRRP elects as always, and the gate holds what serving means — the MASTER
//! hooks and the virtual addresses (with their announcements) — until the target's
//! machine holds the election. A target that enters MASTER campaigns; one that leaves
//! MASTER resigns once its leaving hooks have ended, so the next holder starts after the
//! service is down here. A machine that can no longer trust its lease (cut off from etcd,
//! or the lease gone) turns the target's tracked object `arbiter:<target>` down, which
//! puts it in FAULT through the protocol's own rules: leaving hooks run, addresses go,
//! adverts stop, and the peer takes over VRRP (and then the election, once this node's
//! lease has expired on etcd).
//!
//! `mode only`: the instances send no adverts (`elected_externally`); an eligible target
//! (BACKUP or MASTER, not demoted) campaigns, and holding the election is what makes it
//! MASTER ([`Input::Elected`]).
//!
//! Nothing here waits on etcd: commands go to the driver's channel, answers come back as
//! engine events, and the only deadlines are the machines' own.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::arbiter::{Arbiter, ArbiterConfig, Input as ArbInput, Output};
use crate::config::baton::{ArbiterConf, ArbiterMode, EtcdDown};
use crate::control::ArbiterView;
use crate::hooks::Target;
use crate::proto::{Input, InstanceId, State, TrackStatus};

use super::super::arbiter::{ArbiterDriver, ArbiterReport};
use super::super::effects::Effect;
use super::super::plan::arbiter_key;
use super::handover::Scope;
use super::{Engine, Event};

/// The variable every hook of an arbitrated target finds its fencing token in.
pub const TOKEN_ENV: &str = "BATON_FENCING_TOKEN";

/// How long shutdown gives the driver to resign and revoke.
const STOP_GRACE: Duration = Duration::from_secs(2);

struct Gate {
    machine: Arbiter,
    driver: usize,
    /// The target's instances (one, or the group's members).
    members: Vec<usize>,
    group: Option<usize>,
    only: bool,
    etcd_down: EtcdDown,
    /// The target is MASTER as far as the protocol goes.
    master: bool,
    /// Serving is let through for the current mastership.
    released: bool,
    /// MASTER notifies waiting for the election: scope, previous state, priority.
    held: Vec<(Scope, State, u8)>,
    /// Instances whose addresses wait for the election, and those whose addresses are in.
    held_addresses: BTreeSet<usize>,
    added: BTreeSet<usize>,
    /// Transitions out of a served MASTER (the target's and its members') whose leaving
    /// hooks have not ended yet.
    leaving: u32,
    /// Serving was taken away while the service ran: FAULT until the leaving hooks end.
    lost: bool,
    healthy: bool,
    reason: String,
    /// What the machine was last told.
    wanted: bool,
    /// The token the hooks were last given.
    env_token: Option<Option<i64>>,
}

/// The engine's arbiter state.
#[derive(Default)]
pub(super) struct ArbiterSide {
    gates: BTreeMap<String, Gate>,
    drivers: Vec<(ArbiterConf, ArbiterDriver)>,
}

impl ArbiterSide {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.gates
            .values()
            .filter_map(|g| g.machine.next_deadline())
            .min()
    }

    fn target_of(&self, plan: &super::Plan, scope: Scope) -> Option<String> {
        let name = match scope {
            Scope::Instance(i) => plan.instances.get(i)?.arbiter.clone()?,
            Scope::Group(g) => plan.groups.get(g)?.name.clone(),
        };
        self.gates.contains_key(&name).then_some(name)
    }
}

fn machine_config(conf: &ArbiterConf, target: &str, name: &str) -> ArbiterConfig {
    ArbiterConfig {
        target: target.to_string(),
        election: format!("{}{target}/", conf.prefix()),
        name: name.to_string(),
        ttl: conf.lease_ttl(),
        drift: conf.clock_drift(),
        margin: conf.stop_margin(),
        request_timeout: conf.request_timeout(),
        etcd_down: conf.etcd_down,
    }
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "baton".into())
}

impl Engine {
    /// Starts one driver per arbiter block and one machine per target (at start; a
    /// reload keeps them).
    pub(super) fn start_arbiter(
        &mut self,
        config: &crate::config::Config,
        now: Instant,
    ) -> anyhow::Result<()> {
        for conf in &config.baton.arbiters {
            let tx = self.tx.clone();
            let report = Box::new(move |r: ArbiterReport| {
                let _ = tx.send(Event::Arbiter(r));
            });
            let driver = ArbiterDriver::start(conf, report)?;
            let index = self.arbiter.drivers.len();
            let name = conf.name.clone().unwrap_or_else(host_name);
            let targets = conf.instances.iter().chain(&conf.groups);
            for target in targets {
                let group = self.plan.groups.iter().position(|g| &g.name == target);
                let members = match group {
                    Some(g) => self.plan.groups[g].members.clone(),
                    None => self.plan.position(target).into_iter().collect(),
                };
                let gate = Gate {
                    machine: Arbiter::new(machine_config(conf, target, &name)),
                    driver: index,
                    members,
                    group,
                    only: conf.mode == ArbiterMode::Only,
                    etcd_down: conf.etcd_down,
                    master: false,
                    released: false,
                    held: Vec::new(),
                    held_addresses: BTreeSet::new(),
                    added: BTreeSet::new(),
                    leaving: 0,
                    lost: false,
                    healthy: false,
                    reason: "no lease from etcd yet".into(),
                    wanted: false,
                    env_token: None,
                };
                self.arbiter.gates.insert(target.clone(), gate);
                // No lease yet: nothing may serve, and the target starts in FAULT.
                self.node
                    .track(now, &arbiter_key(target), TrackStatus::Down);
            }
            info!(
                endpoints = %conf.endpoints.join(" "),
                mode = ?conf.mode,
                "arbiter: etcd election for {}",
                conf.instances.iter().chain(&conf.groups).cloned().collect::<Vec<_>>().join(", ")
            );
            self.arbiter.drivers.push((conf.clone(), driver));
        }
        let names: Vec<String> = self.arbiter.gates.keys().cloned().collect();
        for name in names {
            if let Some(g) = self.arbiter.gates.get_mut(&name) {
                g.machine.handle(now, ArbInput::Timer);
            }
            self.arbiter_pump(&name, now);
        }
        Ok(())
    }

    /// A reload keeps the running elections: a changed arbiter block takes effect when
    /// baton restarts, so the reloaded configuration gets the running blocks back.
    pub(super) fn arbiter_keep(&self, config: &mut crate::config::Config) {
        let running: Vec<ArbiterConf> = self
            .arbiter
            .drivers
            .iter()
            .map(|(c, _)| c.clone())
            .collect();
        if running != config.baton.arbiters {
            warn!("the arbiter blocks changed: the running ones stay until baton restarts");
            config.baton.arbiters = running;
        }
    }

    /// An answer or watch event from a driver.
    pub(super) fn on_arbiter(&mut self, now: Instant, r: ArbiterReport) {
        let Some(g) = self.arbiter.gates.get_mut(&r.target) else {
            return;
        };
        g.machine.handle(now, r.input);
        self.arbiter_pump(&r.target, now);
    }

    pub(super) fn arbiter_timers(&mut self, now: Instant) {
        let due: Vec<String> = (self.arbiter.gates.iter())
            .filter(|(_, g)| g.machine.next_deadline().is_some_and(|t| t <= now))
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            if let Some(g) = self.arbiter.gates.get_mut(&name) {
                g.machine.handle(now, ArbInput::Timer);
            }
            self.arbiter_pump(&name, now);
        }
    }

    /// Whether an address action of instance `i` goes out now. Held ones are replayed
    /// when the election is won.
    pub(super) fn arbiter_addresses(&mut self, i: usize, add: Option<bool>) -> bool {
        let Some(name) = self.arbiter.target_of(&self.plan, Scope::Instance(i)) else {
            return true;
        };
        let Some(g) = self.arbiter.gates.get_mut(&name) else {
            return true;
        };
        match add {
            // AddAddresses
            Some(true) if g.released => {
                g.added.insert(i);
                true
            }
            Some(true) => {
                g.held_addresses.insert(i);
                false
            }
            // RemoveAddresses: only what is in.
            Some(false) => {
                g.held_addresses.remove(&i);
                g.added.remove(&i)
            }
            // An announcement: only for addresses that are in.
            None => g.added.contains(&i),
        }
    }

    /// The notify effect of a transition, held until the election is won, or passed on.
    pub(super) fn arbiter_notify(
        &mut self,
        now: Instant,
        scope: Scope,
        from: State,
        to: State,
        priority: u8,
    ) {
        let Some(name) = self.arbiter.target_of(&self.plan, scope) else {
            return self.notify_transition(now, scope, from, to, priority, None);
        };
        let Some(g) = self.arbiter.gates.get_mut(&name) else {
            return;
        };
        let owner = match scope {
            Scope::Group(_) => true,
            Scope::Instance(_) => g.group.is_none(),
        };
        if to == State::Master {
            if owner {
                g.master = true;
            }
            if g.released {
                return self.notify_transition(now, scope, from, to, priority, None);
            }
            g.held.push((scope, from, priority));
            self.arbiter_want(&name, now);
            return;
        }
        if from == State::Master {
            let was_held = g.held.iter().any(|(s, _, _)| same_scope(*s, scope));
            g.held.retain(|(s, _, _)| !same_scope(*s, scope));
            if owner {
                g.master = false;
            }
            if was_held || !g.released {
                // Its service never started here: nothing to wait for.
                if owner {
                    g.held.clear();
                }
                self.notify_transition(now, scope, State::Backup, to, priority, None);
                self.arbiter_want(&name, now);
                return;
            }
            let (tx, rx) = oneshot::channel();
            if owner {
                g.released = false;
            }
            g.leaving += 1;
            let (events, target) = (self.tx.clone(), name.clone());
            tokio::spawn(async move {
                // A dropped sender: the hooks will not run any more, also ended.
                let _ = rx.await;
                let _ = events.send(Event::ArbiterLeft { target });
            });
            self.notify_transition(now, scope, from, to, priority, Some(tx));
            self.arbiter_want(&name, now);
            return;
        }
        self.notify_transition(now, scope, from, to, priority, None);
        self.arbiter_want(&name, now);
    }

    /// The leaving hooks of one transition out of a served MASTER have ended.
    pub(super) fn on_arbiter_left(&mut self, now: Instant, target: &str) {
        let Some(g) = self.arbiter.gates.get_mut(target) else {
            return;
        };
        g.leaving = g.leaving.saturating_sub(1);
        if g.leaving == 0 && g.lost {
            g.lost = false;
            self.arbiter_track(target, now);
        }
        self.arbiter_want(target, now);
    }

    /// After an operator command (demote, release): every target's wish again.
    pub(super) fn arbiter_refresh(&mut self, now: Instant) {
        let names: Vec<String> = self.arbiter.gates.keys().cloned().collect();
        for name in names {
            self.arbiter_want(&name, now);
        }
    }

    /// Tells the machine whether the target wants to serve, once that changed.
    fn arbiter_want(&mut self, name: &str, now: Instant) {
        let Some(g) = self.arbiter.gates.get(name) else {
            return;
        };
        let first = g.members.first().copied();
        let leaving = g.leaving > 0;
        let want = if g.only {
            let eligible = first.is_some_and(|i| {
                matches!(
                    self.node.state(InstanceId(i)),
                    State::Backup | State::Master
                ) && self
                    .rt
                    .get(i)
                    .is_none_or(|rt| rt.operator != Some("demoted"))
            });
            // Leaving MASTER: the election is held until the leaving hooks have ended.
            (eligible && !leaving) || (leaving && g.wanted)
        } else {
            // A leaving MASTER resigns once its hooks have ended; a new MASTER campaigns.
            g.master || (leaving && g.wanted)
        };
        let Some(g) = self.arbiter.gates.get_mut(name) else {
            return;
        };
        if want != g.wanted {
            g.wanted = want;
            g.machine.handle(now, ArbInput::Want(want));
            self.arbiter_pump(name, now);
        }
    }

    /// The target's tracked object: up while its lease can be trusted and its service was
    /// not taken away.
    fn arbiter_track(&mut self, name: &str, now: Instant) {
        let Some(g) = self.arbiter.gates.get(name) else {
            return;
        };
        let up = g.healthy && !g.lost;
        let status = if up {
            TrackStatus::Up
        } else {
            TrackStatus::Down
        };
        let key = arbiter_key(name);
        self.track_state.insert(key.clone(), status);
        self.node.track(now, &key, status);
        self.link_dirty();
    }

    /// Carries out what one machine decided.
    fn arbiter_pump(&mut self, name: &str, now: Instant) {
        loop {
            let Some(g) = self.arbiter.gates.get_mut(name) else {
                return;
            };
            let Some(out) = g.machine.poll() else {
                break;
            };
            match out {
                Output::Command(cmd) => {
                    if let Some((_, d)) = self.arbiter.drivers.get(g.driver) {
                        d.send(name, cmd);
                    }
                }
                Output::Healthy { healthy, reason } => {
                    if healthy {
                        info!("{name}: arbiter: {reason}");
                    } else {
                        warn!("{name}: arbiter: {reason}");
                    }
                    g.healthy = healthy;
                    g.reason = reason;
                    self.arbiter_track(name, now);
                }
                Output::Serving(true) => self.arbiter_serve(name, now),
                Output::Serving(false) => self.arbiter_unserve(name, now),
            }
        }
        self.arbiter_env(name);
    }

    /// The election is won: what was held goes out (or, elected alone, the target
    /// becomes MASTER).
    fn arbiter_serve(&mut self, name: &str, now: Instant) {
        let Some(g) = self.arbiter.gates.get_mut(name) else {
            return;
        };
        let token = g.machine.token();
        if g.only {
            g.released = true;
            info!("{name}: holds the arbiter's election (token {token:?}): becoming MASTER");
            if let Some(&first) = g.members.first() {
                self.arbiter_env(name);
                self.node
                    .handle(now, InstanceId(first), Input::Elected(true));
            }
            return;
        }
        if !g.master {
            return;
        }
        g.released = true;
        let held = std::mem::take(&mut g.held);
        let addresses = std::mem::take(&mut g.held_addresses);
        info!("{name}: holds the arbiter's election (token {token:?}): serving");
        self.arbiter_env(name);
        for i in addresses {
            if let Some(g) = self.arbiter.gates.get_mut(name) {
                g.added.insert(i);
            }
            if let Some(set) = self.address_set(i) {
                let _ = self.effects.send(Effect::Add(Box::new(set)));
            }
            self.announce(i);
        }
        for (scope, from, priority) in held {
            self.notify_transition(now, scope, from, State::Master, priority, None);
        }
    }

    /// Serving is no longer allowed.
    fn arbiter_unserve(&mut self, name: &str, now: Instant) {
        let Some(g) = self.arbiter.gates.get_mut(name) else {
            return;
        };
        if !g.released {
            return;
        }
        if g.only {
            warn!("{name}: no longer holds the arbiter's election: leaving MASTER");
            let Some(&first) = g.members.first() else {
                return;
            };
            if self.node.state(InstanceId(first)) != State::Master {
                // Not MASTER yet: nothing started, nothing to wait for.
                g.released = false;
            }
            self.node
                .handle(now, InstanceId(first), Input::Elected(false));
            return;
        }
        warn!("{name}: no longer holds the arbiter's election: stopping the service (FAULT)");
        g.lost = true;
        self.arbiter_track(name, now);
    }

    /// Gives the hooks of the target (and of its members) the current token.
    fn arbiter_env(&mut self, name: &str) {
        let Some(g) = self.arbiter.gates.get_mut(name) else {
            return;
        };
        let token = if g.machine.serving() {
            g.machine.token()
        } else {
            None
        };
        // A leaving hook keeps the token of the term that is ending.
        let token = token.or(if g.released {
            g.env_token.flatten()
        } else {
            None
        });
        if g.env_token == Some(token) {
            return;
        }
        g.env_token = Some(token);
        let env: Vec<(String, String)> = token
            .map(|t| vec![(TOKEN_ENV.to_string(), t.to_string())])
            .unwrap_or_default();
        let mut targets: Vec<Target> = (g.members.iter())
            .filter_map(|&i| self.plan.instances.get(i))
            .map(|p| Target::Instance(p.name.clone()))
            .collect();
        if let Some(group) = g.group.and_then(|gi| self.plan.groups.get(gi)) {
            targets.push(Target::Group(group.name.clone()));
        }
        for target in targets {
            let _ = self.effects.send(Effect::SetEnv {
                target,
                env: env.clone(),
            });
        }
    }

    /// The reason shown for a transition into FAULT that the arbiter caused.
    pub(super) fn arbiter_reason(&self, i: usize, to: State, reason: String) -> String {
        if to != State::Fault {
            return reason;
        }
        let Some(name) = self.arbiter.target_of(&self.plan, Scope::Instance(i)) else {
            return reason;
        };
        match self.arbiter.gates.get(&name) {
            Some(g) if !g.healthy => format!("arbiter: {}", g.reason),
            Some(g) if g.lost => "arbiter: the election was lost while serving".into(),
            _ => reason,
        }
    }

    /// Shutting down, after the leaving hooks: resign, revoke, stop the drivers.
    pub(super) fn arbiter_stop(&mut self, now: Instant) {
        let names: Vec<String> = self.arbiter.gates.keys().cloned().collect();
        for name in names {
            if let Some(g) = self.arbiter.gates.get_mut(&name) {
                g.machine.handle(now, ArbInput::Stop);
            }
            self.arbiter_pump(&name, now);
        }
        for (_, driver) in std::mem::take(&mut self.arbiter.drivers) {
            driver.stop(STOP_GRACE);
        }
    }

    /// What `baton status` shows of each election.
    pub(super) fn arbiter_status(&self, now: Instant) -> Vec<ArbiterView> {
        let ms = |d: Duration| d.as_millis() as u64;
        (self.arbiter.gates.iter())
            .map(|(name, g)| {
                let m = &g.machine;
                let endpoint = (self.arbiter.drivers.get(g.driver))
                    .map(|(_, d)| d.endpoint())
                    .unwrap_or_default();
                ArbiterView {
                    target: name.clone(),
                    mode: if g.only { "only" } else { "vrrp" }.into(),
                    etcd_down: match g.etcd_down {
                        EtcdDown::Stop => "stop",
                        EtcdDown::Keep => "keep",
                    }
                    .into(),
                    endpoint,
                    healthy: m.healthy(),
                    serving: m.serving(),
                    token: m.serving().then(|| m.token()).flatten(),
                    leader: m.leader().map(|l| l.name.clone()),
                    leader_token: m.leader().map(|l| l.revision),
                    lease_ttl_ms: m.ttl().map(ms),
                    lease_left_ms: (m.lease().is_some())
                        .then(|| m.deadline().map(|d| ms(d.saturating_duration_since(now))))
                        .flatten(),
                    phase: m.phase_text(now),
                }
            })
            .collect()
    }
}

fn same_scope(a: Scope, b: Scope) -> bool {
    match (a, b) {
        (Scope::Instance(x), Scope::Instance(y)) => x == y,
        (Scope::Group(x), Scope::Group(y)) => x == y,
        _ => false,
    }
}
