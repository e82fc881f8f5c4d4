//! End-to-end: reloading the configuration (SIGHUP, `baton reload`) of a running master.
//! A changed VIP list moves only the changed address, with no state transition and no
//! hook; a broken configuration is refused and the daemon carries on unchanged.

mod common;
mod e2e;

use std::process::Command;

use e2e::{BATON, Cluster, Inst, conf};
use nix::sys::signal::Signal;

/// a (daemon 0, TestNet 0) MASTER and b (daemon 1, TestNet 1) BACKUP, both holding the
/// VIP list `vips` in their configs; returns a's instance for editing.
fn pair(test: &str, vips: &[&str]) -> (Cluster, Inst) {
    let mut c = Cluster::new(test, 2);
    let mut a = Inst::new(150, "BACKUP").hooks(&c, "a");
    let mut b = Inst::new(100, "BACKUP").hooks(&c, "b");
    for i in [&mut a, &mut b] {
        i.vips = vips.iter().map(|v| v.to_string()).collect();
    }
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "MASTER", "150"]);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "BACKUP", "100"]);
    (c, a)
}

#[test]
fn sighup_with_changed_vips_moves_only_that_vip_without_transition() {
    let (c, mut a) = pair("e2e_reload_vips", &["10.0.0.100/24", "10.0.0.101/24"]);
    for v in ["10.0.0.100", "10.0.0.101"] {
        c.wait_addr(0, v, true);
        assert!(!c.has_addr(1, v));
    }
    let hooks_before = c.hooks();
    let a_trans = c.d(0).transitions("VI_1");
    let b_trans = c.d(1).transitions("VI_1");
    a.vips = vec!["10.0.0.100/24".into(), "10.0.0.102/24".into()];
    std::fs::write(&c.d(0).conf, conf("a", "", &[&a])).expect("rewrite conf");
    c.d(0).signal(Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");
    c.wait_addr(0, "10.0.0.102", true);
    c.wait_addr(0, "10.0.0.101", false);
    assert!(c.has_addr(0, "10.0.0.100"), "unchanged VIP kept");

    // b keeps hearing a (so a kept advertising) and nothing changed state.
    c.d(1).hear_adverts("VI_1", 10);
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("MASTER"));
    assert_eq!(c.d(1).state("VI_1").as_deref(), Some("BACKUP"));
    assert_eq!(c.d(0).transitions("VI_1"), a_trans, "{}", c.all_logs());
    assert_eq!(c.d(1).transitions("VI_1"), b_trans, "{}", c.all_logs());
    assert_eq!(c.hooks(), hooks_before, "no hook ran on reload");
    for v in ["10.0.0.100", "10.0.0.101", "10.0.0.102"] {
        assert!(!c.has_addr(1, v), "backup untouched: {v}");
    }
    let st = c.d(0).instance("VI_1").expect("status");
    assert_eq!(
        st["virtual_addresses"],
        serde_json::json!(["10.0.0.100/24", "10.0.0.102/24"])
    );
}

#[test]
fn broken_config_on_reload_keeps_running_unchanged() {
    let (c, a) = pair("e2e_reload_broken", &["10.0.0.100/24"]);
    let hooks_before = c.hooks();
    let a_trans = c.d(0).transitions("VI_1");
    let good = conf("a", "", &[&a]);
    std::fs::write(
        &c.d(0).conf,
        format!("{good}\nvrrp_instance VI_2 {{\n    priority banana\n"),
    )
    .expect("break conf");

    // SIGHUP: refused, logged, still running.
    c.d(0).signal(Signal::SIGHUP);
    c.d(0).wait_log("reload refused");
    assert!(
        c.d(0).log_text().contains(".conf:"),
        "error names the file\n{}",
        c.d(0).log_text()
    );
    // `baton reload` says so too, with a failing exit status.
    let out = Command::new(BATON)
        .args(["reload", "--socket"])
        .arg(&c.d(0).socket)
        .output()
        .expect("baton reload");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "reload of a broken config must fail: {text}"
    );
    assert!(text.contains("refused"), "{text}");

    let st = c.d(0).status();
    let inst = &st["instances"][0];
    assert_eq!(inst["name"], "VI_1");
    assert_eq!(inst["state"], "MASTER");
    assert_eq!(
        st["instances"].as_array().map(Vec::len),
        Some(1),
        "no VI_2: {st}"
    );
    assert!(c.has_addr(0, "10.0.0.100"));
    assert_eq!(c.d(1).state("VI_1").as_deref(), Some("BACKUP"));
    assert_eq!(c.d(0).transitions("VI_1"), a_trans);
    assert_eq!(c.hooks(), hooks_before);

    // Fixed again: a reload goes through.
    std::fs::write(&c.d(0).conf, &good).expect("fix conf");
    let out = Command::new(BATON)
        .args(["reload", "--socket"])
        .arg(&c.d(0).socket)
        .output()
        .expect("baton reload");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("MASTER"));
}

