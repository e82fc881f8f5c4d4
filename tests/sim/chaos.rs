//! What happens to the nodes and the network: the chaos a phase plans, and how each kind
//! is carried out (starts, crashes, graceful stops, reloads, partitions, operator
//! commands), with the takeover checks a departing master sets.

use std::time::Duration;

use baton::proto::{Input, InstanceId, Node, State, TrackStatus};

use super::scenario::{FILE, IFACE, SCRIPT};
use super::{Ev, Net, Op, Sim, chaos_delay_cap, skew};

#[derive(Debug, Clone)]
pub(crate) enum Chaos {
    Start(usize),
    NetBad {
        loss: f64,
        dup: f64,
        delay_max: Duration,
    },
    Partition(Vec<u8>),
    Heal,
    Crash(usize),
    Stop(usize),
    Restart(usize),
    Track {
        node: usize,
        key: &'static str,
        status: TrackStatus,
    },
    Operator {
        node: usize,
        inst: usize,
        input: Input,
    },
    /// Reload the node's configuration with a new priority for one instance (and its
    /// sync-group siblings, which share it).
    Reprioritize {
        node: usize,
        inst: usize,
        priority: u8,
    },
    /// Whichever node is master of this VRID at that moment crashes, or stops gracefully.
    MasterLeaves {
        inst: usize,
        graceful: bool,
    },
    Quiet,
}

