//! The engine's side of the handover (the rule and its state machine are in
//! [`crate::link::handover`]): with a link, the MASTER hooks of an instance (or of a sync
//! group and its members) wait until the linked peer's service is down, and this node
//! tells the peer when its own service is down.
//!
//! VRRP is not touched: adverts, addresses and ARP move when the protocol says, and
//! nothing here is a `proto` input. Only the notify effects of entering MASTER are held,
//! and the notify effects of leaving MASTER carry a `done` signal so the release goes out
//! once those hooks have ended (finished, killed at `notify_timeout`, or made obsolete).
//!
//! One [`Handover`] per target: an instance outside any sync group, or a sync group (its
//! members' hooks are held and waited for with the group's). Without a link block there
//! are no machines and every hook runs at once, as before.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::control::{HandoverView, Response};
use crate::hooks::{self, HookPhase, HookReport, RunOutcome, Target};
use crate::link::handover::{Handover, HandoverConfig, Output, StartReason, WaitingFor};
use crate::link::message::{Holding, ReleaseRequest, Released};
use crate::link::session::HandoverMsg;
use crate::proto::State;

use super::super::effects::Effect;
use super::super::plan::Plan;
use super::{Engine, Event, log_hook, notify_of};

mod sync;
use sync::sync_gate_open;

/// What a notify is about, as the node's actions name it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope {
    Instance(usize),
    Group(usize),
}

struct Machine {
    hand: Handover,
    /// MASTER notifies waiting for the hold to end: target and priority.
    held: Vec<(Target, u8)>,
    /// Leaving-hook signals not yet handed to a waiter.
    pending: Vec<oneshot::Receiver<()>>,
    /// Transitions out of MASTER so far, those handed to a waiter, and those reported done.
    leaves: u64,
    sealed: u64,
    done: u64,
    /// A leaving hook was killed at its timeout since the last release.
    killed: bool,
    /// `handover_timeout`, which also bounds the wait for a synced directory.
    timeout: Duration,
    /// MASTER hooks may start but wait, until this instant at most, for a newer
    /// generation of a synced directory that is on its way from the peer.
    gate: Option<Instant>,
}

/// The engine's handover state.
#[derive(Default)]
pub(super) struct HandoverSide {
    machines: BTreeMap<String, Machine>,
    /// Instance index → the name of its machine (its own, or its sync group's).
    of_instance: Vec<Option<String>>,
    /// Linked peers, and whether each speaks the handover.
    peers: HashMap<IpAddr, bool>,
    /// What the sync worker was last told of each target's service.
    serving_sent: Option<BTreeMap<String, bool>>,
}

impl HandoverSide {
    fn key(&self, plan: &Plan, scope: Scope) -> Option<String> {
        match scope {
            Scope::Instance(i) => self.of_instance.get(i).cloned().flatten(),
            Scope::Group(g) => plan
                .groups
                .get(g)
                .map(|g| g.name.clone())
                .filter(|n| self.machines.contains_key(n)),
        }
    }

    fn key_of_target(&self, plan: &Plan, target: &Target) -> Option<String> {
        match target {
            Target::Instance(name) => self.key(plan, Scope::Instance(plan.position(name)?)),
            Target::Group(name) => Some(name.clone()).filter(|n| self.machines.contains_key(n)),
        }
    }

    fn sequenced(&self) -> Option<bool> {
        if self.peers.is_empty() {
            None
        } else {
            Some(self.peers.values().any(|&h| h))
        }
    }

    /// The next moment a hold ends unless something happens first.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.machines
            .values()
            .flat_map(|m| [m.hand.next_deadline(), m.gate])
            .flatten()
            .min()
    }

    pub(super) fn released_for_good(&self) -> bool {
        self.machines.values().all(|m| m.hand.released_for_good())
    }
}

