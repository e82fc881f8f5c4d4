//! End-to-end: how long the service runs on both nodes (overlap) or on neither (gap)
//! when mastership moves between two live baton nodes, measured from the service
//! stand-in's own timestamps (tests/e2e/handover.rs). Issue 11 asks for overlap 0 while
//! the nodes are linked: the linked tests assert it for every handover, and a gap of at
//! most the stop plus the start plus 50 ms; the unlinked ones measure (keepalived's
//! behaviour) and assert that each handover completes (the new node ends MASTER with the
//! VIP and ran `notify_master`, the old one ran its hook for leaving MASTER).
//!
//! The pair is the NeuronEX guide's: a priority 100 (preempt, `state MASTER`, a tracked
//! check), b priority 90 (`nopreempt`), unicast, advert_int 0.1 (VRRPv3) or 1 (VRRPv2),
//! with and without a link block. Each run goes through every kind once:
//! stop (SIGTERM to a), restart (a comes back and preempts), check (a's check fails),
//! recover (it passes again, a preempts), demote (a) and release, promote (b) and
//! release. `BATON_HANDOVER_RUNS` sets the number of runs (see [`runs`]).

mod common;
mod e2e;

use common::netns::wait_for;
use e2e::handover::{
    A, B, NAMES, Pair, cli, overlap_gap, pair, service_intervals, settle, since, up_intervals,
    wait_link_up,
};
use e2e::{DEADLINE, HookLine, now_ns};

/// What one handover measured, in ms over the window from the trigger to completion.
#[derive(Debug, Clone, Copy)]
struct Figures {
    /// Both nodes inside a service interval (issue 11's quantity).
    overlap: f64,
    /// Neither, between the two.
    gap: f64,
    /// Both services up (each start finished, neither stop finished).
    both_up: f64,
}

/// Triggers one handover from `1 - to` to `to` with `act`, waits for it to complete and
/// returns what it measured.
fn handover(p: &mut Pair, kind: &str, to: usize, act: impl FnOnce(&mut Pair)) -> Figures {
    // Linked handovers start from a link that is up (a stopped node has none: restart).
    let both_up = p.c.daemons.iter_mut().all(|d| d.is_running());
    if p.linked && both_up {
        wait_link_up(p.c.d(A), &p.addrs[B]);
        wait_link_up(p.c.d(B), &p.addrs[A]);
    }
    let t0 = now_ns();
    act(p);
    settle(p, kind, to, t0);
    let (overlap, gap, t1) = since(p, t0);
    let lines = p.c.hooks();
    let up: Vec<_> = NAMES.iter().map(|n| up_intervals(&lines, n, t1)).collect();
    let (both_up, _) = overlap_gap(&up, t0, t1);
    if p.linked {
        // Between the old node's stop and the new node's start: a round trip, far below
        // the stop plus the start (1.3 s) plus 50 ms that issue 11 allows.
        assert!(
            gap <= 1_350_000_000,
            "{kind}: gap {} ms\n{}",
            gap / 1_000_000,
            p.c.all_logs()
        );
        assert_eq!(
            overlap,
            0,
            "{kind}: the service ran on both linked nodes\n--- service log ---\n{}\n{}",
            std::fs::read_to_string(p.c.hook_log()).unwrap_or_default(),
            p.c.all_logs()
        );
    }
    let ms = |ns: u128| ns as f64 / 1e6;
    Figures {
        overlap: ms(overlap),
        gap: ms(gap),
        both_up: ms(both_up),
    }
}

const KINDS: [&str; 8] = [
    "stop",
    "restart",
    "check",
    "recover",
    "demote",
    "demote-release",
    "promote",
    "promote-release",
];

