//! End-to-end: the etcd arbiter (issue 14), real `baton run` daemons in network
//! namespaces against a real three-member etcd cluster (Debian's etcd 3.4, each member in
//! a namespace of its own on the same bridge; tests/e2e/etcd.rs). Partitions are
//! nftables drops on the bridge, silent in both directions.
//!
//! The service is a stand-in driven by the notify hooks (`svc.sh`): `notify_master`
//! starts it (0.1 s), `notify_backup` / `notify_fault` / `notify_stop` stop it (0.2 s,
//! below `stop_margin`), every step a line with the hook's own `date +%s%N` in the shared
//! hook log, with the `BATON_FENCING_TOKEN` the hook was given. A node's service interval
//! runs from its start request to the end of the stop asked for after it (the arithmetic
//! of tests/e2e/handover.rs), and a node killed with SIGKILL stops serving at the kill
//! (its host is gone; its VIP is deleted as a reboot would). Besides the intervals, a
//! sampler thread reads every node's addresses every few milliseconds for the whole test:
//! no sample may show the VIP on two live nodes.
//!
//! - partition_between_nodes_one_serves: the two nodes cut off from each other, both
//!   reach etcd: both VRRP MASTER, only the election's holder serves; healed, still one.
//! - master_cut_off_from_etcd_stops_in_bound_and_other_takes_over (and hands back after
//!   the heal, without overlap).
//! - etcd_leader_killed_service_stays (lease_ttl 5).
//! - etcd_fully_down_stop_mode / etcd_fully_down_keep_mode.
//! - arbiter_only_three_nodes: mode only, no VRRP packet on the wire, failover on kill -9
//!   within lease_ttl + 1 s.
//! - fencing_token_reaches_hooks.
//! - etcd_cluster_harness: the etcd helper itself (leader, kill, restart, cut, heal).
//!
//! Measured times are printed (eprintln); the bounds asserted are the documented ones
//! with slack for a loaded 2-core machine.
#![cfg(feature = "etcd")]

mod common;
mod e2e;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::netns::{TestNet, wait_until};
use e2e::etcd::{Etcd, etcdctl};
use e2e::handover::{last_of, overlap_gap, service_hooks, service_intervals};
use e2e::{Cluster, Daemon, HookLine, Inst, conf, file_check, ms, now_ns};
use serde_json::Value;

const VIP: &str = "10.0.0.100";
const NAMES: [&str; 3] = ["a", "b", "c"];
/// How long the stand-in's start and stop take (the stop stays below stop_margin).
const START_S: &str = "0.1";
const STOP_S: &str = "0.2";
/// Deadline for a settled state (start-up, a takeover through etcd).
const SETTLE: Duration = Duration::from_secs(20);

/// The service stand-in: `svc.sh NODE LABEL start|stop`, run by every notify hook.
fn service_script(log: &std::path::Path) -> String {
    format!(
        "#!/bin/sh\n\
         node=$1 label=$2 action=$3\n\
         echo \"$(date +%s%N) $node ${{action}}_req $label $$ tok=${{BATON_FENCING_TOKEN-unset}}\" >> {log}\n\
         if [ \"$action\" = start ]; then sleep {START_S}; else sleep {STOP_S}; fi\n\
         echo \"$(date +%s%N) $node ${{action}}_end $label $$\" >> {log}\n",
        log = log.display()
    )
}

#[derive(Debug, Clone)]
struct Opts {
    /// Baton nodes (2: a pair; 3 for mode only).
    nodes: usize,
    ttl: u32,
    mode: &'static str,
    etcd_down: &'static str,
    stop_margin: &'static str,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            nodes: 2,
            ttl: 2,
            mode: "vrrp",
            etcd_down: "stop",
            stop_margin: "0.5",
        }
    }
}

/// Baton nodes on TestNet nodes 0..n, etcd members on n..n+3, one bridge; the cluster
/// goes first (its daemons killed), then etcd.
struct Rig {
    c: Cluster,
    etcd: Etcd,
    o: Opts,
    /// When each node was killed (SIGKILL), if it was: its service ends there.
    killed: Vec<Option<u128>>,
    sampler: Option<Sampler>,
}

impl Rig {
    /// The rig with its nodes started (a first in mode vrrp, so that it serves).
    fn new(test: &str, o: Opts) -> Rig {
        let mut r = Rig::prepare(test, o);
        r.start_all();
        r
    }

