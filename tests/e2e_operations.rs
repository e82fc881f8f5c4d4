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
    // b's start-up hooks may still be running on a loaded machine: wait for its last
    // one before taking the snapshot nothing may add to.
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "MASTER", "150"]);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "BACKUP", "100"]);
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
    c.d(0).hear_adverts("VI_1", 30);
    c.assert_state(0, "VI_1", "BACKUP");
    c.assert_state(1, "VI_1", "MASTER");

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
    let mut c = Cluster::new("e2e_three", 3);
    // Which backup takes over is decided by the skew in the master-down timer: with
    // advert_int 1 b's (100) fires 195 ms before x's (50), a margin that a loaded
    // 2-core machine keeps (at 0.1 s it would be 20 ms).
    let node = |c: &Cluster, prio, name| {
        let mut i = Inst::new(prio, "BACKUP").hooks(c, name);
        i.advert_int = "1".into();
        conf(name, "", &[&i])
    };
    c.start("a", 0, &node(&c, 150, "a"));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &node(&c, 100, "b"));
    c.start("x", 2, &node(&c, 50, "x"));
    c.d(1).wait_state("VI_1", "BACKUP");
    c.d(2).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c.dm(0).kill();
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    // x hears b (once a second) and stays BACKUP.
    c.d(2).hear_adverts("VI_1", 5);
    c.assert_state(2, "VI_1", "BACKUP");
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
    // ICMPv6 type 136 whose target (bytes 48..64 of the packet) is fd00::100.
    let cap = Capture::start(
        &observer,
        "icmp6 and ip6[40] = 136 and ip6[48:4] = 0xfd000000 and ip6[60:4] = 0x00000100",
        1,
    );
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

/// Two instances in one vrrp_sync_group, on both nodes; a's check tracks only VI_2.
fn sync_conf(c: &Cluster, node: &str, prio: u8, check: bool) -> String {
    let ok = c.path("ok");
    let mut v1 = Inst::new(prio, "BACKUP").hooks(c, node);
    let mut v2 = Inst::new(prio, "BACKUP");
    v2.name = "VI_2".into();
    v2.vrid = 52;
    v2.vips = vec!["10.0.0.101/24".into()];
    v1.extra
        .push("virtual_routes {\n        10.9.0.0/24 via 10.0.0.254 dev eth0\n    }".into());
    let mut scripts = String::new();
    if check {
        v2.track_scripts = vec!["chk".into()];
        scripts = e2e::file_check("chk", &ok, "0.1", "");
    }
    scripts.push_str(&format!(
        "vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    notify {}\n}}\n",
        c.hook(node, "gnotify")
    ));
    conf(node, &scripts, &[&v1, &v2])
}

fn has_route(c: &Cluster, node: usize, dst: &str) -> bool {
    let ns = c.net.node(node).ns.clone();
    c.net
        .ip(&ns, &["route", "show", dst])
        .contains(dst.split('/').next().expect("dst"))
}

#[test]
fn sync_group_moves_together_with_routes() {
    let mut c = Cluster::new("e2e_sync_group", 2);
    std::fs::write(c.path("ok"), "").expect("touch");
    let a = sync_conf(&c, "a", 150, true);
    let b = sync_conf(&c, "b", 100, false);
    c.start("a", 0, &a);
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_2", "MASTER");
    c.start("b", 1, &b);
    c.d(1).wait_state("VI_1", "BACKUP");
    c.d(1).wait_state("VI_2", "BACKUP");
    for v in ["10.0.0.100", "10.0.0.101"] {
        c.wait_addr(0, v, true);
        c.wait_addr(1, v, false);
    }
    wait_for(DEADLINE, "virtual route on a", || {
        has_route(&c, 0, "10.9.0.0/24")
    });
    assert!(!has_route(&c, 1, "10.9.0.0/24"));
    c.wait_hook("a", &["gnotify", "GROUP", "G1", "MASTER", "0"]);

    // Only VI_2's check fails; the whole group goes.
    std::fs::remove_file(c.path("ok")).expect("rm");
    c.d(0).wait_state("VI_2", "FAULT");
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_2", "MASTER");
    for v in ["10.0.0.100", "10.0.0.101"] {
        c.wait_addr(1, v, true);
        c.wait_addr(0, v, false);
    }
    wait_for(DEADLINE, "virtual route moved to b", || {
        has_route(&c, 1, "10.9.0.0/24") && !has_route(&c, 0, "10.9.0.0/24")
    });
    c.wait_hook("b", &["gnotify", "GROUP", "G1", "MASTER", "0"]);
    c.wait_hook("a", &["gnotify", "GROUP", "G1", "FAULT", "0"]);

    std::fs::write(c.path("ok"), "").expect("touch");
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_2", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.d(1).wait_state("VI_2", "BACKUP");
}

