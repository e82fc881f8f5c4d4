//! End-to-end: three faults a user can see.
//!
//! - A reload moves a master's excluded addresses and virtual routes as it moves its
//!   virtual addresses (and leaves a backup alone); nothing removed stays behind, also
//!   across a restart.
//! - A unicast instance takes adverts only from its configured peers: a crafted
//!   higher-priority advert from another host on the segment does not take mastership,
//!   it is counted as a source error.
//! - Adverts for a VRID no instance has show in `baton status`, and the first is logged.
//!
//! The crafted adverts are built with baton's own `wire` code and sent from a third
//! namespace over a plain raw socket (protocol 112, TTL 255).

mod common;
mod e2e;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use baton::wire::{Advert, Auth, Centis, ChecksumMode, Version};
use common::netns::{TestNet, wait_for};
use e2e::{BATON, Cluster, DEADLINE, Inst, conf};
use nix::sys::signal::Signal;

const VIP: &str = "10.0.0.100";
const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// Sends `count` VRRPv3 adverts for `vrid` at `priority` from TestNet node `from` to
/// `dst` (a node's address or the VRRP group): a host that runs no VRRP at all.
fn send_crafted(net: &TestNet, from: usize, dst: Ipv4Addr, vrid: u8, priority: u8, count: usize) {
    let src = net.node(from).v4;
    let advert = Advert {
        version: Version::V3,
        vrid,
        priority,
        max_advert_int: Centis(10),
        auth: Auth::None,
        addresses: vec![VIP.parse().expect("vip")],
    };
    let bytes = advert
        .to_bytes(IpAddr::V4(src), IpAddr::V4(dst), ChecksumMode::PseudoHeader)
        .expect("encode advert");
    net.run(&net.node(from).ns, move || {
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).expect("socket");
        s.set_ttl_v4(255).expect("ttl");
        s.set_multicast_ttl_v4(255).expect("multicast ttl");
        s.set_multicast_if_v4(&src).expect("multicast if");
        let to = SockAddr::from(std::net::SocketAddrV4::new(dst, 0));
        for _ in 0..count {
            s.send_to(&bytes, &to).expect("send crafted advert");
        }
    });
}

