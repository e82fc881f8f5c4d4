//! The engine: one task that owns every VRRP instance (a [`proto::Node`]) and feeds it
//! what the outside world reports — packets, tracked objects, link and address events,
//! operator commands, signals, timers — then carries out what it decides.
//!
//! Nothing here blocks on a slow thing: sockets, scripts, netlink events and the control
//! socket report through one channel, side effects go to the effects worker in order.
//! Sending an advert is the one thing done inline (a non-blocking `sendmsg`), because
//! its timing is the protocol.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::config;
use crate::control::{GroupStatus, InstanceStatus, Request, Response, Status, TrackStatusView};
use crate::hooks::{self, FifoSpec, HookPhase, HookReport, HookRunner, HookSettings, Target};
use crate::net::{
    Family, LinkInfo, Monitor, NetEvent, Netlink, RxPacket, SocketConfig, VrrpSocket,
};
use crate::proto::{self, Action, Input, InstanceId, Node, RxError, State, TrackStatus};
use crate::track::{ScriptSettings, TrackEvent, Tracker};
use crate::wire::{self, Advert};

use super::effects::{self, AddressSet, Effect};
use super::plan::{self, InstancePlan, Plan};
use super::prio::PriorityWatch;
use super::timer::PreciseTimer;
use super::{Options, sd};

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

struct SockEntry {
    sock: Arc<VrrpSocket>,
    reader: JoinHandle<()>,
    groups: Vec<IpAddr>,
}