    /// Namespaces, etcd and the sampler; no baton yet.
    fn prepare(test: &str, o: Opts) -> Rig {
        let n = o.nodes;
        let c = Cluster::new(test, n + 3);
        let etcd = Etcd::start(&c.net, [n, n + 1, n + 2]);
        c.write_script("svc.sh", &service_script(&c.hook_log()));
        let sampler = Some(Sampler::start(&c, n));
        Rig {
            c,
            etcd,
            killed: vec![None; n],
            o,
            sampler,
        }
    }

    fn start_all(&mut self) {
        let (c, etcd, o) = (&mut self.c, &self.etcd, &self.o);
        let n = o.nodes;
        let addrs: Vec<String> = (0..n).map(|i| c.net.node(i).v4.to_string()).collect();
        for i in 0..n {
            let me = NAMES[i];
            let prio = 100 - 10 * u8::try_from(i).expect("few nodes");
            let mut inst = if i == 0 && o.mode == "vrrp" {
                Inst::new(prio, "MASTER")
            } else {
                Inst::new(prio, "BACKUP")
            };
            inst.nopreempt = i > 0;
            if o.mode == "vrrp" {
                let peers = addrs.iter().filter(|a| **a != addrs[i]).cloned().collect();
                inst.unicast = Some((addrs[i].clone(), peers));
            }
            inst.extra = service_hooks(c, me);
            // Mode only: a check per node (`ok_NODE` exists), to show that a failing one
            // gives the election up.
            let mut scripts = String::new();
            if o.mode == "only" {
                let ok = c.path(&format!("ok_{me}"));
                std::fs::write(&ok, "").expect("write the check's file");
                scripts = file_check(&format!("ok_{me}"), &ok, "0.1", "");
                inst.track_scripts = vec![format!("ok_{me}")];
            }
            let text = conf(me, &scripts, &[&inst]);
            let bc = format!(
                "arbiter etcd {{\n    endpoints {}\n    instance VI_1\n    name {me}\n    \
                 lease_ttl {}\n    mode {}\n    etcd_down {}\n    stop_margin {}\n    \
                 request_timeout 0.5\n}}\n",
                etcd.endpoints_line(),
                o.ttl,
                o.mode,
                o.etcd_down,
                o.stop_margin
            );
            c.start_baton(me, i, &text, &bc);
            if i == 0 && o.mode == "vrrp" {
                // a first, so that it is the one that serves.
                let master = || c.d(0).state("VI_1").as_deref() == Some("MASTER");
                wait_until(SETTLE, "a MASTER", master, String::new);
            }
        }
    }

    fn n(&self) -> usize {
        self.o.nodes
    }

    fn d(&self, i: usize) -> &Daemon {
        self.c.d(i)
    }

    /// The node's `arbiter` row of `baton status --json` (Null while it does not answer).
    fn arb(&self, i: usize) -> Value {
        if self.killed[i].is_some() {
            return Value::Null;
        }
        self.d(i)
            .try_status()
            .and_then(|s| s["arbiter"].as_array().and_then(|a| a.first().cloned()))
            .unwrap_or(Value::Null)
    }

    fn state(&self, i: usize) -> Option<String> {
        if self.killed[i].is_some() {
            return None;
        }
        self.d(i).state("VI_1")
    }

    /// `i` serves: MASTER, its arbiter row says serving, the VIP is on its eth0 and its
    /// last service step since `since` is a finished start.
    fn serves(&self, i: usize, lines: &[HookLine], since: u128) -> bool {
        self.killed[i].is_none()
            && last_of(lines, NAMES[i], since).is_some_and(|l| l.phase == "start_end")
            && self.state(i).as_deref() == Some("MASTER")
            && self.arb(i)["serving"] == true
            && self.c.has_addr(i, VIP)
    }

    /// `i` does not serve: no VIP, its row not serving, its service not started (or
    /// stopping or stopped: a FAULT's notify may be running) since `since`.
    fn idle(&self, i: usize, lines: &[HookLine], since: u128) -> bool {
        if self.killed[i].is_some() {
            return true;
        }
        let stopped = last_of(lines, NAMES[i], since).is_none_or(|l| l.phase.starts_with("stop"));
        stopped && self.arb(i)["serving"] == false && !self.c.has_addr(i, VIP)
    }

    /// Waits until `who` serves and every other live node does not.
    fn settle(&self, what: &str, who: usize, since: u128) {
        wait_until(
            SETTLE,
            what,
            || {
                let lines = self.c.hooks();
                self.serves(who, &lines, since)
                    && (0..self.n()).all(|i| i == who || self.idle(i, &lines, since))
            },
            || self.context(),
        );
    }

