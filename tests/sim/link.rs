//! The baton-to-baton link in the simulation: between each pair of nodes a pair of
//! `baton::link::session::Session`s (the lower-numbered node dials, the other accepts),
//! joined by a simulated TCP stream after TLS. The stream has its own delay, stalls
//! (TCP loss shows as delay: bytes are never lost or reordered within a connection),
//! partitions that either reset the connection (both sides read end of stream) or
//! black-hole it (bytes wait for the heal; the sessions may die of silence first), and
//! follows the VRRP nodes' crashes, graceful stops and restarts (a restart keeps the
//! node's identity). The dialer reconnects with the driver's backoff: 0.5 s doubling to
//! 30 s, ±20 %, reset once linked.
//!
//! The link has its own RNG and its own queue, reads the proto nodes' states (through
//! [`LinkSim::set_status`]) and gives nothing back to them. Checked here, on every step:
//!
//! - a PeerStatus or PeerConfig event only comes from a session that is up (Up reported,
//!   no Pending or Closed since), and never on a pair with the untrusted node; no Status
//!   or ConfigSummary frame ever reaches the untrusted node, and it never links;
//! - once a pair is whole again (partition healed, stall over, both nodes running),
//!   both sides are up within backoff max + 5 s;
//! - while both sides are up, each side's latest received status equals the other's
//!   latest one once a heartbeat interval and the largest link delay have passed since
//!   that status was set, the pair came up, or the stream last stalled or healed.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use baton::link::codec::{Decoder, FrameType, LIMIT_TRUSTED};
use baton::link::message::{ConfigSummary, Hello, Status, VERSIONS};
use baton::link::session::{Phase, Session, SessionConfig};

use super::Rng;

#[path = "link_checks.rs"]
mod checks;
pub use checks::{HandIn, HandOut, LinkCoverage, status_of};

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Largest one-way delay a link has outside stalls and partitions.
const DELAY_CAP: Duration = Duration::from_millis(300);
/// How soon a whole pair must be linked again: the longest reconnect wait (the maximum
/// and its jitter) plus 5 s.
const RELINK_BOUND: Duration = Duration::from_secs(36 + 5);

fn fingerprint(n: usize) -> String {
    format!("5A:1A:{n:02X}:{:02X}", n * 37 % 256)
}

fn hello(n: usize) -> Hello {
    Hello {
        versions: VERSIONS,
        node_id: format!("node{n}"),
        fingerprint: fingerprint(n),
        baton_version: "sim".into(),
        capabilities: vec![],
    }
}

enum Payload {
    Bytes(Vec<u8>),
    Eof,
}

/// One direction of the stream: what is in flight, oldest first, tagged with the
/// connection it belongs to.
#[derive(Default)]
struct Dir {
    q: VecDeque<(Instant, u64, Payload)>,
    /// Delivery time of the newest entry: nothing may overtake it.
    last: Option<Instant>,
    /// Frames reaching the untrusted node, decoded to check none is a Status.
    watch: Option<(u64, Decoder)>,
}

#[derive(Default)]
struct Side {
    sess: Option<(u64, Session)>,
    /// Up reported and no Pending or Closed since, as the events told it.
    up: bool,
    up_since: Option<Instant>,
    got: Option<Status>,
    /// `got` was found equal to the peer's latest status, and neither changed since.
    verified: bool,
}

struct Pair {
    /// Node numbers; `nodes[0]` dials.
    nodes: [usize; 2],
    /// Neither side is the untrusted node.
    trusted: bool,
    sides: [Side; 2],
    /// `dirs[0]` carries bytes from `nodes[0]` to `nodes[1]`.
    dirs: [Dir; 2],
    conn: u64,
    partitioned: bool,
    stall_until: Option<Instant>,
    delay_max: Duration,
    backoff: Duration,
    dial_at: Option<Instant>,
    /// Bumped by every disruption; a relink check is valid only in its epoch.
    epoch: u64,
    /// The last time the stream's timing changed (stall or partition over).
    disturbed: Instant,
}

