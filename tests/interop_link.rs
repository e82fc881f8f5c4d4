//! baton with a link block paired with the real keepalived (Debian's 2.2.7): a mixed pair
//! during a migration. VRRP works as it does without the link (the higher priority is
//! master, a crash hands over, the master's return preempts), and baton's status shows
//! the keepalived node as `vrrp only`, with the address and priority its adverts carry.
//!
//! keepalived (priority 200) runs on 10.0.0.1, baton (100) on 10.0.0.2, so baton is the
//! backup and hears keepalived's adverts. Needs root and keepalived in PATH.

mod common;
mod e2e;
#[allow(dead_code)] // the keepalived side of the helpers only
mod interop;

use std::time::Duration;

use e2e::link::{link_conf, wait_control};
use e2e::{Cluster, Inst, conf};
use interop::{Agent, Kind, wait_until};

const KEEPALIVED: &str = "10.0.0.1";
const VIP: &str = "10.0.0.100";
const LIMIT: Duration = Duration::from_secs(20);

/// The row's advert view for VI_1: (vrid, priority).
fn seen(row: &serde_json::Value) -> Option<(u64, u64)> {
    let v = row["vrrp"]
        .as_array()?
        .iter()
        .find(|v| v["instance"] == "VI_1")?;
    Some((v["vrid"].as_u64()?, v["priority"].as_u64()?))
}

/// keepalived master on node 0, baton backup with a link block on node 1; `peers` are the
/// link block's peer lines (empty: baton's default, the sources of adverts).
fn mixed_pair(test: &str, peers: &[&str]) {
    assert!(
        std::process::Command::new("keepalived")
            .arg("--version")
            .output()
            .is_ok(),
        "keepalived is not installed"
    );
    let mut c = Cluster::new(test, 2);
    let ka_ns = c.net.node(0).ns.clone();
    let ka_conf = conf("ka", "", &[&Inst::new(200, "BACKUP")]);
    let mut ka = Agent::start(Kind::Keepalived, &ka_ns, c.dir.path(), &ka_conf);
    let baton_conf = link_conf("10.0.0.2", peers, &c.path("state-b"), &[]);
    let b = c.start_baton(
        "b",
        1,
        &conf("b", "", &[&Inst::new(100, "BACKUP").hooks(&c, "b")]),
        &baton_conf,
    );
    let logs = |c: &Cluster, ka: &Agent| {
        format!("{}\n=== keepalived ===\n{}", c.all_logs(), ka.log_text())
    };

    // VRRP as today: keepalived (higher priority) is master, baton backup.
    wait_until(
        LIMIT,
        "keepalived master, baton backup",
        || {
            ka.state().as_deref() == Some("MASTER")
                && c.d(b).state("VI_1").as_deref() == Some("BACKUP")
                && c.has_addr(0, VIP)
                && !c.has_addr(1, VIP)
        },
        || logs(&c, &ka),
    );
    // The keepalived node's row: no link answers there, its adverts arrive.
    let row = c.d(b).wait_row(KEEPALIVED, "vrrp only, priority 200", |r| {
        r["link"] == "vrrp only" && seen(r) == Some((51, 200))
    });
    eprintln!("keepalived's row on baton: {row}");
    assert!(row["status"].is_null(), "a status from keepalived? {row}");
    assert!(row["fingerprint"].is_null(), "a key from keepalived? {row}");
    let text = c.d(b).cli(&["status"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with(KEEPALIVED) && l.contains("VRRP only")),
        "{text}"
    );

    // keepalived crashes: baton takes over as it would without the link.
    ka.crash();
    let _ = c.net.exec(
        &ka_ns,
        "ip",
        &["addr", "del", "10.0.0.100/24", "dev", "eth0"],
    );
    c.d(b).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    // Its hooks run as they would without the link: a keepalived peer has no release to
    // wait for, so notify_master is not held.
    c.wait_hook("b", &["notify_master"]);
    let held = c.d(b).log_lines_with("MASTER hooks held");
    assert!(
        held.is_empty(),
        "baton held its hooks for keepalived: {held:?}"
    );

    // keepalived comes back and preempts; the row says vrrp only again.
    ka = Agent::start(Kind::Keepalived, &ka_ns, c.dir.path(), &ka_conf);
    wait_until(
        LIMIT,
        "keepalived preempting baton",
        || {
            ka.state().as_deref() == Some("MASTER")
                && c.d(b).state("VI_1").as_deref() == Some("BACKUP")
                && c.has_addr(0, VIP)
                && !c.has_addr(1, VIP)
        },
        || logs(&c, &ka),
    );
    c.d(b)
        .wait_row(KEEPALIVED, "vrrp only after keepalived's return", |r| {
            r["link"] == "vrrp only" && seen(r) == Some((51, 200))
        });

    // A restart of baton with the link does not disturb the master either.
    c.dm(b).restart();
    wait_control(c.dm(b));
    c.d(b).wait_state("VI_1", "BACKUP");
    c.d(b)
        .wait_row(KEEPALIVED, "vrrp only after baton's restart", |r| {
            r["link"] == "vrrp only" && seen(r) == Some((51, 200))
        });
    assert_eq!(ka.state().as_deref(), Some("MASTER"), "{}", logs(&c, &ka));
    assert!(ka.running(), "keepalived died\n{}", logs(&c, &ka));
    // Leaving MASTER for keepalived sent nothing over a link that never came up.
    c.wait_hook("b", &["notify_backup"]);
    let released = c.d(b).log_lines_with("released to the peer");
    assert!(released.is_empty(), "a release to keepalived? {released:?}");
}

#[test]
fn keepalived_peer_named_in_the_link_block_is_vrrp_only() {
    mixed_pair("link_interop_peer", &[KEEPALIVED]);
}

#[test]
fn keepalived_peer_found_from_its_adverts_is_vrrp_only() {
    mixed_pair("link_interop_adverts", &[]);
}
