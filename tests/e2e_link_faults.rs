//! End-to-end: VRRP never waits on the link.
//!
//! - The link's TCP port is dropped (nftables inside the backup's namespace), then the
//!   master crashes (SIGKILL): the backup takes over, the link shows `down` on both
//!   sides, and once the port passes again the link comes back `up` by itself. The
//!   takeover time is printed beside the same crash on a pair without the link.
//! - A peer that accepts TCP and never answers (a half-open or stuck link) does not slow
//!   the master's adverts or stop a takeover.
//!
//! Times are printed (`FIGURE`), never asserted.

mod common;
mod e2e;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e::link::{
    LINK_PORT, addr, approve_each_other, block_tcp_port, nft_present, start_linked,
    unblock_tcp_port, wait_control,
};
use e2e::{Cluster, Inst, conf, ms, now_ns};

const A: &str = "10.0.0.1";
const B: &str = "10.0.0.2";
const VIP: &str = "10.0.0.100";

/// a (daemon 0, node 0, priority 150) master, b (daemon 1, node 1, 100) backup, with
/// logging hooks; with `link`, each names the other in a link block (not yet approved).
fn pair(test: &str, link: bool, nodes: usize) -> Cluster {
    let mut c = Cluster::new(test, nodes);
    let ia = Inst::new(150, "BACKUP").hooks(&c, "a");
    let ib = Inst::new(100, "BACKUP").hooks(&c, "b");
    if link {
        start_linked(&mut c, "a", 0, &ia, &[1], &[]);
        start_linked(&mut c, "b", 1, &ib, &[0], &[]);
    } else {
        c.start("a", 0, &conf("a", "", &[&ia]));
        c.start("b", 1, &conf("b", "", &[&ib]));
    }
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
    c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "BACKUP", "100"]);
    c
}