/// `ip -j route show table TABLE` in TestNet node `node`: the destinations.
fn routes(c: &Cluster, node: usize, table: &str) -> Vec<String> {
    let ns = c.net.node(node).ns.clone();
    let out = c.net.ip(&ns, &["-j", "route", "show", "table", table]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("ip -j route is JSON");
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["dst"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn wait_route(c: &Cluster, node: usize, table: &str, dst: &str, present: bool) {
    let what = format!(
        "route {dst} (table {table}) {} on node {node}",
        if present { "present" } else { "absent" }
    );
    let start = std::time::Instant::now();
    while routes(c, node, table).iter().any(|r| r == dst) != present {
        if start.elapsed() > DEADLINE {
            panic!("timed out waiting for {what}\n{}", c.all_logs());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// An instance holding `excluded` as virtual_ipaddress_excluded and a virtual route to
/// `route` (via a gateway on the segment).
fn with_host_side(mut i: Inst, excluded: &str, route: &str) -> Inst {
    i.extra.retain(|e| {
        !e.starts_with("virtual_ipaddress_excluded") && !e.starts_with("virtual_routes")
    });
    i.extra.push(format!(
        "virtual_ipaddress_excluded {{\n        {excluded}\n    }}"
    ));
    i.extra.push(format!(
        "virtual_routes {{\n        {route} via 10.0.0.254 dev eth0\n    }}"
    ));
    i
}

#[test]
fn reload_moves_excluded_addresses_and_routes_on_the_master_only() {
    let mut c = Cluster::new("e2e_faults_excl", 2);
    let a = with_host_side(
        Inst::new(150, "BACKUP").hooks(&c, "a"),
        "10.0.0.200/24",
        "10.9.1.0/24",
    );
    let b = with_host_side(
        Inst::new(100, "BACKUP").hooks(&c, "b"),
        "10.0.0.200/24",
        "10.9.1.0/24",
    );
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_hook("a", &["notify", "INSTANCE", "VI_1", "MASTER", "150"]);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "BACKUP", "100"]);
    c.wait_addr(0, "10.0.0.200", true);
    wait_route(&c, 0, "main", "10.9.1.0/24", true);
    assert!(!c.has_addr(1, "10.0.0.200"));
    assert!(!routes(&c, 1, "main").contains(&"10.9.1.0/24".to_string()));

    let hooks_before = c.hooks();
    let a_trans = c.d(0).transitions("VI_1");
    let b_trans = c.d(1).transitions("VI_1");
    // Both nodes swap the excluded address and the route.
    let a2 = with_host_side(a.clone(), "10.0.0.201/24", "10.9.2.0/24");
    let b2 = with_host_side(b.clone(), "10.0.0.201/24", "10.9.2.0/24");
    std::fs::write(&c.d(0).conf, conf("a", "", &[&a2])).expect("rewrite a");
    std::fs::write(&c.d(1).conf, conf("b", "", &[&b2])).expect("rewrite b");
    c.d(0).signal(Signal::SIGHUP);
    c.d(1).signal(Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");
    c.d(1).wait_log("configuration reloaded");

    c.wait_addr(0, "10.0.0.201", true);
    c.wait_addr(0, "10.0.0.200", false);
    wait_route(&c, 0, "main", "10.9.2.0/24", true);
    wait_route(&c, 0, "main", "10.9.1.0/24", false);
    // The removed address took its local route with it.
    wait_route(&c, 0, "local", "10.0.0.200", false);
    assert!(routes(&c, 0, "local").contains(&"10.0.0.201".to_string()));
    assert!(c.has_addr(0, VIP), "the virtual address stays");

    // The backup got none of it, and nothing changed state or ran a hook.
    c.d(1).hear_adverts("VI_1", 5);
    assert!(!c.has_addr(1, "10.0.0.201") && !c.has_addr(1, "10.0.0.200"));
    assert!(!routes(&c, 1, "main").iter().any(|r| r.starts_with("10.9.")));
    c.assert_state(0, "VI_1", "MASTER");
    c.assert_state(1, "VI_1", "BACKUP");
    assert_eq!(c.d(0).transitions("VI_1"), a_trans, "{}", c.all_logs());
    assert_eq!(c.d(1).transitions("VI_1"), b_trans, "{}", c.all_logs());
    assert_eq!(c.hooks(), hooks_before, "no hook ran on reload");

    // A restart of the master: it releases what it now holds, b takes over, and when
    // a is back (it preempts) the removed address and route stay gone everywhere.
    assert_eq!(c.dm(0).term(), Some(0), "{}", c.all_logs());
    c.d(1).wait_state("VI_1", "MASTER");
    for addr in ["10.0.0.200", "10.0.0.201"] {
        assert!(!c.has_addr(0, addr), "{addr} left on a after SIGTERM");
    }
    assert!(!routes(&c, 0, "main").iter().any(|r| r.starts_with("10.9.")));
    c.wait_addr(1, "10.0.0.201", true);
    wait_route(&c, 1, "main", "10.9.2.0/24", true);
    c.dm(0).restart();
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, "10.0.0.201", true);
    wait_route(&c, 0, "main", "10.9.2.0/24", true);
    c.wait_addr(1, "10.0.0.201", false);
    wait_route(&c, 1, "main", "10.9.2.0/24", false);
    for node in [0, 1] {
        assert!(!c.has_addr(node, "10.0.0.200"), "node {node}");
        assert!(
            !routes(&c, node, "main").contains(&"10.9.1.0/24".to_string()),
            "node {node}"
        );
    }
}

/// Two baton nodes in unicast (a 10.0.0.1 at 150, b 10.0.0.2 at 100) and a third
/// namespace (10.0.0.3) that is on the segment but in neither peer list; a runs with
/// `a_baton_conf` as its baton file, if given.
fn unicast_pair(test: &str, a_baton_conf: Option<&str>) -> Cluster {
    let mut c = Cluster::new(test, 3);
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    a.unicast = Some(("10.0.0.1".into(), vec!["10.0.0.2".into()]));
    b.unicast = Some(("10.0.0.2".into(), vec!["10.0.0.1".into()]));
    match a_baton_conf {
        Some(bc) => c.start_baton("a", 0, &conf("a", "", &[&a]), bc),
        None => c.start("a", 0, &conf("a", "", &[&a])),
    };
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c
}

#[test]
fn a_crafted_advert_from_a_host_that_is_not_a_peer_does_not_take_mastership() {
    let c = unicast_pair("e2e_faults_src", None);
    let a_trans = c.d(0).transitions("VI_1");
    let before = c.d(0).counter("VI_1", "source_errors");
    // Priority 254 beats a's 150: accepted, it would make a step down at once.
    send_crafted(&c.net, 2, c.net.node(0).v4, 51, 254, 5);
    wait_for(DEADLINE, "5 more source errors on a", || {
        c.d(0).counter("VI_1", "source_errors") >= before + 5
    });
    // Protocol time for a step-down to show: b hears a few more of a's adverts.
    c.d(1).hear_adverts("VI_1", 5);
    c.assert_state(0, "VI_1", "MASTER");
    c.assert_state(1, "VI_1", "BACKUP");
    assert_eq!(c.d(0).transitions("VI_1"), a_trans, "{}", c.all_logs());
    assert!(c.has_addr(0, VIP) && !c.has_addr(1, VIP));
    let logged = (c.d(0).log_text().lines())
        .filter(|l| l.contains("dropping adverts from 10.0.0.3, which is not a unicast_peer"))
        .count();
    assert_eq!(logged, 1, "once for five adverts\n{}", c.d(0).log_text());
    println!(
        "source errors on a: {} -> {}",
        before,
        c.d(0).counter("VI_1", "source_errors")
    );
}

#[test]
fn with_unicast_accept_any_source_the_same_crafted_advert_takes_mastership() {
    // keepalived's behaviour, asked for in baton's own file: shows the setting works
    // (and that the advert above would have taken mastership without the check).
    let c = unicast_pair(
        "e2e_faults_any_src",
        Some("instance VI_1 {\n    unicast_accept_any_source yes\n}\n"),
    );
    let before = c.d(0).counter("VI_1", "source_errors");
    send_crafted(&c.net, 2, c.net.node(0).v4, 51, 254, 5);
    // From the log, not from status: a may be master again before a poll sees BACKUP.
    let stepped_down = ("MASTER".to_string(), "BACKUP".to_string());
    wait_for(DEADLINE, "a steps down for the crafted advert", || {
        c.d(0).transitions("VI_1").contains(&stepped_down)
    });
    assert_eq!(c.d(0).counter("VI_1", "source_errors"), before);
    // The crafted "master" sends nothing more: once it is silent a (maybe after b)
    // takes over again, and preempts b if b was first.
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
}

fn check_output(conf_path: &std::path::Path, baton_conf: Option<&std::path::Path>) -> String {
    let mut cmd = Command::new(BATON);
    cmd.args(["check", "-f"]).arg(conf_path);
    if let Some(b) = baton_conf {
        cmd.arg("--baton-conf").arg(b);
    }
    let out = cmd.output().expect("baton check");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn baton_check_notes_the_unicast_source_policy_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keepalived.conf");
    let mut a = Inst::new(150, "BACKUP");
    a.unicast = Some(("10.0.0.1".into(), vec!["10.0.0.2".into()]));
    let mut b = a.clone();
    b.name = "VI_2".into();
    b.vrid = 52;
    b.vips = vec!["10.0.0.101/24".into()];
    let mut checked = a.clone();
    checked.name = "VI_3".into();
    checked.vrid = 53;
    checked.vips = vec!["10.0.0.102/24".into()];
    checked.extra.push("check_unicast_src".into());
    std::fs::write(&path, conf("a", "", &[&a, &b, &checked])).expect("write conf");
    let text = check_output(&path, None);
    let notes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("unicast_accept_any_source"))
        .collect();
    assert_eq!(notes.len(), 1, "one note for the file:\n{text}");
    let note = notes[0];
    assert!(note.contains("note:"), "{note}");
    assert!(note.contains("(VI_1, VI_2)"), "VI_3 checks already: {note}");
    assert!(
        note.contains("only from the unicast_peer addresses"),
        "{note}"
    );
    // At the first instance's unicast_peer: file:line:col.
    let line = conf("a", "", &[&a])
        .lines()
        .position(|l| l.trim_start().starts_with("unicast_peer"))
        .expect("unicast_peer line")
        + 1;
    assert!(
        note.starts_with(&format!("{}:{line}:", path.display())),
        "{note}"
    );

    // Once baton's own file decides for VI_1 (either way), the note names only VI_2;
    // once it decides globally, there is none.
    let bconf = dir.path().join("baton.conf");
    std::fs::write(
        &bconf,
        "instance VI_1 {\n    unicast_accept_any_source no\n}\n",
    )
    .expect("write baton conf");
    let text = check_output(&path, Some(&bconf));
    let notes: Vec<&str> = (text.lines())
        .filter(|l| l.contains("unicast_accept_any_source"))
        .collect();
    assert_eq!(notes.len(), 1, "{text}");
    assert!(notes[0].contains("(VI_2)"), "{}", notes[0]);
    std::fs::write(&bconf, "global {\n    unicast_accept_any_source yes\n}\n")
        .expect("write baton conf");
    let text = check_output(&path, Some(&bconf));
    assert!(!text.contains("unicast_accept_any_source"), "{text}");
}

#[test]
fn adverts_for_an_unknown_vrid_show_in_status_and_are_logged_once() {
    let mut c = Cluster::new("e2e_faults_vrid", 2);
    c.start("a", 0, &conf("a", "", &[&Inst::new(150, "BACKUP")]));
    c.d(0).wait_state("VI_1", "MASTER");
    // Another router on the segment, on VRID 77, which a has no instance for.
    send_crafted(&c.net, 1, VRRP_GROUP, 77, 100, 3);
    wait_for(DEADLINE, "3 adverts for VRID 77 counted", || {
        c.d(0).status()["unknown_vrids"]
            .as_array()
            .is_some_and(|l| l.iter().any(|u| u["vrid"] == 77 && u["count"] == 3))
    });
    let st = c.d(0).status();
    let list = st["unknown_vrids"].as_array().expect("list");
    assert_eq!(list.len(), 1, "{st}");
    let u = &list[0];
    assert_eq!(u["interface"], "eth0");
    assert_eq!(u["family"], "IPv4");
    assert_eq!(u["last_source"], "10.0.0.2");
    assert!(u["last_seen_ms_ago"].as_u64().is_some(), "{u}");

    let logged = c
        .d(0)
        .log_text()
        .lines()
        .filter(|l| l.contains("advert for unknown VRID 77 on eth0 from 10.0.0.2"))
        .count();
    assert_eq!(logged, 1, "{}", c.d(0).log_text());

    let out = Command::new(BATON)
        .args(["status", "--socket"])
        .arg(&c.d(0).socket)
        .output()
        .expect("baton status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unknown VRIDs on eth0: 77 (3 adverts, last from 10.0.0.2,"),
        "{text}"
    );
    // The instance itself is unaffected.
    c.assert_state(0, "VI_1", "MASTER");
    assert_eq!(c.d(0).counter("VI_1", "vrid_errors"), 0);
}

#[test]
fn reload_that_changes_the_vrid_retires_the_old_instance_first() {
    let mut c = Cluster::new("e2e_faults_vrid_change", 2);
    let mut a = with_host_side(
        Inst::new(150, "BACKUP").hooks(&c, "a"),
        "10.0.0.200/24",
        "10.9.1.0/24",
    );
    let b = Inst::new(100, "BACKUP").hooks(&c, "b");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, "10.0.0.200", true);
    wait_route(&c, 0, "main", "10.9.1.0/24", true);

    // Same name, another VRID (and addresses): to VRRP a new virtual router.
    a.vrid = 61;
    a.vips = vec!["10.0.0.150/24".into()];
    let a = with_host_side(a, "10.0.0.201/24", "10.9.2.0/24");
    std::fs::write(&c.d(0).conf, conf("a", "", &[&a])).expect("rewrite a");
    c.d(0).signal(Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");

    // The old one released VRID 51 (b takes it over) and took everything with it.
    c.wait_hook("a", &["notify_stop"]);
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    c.wait_addr(0, VIP, false);
    c.wait_addr(0, "10.0.0.200", false);
    wait_route(&c, 0, "main", "10.9.1.0/24", false);
    // The new one runs on VRID 61 with its own.
    c.d(0).wait_state("VI_1", "MASTER");
    c.wait_addr(0, "10.0.0.150", true);
    c.wait_addr(0, "10.0.0.201", true);
    wait_route(&c, 0, "main", "10.9.2.0/24", true);
    assert_eq!(c.d(0).instance("VI_1").expect("status")["vrid"], 61);
}
