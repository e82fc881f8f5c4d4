//! Deterministic simulation of the protocol core on a virtual LAN.
//!
//! Each schedule builds 2–5 nodes (each a `baton::proto::Node` with 1–3 VRRP instances,
//! sometimes a sync group), connects them through a simulated multicast LAN that delivers
//! `Advert` values (never bytes) with loss, delay, duplication, reordering and partitions,
//! and throws a seeded random sequence of crashes, graceful stops, restarts, tracked-object
//! changes and operator commands at them. Time is virtual: one real `Instant` is taken as
//! the origin and everything else is an offset from it.
//!
//! After every step the invariants below are checked; a failing schedule prints its seed
//! and the command that replays it with a trace:
//!
//! - a node holds an instance's addresses exactly while that instance is MASTER (so FAULT,
//!   BACKUP and STOP never hold them; a graceful stop leaves nothing behind);
//! - every Transition starts from the state the driver last saw;
//! - once the network has been whole and quiet long enough to settle (two master-down
//!   intervals plus delays plus the longest preempt delay), there is exactly one master per
//!   VRID among live, non-faulted nodes, nothing transitions (no flapping), sync-group
//!   members agree, and if the best node (highest effective priority, ties to the highest
//!   primary address) may preempt, it is the master;
//! - when the master crashes or stops on a quiet network, another node is master within
//!   Master_Down_Interval after the last advert it sent arrived.
//!
//! Every fourth schedule runs twice: without the baton-to-baton link, then with it
//! (`sim/link.rs`: a session pair between each two nodes over a stream with its own
//! delay, stalls, partitions and resets). The link reads the nodes' states and gives them
//! nothing, so the second run's VRRP trace (every action of every node, with its time)
//! must equal the first's; the link's own invariants are listed in `sim/link.rs`.
//!
//! With exactly two nodes the linked run also drives the handover (`sim/handover.rs`):
//! one `Handover` per target and node, fed as the engine feeds it, with a hook runner
//! (MASTER hooks 300 ms, leaving hooks 1 s); a third of these runs have a link that is
//! never disturbed. It gives VRRP nothing either (the trace must still be equal), and:
//! - two service intervals (start of MASTER hooks to end of leaving hooks; a crash ends
//!   one at once) of a target on the two nodes overlap only if the later one started
//!   without the link's word (`PeerGone`, `PeerSilent`), and never in a run whose link was
//!   never partitioned, stalled or reset and whose nodes never crashed or restarted (a
//!   restarted node has no link yet, and a peer that just went BACKUP is silent on VRRP
//!   while its leaving hooks still run);
//! - every mastership starts its MASTER hooks within `handover_timeout` of entering
//!   MASTER, or leaves MASTER before that (no deadlock).
//!
//! `BATON_SIM_CASES=N` runs N schedules (default 2000); `BATON_SIM_LINK_EVERY=K` runs
//! every K-th with the link (default 4); `BATON_SIM_SEED=S` runs one schedule, with the
//! link, and a trace; `BATON_SIM_STATS=1` prints what the schedules exercised.

#[path = "sim/chaos.rs"]
mod chaos;
#[path = "sim/checks.rs"]
mod checks;
#[path = "sim/handover.rs"]
mod handover;
#[path = "sim/link.rs"]
mod link;
#[path = "sim/scenario.rs"]
mod scenario;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use baton::proto::{Action, Input, InstanceConfig, InstanceId, Node, State, TrackStatus};
use baton::wire::Advert;

use chaos::Chaos;
use scenario::{Rng, Scenario, scenario};

#[derive(Debug)]
enum Ev {
    Deliver {
        to: usize,
        inst: usize,
        from: IpAddr,
        advert: Advert,
    },
    Chaos(Chaos),
    TakeoverCheck {
        inst: usize,
        epoch: u64,
        crashed: usize,
        bound: &'static str,
    },
    PhaseEnd,
}