enum LinkEv {
    Partition { pair: usize, reset: bool },
    Heal { pair: usize },
    Stall { pair: usize, len: Duration },
    Delay { pair: usize, max: Duration },
    Relink { pair: usize, epoch: u64 },
}

pub struct LinkSim {
    rng: Rng,
    pairs: Vec<Pair>,
    alive: Vec<bool>,
    /// Each node's latest status and when it was set.
    status: Vec<Option<(Status, Instant)>>,
    untrusted: Option<usize>,
    queue: BTreeMap<(Instant, u64), LinkEv>,
    seq: u64,
    next: Option<Instant>,
    verbose: bool,
    t0: Instant,
    pub cov: LinkCoverage,
    /// What the sessions told the handover driver, when it runs (`None`: it does not).
    pub hand_inbox: Option<VecDeque<(Instant, usize, HandIn)>>,
    /// No link chaos at all (some handover runs, to check the strict rule).
    pub calm: bool,
}

impl LinkSim {
    pub fn new(seed: u64, n: usize, t0: Instant, verbose: bool) -> LinkSim {
        let mut rng = Rng(seed ^ 0x11ac_0000_0000_0001);
        let untrusted = (n >= 3 && rng.chance(0.3)).then_some(n - 1);
        let mut pairs = Vec::new();
        for a in 0..n {
            for b in a + 1..n {
                pairs.push(Pair {
                    nodes: [a, b],
                    trusted: untrusted != Some(a) && untrusted != Some(b),
                    sides: Default::default(),
                    dirs: Default::default(),
                    conn: 0,
                    partitioned: false,
                    stall_until: None,
                    delay_max: rng.dur(DELAY_CAP / 10),
                    backoff: BACKOFF_MIN,
                    dial_at: None,
                    epoch: 0,
                    disturbed: t0,
                });
            }
        }
        LinkSim {
            rng,
            pairs,
            alive: vec![false; n],
            status: vec![None; n],
            untrusted,
            queue: BTreeMap::new(),
            seq: 0,
            next: None,
            verbose,
            t0,
            cov: LinkCoverage {
                linked_schedules: 1,
                untrusted_schedules: u64::from(untrusted.is_some()),
                ..LinkCoverage::default()
            },
            hand_inbox: None,
            calm: false,
        }
    }

    fn push(&mut self, at: Instant, ev: LinkEv) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn log(&self, now: Instant, what: std::fmt::Arguments) {
        if self.verbose {
            println!("{:10.6} link {what}", (now - self.t0).as_secs_f64());
        }
    }

    /// Link chaos for a phase of VRRP chaos starting now, drawn from the link's own RNG.
    pub fn plan(&mut self, now: Instant, span: Duration) {
        if self.calm {
            return;
        }
        let count = self.rng.index(6);
        for _ in 0..count {
            let at = now + self.rng.dur(span);
            let pair = self.rng.index(self.pairs.len());
            match self.rng.below(4) {
                0 | 1 => {
                    let reset = self.rng.chance(0.5);
                    // Some long enough for the dialer's backoff to reach its maximum.
                    let len = if self.rng.chance(0.25) {
                        self.rng.dur(BACKOFF_MAX + BACKOFF_MAX / 3)
                    } else {
                        self.rng.dur(span)
                    };
                    let heal = at + Duration::from_millis(200) + len;
                    self.push(at, LinkEv::Partition { pair, reset });
                    self.push(heal, LinkEv::Heal { pair });
                }
                2 => {
                    let len = self.rng.dur(Duration::from_secs(6));
                    self.push(at, LinkEv::Stall { pair, len });
                }
                _ => {
                    let max = self.rng.dur(DELAY_CAP);
                    self.push(at, LinkEv::Delay { pair, max });
                }
            }
        }
        self.next = self.compute_next();
    }

