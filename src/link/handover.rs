//! The handover rule as a pure state machine, one per target (an instance, or a sync
//! group, which hands over as one): while two baton nodes are linked, their service
//! intervals for the target never overlap. A node's *service interval* runs from the start
//! of its MASTER hooks to the end of its hooks for leaving MASTER.
//!
//! VRRP moves as it always does; only the MASTER hooks wait. The exchange:
//! - a node entering MASTER with a linked peer holds its MASTER hooks and sends a
//!   [`ReleaseRequest`](super::message::ReleaseRequest) for its new mastership (a fresh
//!   `generation`);
//! - the peer answers with [`Released`](super::message::Released) for that generation as
//!   soon as its own service is not running: at once if it never started it, otherwise
//!   when its leaving hooks have ended (finished, or killed at their timeout). While it is
//!   MASTER itself (serving or holding) it does not answer, so two nodes that both entered
//!   MASTER wait for VRRP to make one of them BACKUP, which then answers at once;
//! - the answer carries the requester's generation, so the release of an older mastership
//!   never starts a newer one;
//! - a stopping node sends one unasked `Released { stopping: true }` once its leaving hooks
//!   are done: it will not serve again, so any hold of the peer may end.
//!
//! Asking, rather than trusting the peer's last status, keeps the rule exact when both
//! move at once: the answer comes from the peer's own state, never from a copy of it in
//! flight. It costs one round trip when the peer was not serving at all.
//!
//! Without the peer's word:
//! - no baton peer to sequence with (no link block, a keepalived peer, a baton that speaks
//!   link version 1): never hold, exactly as without a link;
//! - the link is down (or has not come up yet with a peer we expect to link with): the
//!   peer has crashed, or is cut off, or stopping. A peer silent on VRRP for the
//!   master-down interval is taken as gone: start at once, as today (a crash releases
//!   nothing). A peer still heard on VRRP is alive and advertising: hold until it falls
//!   silent for the master-down interval, the link returns, or `handover_timeout` passes;
//! - the link looks up but our request goes unanswered: a live peer answers at once (a
//!   release, or [`Holding`](super::message::Holding) while its service still runs), a
//!   host that crashed answers nothing, and its link is found dead only after its dead
//!   time. A peer silent on VRRP for the master-down interval that has not answered
//!   within [`ANSWER_WINDOW`] is taken as gone, as with the link down;
//! - with the link up, `handover_timeout` still bounds the hold, so no node that is VRRP
//!   master waits longer than that (no deadlock, also when both wait).
//!
//! A link that breaks in the middle of a handover looks like a crash of the peer: the
//! node starts as it would without the link. A host crash is noticed by the unanswered
//! request (or when the link is found dead, if that comes first); a killed process closes
//! its connection at once.
//!
//! One machine sequences with one peer (the pair of issue 11). Time comes in as an
//! argument; outputs are drained with [`Handover::poll`] after every input, and
//! [`Handover::next_deadline`] says when to call [`Handover::handle_timeout`]. A spurious
//! wake-up is harmless. No I/O, no clock, no panics.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use crate::config::baton::HANDOVER_TIMEOUT_DEFAULT;

/// How long a release request may go unanswered (no [`Released`](super::message::Released),
/// no [`Holding`](super::message::Holding), no request of the peer's own) before a peer
/// that is also silent on VRRP for the master-down interval is taken as gone, although
/// its link has not timed out yet. A live peer answers at once, from its engine, in a
/// round trip plus a few milliseconds; a host that has crashed answers nothing, and its
/// link would only be found dead after `dead_after` (3 s by default). So a crashed peer
/// costs the new master this much on top of VRRP's own takeover, not the link's dead time.
pub const ANSWER_WINDOW: Duration = Duration::from_millis(200);

/// What one target's handover is told when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverConfig {
    /// The instance or sync group name, as both nodes' keepalived.conf spell it.
    pub target: String,
    pub handover_timeout: Duration,
    /// The peer's Master_Down_Interval for this target (a sync group: the longest of its
    /// instances'): silence on VRRP for this long means the peer is not master.
    pub master_down_interval: Duration,
    /// The peer is a baton this node means to link with (its fingerprint is trusted):
    /// before its link first comes up, hold as for a link that went down. `false` (no
    /// link, a keepalived peer): never hold until a link with handover comes up.
    pub expect_link: bool,
}

impl HandoverConfig {
    pub fn new(target: &str, master_down_interval: Duration, expect_link: bool) -> Self {
        HandoverConfig {
            target: target.to_string(),
            handover_timeout: HANDOVER_TIMEOUT_DEFAULT,
            master_down_interval,
            expect_link,
        }
    }
}

