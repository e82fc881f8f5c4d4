//! The daemon's life around the protocol: systemd notifications, interfaces that come
//! and go, a virtual address someone else deleted, tracked interfaces with weights,
//! operator commands, and virtual addresses a killed baton left behind.
//!
//! Real `baton run` processes in test namespaces (see `e2e/mod.rs`).

mod common;
mod e2e;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::netns::wait_for;
use e2e::{Cluster, DEADLINE, Inst, conf};

const VIP: &str = "10.0.0.100";

fn prio(c: &Cluster, d: usize) -> u64 {
    c.d(d).instance("VI_1").expect("instance")["effective_priority"]
        .as_u64()
        .expect("priority")
}

/// READY with a status line, WATCHDOG at the asked period, RELOADING then READY around
/// SIGHUP, STOPPING on SIGTERM: what a `Type=notify` unit with `WatchdogSec` needs.
#[test]
fn systemd_notifications() {
    let mut c = Cluster::new("sdnotify", 1);
    let sock_path = c.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let path = sock_path.display().to_string();
    let a = Inst::new(150, "BACKUP");
    c.start_env(
        "a",
        0,
        &conf("a", "", &[&a]),
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "400000")],
    );
    let mut seen = Vec::new();
    let recv_until = |want: &str, seen: &mut Vec<String>| {
        wait_for(DEADLINE, want, || {
            let mut buf = [0u8; 512];
            if let Ok(n) = sock.recv(&mut buf) {
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            seen.iter().any(|m| m.lines().any(|l| l == want))
        });
    };
    recv_until("READY=1", &mut seen);
    assert!(
        seen.iter()
            .any(|m| m.lines().any(|l| l.starts_with("STATUS="))),
        "a STATUS line comes with READY: {seen:?}"
    );
    recv_until("WATCHDOG=1", &mut seen);

    seen.clear();
    c.d(0).signal(nix::sys::signal::Signal::SIGHUP);
    recv_until("RELOADING=1", &mut seen);
    recv_until("READY=1", &mut seen);
    let reload = seen.iter().position(|m| m.contains("RELOADING=1"));
    let ready = seen.iter().rposition(|m| m.contains("READY=1"));
    assert!(reload < ready, "READY follows RELOADING: {seen:?}");

    seen.clear();
    c.d(0).signal(nix::sys::signal::Signal::SIGTERM);
    recv_until("STOPPING=1", &mut seen);
    assert_eq!(c.dm(0).term_wait(), Some(0), "clean exit");
}

/// An instance whose interface does not exist waits in FAULT; when the interface
/// appears it runs normally and takes the virtual address there.
#[test]
fn missing_interface_keeps_fault_until_it_appears() {
    let mut c = Cluster::new("late_iface", 1);
    let ns = c.net.node(0).ns.clone();
    let mut a = Inst::new(150, "BACKUP");
    a.interface = "late0".into();
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "FAULT");
    // A veth pair inside the namespace (this kernel may lack the dummy driver); both
    // ends up so the link has carrier.
    c.net.ip(
        &ns,
        &[
            "link", "add", "late0", "type", "veth", "peer", "name", "late0p",
        ],
    );
    c.net
        .ip(&ns, &["addr", "add", "10.0.7.1/24", "dev", "late0"]);
    c.net.ip(&ns, &["link", "set", "late0p", "up"]);
    c.net.ip(&ns, &["link", "set", "late0", "up"]);
    c.d(0).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "VIP on late0", || {
        c.net.find_addr(&ns, "late0", VIP).is_some()
    });
    // And it goes away again: FAULT, address released.
    c.net.ip(&ns, &["link", "del", "late0"]);
    c.d(0).wait_state("VI_1", "FAULT");
}

/// A master puts back a virtual address that someone else deleted.
#[test]
fn deleted_virtual_address_is_restored() {
    let mut c = Cluster::new("restore_vip", 1);
    let a = Inst::new(150, "BACKUP");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.wait_addr(0, VIP, true);
    let ns = c.net.node(0).ns.clone();
    c.net
        .ip(&ns, &["addr", "del", &format!("{VIP}/24"), "dev", "eth0"]);
    c.wait_addr(0, VIP, true);
    c.d(0).wait_log("putting it back");
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("MASTER"));
}

