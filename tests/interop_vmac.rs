//! baton and the real keepalived (2.2.7) paired with `use_vmac` on both nodes: each
//! hears the other's adverts, sent from the virtual MAC on its VMAC, and the VIP moves
//! between the two VMACs on failover, whichever of the two is master.

mod common;
#[allow(dead_code)] // shared with interop_keepalived.rs; not every helper is used here
mod interop;

use std::time::Duration;

use common::netns::TestNet;
use interop::{Agent, Cell, Kind, wait_until};

const LIMIT: Duration = Duration::from_secs(20);
const VIP: &str = "10.0.0.100";

fn cell() -> Cell {
    Cell {
        name: "vmac",
        version: 2,
        ipv6: false,
        unicast: false,
        pass_auth: false,
        old_checksum: false,
        advert_int: "1",
    }
}

fn with_vmac(conf: String) -> String {
    conf.replace(
        "    virtual_router_id 51\n",
        "    virtual_router_id 51\n    use_vmac\n",
    )
}

fn run(hi: Kind, lo: Kind) {
    let test = format!("ivmac-{}", hi.name());
    let net = TestNet::pair(&test);
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    let c = cell();
    let conf_hi = with_vmac(c.config(&format!("{test}-hi"), &a, &b, 200));
    let conf_lo = with_vmac(c.config(&format!("{test}-lo"), &b, &a, 100));
    let on_vmac = |ns: &str| net.find_addr(ns, "vrrp.51", VIP).is_some();

    let mut lo_agent = Agent::start(lo, &b.ns, dir.path(), &conf_lo);
    let mut hi_agent = Agent::start(hi, &a.ns, dir.path(), &conf_hi);
    let logs = |h: &Agent, l: &Agent| {
        format!(
            "--- hi {} ---\n{}\n--- lo {} ---\n{}",
            h.kind.name(),
            h.log_text(),
            l.kind.name(),
            l.log_text()
        )
    };

    wait_until(
        LIMIT,
        "hi MASTER with the VIP on its VMAC, lo BACKUP",
        || {
            hi_agent.state().as_deref() == Some("MASTER")
                && lo_agent.state().as_deref() == Some("BACKUP")
                && on_vmac(&a.ns)
        },
        || logs(&hi_agent, &lo_agent),
    );
    // Past lo's master-down interval (3.6 s) lo is still BACKUP: it hears hi through its
    // VMAC. Counted on whichever node is baton: adverts it received, or sent.
    let counter = |ag: &Agent, name: &str| {
        ag.baton_status()
            .and_then(|s| s["instances"][0]["stats"][name].as_u64())
            .unwrap_or(0)
    };
    let (baton, name) = if lo == Kind::Baton {
        (&lo_agent, "adverts_received")
    } else {
        (&hi_agent, "adverts_sent")
    };
    let from = counter(baton, name);
    wait_until(
        LIMIT,
        "five more adverts",
        || counter(baton, name) >= from + 5,
        || logs(&hi_agent, &lo_agent),
    );
    assert_eq!(
        lo_agent.state().as_deref(),
        Some("BACKUP"),
        "{}",
        logs(&hi_agent, &lo_agent)
    );
    assert!(!on_vmac(&b.ns), "only the master holds the VIP");

    hi_agent.stop();
    wait_until(
        LIMIT,
        "lo takes over on its VMAC",
        || lo_agent.state().as_deref() == Some("MASTER") && on_vmac(&b.ns),
        || logs(&hi_agent, &lo_agent),
    );
    let old_log = hi_agent.log_text();
    hi_agent = Agent::start(hi, &a.ns, dir.path(), &conf_hi);
    wait_until(
        LIMIT,
        "hi preempts again",
        || {
            hi_agent.state().as_deref() == Some("MASTER")
                && lo_agent.state().as_deref() == Some("BACKUP")
                && on_vmac(&a.ns)
                && !on_vmac(&b.ns)
        },
        || format!("{old_log}\n{}", logs(&hi_agent, &lo_agent)),
    );
    hi_agent.stop();
    lo_agent.stop();
}

#[test]
fn keepalived_master_baton_backup_with_use_vmac() {
    run(Kind::Keepalived, Kind::Baton);
}

#[test]
fn baton_master_keepalived_backup_with_use_vmac() {
    run(Kind::Baton, Kind::Keepalived);
}
