//! baton's own series, under `baton_`: what the exporter has no name for. Here the
//! node's: priorities, time in state and the last transition with its reason, the kinds
//! of dropped advert the keepalived names miss, hook runs and their summed durations by
//! hook and outcome, script runs; the pair's (link, peers, handover, sync) are in
//! [`pair`](super::pair).
//!
//! Labels take values from bounded sets only (names from the configuration, peer
//! addresses, fixed words); times are values, never labels.

use crate::control::{InstanceStatus, Status};

use super::super::expo::{Exposition, Kind, secs};
use super::pair;

/// Reads one of an instance's counters.
type Counter = fn(&crate::proto::Stats) -> u64;

/// The kinds of dropped adverts the exporter has no counter for, with baton's counter
/// of each (the others are under the exporter's names).
const PACKET_ERRORS: &[(&str, Counter)] = &[
    ("checksum", |s| s.checksum_errors),
    ("version", |s| s.version_errors),
    ("vrid", |s| s.vrid_errors),
    ("source", |s| s.source_errors),
];

/// A reason longer than this is cut: it is a label value.
const REASON_MAX: usize = 160;

pub(super) fn families(e: &mut Exposition, st: &Status) {
    node(e, st);
    instances(e, &st.instances);
    hooks_and_scripts(e, st);
    pair::link(e, st);
    pair::handover_and_sync(e, st);
    pair::arbiter(e, st);
}

fn node(e: &mut Exposition, st: &Status) {
    e.family(
        "baton_info",
        Kind::Gauge,
        "1, labelled with baton's version, the router_id and the digest of the \
         configuration both nodes must agree on.",
        |f| {
            let labels = [
                ("version", env!("CARGO_PKG_VERSION")),
                ("router_id", st.router_id.as_str()),
                ("config_digest", st.config_digest.as_str()),
            ];
            f.sample(&labels, 1u64);
        },
    );
    e.family(
        "baton_uptime_seconds",
        Kind::Gauge,
        "Seconds since baton started.",
        |f| f.sample(&[], secs(st.uptime_ms)),
    );
    e.family(
        "baton_unknown_vrid_adverts_total",
        Kind::Counter,
        "Adverts for a VRID no instance has on the interface they arrived on.",
        |f| {
            for u in &st.unknown_vrids {
                let vrid = u.vrid.to_string();
                let labels = [
                    ("intf", u.interface.as_str()),
                    ("family", u.family.as_str()),
                    ("vrid", vrid.as_str()),
                ];
                f.sample(&labels, u.count);
            }
        },
    );
}

fn cut(reason: &str) -> &str {
    match reason.char_indices().nth(REASON_MAX) {
        Some((at, _)) => &reason[..at],
        None => reason,
    }
}

fn instances(e: &mut Exposition, list: &[InstanceStatus]) {
    let one = |e: &mut Exposition, name, help: &str, value: fn(&InstanceStatus) -> f64| {
        e.family(name, Kind::Gauge, help, |f| {
            for i in list {
                f.sample(&[("iname", i.name.as_str())], value(i));
            }
        });
    };
    one(
        e,
        "baton_instance_priority",
        "The priority configured for the instance.",
        |i| f64::from(i.priority),
    );
    one(
        e,
        "baton_instance_effective_priority",
        "The priority the instance advertises now: configured, plus or minus its tracked \
         objects' weights.",
        |i| f64::from(i.effective_priority),
    );
    one(
        e,
        "baton_instance_state_seconds",
        "Seconds the instance has been in its current state.",
        |i| i.in_state_ms as f64 / 1000.0,
    );
    e.family(
        "baton_last_transition_info",
        Kind::Gauge,
        "1, labelled with the instance's last transition and why it happened.",
        |f| {
            for i in list {
                let Some(t) = i.transitions.first() else {
                    continue;
                };
                let labels = [
                    ("iname", i.name.as_str()),
                    ("from", t.from.as_str()),
                    ("to", t.to.as_str()),
                    ("reason", cut(&t.reason)),
                ];
                f.sample(&labels, 1u64);
            }
        },
    );
    e.family(
        "baton_last_transition_timestamp_seconds",
        Kind::Gauge,
        "When the instance's last transition happened, seconds since the Unix epoch.",
        |f| {
            for i in list {
                if let Some(t) = i.transitions.first() {
                    f.sample(&[("iname", i.name.as_str())], secs(t.at_unix_ms));
                }
            }
        },
    );
    e.family(
        "baton_instance_operator_override",
        Kind::Gauge,
        "1 while an operator's baton promote or baton demote holds the instance.",
        |f| {
            for i in list {
                if let Some(o) = &i.operator {
                    f.sample(
                        &[("iname", i.name.as_str()), ("override", o.as_str())],
                        1u64,
                    );
                }
            }
        },
    );
    e.family(
        "baton_packet_errors_total",
        Kind::Counter,
        "Adverts for the instance dropped for what the keepalived_ counters have no name \
         for: a bad checksum, another VRRP version, another VRID, a source that is no \
         unicast_peer.",
        |f| {
            for i in list {
                let vrid = i.vrid.to_string();
                for (kind, value) in PACKET_ERRORS {
                    let labels = [
                        ("iname", i.name.as_str()),
                        ("intf", i.interface.as_str()),
                        ("vrid", vrid.as_str()),
                        ("kind", kind),
                    ];
                    f.sample(&labels, value(&i.stats));
                }
            }
        },
    );
}

fn hooks_and_scripts(e: &mut Exposition, st: &Status) {
    e.family(
        "baton_hook_runs_total",
        Kind::Counter,
        "Notify hook runs since baton started, by hook and outcome (ok, failed, timeout, \
         obsolete, not_run).",
        |f| {
            for h in &st.hook_counts {
                let labels = [("hook", h.hook.as_str()), ("outcome", h.outcome.as_str())];
                f.sample(&labels, h.runs);
            }
        },
    );
    e.family(
        "baton_hook_seconds_total",
        Kind::Counter,
        "Summed run time of the notify hooks, by hook and outcome.",
        |f| {
            for h in &st.hook_counts {
                let labels = [("hook", h.hook.as_str()), ("outcome", h.outcome.as_str())];
                f.sample(&labels, h.seconds);
            }
        },
    );
    e.family(
        "baton_script_runs_total",
        Kind::Counter,
        "Runs of the vrrp_script.",
        |f| {
            for s in &st.scripts {
                f.sample(&[("name", s.name.as_str())], s.runs);
            }
        },
    );
    e.family(
        "baton_script_seconds_total",
        Kind::Counter,
        "Summed run time of the vrrp_script.",
        |f| {
            for s in &st.scripts {
                f.sample(&[("name", s.name.as_str())], s.seconds);
            }
        },
    );
    e.family(
        "baton_script_last_duration_seconds",
        Kind::Gauge,
        "How long the vrrp_script's last run took.",
        |f| {
            for s in &st.scripts {
                if let Some(ms) = s.last_duration_ms {
                    f.sample(&[("name", s.name.as_str())], secs(ms));
                }
            }
        },
    );
}