impl Sim<'_> {
    pub(crate) fn start(&mut self, n: usize) -> Result<(), String> {
        if self.nodes[n].node.is_some() {
            return Ok(());
        }
        let mut node = Node::new(self.nodes[n].cfgs.clone(), self.sc.groups.clone(), self.now);
        // The tracker reports current readings before the instances start.
        let mut readings: Vec<_> = self.nodes[n].tracks.iter().map(|(k, s)| (*k, *s)).collect();
        readings.sort_by_key(|(k, _)| *k);
        for (key, status) in readings {
            node.track(self.now, key, status);
        }
        let sn = &mut self.nodes[n];
        sn.state.fill(State::Initialize);
        sn.op.fill(Op::None);
        sn.held.fill(false);
        sn.started = self.now;
        for i in 0..node.len() {
            node.handle(self.now, InstanceId(i), Input::Startup);
        }
        sn.node = Some(node);
        if let (Some(h), Some(l)) = (self.hand.as_mut(), self.link.as_mut()) {
            h.node_start(self.now, n, &self.nodes[n].cfgs, &self.sc.groups, l)?;
        }
        if let Some(link) = self.link.as_mut() {
            link.node_up(self.now, n);
        }
        self.drain(n)
    }

    /// A master leaves: on a quiet network another node must take over within
    /// Master_Down_Interval of the last advert it can have heard; after a graceful stop
    /// (priority 0) within Skew_Time of hearing it, unless older adverts are still in flight
    /// (they may arrive after the priority 0 one and restart a backup's full timer).
    fn schedule_takeover_checks(&mut self, n: usize, graceful: bool) {
        if !self.network_good() {
            return;
        }
        let Some(node) = self.nodes[n].node.as_ref() else {
            return;
        };
        let mut checks = Vec::new();
        for inst in 0..node.len() {
            if node.state(InstanceId(inst)) != State::Master {
                continue;
            }
            let eligible = (0..self.nodes.len()).filter(|m| *m != n).filter_map(|m| {
                let other = self.nodes[m].node.as_ref()?;
                let id = InstanceId(inst);
                (other.state(id) != State::Fault).then(|| other.effective_priority(id))
            });
            let Some(best) = eligible.max() else { continue };
            let in_flight = self.nodes[n].last_delivery > self.now;
            let i = self.sc.interval_max;
            let (deadline, bound) = if graceful && !in_flight {
                (
                    self.now + self.quiet_delay + skew(best, i),
                    "Skew_Time after its priority 0 advert",
                )
            } else {
                let heard = self.now.max(self.nodes[n].last_delivery);
                (heard + i * 3 + skew(best, i), "Master_Down_Interval")
            };
            checks.push((deadline + Duration::from_micros(1), inst, bound));
        }
        for (deadline, inst, bound) in checks {
            self.push(
                deadline,
                Ev::TakeoverCheck {
                    inst,
                    epoch: self.epoch,
                    crashed: n,
                    bound,
                },
            );
        }
    }

    pub(crate) fn chaos(&mut self, c: Chaos) -> Result<(), String> {
        self.epoch += 1;
        self.last_change = self.now;
        match c {
            Chaos::Start(n) | Chaos::Restart(n) => self.start(n)?,
            Chaos::NetBad {
                loss,
                dup,
                delay_max,
            } => {
                self.net = Net {
                    loss,
                    dup,
                    delay_max,
                    side: self.net.side.clone(),
                }
            }
            Chaos::Partition(side) => self.net.side = side,
            Chaos::Heal => self.net.side.fill(0),
            Chaos::Quiet => {
                let dup = if self.rng.chance(0.5) { 0.0 } else { 0.1 };
                self.net = Net {
                    loss: 0.0,
                    dup,
                    delay_max: self.quiet_delay,
                    side: vec![0; self.nodes.len()],
                };
            }
            Chaos::Crash(n) => {
                self.schedule_takeover_checks(n, false);
                let sn = &mut self.nodes[n];
                // Power off: the box and its addresses are gone.
                let was_up = sn.node.take().is_some();
                sn.held.fill(false);
                if let (true, Some(link)) = (was_up, self.link.as_mut()) {
                    link.node_down(self.now, n, false)?;
                    if let Some(h) = self.hand.as_mut() {
                        h.crash(self.now, n);
                    }
                }
            }
            Chaos::MasterLeaves { inst, graceful } => {
                if let Some(n) = self.master_of(inst).first().copied() {
                    let c = if graceful {
                        Chaos::Stop(n)
                    } else {
                        Chaos::Crash(n)
                    };
                    return self.chaos(c);
                }
            }
            Chaos::Stop(n) => {
                self.schedule_takeover_checks(n, true);
                if self.nodes[n].node.is_some()
                    && let (Some(h), Some(l)) = (self.hand.as_mut(), self.link.as_mut())
                {
                    h.stop(self.now, n, l)?;
                }
                if let Some(node) = self.nodes[n].node.as_mut() {
                    node.shutdown(self.now);
                    self.drain(n)?;
                    if self.nodes[n].held.iter().any(|h| *h) {
                        return Err(format!("node {n} still holds addresses after shutdown"));
                    }
                    self.nodes[n].node = None;
                    // With the handover the link stays open until the release for good.
                    if let (Some(link), None) = (self.link.as_mut(), self.hand.as_ref()) {
                        link.node_down(self.now, n, true)?;
                    }
                }
            }
            Chaos::Reprioritize {
                node: n,
                inst,
                priority,
            } => {
                let members: Vec<usize> = match self.sc.groups.first() {
                    Some(g) if g.members.contains(&InstanceId(inst)) => {
                        g.members.iter().map(|m| m.0).collect()
                    }
                    _ => vec![inst],
                };
                for m in members {
                    let cfg = &mut self.nodes[n].cfgs[m];
                    // The address owner stays the owner.
                    if cfg.priority != 255 {
                        cfg.priority = priority;
                    }
                }
                let cfgs = self.nodes[n].cfgs.clone();
                if let Some(node) = self.nodes[n].node.as_mut() {
                    let before: Vec<State> =
                        (0..node.len()).map(|i| node.state(InstanceId(i))).collect();
                    node.reconfigure(self.now, cfgs.clone(), self.sc.groups.clone());
                    if let Some(h) = self.hand.as_mut() {
                        h.reload(self.now, n, &cfgs);
                    }
                    let after: Vec<State> =
                        (0..node.len()).map(|i| node.state(InstanceId(i))).collect();
                    if before != after {
                        return Err(format!(
                            "node {n}: reload changed states {before:?} -> {after:?}"
                        ));
                    }
                    self.drain(n)?;
                }
            }
            Chaos::Track {
                node: n,
                key,
                status,
            } => {
                self.nodes[n].tracks.insert(key, status);
                if let Some(node) = self.nodes[n].node.as_mut() {
                    node.track(self.now, key, status);
                    self.drain(n)?;
                }
            }
            Chaos::Operator {
                node: n,
                inst,
                input,
            } => {
                let op = match input {
                    Input::Promote => Op::Promoted,
                    Input::Demote => Op::Demoted,
                    _ => Op::None,
                };
                if let Some(node) = self.nodes[n].node.as_mut() {
                    node.handle(self.now, InstanceId(inst), input);
                    // The node applies operator commands to the whole sync group.
                    let members: Vec<usize> = match self.sc.groups.first() {
                        Some(g) if g.members.contains(&InstanceId(inst)) => {
                            g.members.iter().map(|m| m.0).collect()
                        }
                        _ => vec![inst],
                    };
                    for m in members {
                        self.nodes[n].op[m] = op;
                    }
                    self.drain(n)?;
                }
            }
        }
        Ok(())
    }

    /// Random chaos for one phase starting now; returns when the phase ends.
    pub(crate) fn plan_phase(&mut self) {
        let n = self.nodes.len();
        let k = self.sc.cfgs[0].len();
        let i = self.sc.interval_max;
        let mut end = self.now;
        if self.rng.chance(0.3) {
            // A master dies on a quiet network: the takeover-time check.
            let inst = self.rng.index(k);
            let at = self.now + self.rng.dur(i);
            let graceful = self.rng.chance(0.4);
            self.push(at, Ev::Chaos(Chaos::MasterLeaves { inst, graceful }));
            end = at;
            if self.rng.chance(0.5) {
                let back = at + self.sc.interval_max * 8;
                let who = self.rng.index(n);
                self.push(back, Ev::Chaos(Chaos::Restart(who)));
                end = back;
            }
        } else {
            let count = self.rng.index(9);
            for _ in 0..count {
                let at = self.now + self.rng.dur(i * 4);
                end = end.max(at);
                let node = self.rng.index(n);
                let c = match self.rng.below(11) {
                    0 => Chaos::NetBad {
                        loss: self.rng.unit() * 0.6,
                        dup: self.rng.unit() * 0.3,
                        delay_max: self.rng.dur(chaos_delay_cap(self.sc)),
                    },
                    1 => Chaos::Partition(
                        (0..n)
                            .map(|_| u8::try_from(self.rng.below(2)).unwrap_or(0))
                            .collect(),
                    ),
                    2 => Chaos::Heal,
                    3 => Chaos::Crash(node),
                    4 => Chaos::Stop(node),
                    5 => Chaos::Restart(node),
                    6 | 7 => {
                        let (key, status) = match self.rng.below(3) {
                            0 => (
                                SCRIPT,
                                if self.rng.chance(0.5) {
                                    TrackStatus::Up
                                } else {
                                    TrackStatus::Down
                                },
                            ),
                            1 => (
                                IFACE,
                                if self.rng.chance(0.6) {
                                    TrackStatus::Up
                                } else {
                                    TrackStatus::Down
                                },
                            ),
                            _ => (
                                FILE,
                                TrackStatus::Value(
                                    i64::try_from(self.rng.below(11)).unwrap_or(0) - 5,
                                ),
                            ),
                        };
                        Chaos::Track { node, key, status }
                    }
                    8 => {
                        let input = match self.rng.below(3) {
                            0 => Input::Promote,
                            1 => Input::Demote,
                            _ => Input::Release,
                        };
                        Chaos::Operator {
                            node,
                            inst: self.rng.index(k),
                            input,
                        }
                    }
                    9 => Chaos::Reprioritize {
                        node,
                        inst: self.rng.index(k),
                        priority: 1 + u8::try_from(self.rng.below(254)).unwrap_or(0),
                    },
                    _ => Chaos::Restart(self.rng.index(n)),
                };
                self.push(at, Ev::Chaos(c));
            }
            end += Duration::from_nanos(1);
            self.push(end, Ev::Chaos(Chaos::Quiet));
        }
        let phase_end = end + self.settle + self.sc.interval_max * 2;
        self.push(phase_end, Ev::PhaseEnd);
    }
}