/// How long the peer must be silent on VRRP to count as not master: this node's own
/// Master_Down_Interval (3 × advert_int + skew, RFC 5798), the time after which it takes
/// over from a silent master; a sync group: its longest.
fn master_down(plan: &Plan, members: &[usize]) -> Duration {
    (members.iter())
        .filter_map(|&i| plan.instances.get(i))
        .map(|p| {
            let adv = p.advert_interval.as_duration();
            adv * 3 + adv * (256 - u32::from(p.priority)) / 256
        })
        .max()
        .unwrap_or(Duration::from_secs(4))
}

impl Engine {
    /// Makes the machines match the plan (at start, once the link runs, and after each
    /// reload): a target that stays keeps its machine and gets the new times.
    pub(super) fn handover_setup(&mut self, now: Instant) {
        let Some(expect) = self.link_expects_peer() else {
            return;
        };
        let plan = &self.plan;
        let mut wanted: Vec<(String, Vec<usize>, Duration)> = Vec::new();
        let mut of_instance = vec![None; plan.instances.len()];
        for g in &plan.groups {
            for &m in &g.members {
                if let Some(slot) = of_instance.get_mut(m) {
                    *slot = Some(g.name.clone());
                }
            }
            wanted.push((g.name.clone(), g.members.clone(), g.handover_timeout));
        }
        for (i, p) in plan.instances.iter().enumerate() {
            if of_instance.get(i).is_some_and(Option::is_none) {
                of_instance[i] = Some(p.name.clone());
                wanted.push((p.name.clone(), vec![i], p.handover_timeout));
            }
        }
        let side = &mut self.handover;
        let mut old = std::mem::take(&mut side.machines);
        for (name, members, timeout) in wanted {
            let mdi = master_down(plan, &members);
            let machine = match old.remove(&name) {
                Some(mut m) => {
                    m.hand.set_times(now, timeout, mdi);
                    m.timeout = timeout;
                    m
                }
                None => {
                    let mut config = HandoverConfig::new(&name, mdi, expect);
                    config.handover_timeout = timeout;
                    let mut hand = Handover::new(config);
                    match side.sequenced() {
                        Some(handover) => hand.link_up(now, handover),
                        // A trusted peer may be serving and its link not up yet: wait
                        // for the link, or for the peer's silence on VRRP.
                        None if expect => hand.peer_heard_on_vrrp(now),
                        None => {}
                    }
                    Machine {
                        hand,
                        held: Vec::new(),
                        pending: Vec::new(),
                        leaves: 0,
                        sealed: 0,
                        done: 0,
                        killed: false,
                        timeout,
                        gate: None,
                    }
                }
            };
            side.machines.insert(name, machine);
        }
        side.of_instance = of_instance;
        let names: Vec<String> = self.handover.machines.keys().cloned().collect();
        for name in names {
            self.handover_pump(&name, now);
        }
    }

    /// The notify effect of a transition, held or sent. `also`, for a transition out of
    /// MASTER, is answered once its hooks have ended (the arbiter resigns then).
    pub(super) fn notify_transition(
        &mut self,
        now: Instant,
        scope: Scope,
        from: State,
        to: State,
        priority: u8,
        also: Option<oneshot::Sender<()>>,
    ) {
        let target = match scope {
            Scope::Instance(i) => self.plan.instances.get(i).map(|p| p.name.clone()),
            Scope::Group(g) => self.plan.groups.get(g).map(|g| g.name.clone()),
        };
        let (Some(name), Some(notify)) = (target, notify_of(to)) else {
            return;
        };
        let target = match scope {
            Scope::Instance(_) => Target::Instance(name.clone()),
            Scope::Group(_) => Target::Group(name.clone()),
        };
        let Some(key) = self.handover.key(&self.plan, scope) else {
            return self.send_notify(target, notify, priority, also);
        };
        // The transition of the target itself, not of a member of its sync group.
        let owner = matches!(scope, Scope::Group(_)) || !self.is_group(&key);
        let Some(m) = self.handover.machines.get_mut(&key) else {
            return;
        };
        if to == State::Master {
            m.held.push((target, priority));
            if owner {
                m.hand.entered_master(now);
            }
        } else if from == State::Master {
            if owner {
                m.held.clear();
            } else {
                m.held.retain(|(t, _)| *t != target);
            }
            let (tx, rx) = chain_done(also);
            m.pending.push(rx);
            if owner {
                m.hand.left_master(now);
                m.leaves += 1;
            }
            self.send_notify(target, notify, priority, Some(tx));
        } else {
            self.send_notify(target, notify, priority, also);
        }
        self.handover_pump(&key, now);
    }

