//! baton paired with the real keepalived (2.2.7): the drop-in proof.
//!
//! A user replaces keepalived one node at a time, so for a while one node of a pair runs
//! keepalived and the other baton. Each cell of the matrix (VRRP version, family,
//! multicast or unicast, PASS authentication, old checksum) runs twice: baton as the
//! higher-priority node with keepalived as backup, then the other way round. In each run:
//!
//! 1. both start; they agree on one master (the VIP on exactly one namespace, each
//!    daemon reporting the expected state);
//! 2. the master crashes (SIGKILL of every process): the backup takes over;
//! 3. the master comes back and preempts;
//! 4. the master stops cleanly (SIGTERM, priority 0): the backup takes over;
//! 5. the master comes back and preempts again;
//!
//! and neither daemon ever complains about the other's adverts (keepalived's log,
//! baton's log at debug level and its receive-error counters).
//!
//! Needs root and keepalived in PATH; each run builds its own namespaces.

mod common;
mod interop;

use std::time::Duration;

use common::netns::TestNet;
use interop::{Agent, Cell, Kind, has_addr, wait_until};

/// Long enough for master-down at advert_int 1 (3.6 s) several times over.
const LIMIT: Duration = Duration::from_secs(20);

fn keepalived_present() -> bool {
    std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stderr.is_empty())
}

/// Runs one cell with `hi` (priority 200) against `lo` (priority 100).
fn run_pair(cell: &Cell, hi: Kind, lo: Kind) {
    assert!(keepalived_present(), "keepalived is not installed");
    let test = format!("{}-{}", cell.name, hi.name());
    let net = TestNet::pair(&test);
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    let conf_hi = cell.config(&format!("{test}-hi"), &a, &b, 200);
    let conf_lo = cell.config(&format!("{test}-lo"), &b, &a, 100);
    let vip = cell.vip();

    let mut lo_agent = Agent::start(lo, &b.ns, dir.path(), &conf_lo);
    let mut hi_agent = Agent::start(hi, &a.ns, dir.path(), &conf_hi);
    // Every log of the run, including the ones of agents that were replaced.
    let mut past_logs: Vec<(Kind, String)> = Vec::new();

    let report = |hi: &Agent, lo: &Agent, past: &[(Kind, String)]| -> String {
        let mut s = format!(
            "cell {} (hi {}, lo {})\nVIP on hi: {}, on lo: {}\nhi state {:?}, lo state {:?}\n",
            cell.name,
            hi.kind.name(),
            lo.kind.name(),
            has_addr(&net, &a, vip),
            has_addr(&net, &b, vip),
            hi.state(),
            lo.state()
        );
        for (k, text) in past {
            s.push_str(&format!("--- earlier {} log ---\n{text}\n", k.name()));
        }
        s.push_str(&format!(
            "--- hi {} log ---\n{}\n",
            hi.kind.name(),
            hi.log_text()
        ));
        s.push_str(&format!(
            "--- lo {} log ---\n{}\n",
            lo.kind.name(),
            lo.log_text()
        ));
        s
    };

    // 1. One master: the higher priority.
    let settled = |hi: &Agent, lo: &Agent| {
        hi.state().as_deref() == Some("MASTER")
            && lo.state().as_deref() == Some("BACKUP")
            && has_addr(&net, &a, vip)
            && !has_addr(&net, &b, vip)
    };
    wait_until(
        LIMIT,
        "the higher priority node as the only master",
        || settled(&hi_agent, &lo_agent),
        || report(&hi_agent, &lo_agent, &past_logs),
    );

    // 2. Crash the master; the machine "reboots", so its stale VIP goes too.
    hi_agent.crash();
    past_logs.push((hi_agent.kind, hi_agent.log_text()));
    let _ = net.exec(
        &a.ns,
        "ip",
        &["addr", "del", cell_vip_cidr(cell), "dev", &a.ifname],
    );
    wait_until(
        LIMIT,
        "the backup taking over after the master crashed",
        || lo_agent.state().as_deref() == Some("MASTER") && has_addr(&net, &b, vip),
        || report(&hi_agent, &lo_agent, &past_logs),
    );

    // 3. The master returns and preempts.
    hi_agent = Agent::start(hi, &a.ns, dir.path(), &conf_hi);
    wait_until(
        LIMIT,
        "the restarted master preempting after a crash",
        || settled(&hi_agent, &lo_agent),
        || report(&hi_agent, &lo_agent, &past_logs),
    );

    // 4. Clean stop: priority 0, the backup takes over, the VIP leaves the master.
    hi_agent.stop();
    past_logs.push((hi_agent.kind, hi_agent.log_text()));
    wait_until(
        LIMIT,
        "the backup taking over after the master stopped",
        || {
            lo_agent.state().as_deref() == Some("MASTER")
                && has_addr(&net, &b, vip)
                && !has_addr(&net, &a, vip)
        },
        || report(&hi_agent, &lo_agent, &past_logs),
    );

    // 5. Back again.
    hi_agent = Agent::start(hi, &a.ns, dir.path(), &conf_hi);
    wait_until(
        LIMIT,
        "the restarted master preempting after a clean stop",
        || settled(&hi_agent, &lo_agent),
        || report(&hi_agent, &lo_agent, &past_logs),
    );
    assert!(lo_agent.running(), "the backup daemon died");

    // Neither side refused anything the other sent.
    let mut complaints: Vec<String> = Vec::new();
    for (k, text) in past_logs
        .iter()
        .cloned()
        .chain([(hi_agent.kind, hi_agent.log_text())])
        .chain([(lo_agent.kind, lo_agent.log_text())])
    {
        complaints.extend(interop::complaints_in(k, &text));
    }
    for agent in [&hi_agent, &lo_agent] {
        for (counter, n) in agent.error_counters() {
            complaints.push(format!("baton counter {counter} = {n}"));
        }
    }
    assert!(
        complaints.is_empty(),
        "complaints about the peer:\n{}\n{}",
        complaints.join("\n"),
        report(&hi_agent, &lo_agent, &past_logs)
    );
}

