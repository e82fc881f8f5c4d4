//! End-to-end: the link's trust, between real `baton run` processes in namespaces.
//!
//! - two nodes with empty state directories see each other as pending, approve each
//!   other's fingerprint and then each shows the other `up` with the other's own
//!   instance states; a restart links again with no command (the trust persisted);
//! - a third node with a key nobody approved stays pending on both sides and is told
//!   nothing; revoking a trusted peer takes the link out of `up` at once on both sides;
//! - fingerprints written in baton.conf link the pair with no approval step;
//! - an address pinned to one key that presents another is `untrusted`, never pending;
//! - both nodes restarted at the same moment (both dial, one connection is kept) end up
//!   linked on both sides, every time;
//! - the link runs between IPv6 addresses as it does between IPv4 ones.
//!
//! Node a is 10.0.0.1 (priority 150, the master), b is 10.0.0.2 (100), c is 10.0.0.3.

mod common;
mod e2e;

use std::os::unix::fs::PermissionsExt;

use e2e::link::{
    addr, approve_each_other, is_fingerprint, is_pending, link_conf, openssl_fingerprint,
    start_linked, wait_control,
};
use e2e::{BATON, Cluster, Inst, conf};

const A: &str = "10.0.0.1";
const B: &str = "10.0.0.2";
const C: &str = "10.0.0.3";

fn inst(priority: u8) -> Inst {
    Inst::new(priority, "BACKUP")
}

/// Mode bits of a path (permissions only).
fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn two_nodes_approve_each_other_show_each_other_and_relink_after_restart() {
    let mut c = Cluster::new("link_approve", 2);
    let a = start_linked(&mut c, "a", 0, &inst(150), &[1], &[]);
    let b = start_linked(&mut c, "b", 1, &inst(100), &[0], &[]);
    c.d(a).wait_state("VI_1", "MASTER");
    c.d(b).wait_state("VI_1", "BACKUP");

    // Each node made its identity; the fingerprint is the one openssl computes.
    let fa = c.d(a).fingerprint();
    let fb = c.d(b).fingerprint();
    assert_ne!(fa, fb, "two fresh nodes share a key");
    for (name, fp) in [("a", &fa), ("b", &fb)] {
        let dir = c.path(&format!("state-{name}"));
        assert_eq!(&openssl_fingerprint(&dir.join("identity.crt")), fp);
        assert_eq!(mode(&dir), 0o700, "{} mode", dir.display());
        for f in ["identity.key", "identity.crt"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f} mode");
        }
    }

    // Both pending, each knowing the other by its key, neither told anything.
    let ra = c.d(a).wait_row(B, "pending with b's key", |r| {
        r["link"].as_str().is_some_and(is_pending) && r["fingerprint"] == fb
    });
    let rb = c.d(b).wait_row(A, "pending with a's key", |r| {
        r["link"].as_str().is_some_and(is_pending) && r["fingerprint"] == fa
    });
    assert!(
        ra["status"].is_null(),
        "a learned b's status untrusted: {ra}"
    );
    assert!(
        rb["status"].is_null(),
        "b learned a's status untrusted: {rb}"
    );
    let pa = c.d(a).peer_entry(&fb).expect("b in a's peer list");
    assert_eq!(pa["trust"], "pending", "{pa}");
    assert_eq!(pa["linked"], false, "{pa}");
    assert_eq!(
        pa["address"].as_str().map(|s| s.starts_with(B)),
        Some(true),
        "{pa}"
    );

    // a approves b: a trusts, b does not yet; still not linked.
    c.d(a).approve(&fb);
    c.d(a).wait_link(B, "pending trust (theirs)");
    c.d(b).wait_link(A, "pending trust (ours)");
    assert!(c.d(a).peer_row(B).expect("row")["status"].is_null());
    assert!(c.d(b).peer_row(A).expect("row")["status"].is_null());

    // b approves a: linked; each shows the other's states as the other reports them.
    c.d(b).approve(&fa);
    let ra = c.d(a).wait_row(B, "up, b reporting BACKUP", |r| {
        r["link"] == "up" && c.d(a).peer_reports(B, "VI_1").as_deref() == Some("BACKUP")
    });
    let rb = c.d(b).wait_row(A, "up, a reporting MASTER", |r| {
        r["link"] == "up" && c.d(b).peer_reports(A, "VI_1").as_deref() == Some("MASTER")
    });
    assert_eq!(ra["fingerprint"], fb.as_str());
    assert_eq!(rb["fingerprint"], fa.as_str());
    assert_eq!(ra["node_id"], c.d(b).identity()["node_id"], "{ra}");
    assert_eq!(rb["node_id"], c.d(a).identity()["node_id"], "{rb}");
    for (d, fp) in [(a, &fb), (b, &fa)] {
        let e = c.d(d).peer_entry(fp).expect("peer in list");
        assert_eq!(e["trust"], "approved", "{e}");
        assert_eq!(e["linked"], true, "{e}");
    }
    // `baton status` as a person reads it: the peer's link, and both nodes' states on
    // the instance's line.
    let text = c.d(a).cli(&["status"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with(B) && l.contains("up for")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("VI_1") && l.contains("MASTER") && l.contains("BACKUP")),
        "{text}"
    );

    // b restarts: same key, linked again with no command.
    c.dm(b).restart();
    wait_control(c.dm(b));
    assert_eq!(c.d(b).fingerprint(), fb, "the key changed across a restart");
    c.d(a).wait_row(B, "up again after b's restart", |r| {
        r["link"] == "up" && c.d(a).peer_reports(B, "VI_1").as_deref() == Some("BACKUP")
    });
    c.d(b).wait_row(A, "up again after its restart", |r| {
        r["link"] == "up" && c.d(b).peer_reports(A, "VI_1").as_deref() == Some("MASTER")
    });
    c.assert_state(a, "VI_1", "MASTER");
}