    fn is_group(&self, name: &str) -> bool {
        self.plan.groups.iter().any(|g| g.name == name)
    }

    fn send_notify(
        &self,
        target: Target,
        notify: hooks::Notify,
        priority: u8,
        done: Option<oneshot::Sender<()>>,
    ) {
        let _ = self.effects.send(Effect::Notify {
            target,
            notify,
            priority,
            done,
        });
    }

    /// After the actions of one input: the leaving hooks queued by each new transition
    /// out of MASTER are waited for together; the engine hears when they have all ended.
    pub(super) fn handover_seal(&mut self) {
        for (name, m) in &mut self.handover.machines {
            if m.leaves == m.sealed {
                // Hooks of member instances that left on their own: kept for the group's
                // next leave, dropped once ended.
                m.pending.retain_mut(|rx| {
                    matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty))
                });
                continue;
            }
            m.sealed = m.leaves;
            let waits = std::mem::take(&mut m.pending);
            let (tx, target, upto) = (self.tx.clone(), name.clone(), m.leaves);
            tokio::spawn(async move {
                for rx in waits {
                    // A dropped sender: the hooks will not run any more, also done.
                    let _ = rx.await;
                }
                let _ = tx.send(Event::HandoverLeft { target, upto });
            });
        }
    }

    /// The leaving hooks of every transition out of MASTER up to `upto` have ended.
    pub(super) fn on_handover_left(&mut self, now: Instant, target: &str, upto: u64) {
        let Some(m) = self.handover.machines.get_mut(target) else {
            return;
        };
        while m.done < upto.min(m.leaves) {
            m.done += 1;
            m.hand.leaving_hooks_done(now);
        }
        self.handover_pump(target, now);
    }

    /// A link came up or went down, or a peer sent a handover message.
    pub(super) fn handover_link(&mut self, now: Instant, peer: IpAddr, up: Option<bool>) {
        let before = self.handover.sequenced();
        match up {
            Some(handover) => {
                self.handover.peers.insert(peer, handover);
            }
            None => {
                self.handover.peers.remove(&peer);
            }
        }
        let after = self.handover.sequenced();
        if before == after && up.is_none() {
            return;
        }
        let names: Vec<String> = self.handover.machines.keys().cloned().collect();
        for name in names {
            if let Some(m) = self.handover.machines.get_mut(&name) {
                match after {
                    Some(handover) => m.hand.link_up(now, handover),
                    None => m.hand.link_down(now),
                }
            }
            self.handover_pump(&name, now);
        }
    }

    pub(super) fn handover_message(&mut self, now: Instant, peer: IpAddr, msg: HandoverMsg) {
        let (target, generation) = match &msg {
            HandoverMsg::ReleaseRequest(r) => (r.target.clone(), r.generation),
            HandoverMsg::Released(r) => (r.target.clone(), r.generation),
            HandoverMsg::Holding(h) => (h.target.clone(), h.generation),
        };
        let Some(m) = self.handover.machines.get_mut(&target) else {
            debug!(%peer, %target, "handover message for a target this node does not have");
            return;
        };
        match msg {
            HandoverMsg::ReleaseRequest(_) => m.hand.peer_release_request(now, generation),
            HandoverMsg::Released(r) => m.hand.peer_released(now, generation, r.stopping),
            HandoverMsg::Holding(_) => m.hand.peer_holding(now, generation),
        }
        self.handover_pump(&target, now);
    }

    /// An advert from a peer for instance `i`.
    pub(super) fn handover_heard(&mut self, now: Instant, i: usize) {
        let Some(key) = self.handover.key(&self.plan, Scope::Instance(i)) else {
            return;
        };
        if let Some(m) = self.handover.machines.get_mut(&key) {
            m.hand.peer_heard_on_vrrp(now);
        }
        self.handover_pump(&key, now);
    }

    /// A hook of a leaving transition killed at its timeout is named in the release log.
    pub(super) fn handover_hook(&mut self, r: &HookReport) {
        if let HookPhase::Finished {
            outcome: RunOutcome::TimedOut,
        } = r.phase
            && let Some(key) = self.handover.key_of_target(&self.plan, &r.target)
            && let Some(m) = self.handover.machines.get_mut(&key)
            && !m.hand.started()
        {
            m.killed = true;
        }
    }

    pub(super) fn handover_timers(&mut self, now: Instant) {
        let due: Vec<String> = (self.handover.machines.iter())
            .filter(|(_, m)| {
                [m.hand.next_deadline(), m.gate]
                    .iter()
                    .flatten()
                    .any(|&t| t <= now)
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            if let Some(m) = self.handover.machines.get_mut(&name) {
                m.hand.handle_timeout(now);
            }
            self.handover_pump(&name, now);
        }
    }

    /// Shutting down: nothing new starts; each target's release for good goes to the peer
    /// once its service is down.
    pub(super) fn handover_stop(&mut self, now: Instant) {
        let names: Vec<String> = self.handover.machines.keys().cloned().collect();
        for name in names {
            if let Some(m) = self.handover.machines.get_mut(&name) {
                m.hand.stop(now);
            }
            self.handover_pump(&name, now);
        }
    }

    /// Shutting down: keeps hearing hook ends and the link until every target's release
    /// for good has gone to the peer (or there is no linked peer), at most until
    /// `deadline`. Nothing else is acted on any more.
    pub(super) async fn await_releases(&mut self, deadline: Instant) {
        while !self.handover.released_for_good() {
            let ev = tokio::time::timeout_at(deadline.into(), self.rx.recv()).await;
            let now = Instant::now();
            match ev {
                Ok(Some(Event::HandoverLeft { target, upto })) => {
                    self.on_handover_left(now, &target, upto)
                }
                Ok(Some(Event::Link(report))) => self.on_link(now, report),
                Ok(Some(Event::Hook(r))) => {
                    log_hook(&r);
                    self.handover_hook(&r);
                }
                Ok(Some(Event::Control(_, reply))) => {
                    let _ = reply.send(Response::Error {
                        message: "baton is stopping".into(),
                    });
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    warn!("stopping without telling the peer that the service is down");
                    return;
                }
            }
        }
    }

    /// Carries out what one machine decided.
    fn handover_pump(&mut self, key: &str, now: Instant) {
        loop {
            let Some(m) = self.handover.machines.get_mut(key) else {
                return;
            };
            let Some(out) = m.hand.poll() else {
                break;
            };
            match out {
                Output::StartMasterHooks {
                    target,
                    waited,
                    why,
                    ..
                } => {
                    log_start(&target, waited, why);
                    self.link_dirty();
                }
                Output::SendReleaseRequest { target, generation } => {
                    debug!("{target}: asking the peer to release it (mastership {generation})");
                    self.link_handover(HandoverMsg::ReleaseRequest(ReleaseRequest {
                        target,
                        generation,
                    }));
                }
                Output::SendReleased {
                    target,
                    generation,
                    stopping,
                } => {
                    let killed = std::mem::take(&mut m.killed);
                    let how = match (killed, stopping) {
                        (true, _) => "a hook for leaving MASTER was killed at notify_timeout",
                        (false, true) => "this node is stopping",
                        (false, false) => "this node's service is not running",
                    };
                    info!("{target}: released to the peer ({how})");
                    self.link_handover(HandoverMsg::Released(Released {
                        target,
                        generation,
                        stopping,
                    }));
                }
                Output::SendHolding { target, generation } => {
                    debug!("{target}: the peer asks for a release this node cannot give yet");
                    self.link_handover(HandoverMsg::Holding(Holding { target, generation }));
                }
                Output::Waiting {
                    target,
                    for_what,
                    since,
                    until,
                } => info!(
                    "{target}: MASTER hooks held since {} ms: {}; at most {} ms more",
                    now.saturating_duration_since(since).as_millis(),
                    waiting_text(for_what),
                    until.saturating_duration_since(now).as_millis()
                ),
            }
        }
        // Held notifies go out once the mastership's hooks may start (also a member
        // that entered MASTER after its group started), and a newer copy of the
        // target's synced directories on its way from the peer has arrived.
        let catching_up = self.link_sync_catching_up(key);
        let Some(m) = self.handover.machines.get_mut(key) else {
            return;
        };
        if m.hand.started() && !m.held.is_empty() && sync_gate_open(m, key, catching_up, now) {
            for (target, priority) in std::mem::take(&mut m.held) {
                self.send_notify(target, hooks::Notify::Master, priority, None);
            }
        }
        if let Some(m) = self.handover.machines.get_mut(key)
            && m.held.is_empty()
        {
            m.gate = None;
        }
        self.sync_publish();
    }

    /// What `baton status` shows of each target's handover, when there is a link.
    pub(super) fn handover_status(&self, now: Instant) -> Vec<HandoverView> {
        let ms = |d: Duration| d.as_millis() as u64;
        (self.handover.machines.iter())
            .map(|(name, m)| {
                let hold = m.hand.hold();
                HandoverView {
                    target: name.clone(),
                    master: m.hand.is_master(),
                    serving: m.hand.serving(),
                    holding_ms: hold.map(|h| ms(now.saturating_duration_since(h.since))),
                    waiting_for: hold.map(|h| waiting_text(h.for_what).to_string()),
                    at_most_ms: hold.map(|h| ms(h.until.saturating_duration_since(now))),
                    peer_waiting_ms: (m.hand.peer_waiting_since())
                        .map(|t| ms(now.saturating_duration_since(t))),
                }
            })
            .collect()
    }
}