struct Queued {
    at: Instant,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    // Reversed: BinaryHeap is a max-heap and we want the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    None,
    Promoted,
    Demoted,
}

struct SimNode {
    node: Option<Node>,
    /// This node's configuration (changed by reloads, used by restarts).
    cfgs: Vec<InstanceConfig>,
    held: Vec<bool>,
    state: Vec<State>,
    op: Vec<Op>,
    tracks: HashMap<&'static str, TrackStatus>,
    started: Instant,
    /// When the last packet this node sent arrives (or is dropped) at the latest.
    last_delivery: Instant,
}

struct Net {
    loss: f64,
    dup: f64,
    delay_max: Duration,
    side: Vec<u8>,
}

struct Sim<'a> {
    rng: Rng,
    sc: &'a Scenario,
    t0: Instant,
    now: Instant,
    seq: u64,
    queue: BinaryHeap<Queued>,
    nodes: Vec<SimNode>,
    net: Net,
    /// Largest delay on a quiet network.
    quiet_delay: Duration,
    last_change: Instant,
    epoch: u64,
    settle: Duration,
    verbose: bool,
    steps: u64,
    cov: Coverage,
    /// The link between the nodes, when this run has one.
    link: Option<link::LinkSim>,
    /// The handover driver, when this run has the link and two nodes.
    hand: Option<handover::HandSim>,
    /// Nodes that did something since their status was last given to the link.
    dirty: Vec<bool>,
    /// A hash of every action every node asked for, with its time: the VRRP trace.
    trace: u64,
    trace_buf: String,
}

/// What the schedules exercised, so a quiet run can be told from a toothless one
/// (`BATON_SIM_STATS=1` prints it).
#[derive(Debug, Default, Clone, Copy)]
struct Coverage {
    transitions: u64,
    to_master: u64,
    to_fault: u64,
    takeover_checks: u64,
    settled_checks: u64,
    best_node_checks: u64,
    group_schedules: u64,
    deliveries: u64,
}

impl Coverage {
    fn add(&mut self, o: Coverage) {
        self.transitions += o.transitions;
        self.to_master += o.to_master;
        self.to_fault += o.to_fault;
        self.takeover_checks += o.takeover_checks;
        self.settled_checks += o.settled_checks;
        self.best_node_checks += o.best_node_checks;
        self.group_schedules += o.group_schedules;
        self.deliveries += o.deliveries;
    }
}

/// Delays a chaotic network may add (one and a half intervals: heavy reordering).
fn chaos_delay_cap(sc: &Scenario) -> Duration {
    sc.interval_max.mul_f64(1.5)
}

fn skew(priority: u8, interval: Duration) -> Duration {
    Duration::from_nanos(
        u64::try_from(interval.as_nanos() * (256 - u128::from(priority)) / 256).unwrap_or(u64::MAX),
    )
}