impl Drop for SockEntry {
    fn drop(&mut self) {
        self.reader.abort();
    }
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
    /// Instances removed by a reload, kept until their Removed action is carried out.
    departed: HashMap<String, (InstancePlan, InstanceRt)>,
    /// `notify_priority_changes`.
    priority_watch: PriorityWatch,
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
            departed: HashMap::new(),
            priority_watch: PriorityWatch::default(),
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
        Ok(engine)
    }

    /// Runs until SIGTERM / SIGINT, then shuts down cleanly.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;
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
            let deadline = [self.node.next_deadline(), self.startup_at]
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
    }

    async fn execute(&mut self, action: Action) {
        match action {
            Action::SendAdvert { instance, advert } => self.send_advert(instance.0, &advert).await,
            Action::AddAddresses { instance } => {
                if let Some(set) = self.address_set(instance.0) {
                    let _ = self.effects.send(Effect::Add(Box::new(set)));
                }
            }
            Action::RemoveAddresses { instance } => {
                if let Some(set) = self.address_set(instance.0) {
                    let _ = self.effects.send(Effect::Remove(Box::new(set)));
                }
            }
            Action::Announce { instance } => {
                let (Some(p), Some(rt)) =
                    (self.plan.instances.get(instance.0), self.rt.get(instance.0))
                else {
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
                info!(
                    "{name}: {} -> {} ({}), priority {priority}",
                    state_name(from),
                    state_name(to),
                    reason.0
                );
                if let Some(rt) = self.rt.get_mut(instance.0) {
                    rt.since = now;
                    rt.reason = reason.0;
                }
                if from == State::Initialize && to != State::Master {
                    self.drop_stale_addresses(instance.0).await;
                }
                if let Some(notify) = notify_of(to) {
                    let _ = self.effects.send(Effect::Notify {
                        target: Target::Instance(name),
                        notify,
                        priority,
                    });
                }
                sd::status(&self.status_line());
            }
            Action::GroupTransition { group, from, to } => {
                let Some(name) = self.plan.groups.get(group).map(|g| g.name.clone()) else {
                    return;
                };
                info!(group = %name, "group {name}: {} -> {}", state_name(from), state_name(to));
                if let Some(notify) = notify_of(to) {
                    let _ = self.effects.send(Effect::Notify {
                        target: Target::Group(name),
                        notify,
                        priority: 0,
                    });
                }
            }
            Action::UpdateAddresses {
                instance,
                removed,
                added,
            } => {
                let Some(mut set) = self.address_set(instance.0) else {
                    return;
                };
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

    /// A previous run that did not stop cleanly (SIGKILL, OOM kill) leaves its virtual
    /// addresses on the interface. An instance starting as anything but MASTER must not
    /// keep them, or two nodes answer for one VIP; only addresses actually present are
    /// removed (with the instance's routes and rules), so a clean start logs nothing.
    async fn drop_stale_addresses(&self, i: usize) {
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
    fn removed_addresses(
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

    /// An instance that a reload removed: release mastership, remove its addresses, STOP.
    async fn retire(&mut self, name: &str, from: State, release: Option<Advert>) {
        let Some((p, rt)) = self.departed.remove(name) else {
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
        });
    }

    fn address_set(&self, i: usize) -> Option<AddressSet> {
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

    async fn send_advert(&mut self, i: usize, advert: &Advert) {
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

    async fn on_event(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::Packet(key, pkt) => self.on_packet(now, key, pkt),
            Event::Track(t) => {
                debug!(key = %t.key, status = ?t.status, "tracked object");
                self.track_state.insert(t.key.clone(), t.status);
                self.node.track(now, &t.key, t.status);
                self.report_priority_changes();
            }
            Event::Net(ev) => self.on_net(now, ev).await,
            Event::Hook(r) => log_hook(&r),
            Event::Effect(effects::Report::AddressesAdded { instance, took }) => {
                debug!(%instance, micros = took.as_micros() as u64, "virtual addresses in place");
            }
            Event::Control(req, reply) => {
                let resp = self.on_control(now, req).await;
                let _ = reply.send(resp);
                self.report_priority_changes();
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

    fn on_packet(&mut self, now: Instant, key: SockKey, pkt: RxPacket) {
        let Some(vrid) = wire::vrrp::peek_vrid(&pkt.payload) else {
            self.unattributed += 1;
            return;
        };
        let Some(&i) = self.by_vrid.get(&(key.0, key.1, vrid)) else {
            // Other VRIDs on the same LAN are normal; not ours to count.
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
            Ok(advert) => self.node.handle(
                now,
                id,
                Input::Advert {
                    from: pkt.src,
                    advert,
                },
            ),
            Err(e) => {
                debug!(instance = %p.name, from = %pkt.src, error = %e, "advert dropped");
                self.node.handle(now, id, Input::RxError(rx_error(&e)));
            }
        }
    }

    async fn on_net(&mut self, now: Instant, ev: NetEvent) {
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

    /// Someone deleted a virtual address of a master: put it back.
    fn restore_address(&mut self, ifindex: u32, addr: IpAddr) {
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

    async fn on_control(&mut self, now: Instant, req: Request) -> Response {
        let operator =
            |engine: &mut Engine, name: &str, input: Input, mark: Option<&'static str>| {
                let Some(i) = engine.plan.position(name) else {
                    return Response::Error {
                        message: format!("no vrrp_instance named {name:?}"),
                    };
                };
                engine.node.handle(now, InstanceId(i), input);
                if let Some(rt) = engine.rt.get_mut(i) {
                    rt.operator = mark;
                }
                info!(
                    instance = name,
                    action = mark.unwrap_or("released"),
                    "operator command"
                );
                Response::Ok {
                    message: format!("{name}: {}", mark.unwrap_or("released")),
                }
            };
        match req {
            Request::Status => Response::Status(Box::new(self.status(now))),
            Request::Promote { instance } => {
                // A node whose own checks fail must not be told to serve: say so rather
                // than store a promotion that would fire the moment it recovers.
                let faulted = self
                    .plan
                    .position(&instance)
                    .is_some_and(|i| self.node.state(InstanceId(i)) == State::Fault);
                if faulted {
                    Response::Error {
                        message: format!(
                            "{instance} is in FAULT (a tracked object is down): promote refused"
                        ),
                    }
                } else {
                    operator(self, &instance, Input::Promote, Some("promoted"))
                }
            }
            Request::Demote { instance } => {
                operator(self, &instance, Input::Demote, Some("demoted"))
            }
            Request::Release { instance } => operator(self, &instance, Input::Release, None),
            Request::Reload => match self.reload().await {
                Ok(()) => Response::Ok {
                    message: "configuration reloaded".into(),
                },
                Err(e) => Response::Error {
                    message: format!("reload refused, the running configuration stays:\n{e}"),
                },
            },
        }
    }

    /// Re-reads the configuration; on any error the running one stays untouched.
    async fn reload(&mut self) -> anyhow::Result<()> {
        sd::reloading();
        let result = config::load(&self.opts.config, &self.opts.load);
        let loaded = match result {
            Ok(l) => l,
            Err(failure) => {
                sd::ready(&self.status_line());
                return Err(anyhow::anyhow!("{failure}"));
            }
        };
        for d in &loaded.diagnostics {
            warn!("{d}");
        }
        let plan = Plan::new(&loaded.config);
        let now = Instant::now();
        self.install(plan, now).await;
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
    async fn install(&mut self, plan: Plan, now: Instant) {
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
        self.bind_all().await;

        let configs = self.proto_configs();
        self.node
            .reconfigure(now, configs, plan::proto_groups(&self.plan));

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

        // Instances new in this configuration start now (at startup: after the delay).
        if self.startup_at.is_none() && !old_plan.instances.is_empty() {
            for i in 0..self.rt.len() {
                if self.node.state(InstanceId(i)) == State::Initialize {
                    self.node.handle(now, InstanceId(i), Input::Startup);
                }
            }
        }
    }

    fn proto_configs(&self) -> Vec<proto::InstanceConfig> {
        self.plan
            .instances
            .iter()
            .zip(&self.rt)
            .map(|(p, rt)| p.proto_config(rt.primary.unwrap_or_else(|| p.unspecified())))
            .collect()
    }

    /// Re-resolves interfaces and addresses after a link or address change, and tells
    /// the node about instances whose source address changed.
    async fn rebind(&mut self, now: Instant) {
        let before: Vec<Option<IpAddr>> = self.rt.iter().map(|r| r.primary).collect();
        self.bind_all().await;
        let after: Vec<Option<IpAddr>> = self.rt.iter().map(|r| r.primary).collect();
        if before != after {
            let configs = self.proto_configs();
            self.node
                .reconfigure(now, configs, plan::proto_groups(&self.plan));
        }
    }

    /// Resolves every instance's interface, index and source address, and opens the
    /// sockets they need (closing the ones nobody needs any more).
    async fn bind_all(&mut self) {
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
            if let Some(rt) = self.rt.get_mut(i) {
                rt.ifname = ifname.clone();
                rt.ifindex = link.as_ref().map(|l| l.ifindex);
                rt.primary = primary;
            }
            if let (Some(l), Some(name)) = (&link, &ifname) {
                let key = (l.ifindex, p.family);
                let entry = wanted
                    .entry(key)
                    .or_insert_with(|| (name.clone(), Vec::new()));
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

    fn status(&self, now: Instant) -> Status {
        let instances = self
            .plan
            .instances
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let id = InstanceId(i);
                let state = self.node.state(id);
                let rt = &self.rt[i.min(self.rt.len().saturating_sub(1))];
                InstanceStatus {
                    name: p.name.clone(),
                    state: state_name(state).to_string(),
                    interface: rt.ifname.clone().unwrap_or_else(|| "-".into()),
                    vrid: p.vrid,
                    version: match p.version {
                        wire::Version::V2 => 2,
                        wire::Version::V3 => 3,
                    },
                    priority: p.priority,
                    effective_priority: self.node.effective_priority(id),
                    master: if state == State::Master {
                        Some("self".into())
                    } else {
                        self.node.master_address(id).map(|a| a.to_string())
                    },
                    virtual_addresses: p
                        .virtual_addresses
                        .iter()
                        .map(|a| format!("{}/{}", a.address, a.prefix_len))
                        .collect(),
                    in_state_ms: now.duration_since(rt.since).as_millis() as u64,
                    last_reason: rt.reason.clone(),
                    operator: rt.operator.map(str::to_string),
                    stats: self.node.stats(id).clone(),
                }
            })
            .collect();
        let groups = self
            .plan
            .groups
            .iter()
            .map(|g| {
                let members: Vec<String> = g
                    .members
                    .iter()
                    .filter_map(|&m| self.plan.instances.get(m).map(|p| p.name.clone()))
                    .collect();
                let state = g
                    .members
                    .first()
                    .map(|&m| state_name(self.node.state(InstanceId(m))))
                    .unwrap_or("-");
                GroupStatus {
                    name: g.name.clone(),
                    state: state.to_string(),
                    members,
                }
            })
            .collect();
        Status {
            router_id: self.plan.router_id.clone(),
            config_file: self.opts.config.clone(),
            config_digest: self.plan.shared_digest.clone(),
            pid: std::process::id(),
            uptime_ms: now.duration_since(self.started).as_millis() as u64,
            instances,
            groups,
            tracks: self
                .track_state
                .iter()
                .map(|(k, v)| TrackStatusView {
                    key: k.clone(),
                    status: match v {
                        TrackStatus::Up => "up".into(),
                        TrackStatus::Down => "down".into(),
                        TrackStatus::Value(n) => n.to_string(),
                    },
                })
                .collect(),
        }
    }

    fn status_line(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for i in 0..self.plan.instances.len() {
            *counts
                .entry(state_name(self.node.state(InstanceId(i))))
                .or_default() += 1;
        }
        let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        if parts.is_empty() {
            "no instances".into()
        } else {
            parts.join(", ")
        }
    }

    /// SIGTERM / SIGINT: priority 0 from every master, every address removed, STOP hooks,
    /// then exit.
    async fn shutdown(mut self) {
        sd::stopping();
        info!("stopping: releasing mastership and virtual addresses");
        let now = Instant::now();
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
        if tokio::time::timeout(HOOK_DRAIN + Duration::from_secs(2), wait)
            .await
            .is_err()
        {
            warn!("side effects did not finish in time");
        }
        self.effects_task.abort();
        let _ = std::fs::remove_file(&self.opts.socket);
        if let Some(pid) = &self.opts.pid_file {
            let _ = std::fs::remove_file(pid);
        }
        info!("baton stopped");
    }
}

async fn send_to_all(sock: &VrrpSocket, p: &InstancePlan, src: IpAddr, advert: &Advert) {
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

fn all_addresses(p: &InstancePlan) -> Vec<crate::config::model::VirtualAddress> {
    p.virtual_addresses
        .iter()
        .chain(&p.excluded_addresses)
        .cloned()
        .collect()
}

fn host_address(addr: IpAddr) -> crate::config::model::VirtualAddress {
    crate::config::model::VirtualAddress::new(addr, if addr.is_ipv4() { 32 } else { 128 })
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

fn start_control(path: &PathBuf, tx: mpsc::UnboundedSender<Event>) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)
        .with_context(|| format!("binding the control socket {}", path.display()))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(serve_control(stream, tx));
        }
    });
    Ok(())
}

async fn serve_control(stream: tokio::net::UnixStream, tx: mpsc::UnboundedSender<Event>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    // Anyone who can open the socket may look; only root (or baton's own user) may
    // change anything.
    let may_change = stream
        .peer_cred()
        .is_ok_and(|c| c.uid() == 0 || c.uid() == nix::unistd::geteuid().as_raw());
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let resp = match serde_json::from_str::<Request>(&line) {
            Ok(req) if req != Request::Status && !may_change => Response::Error {
                message: "only root may change baton's state".into(),
            },
            Ok(req) => {
                let (reply, answer) = oneshot::channel();
                if tx.send(Event::Control(req, reply)).is_err() {
                    return;
                }
                answer.await.unwrap_or(Response::Error {
                    message: "baton is stopping".into(),
                })
            }
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
            },
        };
        let Ok(mut text) = serde_json::to_string(&resp) else {
            return;
        };
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn hook_settings(plan: &Plan) -> HookSettings {
    let mut s = HookSettings {
        script_security: plan.script_security,
        fifos: plan
            .fifos
            .iter()
            .map(|(path, script)| FifoSpec {
                path: path.into(),
                script: script.clone(),
            })
            .collect(),
        script_user: hooks::exec::default_script_user(),
    };
    if let Some(user) = plan.script_user.as_ref().and_then(plan::resolve_run_as) {
        s.script_user = user;
    }
    s
}

fn set_all_notify(plan: &Plan, mut set: impl FnMut(Target, hooks::NotifySpec)) {
    for p in &plan.instances {
        set(Target::Instance(p.name.clone()), p.notify.clone());
    }
    for g in &plan.groups {
        set(Target::Group(g.name.clone()), g.notify.clone());
    }
}

fn log_hook(r: &HookReport) {
    let who = match &r.target {
        Target::Instance(n) => n.as_str(),
        Target::Group(n) => n.as_str(),
    };
    let cmd = r.argv.join(" ");
    match &r.phase {
        HookPhase::Started { pid } => debug!("{who}: hook started (pid {pid}): {cmd}"),
        HookPhase::Finished { outcome } => info!("{who}: hook {cmd}: {outcome:?}"),
        HookPhase::Refused { reason } => warn!("{who}: hook not run: {cmd}: {reason}"),
    }
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