    /// The node's status as the driver would publish it; sent on change.
    pub fn set_status(&mut self, now: Instant, n: usize, status: Status) -> Result<(), String> {
        if self.status[n].as_ref().is_some_and(|(s, _)| *s == status) {
            return Ok(());
        }
        self.status[n] = Some((status.clone(), now));
        for p in 0..self.pairs.len() {
            if let Some(s) = self.side_of(p, n) {
                self.pairs[p].sides[1 - s].verified = false;
                if let Some((_, sess)) = self.pairs[p].sides[s].sess.as_mut() {
                    sess.set_local_status(status.clone());
                }
                self.drain(now, p, s);
                self.check_events(now, p, s)?;
            }
        }
        self.next = self.compute_next();
        Ok(())
    }

    fn side_of(&self, p: usize, n: usize) -> Option<usize> {
        self.pairs[p].nodes.iter().position(|m| *m == n)
    }

    /// The node started (or restarted, same identity): it dials the peers it is the
    /// lower of at once, and each of its pairs should be linked soon.
    pub fn node_up(&mut self, now: Instant, n: usize) {
        self.alive[n] = true;
        for p in 0..self.pairs.len() {
            let Some(s) = self.side_of(p, n) else {
                continue;
            };
            let pair = &mut self.pairs[p];
            if s == 0 {
                pair.backoff = BACKOFF_MIN;
                pair.dial_at = Some(now);
            }
            self.disrupted(now, p);
        }
        self.next = self.compute_next();
    }

    /// The node crashed (its sessions vanish, the peers hear nothing more) or stops
    /// (its sessions say why and close the stream).
    pub fn node_down(&mut self, now: Instant, n: usize, graceful: bool) -> Result<(), String> {
        self.alive[n] = false;
        for p in 0..self.pairs.len() {
            let Some(s) = self.side_of(p, n) else {
                continue;
            };
            if s == 0 {
                self.pairs[p].dial_at = None;
            }
            if graceful {
                if let Some((_, sess)) = self.pairs[p].sides[s].sess.as_mut() {
                    sess.shutdown();
                }
                self.drain(now, p, s);
                self.check_events(now, p, s)?;
            }
            let side = &mut self.pairs[p].sides[s];
            side.sess = None;
            side.up = false;
            self.disrupted(now, p);
        }
        self.next = self.compute_next();
        Ok(())
    }

    /// Something broke or mended the pair: earlier relink checks no longer apply, and if
    /// the pair is whole now a new one starts.
    fn disrupted(&mut self, now: Instant, p: usize) {
        let pair = &mut self.pairs[p];
        pair.epoch += 1;
        let whole = pair.trusted && !pair.partitioned && pair.nodes.iter().all(|n| self.alive[*n]);
        if whole {
            let (epoch, at) = (pair.epoch, pair.stall_until.map_or(now, |t| t.max(now)));
            self.push(at + RELINK_BOUND, LinkEv::Relink { pair: p, epoch });
        }
    }

    /// When the link next has something to do (asked before every VRRP step, so kept
    /// up to date by every call that changes the link rather than computed each time).
    pub fn next_time(&self) -> Option<Instant> {
        self.next
    }

    fn compute_next(&self) -> Option<Instant> {
        let mut next = self.queue.keys().next().map(|(t, _)| *t);
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for pair in &self.pairs {
            consider(pair.dial_at);
            for side in &pair.sides {
                consider(side.sess.as_ref().and_then(|(_, s)| s.next_deadline()));
            }
            for dir in &pair.dirs {
                if !pair.partitioned
                    && let Some((t, _, _)) = dir.q.front()
                {
                    consider(Some(pair.stall_until.map_or(*t, |s| s.max(*t))));
                }
            }
        }
        next
    }

    /// Whether anything but the sessions' own timers is still to come: chaos, a heal, or
    /// a relink check of a pair not yet up again (one that is up has passed it).
    pub fn pending(&self) -> bool {
        self.queue.values().any(|ev| match ev {
            LinkEv::Relink { pair, epoch } => {
                let pair = &self.pairs[*pair];
                *epoch == pair.epoch && !pair.sides.iter().all(|s| s.up)
            }
            _ => true,
        })
    }

