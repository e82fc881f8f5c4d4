//! The engine: one task that owns every VRRP instance (a [`Node`]) and feeds it
//! what the outside world reports — packets, tracked objects, link and address events,
//! operator commands, signals, timers — then carries out what it decides.
//!
//! Nothing here blocks on a slow thing: sockets, scripts, netlink events and the control
//! socket report through one channel, side effects go to the effects worker in order.
//! Sending an advert is the one thing done inline (a non-blocking `sendmsg`), because
//! its timing is the protocol.
//!
//! This file owns the engine's state, its start, the run loop, the dispatch of events
//! and of the node's actions, and shutdown. Each behaviour lives in one submodule, as
//! more `impl Engine` blocks: `packets` (sockets, binding, received and sent
//! adverts), `interfaces` (link and address events), `addresses` (the address sets
//! sent to the effects worker), `install` (start-up and reload of a plan, retiring
//! removed instances) and `control` (the control socket and status). Anything else
//! that reports to the engine (the netlink monitor, trackers, hooks) runs as a task of
//! its own and talks to it over the same channel; none of it lives inside the engine.
//! Only `packets` touches a VRRP socket, and no part of the engine changes the host
//! itself: addresses, routes, GARP and hooks are the effects worker's.

mod addresses;
mod arbiter;
mod control;
mod dump;
mod handover;
mod history;
mod install;
mod interfaces;
mod link;
mod notify;
mod packets;
mod snapshot;
mod web;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::config;
use crate::control::{Request, Response};
use crate::hooks::{self, HookReport, HookRunner};
use crate::net::{Family, LinkInfo, Monitor, NetEvent, Netlink, RxPacket};
use crate::proto::{Action, Input, InstanceId, Node, State, TrackStatus};
use crate::track::{TrackEvent, Tracker};

use super::effects::{self, AddressSet, Effect};
use super::plan::{InstancePlan, Plan};
use super::prio::PriorityWatch;
use super::timer::PreciseTimer;
use super::unknown::UnknownVrids;
use super::{Options, sd, vmac};
use control::start_control;
use notify::{hook_settings, log_hook, set_all_notify};
use packets::SockEntry;
pub use snapshot::Snapshot;

/// How long shutdown waits for STOP hooks to finish.
const HOOK_DRAIN: Duration = Duration::from_secs(10);

type SockKey = (u32, Family);

/// Everything that reaches the engine.
#[derive(Debug)]
enum Event {
    Packet(SockKey, RxPacket),
    Track(TrackEvent),
    Net(NetEvent),
    Hook(HookReport),
    Effect(effects::Report),
    Control(Request, oneshot::Sender<Response>),
    Link(super::link::LinkReport),
    /// The leaving hooks of a target's transitions out of MASTER up to `upto` ended.
    HandoverLeft {
        target: String,
        upto: u64,
    },
    /// An etcd answer or watch event for an arbitrated target.
    Arbiter(super::arbiter::ArbiterReport),
    /// The leaving hooks of one transition out of an arbitrated target's served MASTER
    /// ended.
    ArbiterLeft {
        target: String,
    },
}

/// Host-side facts about one instance, next to its protocol state in the node.
#[derive(Debug, Clone)]
struct InstanceRt {
    /// The interface the instance runs on, once known.
    ifname: Option<String>,
    ifindex: Option<u32>,
    primary: Option<IpAddr>,
    since: Instant,
    reason: String,
    operator: Option<&'static str>,
}