/// A `done` channel for hooks whose end two waiters need: the returned receiver, and
/// `also` when there is one, hear of it.
fn chain_done(also: Option<oneshot::Sender<()>>) -> (oneshot::Sender<()>, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    let Some(also) = also else {
        return (tx, rx);
    };
    let (tx2, rx2) = oneshot::channel();
    tokio::spawn(async move {
        let _ = rx.await;
        let _ = also.send(());
        let _ = tx2.send(());
    });
    (tx, rx2)
}

fn waiting_text(w: WaitingFor) -> &'static str {
    match w {
        WaitingFor::PeerRelease => "waiting for the peer to release it (its service is stopping)",
        WaitingFor::BothMaster => {
            "the peer is MASTER too and holds as well; waiting for VRRP to pick one"
        }
        WaitingFor::LinkDown => {
            "the link is down and the peer is still heard on VRRP; waiting for the link or the peer's silence"
        }
    }
}

fn log_start(target: &str, waited: Duration, why: StartReason) {
    let ms = waited.as_millis();
    match why {
        StartReason::NoPeer => debug!("{target}: MASTER hooks start"),
        StartReason::Released => {
            info!("{target}: MASTER hooks start after {ms} ms: the peer released it")
        }
        StartReason::PeerStopping => {
            info!("{target}: MASTER hooks start after {ms} ms: the peer stopped")
        }
        StartReason::PeerGone => info!(
            "{target}: MASTER hooks start after {ms} ms: the link is down and the peer is silent on VRRP"
        ),
        StartReason::PeerSilent => info!(
            "{target}: MASTER hooks start after {ms} ms: the peer is silent on VRRP and does not \
             answer on the link"
        ),
        StartReason::TimedOut { link_up } => warn!(
            "{target}: MASTER hooks start after {ms} ms without the peer's release \
             (handover_timeout; link {}): the service may run on both nodes for a moment",
            if link_up { "up" } else { "down" }
        ),
    }
}
