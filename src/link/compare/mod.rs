//! Configs compared: per instance, the settings both nodes of a pair must agree on,
//! taken from the model ([`summarize`]) and compared field by field ([`compare`]), and
//! the report `baton check --against-peer` prints ([`against_peers`]).
//!
//! The summary never carries a secret: authentication is its type and a digest of the
//! password. The unicast pairing is compared crosswise (my source is in your peer list
//! and yours in mine), not as equal fields. Priority and initial state are not compared:
//! they differ on purpose. No I/O here: the daemon and the command line bring the
//! peers' summaries.

mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::message::{ConfigSummary, InstanceConfigSummary, TrackedWeight};
use crate::config::Config;

pub use summary::{
    CHECKSUM_NO_PSEUDO_HEADER, CHECKSUM_OLD_UNICAST, CHECKSUM_RFC, digest, fill_unicast_sources,
    summarize,
};

/// One setting on which the two nodes differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The instance (or sync group) name; an instance only one side has is a difference
    /// with field `instance`.
    pub instance: String,
    /// The field, as `baton status` names it: `vrid`, `virtual_addresses`, ...
    pub field: String,
    /// Our value and theirs, as text (`-` for absent).
    pub ours: String,
    pub theirs: String,
}

/// Every difference between our summary and the peer's: instances by name, and within
/// one instance the fields in a fixed order, so the same two configs always give the same
/// list (the daemon logs a difference when it appears and again when it goes away).
pub fn compare(ours: &ConfigSummary, theirs: &ConfigSummary) -> Vec<Difference> {
    let ours = by_name(ours);
    let theirs = by_name(theirs);
    let names: BTreeSet<&str> = ours.keys().chain(theirs.keys()).copied().collect();
    let mut out = Vec::new();
    for name in names {
        match (ours.get(name), theirs.get(name)) {
            (Some(a), Some(b)) => compare_instance(a, b, &mut out),
            (a, _) => out.push(Difference {
                instance: name.to_string(),
                field: "instance".into(),
                ours: present(a.is_some()),
                theirs: present(a.is_none()),
            }),
        }
    }
    out
}

/// A peer's summary may repeat a name (it is not ours to trust); the first one counts.
fn by_name(s: &ConfigSummary) -> BTreeMap<&str, &InstanceConfigSummary> {
    let mut map = BTreeMap::new();
    for i in &s.instances {
        map.entry(i.name.as_str()).or_insert(i);
    }
    map
}

fn present(yes: bool) -> String {
    if yes { "present" } else { "-" }.to_string()
}

fn compare_instance(
    a: &InstanceConfigSummary,
    b: &InstanceConfigSummary,
    out: &mut Vec<Difference>,
) {
    let mut field = |field: &str, ours: String, theirs: String| {
        if ours != theirs {
            out.push(Difference {
                instance: a.name.clone(),
                field: field.to_string(),
                ours,
                theirs,
            });
        }
    };
    field("vrid", a.vrid.to_string(), b.vrid.to_string());
    field("version", a.version.to_string(), b.version.to_string());
    field(
        "advert_int",
        interval_text(a.advert_interval_ms),
        interval_text(b.advert_interval_ms),
    );
    field(
        "virtual_addresses",
        list_text(&a.virtual_addresses),
        list_text(&b.virtual_addresses),
    );
    field(
        "virtual_routes",
        list_text(&a.virtual_routes),
        list_text(&b.virtual_routes),
    );
    field(
        "virtual_rules",
        list_text(&a.virtual_rules),
        list_text(&b.virtual_rules),
    );
    field(
        "authentication",
        a.auth.clone().unwrap_or_else(|| "none".into()),
        b.auth.clone().unwrap_or_else(|| "none".into()),
    );
    field("checksum", a.checksum_mode.clone(), b.checksum_mode.clone());
    for (ours, theirs) in unicast_pairing(a, b) {
        field("unicast_peer", ours, theirs);
    }
    field("sync_group", or_dash(&a.sync_group), or_dash(&b.sync_group));
    let keys: BTreeSet<&str> = a
        .tracked
        .iter()
        .chain(&b.tracked)
        .map(|t| t.key.as_str())
        .collect();
    for key in keys {
        field(
            &format!("track {key}"),
            weight_text(a.tracked.iter().find(|t| t.key == key)),
            weight_text(b.tracked.iter().find(|t| t.key == key)),
        );
    }
}

