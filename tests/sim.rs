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
//! `BATON_SIM_CASES=N` runs N schedules (default 2000); `BATON_SIM_SEED=S` runs one
//! schedule with a trace.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use baton::proto::{
    Action, InitialState, Input, InstanceConfig, InstanceId, Node, State, SyncGroupConfig,
    TrackRef, TrackStatus,
};
use baton::wire::{Advert, Auth, Centis, ChecksumMode, Version};

/// splitmix64: tiny, seedable, good enough to drive schedules.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn dur(&mut self, max: Duration) -> Duration {
        max.mul_f64(self.unit())
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

/// Tracked objects every simulated node has (weights differ per node).
const SCRIPT: &str = "script:chk";
const IFACE: &str = "iface:eth0";
const FILE: &str = "file:/run/prio";

/// The configuration of one schedule.
struct Scenario {
    cfgs: Vec<Vec<InstanceConfig>>,
    groups: Vec<SyncGroupConfig>,
    /// Longest configured advert interval anywhere.
    interval_max: Duration,
    preempt_delay_max: Duration,
}

fn scenario(rng: &mut Rng) -> Scenario {
    let n = 2 + rng.index(4);
    let k = 1 + rng.index(3);
    let base_ms = [10u64, 20, 50, 100, 250, 500, 1000][rng.index(7)];
    let base = Centis(u16::try_from(base_ms / 10).unwrap_or(1));
    let v6 = rng.chance(0.2);
    let versions: Vec<Version> = (0..k)
        .map(|_| {
            if base_ms == 1000 && rng.chance(0.5) {
                Version::V2
            } else {
                Version::V3
            }
        })
        .collect();
    let auth = if rng.chance(0.3) {
        Auth::Pass(*b"baton\0\0\0")
    } else {
        Auth::None
    };
    let group: Vec<usize> = if k >= 2 && rng.chance(0.4) {
        (0..2 + rng.index(k - 1)).collect()
    } else {
        vec![]
    };
    let mut octets: Vec<u8> = (1..=200).collect();
    for i in (1..octets.len()).rev() {
        octets.swap(i, rng.index(i + 1));
    }
    let addr = |last: u8, vip: bool| -> IpAddr {
        if v6 {
            IpAddr::V6(Ipv6Addr::new(
                0xfd00,
                0,
                0,
                0,
                0,
                0,
                u16::from(vip),
                u16::from(last),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 0, u8::from(vip), last))
        }
    };
    let owner_vrid = (rng.chance(0.15))
        .then(|| rng.index(k))
        .filter(|v| !group.contains(v));
    let mut cfgs = Vec::new();
    let mut interval_max = Duration::ZERO;
    let mut preempt_delay_max = Duration::ZERO;
    for (node, octet) in octets.iter().copied().take(n).enumerate() {
        let weights = [
            (
                SCRIPT,
                i32::try_from(rng.below(120)).unwrap_or(0) - 60,
                rng.chance(0.2),
            ),
            (IFACE, 0, rng.chance(0.1)),
            (FILE, i32::try_from(rng.below(21)).unwrap_or(0) - 10, false),
        ];
        let pick_tracks = |rng: &mut Rng| -> Vec<TrackRef> {
            (weights.iter())
                .filter(|_| rng.chance(0.4))
                .map(|(key, weight, reverse)| TrackRef {
                    key: (*key).to_owned(),
                    weight: if *key == SCRIPT && *weight == 0 {
                        10
                    } else {
                        *weight
                    },
                    reverse: *reverse,
                })
                .collect()
        };
        // Sync-group members on one node share priority, tracks and preemption, as a sane
        // configuration does; otherwise the group fights itself (keepalived's too).
        let group_priority = 1 + u8::try_from(rng.below(254)).unwrap_or(0);
        let group_tracks = pick_tracks(rng);
        let group_preempt = rng.chance(0.75);
        let group_delay = if rng.chance(0.3) {
            base.as_duration() * (rng.below(6) as u32)
        } else {
            Duration::ZERO
        };
        let group_initial = if rng.chance(0.2) {
            InitialState::Master
        } else {
            InitialState::Backup
        };
        let mut list = Vec::new();
        for (v, version) in versions.iter().enumerate() {
            let in_group = group.contains(&v);
            let interval = match version {
                Version::V2 => Centis(100),
                Version::V3 if rng.chance(0.3) => Centis(base.0 * 2),
                Version::V3 => base,
            };
            interval_max = interval_max.max(interval.as_duration());
            let priority = if owner_vrid == Some(v) && node == 0 {
                255
            } else if in_group {
                group_priority
            } else {
                1 + u8::try_from(rng.below(254)).unwrap_or(0)
            };
            let preempt_delay = if in_group {
                group_delay
            } else if rng.chance(0.3) {
                base.as_duration() * (rng.below(6) as u32)
            } else {
                Duration::ZERO
            };
            preempt_delay_max = preempt_delay_max.max(preempt_delay);
            list.push(InstanceConfig {
                name: format!("vi_{v}"),
                version: *version,
                vrid: 10 + u8::try_from(v).unwrap_or(0),
                priority,
                advert_interval: interval,
                initial_state: if in_group {
                    group_initial
                } else if rng.chance(0.2) {
                    InitialState::Master
                } else {
                    InitialState::Backup
                },
                preempt: if in_group {
                    group_preempt
                } else {
                    rng.chance(0.75)
                },
                preempt_delay,
                primary_address: addr(octet, false),
                virtual_addresses: vec![addr(100 + u8::try_from(v).unwrap_or(0), true)],
                auth: if *version == Version::V2 {
                    auth.clone()
                } else {
                    Auth::None
                },
                checksum: ChecksumMode::PseudoHeader,
                tracks: if in_group {
                    group_tracks.clone()
                } else {
                    pick_tracks(rng)
                },
                lower_prio_no_advert: rng.chance(0.2),
                higher_prio_send_advert: rng.chance(0.2),
                skip_check_adv_addr: rng.chance(0.2),
                // keepalived's defaults: five announcements now and five seconds later.
                lower_prio_garp_repeat: 5,
                lower_prio_garp_delay: Duration::from_secs(5),
                config_fault: None,
            });
        }
        cfgs.push(list);
    }
    let groups = if group.is_empty() {
        vec![]
    } else {
        vec![SyncGroupConfig {
            name: "sg".into(),
            members: group.iter().map(|v| InstanceId(*v)).collect(),
        }]
    };
    Scenario {
        cfgs,
        groups,
        interval_max,
        preempt_delay_max,
    }
}

