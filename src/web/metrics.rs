//! `GET /metrics`: a node's status as Prometheus series, a pure function of one status
//! snapshot and a few facts of the running configuration ([`NodeFacts`]).
//!
//! Three groups of families:
//! - the community keepalived exporter's (mehdy/keepalived-exporter), under its names,
//!   labels and value encodings, so its users' dashboards and alert rules keep working
//!   when keepalived is swapped for baton: `keepalived_up`, `keepalived_vrrp_state`
//!   (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT) per virtual address, the protocol counters
//!   labelled `{iname,intf,vrid}`, the `vrrp_script`s' status and state;
//! - the older names of the same counters (`keepalived_advert_rcvd`, ... labelled
//!   `{iname,intf,vrid,state}`), which the Grafana dashboard bundled with the exporter
//!   still queries;
//! - baton's own, under `baton_`: the node's ([`baton`]) and the pair's ([`pair`]).
//!
//! What baton cannot tell stays 0: it counts authentication problems in one counter
//! (`keepalived_authentication_failure_total`), so `..._invalid_total` and
//! `..._mismatch_total` stay 0, and a `vrrp_script` is idle or running, never in the
//! exporter's "requested termination" (2) or "forcing termination" (3).

use std::collections::BTreeMap;

use crate::control::{InstanceStatus, Status};
use crate::proto::Stats;

use super::expo::{Exposition, Kind};

mod baton;
#[cfg(test)]
mod fixture;
mod pair;
#[cfg(test)]
mod tests;

/// The Content-Type of the text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the status snapshot does not carry but the exporter's series need, taken from
/// the running configuration when it is installed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeFacts {
    pub instances: BTreeMap<String, InstanceFacts>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceFacts {
    /// `garp_master_delay` (or the global `vrrp_garp_master_delay`), in seconds.
    pub garp_delay_secs: f64,
    /// The `dev` of each virtual (or excluded) address that names one, by the
    /// `address/prefix` the status shows.
    pub address_dev: BTreeMap<String, String>,
}

/// The whole scrape, in pieces of whole lines (see [`super::expo`]).
pub fn render_pieces(status: &Status, facts: &NodeFacts) -> Vec<String> {
    let mut e = Exposition::new();
    exporter(&mut e, status, facts);
    legacy(&mut e, status, facts);
    baton::families(&mut e, status);
    e.finish()
}

/// The whole scrape as one text.
pub fn render(status: &Status, facts: &NodeFacts) -> String {
    render_pieces(status, facts).concat()
}

/// An exporter counter: its name, the older name the bundled dashboard queries, our
/// HELP text, and which of baton's counters feeds it.
struct Counter {
    name: &'static str,
    legacy: &'static str,
    help: &'static str,
    value: fn(&Stats) -> u64,
}

const COUNTERS: &[Counter] = &[
    Counter {
        name: "keepalived_advertisements_received_total",
        legacy: "keepalived_advert_rcvd",
        help: "VRRP adverts received for the instance.",
        value: |s| s.adverts_received,
    },
    Counter {
        name: "keepalived_advertisements_sent_total",
        legacy: "keepalived_advert_sent",
        help: "VRRP adverts the instance sent.",
        value: |s| s.adverts_sent,
    },
    Counter {
        name: "keepalived_become_master_total",
        legacy: "keepalived_become_master",
        help: "Times the instance entered MASTER.",
        value: |s| s.became_master,
    },
    Counter {
        name: "keepalived_release_master_total",
        legacy: "keepalived_release_master",
        help: "Times the instance left MASTER.",
        value: released_master,
    },
    Counter {
        name: "keepalived_packet_length_errors_total",
        legacy: "keepalived_packet_len_err",
        help: "Adverts dropped for a bad length.",
        value: |s| s.length_errors,
    },
    Counter {
        name: "keepalived_advertisements_interval_errors_total",
        legacy: "keepalived_advert_interval_err",
        help: "Adverts dropped for an advert interval other than ours.",
        value: |s| s.interval_errors,
    },
    Counter {
        name: "keepalived_ip_ttl_errors_total",
        legacy: "keepalived_ip_ttl_err",
        help: "Adverts dropped for an IP TTL (hop limit) other than 255.",
        value: |s| s.ttl_errors,
    },
    Counter {
        name: "keepalived_invalid_type_received_total",
        legacy: "keepalived_invalid_type_rcvd",
        help: "Adverts dropped for a VRRP packet type other than advertisement.",
        value: |s| s.type_errors,
    },
    Counter {
        name: "keepalived_address_list_errors_total",
        legacy: "keepalived_addr_list_err",
        help: "Adverts whose address list differs from ours.",
        value: |s| s.address_list_errors,
    },
    Counter {
        name: "keepalived_authentication_invalid_total",
        legacy: "keepalived_invalid_authtype",
        help: "Adverts with an unknown authentication type (always 0: baton counts every \
               authentication problem in keepalived_authentication_failure_total).",
        value: |_| 0,
    },
    Counter {
        name: "keepalived_authentication_mismatch_total",
        legacy: "keepalived_authtype_mismatch",
        help: "Adverts with another authentication type than ours (always 0: baton counts \
               every authentication problem in keepalived_authentication_failure_total).",
        value: |_| 0,
    },
    Counter {
        name: "keepalived_authentication_failure_total",
        legacy: "keepalived_auth_failure",
        help: "VRRPv2 adverts dropped for authentication (type or password not ours).",
        value: |s| s.auth_errors,
    },
    Counter {
        name: "keepalived_priority_zero_received_total",
        legacy: "keepalived_pri_zero_rcvd",
        help: "Priority 0 adverts received: the master stepped down.",
        value: |s| s.priority_zero_received,
    },
    Counter {
        name: "keepalived_priority_zero_sent_total",
        legacy: "keepalived_pri_zero_sent",
        help: "Priority 0 adverts sent on leaving MASTER.",
        value: |s| s.priority_zero_sent,
    },
];