/// Why the MASTER hooks start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartReason {
    /// No baton peer that sequences its service: as without a link.
    NoPeer,
    /// The peer released the target for this mastership.
    Released,
    /// The peer is shutting down and released the target for good.
    PeerStopping,
    /// Link down and the peer silent on VRRP for the master-down interval: it crashed
    /// (or is cut off entirely) and releases nothing.
    PeerGone,
    /// The link still looks up, but the peer is silent on VRRP for the master-down
    /// interval and left our request unanswered for [`ANSWER_WINDOW`]: its host died
    /// (its link would be found dead only after `dead_after`).
    PeerSilent,
    /// `handover_timeout` passed without a release.
    TimedOut { link_up: bool },
}

/// What a held mastership waits for, for the log and `baton status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitingFor {
    /// The peer's release: its service is stopping, or its answer is on the way.
    PeerRelease,
    /// The peer entered MASTER too and holds as well: VRRP has to pick one of us.
    BothMaster,
    /// The link is down but the peer is still heard on VRRP: for the link to return or
    /// the peer to fall silent.
    LinkDown,
}

/// What the driver does after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Run the MASTER hooks of mastership `generation` now (held `waited` so far).
    StartMasterHooks {
        target: String,
        generation: u64,
        waited: Duration,
        why: StartReason,
    },
    /// Send the peer a release request (`Session::send_release_request`).
    SendReleaseRequest { target: String, generation: u64 },
    /// Send the peer a release (`Session::send_released`).
    SendReleased {
        target: String,
        generation: u64,
        stopping: bool,
    },
    /// Tell the peer its request arrived but cannot be granted yet (`Session::send_holding`).
    SendHolding { target: String, generation: u64 },
    /// The MASTER hooks are held, or what they wait for changed: for the log.
    Waiting {
        target: String,
        for_what: WaitingFor,
        since: Instant,
        until: Instant,
    },
}

/// A held mastership as `baton status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub generation: u64,
    pub for_what: WaitingFor,
    /// When the node entered MASTER.
    pub since: Instant,
    /// When the hold ends at the latest, unless something changes.
    pub until: Instant,
}

/// The peer as far as sequencing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// Nothing to sequence with: no link, a keepalived peer, a version 1 baton.
    Unsequenced,
    /// Up, speaking handover.
    Linked,
    /// A baton peer whose link is down, or not up yet.
    Down,
    /// The peer said it is stopping; it holds nothing until it is heard from again.
    Stopped { at: Instant },
}

#[derive(Debug, Clone, Copy)]
struct Mastership {
    generation: u64,
    entered: Instant,
    started: bool,
    /// When this mastership's request went out on the current link.
    asked: Option<Instant>,
    /// The peer answered it (a release, a hold, or a request of its own): it is alive.
    answered: bool,
    /// What the last `Waiting` output said, so a change is logged once.
    said: Option<WaitingFor>,
}

#[derive(Debug, Clone)]
pub struct Handover {
    config: HandoverConfig,
    peer: Peer,
    master: Option<Mastership>,
    /// One entry per transition out of MASTER whose hooks have not ended, oldest first:
    /// whether that mastership had started its MASTER hooks (so a service may be running
    /// until those leaving hooks end).
    leaving: VecDeque<bool>,
    generation: u64,
    last_vrrp: Option<Instant>,
    /// The peer holds for our release: its generation, and since when.
    peer_request: Option<(u64, Instant)>,
    /// The generation of the peer's request that we told we hold.
    told_holding: Option<u64>,
    stopping: bool,
    stop_released: bool,
    outputs: VecDeque<Output>,
}

impl Handover {
    pub fn new(config: HandoverConfig) -> Self {
        Handover {
            peer: if config.expect_link {
                Peer::Down
            } else {
                Peer::Unsequenced
            },
            config,
            master: None,
            leaving: VecDeque::new(),
            generation: 0,
            last_vrrp: None,
            peer_request: None,
            told_holding: None,
            stopping: false,
            stop_released: false,
            outputs: VecDeque::new(),
        }
    }

    pub fn target(&self) -> &str {
        &self.config.target
    }

    /// After a reload: new times (a changed target name is a new machine). A hold in
    /// progress is judged by the new times from now on.
    pub fn set_times(&mut self, now: Instant, handover_timeout: Duration, master_down: Duration) {
        self.config.handover_timeout = handover_timeout;
        self.config.master_down_interval = master_down;
        self.step(now);
    }

    /// The target entered MASTER (VRRP has already acted: adverts, addresses, ARP).
    pub fn entered_master(&mut self, now: Instant) {
        if self.master.is_some() || self.stopping {
            return;
        }
        self.generation += 1;
        self.master = Some(Mastership {
            generation: self.generation,
            entered: now,
            started: false,
            asked: None,
            answered: false,
            said: None,
        });
        if self.peer == Peer::Linked {
            self.ask(now);
        }
        self.step(now);
    }

