//! The headline: this node's role and each peer's, and whether their configs match, in
//! the words of the product redundancy guide our users come from ("Current Node Status:
//! Running / Redundant Node Status: Standby").
//!
//! A node's role is the sum of its instances' states: *serving* when it is MASTER
//! (of all its instances, or of some: it says how many), *taking over* while it is
//! MASTER but holds its MASTER hooks for the peer's release, *fault*, *standby*
//! (BACKUP), *starting* (INIT), *stopped*. A peer's comes from its own report over the
//! link; without one, from what VRRP shows of it (the master of an instance of ours) or
//! from the link's state (unreachable, not trusted yet).

use std::fmt::Write as _;

use super::Esc;
use super::words::{link_state, peer_name, peer_state};
use crate::control::{PeerView, Status};

/// A role as the headline shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Role {
    /// `Serving`, `Standby`, ...
    pub word: String,
    /// The CSS class: one of a fixed list.
    pub class: &'static str,
    /// What it rests on: `MASTER: VI_1 · BACKUP: VI_2`, or the link's state.
    pub detail: String,
}

impl Role {
    fn new(word: &str, class: &'static str, detail: String) -> Role {
        Role {
            word: word.into(),
            class,
            detail,
        }
    }
}

/// The role of a node from its instances' (name, state); `holding`: it is MASTER and
/// holds its MASTER hooks until the peer's service has stopped.
pub(super) fn role_of(instances: &[(&str, &str)], holding: bool) -> Role {
    let detail = by_state(instances);
    let n = instances.len();
    let has = |s: &str| instances.iter().filter(|(_, st)| *st == s).count();
    let masters = has("MASTER");
    if n == 0 {
        return Role::new("Idle", "unknown", "no instances configured".into());
    }
    if masters > 0 && holding {
        return Role::new("Taking over", "holding", detail);
    }
    if masters == n {
        return Role::new("Serving", "serving", detail);
    }
    if masters > 0 {
        let word = format!("Serving {masters} of {n} instances");
        return Role::new(&word, "serving", detail);
    }
    if has("FAULT") > 0 {
        return Role::new("Fault", "fault", detail);
    }
    if has("BACKUP") > 0 {
        return Role::new("Standby", "standby", detail);
    }
    if has("INIT") > 0 {
        return Role::new("Starting", "starting", detail);
    }
    if has("STOP") > 0 {
        return Role::new("Stopped", "stopped", detail);
    }
    Role::new("Unknown", "unknown", detail)
}

/// `MASTER: VI_1, VI_2 · BACKUP: VI_3`, states in the order first seen.
fn by_state(instances: &[(&str, &str)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, state) in instances {
        match groups.iter_mut().find(|(s, _)| s == state) {
            Some((_, names)) => names.push(name),
            None => groups.push((state, vec![name])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(s, names)| format!("{s}: {}", names.join(", ")))
        .collect();
    parts.join(" · ")
}

pub(super) fn this_node(status: &Status) -> Role {
    let list: Vec<(&str, &str)> = (status.instances.iter())
        .map(|i| (i.name.as_str(), i.state.as_str()))
        .collect();
    let holding = status
        .handover
        .iter()
        .any(|h| h.master && !h.serving && h.holding_ms.is_some());
    role_of(&list, holding)
}

pub(super) fn peer(status: &Status, p: &PeerView) -> Role {
    if let Some(st) = &p.status {
        let list: Vec<(&str, &str)> = (st.instances.iter())
            .map(|i| (i.name.as_str(), peer_state(i.state)))
            .collect();
        // It holds its MASTER hooks for our release (one peer: a pair).
        let holding = status.handover.iter().any(|h| h.peer_waiting_ms.is_some());
        let mut role = role_of(&list, holding);
        role.detail = format!("{} · link {}", role.detail, link_state(p));
        return role;
    }
    // No report: what VRRP shows. It is master of the instances whose master is its
    // address (a keepalived peer, or a baton whose link is not up).
    let led: Vec<&str> = (status.instances.iter())
        .filter(|i| i.master.as_deref() == Some(p.address.as_str()))
        .map(|i| i.name.as_str())
        .collect();
    let link = link_state(p);
    if !led.is_empty() {
        let detail = format!(
            "MASTER: {} (as its adverts show) · link {link}",
            led.join(", ")
        );
        return Role::new("Serving", "serving", detail);
    }
    match p.link.as_str() {
        "vrrp only" => Role::new(
            "Standby or down",
            "unknown",
            "VRRP only: no link, and a backup sends no adverts".into(),
        ),
        "up" => Role::new("Unknown", "unknown", "linked, no report yet".into()),
        "untrusted"
        | "pending trust (ours)"
        | "pending trust (theirs)"
        | "pending trust (both)" => Role::new(
            "Not trusted yet",
            "unknown",
            format!("link {link}: see the link section"),
        ),
        _ => Role::new("Unreachable", "fault", format!("link {link}")),
    }
}

/// `Match`, `Differs (2 fields)`, `Not compared ...`: the guide's "Redundant Node
/// License: Match", for configs.
fn config_word(p: &PeerView) -> (&'static str, String) {
    match &p.config {
        Some(c) if c.differences.is_empty() => ("serving", "Match".into()),
        Some(c) => (
            "fault",
            format!(
                "Differs ({} field{})",
                c.differences.len(),
                if c.differences.len() == 1 { "" } else { "s" }
            ),
        ),
        None if p.link == "vrrp only" => ("unknown", "Not compared (VRRP only: no link)".into()),
        None => ("unknown", "Not compared yet".into()),
    }
}

pub(super) fn render(out: &mut String, status: &Status) {
    out.push_str("<header><h1>baton redundancy status</h1>\n<dl class=\"headline\">\n");
    let me = this_node(status);
    let name = if status.link.node_id.is_empty() || status.link.node_id == status.router_id {
        status.router_id.clone()
    } else {
        format!("{} ({})", status.router_id, status.link.node_id)
    };
    row(out, "This node", &name, &me);
    for p in &status.link.peers {
        row(out, "Peer node", &peer_name(p), &peer(status, p));
        if !status.link.fingerprint.is_empty() {
            let (class, word) = config_word(p);
            let role = Role::new(&word, class, String::new());
            let who = if status.link.peers.len() > 1 {
                peer_name(p)
            } else {
                String::new()
            };
            row(out, "Peer config", &who, &role);
        }
    }
    if status.link.peers.is_empty() {
        let why = if status.link.fingerprint.is_empty() {
            "no link block in baton's file, and no peer's adverts heard"
        } else {
            "no peer linked or heard yet"
        };
        let role = Role::new("None", "unknown", why.into());
        row(out, "Peer node", "", &role);
    }
    out.push_str("</dl></header>\n");
}

fn row(out: &mut String, label: &str, who: &str, role: &Role) {
    let _ = write!(out, "<div class=\"hl {}\"><dt>{label}", role.class);
    if !who.is_empty() {
        let _ = write!(out, " <span class=\"who\">{}</span>", Esc(who));
    }
    let _ = write!(
        out,
        "</dt><dd><strong class=\"role\">{}</strong>",
        Esc(&role.word)
    );
    if !role.detail.is_empty() {
        let _ = write!(out, " <span class=\"detail\">{}</span>", Esc(&role.detail));
    }
    out.push_str("</dd></div>\n");
}
