//! The handover in the simulation: with exactly two nodes and the link, each node has one
//! `baton::link::handover::Handover` per target (an instance outside the sync group, or
//! the group), driven as the engine drives it (`src/daemon/engine/handover.rs`): the proto
//! node's transitions into and out of MASTER, adverts from the peer, the link session's
//! ups, closes and handover messages, and a hook runner per node and target (MASTER hooks
//! take [`START`], leaving hooks [`STOP`], one at a time, in order). A graceful stop calls
//! `stop` before the node shuts down and keeps the link open until `released_for_good`
//! (at most [`STOP_LINGER`]); a crash ends the node's service at once (its host died).
//!
//! Nothing here is a proto input and nothing uses the simulation's RNG, so the VRRP trace
//! stays that of the run without the link. Checked (see `sim.rs`): service intervals of a
//! target on the two nodes overlap only when the later one started without the link's
//! word (`PeerGone`, `PeerSilent`), and never on a run whose link was never disturbed and
//! whose nodes never crashed; no mastership waits for its MASTER hooks longer than
//! `handover_timeout`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use baton::link::handover::{Handover, HandoverConfig, Output, StartReason};
use baton::link::session::HandoverMsg;
use baton::proto::{InstanceConfig, State, SyncGroupConfig};

use super::link::{HandIn, HandOut, LinkSim};

/// How long the MASTER hooks run.
const START: Duration = Duration::from_millis(300);
/// How long the hooks for leaving MASTER run.
const STOP: Duration = Duration::from_secs(1);
/// How long a stopping node keeps its link open for its release for good.
const STOP_LINGER: Duration = Duration::from_secs(10);

/// What the handover part of the schedules exercised (`BATON_SIM_STATS=1` prints it).
#[derive(Debug, Default, Clone)]
pub struct HandCoverage {
    pub schedules: u64,
    pub clean_schedules: u64,
    pub entered: u64,
    pub starts: BTreeMap<String, u64>,
    pub overlaps: BTreeMap<String, u64>,
    pub longest_hold: Duration,
    pub messages: u64,
}

impl HandCoverage {
    pub fn add(&mut self, o: &HandCoverage) {
        self.schedules += o.schedules;
        self.clean_schedules += o.clean_schedules;
        self.entered += o.entered;
        self.messages += o.messages;
        for (k, v) in &o.starts {
            *self.starts.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.overlaps {
            *self.overlaps.entry(k.clone()).or_default() += v;
        }
        self.longest_hold = self.longest_hold.max(o.longest_hold);
    }
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Master(StartReason),
    Leave,
}

/// One service interval: from the start of the MASTER hooks to the end of the leaving
/// hooks of that mastership (`None`: still running when the schedule ended).
#[derive(Debug)]
struct Interval {
    node: usize,
    target: usize,
    start: Instant,
    end: Option<Instant>,
    why: StartReason,
}

struct Machine {
    name: String,
    members: Vec<usize>,
    group: bool,
    hand: Handover,
    jobs: VecDeque<Job>,
    running: Option<(Job, Instant)>,
    /// The open service interval (index into `HandSim::intervals`).
    open: Option<usize>,
    /// When the current mastership entered MASTER.
    entered: Option<Instant>,
}

pub struct HandSim {
    /// Per node, its machines (none while the node is down).
    machines: Vec<Vec<Machine>>,
    /// A stopping node's link closes at this time at the latest.
    linger: Vec<Option<Instant>>,
    intervals: Vec<Interval>,
    crashes: u64,
    /// Node starts: one per node, more are restarts.
    starts: u64,
    t0: Instant,
    verbose: bool,
    pub cov: HandCoverage,
}

fn master_down(cfgs: &[InstanceConfig], members: &[usize]) -> Duration {
    (members.iter())
        .filter_map(|&i| cfgs.get(i))
        .map(|c| {
            let adv = c.advert_interval.as_duration();
            adv * 3 + adv * (256 - u32::from(c.priority)) / 256
        })
        .max()
        .unwrap_or(Duration::from_secs(4))
}

fn reason(why: StartReason) -> String {
    format!("{why:?}")
}

impl HandSim {
    pub fn new(n: usize, t0: Instant, verbose: bool) -> HandSim {
        HandSim {
            machines: (0..n).map(|_| Vec::new()).collect(),
            linger: vec![None; n],
            intervals: Vec::new(),
            crashes: 0,
            starts: 0,
            t0,
            verbose,
            cov: HandCoverage {
                schedules: 1,
                ..HandCoverage::default()
            },
        }
    }