/// One run: every kind once, in an order that ends where it began (a master).
fn run_once(p: &mut Pair) -> Vec<Figures> {
    vec![
        handover(p, "stop", B, |p| {
            assert_eq!(p.c.dm(A).term(), Some(0), "{}", p.c.all_logs());
        }),
        handover(p, "restart", A, |p| p.c.dm(A).restart()),
        handover(p, "check", B, |p| {
            std::fs::remove_file(&p.check_file).expect("fail a's check");
        }),
        handover(p, "recover", A, |p| {
            std::fs::write(&p.check_file, "").expect("pass a's check");
        }),
        handover(p, "demote", B, |p| {
            cli(p.c.d(A), &["demote", "VI_1"]);
        }),
        handover(p, "demote-release", A, |p| {
            cli(p.c.d(A), &["release", "VI_1"]);
        }),
        handover(p, "promote", B, |p| {
            cli(p.c.d(B), &["promote", "VI_1"]);
        }),
        handover(p, "promote-release", A, |p| {
            cli(p.c.d(B), &["release", "VI_1"]);
        }),
    ]
}

/// Runs per test: `BATON_HANDOVER_RUNS`, else 20 linked at advert_int 0.1 and 5 linked at
/// 1 s (every kind 25 times linked, as issue 11 asks at least 20), 3 unlinked (those only
/// measure).
fn runs(adv: &str, linked: bool) -> usize {
    let default = match (linked, adv) {
        (true, "1") => 5,
        (true, _) => 20,
        (false, _) => 3,
    };
    std::env::var("BATON_HANDOVER_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn measure(test: &str, adv: &str, version: u8, linked: bool) {
    let mut p = pair(test, adv, version, linked);
    let n = runs(adv, linked);
    let mut all: Vec<Vec<Figures>> = Vec::new();
    let label = format!(
        "advert_int {adv} (v{version}), {}",
        if linked { "linked" } else { "unlinked" }
    );
    for run in 1..=n {
        let r = run_once(&mut p);
        for (kind, f) in KINDS.iter().zip(&r) {
            println!(
                "{label}: run {run} {kind:<15} overlap {:7.1} ms  gap {:7.1} ms  both up {:7.1} ms",
                f.overlap, f.gap, f.both_up
            );
        }
        all.push(r);
    }
    for (k, kind) in KINDS.iter().enumerate() {
        let worst = |f: fn(&Figures) -> f64| all.iter().map(|r| f(&r[k])).fold(0.0, f64::max);
        println!(
            "{label}: worst of {n} {kind:<15} overlap {:7.1} ms  gap {:7.1} ms  both up {:7.1} ms",
            worst(|f| f.overlap),
            worst(|f| f.gap),
            worst(|f| f.both_up)
        );
    }
    // The stand-in ran nothing twice at once on one node (it serialises; this checks
    // that the log is read right): every node's begin/end lines alternate.
    for node in NAMES {
        let mut lines: Vec<HookLine> = p.c.hooks_of(node);
        lines.sort_by_key(|l| l.ns);
        let mut busy = false;
        for l in &lines {
            if l.phase.ends_with("_begin") {
                assert!(!busy, "{node}: two service steps at once: {lines:?}");
                busy = true;
            } else if l.phase.ends_with("_end") {
                busy = false;
            }
        }
    }
    wait_for(DEADLINE, "a still master at the end", || {
        p.c.d(A).state("VI_1").as_deref() == Some("MASTER")
    });
}

#[test]
fn handover_v3_fast_unlinked() {
    measure("e2e_ho_v3", "0.1", 3, false);
}

#[test]
fn handover_v2_guide_unlinked() {
    measure("e2e_ho_v2", "1", 2, false);
}

#[test]
fn handover_v3_fast_linked() {
    measure("e2e_ho_v3_link", "0.1", 3, true);
}

#[test]
fn handover_v2_guide_linked() {
    measure("e2e_ho_v2_link", "1", 2, true);
}

// The overlap/gap arithmetic on hand-written logs and intervals.

fn line(ns: u128, node: &str, phase: &str, label: &str, id: u32) -> HookLine {
    HookLine {
        ns,
        node: node.into(),
        phase: phase.into(),
        args: vec![label.into(), id.to_string()],
    }
}

#[test]
fn intervals_run_from_the_start_request_to_the_end_of_the_stop() {
    let log = [
        // b enters BACKUP at start-up: a stop while stopped opens nothing.
        line(5, "b", "stop_req", "notify_backup", 1),
        line(6, "b", "stop_end", "notify_backup", 1),
        // a, too, but becomes MASTER while that stop still runs: the stop's end does
        // not close the interval its start opened.
        line(7, "a", "stop_req", "notify_backup", 2),
        line(8, "a", "stop_begin", "notify_backup", 2),
        line(10, "a", "start_req", "notify_master", 3),
        line(11, "a", "stop_end", "notify_backup", 2),
        line(12, "a", "start_begin", "notify_master", 3),
        line(40, "a", "start_end", "notify_master", 3),
        line(100, "a", "stop_req", "notify_fault", 4),
        line(100, "a", "stop_begin", "notify_fault", 4),
        line(200, "a", "stop_end", "notify_fault", 4),
        line(300, "a", "start_req", "notify_master", 5),
        line(310, "a", "start_req", "notify_master", 6),
        line(330, "a", "start_end", "notify_master", 5),
    ];
    assert_eq!(
        service_intervals(&log, "a", 1000),
        vec![(10, 200), (300, 1000)]
    );
    assert_eq!(service_intervals(&log, "b", 1000), vec![]);
    // Out of order in the file (two writers): sorted by time first.
    let mut rev = log.to_vec();
    rev.reverse();
    assert_eq!(
        service_intervals(&rev, "a", 1000),
        vec![(10, 200), (300, 1000)]
    );
    // Up: from each finished start; the second start request (6) found it running.
    assert_eq!(up_intervals(&log, "a", 1000), vec![(40, 200), (330, 1000)]);
    // A stop asked for while the start still waited closes the time it was up.
    let queued = [
        line(0, "a", "start_req", "notify_master", 1),
        line(5, "a", "stop_req", "notify_backup", 2),
        line(300, "a", "start_end", "notify_master", 1),
        line(1300, "a", "stop_end", "notify_backup", 2),
    ];
    assert_eq!(up_intervals(&queued, "a", 2000), vec![(300, 1300)]);
    assert_eq!(service_intervals(&queued, "a", 2000), vec![(0, 1300)]);
}

#[test]
fn overlap_and_gap_of_hand_written_intervals() {
    // b starts 30 before a's stop ends: overlap 30, no gap.
    assert_eq!(
        overlap_gap(&[vec![(0, 100)], vec![(70, 500)]], 0, 500),
        (30, 0)
    );
    // b starts 40 after: gap 40.
    assert_eq!(
        overlap_gap(&[vec![(0, 100)], vec![(140, 500)]], 0, 500),
        (0, 40)
    );
    // Touching: neither.
    assert_eq!(
        overlap_gap(&[vec![(0, 100)], vec![(100, 500)]], 0, 500),
        (0, 0)
    );
    // The window clips: a's interval began before it; time before the first covered
    // instant and after the last is no gap.
    assert_eq!(
        overlap_gap(&[vec![(0, 100)], vec![(150, 300)]], 50, 400),
        (0, 50)
    );
    assert_eq!(overlap_gap(&[vec![(200, 300)], vec![]], 0, 1000), (0, 0));
    // Several intervals per node: each overlap and each hole counts.
    assert_eq!(
        overlap_gap(
            &[vec![(0, 100), (300, 400)], vec![(90, 250), (390, 600)]],
            0,
            600
        ),
        (20, 50)
    );
    // One inside the other.
    assert_eq!(
        overlap_gap(&[vec![(0, 1000)], vec![(200, 300)]], 0, 1000),
        (100, 0)
    );
    // Nothing at all.
    assert_eq!(overlap_gap(&[vec![], vec![]], 0, 1000), (0, 0));
}
