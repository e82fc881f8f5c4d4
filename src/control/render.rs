//! How `baton status`, `baton identity` and `baton peer list` read: the control socket's
//! answers as text for a person at a terminal. `--json` prints the same answers as data.
//!
//! A node with neither a link nor peers renders exactly as it did before the link
//! existed: scripts that read the text of `baton status` keep working.

use std::fmt::Write as _;

use super::{
    ArbiterView, HandoverView, IdentityView, PeerListEntry, PeerView, Status, UnknownVridStatus,
};
use crate::link::message::{InstanceState, InstanceStatus as PeerInstance};

/// Renders a status the way `baton status` prints it.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "baton pid {} up {}  router_id {}  config {} (digest {})",
        status.pid,
        human_ms(status.uptime_ms),
        status.router_id,
        status.config_file.display(),
        status.config_digest
    );
    let _ = writeln!(
        out,
        "{:<16} {:<7} {:<10} {:>4} {:>2} {:>9} {:<17} {:>9}  VIPS",
        "INSTANCE", "STATE", "INTERFACE", "VRID", "V", "PRIO", "MASTER", "SINCE"
    );
    for i in &status.instances {
        let prio = prio(i.effective_priority, i.priority);
        let state = match &i.operator {
            Some(op) => format!("{}*{}", i.state, op.get(..1).unwrap_or("?")),
            None => i.state.clone(),
        };
        let _ = writeln!(
            out,
            "{:<16} {:<7} {:<10} {:>4} {:>2} {:>9} {:<17} {:>9}  {}",
            i.name,
            state,
            i.interface,
            i.vrid,
            i.version,
            prio,
            i.master.as_deref().unwrap_or("-"),
            human_ms(i.in_state_ms),
            i.virtual_addresses.join(" ")
        );
    }
    if status.instances.iter().any(|i| i.operator.is_some()) {
        let _ = writeln!(
            out,
            "(*p promoted, *d demoted by an operator: `baton release NAME`)"
        );
    }
    for g in &status.groups {
        let _ = writeln!(
            out,
            "group {} {} [{}]",
            g.name,
            g.state,
            g.members.join(", ")
        );
    }
    if !status.tracks.is_empty() {
        let list: Vec<String> = status
            .tracks
            .iter()
            .map(|t| format!("{}={}", t.key, t.status))
            .collect();
        let _ = writeln!(out, "tracked: {}", list.join("  "));
    }
    render_unknown_vrids(&mut out, &status.unknown_vrids);
    render_handover(&mut out, &status.handover);
    render_arbiter(&mut out, &status.arbiter);
    sync::render_sync(&mut out, &status.sync);
    render_link(&mut out, status);
    out
}

/// A line per target whose MASTER hooks are held, or whose release the peer waits for:
/// `arbiter VI_1 (etcd 10.0.9.2:2379, mode vrrp): serving, token 42; leader node-a; lease 4.1s left of 5s`.
fn render_arbiter(out: &mut String, list: &[ArbiterView]) {
    for a in list {
        let leader = match (&a.leader, a.leader_token) {
            (Some(name), Some(t)) => format!("leader {name} (token {t})"),
            (Some(name), None) => format!("leader {name}"),
            _ => "no leader".into(),
        };
        let lease = match (a.lease_left_ms, a.lease_ttl_ms) {
            (Some(left), Some(ttl)) => {
                format!("lease safe for {} of {}", human_ms(left), human_ms(ttl))
            }
            _ => "no lease".into(),
        };
        let _ = writeln!(
            out,
            "arbiter {} (etcd {}, mode {}, etcd_down {}): {}; {leader}; {lease}",
            a.target, a.endpoint, a.mode, a.etcd_down, a.phase
        );
    }
}

/// `handover VI_1: MASTER hooks held 420ms: waiting for …; at most 9.6s more`.
fn render_handover(out: &mut String, list: &[HandoverView]) {
    for h in list {
        if let (Some(held), Some(why)) = (h.holding_ms, &h.waiting_for) {
            let _ = writeln!(
                out,
                "handover {}: MASTER hooks held {}: {why}; at most {} more",
                h.target,
                human_ms(held),
                human_ms(h.at_most_ms.unwrap_or(0))
            );
        }
        if let Some(waits) = h.peer_waiting_ms {
            let ours = match (h.master, h.serving) {
                (true, true) => "this node is MASTER and serving",
                (true, false) => "this node is MASTER too",
                (false, _) => "this node's service is stopping",
            };
            let _ = writeln!(
                out,
                "handover {}: the peer holds its MASTER hooks for this node's release since {} ({ours})",
                h.target,
                human_ms(waits)
            );
        }
    }
}