/// The unicast pairing, crosswise: each side's source must be among the other's peers.
/// The sources themselves differ by design and are not compared; a side whose source is
/// unknown (not written, and not filled in by a daemon) is not checked.
fn unicast_pairing(a: &InstanceConfigSummary, b: &InstanceConfigSummary) -> Vec<(String, String)> {
    let peers = |s: &InstanceConfigSummary| format!("unicast_peer {}", list_text(&s.unicast_peers));
    match (a.unicast_peers.is_empty(), b.unicast_peers.is_empty()) {
        (true, true) => Vec::new(),
        (false, true) => vec![(peers(a), "multicast".into())],
        (true, false) => vec![("multicast".into(), peers(b))],
        (false, false) => {
            let mut out = Vec::new();
            if let Some(src) = missing_source(a, b) {
                out.push((format!("source {src}"), format!("{} (no {src})", peers(b))));
            }
            if let Some(src) = missing_source(b, a) {
                out.push((format!("{} (no {src})", peers(a)), format!("source {src}")));
            }
            out
        }
    }
}

/// `from`'s source when `to` does not list it as a peer.
fn missing_source<'a>(
    from: &'a InstanceConfigSummary,
    to: &InstanceConfigSummary,
) -> Option<&'a str> {
    let src = from.unicast_source.as_deref()?;
    let listed = to.unicast_peers.iter().any(|p| same_address(p, src));
    (!listed).then_some(src)
}

/// Addresses compared as addresses (`fe80::1` and `fe80:0::1` are one), text otherwise.
fn same_address(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Seconds, as advert_int is written: `1s`, `0.5s`.
fn interval_text(ms: u32) -> String {
    format!("{}s", f64::from(ms) / 1000.0)
}

/// A list as text, items joined by spaces; an item with options of its own
/// (`10.0.0.1/24 dev eth1`) is bracketed so the items stay apart.
fn list_text(items: &[String]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    let shown: Vec<String> = items
        .iter()
        .map(|s| {
            if s.contains(' ') {
                format!("[{s}]")
            } else {
                s.clone()
            }
        })
        .collect();
    shown.join(" ")
}

fn or_dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

fn weight_text(t: Option<&TrackedWeight>) -> String {
    match t {
        None => "-".into(),
        Some(t) => {
            let mut s = format!("weight {}", t.weight);
            if t.weight == 0 {
                s.push_str(" (fault)");
            }
            if t.reverse {
                s.push_str(" reverse");
            }
            s
        }
    }
}

/// A running peer's summary with the name `baton check --against-peer` shows for it
/// (`lb2 10.0.0.2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSummary {
    pub peer: String,
    pub summary: ConfigSummary,
}

/// Exit statuses of [`against_peers`]: as `baton check` (0 fine, 1 a problem) and the
/// control commands (3: nothing to ask).
pub const EXIT_MATCH: u8 = 0;
pub const EXIT_DIFFERENT: u8 = 1;
pub const EXIT_NO_PEER: u8 = 3;

/// What `baton check --against-peer` prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReport {
    pub text: String,
    /// [`EXIT_MATCH`], [`EXIT_DIFFERENT`] or [`EXIT_NO_PEER`].
    pub status: u8,
}

/// Compares a configuration file (loaded, not running) with every linked peer's
/// running summary. Each difference is one line, `INSTANCE FIELD: this file VALUE, peer
/// VALUE`, under a line naming the peer.
pub fn against_peers(config: &Config, peers: &[PeerSummary]) -> PeerReport {
    if peers.is_empty() {
        return PeerReport {
            text: "config: not compared: the running baton has no linked peer\n".into(),
            status: EXIT_NO_PEER,
        };
    }
    let ours = summarize(config);
    let mut text = String::new();
    let mut status = EXIT_MATCH;
    for p in peers {
        let diffs = compare(&ours, &p.summary);
        if diffs.is_empty() {
            let _ = writeln!(text, "config: match (peer {})", p.peer);
            continue;
        }
        status = EXIT_DIFFERENT;
        let n = diffs.len();
        let s = if n == 1 { "" } else { "s" };
        let _ = writeln!(text, "config: {n} difference{s} (peer {})", p.peer);
        for d in diffs {
            let _ = writeln!(
                text,
                "{} {}: this file {}, peer {}",
                d.instance, d.field, d.ours, d.theirs
            );
        }
    }
    PeerReport { text, status }
}

#[cfg(test)]
mod tests;
