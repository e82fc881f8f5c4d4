//! End-to-end: configs compared over the link. A VIP changed on one node of a linked
//! pair shows on both nodes as a `virtual_addresses` difference with both values, the
//! daemons log one warning each, and fixing it (reload) clears it with one line logged.
//!
//! `baton check --against-peer` compares a file with what the running peer has, before
//! a reload.
//!
//! Node a is 10.0.0.1 (priority 150, master), b is 10.0.0.2 (100).

mod common;
mod e2e;

use nix::sys::signal::Signal;
use serde_json::Value;

use e2e::link::{approve_each_other, start_linked};
use e2e::{BATON, Cluster, Inst, conf};

const A: &str = "10.0.0.1";
const B: &str = "10.0.0.2";

/// The `virtual_addresses` difference of VI_1 in a row, if the row lists one.
fn vip_difference(row: &Value) -> Option<Value> {
    row["config"]["differences"]
        .as_array()?
        .iter()
        .find(|d| d["instance"] == "VI_1" && d["field"] == "virtual_addresses")
        .cloned()
}

fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// Warning lines about the VIP difference in a log (tracing's `WARN` level).
fn vip_warnings(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("WARN") && l.contains("virtual_addresses"))
        .count()
}

#[test]
fn changed_vip_is_a_difference_on_both_nodes_until_fixed() {
    let mut c = Cluster::new("link_config", 2);
    let ia = Inst::new(150, "BACKUP");
    let ib = Inst::new(100, "BACKUP");
    let a = start_linked(&mut c, "a", 0, &ia, &[1], &[]);
    let b = start_linked(&mut c, "b", 1, &ib, &[0], &[]);
    c.d(a).wait_state("VI_1", "MASTER");
    c.d(b).wait_state("VI_1", "BACKUP");
    approve_each_other(&c, a, b, A, B);
    // Alike at first.
    for (d, peer) in [(a, B), (b, A)] {
        let r = c
            .d(d)
            .wait_row(peer, "config compared", |r| !r["config"].is_null());
        assert_eq!(r["config"]["matches"], true, "{r}");
        assert_eq!(r["config"]["differences"], Value::Array(vec![]), "{r}");
    }

    // b gets another VIP and reloads.
    let mut changed = ib.clone();
    changed.vips = vec!["10.0.0.101/24".into()];
    std::fs::write(&c.d(b).conf, conf("b", "", &[&changed])).expect("write conf");
    c.d(b).signal(Signal::SIGHUP);
    for (d, peer, ours, theirs) in [
        (a, B, "10.0.0.100", "10.0.0.101"),
        (b, A, "10.0.0.101", "10.0.0.100"),
    ] {
        let r = c
            .d(d)
            .wait_row(peer, "a virtual_addresses difference", |r| {
                r["config"]["matches"] == false && vip_difference(r).is_some()
            });
        let diff = vip_difference(&r).expect("difference");
        assert!(
            text(&diff["ours"]).contains(ours),
            "{}: {diff}",
            c.d(d).name
        );
        assert!(
            text(&diff["theirs"]).contains(theirs),
            "{}: {diff}",
            c.d(d).name
        );
        assert!(
            !text(&diff["ours"]).contains(theirs),
            "{}: {diff}",
            c.d(d).name
        );
    }
    // Heartbeats and status updates go on; the warning is not repeated.
    c.d(b).hear_adverts("VI_1", 30);
    for d in [a, b] {
        assert_eq!(
            vip_warnings(&c.d(d).log_text()),
            1,
            "{}: one warning for the difference\n{}",
            c.d(d).name,
            c.all_logs()
        );
    }
    // VRRP is untouched by the comparison.
    c.assert_state(a, "VI_1", "MASTER");
    c.assert_state(b, "VI_1", "BACKUP");

    // Fixed and reloaded: the difference goes away on both, with one line each.
    let before: Vec<usize> = [a, b]
        .iter()
        .map(|&d| c.d(d).log_text().lines().count())
        .collect();
    std::fs::write(&c.d(b).conf, conf("b", "", &[&ib])).expect("write conf");
    c.d(b).signal(Signal::SIGHUP);
    for (d, peer) in [(a, B), (b, A)] {
        let r = c.d(d).wait_row(peer, "config matching again", |r| {
            r["config"]["matches"] == true
        });
        assert!(vip_difference(&r).is_none(), "{r}");
    }
    c.d(b).hear_adverts("VI_1", 30);
    for (i, d) in [a, b].into_iter().enumerate() {
        let log = c.d(d).log_text();
        let cleared: Vec<&str> = log
            .lines()
            .skip(before[i])
            .filter(|l| l.to_lowercase().contains("match"))
            .collect();
        assert_eq!(
            cleared.len(),
            1,
            "{}: one line saying the configs match again, got {cleared:?}\n{}",
            c.d(d).name,
            c.all_logs()
        );
        assert_eq!(vip_warnings(&log), 1, "{}: warned again", c.d(d).name);
    }
}

/// `baton check -f FILE --against-peer` on node `d`, inside its namespace: exit code and
/// stdout.
fn against_peer(c: &Cluster, d: usize, file: &std::path::Path) -> (Option<i32>, String) {
    let ns = c.net.node(d).ns.clone();
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns, BATON, "check", "-f"])
        .arg(file)
        .arg("--against-peer")
        .arg("--socket")
        .arg(&c.d(d).socket)
        .output()
        .expect("baton check");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_against_peer_compares_a_file_with_the_running_peer() {
    let mut c = Cluster::new("link_against", 2);
    let ia = Inst::new(150, "BACKUP");
    let ib = Inst::new(100, "BACKUP");
    let a = start_linked(&mut c, "a", 0, &ia, &[1], &[]);
    let b = start_linked(&mut c, "b", 1, &ib, &[0], &[]);
    c.d(a).wait_state("VI_1", "MASTER");
    approve_each_other(&c, a, b, A, B);
    c.d(b)
        .wait_row(A, "config compared", |r| !r["config"].is_null());

    // b's own file, as it runs: it matches what a runs.
    let (code, out) = against_peer(&c, b, &c.d(b).conf);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("config: match") && out.contains(A), "{out}");

    // An edited copy with another VIP: the difference, before any reload.
    let mut changed = ib.clone();
    changed.vips = vec!["10.0.0.101/24".into()];
    let edited = c.path("b-edited.conf");
    std::fs::write(&edited, conf("b", "", &[&changed])).expect("write conf");
    let (code, out) = against_peer(&c, b, &edited);
    assert_eq!(code, Some(1), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("VI_1 virtual_addresses"))
        .unwrap_or_else(|| panic!("no VIP line in:\n{out}"));
    assert!(
        line.contains("this file 10.0.0.101") && line.contains("peer 10.0.0.100"),
        "{line}"
    );
    // Nothing was reloaded: the running pair still matches.
    let row = c.d(b).peer_row(A).expect("a's row on b");
    assert_eq!(row["config"]["matches"], true, "{row}");
}