#[test]
fn identity_command_prints_the_fingerprint_first() {
    let mut c = Cluster::new("link_identity_cli", 2);
    let a = start_linked(&mut c, "a", 0, &inst(150), &[1], &[]);
    let fa = c.d(a).fingerprint();
    let out = std::process::Command::new(BATON)
        .args(["identity", "--socket"])
        .arg(&c.d(a).socket)
        .output()
        .expect("run baton identity");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().next(),
        Some(format!("SHA256 {fa}").as_str()),
        "{text}"
    );
}

#[test]
fn unknown_third_node_stays_pending_learns_nothing_and_revoke_drops_the_link() {
    let mut c = Cluster::new("link_third", 3);
    let a = start_linked(&mut c, "a", 0, &inst(150), &[1, 2], &[]);
    // b notices a lost link only from a's Close or the connection's end, not by silence.
    let b = start_linked(&mut c, "b", 1, &inst(100), &[0, 2], &["dead_after 30"]);
    let mut ci = inst(100);
    ci.vrid = 52;
    ci.vips = vec!["10.0.0.200/24".into()];
    let n3 = start_linked(&mut c, "c", 2, &ci, &[0, 1], &[]);
    c.d(a).wait_state("VI_1", "MASTER");
    approve_each_other(&c, a, b, A, B);
    let fa = c.d(a).fingerprint();
    let fb = c.d(b).fingerprint();
    let fc = c.d(n3).fingerprint();

    // c is willing (it approves both), a and b are not: c stays pending on both sides.
    c.d(n3).approve(&fa);
    c.d(n3).approve(&fb);
    for (d, name) in [(a, "a"), (b, "b")] {
        c.d(d).wait_row(C, "c pending, by its key", |r| {
            r["link"].as_str().is_some_and(is_pending) && r["fingerprint"] == fc
        });
        let e = c.d(d).peer_entry(&fc).expect("c in the peer list");
        assert_eq!(e["trust"], "pending", "{name}: {e}");
        assert_eq!(e["linked"], false, "{name}: {e}");
    }
    c.d(n3).wait_link(A, "pending trust (theirs)");
    c.d(n3).wait_link(B, "pending trust (theirs)");
    // Several heartbeats later c still has been told nothing by either.
    c.d(b).hear_adverts("VI_1", 30);
    for peer in [A, B] {
        let r = c.d(n3).peer_row(peer).expect("row");
        assert!(is_pending(r["link"].as_str().unwrap_or("")), "{r}");
        assert!(r["status"].is_null(), "c learned a status: {r}");
        assert!(r["config"].is_null(), "c learned a config: {r}");
    }
    // a and b are still linked to each other.
    assert_eq!(c.d(a).link_state(B).as_deref(), Some("up"));
    assert_eq!(c.d(b).link_state(A).as_deref(), Some("up"));

    // a revokes b: out of `up` on a at once, and on b without waiting for silence.
    c.d(a).revoke(&fb);
    let now = c.d(a).link_state(B);
    assert_ne!(now.as_deref(), Some("up"), "a still up with b after revoke");
    c.d(b)
        .wait_row(A, "no longer up after a revoked it", |r| r["link"] != "up");
    let e = c.d(a).peer_entry(&fb);
    assert!(
        e.as_ref().is_none_or(|e| e["trust"] != "approved"),
        "b still approved on a: {e:?}"
    );
    // What is left: b trusts a, a no longer trusts b; a shows no status from b.
    c.d(a).wait_row(B, "pending ours, no status", |r| {
        r["link"] == "pending trust (ours)" && r["status"].is_null()
    });
    c.d(b).wait_link(A, "pending trust (theirs)");
    // VRRP did not notice any of it.
    c.assert_state(a, "VI_1", "MASTER");
    c.assert_state(b, "VI_1", "BACKUP");
    assert_eq!(addr(&c, 2), C);
}