#[test]
fn reload_removing_the_master_instance_hands_over_and_runs_stop() {
    let (c, _a) = pair("e2e_reload_remove", &["10.0.0.100/24"]);
    c.wait_addr(0, "10.0.0.100", true);
    // a's config keeps only an unrelated instance on another VRID.
    let mut other = Inst::new(100, "BACKUP");
    other.name = "VI_OTHER".into();
    other.vrid = 52;
    other.vips = vec!["10.0.0.200/24".into()];
    std::fs::write(&c.d(0).conf, conf("a", "", &[&other])).expect("rewrite conf");
    c.d(0).signal(Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(0, "10.0.0.100", false);
    c.wait_addr(1, "10.0.0.100", true);
    c.wait_hook("a", &["notify_stop"]);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    let st = c.d(1).instance("VI_1").expect("status");
    assert!(
        st["stats"]["priority_zero_received"].as_u64().unwrap_or(0) >= 1,
        "removed master released with priority 0: {st}"
    );
    // The new instance runs: alone on VRID 52, it becomes MASTER.
    c.d(0).wait_state("VI_OTHER", "MASTER");
    c.wait_addr(0, "10.0.0.200", true);
    assert!(c.d(0).instance("VI_1").is_none());
}

#[test]
fn reload_lowering_priority_hands_over() {
    let (c, mut a) = pair("e2e_reload_prio", &["10.0.0.100/24"]);
    a.priority = 50;
    std::fs::write(&c.d(0).conf, conf("a", "", &[&a])).expect("rewrite conf");
    c.d(0).signal(Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    c.wait_addr(1, "10.0.0.100", true);
    c.wait_addr(0, "10.0.0.100", false);
    assert_eq!(
        c.d(0).instance("VI_1").expect("status")["effective_priority"],
        50
    );
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "BACKUP", "50"]);
}

#[test]
fn reload_changing_a_check_script_keeps_the_master() {
    let (c, a, ok) = checked_pair("e2e_reload_check");
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "MASTER", "150"]);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "BACKUP", "100"]);
    let hooks = c.hooks();
    let a_trans = c.d(0).transitions("VI_1");
    // Same check, new timing (and a weight): the tracker restarts, the check still passes.
    std::fs::write(
        &c.d(0).conf,
        conf(
            "a",
            &e2e::file_check("chk", &ok, "0.2", "    weight -10\n"),
            &[&a],
        ),
    )
    .expect("rewrite");
    c.d(0).signal(Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");
    c.d(1).hear_adverts("VI_1", 20);
    assert_eq!(c.d(0).transitions("VI_1"), a_trans, "{}", c.all_logs());
    assert_eq!(c.hooks(), hooks);
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("MASTER"));
    // The new definition is in force: failing now costs only 10 (140 > 100), no FAULT.
    std::fs::remove_file(&ok).expect("rm");
    common::netns::wait_for(e2e::DEADLINE, "priority 140", || {
        c.d(0).instance("VI_1").expect("status")["effective_priority"] == 140
    });
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("MASTER"));
}