/// SIGKILL to a; waits for b to take over; the time to b's notify MASTER hook in ms.
fn crash_a(c: &mut Cluster) -> f64 {
    let t0 = now_ns();
    c.dm(0).kill();
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    let started = c.wait_hook("b", &["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    ms(t0, started)
}

#[test]
fn link_blocked_during_master_crash_takeover_as_without_link_then_heals() {
    assert!(
        nft_present(),
        "nftables (nft) is not installed; tests/all.sh installs it"
    );
    let plain = {
        let mut c = pair("link_block_plain", false, 2);
        crash_a(&mut c)
    };

    let mut c = pair("link_block", true, 2);
    approve_each_other(&c, 0, 1, A, B);
    let b_ns = c.net.node(1).ns.clone();
    block_tcp_port(&b_ns, LINK_PORT);
    // Both sides notice the silence (heartbeat 1 s, dead after 3 s).
    let limit = Duration::from_secs(15);
    c.d(0)
        .wait_row_within(B, "down while blocked", limit, |r| r["link"] == "down");
    c.d(1)
        .wait_row_within(A, "down while blocked", limit, |r| r["link"] == "down");
    let linked = crash_a(&mut c);
    eprintln!(
        "FIGURE crash takeover, advert_int 0.1: {plain:.0} ms without the link, {linked:.0} ms with the link blocked (SIGKILL -> backup notify MASTER)"
    );
    c.d(1)
        .wait_row(A, "down after a's crash", |r| r["link"] == "down");

    // a reboots (without its stale VIP) and preempts; the port is still dropped.
    let a_ns = c.net.node(0).ns.clone();
    let _ = c.net.exec(
        &a_ns,
        "ip",
        &["addr", "del", "10.0.0.100/24", "dev", "eth0"],
    );
    c.dm(0).restart();
    wait_control(c.dm(0));
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.d(1).hear_adverts("VI_1", 20);
    assert_ne!(
        c.d(0).link_state(B).as_deref(),
        Some("up"),
        "up through a dropped port"
    );
    assert_ne!(
        c.d(1).link_state(A).as_deref(),
        Some("up"),
        "up through a dropped port"
    );

    // Unblocked: linked again with no command, within the dialers' backoff.
    unblock_tcp_port(&b_ns);
    let t0 = Instant::now();
    let heal = Duration::from_secs(45);
    c.d(0)
        .wait_row_within(B, "up again after unblocking", heal, |r| {
            r["link"] == "up" && c.d(0).peer_reports(B, "VI_1").as_deref() == Some("BACKUP")
        });
    c.d(1)
        .wait_row_within(A, "up again after unblocking", heal, |r| {
            r["link"] == "up" && c.d(1).peer_reports(A, "VI_1").as_deref() == Some("MASTER")
        });
    eprintln!(
        "FIGURE link healed {:.1} s after the port was unblocked",
        t0.elapsed().as_secs_f64()
    );
}

/// A TCP listener on `ip:port` inside `ns` that accepts and never says a word; stops
/// (closing everything it holds) when the returned flag is set.
fn silent_listener(c: &Cluster, ns: &str, ip: String, port: u16) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    c.net.spawn(ns, move || {
        let l = TcpListener::bind((ip.as_str(), port)).expect("bind silent listener");
        l.set_nonblocking(true).expect("nonblocking");
        ready_tx.send(()).expect("ready");
        let mut held = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            match l.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("silent listener ready");
    stop
}

#[test]
fn a_peer_that_accepts_and_never_answers_does_not_slow_vrrp() {
    // a and b run VRRP; a's link also names node 2, where something holds the port
    // open and never speaks, and node 2 dials a and says nothing either.
    let mut c = Cluster::new("link_silent", 3);
    let ia = Inst::new(150, "BACKUP").hooks(&c, "a");
    let ib = Inst::new(100, "BACKUP").hooks(&c, "b");
    let silent_ns = c.net.node(2).ns.clone();
    let silent_ip = addr(&c, 2);
    let stop = silent_listener(&c, &silent_ns, silent_ip.clone(), LINK_PORT);
    start_linked(&mut c, "a", 0, &ia, &[1, 2], &[]);
    start_linked(&mut c, "b", 1, &ib, &[0], &[]);
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    approve_each_other(&c, 0, 1, A, B);
    // Half-open from the other direction: connections to a that never send a byte.
    let holders = c.net.run(&silent_ns, move || {
        (0..4)
            .map(|_| std::net::TcpStream::connect((A, LINK_PORT)).expect("connect to a"))
            .collect::<Vec<_>>()
    });

    let a_trans = c.d(0).transitions("VI_1");
    let b_trans = c.d(1).transitions("VI_1");
    // Over several heartbeats and handshake timeouts, b hears a at the nominal rate.
    let before = c.d(1).counter("VI_1", "adverts_received");
    let t0 = Instant::now();
    c.d(1).hear_adverts("VI_1", 80);
    let rate =
        (c.d(1).counter("VI_1", "adverts_received") - before) as f64 / t0.elapsed().as_secs_f64();
    eprintln!("FIGURE adverts received by b with a stuck peer: {rate:.1}/s (advert_int 0.1)");
    let row = c.d(0).peer_row(&silent_ip);
    eprintln!("stuck peer's row on a: {row:?}");
    assert_ne!(
        row.as_ref().and_then(|r| r["link"].as_str()),
        Some("up"),
        "a silent peer counted as up"
    );
    assert_eq!(
        c.d(0).link_state(B).as_deref(),
        Some("up"),
        "the real peer's link fell"
    );
    assert_eq!(
        c.d(0).transitions("VI_1"),
        a_trans,
        "a changed state\n{}",
        c.all_logs()
    );
    assert_eq!(
        c.d(1).transitions("VI_1"),
        b_trans,
        "b changed state\n{}",
        c.all_logs()
    );

    // And a crash still hands over at once.
    let t = crash_a(&mut c);
    eprintln!("FIGURE crash takeover with a stuck link peer: {t:.0} ms");
    drop(holders);
    stop.store(true, Ordering::Relaxed);
}