    /// Waits until exactly one live node serves and the others do not; returns it.
    fn settle_any(&self, what: &str, since: u128) -> usize {
        let mut who = None;
        wait_until(
            SETTLE,
            what,
            || {
                let lines = self.c.hooks();
                who = (0..self.n()).find(|&i| self.serves(i, &lines, since));
                who.is_some_and(|w| (0..self.n()).all(|i| i == w || self.idle(i, &lines, since)))
            },
            || self.context(),
        );
        who.expect("one serves")
    }

    /// SIGKILL to baton `i`; its VIP goes as with the host (a dead host holds nothing).
    fn crash(&mut self, i: usize) -> u128 {
        if let Some(s) = &self.sampler {
            s.mark_dead(i);
        }
        let t = now_ns();
        self.killed[i] = Some(t);
        self.c.dm(i).kill();
        let node = self.c.net.node(i).clone();
        let _ = self.c.net.exec(
            &node.ns,
            "ip",
            &["addr", "del", &format!("{VIP}/24"), "dev", &node.ifname],
        );
        t
    }

    /// The nodes' service intervals up to now (a killed node's end at its kill).
    fn intervals(&self, lines: &[HookLine], until: u128) -> Vec<Vec<(u128, u128)>> {
        (0..self.n())
            .map(|i| {
                let end = self.killed[i].unwrap_or(until);
                service_intervals(lines, NAMES[i], until)
                    .into_iter()
                    .filter(|(s, _)| *s < end)
                    .map(|(s, e)| (s, e.min(end)))
                    .collect()
            })
            .collect()
    }

    /// Overlap and gap (ms) of the service intervals between `t0` and now.
    fn figures(&self, t0: u128) -> (f64, f64) {
        let t1 = now_ns();
        let lines = self.c.hooks();
        let (overlap, gap) = overlap_gap(&self.intervals(&lines, t1), t0, t1);
        (overlap as f64 / 1e6, gap as f64 / 1e6)
    }

    /// No two service intervals overlapped since `t0`, and no address sample so far
    /// showed the VIP on two live nodes.
    fn assert_one_at_a_time(&mut self, label: &str, t0: u128) {
        let (overlap, gap) = self.figures(t0);
        eprintln!("{label}: service overlap {overlap:.1} ms, gap {gap:.1} ms");
        assert_eq!(
            overlap,
            0.0,
            "{label}: the service ran on two nodes at once\n{}",
            self.context()
        );
        if let Some(s) = &self.sampler {
            let (n, both) = s.check();
            eprintln!("{label}: {n} address samples, none with the VIP on two nodes");
            assert!(
                both.is_none(),
                "{label}: the VIP was on two nodes at {both:?}\n{}",
                self.context()
            );
        }
    }

    /// The first service line of `node` with `phase` at or after `since`.
    fn first_line(&self, node: usize, phase: &str, since: u128) -> Option<HookLine> {
        self.c
            .hooks()
            .into_iter()
            .filter(|l| l.node == NAMES[node] && l.phase == phase && l.ns >= since)
            .min_by_key(|l| l.ns)
    }

