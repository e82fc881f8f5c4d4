//! End-to-end: what happens around a running pair besides crashes — the interface going
//! down, someone deleting the VIP, operator commands (promote / demote / release), a
//! third node, and IPv6 over unicast with the unsolicited neighbour advertisement seen
//! on the wire.

mod common;
mod e2e;

use std::process::Command;

use common::netns::wait_for;
use e2e::{BATON, Capture, Cluster, DEADLINE, Inst, conf};

const VIP: &str = "10.0.0.100";

/// a (daemon 0, TestNet 0, 150) MASTER, b (daemon 1, TestNet 1, 100) BACKUP.
fn pair(test: &str, nodes: usize) -> Cluster {
    let mut c = Cluster::new(test, nodes);
    let a = Inst::new(150, "BACKUP").hooks(&c, "a");
    let b = Inst::new(100, "BACKUP").hooks(&c, "b");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c
}

fn operator(c: &Cluster, daemon: usize, cmd: &str) -> String {
    let out = Command::new(BATON)
        .args([cmd, "VI_1", "--socket"])
        .arg(&c.d(daemon).socket)
        .output()
        .expect("baton operator command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "baton {cmd}: {text}");
    text
}

#[test]
fn interface_down_on_master_means_fault_and_takeover() {
    let c = pair("e2e_link_down", 2);
    let a_ns = c.net.node(0).ns.clone();
    c.net.ip(&a_ns, &["link", "set", "eth0", "down"]);
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "FAULT", "150"]);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "MASTER", "100"]);

    c.net.ip(&a_ns, &["link", "set", "eth0", "up"]);
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c.wait_addr(1, VIP, false);
}

#[test]
fn vip_deleted_by_hand_on_the_master_is_put_back() {
    let c = pair("e2e_vip_restore", 2);
    let a_ns = c.net.node(0).ns.clone();
    let hooks = c.hooks();
    c.net
        .ip(&a_ns, &["addr", "del", &format!("{VIP}/24"), "dev", "eth0"]);
    c.wait_addr(0, VIP, true);
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("MASTER"));
    assert!(!c.has_addr(1, VIP));
    assert_eq!(c.hooks(), hooks, "no transition, no hook");
}

#[test]
fn promote_demote_release() {
    let c = pair("e2e_operator", 2);
    // Promote the lower-priority node: it becomes MASTER and the other steps back.
    operator(&c, 1, "promote");
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    c.wait_addr(1, VIP, true);
    c.wait_addr(0, VIP, false);
    let st = c.d(1).instance("VI_1").expect("status");
    assert_eq!(st["operator"], "promoted", "{st}");
    // Exactly one master while promoted, for a good while (30 adverts heard by a).
    let heard = |c: &Cluster| {
        c.d(0).instance("VI_1").expect("status")["stats"]["adverts_received"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = heard(&c);
    wait_for(DEADLINE, "30 adverts heard by a", || {
        heard(&c) >= before + 30
    });
    assert_eq!(
        c.d(0).state("VI_1").as_deref(),
        Some("BACKUP"),
        "{}",
        c.all_logs()
    );
    assert_eq!(
        c.d(1).state("VI_1").as_deref(),
        Some("MASTER"),
        "{}",
        c.all_logs()
    );

    // Release: normal rules again, so a (150) preempts.
    operator(&c, 1, "release");
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);

    // Demote the master: b takes over; a stays BACKUP despite its priority.
    operator(&c, 0, "demote");
    c.d(0).wait_state("VI_1", "BACKUP");
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    c.wait_addr(0, VIP, false);
    let st = c.d(0).instance("VI_1").expect("status");
    assert_eq!(st["operator"], "demoted", "{st}");
    operator(&c, 0, "release");
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    assert!(c.d(0).instance("VI_1").expect("status")["operator"].is_null());
}

#[test]
fn three_nodes_next_highest_takes_over() {
    let mut c = pair("e2e_three", 3);
    let x = Inst::new(50, "BACKUP").hooks(&c, "x");
    c.start("x", 2, &conf("x", "", &[&x]));
    c.d(2).wait_state("VI_1", "BACKUP");
    c.dm(0).kill();
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    // x hears b and stays BACKUP.
    let heard = |c: &Cluster| {
        c.d(2).instance("VI_1").expect("status")["stats"]["adverts_received"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = heard(&c);
    wait_for(DEADLINE, "20 adverts heard by x", || {
        heard(&c) >= before + 20
    });
    assert_eq!(
        c.d(2).state("VI_1").as_deref(),
        Some("BACKUP"),
        "{}",
        c.all_logs()
    );
    assert!(!c.has_addr(2, VIP));
    assert_eq!(
        c.d(2).instance("VI_1").expect("status")["master"],
        "10.0.0.2"
    );
    assert!(
        !c.hooks_of("x")
            .iter()
            .any(|h| h.args.first().map(String::as_str) == Some("notify_master")),
        "x never became master"
    );
}

#[test]
fn unicast_v3_ipv6_elects_and_sends_unsolicited_na() {
    let mut c = Cluster::new("e2e_uni_v6", 3);
    let observer = c.net.node(2).ns.clone();
    let (a6, b6) = (c.net.node(0).v6.to_string(), c.net.node(1).v6.to_string());
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    a.unicast = Some((a6.clone(), vec![b6.clone()]));
    b.unicast = Some((b6, vec![a6]));
    for i in [&mut a, &mut b] {
        i.vips = vec!["fd00::100/64".into()];
    }
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(0).wait_state("VI_1", "MASTER");
    // The observer (not a unicast peer) sees the unsolicited NA for the VIP.
    let cap = Capture::start(&observer, "icmp6 and ip6[40] = 136", 1);
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, "fd00::100", true);
    c.wait_addr(1, "fd00::100", false);
    let seen = cap.finish();
    assert!(seen.contains("fd00::100"), "no NA for the VIP: {seen:?}");
    let st = c.d(0).instance("VI_1").expect("status");
    assert!(
        st["stats"]["adverts_received"].as_u64().unwrap_or(0) > 0,
        "{st}"
    );
}