#[test]
fn fingerprints_written_in_baton_conf_link_without_approval() {
    let mut c = Cluster::new("link_configured", 2);
    let a = start_linked(&mut c, "a", 0, &inst(150), &[1], &[]);
    let b = start_linked(&mut c, "b", 1, &inst(100), &[0], &[]);
    let fa = c.d(a).fingerprint();
    let fb = c.d(b).fingerprint();
    assert!(is_fingerprint(&fa) && is_fingerprint(&fb));
    c.dm(a).kill();
    c.dm(b).kill();

    // a pins b's key to b's address; b trusts a's key from anywhere.
    let conf_a = format!(
        "link {{\n    listen {A}\n    peer {B} fingerprint {fb}\n    state_dir {}\n}}\n",
        c.path("state-a").display()
    );
    let conf_b = format!(
        "link {{\n    listen {B}\n    peer {A}\n    trust {fa}\n    state_dir {}\n}}\n",
        c.path("state-b").display()
    );
    for (d, text) in [(a, &conf_a), (b, &conf_b)] {
        let p = c.d(d).baton_conf.clone().expect("baton conf path");
        std::fs::write(p, text).expect("write baton conf");
        c.dm(d).restart();
        wait_control(c.dm(d));
    }
    c.d(a).wait_row(B, "up, b reporting BACKUP", |r| {
        r["link"] == "up" && c.d(a).peer_reports(B, "VI_1").as_deref() == Some("BACKUP")
    });
    c.d(b).wait_row(A, "up, a reporting MASTER", |r| {
        r["link"] == "up" && c.d(b).peer_reports(A, "VI_1").as_deref() == Some("MASTER")
    });
    for (d, fp, name) in [(a, &fb, "a"), (b, &fa, "b")] {
        let e = c.d(d).peer_entry(fp).expect("peer in list");
        assert_eq!(e["trust"], "configured", "{name}: {e}");
        assert_eq!(e["linked"], true, "{name}: {e}");
        // baton.conf's fingerprints are never written into the state directory.
        let trusted = std::fs::read_to_string(c.path(&format!("state-{name}")).join("trusted"))
            .unwrap_or_default();
        assert!(
            !trusted.contains(fp.as_str()),
            "{name} wrote {fp} to trusted"
        );
    }
}