/// One line per interface: `unknown VRIDs on eth0: 77 (3 adverts, last from 10.0.0.9, 2.0s ago)`.
fn render_unknown_vrids(out: &mut String, list: &[UnknownVridStatus]) {
    let mut by_interface: Vec<(&str, Vec<String>)> = Vec::new();
    for u in list {
        let item = format!(
            "{}{} ({} advert{}, last from {}, {} ago)",
            u.vrid,
            if u.family == "IPv6" { "/IPv6" } else { "" },
            u.count,
            if u.count == 1 { "" } else { "s" },
            u.last_source,
            human_ms(u.last_seen_ms_ago)
        );
        match by_interface.iter_mut().find(|(i, _)| *i == u.interface) {
            Some((_, items)) => items.push(item),
            None => by_interface.push((&u.interface, vec![item])),
        }
    }
    for (ifname, items) in by_interface {
        let _ = writeln!(out, "unknown VRIDs on {ifname}: {}", items.join(", "));
    }
}

pub(super) fn human_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// The link and the peers: who this node is on the link, each peer's link, our instances
/// beside each peer's, the config comparison and refusals. Nothing without a link or peers.
fn render_link(out: &mut String, status: &Status) {
    let link = &status.link;
    if link.fingerprint.is_empty() && link.peers.is_empty() && link.refused.is_empty() {
        return;
    }
    if link.fingerprint.is_empty() {
        let _ = writeln!(
            out,
            "link: none (no link block in baton's file); peers as their adverts show them"
        );
    } else {
        let _ = writeln!(
            out,
            "link: node {}  listen {}  SHA256 {}",
            or_dash(&link.node_id),
            if link.listen.is_empty() {
                "-".to_string()
            } else {
                link.listen.join(" ")
            },
            link.fingerprint
        );
    }
    if !link.peers.is_empty() {
        render_peers(out, &link.peers);
        render_trust_hints(out, &link.fingerprint, &link.peers);
        render_side_by_side(out, status);
        render_configs(out, &link.peers, !link.fingerprint.is_empty());
    }
    for p in &link.peers {
        render_refused(out, &format!("peer {}", p.address), &p.refused);
    }
    render_refused(out, "addresses that are not peers", &link.refused);
}

fn render_peers(out: &mut String, peers: &[PeerView]) {
    let mut rows = vec![cells(&["PEER", "NODE", "LINK", "RTT", "LAST HEARD"])];
    for p in peers {
        rows.push(vec![
            p.address.clone(),
            p.node_id.clone().unwrap_or_else(|| "-".into()),
            link_state(p),
            p.rtt_us.map_or_else(|| "-".into(), human_us),
            // A peer heard only through its adverts was last heard at its latest advert.
            p.last_heard_ms_ago
                .or_else(|| p.vrrp.iter().map(|v| v.last_advert_ms_ago).min())
                .map_or_else(|| "-".into(), |ms| format!("{} ago", human_ms(ms))),
        ]);
    }
    table(out, &rows);
}

/// `up for 2m3s`, `down since 12.0s ago`, `VRRP only`; other states as the daemon words
/// them (`pending trust (ours)`, `untrusted`, `connecting`).
fn link_state(p: &PeerView) -> String {
    match (p.link.as_str(), p.link_since_ms_ago) {
        ("up", Some(ms)) => format!("up for {}", human_ms(ms)),
        ("down", Some(ms)) => format!("down since {} ago", human_ms(ms)),
        ("vrrp only", _) => "VRRP only".into(),
        (other, _) => other.into(),
    }
}

/// What to do about a pair that is not linked for want of trust: approval is the one
/// step the user must take by hand, on the right node, with the right fingerprint.
fn render_trust_hints(out: &mut String, ours: &str, peers: &[PeerView]) {
    for p in peers {
        let link = p.link.as_str();
        if link == "pending trust (ours)" || link == "pending trust (both)" {
            match &p.fingerprint {
                Some(fp) => {
                    let _ = writeln!(
                        out,
                        "to trust peer {}: compare with `baton identity` there, then `baton peer approve {fp}`",
                        p.address
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "to trust peer {}: see `baton peer list` for its fingerprint",
                        p.address
                    );
                }
            }
        }
        if (link == "pending trust (theirs)" || link == "pending trust (both)") && !ours.is_empty()
        {
            let _ = writeln!(
                out,
                "peer {} has not approved this node yet: there, `baton peer approve {ours}`",
                p.address
            );
        }
    }
}

/// One row per instance: our state and priority, then each peer's as it reports it
/// (or, for a peer that only speaks VRRP, the priority its adverts carry).
fn render_side_by_side(out: &mut String, status: &Status) {
    let peers = &status.link.peers;
    if peers
        .iter()
        .all(|p| p.status.is_none() && p.vrrp.is_empty())
    {
        return;
    }
    let mut names: Vec<&str> = status.instances.iter().map(|i| i.name.as_str()).collect();
    for p in peers {
        for v in &p.vrrp {
            if !names.contains(&v.instance.as_str()) {
                names.push(&v.instance);
            }
        }
        for i in p.status.iter().flat_map(|s| &s.instances) {
            if !names.contains(&i.name.as_str()) {
                names.push(&i.name);
            }
        }
    }
    let mut header = cells(&["INSTANCE", "THIS NODE"]);
    header.extend(peers.iter().map(|p| p.address.clone()));
    let mut rows = vec![header];
    for name in names {
        let mut row = vec![name.to_string()];
        row.push(match status.instances.iter().find(|i| i.name == name) {
            Some(i) => format!("{} {}", i.state, prio(i.effective_priority, i.priority)),
            None => "absent".into(),
        });
        row.extend(peers.iter().map(|p| peer_cell(p, name)));
        rows.push(row);
    }
    table(out, &rows);
}