    fn log(&self, now: Instant, what: std::fmt::Arguments) {
        if self.verbose {
            println!("{:10.6} hand {what}", (now - self.t0).as_secs_f64());
        }
    }

    /// The node (re)started: a machine per target, expecting the trusted peer's link.
    pub fn node_start(
        &mut self,
        now: Instant,
        n: usize,
        cfgs: &[InstanceConfig],
        groups: &[SyncGroupConfig],
        link: &mut LinkSim,
    ) -> Result<(), String> {
        self.starts += 1;
        if self.linger[n].is_some() {
            // A new process: the old one is gone, whatever it still had running.
            self.exit(now, n, link)?;
        }
        let mut targets: Vec<(String, Vec<usize>, bool)> = Vec::new();
        let in_group: Vec<usize> = groups
            .iter()
            .flat_map(|g| g.members.iter().map(|m| m.0))
            .collect();
        for g in groups {
            targets.push((
                g.name.clone(),
                g.members.iter().map(|m| m.0).collect(),
                true,
            ));
        }
        for (i, c) in cfgs.iter().enumerate() {
            if !in_group.contains(&i) {
                targets.push((c.name.clone(), vec![i], false));
            }
        }
        self.machines[n] = targets
            .into_iter()
            .map(|(name, members, group)| {
                let mut hand = Handover::new(HandoverConfig::new(
                    &name,
                    master_down(cfgs, &members),
                    true,
                ));
                hand.peer_heard_on_vrrp(now);
                Machine {
                    name,
                    members,
                    group,
                    hand,
                    jobs: VecDeque::new(),
                    running: None,
                    open: None,
                    entered: None,
                }
            })
            .collect();
        for t in 0..self.machines[n].len() {
            self.pump(now, n, t, link)?;
        }
        Ok(())
    }

    /// After a reload: the node's own master-down interval may have changed.
    pub fn reload(&mut self, now: Instant, n: usize, cfgs: &[InstanceConfig]) {
        for m in &mut self.machines[n] {
            let timeout = HandoverConfig::new("", Duration::ZERO, true).handover_timeout;
            m.hand
                .set_times(now, timeout, master_down(cfgs, &m.members));
        }
    }

    /// The host died: its service ends now, and so does its driver.
    pub fn crash(&mut self, now: Instant, n: usize) {
        if self.machines[n].is_empty() {
            return;
        }
        self.crashes += 1;
        self.log(now, format_args!("node {n} crashed"));
        for m in std::mem::take(&mut self.machines[n]) {
            if let Some(i) = m.open {
                self.intervals[i].end = Some(now);
            }
        }
    }

    /// A graceful stop, before the node shuts down.
    pub fn stop(&mut self, now: Instant, n: usize, link: &mut LinkSim) -> Result<(), String> {
        self.linger[n] = Some(now + STOP_LINGER);
        let mut t = 0;
        while t < self.machines[n].len() {
            self.machines[n][t].hand.stop(now);
            self.pump(now, n, t, link)?;
            t += 1;
        }
        Ok(())
    }

    /// The stopping node's process ends: its link closes, its hooks end with it.
    fn exit(&mut self, now: Instant, n: usize, link: &mut LinkSim) -> Result<(), String> {
        self.linger[n] = None;
        self.log(now, format_args!("node {n} exits"));
        for m in std::mem::take(&mut self.machines[n]) {
            if let Some(i) = m.open {
                self.intervals[i].end = Some(now);
            }
        }
        link.node_down(now, n, true)
    }

    /// A transition of instance `inst` (`group`: of the sync group) on node `n`.
    pub fn transition(
        &mut self,
        now: Instant,
        n: usize,
        (group, scope): (bool, usize),
        (from, to): (State, State),
        link: &mut LinkSim,
    ) -> Result<(), String> {
        let Some(t) = self.machines[n]
            .iter()
            .position(|m| m.group == group && (group || m.members == [scope]))
        else {
            return Ok(());
        };
        let m = &mut self.machines[n][t];
        if to == State::Master {
            self.cov.entered += 1;
            m.entered = Some(now);
            m.hand.entered_master(now);
        } else if from == State::Master {
            m.entered = None;
            m.hand.left_master(now);
            m.jobs.push_back(Job::Leave);
        }
        self.pump(now, n, t, link)
    }

