//! baton's own series about the pair: each peer's link (state, trust, round trip,
//! config match, what the peer says of its own instances), handover waits, and the data
//! sync's generations and lag.
//!
//! Labels take values from bounded sets only (peer addresses and node names, instance
//! and directory names from the configuration, fixed words); times are values.

use crate::control::{ArbiterView, PeerView, Status};
use crate::link::message::InstanceState;

use super::super::expo::{Exposition, Kind, Value, secs};
use super::state_value;

/// The states a peer's link can be in, as `baton status` words them; each peer gets a
/// 0/1 series for every one, so an alert on one state never sees an absent series.
const LINK_STATES: &[&str] = &[
    "up",
    "down",
    "connecting",
    "pending trust (ours)",
    "pending trust (theirs)",
    "pending trust (both)",
    "untrusted",
    "vrrp only",
];

fn peer_labels(p: &PeerView) -> [(&'static str, &str); 2] {
    [
        ("peer", p.address.as_str()),
        ("node_id", p.node_id.as_deref().unwrap_or("")),
    ]
}

pub(super) fn link(e: &mut Exposition, st: &Status) {
    let peers = &st.link.peers;
    e.family(
        "baton_link_up",
        Kind::Gauge,
        "1 while the link to the peer is up (trusted both ways, heartbeats arriving).",
        |f| {
            for p in peers {
                f.sample(&peer_labels(p), p.link == "up");
            }
        },
    );
    e.family(
        "baton_link_state",
        Kind::Gauge,
        "1 for the state the link to the peer is in, 0 for the others; the pending and \
         untrusted states are the trust between the two keys.",
        |f| {
            for p in peers {
                let [peer, node] = peer_labels(p);
                let known = LINK_STATES.contains(&p.link.as_str());
                let extra = (!known).then_some(p.link.as_str());
                for state in LINK_STATES.iter().copied().chain(extra) {
                    f.sample(&[peer, node, ("state", state)], p.link == state);
                }
            }
        },
    );
    let optional = |e: &mut Exposition, name, help: &str, value: fn(&PeerView) -> Option<f64>| {
        e.family(name, Kind::Gauge, help, |f| {
            for p in peers {
                if let Some(v) = value(p) {
                    f.sample(&peer_labels(p), v);
                }
            }
        });
    };
    optional(
        e,
        "baton_link_rtt_seconds",
        "Round-trip time of the link's heartbeat.",
        |p| p.rtt_us.map(|us| us as f64 / 1e6),
    );
    optional(
        e,
        "baton_peer_last_heard_seconds",
        "Seconds since the peer was last heard on the link.",
        |p| p.last_heard_ms_ago.map(|ms| ms as f64 / 1000.0),
    );
    optional(
        e,
        "baton_peer_config_match",
        "1 when the peer's configuration summary matches ours, 0 when a field differs \
         (absent until the peer sent one).",
        |p| p.config.as_ref().map(|c| f64::from(u8::from(c.matches))),
    );
    optional(
        e,
        "baton_peer_config_differences",
        "How many fields differ between the peer's configuration summary and ours.",
        |p| p.config.as_ref().map(|c| c.differences.len() as f64),
    );
    e.family(
        "baton_peer_instance_state",
        Kind::Gauge,
        "The state the peer reports over the link for each of its instances: 0 INIT, \
         1 BACKUP, 2 MASTER, 3 FAULT.",
        |f| {
            for p in peers {
                let Some(own) = &p.status else { continue };
                let [peer, node] = peer_labels(p);
                for i in &own.instances {
                    let word = match i.state {
                        InstanceState::Init => "INIT",
                        InstanceState::Backup => "BACKUP",
                        InstanceState::Master => "MASTER",
                        InstanceState::Fault => "FAULT",
                        InstanceState::Stop | InstanceState::Unknown => continue,
                    };
                    let labels = [peer, node, ("iname", i.name.as_str())];
                    f.sample(&labels, state_value(word));
                }
            }
        },
    );
    e.family(
        "baton_link_refused_total",
        Kind::Counter,
        "Link connections refused, by peer (empty: an address that is no peer) and cause.",
        |f| {
            for (cause, n) in &st.link.refused {
                f.sample(&[("peer", ""), ("cause", cause.as_str())], *n);
            }
            for p in peers {
                for (cause, n) in &p.refused {
                    f.sample(
                        &[("peer", p.address.as_str()), ("cause", cause.as_str())],
                        *n,
                    );
                }
            }
        },
    );
}

pub(super) fn handover_and_sync(e: &mut Exposition, st: &Status) {
    e.family(
        "baton_handover_holding_seconds",
        Kind::Gauge,
        "Seconds this node has held its MASTER hooks for the peer's release (0: not \
         holding).",
        |f| {
            for h in &st.handover {
                f.sample(
                    &[("target", h.target.as_str())],
                    secs(h.holding_ms.unwrap_or(0)),
                );
            }
        },
    );
    e.family(
        "baton_handover_peer_waiting_seconds",
        Kind::Gauge,
        "Seconds the peer has held its MASTER hooks for our release (0: not waiting).",
        |f| {
            for h in &st.handover {
                f.sample(
                    &[("target", h.target.as_str())],
                    secs(h.peer_waiting_ms.unwrap_or(0)),
                );
            }
        },
    );
    e.family(
        "baton_handover_serving",
        Kind::Gauge,
        "1 while the target's service may run on this node (MASTER hooks started, or \
         leaving hooks still running).",
        |f| {
            for h in &st.handover {
                f.sample(&[("target", h.target.as_str())], h.serving);
            }
        },
    );
    let dirs = &st.sync;
    let each = |e: &mut Exposition,
                name,
                kind,
                help: &str,
                value: fn(&crate::sync::DirStatus) -> Option<f64>| {
        e.family(name, kind, help, |f| {
            for d in dirs {
                if let Some(v) = value(d) {
                    f.sample(&[("dir", d.dir.as_str()), ("target", d.target.as_str())], v);
                }
            }
        });
    };
    each(
        e,
        "baton_sync_generation",
        Kind::Gauge,
        "The generation of the synced directory on this node.",
        |d| d.generation.map(|g| g as f64),
    );
    each(
        e,
        "baton_sync_peer_generation",
        Kind::Gauge,
        "The generation the peer holds (or sends) of the synced directory.",
        |d| d.peer_generation.map(|g| g as f64),
    );
    each(
        e,
        "baton_sync_in_step",
        Kind::Gauge,
        "1 when both nodes hold the same generation of the synced directory.",
        |d| Some(f64::from(u8::from(d.in_step))),
    );
    each(
        e,
        "baton_sync_lag_seconds",
        Kind::Gauge,
        "Seconds the two copies have differed (0 in step).",
        |d| Some(d.lag_ms.unwrap_or(0) as f64 / 1000.0),
    );
    each(
        e,
        "baton_sync_last_sync_seconds",
        Kind::Gauge,
        "Seconds since the two copies were last made equal.",
        |d| d.last_sync_ms_ago.map(|ms| ms as f64 / 1000.0),
    );
    each(
        e,
        "baton_sync_files",
        Kind::Gauge,
        "Files in this node's generation of the synced directory.",
        |d| Some(d.files as f64),
    );
    each(
        e,
        "baton_sync_bytes",
        Kind::Gauge,
        "Bytes in this node's generation of the synced directory.",
        |d| Some(d.bytes as f64),
    );
    each(
        e,
        "baton_sync_conflicts_total",
        Kind::Counter,
        "Local changes moved aside because the peer's generation replaced them.",
        |d| Some(d.conflicts as f64),
    );
    e.family(
        "baton_sync_refused_total",
        Kind::Counter,
        "What this node refused from the peer for the synced directory, by cause.",
        |f| {
            for d in dirs {
                for (cause, n) in &d.refused {
                    let labels = [
                        ("dir", d.dir.as_str()),
                        ("target", d.target.as_str()),
                        ("cause", cause.as_str()),
                    ];
                    f.sample(&labels, *n);
                }
            }
        },
    );
    e.family(
        "baton_sync_role",
        Kind::Gauge,
        "1 for the node's role for the synced directory: source (its service runs), copy \
         (it holds the peer's) or waiting (no generation yet).",
        |f| {
            for d in dirs {
                let [dir, target] = [("dir", d.dir.as_str()), ("target", d.target.as_str())];
                for role in ["source", "copy", "waiting"] {
                    f.sample(&[dir, target, ("role", role)], d.role == role);
                }
            }
        },
    );
}

/// The etcd elections (docs/arbiter.md), one sample per arbitrated target.
pub(super) fn arbiter(e: &mut Exposition, st: &Status) {
    let each = |e: &mut Exposition, name, help: &str, value: fn(&ArbiterView) -> Value| {
        e.family(name, Kind::Gauge, help, |f| {
            for a in &st.arbiter {
                f.sample(&[("target", a.target.as_str())], value(a));
            }
        });
    };
    each(
        e,
        "baton_arbiter_serving",
        "1 while this node holds the target's etcd election and may serve it.",
        |a| a.serving.into(),
    );
    each(
        e,
        "baton_arbiter_healthy",
        "1 while this node's etcd lease is within its safe bound (0: cut off from etcd).",
        |a| a.healthy.into(),
    );
    each(
        e,
        "baton_arbiter_lease_safe_seconds",
        "How long this node's lease is still safe to rely on (0: none).",
        |a| secs(a.lease_left_ms.unwrap_or(0)),
    );
    each(
        e,
        "baton_arbiter_fencing_token",
        "The election's revision while this node holds it (0: not holding).",
        |a| u64::try_from(a.token.unwrap_or(0)).unwrap_or(0).into(),
    );
}