fn peer_cell(p: &PeerView, name: &str) -> String {
    if let Some(st) = &p.status {
        return match st.instances.iter().find(|i| i.name == name) {
            Some(i) => peer_instance(i),
            None => "absent".into(),
        };
    }
    match p.vrrp.iter().find(|v| v.instance == name) {
        Some(v) => format!(
            "advert prio {} ({} ago)",
            v.priority,
            human_ms(v.last_advert_ms_ago)
        ),
        None => "-".into(),
    }
}

fn peer_instance(i: &PeerInstance) -> String {
    let state = match i.state {
        InstanceState::Init => "INIT",
        InstanceState::Backup => "BACKUP",
        InstanceState::Master => "MASTER",
        InstanceState::Fault => "FAULT",
        InstanceState::Stop => "STOP",
        InstanceState::Unknown => "UNKNOWN",
    };
    format!("{state} {}", prio(i.effective_priority, i.base_priority))
}

/// `config: match (peer A)`, or each differing field with both values. Without a link
/// of our own nothing is ever compared, which the `link: none` line already says.
fn render_configs(out: &mut String, peers: &[PeerView], has_link: bool) {
    for p in peers {
        // The comparison outlives the link that carried it; say that it may be stale.
        let stale = if p.link == "up" {
            ""
        } else {
            ", when last linked"
        };
        match &p.config {
            Some(c) if c.differences.is_empty() => {
                let _ = writeln!(out, "config: match (peer {}{stale})", p.address);
            }
            Some(c) => {
                let _ = writeln!(out, "config: differs from peer {}{stale}:", p.address);
                for d in &c.differences {
                    let _ = writeln!(
                        out,
                        "  {} {}: ours {}, peer {}",
                        d.instance, d.field, d.ours, d.theirs
                    );
                }
            }
            None if !has_link => {}
            None if p.link == "vrrp only" => {
                let _ = writeln!(
                    out,
                    "config: not compared with peer {} (VRRP only: no link)",
                    p.address
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "config: not compared with peer {} yet ({})",
                    p.address,
                    link_state(p)
                );
            }
        }
    }
}

fn render_refused(out: &mut String, from: &str, counts: &std::collections::BTreeMap<String, u64>) {
    let list: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(cause, n)| format!("{cause} {n}"))
        .collect();
    if !list.is_empty() {
        let _ = writeln!(out, "refused from {from}: {}", list.join(", "));
    }
}

/// `baton identity`: the fingerprint alone on the first line, for scripts and for reading
/// aloud to whoever approves it on the other node.
pub fn render_identity(id: &IdentityView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "SHA256 {}", id.fingerprint);
    let _ = writeln!(out, "node id    {}", or_dash(&id.node_id));
    let _ = writeln!(out, "state dir  {}", id.state_dir);
    let listen = if id.listen.is_empty() {
        "-".to_string()
    } else {
        id.listen.join(" ")
    };
    let _ = writeln!(out, "listen     {listen}");
    out
}

/// `baton peer list`. The fingerprint is printed whole, in the last column: it is what a
/// user compares with `baton identity` on the other node and pastes into `peer approve`,
/// and a shortened one could be neither; last, so the short columns stay aligned when a
/// narrow terminal wraps it.
pub fn render_peer_list(peers: &[PeerListEntry]) -> String {
    let mut out = String::new();
    if peers.is_empty() {
        let _ = writeln!(
            out,
            "no peers: none is trusted and none has connected (see the link block's peers)"
        );
        return out;
    }
    let mut rows = vec![cells(&[
        "TRUST",
        "NODE",
        "ADDRESS",
        "LAST SEEN",
        "LINKED",
        "FINGERPRINT",
    ])];
    for p in peers {
        rows.push(vec![
            p.trust.clone(),
            p.node_id.clone().unwrap_or_else(|| "-".into()),
            p.address.clone().unwrap_or_else(|| "-".into()),
            p.last_seen_ms_ago
                .map_or_else(|| "-".into(), |ms| format!("{} ago", human_ms(ms))),
            if p.linked { "yes" } else { "no" }.into(),
            p.fingerprint.clone(),
        ]);
    }
    table(&mut out, &rows);
    out
}

/// Columns padded to their widest cell, two spaces apart; the last one unpadded.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let mut width: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let n = cell.chars().count();
            match width.get_mut(i) {
                Some(w) => *w = (*w).max(n),
                None => width.push(n),
            }
        }
    }
    for row in rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(&width) {
            let _ = write!(line, "{cell:<w$}  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn cells(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

/// `150`, or `140/150` when tracking has moved the effective priority off the base.
fn prio(effective: u8, base: u8) -> String {
    if effective == base {
        base.to_string()
    } else {
        format!("{effective}/{base}")
    }
}

fn human_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}us"),
        1_000..1_000_000 => format!("{:.1}ms", us as f64 / 1000.0),
        _ => human_ms(us / 1000),
    }
}

mod sync;
#[cfg(test)]
mod tests;