/// keepalived's `release_master`: times the instance left MASTER.
fn released_master(s: &Stats) -> u64 {
    s.released_master
}

/// The exporter's encoding of a state (keepalived's own numbers). A stopping instance
/// (baton is shutting down) has no number the exporter knows: it shows as INIT.
pub(super) fn state_value(state: &str) -> u64 {
    match state {
        "BACKUP" => 1,
        "MASTER" => 2,
        "FAULT" => 3,
        _ => 0,
    }
}

/// The interface label: the status shows `-` while the interface is not known yet.
fn intf(i: &InstanceStatus) -> &str {
    if i.interface == "-" { "" } else { &i.interface }
}

fn exporter(e: &mut Exposition, st: &Status, facts: &NodeFacts) {
    let vrids: Vec<String> = st.instances.iter().map(|i| i.vrid.to_string()).collect();
    let rows = || st.instances.iter().zip(&vrids);
    e.family(
        "keepalived_up",
        Kind::Gauge,
        "1 while the VRRP daemon runs and answers.",
        |f| f.sample(&[], 1u64),
    );
    let addresses = |f: &mut super::expo::Family<'_>, excluded: bool| {
        for (i, vrid) in rows() {
            let list = if excluded {
                &i.excluded_addresses
            } else {
                &i.virtual_addresses
            };
            let dev = facts.instances.get(&i.name).map(|x| &x.address_dev);
            let value = state_value(&i.state);
            for a in list {
                let on = dev.and_then(|d| d.get(a)).map_or(intf(i), String::as_str);
                let labels = [
                    ("iname", i.name.as_str()),
                    ("intf", on),
                    ("vrid", vrid),
                    ("ip_address", a),
                ];
                f.sample(&labels, value);
            }
            // The exporter writes one series without an address for an instance that
            // has none, so the instance is still seen.
            if !excluded && list.is_empty() {
                let labels = [
                    ("iname", i.name.as_str()),
                    ("intf", intf(i)),
                    ("vrid", vrid),
                    ("ip_address", ""),
                ];
                f.sample(&labels, value);
            }
        }
    };
    e.family(
        "keepalived_vrrp_state",
        Kind::Gauge,
        "State of the instance, per virtual address: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.",
        |f| addresses(f, false),
    );
    e.family(
        "keepalived_vrrp_excluded_state",
        Kind::Gauge,
        "State of the instance, per excluded virtual address: 0 INIT, 1 BACKUP, 2 MASTER, \
         3 FAULT.",
        |f| addresses(f, true),
    );
    for c in COUNTERS {
        e.family(c.name, Kind::Counter, c.help, |f| {
            for (i, vrid) in rows() {
                let labels = [
                    ("iname", i.name.as_str()),
                    ("intf", intf(i)),
                    ("vrid", vrid),
                ];
                f.sample(&labels, (c.value)(&i.stats));
            }
        });
    }
    e.family(
        "keepalived_gratuitous_arp_delay_total",
        Kind::Counter,
        "The instance's garp_master_delay, in seconds (a setting, exposed as a counter as \
         the exporter does).",
        |f| {
            for (i, vrid) in rows() {
                let delay = facts
                    .instances
                    .get(&i.name)
                    .map_or(0.0, |x| x.garp_delay_secs);
                let labels = [
                    ("iname", i.name.as_str()),
                    ("intf", intf(i)),
                    ("vrid", vrid),
                ];
                f.sample(&labels, delay);
            }
        },
    );
    e.family(
        "keepalived_script_status",
        Kind::Gauge,
        "Result of the vrrp_script: 1 good, 0 bad (or no result yet).",
        |f| {
            for s in &st.scripts {
                f.sample(&[("name", &s.name)], s.status == "up");
            }
        },
    );
    e.family(
        "keepalived_script_state",
        Kind::Gauge,
        "The vrrp_script's run: 0 idle, 1 running (baton never shows 2 or 3, the \
         termination states).",
        |f| {
            for s in &st.scripts {
                f.sample(&[("name", &s.name)], s.running);
            }
        },
    );
}

/// The counters under the names the exporter's bundled Grafana dashboard queries, with
/// the labels they had then (the state as a word).
fn legacy(e: &mut Exposition, st: &Status, facts: &NodeFacts) {
    let vrids: Vec<String> = st.instances.iter().map(|i| i.vrid.to_string()).collect();
    let word = |s: &str| -> &'static str {
        match s {
            "INIT" => "INIT",
            "BACKUP" => "BACKUP",
            "MASTER" => "MASTER",
            "FAULT" => "FAULT",
            _ => "",
        }
    };
    for c in COUNTERS {
        e.family(c.legacy, Kind::Counter, c.help, |f| {
            for (i, vrid) in st.instances.iter().zip(&vrids) {
                let labels = [
                    ("iname", i.name.as_str()),
                    ("intf", intf(i)),
                    ("vrid", vrid),
                    ("state", word(&i.state)),
                ];
                f.sample(&labels, (c.value)(&i.stats));
            }
        });
    }
    e.family(
        "keepalived_garp_delay",
        Kind::Counter,
        "The instance's garp_master_delay, in seconds.",
        |f| {
            for (i, vrid) in st.instances.iter().zip(&vrids) {
                let delay = facts
                    .instances
                    .get(&i.name)
                    .map_or(0.0, |x| x.garp_delay_secs);
                let labels = [
                    ("iname", i.name.as_str()),
                    ("intf", intf(i)),
                    ("vrid", vrid),
                    ("state", word(&i.state)),
                ];
                f.sample(&labels, delay);
            }
        },
    );
}
