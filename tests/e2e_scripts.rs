//! End-to-end: scripts run by baton. A check script that hangs is killed at its
//! timeout (with what it started) and counts as failed; notify hooks keep transition
//! order under a burst of transitions, one at a time per node, with the arguments
//! keepalived gives them.

mod common;
mod e2e;

use common::netns::wait_for;
use e2e::{Cluster, DEADLINE, HookLine, Inst, conf, file_check, hook_script};

const VIP: &str = "10.0.0.100";

/// Is the process gone? A zombie counts as gone (it cannot run any more; a reparented
/// grandchild is reaped by whoever is pid 1, not by baton).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Kills leftover script processes if the test fails before baton did.
struct PidsGuard(std::path::PathBuf);

impl Drop for PidsGuard {
    fn drop(&mut self) {
        for pid in std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn check_script_timeout_kills_it_and_counts_as_failure() {
    let mut c = Cluster::new("e2e_script_timeout", 2);
    let pids = c.path("slow.pids");
    let _guard = PidsGuard(pids.clone());
    // The script starts a child and waits on it: both must die at the timeout.
    let slow = c.write_script(
        "slow.sh",
        &format!(
            "#!/bin/sh\nsleep 30 &\necho \"$$ $!\" >> {}\nwait\n",
            pids.display()
        ),
    );
    let scripts = format!(
        "vrrp_script slow {{\n    script \"{}\"\n    interval 1\n    timeout 1\n    fall 1\n    rise 1\n}}\n",
        slow.display()
    );
    let mut a = Inst::new(150, "BACKUP").hooks(&c, "a");
    a.track_scripts = vec!["slow".into()];
    let b = Inst::new(100, "BACKUP").hooks(&c, "b");
    c.start("a", 0, &conf("a", &scripts, &[&a]));
    c.start("b", 1, &conf("b", "", &[&b]));
    // The check never passes: a is FAULT despite its higher priority, b is MASTER.
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    assert!(!c.has_addr(0, VIP));
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "FAULT", "150"]);

    // The first run's shell and its sleep are gone long before their 30 s.
    wait_for(DEADLINE, "script pid file", || {
        std::fs::read_to_string(&pids).is_ok_and(|s| s.lines().count() >= 1)
    });
    let first: Vec<u32> = std::fs::read_to_string(&pids)
        .expect("pids")
        .lines()
        .next()
        .expect("line")
        .split_whitespace()
        .map(|p| p.parse().expect("pid"))
        .collect();
    assert_eq!(first.len(), 2);
    for pid in &first {
        wait_for(
            DEADLINE,
            &format!("timed-out script process {pid} gone"),
            || gone(*pid),
        );
    }
    // It keeps being run (and killed) at its interval.
    wait_for(DEADLINE, "a second run", || {
        std::fs::read_to_string(&pids).is_ok_and(|s| s.lines().count() >= 2)
    });
    assert!(
        c.d(0).log_text().contains("timed out"),
        "timeout logged\n{}",
        c.d(0).log_text()
    );
    let a = c.d(0).instance("VI_1").expect("status");
    assert_eq!(a["state"], "FAULT");
}

/// The hook runs of one node must be start/end pairs, one at a time, each with the
/// same arguments at start and end, in nondecreasing time.
fn assert_serial(node: &str, hooks: &[HookLine]) -> Vec<Vec<String>> {
    assert!(hooks.len() % 2 == 0, "{node}: unfinished hook: {hooks:#?}");
    let mut runs = Vec::new();
    for pair in hooks.chunks(2) {
        let (s, e) = (&pair[0], &pair[1]);
        assert_eq!(s.phase, "start", "{node}: overlapping hooks: {hooks:#?}");
        assert_eq!(e.phase, "end", "{node}: overlapping hooks: {hooks:#?}");
        assert_eq!(s.args, e.args, "{node}: overlapping hooks: {hooks:#?}");
        assert!(s.ns <= e.ns);
        runs.push(s.args.clone());
    }
    for w in hooks.windows(2) {
        assert!(
            w[0].ns <= w[1].ns,
            "{node}: hook log out of time order: {hooks:#?}"
        );
    }
    runs
}

/// The hook runs a node should have made for its logged transitions: the specific hook,
/// then the generic one with INSTANCE, name, state, priority.
fn expected_runs(trans: &[(String, String, String)]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (_, to, prio) in trans {
        let specific = match to.as_str() {
            "MASTER" => "notify_master",
            "BACKUP" => "notify_backup",
            "FAULT" => "notify_fault",
            "STOP" => "notify_stop",
            _ => continue,
        };
        out.push(vec![specific.to_string()]);
        out.push(
            ["notify", "INSTANCE", "VI_1", to, prio]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
    }
    out
}

#[test]
fn hooks_keep_transition_order_under_a_burst() {
    let mut c = Cluster::new("e2e_hook_burst", 2);
    // Each hook takes 150 ms: transitions come faster than hooks finish and queue up.
    c.write_script("hook.sh", &hook_script(&c.hook_log(), 150));
    let ok = c.path("ok");
    std::fs::write(&ok, "").expect("touch");
    let scripts = file_check("chk", &ok, "0.05", "");
    let mut a = Inst::new(150, "BACKUP").hooks(&c, "a");
    a.track_scripts = vec!["chk".into()];
    let b = Inst::new(100, "BACKUP").hooks(&c, "b");
    c.start("a", 0, &conf("a", &scripts, &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");

    // Flap the check: each step waits only for baton to change state, not for hooks.
    let flaps = 8;
    for i in 0..flaps {
        std::fs::remove_file(&ok).expect("rm");
        c.d(0).wait_state("VI_1", "FAULT");
        std::fs::write(&ok, "").expect("touch");
        wait_for(DEADLINE, "a leaves FAULT", || {
            c.d(0).state("VI_1").is_some_and(|s| s != "FAULT")
        });
        // Let b take over now and then, so it flaps too.
        if i % 2 == 1 {
            c.d(0).wait_state("VI_1", "MASTER");
        }
    }
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c.wait_addr(1, VIP, false);

    for (i, node) in ["a", "b"].iter().enumerate() {
        let trans = c.d(i).transitions_prio("VI_1");
        let want = expected_runs(&trans);
        // Wait for the queue to drain: as many finished hooks as expected.
        wait_for(DEADLINE, &format!("{node}: all hooks finished"), || {
            c.hooks_of(node).iter().filter(|h| h.phase == "end").count() >= want.len()
        });
        let runs = assert_serial(node, &c.hooks_of(node));
        eprintln!(
            "{node}: {} transitions, {} hook runs",
            trans.len(),
            runs.len()
        );
        assert_eq!(
            runs,
            want,
            "{node}: hooks differ from logged transitions\n{}",
            c.all_logs()
        );
    }
    let a_faults = c
        .d(0)
        .transitions("VI_1")
        .iter()
        .filter(|(_, to)| to == "FAULT")
        .count();
    assert_eq!(a_faults, flaps, "{}", c.all_logs());
}