#[test]
fn sigterm_on_backup_leaves_master_alone() {
    let mut c = pair("e2e_term_backup", 2);
    let pid = std::fs::read_to_string(c.path("b.pid")).expect("pid file");
    assert_eq!(
        pid.trim(),
        c.d(1).pid().to_string(),
        "pid file holds baton's pid"
    );
    let code = c.dm(1).term();
    assert_eq!(code, Some(0));
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "STOP", "100"]);
    let st = c.d(0).instance("VI_1").expect("status");
    assert_eq!(st["state"], "MASTER");
    assert_eq!(
        st["stats"]["priority_zero_received"], 0,
        "a backup sends no priority 0: {st}"
    );
    assert!(c.has_addr(0, VIP));
    assert!(!c.path("b.sock").exists(), "control socket removed on exit");
    assert!(!c.path("b.pid").exists(), "pid file removed on exit");
}

#[test]
fn crashed_master_restarting_as_backup_drops_its_stale_vip() {
    let mut c = pair("e2e_stale_vip", 2);
    c.dm(0).kill();
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    // SIGKILL left the address behind on a: nobody removed it.
    assert!(c.has_addr(0, VIP), "kernel keeps a crashed master's VIP");
    // a comes back configured not to preempt: as BACKUP it must not hold the VIP.
    let mut a = Inst::new(150, "BACKUP").hooks(&c, "a");
    a.nopreempt = true;
    std::fs::write(&c.d(0).conf, conf("a", "", &[&a])).expect("rewrite conf");
    c.dm(0).restart();
    c.d(0).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, false);
    assert_eq!(c.d(1).state("VI_1").as_deref(), Some("MASTER"));
    assert!(c.has_addr(1, VIP));
}

#[test]
fn interface_recreated_under_the_master_rebinds() {
    let c = pair("e2e_link_recreate", 2);
    let hub = c.net.hub.clone().expect("hub");
    let a = c.net.node(0).clone();
    // Pull the cable for good: the veth pair is deleted (eth0 vanishes in a).
    c.net.ip(&hub, &["link", "del", "p0"]);
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    // A new eth0 (new ifindex) appears with the same address.
    c.net.ip(
        &hub,
        &[
            "link", "add", "p0", "type", "veth", "peer", "name", "eth0", "netns", &a.ns,
        ],
    );
    c.net.ip(&hub, &["link", "set", "p0", "master", "br0"]);
    c.net.ip(&hub, &["link", "set", "p0", "up"]);
    c.net.ip(
        &a.ns,
        &["addr", "add", &format!("{}/24", a.v4), "dev", "eth0"],
    );
    c.net.ip(&a.ns, &["link", "set", "eth0", "up"]);
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c.wait_addr(1, VIP, false);
    // b hears the new eth0's adverts (a really sends on the new interface).
    c.d(1).hear_adverts("VI_1", 10);
    assert_eq!(c.d(1).state("VI_1").as_deref(), Some("BACKUP"));
}

#[test]
fn interface_down_on_backup_does_not_disturb_master() {
    let c = pair("e2e_backup_link", 2);
    let b_ns = c.net.node(1).ns.clone();
    c.net.ip(&b_ns, &["link", "set", "eth0", "down"]);
    c.d(1).wait_state("VI_1", "FAULT");
    c.net.ip(&b_ns, &["link", "set", "eth0", "up"]);
    c.d(1).wait_state("VI_1", "BACKUP");
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("MASTER"));
    assert!(c.has_addr(0, VIP) && !c.has_addr(1, VIP));
    assert_eq!(c.d(0).transitions("VI_1").len(), 2, "{}", c.all_logs());
}

#[test]
fn v2_password_mismatch_is_not_an_election() {
    let mut c = Cluster::new("e2e_auth", 2);
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    for (i, pass) in [(&mut a, "secret1"), (&mut b, "secret2")] {
        i.version = 2;
        i.advert_int = "1".into();
        i.extra.push(format!(
            "authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}"
        ));
    }
    c.start("a", 0, &conf("a", "", &[&a]));
    c.start("b", 1, &conf("b", "", &[&b]));
    // Neither accepts the other's adverts: both end up MASTER and count auth errors.
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "MASTER");
    for d in 0..2 {
        wait_for(DEADLINE, "auth errors counted", || {
            c.d(d).instance("VI_1").expect("status")["stats"]["auth_errors"]
                .as_u64()
                .unwrap_or(0)
                > 0
        });
    }
}