    /// An advert from the peer for instance `inst` reached node `n`.
    pub fn heard(
        &mut self,
        now: Instant,
        n: usize,
        inst: usize,
        link: &mut LinkSim,
    ) -> Result<(), String> {
        if let Some(t) = self.machines[n]
            .iter()
            .position(|m| m.members.contains(&inst))
        {
            self.machines[n][t].hand.peer_heard_on_vrrp(now);
            self.pump(now, n, t, link)?;
        }
        Ok(())
    }

    /// Feeds what the sessions reported.
    pub fn sync(&mut self, link: &mut LinkSim) -> Result<(), String> {
        while let Some((now, n, what)) = link.hand_inbox.as_mut().and_then(|q| q.pop_front()) {
            self.log(now, format_args!("node {n} link says {what:?}"));
            let mut t = 0;
            while t < self.machines[n].len() {
                let Machine { name, hand, .. } = &mut self.machines[n][t];
                t += 1;
                match &what {
                    HandIn::Up(speaks) => hand.link_up(now, *speaks),
                    HandIn::Down => hand.link_down(now),
                    HandIn::Msg(msg) => {
                        match msg {
                            HandoverMsg::ReleaseRequest(r) if r.target == *name => {
                                hand.peer_release_request(now, r.generation)
                            }
                            HandoverMsg::Released(r) if r.target == *name => {
                                hand.peer_released(now, r.generation, r.stopping)
                            }
                            HandoverMsg::Holding(h) if h.target == *name => {
                                hand.peer_holding(now, h.generation)
                            }
                            _ => continue,
                        }
                        self.cov.messages += 1;
                    }
                }
                self.pump(now, n, t - 1, link)?;
            }
        }
        Ok(())
    }

    /// When the driver next has something to do: a hook ends, a hold ends, a stopping
    /// node's link must close.
    pub fn next_time(&self) -> Option<Instant> {
        let machines = self.machines.iter().flatten();
        let hooks = machines.clone().filter_map(|m| m.running.map(|(_, t)| t));
        let holds = machines.filter_map(|m| m.hand.next_deadline());
        hooks
            .chain(holds)
            .chain(self.linger.iter().flatten().copied())
            .min()
    }

    /// Whether hooks still run, holds wait or a stopping node lingers.
    pub fn busy(&self) -> bool {
        self.linger.iter().any(Option::is_some)
            || (self.machines.iter().flatten())
                .any(|m| m.running.is_some() || m.hand.next_deadline().is_some())
    }

    /// Does what is due at `now`.
    pub fn step(&mut self, now: Instant, link: &mut LinkSim) -> Result<(), String> {
        for n in 0..self.machines.len() {
            // A stopping node may exit (and lose its machines) in any of these.
            let mut t = 0;
            while t < self.machines[n].len() {
                let m = &mut self.machines[n][t];
                t += 1;
                if m.running.is_some_and(|(_, end)| end <= now) {
                    let (job, _) = m.running.take().expect("running");
                    if let Job::Leave = job {
                        if let Some(i) = m.open.take() {
                            self.intervals[i].end = Some(now);
                        }
                        m.hand.leaving_hooks_done(now);
                    }
                }
                if m.hand.next_deadline().is_some_and(|d| d <= now) {
                    m.hand.handle_timeout(now);
                }
                self.pump(now, n, t - 1, link)?;
            }
            if self.linger[n].is_some_and(|t| t <= now) {
                self.exit(now, n, link)?;
            }
        }
        Ok(())
    }