/// a (150, check on file `ok`, which exists) is MASTER and b (100) BACKUP, both with
/// logging hooks. Returns the cluster, a's instance and the check file.
fn checked_pair(test: &str) -> (Cluster, Inst, std::path::PathBuf) {
    let mut c = Cluster::new(test, 2);
    let ok = c.path("ok");
    std::fs::write(&ok, "").expect("touch");
    let mut a = Inst::new(150, "BACKUP").hooks(&c, "a");
    a.track_scripts = vec!["chk".into()];
    let b = Inst::new(100, "BACKUP").hooks(&c, "b");
    c.start(
        "a",
        0,
        &conf("a", &e2e::file_check("chk", &ok, "0.1", ""), &[&a]),
    );
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    (c, a, ok)
}

/// a (150, check on file `ok`) and b (100); the check fails so a is FAULT, b MASTER.
fn faulted(test: &str) -> (Cluster, Inst) {
    let (c, a, ok) = checked_pair(test);
    std::fs::remove_file(&ok).expect("rm");
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "FAULT", "150"]);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    (c, a)
}

/// After a reload of a FAULT node, it must stay FAULT: no transition, no hook, b
/// untouched, for as long as b sends 20 adverts.
fn assert_still_faulted(c: &Cluster, hooks: &[e2e::HookLine], a_trans: &[(String, String)]) {
    let b_sent = |c: &Cluster| {
        c.d(1).instance("VI_1").expect("status")["stats"]["adverts_sent"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = b_sent(c);
    common::netns::wait_for(e2e::DEADLINE, "b sends 20 more adverts", || {
        b_sent(c) >= before + 20
    });
    assert_eq!(c.d(0).transitions("VI_1"), a_trans, "{}", c.all_logs());
    assert_eq!(c.hooks(), hooks, "{}", c.all_logs());
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("FAULT"));
    assert_eq!(c.d(1).state("VI_1").as_deref(), Some("MASTER"));
    assert!(!c.has_addr(0, "10.0.0.100"));
}

#[test]
fn reload_of_a_faulted_node_keeps_it_faulted() {
    let (c, _a) = faulted("e2e_reload_fault");
    let hooks = c.hooks();
    let a_trans = c.d(0).transitions("VI_1");
    c.d(0).signal(Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");
    assert_still_faulted(&c, &hooks, &a_trans);
}

#[test]
fn reload_changing_the_failing_check_keeps_it_faulted() {
    let (c, a) = faulted("e2e_reload_fault_chk");
    let hooks = c.hooks();
    let a_trans = c.d(0).transitions("VI_1");
    // A changed definition restarts the tracker; the file is still missing.
    std::fs::write(
        &c.d(0).conf,
        conf(
            "a",
            &e2e::file_check("chk", &c.path("ok"), "0.2", ""),
            &[&a],
        ),
    )
    .expect("rewrite");
    c.d(0).signal(Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");
    assert_still_faulted(&c, &hooks, &a_trans);
    // And the new check still brings a back when it passes.
    std::fs::write(c.path("ok"), "").expect("touch");
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
}

#[test]
fn reload_of_the_backup_with_new_vips_adds_nothing() {
    let (c, _a) = pair("e2e_reload_backup", &["10.0.0.100/24"]);
    let mut b = Inst::new(100, "BACKUP").hooks(&c, "b");
    b.vips = vec!["10.0.0.100/24".into(), "10.0.0.103/24".into()];
    let hooks = c.hooks();
    std::fs::write(&c.d(1).conf, conf("b", "", &[&b])).expect("rewrite");
    // Ten reloads in a row, as a config management run might do (signals that arrive
    // while one is pending merge, so each waits for the previous one to be done).
    let reloads = |c: &Cluster| c.d(1).log_text().matches("configuration reloaded").count();
    for n in 1..=10 {
        c.d(1).signal(Signal::SIGHUP);
        common::netns::wait_for(e2e::DEADLINE, "reload done", || reloads(&c) >= n);
    }
    assert_eq!(c.d(1).state("VI_1").as_deref(), Some("BACKUP"));
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("MASTER"));
    for v in ["10.0.0.100", "10.0.0.103"] {
        assert!(!c.has_addr(1, v), "backup holds {v}");
    }
    assert_eq!(c.hooks(), hooks);
    assert_eq!(
        c.d(1).instance("VI_1").expect("status")["virtual_addresses"],
        serde_json::json!(["10.0.0.100/24", "10.0.0.103/24"])
    );
}
