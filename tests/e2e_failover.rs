//! End-to-end failover between two baton processes: master crash (SIGKILL), clean stop
//! (SIGTERM, priority 0), failing check script (FAULT, priority 0) with preemption back,
//! and `nopreempt` on the higher-priority node. Each scenario prints the takeover time,
//! from the event to the start of the backup's notify_master hook, for information only.

mod common;
mod e2e;

use common::netns::wait_for;
use e2e::{Cluster, DEADLINE, Inst, conf, file_check, ms, now_ns};

const VIP: &str = "10.0.0.100";

/// Node a (TestNet 0, priority 150, daemon 0) is MASTER, node b (TestNet 1, priority
/// 100, daemon 1) BACKUP, both with logging hooks.
fn pair(test: &str, advert_int: &str, a_check: bool, a_nopreempt: bool) -> Cluster {
    let mut c = Cluster::new(test, 2);
    let mut a = Inst::new(150, "BACKUP").hooks(&c, "a");
    let mut b = Inst::new(100, "BACKUP").hooks(&c, "b");
    for i in [&mut a, &mut b] {
        i.advert_int = advert_int.into();
        if advert_int == "1" {
            i.version = 2;
        }
    }
    let mut scripts = String::new();
    if a_check {
        let ok = c.path("ok");
        std::fs::write(&ok, "").expect("touch");
        scripts = file_check("chk", &ok, "0.1", "");
        a.track_scripts = vec!["chk".into()];
    }
    a.nopreempt = a_nopreempt;
    c.start("a", 0, &conf("a", &scripts, &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c.wait_addr(1, VIP, false);
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "MASTER", "150"]);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "BACKUP", "100"]);
    c
}

fn crash(advert_int: &str) {
    let mut c = pair(&format!("e2e_crash_{advert_int}"), advert_int, false, false);
    let t0 = now_ns();
    c.dm(0).kill();
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    let started = c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    c.wait_hook("b", &["notify_master"]);
    eprintln!(
        "FIGURE crash takeover, advert_int {advert_int}: {:.0} ms (SIGKILL -> backup notify_master)",
        ms(t0, started)
    );
    // The specific hook runs before the generic one.
    let b: Vec<_> = c
        .hooks_of("b")
        .into_iter()
        .filter(|h| h.phase == "start")
        .collect();
    let pos = |label: &str, state: &str| {
        b.iter()
            .rposition(|h| h.args[0] == label && (label != "notify" || h.args[3] == state))
    };
    assert!(pos("notify_master", "") < pos("notify", "MASTER"), "{b:?}");
}

#[test]
fn crash_takeover_advert_int_1s_v2() {
    crash("1");
}

#[test]
fn crash_takeover_advert_int_100ms_v3() {
    crash("0.1");
}

fn sigterm(advert_int: &str) {
    let mut c = pair(&format!("e2e_term_{advert_int}"), advert_int, false, false);
    let t0 = now_ns();
    c.dm(0).signal(nix::sys::signal::Signal::SIGTERM);
    c.d(1).wait_state("VI_1", "MASTER");
    let started = c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    eprintln!(
        "FIGURE SIGTERM takeover, advert_int {advert_int}: {:.0} ms (SIGTERM -> backup notify_master)",
        ms(t0, started)
    );
    let code = c.dm(0).term_wait();
    assert_eq!(code, Some(0), "clean exit\n{}", c.all_logs());
    let st = c.d(1).instance("VI_1").expect("status");
    assert!(
        st["stats"]["priority_zero_received"].as_u64().unwrap_or(0) >= 1,
        "backup got priority 0: {st}"
    );
    c.wait_addr(0, VIP, false);
    c.wait_addr(1, VIP, true);
    c.wait_hook("a", &["notify_stop"]);
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "STOP", "150"]);
    assert!(
        c.d(0).log_text().contains("VI_1: MASTER -> STOP"),
        "{}",
        c.all_logs()
    );
}

#[test]
fn sigterm_handover_advert_int_1s_v2() {
    sigterm("1");
}

#[test]
fn sigterm_handover_advert_int_100ms_v3() {
    sigterm("0.1");
}

fn check_failure(advert_int: &str) {
    let c = pair(&format!("e2e_check_{advert_int}"), advert_int, true, false);
    let t0 = now_ns();
    std::fs::remove_file(c.path("ok")).expect("rm");
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    let started = c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    eprintln!(
        "FIGURE check failure takeover, advert_int {advert_int}: {:.0} ms (file removed -> backup notify_master)",
        ms(t0, started)
    );
    c.wait_hook("a", &["notify_fault"]);
    c.wait_addr(0, VIP, false);
    c.wait_addr(1, VIP, true);
    let a = c.d(0).instance("VI_1").expect("status");
    let b = c.d(1).instance("VI_1").expect("status");
    assert!(
        a["stats"]["priority_zero_sent"].as_u64().unwrap_or(0) >= 1,
        "{a}"
    );
    assert!(
        b["stats"]["priority_zero_received"].as_u64().unwrap_or(0) >= 1,
        "{b}"
    );

    // Check recovers: a comes back and preempts; b returns to BACKUP.
    std::fs::write(c.path("ok"), "").expect("touch");
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c.wait_addr(1, VIP, false);
    // b's last hook (once its queue drains) is the generic BACKUP one.
    let last_b = || c.hooks_of("b").last().map(|h| h.args.clone());
    wait_for(DEADLINE, "b's notify BACKUP", || {
        last_b().is_some_and(|a| a.len() == 5 && a[3] == "BACKUP")
    });
    let back = c.hooks_of("b");
    assert_eq!(
        back.last().map(|h| h.args.clone()),
        Some(
            vec!["notify", "INSTANCE", "VI_1", "BACKUP", "100"]
                .into_iter()
                .map(String::from)
                .collect()
        ),
        "{back:?}"
    );
    let trans = c.d(0).transitions("VI_1");
    let tail: Vec<(&str, &str)> = trans
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        tail,
        vec![
            ("MASTER", "FAULT"),
            ("FAULT", "BACKUP"),
            ("BACKUP", "MASTER")
        ],
        "{}",
        c.all_logs()
    );
}

#[test]
fn check_failure_advert_int_1s_v2() {
    check_failure("1");
}

#[test]
fn check_failure_advert_int_100ms_v3() {
    check_failure("0.1");
}

#[test]
fn nopreempt_on_higher_priority_node_stays_backup_after_recovery() {
    let c = pair("e2e_nopreempt", "0.1", true, true);
    std::fs::remove_file(c.path("ok")).expect("rm");
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    std::fs::write(c.path("ok"), "").expect("touch");
    c.d(0).wait_state("VI_1", "BACKUP");
    // Give a every chance to preempt: it must hear 30 more of b's lower-priority adverts
    // (3 s at 0.1 s) and still be BACKUP.
    c.d(0).hear_adverts("VI_1", 30);
    c.assert_state(0, "VI_1", "BACKUP");
    c.assert_state(1, "VI_1", "MASTER");
    assert!(c.has_addr(1, VIP) && !c.has_addr(0, VIP));
    let a = c.d(0).instance("VI_1").expect("status");
    assert_eq!(
        a["effective_priority"], 150,
        "a is healthy, just not preempting: {a}"
    );
}