pub struct Engine {
    opts: Options,
    plan: Plan,
    node: Node,
    rt: Vec<InstanceRt>,
    by_vrid: HashMap<(u32, Family, u8), usize>,
    sockets: HashMap<SockKey, SockEntry>,
    netlink: Netlink,
    links: HashMap<String, LinkInfo>,
    tracker: Option<Tracker>,
    track_state: BTreeMap<String, TrackStatus>,
    effects: mpsc::UnboundedSender<Effect>,
    effects_task: JoinHandle<()>,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    started: Instant,
    /// When the instances get their Startup input (vrrp_startup_delay).
    startup_at: Option<Instant>,
    /// Packets that could not be attributed to any instance.
    unattributed: u64,
    /// Adverts for VRIDs no instance has on their interface.
    unknown: UnknownVrids,
    /// (instance, source) pairs whose unicast adverts were dropped and logged.
    foreign_sources: HashSet<(String, IpAddr)>,
    /// Instances removed by a reload, kept until their Removed action is carried out.
    departed: HashMap<String, (InstancePlan, InstanceRt)>,
    /// `all.rp_filter` as it was before the first VMAC (restored on exit).
    rp_filter_saved: Option<crate::net::vmac::RpFilterSaved>,
    /// `notify_priority_changes`.
    priority_watch: PriorityWatch,
    /// The link to other baton nodes, when baton's file has a link block.
    link: link::LinkSide,
    /// With a link: the MASTER hooks wait for the peer's release.
    handover: handover::HandoverSide,
    /// The recent past shown in status.
    history: history::History,
    /// The status the HTTP server reads.
    snapshot: snapshot::SnapshotSide,
    /// The HTTP server, with an http block.
    web: Option<super::web::WebHandle>,
    /// With arbiter blocks: the etcd elections that gate serving.
    arbiter: arbiter::ArbiterSide,
}