    /// Does everything due at `now`.
    pub fn step(&mut self, now: Instant) -> Result<(), String> {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ev = entry.remove();
            self.event(now, ev)?;
        }
        for p in 0..self.pairs.len() {
            if self.pairs[p].dial_at.is_some_and(|t| t <= now) {
                self.dial(now, p);
            }
        }
        loop {
            let mut moved = false;
            for p in 0..self.pairs.len() {
                moved |= self.deliver(now, p)?;
                for s in 0..2 {
                    let due = self.pairs[p].sides[s]
                        .sess
                        .as_ref()
                        .and_then(|(_, sess)| sess.next_deadline())
                        .is_some_and(|t| t <= now);
                    if due {
                        if let Some((_, sess)) = self.pairs[p].sides[s].sess.as_mut() {
                            sess.handle_timeout(now);
                        }
                        self.drain(now, p, s);
                        self.check_events(now, p, s)?;
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        let checked = self.check_statuses(now);
        self.next = self.compute_next();
        checked
    }

    fn event(&mut self, now: Instant, ev: LinkEv) -> Result<(), String> {
        match ev {
            LinkEv::Partition { pair: p, reset } => {
                self.log(now, format_args!("pair {p} partitioned (reset {reset})"));
                self.cov.partitions += 1;
                self.pairs[p].partitioned = true;
                if reset {
                    let conn = self.pairs[p].conn;
                    for dir in &mut self.pairs[p].dirs {
                        dir.q.retain(|(_, c, _)| *c != conn);
                    }
                    for s in 0..2 {
                        if let Some((_, sess)) = self.pairs[p].sides[s].sess.as_mut() {
                            sess.handle_eof();
                        }
                        self.drain(now, p, s);
                        self.check_events(now, p, s)?;
                    }
                }
                self.disrupted(now, p);
            }
            LinkEv::Heal { pair: p } => {
                self.log(now, format_args!("pair {p} healed"));
                let pair = &mut self.pairs[p];
                pair.partitioned = false;
                // A stall still running keeps the later time.
                pair.disturbed = pair.disturbed.max(now);
                self.disrupted(now, p);
            }
            LinkEv::Stall { pair: p, len } => {
                self.log(now, format_args!("pair {p} stalls for {len:?}"));
                self.cov.stalls += 1;
                let until = now + len;
                let pair = &mut self.pairs[p];
                pair.stall_until = Some(pair.stall_until.map_or(until, |t| t.max(until)));
                pair.disturbed = pair.disturbed.max(until);
                self.disrupted(now, p);
            }
            LinkEv::Delay { pair, max } => self.pairs[pair].delay_max = max,
            LinkEv::Relink { pair: p, epoch } => {
                let pair = &self.pairs[p];
                if epoch == pair.epoch {
                    self.cov.relink_checks += 1;
                    let up = |s: &Side| {
                        s.up && s.sess.as_ref().is_some_and(|(_, x)| x.phase() == Phase::Up)
                    };
                    if !up(&pair.sides[0]) || !up(&pair.sides[1]) {
                        return Err(format!(
                            "link {:?}: not up on both sides {RELINK_BOUND:?} after it was whole again (up: {}, {})",
                            pair.nodes, pair.sides[0].up, pair.sides[1].up
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The dialer connects; in a partition or to a node that is down the attempt fails
    /// and the next waits twice as long.
    fn dial(&mut self, now: Instant, p: usize) {
        let [a, b] = self.pairs[p].nodes;
        if !self.alive[a] || !self.alive[b] || self.pairs[p].partitioned {
            self.cov.failed_dials += 1;
            self.retry(now, p);
            return;
        }
        self.cov.connections += 1;
        let pair = &mut self.pairs[p];
        pair.dial_at = None;
        pair.conn += 1;
        let conn = pair.conn;
        self.log(now, format_args!("pair {p} connection {conn}"));
        for (s, (me, peer)) in [(a, b), (b, a)].into_iter().enumerate() {
            let mut sess = Session::new(now, SessionConfig::new(hello(me), fingerprint(peer)));
            // The driver decides trust from the fingerprint TLS saw, before any Hello.
            sess.set_trusted(self.untrusted != Some(peer));
            if let Some((status, _)) = &self.status[me] {
                sess.set_local_status(status.clone());
            }
            sess.set_local_config(ConfigSummary {
                digest: format!("node{me}"),
                instances: vec![],
            });
            // A new connection from the same peer replaces whatever this side still had.
            let side = &mut self.pairs[p].sides[s];
            *side = Side {
                sess: Some((conn, sess)),
                ..Side::default()
            };
            if self.untrusted == Some(me) {
                self.pairs[p].dirs[1 - s].watch = Some((conn, Decoder::new(LIMIT_TRUSTED)));
            }
        }
        for s in 0..2 {
            self.drain(now, p, s);
        }
    }

    fn retry(&mut self, now: Instant, p: usize) {
        let jitter = 0.8 + 0.4 * self.rng.unit();
        let pair = &mut self.pairs[p];
        pair.dial_at = Some(now + pair.backoff.mul_f64(jitter));
        pair.backoff = (pair.backoff * 2).min(BACKOFF_MAX);
    }

    /// Moves what side `s` wrote onto the stream.
    fn drain(&mut self, now: Instant, p: usize, s: usize) {
        let delay = self.rng.dur(self.pairs[p].delay_max);
        let pair = &mut self.pairs[p];
        let Some((conn, sess)) = pair.sides[s].sess.as_mut() else {
            return;
        };
        let dir = &mut pair.dirs[s];
        while let Some(bytes) = sess.poll_transmit() {
            let at = dir.last.map_or(now + delay, |l| l.max(now + delay));
            dir.last = Some(at);
            dir.q.push_back((at, *conn, Payload::Bytes(bytes)));
        }
    }

    /// Delivers what is due on both directions of pair `p`.
    fn deliver(&mut self, now: Instant, p: usize) -> Result<bool, String> {
        let mut moved = false;
        for d in 0..2 {
            let to = 1 - d;
            loop {
                let pair = &mut self.pairs[p];
                let frozen = pair.partitioned || pair.stall_until.is_some_and(|t| t > now);
                let due = pair.dirs[d].q.front().is_some_and(|(t, _, _)| *t <= now);
                if frozen || !due {
                    break;
                }
                let Some((_, conn, payload)) = pair.dirs[d].q.pop_front() else {
                    break;
                };
                moved = true;
                if let (Payload::Bytes(bytes), Some((wc, dec))) =
                    (&payload, &mut pair.dirs[d].watch)
                    && *wc == conn
                {
                    dec.push(bytes);
                    while let Ok(Some(f)) = dec.next_frame() {
                        if matches!(f.kind, FrameType::Status | FrameType::ConfigSummary) {
                            return Err(format!(
                                "link {:?}: {} reached the untrusted node",
                                pair.nodes, f.kind
                            ));
                        }
                    }
                }
                // Bytes of an older connection, or for a node that is gone, are lost.
                let Some((sc, sess)) = pair.sides[to].sess.as_mut() else {
                    continue;
                };
                if *sc != conn {
                    continue;
                }
                match payload {
                    Payload::Bytes(bytes) => sess.handle_bytes(now, &bytes),
                    Payload::Eof => sess.handle_eof(),
                }
                self.drain(now, p, to);
                self.check_events(now, p, to)?;
            }
        }
        Ok(moved)
    }
}

/// Runs the link alone after the VRRP schedule ended, until every heal and check planned
/// has happened.
pub fn finish(link: &mut LinkSim) -> Result<(), String> {
    while link.pending() {
        let Some(t) = link.next_time() else {
            break;
        };
        link.step(t)?;
    }
    // The checks left are of pairs that are up again: passed.
    let passed = link.queue.values().filter(
        |ev| matches!(ev, LinkEv::Relink { pair, epoch } if *epoch == link.pairs[*pair].epoch),
    );
    link.cov.relink_checks += passed.count() as u64;
    Ok(())
}