    /// Polls `check` every 50 ms for `dur`; panics (with the context) the first time it
    /// fails. A window in which something must keep holding.
    fn hold(&self, dur: Duration, what: &str, mut check: impl FnMut() -> Result<(), String>) {
        let end = Instant::now() + dur;
        while Instant::now() < end {
            if let Err(e) = check() {
                panic!("{what}: {e}\n{}", self.context());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn context(&self) -> String {
        let mut s = format!(
            "--- service log ---\n{}\n",
            std::fs::read_to_string(self.c.hook_log()).unwrap_or_default()
        );
        for (i, name) in NAMES.iter().enumerate().take(self.n()) {
            s.push_str(&format!("--- {name} arbiter row: {}\n", self.arb(i)));
        }
        s.push_str(&self.c.all_logs());
        s.push_str(&self.etcd.logs());
        s
    }
}

/// The `tok=` a service request line carries: the hook's BATON_FENCING_TOKEN ("unset"
/// when the variable was not in its environment).
fn token_of(l: &HookLine) -> Option<String> {
    l.args
        .iter()
        .find_map(|a| a.strip_prefix("tok=").map(str::to_string))
}

/// When (ns) and, per node, whether the VIP was on it.
type Sample = (u128, Vec<bool>);

/// Reads every node's eth0 addresses in a loop, for the whole test: (time, VIP on node i).
struct Sampler {
    stop: Arc<AtomicBool>,
    dead: Arc<Vec<AtomicBool>>,
    samples: Arc<std::sync::Mutex<Vec<Sample>>>,
    handle: Option<JoinHandle<()>>,
}

impl Sampler {
    fn start(c: &Cluster, n: usize) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let dead: Arc<Vec<AtomicBool>> = Arc::new((0..n).map(|_| AtomicBool::new(false)).collect());
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let nss: Vec<String> = (0..n).map(|i| c.net.node(i).ns.clone()).collect();
        let handle = {
            let (stop, dead, samples) = (stop.clone(), dead.clone(), samples.clone());
            std::thread::spawn(move || {
                let needle = format!(" {VIP}/");
                while !stop.load(Ordering::Relaxed) {
                    let t = now_ns();
                    let row: Vec<bool> = nss
                        .iter()
                        .enumerate()
                        .map(|(i, ns)| {
                            let out = Command::new("ip")
                                .args(["-n", ns, "-o", "-4", "addr", "show", "dev", "eth0"])
                                .output();
                            !dead[i].load(Ordering::Relaxed)
                                && out.is_ok_and(|o| {
                                    String::from_utf8_lossy(&o.stdout).contains(&needle)
                                })
                        })
                        .collect();
                    samples.lock().expect("samples").push((t, row));
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Sampler {
            stop,
            dead,
            samples,
            handle: Some(handle),
        }
    }

    fn mark_dead(&self, i: usize) {
        self.dead[i].store(true, Ordering::Relaxed);
    }

    /// The number of samples so far and the first one with the VIP on two live nodes.
    fn check(&self) -> (usize, Option<(u128, Vec<bool>)>) {
        let s = self.samples.lock().expect("samples");
        let both = s
            .iter()
            .find(|(_, row)| row.iter().filter(|b| **b).count() > 1)
            .cloned();
        (s.len(), both)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// tcpdump on the bridge (the hub namespace) for `filter`; `stop` gives the lines seen.
struct Sniffer {
    child: Child,
    out: std::path::PathBuf,
}

impl Sniffer {
    fn start(hub: &str, filter: &str, out: std::path::PathBuf) -> Sniffer {
        let file = std::fs::File::create(&out).expect("sniffer output");
        let mut child = Command::new("ip")
            .args(["netns", "exec", hub, "tcpdump", "-l", "-n", "-i", "br0"])
            .args(filter.split_whitespace())
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcpdump");
        e2e::tcpdump_listening(&mut child);
        Sniffer { child, out }
    }

    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The documented bound on when a node that can no longer renew its lease stops
/// serving, counted from the last keep-alive it sent that was answered:
/// `ttl·(1 − drift)/(1 + drift) − stop_margin` (drift 1 %). A cut at `t` leaves that
/// keep-alive at most one keep-alive interval (ttl/3) before `t`; its leaving hooks end by
/// `t` + the bound + 1 s of slack (hook start-up, a loaded machine) in the tests.
fn stop_bound_ms(ttl: u32, margin: f64) -> f64 {
    let ttl = f64::from(ttl);
    (ttl * 0.99 / 1.01 - margin) * 1000.0 + ttl / 3.0 * 1000.0 + 1000.0
}

#[test]
fn partition_between_nodes_one_serves() {
    let mut r = Rig::new("arb_split", Opts::default());
    r.settle("a serves, b does not", 0, 0);
    let t0 = now_ns();
    r.etcd.cut_between(0, 1);
    // b no longer hears a: VRRP makes it MASTER too, but the election is a's.
    wait_until(
        SETTLE,
        "both VRRP MASTER",
        || r.state(0).as_deref() == Some("MASTER") && r.state(1).as_deref() == Some("MASTER"),
        || r.context(),
    );
    let both_at = now_ns();
    eprintln!(
        "partition: b VRRP MASTER {:.1} ms after the cut",
        ms(t0, both_at)
    );
    let b_row = r.arb(1);
    assert_eq!(b_row["serving"], false, "{}", r.context());
    assert_eq!(b_row["leader"], "a", "b's view of the election: {b_row}");
    // Both MASTER for longer than a lease: b never serves, a never stops.
    r.hold(Duration::from_secs(3), "partitioned", || {
        let lines = r.c.hooks();
        if r.state(1).as_deref() != Some("MASTER") {
            return Err(format!("b left MASTER: {:?}", r.state(1)));
        }
        if !r.serves(0, &lines, 0) {
            return Err("a stopped serving".into());
        }
        if !r.idle(1, &lines, 0) {
            return Err("b serves".into());
        }
        Ok(())
    });
    assert!(
        r.first_line(1, "start_req", t0).is_none(),
        "b started its service while partitioned\n{}",
        r.context()
    );
    r.assert_one_at_a_time("partition", t0);

    let t1 = now_ns();
    r.etcd.heal();
    // b hears a's higher priority again: BACKUP; a goes on serving throughout.
    wait_until(
        SETTLE,
        "b BACKUP after heal",
        || r.state(1).as_deref() == Some("BACKUP"),
        || r.context(),
    );
    r.settle("after heal: a serves", 0, 0);
    r.hold(Duration::from_secs(1), "healed", || {
        let lines = r.c.hooks();
        if r.serves(0, &lines, 0) && r.idle(1, &lines, 0) {
            Ok(())
        } else {
            Err("not exactly a serving".into())
        }
    });
    assert!(
        r.first_line(0, "stop_req", t0).is_none(),
        "a stopped at some point\n{}",
        r.context()
    );
    eprintln!("heal: b BACKUP {:.1} ms after the heal", ms(t1, now_ns()));
    r.assert_one_at_a_time("partition and heal", 0);
}

#[test]
fn master_cut_off_from_etcd_stops_in_bound_and_other_takes_over() {
    let o = Opts::default();
    let (ttl, margin) = (o.ttl, 0.5);
    let mut r = Rig::new("arb_cut", o);
    r.settle("a serves, b does not", 0, 0);
    let t0 = now_ns();
    r.etcd.cut_from_etcd(0);
    wait_until(
        SETTLE,
        "a's leaving hook to end",
        || r.first_line(0, "stop_end", t0).is_some(),
        || r.context(),
    );
    let stop = r.first_line(0, "stop_end", t0).expect("a's stop");
    let stop_req = r.first_line(0, "stop_req", t0).expect("a's stop request");
    let stop_ms = ms(t0, stop.ns);
    wait_until(
        SETTLE,
        "a FAULT",
        || r.state(0).as_deref() == Some("FAULT"),
        || r.context(),
    );
    let bound = stop_bound_ms(ttl, margin);
    eprintln!(
        "cut from etcd: a's {} began {:.1} ms and ended {stop_ms:.1} ms after the cut \
         (asserted bound {bound:.0} ms; lease deadline at most {:.0} ms)",
        stop_req.args[0],
        ms(t0, stop_req.ns),
        (f64::from(ttl) * 0.99 / 1.01 - margin) * 1000.0
    );
    assert_eq!(stop_req.args[0], "notify_fault", "{}", r.context());
    assert!(
        stop_ms <= bound,
        "a stopped {stop_ms:.1} ms after the cut, bound {bound:.0}\n{}",
        r.context()
    );
    let a_row = r.arb(0);
    eprintln!("a while cut off: {a_row}");
    assert_eq!(a_row["serving"], false);
    assert_eq!(a_row["healthy"], false);

    r.settle("b takes over", 1, t0);
    let b_start = r.first_line(1, "start_req", t0).expect("b's start");
    eprintln!(
        "cut from etcd: b's notify_master {:.1} ms after the cut, {:.1} ms after a's stop ended",
        ms(t0, b_start.ns),
        ms(stop.ns, b_start.ns)
    );
    assert!(b_start.ns > stop.ns, "b started before a stopped");
    r.assert_one_at_a_time("cut from etcd", t0);

    // Healed: a (priority 100, preempt) comes back from FAULT and takes the service back
    // once b's stop has ended and b resigned.
    let t1 = now_ns();
    r.etcd.heal();
    r.settle("after heal: a serves again", 0, t1);
    let back = r.first_line(0, "start_req", t1).expect("a's start");
    let b_stop = r.first_line(1, "stop_end", t1).expect("b's stop");
    eprintln!(
        "heal: a serves again {:.1} ms after the heal, {:.1} ms after b's stop ended",
        ms(t1, back.ns),
        ms(b_stop.ns, back.ns)
    );
    r.assert_one_at_a_time("cut, takeover and hand back", 0);
}

#[test]
fn etcd_leader_killed_service_stays() {
    let o = Opts {
        ttl: 5,
        stop_margin: "1",
        ..Opts::default()
    };
    let mut r = Rig::new("arb_leader", o);
    r.settle("a serves, b does not", 0, 0);
    let before = r.arb(0);
    // a starts in FAULT until its first lease: the kill must add none.
    let faults = |r: &Rig| {
        (r.d(0).transitions("VI_1").iter())
            .filter(|(_, to)| to == "FAULT")
            .count()
    };
    let faults_before = faults(&r);
    // And b never hears a's adverts stop (advert_int 0.1: a stall of 0.36 s would do).
    let b_masters = |r: &Rig| {
        (r.d(1).transitions("VI_1").iter())
            .filter(|(_, to)| to == "MASTER")
            .count()
    };
    let b_masters_before = b_masters(&r);
    let leader = r.etcd.wait_leader(Duration::from_secs(10), |_| true);
    let t0 = now_ns();
    let killed = Instant::now();
    r.etcd.kill(leader);
    let next = r.etcd.wait_leader(Duration::from_secs(10), |k| k != leader);
    eprintln!(
        "etcd leader m{leader} ({}) killed; m{next} leads after {} ms; a used {} before",
        r.etcd.members[leader].endpoint(),
        killed.elapsed().as_millis(),
        before["endpoint"]
    );
    // Longer than a's lease: it must have renewed through the new leader to be serving
    // at the end of it.
    r.hold(Duration::from_secs(6), "etcd leader killed", || {
        let lines = r.c.hooks();
        if !r.serves(0, &lines, 0) {
            return Err(format!("a stopped serving: {}", r.arb(0)));
        }
        if !r.idle(1, &lines, 0) {
            return Err("b serves".into());
        }
        Ok(())
    });
    let after = r.arb(0);
    eprintln!("a after the etcd election: {after}");
    assert_eq!(after["healthy"], true);
    assert_eq!(after["token"], before["token"], "a's term changed");
    assert!(
        r.first_line(0, "stop_req", t0).is_none() && r.first_line(1, "start_req", t0).is_none(),
        "the service moved\n{}",
        r.context()
    );
    assert!(faults(&r) == faults_before, "a went FAULT\n{}", r.context());
    assert_eq!(
        b_masters(&r),
        b_masters_before,
        "b became VRRP MASTER: a's adverts stalled\n{}",
        r.context()
    );
    r.assert_one_at_a_time("etcd leader killed", 0);
}

#[test]
fn etcd_fully_down_stop_mode() {
    let o = Opts::default();
    let (ttl, margin) = (o.ttl, 0.5);
    let mut r = Rig::new("arb_down_stop", o);
    r.settle("a serves, b does not", 0, 0);
    let t0 = now_ns();
    r.etcd.kill_all();
    wait_until(
        SETTLE,
        "a's leaving hook to end",
        || r.first_line(0, "stop_end", t0).is_some(),
        || r.context(),
    );
    let stop = r.first_line(0, "stop_end", t0).expect("a's stop");
    let stop_ms = ms(t0, stop.ns);
    let bound = stop_bound_ms(ttl, margin);
    eprintln!("etcd down (stop): a's service stopped {stop_ms:.1} ms after (bound {bound:.0})");
    assert!(stop_ms <= bound, "{}", r.context());
    wait_until(
        SETTLE,
        "a FAULT",
        || r.state(0).as_deref() == Some("FAULT"),
        || r.context(),
    );
    // Nobody serves while etcd is down.
    r.hold(Duration::from_secs(3), "etcd down", || {
        let lines = r.c.hooks();
        match (0..2).find(|&i| !r.idle(i, &lines, t0)) {
            Some(i) => Err(format!("{} serves with etcd down", NAMES[i])),
            None => Ok(()),
        }
    });
    eprintln!(
        "etcd down (stop): a {:?}, b {:?}; b: {}",
        r.state(0),
        r.state(1),
        r.arb(1)
    );
    let t1 = now_ns();
    r.etcd.restart_all();
    let who = r.settle_any("one serves once etcd is back", t1);
    eprintln!(
        "etcd back: {} serves {:.1} ms after the restart began",
        NAMES[who],
        ms(t1, r.first_line(who, "start_req", t1).expect("start").ns)
    );
    r.assert_one_at_a_time("etcd down and back (stop)", 0);
}

#[test]
fn etcd_fully_down_keep_mode() {
    let o = Opts {
        etcd_down: "keep",
        ..Opts::default()
    };
    let ttl = o.ttl;
    let mut r = Rig::new("arb_down_keep", o);
    r.settle("a serves, b does not", 0, 0);
    let t0 = now_ns();
    r.etcd.kill_all();
    // Well past the lease: a keeps serving.
    r.hold(
        Duration::from_millis(u64::from(ttl) * 1000 + 1500),
        "etcd down (keep)",
        || {
            let lines = r.c.hooks();
            if !r.serves(0, &lines, 0) {
                return Err(format!("a stopped: {}", r.arb(0)));
            }
            if !r.idle(1, &lines, 0) {
                return Err("b serves".into());
            }
            Ok(())
        },
    );
    assert!(r.first_line(0, "stop_req", t0).is_none(), "{}", r.context());
    eprintln!("etcd down (keep): a still serves; a: {}", r.arb(0));

    // The master dies while etcd is down: b becomes VRRP MASTER but never starts.
    let killed = r.crash(0);
    r.hold(
        Duration::from_millis(u64::from(ttl) * 1000 + 1500),
        "master dead, etcd down",
        || {
            let lines = r.c.hooks();
            if r.idle(1, &lines, 0) {
                Ok(())
            } else {
                Err("b serves without the election".into())
            }
        },
    );
    assert!(
        r.first_line(1, "start_req", t0).is_none(),
        "{}",
        r.context()
    );
    eprintln!(
        "etcd down (keep), a killed: b {:?}, never started; b: {}",
        r.state(1),
        r.arb(1)
    );

    let t1 = now_ns();
    r.etcd.restart_all();
    r.settle("b serves once etcd is back", 1, t1);
    eprintln!(
        "etcd back: b serves {:.1} ms after the restart began ({:.1} ms after a's kill)",
        ms(t1, r.first_line(1, "start_req", t1).expect("start").ns),
        ms(killed, now_ns())
    );
    r.assert_one_at_a_time("etcd down and back (keep)", 0);
}

#[test]
fn arbiter_only_three_nodes() {
    let o = Opts {
        nodes: 3,
        mode: "only",
        ..Opts::default()
    };
    let ttl = o.ttl;
    let mut r = Rig::prepare("arb_only", o);
    // Nothing on the wire for VRRP from the moment the nodes start.
    let sniff = Sniffer::start(
        r.c.net.hub.as_deref().expect("hub"),
        "ip proto 112",
        r.c.path("vrrp.txt"),
    );
    r.start_all();
    let first = r.settle_any("one of three serves", 0);
    for (i, name) in NAMES.iter().enumerate() {
        let row = r.arb(i);
        assert_eq!(row["mode"], "only", "{row}");
        assert_eq!(row["leader"], NAMES[first], "{name}: {row}");
        if i != first {
            assert_eq!(r.state(i).as_deref(), Some("BACKUP"), "{}", r.context());
        }
    }
    r.hold(Duration::from_secs(1), "settled", || {
        let lines = r.c.hooks();
        if r.serves(first, &lines, 0) && (0..3).all(|i| i == first || r.idle(i, &lines, 0)) {
            Ok(())
        } else {
            Err("not exactly one serving".into())
        }
    });
    let t0 = r.crash(first);
    let next = r.settle_any("another serves after the kill", t0);
    let start = r.first_line(next, "start_req", t0).expect("start");
    let takeover = ms(t0, start.ns);
    eprintln!(
        "arbiter only: {} killed, {} serves {takeover:.1} ms later (bound {} ms)",
        NAMES[first],
        NAMES[next],
        ttl * 1000 + 1000
    );
    assert!(
        takeover <= f64::from(ttl * 1000 + 1000),
        "takeover {takeover:.1} ms\n{}",
        r.context()
    );
    // The new holder's check fails: it gives the election up once its service is down,
    // and the last node takes over.
    let t1 = now_ns();
    std::fs::remove_file(r.c.path(&format!("ok_{}", NAMES[next]))).expect("fail the check");
    let last = r.settle_any("the third serves after the check failed", t1);
    assert!(last != next && last != first, "{}", r.context());
    let start = r.first_line(last, "start_req", t1).expect("start");
    eprintln!(
        "arbiter only: {}'s check failed, {} serves {:.1} ms later",
        NAMES[next],
        NAMES[last],
        ms(t1, start.ns)
    );
    assert_eq!(r.state(next).as_deref(), Some("FAULT"), "{}", r.context());
    r.assert_one_at_a_time("arbiter only", 0);
    let vrrp = sniff.stop();
    eprintln!("arbiter only: {} VRRP packets on the bridge", vrrp.len());
    assert!(vrrp.is_empty(), "VRRP packets in mode only: {vrrp:?}");
}

#[test]
fn fencing_token_reaches_hooks() {
    let mut r = Rig::new("arb_token", Opts::default());
    r.settle("a serves, b does not", 0, 0);
    let a_start = r.first_line(0, "start_req", 0).expect("a's start");
    let a_tok = token_of(&a_start).expect("tok= in a's line");
    let row = r.arb(0);
    eprintln!("a's notify_master BATON_FENCING_TOKEN={a_tok}; a's status row {row}");
    let a_token = row["token"].as_i64().expect("a's token in status");
    assert_eq!(a_tok, a_token.to_string(), "{}", r.context());
    assert_eq!(row["leader_token"], a_token);
    assert_eq!(r.arb(1)["leader_token"], a_token, "b sees a's term");
    // b entered BACKUP at start, holding no term: its hook had no token.
    let b_first = r.first_line(1, "stop_req", 0).expect("b's notify_backup");
    let b_tok = token_of(&b_first).expect("tok= in b's line");
    assert!(
        b_tok.is_empty() || b_tok == "unset",
        "b's {} had BATON_FENCING_TOKEN={b_tok} without a term",
        b_first.args[0]
    );

    // A handover: a demoted, b's term follows a's.
    let t0 = now_ns();
    r.d(0).cli(&["demote", "VI_1"]);
    r.settle("b serves after a's demotion", 1, t0);
    let b_start = r.first_line(1, "start_req", t0).expect("b's start");
    let a_stop = r.first_line(0, "stop_end", t0).expect("a's stop");
    let b_tok: i64 = token_of(&b_start)
        .and_then(|t| t.parse().ok())
        .expect("b's token is a number");
    let b_row = r.arb(1);
    eprintln!(
        "demote: b's notify_master {:.1} ms after the demote, {:.1} ms after a's stop ended; \
         token {a_token} -> {b_tok}",
        ms(t0, b_start.ns),
        ms(a_stop.ns, b_start.ns)
    );
    assert_eq!(b_row["token"], b_tok, "{b_row}");
    assert!(
        b_tok > a_token,
        "the later term has token {b_tok} <= {a_token}"
    );
    // Every hook of the leaving side saw a's term or none, never b's.
    for l in
        r.c.hooks()
            .iter()
            .filter(|l| l.node == "a" && l.phase == "stop_req")
    {
        let t = token_of(l).unwrap_or_default();
        assert!(
            t != b_tok.to_string(),
            "a's {} saw b's token {t}",
            l.args[0]
        );
    }
    r.assert_one_at_a_time("demote", 0);
}

/// The harness itself: three members elect a raft leader; killed, another takes over and
/// the two left still answer; restarted, it rejoins; a node cut off from etcd on the
/// bridge cannot reach any member, and can again once healed.
#[test]
fn etcd_cluster_harness() {
    let net = TestNet::bridged("arb_harness", 4);
    let mut etcd = Etcd::start(&net, [1, 2, 3]);
    let client = net.node(0).ns.clone();
    let all = etcd.endpoints_line().replace(' ', ",");
    let put = |ns: &str, key: &str| etcdctl(ns, &all, &["put", key, "v"]).status.success();
    assert!(
        put(&client, "/t/one"),
        "put before any fault\n{}",
        etcd.logs()
    );

    let first = etcd.wait_leader(Duration::from_secs(10), |_| true);
    let killed = Instant::now();
    etcd.kill(first);
    let second = etcd.wait_leader(Duration::from_secs(10), |k| k != first);
    eprintln!(
        "etcd leader m{first} killed: m{second} leads {} ms later",
        killed.elapsed().as_millis()
    );
    etcd.wait_healthy(Duration::from_secs(10));
    assert!(
        put(&client, "/t/two"),
        "put with one member down\n{}",
        etcd.logs()
    );

    etcd.restart(first);
    etcd.wait_healthy(Duration::from_secs(20));
    assert_eq!(etcd.live().len(), 3);
    let keys = etcd.get_prefix("/t/").expect("get --prefix");
    assert_eq!(
        keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["/t/one", "/t/two"]
    );

    etcd.cut_from_etcd(0);
    assert!(
        !put(&client, "/t/cut"),
        "a node cut off from etcd still reaches it"
    );
    etcd.heal();
    assert!(put(&client, "/t/healed"), "put after heal\n{}", etcd.logs());

    etcd.kill_all();
    assert!(etcd.live().is_empty());
    assert!(
        !put(&client, "/t/down"),
        "etcd answers with every member down"
    );
    etcd.restart_all();
    assert!(
        put(&client, "/t/back"),
        "put after restart\n{}",
        etcd.logs()
    );
}