impl<'a> Sim<'a> {
    fn new(seed: u64, sc: &'a Scenario, rng: Rng, verbose: bool, with_link: bool) -> Sim<'a> {
        let t0 = Instant::now();
        let n = sc.cfgs.len();
        let k = sc.cfgs[0].len();
        let quiet_delay = sc.interval_max / 20;
        let mdi_max = sc.interval_max * 4;
        let settle = mdi_max * 2
            + chaos_delay_cap(sc) * 2
            + sc.preempt_delay_max
            + quiet_delay * 4
            + sc.interval_max;
        Sim {
            rng,
            sc,
            t0,
            now: t0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes: (0..n)
                .map(|m| SimNode {
                    node: None,
                    cfgs: sc.cfgs[m].clone(),
                    held: vec![false; k],
                    state: vec![State::Stop; k],
                    op: vec![Op::None; k],
                    tracks: HashMap::new(),
                    started: t0,
                    last_delivery: t0,
                })
                .collect(),
            net: Net {
                loss: 0.0,
                dup: 0.0,
                delay_max: quiet_delay,
                side: vec![0; n],
            },
            quiet_delay,
            last_change: t0,
            epoch: 0,
            settle,
            verbose,
            steps: 0,
            cov: Coverage {
                group_schedules: u64::from(!sc.groups.is_empty()),
                ..Coverage::default()
            },
            link: with_link.then(|| {
                let mut link = link::LinkSim::new(seed, n, t0, verbose);
                link.hand_inbox = (n == 2).then(Default::default);
                // A third of the handover runs have a link that is never disturbed.
                link.calm = n == 2 && (seed >> 7) % 3 == 0;
                link
            }),
            hand: (with_link && n == 2).then(|| handover::HandSim::new(n, t0, verbose)),
            dirty: vec![false; n],
            trace: 0xcbf2_9ce4_8422_2325,
            trace_buf: String::new(),
        }
    }

    /// Folds one action into the trace (FNV-1a over its time, node and debug form).
    fn trace_action(&mut self, n: usize, action: &Action) {
        self.trace_buf.clear();
        let at = (self.now - self.t0).as_nanos();
        let _ = write!(self.trace_buf, "{at} {n} {action:?}");
        for b in self.trace_buf.bytes() {
            self.trace = (self.trace ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Gives the link the status of every node that did something.
    fn feed_link(&mut self) -> Result<(), String> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        for n in 0..self.nodes.len() {
            if !std::mem::take(&mut self.dirty[n]) {
                continue;
            }
            if let Some(node) = &self.nodes[n].node {
                link.set_status(self.now, n, link::status_of(node, &self.nodes[n].cfgs))?;
            }
        }
        Ok(())
    }

    fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.push(Queued {
            at,
            seq: self.seq,
            ev,
        });
    }

    fn t(&self) -> f64 {
        (self.now - self.t0).as_secs_f64()
    }

    fn network_good(&self) -> bool {
        self.net.loss == 0.0
            && self.net.side.iter().all(|s| *s == 0)
            && self.net.delay_max <= self.quiet_delay
    }

    fn stable(&self) -> bool {
        self.network_good() && self.now >= self.last_change + self.settle
    }

    fn send(&mut self, from_node: usize, inst: usize, advert: Advert) {
        let from = self.sc.cfgs[from_node][inst].primary_address;
        for to in 0..self.nodes.len() {
            if to == from_node
                || self.net.side[to] != self.net.side[from_node]
                || self.rng.chance(self.net.loss)
            {
                continue;
            }
            let copies = if self.rng.chance(self.net.dup) { 2 } else { 1 };
            for _ in 0..copies {
                let at = self.now + self.rng.dur(self.net.delay_max);
                let sn = &mut self.nodes[from_node];
                sn.last_delivery = sn.last_delivery.max(at);
                self.push(
                    at,
                    Ev::Deliver {
                        to,
                        inst,
                        from,
                        advert: advert.clone(),
                    },
                );
            }
        }
    }

    fn run(&mut self, phases: usize) -> Result<(), String> {
        let n = self.nodes.len();
        let i = self.sc.interval_max;
        let mut last_start = self.now;
        for node in 0..n {
            let at = self.now + self.rng.dur(i);
            last_start = last_start.max(at);
            self.push(at, Ev::Chaos(Chaos::Start(node)));
        }
        self.push(last_start + self.settle + i * 2, Ev::PhaseEnd);
        let mut phases_left = phases;
        if let Some(link) = self.link.as_mut() {
            link.plan(self.now, self.settle + i * 2);
        }
        loop {
            let timer = (0..n)
                .filter_map(|m| Some((self.nodes[m].node.as_ref()?.next_deadline()?, m)))
                .min();
            let event_at = self.queue.peek().map(|q| q.at);
            // The link runs between VRRP's steps, on its own time, and touches none of
            // VRRP's state: not `now`, not the step count, not the checks.
            let vrrp_at = [timer.map(|(t, _)| t), event_at]
                .into_iter()
                .flatten()
                .min();
            // So does the handover driver, which reads VRRP and gives it nothing.
            if let (Some(link), Some(vrrp_at)) = (self.link.as_mut(), vrrp_at) {
                let hand_at = self.hand.as_ref().and_then(handover::HandSim::next_time);
                let side_at = [link.next_time(), hand_at].into_iter().flatten().min();
                if let Some(t) = side_at.filter(|t| *t < vrrp_at) {
                    handover::side_step(link, self.hand.as_mut(), t)?;
                    continue;
                }
            }
            self.steps += 1;
            if self.steps > 300_000 {
                return Err("schedule did not finish (event storm?)".into());
            }
            let take_timer = match (timer, event_at) {
                (Some((at, _)), Some(e)) => at <= e,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            match timer {
                Some((at, m)) if take_timer => {
                    if at < self.now {
                        return Err(format!("node {m}: deadline in the past"));
                    }
                    self.now = at;
                    if let Some(node) = self.nodes[m].node.as_mut() {
                        node.timer(at);
                        if node.next_deadline().is_some_and(|d| d <= at) {
                            return Err(format!(
                                "node {m}: deadline did not advance after timer()"
                            ));
                        }
                    }
                    self.drain(m)?;
                }
                _ => {
                    let Some(q) = self.queue.pop() else { break };
                    self.now = q.at;
                    if self.verbose && !matches!(q.ev, Ev::Deliver { .. }) {
                        println!("{:10.6} event {:?}", self.t(), q.ev);
                    }
                    match q.ev {
                        Ev::Deliver {
                            to,
                            inst,
                            from,
                            advert,
                        } => {
                            if let Some(node) = self.nodes[to].node.as_mut() {
                                self.cov.deliveries += 1;
                                node.handle(
                                    self.now,
                                    InstanceId(inst),
                                    Input::Advert { from, advert },
                                );
                                if let (Some(h), Some(l)) = (self.hand.as_mut(), self.link.as_mut())
                                {
                                    h.heard(self.now, to, inst, l)?;
                                }
                                self.drain(to)?;
                            }
                        }
                        Ev::Chaos(c) => self.chaos(c)?,
                        Ev::TakeoverCheck {
                            inst,
                            epoch,
                            crashed,
                            bound,
                        } => {
                            self.cov.takeover_checks += u64::from(epoch == self.epoch);
                            if epoch == self.epoch && self.master_of(inst).is_empty() {
                                return Err(format!(
                                    "vrid index {inst}: no takeover within {bound} after node {crashed} left"
                                ));
                            }
                        }
                        Ev::PhaseEnd => {
                            self.check_stable()?;
                            if phases_left == 0 {
                                break;
                            }
                            phases_left -= 1;
                            self.plan_phase();
                            if let Some(link) = self.link.as_mut() {
                                link.plan(self.now, self.settle + i * 4);
                            }
                        }
                    }
                }
            }
            self.check_stable()?;
            self.feed_link()?;
            if let (Some(h), Some(l)) = (self.hand.as_mut(), self.link.as_mut()) {
                h.sync(l)?;
            }
        }
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        if let Some(hand) = self.hand.as_mut() {
            handover::finish_hooks(link, hand)?;
        }
        link::finish(link)?;
        if let Some(hand) = self.hand.as_mut() {
            let clean = link.cov.partitions == 0 && link.cov.stalls == 0 && !hand.disturbed();
            hand.finish(clean)?;
        }
        Ok(())
    }
}

/// What one run of a schedule gives: its coverage, the hash of its VRRP trace, and the
/// link's coverage when it had one.
struct Run {
    cov: Coverage,
    trace: u64,
    link: Option<link::LinkCoverage>,
    hand: Option<handover::HandCoverage>,
}

fn run_schedule(seed: u64, verbose: bool, with_link: bool) -> Result<Run, String> {
    let mut rng = Rng(seed);
    let sc = scenario(&mut rng);
    let phases = 2 + rng.index(4);
    if verbose {
        println!(
            "seed {seed}: {} nodes, {phases} phases, groups {:?}",
            sc.cfgs.len(),
            sc.groups
        );
        for (n, list) in sc.cfgs.iter().enumerate() {
            for c in list {
                println!(
                    "  node {n} {} {:?} vrid {} prio {} int {:?} {:?} preempt {} delay {:?} addr {} tracks {:?}",
                    c.name,
                    c.version,
                    c.vrid,
                    c.priority,
                    c.advert_interval.as_duration(),
                    c.initial_state,
                    c.preempt,
                    c.preempt_delay,
                    c.primary_address,
                    c.tracks
                );
            }
        }
    }
    let mut sim = Sim::new(seed, &sc, rng, verbose, with_link);
    sim.run(phases)?;
    Ok(Run {
        cov: sim.cov,
        trace: sim.trace,
        link: sim.link.map(|l| l.cov),
        hand: sim.hand.map(|h| h.cov),
    })
}

/// Runs a schedule without the link and, if `linked`, again with it: the link may do
/// anything, the VRRP trace must be the same action for action, to the nanosecond.
fn check_schedule(seed: u64, verbose: bool, linked: bool) -> Result<Run, String> {
    let plain = run_schedule(seed, verbose && !linked, false)?;
    if !linked {
        return Ok(plain);
    }
    let with = run_schedule(seed, verbose, true)?;
    if with.trace != plain.trace {
        return Err("the link changed the VRRP trace".into());
    }
    Ok(Run {
        link: with.link,
        hand: with.hand,
        ..plain
    })
}

/// How often a schedule also runs with the link (`BATON_SIM_LINK_EVERY` overrides).
const LINK_EVERY: u64 = 4;

fn seed_of(case: u64) -> u64 {
    let mut r = Rng(case ^ 0xba70_0000_0000_0000);
    r.next()
}

#[test]
fn simulation() {
    let started = Instant::now();
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    if let Ok(seed) = std::env::var("BATON_SIM_SEED") {
        let seed: u64 = seed.parse().expect("BATON_SIM_SEED must be a number");
        let result = check_schedule(seed, true, true);
        println!(
            "simulation: 1 schedules (1 with the link), {} violations, {:.1} s",
            u8::from(result.is_err()),
            started.elapsed().as_secs_f64()
        );
        if let Err(e) = result {
            panic!("seed {seed}: {e}");
        }
        return;
    }
    let cases = env("BATON_SIM_CASES").unwrap_or(2000);
    // Every LINK_EVERY-th schedule runs twice, without and with the link.
    let link_every = env("BATON_SIM_LINK_EVERY").unwrap_or(LINK_EVERY).max(1);
    let mut failures = Vec::new();
    let mut cov = Coverage::default();
    let mut link_cov = link::LinkCoverage::default();
    let mut hand_cov = handover::HandCoverage::default();
    for case in 0..cases {
        let seed = seed_of(case);
        match check_schedule(seed, false, case % link_every == 0) {
            Ok(run) => {
                cov.add(run.cov);
                if let Some(l) = &run.link {
                    link_cov.add(l);
                }
                if let Some(h) = &run.hand {
                    hand_cov.add(h);
                }
            }
            Err(e) => {
                if failures.len() < 10 {
                    println!("seed {seed}: {e}");
                    println!(
                        "  replay: BATON_SIM_SEED={seed} cargo test --test sim -- --nocapture"
                    );
                }
                failures.push(seed);
            }
        }
    }
    if std::env::var_os("BATON_SIM_STATS").is_some() {
        println!("coverage: {cov:?}");
        println!("link coverage: {link_cov:?}");
        println!("handover coverage: {hand_cov:?}");
    }
    println!(
        "simulation: {cases} schedules ({} with the link), {} violations, {:.1} s",
        link_cov.linked_schedules,
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} schedules violated an invariant; first seed {}",
        failures.len(),
        failures[0]
    );
}