    /// The target left MASTER (BACKUP, FAULT or STOP). Its leaving hooks are queued now;
    /// call [`Handover::leaving_hooks_done`] once for every call of this, in order.
    pub fn left_master(&mut self, now: Instant) {
        let served = self.master.take().is_some_and(|m| m.started);
        self.leaving.push_back(served);
        self.step(now);
    }

    /// The hooks of the oldest transition out of MASTER have ended: finished, killed at
    /// `notify_timeout`, found obsolete, or none configured (call at once then).
    pub fn leaving_hooks_done(&mut self, now: Instant) {
        self.leaving.pop_front();
        self.step(now);
    }

    /// A link with the peer came up; `speaks_handover` as `Session::speaks_handover`.
    pub fn link_up(&mut self, now: Instant, speaks_handover: bool) {
        self.peer_request = None;
        if !speaks_handover {
            self.peer = Peer::Unsequenced;
            return self.step(now);
        }
        self.peer = Peer::Linked;
        if self.master.is_some_and(|m| !m.started) {
            self.ask(now);
        }
        self.step(now);
    }

    /// The link's session closed (or a new one failed before it came up).
    pub fn link_down(&mut self, now: Instant) {
        self.peer_request = None;
        if self.peer == Peer::Linked {
            self.peer = Peer::Down;
        }
        self.step(now);
    }

    /// An advert from the peer for this target (any instance of a sync group). Feed it
    /// whether or not the link is up: when the link goes down, the last one decides.
    pub fn peer_heard_on_vrrp(&mut self, now: Instant) {
        self.last_vrrp = Some(now);
        // A stopped peer heard again after its last adverts has started anew.
        if let Peer::Stopped { at } = self.peer
            && now > at + self.config.master_down_interval
        {
            self.peer = Peer::Down;
        }
        self.step(now);
    }

    /// The peer entered MASTER and holds until we release (`generation` is its own).
    pub fn peer_release_request(&mut self, now: Instant, generation: u64) {
        if self.peer != Peer::Linked {
            return;
        }
        let since = match self.peer_request {
            Some((_, since)) => since,
            None => now,
        };
        self.peer_request = Some((generation, since));
        if let Some(m) = self.master.as_mut() {
            m.answered = true;
        }
        self.step(now);
    }

    /// The peer released the target for its request of `generation`, or for good.
    /// A release for another generation than the one held now is stale and ignored.
    pub fn peer_released(&mut self, now: Instant, generation: u64, stopping: bool) {
        if stopping {
            self.peer = Peer::Stopped { at: now };
            self.peer_request = None;
        } else if matches!(self.peer, Peer::Linked | Peer::Down)
            && let Some(m) = self
                .master
                .filter(|m| !m.started && m.generation == generation)
        {
            // Also after the link went down: the answer to this mastership's request
            // is the peer's word, whichever connection brought it.
            self.start(now, m, StartReason::Released);
        }
        self.step(now);
    }

    /// The peer got our request of `generation` and cannot release yet: it is alive.
    pub fn peer_holding(&mut self, now: Instant, generation: u64) {
        if self.peer != Peer::Linked {
            return;
        }
        if let Some(m) = self.master.as_mut().filter(|m| m.generation == generation) {
            m.answered = true;
        }
        self.step(now);
    }

    /// This node is shutting down: no new mastership is held or started, and once the
    /// service is down a release for good goes to the peer.
    pub fn stop(&mut self, now: Instant) {
        self.stopping = true;
        self.step(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.step(now);
    }

    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.hold().map(|h| h.until)
    }