/// The instance's own link going down is FAULT (priority 0 lets the backup take over
/// at once); back up, the preferred node preempts again. `track_interface` with a
/// weight lowers the priority instead.
#[test]
fn link_down_faults_and_track_interface_weight_lowers_priority() {
    let mut c = Cluster::new("linkdown", 2);
    let ns_a = c.net.node(0).ns.clone();
    c.net.ip(
        &ns_a,
        &[
            "link", "add", "uplink", "type", "veth", "peer", "name", "uplinkp",
        ],
    );
    c.net.ip(&ns_a, &["link", "set", "uplinkp", "up"]);
    c.net.ip(&ns_a, &["link", "set", "uplink", "up"]);
    let mut a = Inst::new(150, "BACKUP");
    a.extra
        .push("track_interface {\n        uplink weight -60\n    }".into());
    let b = Inst::new(100, "BACKUP");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");

    // The tracked uplink fails: 150 - 60 = 90 < 100, the backup preempts.
    c.net.ip(&ns_a, &["link", "set", "uplink", "down"]);
    wait_for(DEADLINE, "priority 90", || prio(&c, 0) == 90);
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    c.net.ip(&ns_a, &["link", "set", "uplink", "up"]);
    wait_for(DEADLINE, "priority 150", || prio(&c, 0) == 150);
    c.d(0).wait_state("VI_1", "MASTER");

    // The instance's own interface fails: FAULT, the backup takes over.
    c.net.ip(&ns_a, &["link", "set", "eth0", "down"]);
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    c.net.ip(&ns_a, &["link", "set", "eth0", "up"]);
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
}

/// Manual recovery: demote the master, the backup takes over and keeps it even though
/// the demoted node has the higher priority; release lets it preempt back. Promote
/// makes the lower node master at once.
#[test]
fn operator_promote_demote_release() {
    let mut c = Cluster::new("operator", 2);
    let a = Inst::new(150, "BACKUP");
    let b = Inst::new(100, "BACKUP");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(0).wait_state("VI_1", "MASTER");

    let run = |d: usize, what: &str| {
        let out = std::process::Command::new(e2e::BATON)
            .args([what, "VI_1", "--socket"])
            .arg(&c.d(d).socket)
            .output()
            .expect("baton");
        assert!(out.status.success(), "{what}: {out:?}");
    };
    run(0, "demote");
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    assert_eq!(c.d(0).instance("VI_1").expect("a")["operator"], "demoted");
    // It stays backup through several master-down intervals (0.1 s adverts).
    let watch = std::time::Instant::now();
    while watch.elapsed() < Duration::from_millis(800) {
        assert_eq!(c.d(0).state("VI_1").as_deref(), Some("BACKUP"));
        assert_eq!(c.d(1).state("VI_1").as_deref(), Some("MASTER"));
    }

    run(0, "release");
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");

    run(1, "promote");
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    run(1, "release");
    c.d(0).wait_state("VI_1", "MASTER");
}

/// A baton killed while master (SIGKILL, watchdog) leaves its address behind; the next
/// start removes it before anything else, so two nodes never answer for one address.
#[test]
fn stale_virtual_address_is_removed_at_start() {
    let mut c = Cluster::new("stale_vip", 2);
    let a = Inst::new(150, "BACKUP");
    let b = Inst::new(100, "BACKUP");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    // b was master before a crash: its address is still there.
    let ns_b = c.net.node(1).ns.clone();
    c.net
        .ip(&ns_b, &["addr", "add", &format!("{VIP}/24"), "dev", "eth0"]);
    c.start("b", 1, &conf("b", "", &[&b]));
    c.wait_addr(1, VIP, false);
    c.d(1).wait_state("VI_1", "BACKUP");
    assert!(c.has_addr(0, VIP));
}

/// `static_ipaddress` and `static_routes` are put in place at start, whatever the
/// VRRP state, as keepalived does.
#[test]
fn static_addresses_and_routes_are_configured_at_start() {
    let mut c = Cluster::new("statics", 1);
    let a = Inst::new(100, "BACKUP");
    let statics = "static_ipaddress {\n    10.0.5.5/24 dev eth0\n}\n\
                   static_routes {\n    10.99.0.0/16 via 10.0.0.254 dev eth0\n}\n";
    c.start("a", 0, &conf("a", statics, &[&a]));
    let ns = c.net.node(0).ns.clone();
    wait_for(DEADLINE, "static address", || {
        c.net.find_addr(&ns, "eth0", "10.0.5.5").is_some()
    });
    wait_for(DEADLINE, "static route", || {
        c.net
            .ip(&ns, &["route", "show", "10.99.0.0/16"])
            .contains("via 10.0.0.254")
    });
}