    /// Carries out what machine `t` of node `n` decided, starts its next hook, checks the
    /// hold bound, and lets a stopping node exit once it has released for good.
    fn pump(&mut self, now: Instant, n: usize, t: usize, link: &mut LinkSim) -> Result<(), String> {
        let m = &mut self.machines[n][t];
        while let Some(out) = m.hand.poll() {
            let msg = match out {
                Output::StartMasterHooks { waited, why, .. } => {
                    *self.cov.starts.entry(reason(why)).or_default() += 1;
                    self.cov.longest_hold = self.cov.longest_hold.max(waited);
                    if waited > HandoverConfig::new("", Duration::ZERO, true).handover_timeout {
                        return Err(format!(
                            "handover: node {n} {}: MASTER hooks started after {waited:?} ({why:?}), beyond handover_timeout",
                            m.name
                        ));
                    }
                    if self.verbose {
                        println!(
                            "{:10.6} hand node {n} {}: start after {waited:?} ({why:?})",
                            (now - self.t0).as_secs_f64(),
                            m.name
                        );
                    }
                    m.jobs.push_back(Job::Master(why));
                    continue;
                }
                Output::SendReleaseRequest { generation, .. } => {
                    HandOut::ReleaseRequest(generation)
                }
                Output::SendReleased {
                    generation,
                    stopping,
                    ..
                } => HandOut::Released(generation, stopping),
                Output::SendHolding { generation, .. } => HandOut::Holding(generation),
                _ => continue,
            };
            if self.verbose {
                println!(
                    "{:10.6} hand node {n} {}: send {msg:?}",
                    (now - self.t0).as_secs_f64(),
                    m.name
                );
            }
            link.send_handover(now, n, &m.name, msg)?;
        }
        if m.running.is_none()
            && let Some(job) = m.jobs.pop_front()
        {
            let len = match job {
                Job::Master(why) => {
                    m.open = Some(self.intervals.len());
                    self.intervals.push(Interval {
                        node: n,
                        target: t,
                        start: now,
                        end: None,
                        why,
                    });
                    START
                }
                Job::Leave => STOP,
            };
            m.running = Some((job, now + len));
        }
        let timeout = HandoverConfig::new("", Duration::ZERO, true).handover_timeout;
        if let Some(h) = m.hand.hold()
            && now > h.since + timeout
        {
            return Err(format!(
                "handover: node {n} {}: MASTER since {:?} ago and its hooks still wait",
                m.name,
                now - h.since
            ));
        }
        if self.linger[n].is_some() && self.machines[n].iter().all(|m| m.hand.released_for_good()) {
            self.exit(now, n, link)?;
        }
        Ok(())
    }

    /// After the schedule: service intervals of a target never overlap on the two nodes,
    /// unless the later one started without the link's word; never on a clean run.
    pub fn finish(&mut self, clean: bool) -> Result<(), String> {
        self.cov.clean_schedules += u64::from(clean);
        let far = |e: Option<Instant>| e.unwrap_or(Instant::now() + Duration::from_secs(1 << 30));
        for (x, a) in self.intervals.iter().enumerate() {
            for b in &self.intervals[x + 1..] {
                if a.node == b.node || a.target != b.target {
                    continue;
                }
                if !(a.start < far(b.end) && b.start < far(a.end)) {
                    continue;
                }
                let later = if b.start >= a.start { b } else { a };
                *self.cov.overlaps.entry(reason(later.why)).or_default() += 1;
                let excused = matches!(later.why, StartReason::PeerGone | StartReason::PeerSilent);
                if clean || !excused {
                    let at = |t: Instant| (t - self.t0).as_secs_f64();
                    return Err(format!(
                        "handover: target {} served on both nodes: node {} from {:.6} ({:?}) to {:?}, node {} from {:.6} ({:?}) to {:?} (clean run: {clean})",
                        a.target,
                        a.node,
                        at(a.start),
                        a.why,
                        a.end.map(at),
                        b.node,
                        at(b.start),
                        b.why,
                        b.end.map(at),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether a node crashed or restarted in this run. A restarted node has no link at
    /// first and takes a peer silent on VRRP for the master-down interval as gone: a peer
    /// that has just gone BACKUP is silent, yet its leaving hooks may still run (or even
    /// its MASTER hooks, queued before them). So an overlap started `PeerGone` after a
    /// restart is the rule's known cost without the link's word, not a broken link.
    pub fn disturbed(&self) -> bool {
        self.crashes > 0 || self.starts > self.machines.len() as u64
    }
}

/// One step of what runs beside VRRP at `t`: the link, then the handover driver.
pub fn side_step(link: &mut LinkSim, hand: Option<&mut HandSim>, t: Instant) -> Result<(), String> {
    if link.next_time().is_some_and(|l| l <= t) {
        link.step(t)?;
    }
    if let Some(hand) = hand {
        hand.sync(link)?;
        hand.step(t, link)?;
        hand.sync(link)?;
    }
    Ok(())
}

/// After the VRRP schedule: the hooks still running and the holds still waiting end, on
/// the link's time.
pub fn finish_hooks(link: &mut LinkSim, hand: &mut HandSim) -> Result<(), String> {
    while hand.busy() {
        let Some(t) = [link.next_time(), hand.next_time()]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        side_step(link, Some(hand), t)?;
    }
    Ok(())
}
