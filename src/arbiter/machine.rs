//! [`Arbiter`]: one election, level-triggered. Every input updates what is known (the
//! lease, this node's key, the leader, what is in flight); then [`Arbiter::step`] works
//! out what to ask etcd next and whether serving is allowed, and queues the difference.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{ArbiterConfig, Command, EtcdDown, Input, Leader, Output, Reply, RequestId};

/// A request in flight.
#[derive(Debug, Clone, Copy)]
struct Pending {
    id: RequestId,
    sent: Instant,
}

/// What is known of this node's key in the election.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    /// Not in etcd (never put, resigned, or gone with its lease).
    Absent,
    /// Perhaps in etcd: a campaign was sent and its answer lost.
    Unknown,
    /// In etcd, created at `revision`.
    Held { key: String, revision: i64 },
}

/// The lease this node campaigns with.
#[derive(Debug, Clone, Copy)]
struct Lease {
    id: i64,
    ttl: Duration,
    /// Serving on this lease is safe until then (see [`super::deadline`]).
    deadline: Instant,
}

/// One election's state machine.
#[derive(Debug)]
pub struct Arbiter {
    cfg: ArbiterConfig,
    next_id: u64,
    out: VecDeque<Output>,
    started: bool,
    want: bool,
    stopping: bool,
    lease: Option<Lease>,
    key: Key,
    leader: Option<Leader>,
    /// The store revision of the newest leader report taken.
    leader_read: i64,
    watching: bool,
    grant: Option<Pending>,
    keepalive: Option<Pending>,
    /// Keep-alives past the request timeout, still good if answered within the TTL (an
    /// etcd election can hold a renewal up): another went to the next endpoint.
    late: Vec<Pending>,
    campaign: Option<Pending>,
    resign: Option<Pending>,
    revoke: Option<Pending>,
    /// The lease was revoked (or given up on) at shutdown: nothing more to do.
    done: bool,
    /// Not before then: the next keep-alive, and the retries after a failure.
    next_keepalive: Option<Instant>,
    retry_grant: Option<Instant>,
    retry_key: Option<Instant>,
    /// What the engine was last told.
    serving: bool,
    healthy: bool,
    reason: String,
    /// Serving goes on past the deadline (`etcd_down keep`).
    keeping: bool,
}

impl Arbiter {
    pub fn new(cfg: ArbiterConfig) -> Self {
        Arbiter {
            cfg,
            next_id: 0,
            out: VecDeque::new(),
            started: false,
            want: false,
            stopping: false,
            lease: None,
            key: Key::Absent,
            leader: None,
            leader_read: 0,
            watching: false,
            grant: None,
            keepalive: None,
            late: Vec::new(),
            campaign: None,
            resign: None,
            revoke: None,
            done: false,
            next_keepalive: None,
            retry_grant: None,
            retry_key: None,
            serving: false,
            healthy: false,
            reason: "no lease from etcd yet".into(),
            keeping: false,
        }
    }