fn cell_vip_cidr(cell: &Cell) -> &'static str {
    if cell.ipv6 {
        "fd00::100/64"
    } else {
        "10.0.0.100/24"
    }
}

macro_rules! cell {
    ($mod_name:ident, $cell:expr) => {
        mod $mod_name {
            use super::*;

            #[test]
            fn baton_master_keepalived_backup() {
                run_pair(&$cell, Kind::Baton, Kind::Keepalived);
            }

            #[test]
            fn keepalived_master_baton_backup() {
                run_pair(&$cell, Kind::Keepalived, Kind::Baton);
            }
        }
    };
}

cell!(
    v2_multicast,
    Cell {
        name: "v2mc",
        version: 2,
        ipv6: false,
        unicast: false,
        pass_auth: false,
        old_checksum: false,
        advert_int: "1",
    }
);

cell!(
    v2_unicast,
    Cell {
        name: "v2uc",
        version: 2,
        ipv6: false,
        unicast: true,
        pass_auth: false,
        old_checksum: false,
        advert_int: "1",
    }
);

cell!(
    v2_pass_auth,
    Cell {
        name: "v2pass",
        version: 2,
        ipv6: false,
        unicast: false,
        pass_auth: true,
        old_checksum: false,
        advert_int: "1",
    }
);

cell!(
    v3_ipv4_multicast,
    Cell {
        name: "v3mc4",
        version: 3,
        ipv6: false,
        unicast: false,
        pass_auth: false,
        old_checksum: false,
        advert_int: "0.2",
    }
);

cell!(
    v3_ipv4_unicast,
    Cell {
        name: "v3uc4",
        version: 3,
        ipv6: false,
        unicast: true,
        pass_auth: false,
        old_checksum: false,
        advert_int: "0.2",
    }
);

cell!(
    v3_ipv6_multicast,
    Cell {
        name: "v3mc6",
        version: 3,
        ipv6: true,
        unicast: false,
        pass_auth: false,
        old_checksum: false,
        advert_int: "0.2",
    }
);

// keepalived 2.2.7 has the old checksum only as `old_unicast_checksum`, which applies to
// unicast VRRPv3 over IPv4.
cell!(
    v3_ipv4_old_checksum,
    Cell {
        name: "v3old",
        version: 3,
        ipv6: false,
        unicast: true,
        pass_auth: false,
        old_checksum: true,
        advert_int: "0.2",
    }
);