impl Engine {
    /// Builds the engine for a loaded configuration: binds interfaces, opens sockets,
    /// starts tracking, the effects worker and the control socket.
    pub async fn start(opts: Options, config: config::Config) -> anyhow::Result<Engine> {
        let plan = Plan::new(&config);
        let netlink = Netlink::new().context("opening netlink")?;
        let (tx, rx) = mpsc::unbounded_channel();

        // Hooks report every start and finish; effects report when addresses are in.
        let (hook_tx, hook_rx) = mpsc::unbounded_channel();
        forward(&tx, hook_rx, Event::Hook);
        let (eff_tx, eff_rx) = mpsc::unbounded_channel();
        forward(&tx, eff_rx, Event::Effect);

        let mut runner = HookRunner::new(hook_settings(&plan), hook_tx);
        set_all_notify(&plan, |t, s| runner.set_notify(t, s));
        let (effects, effects_task) = effects::start(netlink.clone(), runner, eff_tx);

        let mut monitor = Monitor::new()
            .await
            .context("opening the netlink monitor")?;
        let mon_tx = tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = monitor.next().await {
                if mon_tx.send(Event::Net(ev)).is_err() {
                    break;
                }
            }
        });

        start_control(&opts.socket, tx.clone())?;

        let now = Instant::now();
        let links = netlink
            .links()
            .await
            .context("listing interfaces")?
            .into_iter()
            .map(|l| (l.name.clone(), l))
            .collect();
        let mut engine = Engine {
            node: Node::new(Vec::new(), Vec::new(), now),
            rt: Vec::new(),
            by_vrid: HashMap::new(),
            sockets: HashMap::new(),
            links,
            tracker: None,
            track_state: BTreeMap::new(),
            effects,
            effects_task,
            tx,
            rx,
            started: now,
            startup_at: None,
            unattributed: 0,
            unknown: UnknownVrids::default(),
            foreign_sources: HashSet::new(),
            departed: HashMap::new(),
            rp_filter_saved: None,
            priority_watch: PriorityWatch::default(),
            link: link::LinkSide::default(),
            handover: handover::HandoverSide::default(),
            history: history::History::default(),
            snapshot: snapshot::SnapshotSide::default(),
            web: None,
            arbiter: arbiter::ArbiterSide::default(),
            netlink,
            plan: Plan::new(&config::Config::default()),
            opts,
        };
        engine.install(plan, now).await;
        let statics = &engine.plan.statics;
        if !statics.is_empty() {
            let _ = engine.effects.send(Effect::Add(Box::new(AddressSet {
                instance: "static".into(),
                interface: statics.interface.clone(),
                addresses: statics.addresses.clone(),
                routes: statics.routes.clone(),
                rules: statics.rules.clone(),
            })));
        }
        engine.startup_at = Some(now + engine.plan.startup_delay);
        engine.start_link(&config)?;
        engine.start_web(&config)?;
        engine.start_arbiter(&config, now)?;
        engine.handover_setup(now);
        Ok(engine)
    }

    /// Runs until SIGTERM / SIGINT, then shuts down cleanly.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;
        // keepalived's dump interface: SIGUSR1 .data, SIGUSR2 .stats, SIGRTMIN+2 .json.
        let mut sigdata = signal(SignalKind::user_defined1())?;
        let mut sigstats = signal(SignalKind::user_defined2())?;
        let mut sigjson = signal(SignalKind::from_raw(crate::dump::json_signal()))?;
        let watchdog = sd::watchdog_period();
        let mut watchdog_tick =
            tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
        sd::ready(&self.status_line());
        info!(
            instances = self.plan.instances.len(),
            config = %self.opts.config.display(),
            "baton started"
        );

        let timer = PreciseTimer::start();
        loop {
            self.drain().await;
            self.publish_link();
            self.refresh_snapshot(Instant::now());
            let deadline = [
                self.node.next_deadline(),
                self.startup_at,
                self.handover.next_deadline(),
                self.arbiter.next_deadline(),
                self.snapshot.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            timer.set(deadline);
            let sleep = timer.fired();
            tokio::select! {
                biased;
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
                _ = sighup.recv() => {
                    if let Err(e) = self.reload().await {
                        error!("reload refused, the running configuration stays:\n{e}");
                    }
                }
                _ = sigdata.recv() => self.write_dump(crate::dump::DumpKind::Data),
                _ = sigstats.recv() => self.write_dump(crate::dump::DumpKind::Stats),
                _ = sigjson.recv() => self.write_dump(crate::dump::DumpKind::Json),
                ev = self.rx.recv() => match ev {
                    Some(ev) => self.on_event(ev).await,
                    None => break,
                },
                _ = sleep => {
                    let now = Instant::now();
                    if self.startup_at.is_some_and(|t| t <= now) {
                        self.startup_at = None;
                        for i in 0..self.rt.len() {
                            self.node.handle(now, InstanceId(i), Input::Startup);
                        }
                    }
                    self.node.timer(now);
                    self.handover_timers(now);
                    self.arbiter_timers(now);
                }
                _ = watchdog_tick.tick(), if watchdog.is_some() => sd::watchdog(),
            }
        }
        self.shutdown().await;
        Ok(())
    }

    /// Carries out every action the node has decided.
    async fn drain(&mut self) {
        while let Some(action) = self.node.poll_action() {
            self.execute(action).await;
        }
        self.handover_seal();
    }

    async fn execute(&mut self, action: Action) {
        match action {
            Action::SendAdvert { instance, advert } => self.send_advert(instance.0, &advert).await,
            Action::AddAddresses { instance } => {
                if !self.arbiter_addresses(instance.0, Some(true)) {
                    return;
                }
                if let Some(set) = self.address_set(instance.0) {
                    let _ = self.effects.send(Effect::Add(Box::new(set)));
                }
            }
            Action::RemoveAddresses { instance } => {
                if !self.arbiter_addresses(instance.0, Some(false)) {
                    return;
                }
                if let Some(set) = self.address_set(instance.0) {
                    let _ = self.effects.send(Effect::Remove(Box::new(set)));
                }
            }
            Action::Announce { instance } => {
                if self.arbiter_addresses(instance.0, None) {
                    self.announce(instance.0);
                }
            }
            Action::AnnounceLowerPriority { instance, repeat } => {
                if self.arbiter_addresses(instance.0, None) {
                    self.announce_lower_priority(instance.0, repeat)
                }
            }
            Action::Transition {
                instance,
                from,
                to,
                reason,
                priority,
            } => {
                let now = Instant::now();
                let Some(name) = self.plan.instances.get(instance.0).map(|p| p.name.clone()) else {
                    return;
                };
                let reason = crate::proto::Reason(self.arbiter_reason(instance.0, to, reason.0));
                info!(
                    "{name}: {} -> {} ({}), priority {priority}",
                    state_name(from),
                    state_name(to),
                    reason.0
                );
                self.history.transition(
                    &name,
                    state_name(from),
                    state_name(to),
                    &reason.0,
                    priority,
                );
                self.snapshot.mark();
                if let Some(rt) = self.rt.get_mut(instance.0) {
                    rt.since = now;
                    rt.reason = reason.0;
                }
                if from == State::Initialize && to != State::Master {
                    self.drop_stale_addresses(instance.0).await;
                }
                self.arbiter_notify(
                    now,
                    handover::Scope::Instance(instance.0),
                    from,
                    to,
                    priority,
                );
                sd::status(&self.status_line());
                self.link_dirty();
            }
            Action::GroupTransition { group, from, to } => {
                let Some(name) = self.plan.groups.get(group).map(|g| g.name.clone()) else {
                    return;
                };
                info!(group = %name, "group {name}: {} -> {}", state_name(from), state_name(to));
                self.arbiter_notify(Instant::now(), handover::Scope::Group(group), from, to, 0);
            }
            Action::UpdateAddresses {
                instance,
                removed,
                added,
            } => {
                let Some(mut set) = self.address_set(instance.0) else {
                    return;
                };
                // A virtual address the new configuration lists as excluded stays on the
                // interface (HostSideDiff leaves it alone too).
                let mut removed = removed;
                if let Some(p) = self.plan.instances.get(instance.0) {
                    removed.retain(|a| !p.excluded_addresses.iter().any(|x| x.address == *a));
                }
                let all = std::mem::take(&mut set.addresses);
                let pick = |want: &[IpAddr]| -> Vec<_> {
                    all.iter()
                        .filter(|a| want.contains(&a.address))
                        .cloned()
                        .collect()
                };
                if !removed.is_empty() {
                    // Removed addresses are no longer in the plan: rebuild them as host
                    // addresses on the instance's interface (prefix as last configured is
                    // lost; the kernel matches a delete by address and prefix, so look
                    // them up in the departed configuration first).
                    let mut gone = AddressSet {
                        addresses: self.removed_addresses(instance.0, &removed),
                        routes: Vec::new(),
                        rules: Vec::new(),
                        ..set.clone()
                    };
                    gone.instance = set.instance.clone();
                    let _ = self.effects.send(Effect::Remove(Box::new(gone)));
                }
                if !added.is_empty() {
                    let add = AddressSet {
                        addresses: pick(&added),
                        routes: Vec::new(),
                        rules: Vec::new(),
                        ..set.clone()
                    };
                    let _ = self.effects.send(Effect::Add(Box::new(add)));
                    if let Some(p) = self.plan.instances.get(instance.0) {
                        let _ = self.effects.send(Effect::Announce {
                            instance: p.name.clone(),
                            interface: set.interface.clone(),
                            addresses: added,
                            garp: p.garp,
                        });
                    }
                }
                info!(instance = %set.instance, "virtual addresses updated without a transition");
            }
            Action::Removed {
                config,
                from,
                release,
            } => self.retire(&config.name, from, release).await,
        }
    }

    async fn on_event(&mut self, ev: Event) {
        let now = Instant::now();
        // A received or sent advert changes counters only: the periodic build shows
        // them. Anything else may change what status shows.
        if !matches!(ev, Event::Packet(..)) {
            self.snapshot.mark();
        }
        match ev {
            Event::Packet(key, pkt) => self.on_packet(now, key, pkt),
            Event::Track(t) => {
                debug!(key = %t.key, status = ?t.status, "tracked object");
                self.track_state.insert(t.key.clone(), t.status);
                self.node.track(now, &t.key, t.status);
                self.report_priority_changes();
                self.link_dirty();
            }
            Event::Net(ev) => self.on_net(now, ev).await,
            Event::Hook(r) => {
                log_hook(&r);
                self.history.hook(&r);
                self.note_hook(&r);
                self.handover_hook(&r);
            }
            Event::Link(report) => self.on_link(now, report),
            Event::HandoverLeft { target, upto } => self.on_handover_left(now, &target, upto),
            Event::Arbiter(report) => self.on_arbiter(now, report),
            Event::ArbiterLeft { target } => self.on_arbiter_left(now, &target),
            Event::Control(req, reply) if req.is_link() => self.link_control(req, reply),
            Event::Effect(effects::Report::AddressesAdded { instance, took }) => {
                debug!(%instance, micros = took.as_micros() as u64, "virtual addresses in place");
            }
            Event::Control(req, reply) => {
                let resp = self.on_control(now, req).await;
                let _ = reply.send(resp);
                self.report_priority_changes();
                self.arbiter_refresh(now);
            }
        }
    }

    /// FIFO lines for effective priorities that changed (`notify_priority_changes`),
    /// sent before the transitions the change may cause, as keepalived orders them.
    fn report_priority_changes(&mut self) {
        for effect in self.priority_watch.changes(&self.plan, &self.node) {
            let _ = self.effects.send(effect);
        }
    }

    /// SIGTERM / SIGINT: priority 0 from every master, every address removed, STOP hooks,
    /// then exit.
    async fn shutdown(mut self) {
        sd::stopping();
        info!("stopping: releasing mastership and virtual addresses");
        let now = Instant::now();
        self.handover_stop(now);
        self.node.shutdown(now);
        self.drain().await;
        if let Some(t) = self.tracker.take() {
            t.stop().await;
        }
        let (done, wait) = oneshot::channel();
        let _ = self.effects.send(Effect::Finish {
            deadline: HOOK_DRAIN,
            done,
        });
        // After priority 0 is on the wire, and once the STOP hooks have ended and the
        // peer has our release: the peer holds its MASTER hooks until then.
        self.await_releases(Instant::now() + HOOK_DRAIN + Duration::from_secs(1))
            .await;
        self.shutdown_link().await;
        if tokio::time::timeout(HOOK_DRAIN + Duration::from_secs(2), wait)
            .await
            .is_err()
        {
            warn!("side effects did not finish in time");
        }
        // The service is down here: the next holder of each election may start.
        self.arbiter_stop(Instant::now());
        self.effects_task.abort();
        // After the addresses are gone: a VMAC is baton's own, it leaves with baton.
        super::vmac::remove(&self.netlink, super::vmac::names(&self.plan)).await;
        super::vmac::restore_rp_filter(self.rp_filter_saved.take());
        let _ = std::fs::remove_file(&self.opts.socket);
        if let Some(pid) = &self.opts.pid_file {
            let _ = std::fs::remove_file(pid);
        }
        info!("baton stopped");
    }
}

/// Pumps values from a component's channel into the engine's channel.
fn forward<T: Send + 'static>(
    tx: &mpsc::UnboundedSender<Event>,
    mut rx: mpsc::UnboundedReceiver<T>,
    wrap: fn(T) -> Event,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            if tx.send(wrap(v)).is_err() {
                break;
            }
        }
    });
}

fn notify_of(state: State) -> Option<hooks::Notify> {
    match state {
        State::Master => Some(hooks::Notify::Master),
        State::Backup => Some(hooks::Notify::Backup),
        State::Fault => Some(hooks::Notify::Fault),
        State::Stop => Some(hooks::Notify::Stop),
        _ => None,
    }
}

pub fn state_name(s: State) -> &'static str {
    match s {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
        State::Stop => "STOP",
    }
}