    /// Takes one input at `now`; drain [`Arbiter::poll`] afterwards.
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.started = true;
        match input {
            Input::Want(want) => self.want = want,
            Input::Reply { id, reply } => self.on_reply(now, id, reply),
            Input::Failed { id, error } => self.on_failed(now, id, &error),
            Input::LeaderChanged { leader, read } => self.on_leader(leader, read),
            Input::Timer => self.on_timer(now),
            Input::Stop => {
                self.stopping = true;
                self.want = false;
            }
        }
        self.step(now);
    }

    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Input::Timer`] is due next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let timeout = |p: &Option<Pending>| p.map(|p| p.sent + self.cfg.request_timeout);
        let mut times = vec![
            timeout(&self.grant),
            timeout(&self.keepalive),
            timeout(&self.campaign),
            timeout(&self.resign),
            timeout(&self.revoke),
        ];
        if !self.done {
            if self.lease.is_some() && self.keepalive.is_none() && !self.stopping {
                times.push(self.next_keepalive);
            }
            if self.lease.is_none() && self.grant.is_none() && !self.stopping {
                times.push(self.retry_grant);
            }
            if self.campaign.is_none() && self.resign.is_none() {
                times.push(self.retry_key);
            }
            if self.healthy && !self.keeping {
                times.push(self.lease.map(|l| l.deadline));
            }
        }
        times.into_iter().flatten().min()
    }

    /// Serving is allowed (the engine was told [`Output::Serving`] true last).
    pub fn serving(&self) -> bool {
        self.serving
    }

    /// In touch with etcd as far as the engine goes (last [`Output::Healthy`]).
    pub fn healthy(&self) -> bool {
        self.healthy
    }

    /// The fencing token: the create revision of this node's key while it leads.
    pub fn token(&self) -> Option<i64> {
        match (&self.key, &self.leader) {
            (Key::Held { key, revision }, Some(l)) if &l.key == key => Some(*revision),
            _ => None,
        }
    }

    pub fn leader(&self) -> Option<&Leader> {
        self.leader.as_ref()
    }

    pub fn lease(&self) -> Option<i64> {
        self.lease.map(|l| l.id)
    }

    /// The TTL etcd granted.
    pub fn ttl(&self) -> Option<Duration> {
        self.lease.map(|l| l.ttl)
    }

    /// Until when serving on the current lease is safe.
    pub fn deadline(&self) -> Option<Instant> {
        self.lease.map(|l| l.deadline)
    }

    /// One line for `baton status`.
    pub fn phase_text(&self, now: Instant) -> String {
        if self.done {
            return "stopped".into();
        }
        if self.stopping {
            return "resigning (shutting down)".into();
        }
        if self.keeping {
            return "keeping the service without etcd (etcd_down keep)".into();
        }
        let Some(lease) = self.lease else {
            return if self.grant.is_some() {
                "asking etcd for a lease".into()
            } else {
                format!("no lease: {}", self.reason)
            };
        };
        if now >= lease.deadline {
            return "out of touch with etcd: lease past its safe bound".into();
        }
        if let Some(token) = self.token() {
            return format!("leader (token {token})");
        }
        match (&self.key, &self.leader) {
            (Key::Held { .. }, Some(l)) => format!("candidate: waiting for {}", l.name),
            (Key::Held { .. }, None) => "candidate".into(),
            _ if self.campaign.is_some() => "campaigning".into(),
            _ if self.resign.is_some() => "resigning".into(),
            (_, Some(l)) => format!("not campaigning; leader {}", l.name),
            _ => "not campaigning; no leader".into(),
        }
    }

    fn id(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    fn send(&mut self, cmd: Command) {
        self.out.push_back(Output::Command(cmd));
    }

    /// How long to wait before asking again after a failure.
    fn retry_delay(&self) -> Duration {
        (self.cfg.ttl / 10).clamp(Duration::from_millis(50), Duration::from_millis(500))
    }

    fn on_reply(&mut self, now: Instant, id: RequestId, reply: Reply) {
        let matches = |p: &Option<Pending>| p.filter(|p| p.id == id);
        match reply {
            Reply::Granted { lease, ttl } => {
                let Some(p) = matches(&self.grant) else {
                    return;
                };
                self.grant = None;
                if ttl.is_zero() {
                    self.retry_grant = Some(now + self.retry_delay());
                    return;
                }
                self.lease = Some(Lease {
                    id: lease,
                    ttl,
                    deadline: super::deadline(p.sent, ttl, self.cfg.drift, self.cfg.margin),
                });
                self.key = Key::Absent;
                self.next_keepalive = Some(p.sent + ttl / 3);
            }
            Reply::KeptAlive { ttl } => {
                let late = self.late.iter().position(|p| p.id == id);
                let p = match (matches(&self.keepalive), late) {
                    (Some(p), _) => {
                        self.keepalive = None;
                        p
                    }
                    (None, Some(at)) => self.late.remove(at),
                    (None, None) => return,
                };
                let Some(lease) = self.lease.as_mut() else {
                    return;
                };
                if ttl.is_zero() {
                    self.lease_gone(now);
                    return;
                }
                let deadline = super::deadline(p.sent, ttl, self.cfg.drift, self.cfg.margin);
                lease.ttl = ttl;
                lease.deadline = lease.deadline.max(deadline);
                self.next_keepalive = Some(p.sent + ttl / 3);
            }
            Reply::Campaigned {
                revision,
                leader,
                read,
            } => {
                if matches(&self.campaign).is_none() {
                    return;
                }
                self.campaign = None;
                match self.lease {
                    Some(lease) if revision > 0 => {
                        self.key = Key::Held {
                            key: self.own_key(lease.id),
                            revision,
                        };
                    }
                    // The lease went away meanwhile: the put failed with it.
                    _ => self.key = Key::Absent,
                }
                self.on_leader(leader, read);
            }
            Reply::Resigned => {
                if matches(&self.resign).is_none() {
                    return;
                }
                self.resign = None;
                self.key = Key::Absent;
            }
            Reply::Revoked => {
                if matches(&self.revoke).is_none() {
                    return;
                }
                self.revoke = None;
                self.lease = None;
                self.key = Key::Absent;
                self.done = true;
            }
        }
    }

    fn on_failed(&mut self, now: Instant, id: RequestId, error: &str) {
        let is = |p: &Option<Pending>| p.is_some_and(|p| p.id == id);
        let retry = now + self.retry_delay();
        let gone = error.contains("lease not found");
        if is(&self.grant) {
            self.grant = None;
            self.retry_grant = Some(retry);
        } else if let Some(at) = self.late.iter().position(|p| p.id == id) {
            self.late.remove(at);
            if gone {
                self.lease_gone(now);
            }
            return;
        } else if is(&self.keepalive) {
            self.keepalive = None;
            if gone {
                self.lease_gone(now);
            } else {
                self.next_keepalive = Some(retry);
            }
        } else if is(&self.campaign) {
            self.campaign = None;
            if gone {
                self.lease_gone(now);
            } else {
                // Whether the put happened is unknown.
                self.key = Key::Unknown;
                self.retry_key = Some(retry);
            }
        } else if is(&self.resign) {
            self.resign = None;
            self.retry_key = Some(retry);
        } else if is(&self.revoke) {
            // Shutting down: the lease expires on its own.
            self.revoke = None;
            self.done = true;
        } else {
            return;
        }
        if !gone {
            self.reason = format!("etcd: {error}");
        }
    }

    /// etcd no longer has the lease (it expired there): nor the key that was on it.
    fn lease_gone(&mut self, now: Instant) {
        if let Some(l) = self.lease.take() {
            self.reason = format!("lease {:x} expired on etcd", l.id);
        }
        self.key = Key::Absent;
        self.keeping = false;
        self.late.clear();
        self.keepalive = None;
        self.next_keepalive = None;
        self.retry_grant = Some(now);
    }

    fn on_leader(&mut self, leader: Option<Leader>, read: i64) {
        if read < self.leader_read {
            return;
        }
        self.leader_read = read;
        // A leader after this node's key, or none, while the key is thought held: the key
        // is gone (or the report predates it); asking again settles which.
        if let Key::Held { revision, .. } = self.key {
            let after = leader.as_ref().is_none_or(|l| l.revision > revision);
            if after {
                self.key = Key::Unknown;
            }
        }
        self.leader = leader;
    }

    fn on_timer(&mut self, now: Instant) {
        let expired =
            |p: &Option<Pending>| p.is_some_and(|p| now >= p.sent + self.cfg.request_timeout);
        let mut timed_out = false;
        if expired(&self.grant) {
            self.grant = None;
            self.retry_grant = Some(now);
            timed_out = true;
        }
        if expired(&self.keepalive) {
            self.late.extend(self.keepalive.take());
            self.next_keepalive = Some(now);
            timed_out = true;
        }
        let ttl = self.lease.map(|l| l.ttl).unwrap_or(self.cfg.ttl);
        self.late.retain(|p| now < p.sent + ttl);
        if expired(&self.campaign) {
            self.campaign = None;
            self.key = Key::Unknown;
            self.retry_key = Some(now);
            timed_out = true;
        }
        if expired(&self.resign) {
            self.resign = None;
            self.retry_key = Some(now);
            timed_out = true;
        }
        if expired(&self.revoke) {
            self.revoke = None;
            self.done = true;
            timed_out = true;
        }
        if timed_out {
            self.reason = "etcd did not answer in time".into();
            self.send(Command::NextEndpoint);
        }
    }

    fn own_key(&self, lease: i64) -> String {
        format!("{}{lease:x}", self.cfg.election)
    }

    /// Works out what to ask next and what serving is now, and queues what changed.
    fn step(&mut self, now: Instant) {
        if !self.started || self.done {
            return;
        }
        // A retry time that has come is spent.
        for t in [&mut self.retry_grant, &mut self.retry_key] {
            if t.is_some_and(|t| now >= t) {
                *t = None;
            }
        }
        let due = |t: Option<Instant>| t.is_none_or(|t| now >= t);
        if !self.watching && !self.stopping {
            self.watching = true;
            let election = self.cfg.election.clone();
            self.send(Command::Watch { election });
        }
        if self.lease.is_none() && self.grant.is_none() && !self.stopping && due(self.retry_grant) {
            let id = self.id();
            self.grant = Some(Pending { id, sent: now });
            let ttl = self.cfg.ttl;
            self.send(Command::Grant { id, ttl });
        }
        let fresh = self.lease.is_some_and(|l| now < l.deadline);
        // Serving: wanted, this node's key leads, and the lease is within its bound (or,
        // `etcd_down keep`, it was serving when the bound passed).
        let leads = self.token().is_some() && self.want && !self.stopping;
        let keep = self.cfg.etcd_down == EtcdDown::Keep;
        self.keeping = leads && !fresh && self.lease.is_some() && keep && self.serving;
        let serving = leads && (fresh || self.keeping);
        let healthy = fresh || self.keeping;
        if healthy != self.healthy {
            self.healthy = healthy;
            let reason = match self.lease {
                _ if self.keeping => {
                    "etcd out of reach: the service stays (etcd_down keep)".to_string()
                }
                Some(l) if fresh => format!("lease {:x}, ttl {} s", l.id, l.ttl.as_secs()),
                Some(_) => "no answer from etcd within the lease's safe bound".into(),
                None => self.reason.clone(),
            };
            self.reason = reason.clone();
            if !healthy {
                // Serving stops before the engine learns why.
                self.set_serving(false);
            }
            self.out.push_back(Output::Healthy { healthy, reason });
        }
        self.set_serving(serving);
        if let Some(lease) = self.lease {
            if self.keepalive.is_none() && !self.stopping && due(self.next_keepalive) {
                let id = self.id();
                self.keepalive = Some(Pending { id, sent: now });
                self.send(Command::KeepAlive {
                    id,
                    lease: lease.id,
                });
            }
            let key_idle = self.campaign.is_none() && self.resign.is_none();
            let may_exist = self.key != Key::Absent;
            if key_idle && due(self.retry_key) {
                let campaign = self.want && fresh && !matches!(self.key, Key::Held { .. });
                if campaign {
                    let id = self.id();
                    self.campaign = Some(Pending { id, sent: now });
                    let (election, key) = (self.cfg.election.clone(), self.own_key(lease.id));
                    let value = self.cfg.name.clone();
                    self.send(Command::Campaign {
                        id,
                        election,
                        key,
                        value,
                        lease: lease.id,
                    });
                } else if !self.want && may_exist {
                    let id = self.id();
                    self.resign = Some(Pending { id, sent: now });
                    // Gone or not, it no longer leads: only an answer to a campaign says
                    // it holds the key again.
                    self.key = Key::Unknown;
                    let key = self.own_key(lease.id);
                    self.send(Command::Resign { id, key });
                }
            }
        }
        if self.stopping && self.campaign.is_none() && self.resign.is_none() {
            self.finish(now);
        }
    }

    fn set_serving(&mut self, serving: bool) {
        if serving != self.serving {
            self.serving = serving;
            self.out.push_back(Output::Serving(serving));
        }
    }

    /// Shutting down once the key is settled: revoke the lease, end the watch.
    fn finish(&mut self, now: Instant) {
        if self.key != Key::Absent && self.lease.is_some() {
            return;
        }
        if self.watching {
            self.watching = false;
            self.send(Command::Unwatch);
        }
        if self.revoke.is_some() {
            return;
        }
        match self.lease {
            Some(lease) => {
                let id = self.id();
                self.revoke = Some(Pending { id, sent: now });
                self.send(Command::Revoke {
                    id,
                    lease: lease.id,
                });
            }
            None => self.done = true,
        }
    }
}