#[test]
fn a_pinned_address_presenting_another_key_is_untrusted() {
    let mut c = Cluster::new("link_wrong_key", 2);
    // a pins b's address to a key b does not have.
    let bogus = vec!["AB"; 32].join(":");
    let a = start_linked(
        &mut c,
        "a",
        0,
        &inst(150),
        &[],
        &[&format!("peer {B} fingerprint {bogus}")],
    );
    let b = start_linked(&mut c, "b", 1, &inst(100), &[0], &[]);
    c.d(a).wait_state("VI_1", "MASTER");
    c.d(b).wait_state("VI_1", "BACKUP");
    let fb = c.d(b).fingerprint();
    let row = c.d(a).wait_row(B, "untrusted, wrong key counted", |r| {
        r["link"] == "untrusted" && r["refused"]["wrong_key"].as_u64().unwrap_or(0) >= 1
    });
    assert!(row["status"].is_null(), "{row}");
    // Refused in the handshake: b's key is not even held as pending, and b learns nothing.
    assert!(c.d(a).peer_entry(&fb).is_none(), "{:?}", c.d(a).peer_list());
    c.d(b).hear_adverts("VI_1", 20);
    let rb = c.d(b).peer_row(A).expect("a's row on b");
    assert_ne!(rb["link"], "up", "{rb}");
    assert!(rb["status"].is_null(), "{rb}");
    assert_eq!(c.d(a).link_state(B).as_deref(), Some("untrusted"));
}

#[test]
fn both_nodes_restarted_at_once_link_on_both_sides_every_time() {
    // Both dial each other at the same moment: two connections for one pair, of which
    // one is kept. Whichever it is, both rows must end `up` with the peer's status.
    // 100 rounds: the race this guards against showed in about one round in 50.
    let mut c = Cluster::new("link_both_restart", 2);
    let a = start_linked(&mut c, "a", 0, &inst(150), &[1], &[]);
    let b = start_linked(&mut c, "b", 1, &inst(100), &[0], &[]);
    approve_each_other(&c, a, b, A, B);
    for round in 0..100 {
        c.dm(a).kill();
        c.dm(b).kill();
        c.dm(a).restart();
        c.dm(b).restart();
        wait_control(c.dm(a));
        wait_control(c.dm(b));
        for (d, peer) in [(a, B), (b, A)] {
            c.d(d).wait_row(
                peer,
                &format!("up after simultaneous restart {round}"),
                |r| r["link"] == "up" && !r["status"].is_null(),
            );
        }
    }
}

#[test]
fn the_link_runs_over_ipv6_addresses_too() {
    let mut c = Cluster::new("link_ipv6", 2);
    let (a6, b6) = (c.net.node(0).v6.to_string(), c.net.node(1).v6.to_string());
    let ba = link_conf(&a6, &[&b6], &c.path("state-a"), &[]);
    let bb = link_conf(&b6, &[&a6], &c.path("state-b"), &[]);
    let a = c.start_baton("a", 0, &conf("a", "", &[&inst(150)]), &ba);
    let b = c.start_baton("b", 1, &conf("b", "", &[&inst(100)]), &bb);
    c.d(a).wait_state("VI_1", "MASTER");
    approve_each_other(&c, a, b, &a6, &b6);
    c.d(a).wait_row(&b6, "up over IPv6 with b's status", |r| {
        r["link"] == "up" && c.d(a).peer_reports(&b6, "VI_1").as_deref() == Some("BACKUP")
    });
    c.d(b).wait_row(&a6, "up over IPv6 with a's status", |r| {
        r["link"] == "up" && c.d(b).peer_reports(&a6, "VI_1").as_deref() == Some("MASTER")
    });
}