#[derive(Debug, Clone)]
enum Chaos {
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
    fn new(seed: u64, sc: &'a Scenario, rng: Rng, verbose: bool) -> Sim<'a> {
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
        let _ = seed;
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
        }
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

    /// Carry out everything node `n` asked for, checking driver-side invariants.
    fn drain(&mut self, n: usize) -> Result<(), String> {
        loop {
            let Some(node) = self.nodes[n].node.as_mut() else {
                return Ok(());
            };
            let Some(action) = node.poll_action() else {
                break;
            };
            if self.verbose {
                println!("{:10.6} node {n}: {action:?}", self.t());
            }
            match action {
                Action::SendAdvert { instance, advert } => self.send(n, instance.0, advert),
                Action::AddAddresses { instance } => {
                    if std::mem::replace(&mut self.nodes[n].held[instance.0], true) {
                        return Err(format!(
                            "node {n} inst {} added addresses it already holds",
                            instance.0
                        ));
                    }
                }
                Action::RemoveAddresses { instance } => {
                    if !std::mem::replace(&mut self.nodes[n].held[instance.0], false) {
                        return Err(format!(
                            "node {n} inst {} removed addresses it does not hold",
                            instance.0
                        ));
                    }
                }
                Action::Announce { instance } | Action::AnnounceLowerPriority { instance, .. } => {
                    if !self.nodes[n].held[instance.0] {
                        return Err(format!(
                            "node {n} inst {} announced addresses it does not hold",
                            instance.0
                        ));
                    }
                }
                Action::Transition {
                    instance,
                    from,
                    to,
                    reason,
                    ..
                } => {
                    let seen = self.nodes[n].state[instance.0];
                    if seen != from {
                        return Err(format!(
                            "node {n} inst {}: transition from {from:?} but was {seen:?}",
                            instance.0
                        ));
                    }
                    if self.stable() {
                        return Err(format!(
                            "node {n} inst {}: flap {from:?} -> {to:?} ({}) on a quiet, settled network",
                            instance.0, reason.0
                        ));
                    }
                    self.nodes[n].state[instance.0] = to;
                    self.cov.transitions += 1;
                    self.cov.to_master += u64::from(to == State::Master);
                    self.cov.to_fault += u64::from(to == State::Fault);
                }
                Action::GroupTransition { .. } => {}
                other => return Err(format!("node {n}: unexpected action {other:?}")),
            }
        }
        let sn = &self.nodes[n];
        if let Some(node) = &sn.node {
            for i in 0..sn.state.len() {
                let state = node.state(InstanceId(i));
                if state != sn.state[i] {
                    return Err(format!(
                        "node {n} inst {i}: state {state:?} without a Transition"
                    ));
                }
                if sn.held[i] != (state == State::Master) {
                    return Err(format!(
                        "node {n} inst {i}: in {state:?} but holds addresses: {}",
                        sn.held[i]
                    ));
                }
            }
        }
        Ok(())
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

    fn start(&mut self, n: usize) -> Result<(), String> {
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
        self.drain(n)
    }

    fn master_of(&self, inst: usize) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|n| {
                self.nodes[*n]
                    .node
                    .as_ref()
                    .is_some_and(|node| node.state(InstanceId(inst)) == State::Master)
            })
            .collect()
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

    fn chaos(&mut self, c: Chaos) -> Result<(), String> {
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
                sn.node = None;
                sn.held.fill(false);
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
                if let Some(node) = self.nodes[n].node.as_mut() {
                    node.shutdown(self.now);
                    self.drain(n)?;
                    if self.nodes[n].held.iter().any(|h| *h) {
                        return Err(format!("node {n} still holds addresses after shutdown"));
                    }
                    self.nodes[n].node = None;
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
                    node.reconfigure(self.now, cfgs, self.sc.groups.clone());
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

    /// Invariants that hold on a settled, quiet network.
    fn check_stable(&mut self) -> Result<(), String> {
        if !self.stable() {
            return Ok(());
        }
        self.cov.settled_checks += 1;
        for inst in 0..self.sc.cfgs[0].len() {
            let live: Vec<(usize, &Node)> = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(n, s)| s.node.as_ref().map(|node| (n, node)))
                .collect();
            let id = InstanceId(inst);
            let eligible: Vec<usize> = live
                .iter()
                .filter(|(_, node)| node.state(id) != State::Fault)
                .map(|(n, _)| *n)
                .collect();
            let masters = self.master_of(inst);
            let want = usize::from(!eligible.is_empty());
            if masters.len() != want {
                return Err(format!(
                    "vrid index {inst}: masters {masters:?} (eligible {eligible:?}) on a settled network"
                ));
            }
            let key = |n: usize| {
                let node = self.nodes[n]
                    .node
                    .as_ref()
                    .map_or(0, |node| node.effective_priority(id));
                let addr = match self.sc.cfgs[n][inst].primary_address {
                    IpAddr::V4(a) => u128::from(u32::from(a)),
                    IpAddr::V6(a) => u128::from(a),
                };
                (node, addr)
            };
            if let Some(best) = eligible.iter().copied().max_by_key(|n| key(*n)) {
                let cfg = &self.nodes[best].cfgs[inst];
                let op = self.nodes[best].op[inst];
                let preempts = op == Op::Promoted
                    || (op == Op::None
                        && (cfg.preempt || cfg.initial_state == InitialState::Master));
                if preempts {
                    self.cov.best_node_checks += 1;
                }
                if preempts && masters != [best] {
                    return Err(format!(
                        "vrid index {inst}: best node {best} {:?} preempts but masters are {masters:?}",
                        key(best)
                    ));
                }
            }
        }
        for (n, sn) in self.nodes.iter().enumerate() {
            let (Some(node), Some(g)) = (&sn.node, self.sc.groups.first()) else {
                continue;
            };
            let states: Vec<State> = g.members.iter().map(|m| node.state(*m)).collect();
            if states.windows(2).any(|w| w[0] != w[1]) {
                return Err(format!("node {n}: sync group members disagree: {states:?}"));
            }
        }
        Ok(())
    }

    /// Random chaos for one phase starting now; returns when the phase ends.
    fn plan_phase(&mut self) {
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
        loop {
            self.steps += 1;
            if self.steps > 300_000 {
                return Err("schedule did not finish (event storm?)".into());
            }
            let timer = (0..n)
                .filter_map(|m| Some((self.nodes[m].node.as_ref()?.next_deadline()?, m)))
                .min();
            let event_at = self.queue.peek().map(|q| q.at);
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
                        }
                    }
                }
            }
            self.check_stable()?;
        }
        Ok(())
    }
}

fn run_schedule(seed: u64, verbose: bool) -> Result<Coverage, String> {
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
    let mut sim = Sim::new(seed, &sc, rng, verbose);
    sim.run(phases)?;
    Ok(sim.cov)
}

fn seed_of(case: u64) -> u64 {
    let mut r = Rng(case ^ 0xba70_0000_0000_0000);
    r.next()
}

#[test]
fn simulation() {
    let started = Instant::now();
    if let Ok(seed) = std::env::var("BATON_SIM_SEED") {
        let seed: u64 = seed.parse().expect("BATON_SIM_SEED must be a number");
        let result = run_schedule(seed, true);
        println!(
            "simulation: 1 schedules, {} violations, {:.1} s",
            u8::from(result.is_err()),
            started.elapsed().as_secs_f64()
        );
        if let Err(e) = result {
            panic!("seed {seed}: {e}");
        }
        return;
    }
    let cases: u64 = std::env::var("BATON_SIM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut failures = Vec::new();
    let mut cov = Coverage::default();
    for case in 0..cases {
        let seed = seed_of(case);
        match run_schedule(seed, false) {
            Ok(c) => cov.add(c),
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
    }
    println!(
        "simulation: {cases} schedules, {} violations, {:.1} s",
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