#[test]
fn notify_fifo_gets_one_line_per_transition() {
    let mut c = Cluster::new("e2e_fifo", 2);
    let fifo = c.path("notify.fifo");
    // baton creates the FIFO if missing; read it from a thread.
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let a = Inst::new(150, "BACKUP");
    let text = conf("a", "", &[&a]).replacen(
        "global_defs {",
        &format!("global_defs {{\n    vrrp_notify_fifo {}", fifo.display()),
        1,
    );
    c.start("a", 0, &text);
    wait_for(DEADLINE, "fifo created", || fifo.exists());
    let sink = std::sync::Arc::clone(&lines);
    let path = fifo.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let f = std::fs::File::open(&path).expect("open fifo");
        for l in std::io::BufReader::new(f).lines() {
            let Ok(l) = l else { break };
            sink.lock().expect("lock").push(l);
        }
    });
    c.d(0).wait_state("VI_1", "MASTER");
    let b = Inst::new(200, "BACKUP");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(0).wait_state("VI_1", "BACKUP");
    wait_for(DEADLINE, "three fifo lines", || {
        lines.lock().expect("lock").len() >= 3
    });
    let got = lines.lock().expect("lock").clone();
    assert_eq!(
        got,
        [
            "INSTANCE \"VI_1\" BACKUP 150",
            "INSTANCE \"VI_1\" MASTER 150",
            "INSTANCE \"VI_1\" BACKUP 150"
        ],
        "one line per transition, in order"
    );
}

#[test]
fn promote_is_refused_in_fault() {
    let mut c = Cluster::new("e2e_promote_fault", 2);
    let ok = c.path("ok");
    let mut a = Inst::new(150, "BACKUP");
    a.track_scripts = vec!["chk".into()];
    let b = Inst::new(100, "BACKUP");
    // The check fails from the start.
    c.start(
        "a",
        0,
        &conf("a", &e2e::file_check("chk", &ok, "0.1", ""), &[&a]),
    );
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    let out = Command::new(BATON)
        .args(["promote", "VI_1", "--socket"])
        .arg(&c.d(0).socket)
        .output()
        .expect("baton promote");
    assert!(
        !out.status.success(),
        "promote in FAULT is refused: {out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FAULT"),
        "{out:?}"
    );
    // And the failing node does not take the VIP.
    c.d(0).hear_adverts("VI_1", 10);
    c.assert_state(0, "VI_1", "FAULT");
    assert!(!c.has_addr(0, VIP));
    assert!(c.has_addr(1, VIP));
}

#[test]
fn instance_on_an_interface_that_appears_later() {
    let mut c = Cluster::new("e2e_late_if", 1);
    let ns = c.net.node(0).ns.clone();
    let mut a = Inst::new(150, "BACKUP");
    a.interface = "late0".into();
    a.vips = vec!["10.7.0.100/24".into()];
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "FAULT");
    c.net.ip(
        &ns,
        &[
            "link", "add", "late0", "type", "veth", "peer", "name", "late0p",
        ],
    );
    c.net
        .ip(&ns, &["addr", "add", "10.7.0.1/24", "dev", "late0"]);
    c.net.ip(&ns, &["link", "set", "late0p", "up"]);
    c.net.ip(&ns, &["link", "set", "late0", "up"]);
    c.d(0).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "VIP on late0", || {
        c.net.find_addr(&ns, "late0", "10.7.0.100").is_some()
    });
    let st = c.d(0).instance("VI_1").expect("status");
    assert_eq!(st["interface"], "late0");
    assert!(
        st["stats"]["adverts_sent"].as_u64().unwrap_or(0) > 0,
        "{st}"
    );
}

#[test]
fn crashed_master_restarting_as_backup_drops_its_stale_route() {
    let mut c = Cluster::new("e2e_stale_route", 2);
    let route = "virtual_routes {\n        10.9.0.0/24 via 10.0.0.254 dev eth0\n    }";
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    a.extra.push(route.into());
    b.extra.push(route.into());
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    wait_for(DEADLINE, "route on a", || has_route(&c, 0, "10.9.0.0/24"));
    c.dm(0).kill();
    c.d(1).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "route on b", || has_route(&c, 1, "10.9.0.0/24"));
    a.nopreempt = true;
    std::fs::write(&c.d(0).conf, conf("a", "", &[&a])).expect("rewrite conf");
    c.dm(0).restart();
    c.d(0).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, false);
    wait_for(DEADLINE, "stale route gone from a", || {
        !has_route(&c, 0, "10.9.0.0/24")
    });
}