    #[must_use]
    pub fn poll(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The held mastership, if the MASTER hooks wait.
    pub fn hold(&self) -> Option<Hold> {
        let m = self.master.filter(|m| !m.started)?;
        if self.stopping {
            return None;
        }
        let (for_what, until) = self.waiting(m)?;
        Some(Hold {
            generation: m.generation,
            for_what,
            since: m.entered,
            until,
        })
    }

    /// Since when the peer holds its MASTER hooks for our release.
    pub fn peer_waiting_since(&self) -> Option<Instant> {
        self.peer_request.map(|(_, since)| since)
    }

    /// Whether this node is MASTER for the target (holding or serving).
    pub fn is_master(&self) -> bool {
        self.master.is_some()
    }

    /// Whether the MASTER hooks of the current mastership have started.
    pub fn started(&self) -> bool {
        self.master.is_some_and(|m| m.started)
    }

    /// Whether our service may be running: MASTER hooks started, or leaving hooks of a
    /// started mastership not yet ended.
    pub fn serving(&self) -> bool {
        self.master.is_some_and(|m| m.started) || self.leaving.iter().any(|&s| s)
    }

    /// Stopping, and nothing left to tell the peer: the service is down and the release
    /// for good was sent, or there is no linked peer to send it to. The driver keeps the
    /// link open until this holds (bounded by its own shutdown time).
    pub fn released_for_good(&self) -> bool {
        self.stopping && !self.serving() && (self.stop_released || self.peer != Peer::Linked)
    }

    /// What a held mastership waits for and until when; `None`: nothing to wait for.
    fn waiting(&self, m: Mastership) -> Option<(WaitingFor, Instant)> {
        let timeout = m.entered + self.config.handover_timeout;
        match self.peer {
            Peer::Unsequenced | Peer::Stopped { .. } => None,
            Peer::Linked => {
                let for_what = if self.peer_request.is_some() {
                    WaitingFor::BothMaster
                } else {
                    WaitingFor::PeerRelease
                };
                // Unanswered and silent on VRRP: gone, once a live peer would have said so.
                let gone = (m.asked.filter(|_| !m.answered)).map(|asked| {
                    let silent_at = self
                        .last_vrrp
                        .map_or(asked, |t| t + self.config.master_down_interval);
                    silent_at.max(asked + ANSWER_WINDOW)
                });
                Some((for_what, gone.map_or(timeout, |g| g.min(timeout))))
            }
            Peer::Down => {
                let silent_at = self.last_vrrp? + self.config.master_down_interval;
                Some((WaitingFor::LinkDown, timeout.min(silent_at)))
            }
        }
    }

    /// After every input: answer the peer if we can, start or keep holding.
    fn step(&mut self, now: Instant) {
        let free = self.master.is_none() && !self.serving();
        if free && self.peer == Peer::Linked {
            if self.stopping && !self.stop_released {
                let generation = self.peer_request.map_or(0, |(g, _)| g);
                self.peer_request = None;
                self.stop_released = true;
                self.release(generation, true);
            } else if let Some((generation, _)) = self.peer_request.take() {
                self.release(generation, self.stopping);
            }
        }
        match self.peer_request {
            Some((generation, _)) if self.peer == Peer::Linked => {
                if self.told_holding != Some(generation) {
                    self.told_holding = Some(generation);
                    self.outputs.push_back(Output::SendHolding {
                        target: self.config.target.clone(),
                        generation,
                    });
                }
            }
            _ => self.told_holding = None,
        }
        let Some(m) = self.master.filter(|m| !m.started) else {
            return;
        };
        if self.stopping {
            return;
        }
        match self.waiting(m) {
            None => {
                let why = match self.peer {
                    Peer::Stopped { .. } => StartReason::PeerStopping,
                    Peer::Down => StartReason::PeerGone,
                    _ => StartReason::NoPeer,
                };
                self.start(now, m, why);
            }
            Some((_, until)) if now >= until => {
                let timeout = m.entered + self.config.handover_timeout;
                let why = match self.peer {
                    Peer::Down if until < timeout => StartReason::PeerGone,
                    Peer::Linked if until < timeout => StartReason::PeerSilent,
                    peer => StartReason::TimedOut {
                        link_up: peer == Peer::Linked,
                    },
                };
                self.start(now, m, why);
            }
            Some((for_what, until)) => {
                if m.said != Some(for_what) {
                    if let Some(held) = self.master.as_mut() {
                        held.said = Some(for_what);
                    }
                    self.outputs.push_back(Output::Waiting {
                        target: self.config.target.clone(),
                        for_what,
                        since: m.entered,
                        until,
                    });
                }
            }
        }
    }

    fn start(&mut self, now: Instant, m: Mastership, why: StartReason) {
        if let Some(held) = self.master.as_mut() {
            held.started = true;
        }
        self.outputs.push_back(Output::StartMasterHooks {
            target: self.config.target.clone(),
            generation: m.generation,
            waited: now.saturating_duration_since(m.entered),
            why,
        });
    }

    /// Asks for the current mastership's release, on the current link.
    fn ask(&mut self, now: Instant) {
        let Some(m) = self.master.as_mut() else {
            return;
        };
        m.asked = Some(now);
        m.answered = false;
        let generation = m.generation;
        self.outputs.push_back(Output::SendReleaseRequest {
            target: self.config.target.clone(),
            generation,
        });
    }

    fn release(&mut self, generation: u64, stopping: bool) {
        self.outputs.push_back(Output::SendReleased {
            target: self.config.target.clone(),
            generation,
            stopping,
        });
    }
}

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;
