//! A configuration's summary: per instance, the settings both nodes of a pair must agree
//! on, each as canonical text so two nodes that mean the same thing write the same bytes.
//!
//! Values are the effective ones (the VRRP version and advert interval in force, a
//! tracked object's weight when the reference does not override it), because two nodes
//! that write a setting differently but run alike are not a difference. Secrets never
//! enter the summary: authentication is its type and a short salted digest.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::config::Config;
use crate::config::model::{
    AuthType, Instance, Prefix, Route, RouteType, Rule, Scope, SyncGroup, TrackRef, VirtualAddress,
};
use crate::link::message::{ConfigSummary, InstanceConfigSummary, TrackedWeight};

/// Checksum mode names: the keepalived keyword that selects each mode, so a user finds
/// the line to change; `rfc` is RFC 5798's (and the only one VRRPv2 and IPv6 have).
pub const CHECKSUM_RFC: &str = "rfc";
pub const CHECKSUM_NO_PSEUDO_HEADER: &str = "v3_checksum_as_v2";
pub const CHECKSUM_OLD_UNICAST: &str = "old_unicast_checksum";

/// The summary of a loaded configuration, instances sorted by name. `unicast_source` is
/// the instance's `unicast_src_ip` when written; the daemon fills in the address it
/// really uses with [`fill_unicast_sources`].
pub fn summarize(config: &Config) -> ConfigSummary {
    let mut instances: Vec<InstanceConfigSummary> = config
        .instances
        .iter()
        .map(|i| instance_summary(config, i))
        .collect();
    instances.sort_by(|a, b| a.name.cmp(&b.name));
    let digest = digest(&instances);
    ConfigSummary { digest, instances }
}

/// Sets the unicast source of every instance that has none written to the address
/// `source_of(name)` gives (the one the daemon sends from), and renews the digest.
pub fn fill_unicast_sources(
    summary: &mut ConfigSummary,
    mut source_of: impl FnMut(&str) -> Option<IpAddr>,
) {
    for i in &mut summary.instances {
        if i.unicast_source.is_none() {
            i.unicast_source = source_of(&i.name).map(|a| a.to_string());
        }
    }
    summary.digest = digest(&summary.instances);
}

/// SHA-256 (ring) of the instances' JSON, first 16 hex digits. serde_json writes struct
/// fields in declaration order and the lists are sorted, so the JSON is canonical.
pub fn digest(instances: &[InstanceConfigSummary]) -> String {
    // Serializing plain strings and numbers cannot fail; an empty input still digests.
    let json = serde_json::to_vec(instances).unwrap_or_default();
    hex_prefix(&json, 16)
}

fn hex_prefix(data: &[u8], digits: usize) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = String::with_capacity(digits);
    for b in d.as_ref() {
        let _ = write!(out, "{b:02x}");
        if out.len() >= digits {
            break;
        }
    }
    out.truncate(digits);
    out
}

fn instance_summary(config: &Config, i: &Instance) -> InstanceConfigSummary {
    let g = &config.global;
    let version = i.effective_version(g);
    let mut virtual_addresses: Vec<String> =
        i.virtual_ipaddresses.iter().map(address_text).collect();
    virtual_addresses.sort();
    let mut virtual_routes: Vec<String> = i.virtual_routes.iter().map(route_text).collect();
    virtual_routes.sort();
    let mut virtual_rules: Vec<String> = i.virtual_rules.iter().map(rule_text).collect();
    virtual_rules.sort();
    let mut unicast_peers: Vec<String> = i
        .unicast_peers
        .iter()
        .map(|p| p.address.to_string())
        .collect();
    unicast_peers.sort();
    unicast_peers.dedup();
    let group = config.sync_group_of(&i.name);
    let checksum_mode = if version == 3 && !i.is_ipv6() {
        if i.effective_v3_checksum_as_v2(g) {
            CHECKSUM_NO_PSEUDO_HEADER
        } else if i.old_unicast_checksum && i.is_unicast() {
            CHECKSUM_OLD_UNICAST
        } else {
            CHECKSUM_RFC
        }
    } else {
        CHECKSUM_RFC
    };
    InstanceConfigSummary {
        name: i.name.clone(),
        vrid: i.virtual_router_id,
        version,
        advert_interval_ms: u32::try_from(i.effective_advert_int(g).as_millis())
            .unwrap_or(u32::MAX),
        virtual_addresses,
        virtual_routes,
        virtual_rules,
        // VRRPv3 has no authentication: baton and keepalived ignore the block there.
        auth: if version == 2 {
            i.authentication.as_ref().map(|a| {
                let kind = match a.auth_type {
                    AuthType::Pass => "PASS",
                    AuthType::Ah => "AH",
                };
                format!("{kind} sha256:{}", password_digest(&i.name, &a.auth_pass))
            })
        } else {
            None
        },
        checksum_mode: checksum_mode.to_string(),
        unicast_source: i.unicast_src_ip.map(|a| a.to_string()),
        unicast_peers,
        sync_group: group.map(|s| s.name.clone()),
        tracked: tracked(config, i, group),
    }
}

/// Eight hex digits of SHA-256 over the bytes that reach the wire (the first eight), salted
/// with the instance name so equal passwords of different instances do not look equal and
/// no table precomputed for VRRP passwords applies. Enough to tell two passwords apart; the
/// summary only goes to a trusted peer, which has the password anyway.
fn password_digest(instance: &str, pass: &str) -> String {
    let wire = &pass.as_bytes()[..pass.len().min(8)];
    let mut data = Vec::with_capacity(instance.len() + wire.len() + 16);
    data.extend_from_slice(b"baton auth\0");
    data.extend_from_slice(instance.as_bytes());
    data.push(0);
    data.extend_from_slice(wire);
    hex_prefix(&data, 8)
}

/// The tracked objects that change the instance's priority or put it in FAULT, with their
/// effective weights, sorted by key. The primary interface is left out: its name is the
/// host's, not a setting the pair shares. A sync group's objects are keyed `group:...`.
fn tracked(config: &Config, i: &Instance, group: Option<&SyncGroup>) -> Vec<TrackedWeight> {
    let mut out = Vec::new();
    object_weights(
        config,
        "",
        &i.track_interfaces,
        &i.track_scripts,
        &i.track_files,
        &i.track_processes,
        &mut out,
    );
    if let Some(g) = group {
        object_weights(
            config,
            "group:",
            &g.track_interfaces,
            &g.track_scripts,
            &g.track_files,
            &g.track_processes,
            &mut out,
        );
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out.dedup_by(|a, b| a.key == b.key);
    out
}

fn object_weights(
    config: &Config,
    prefix: &str,
    interfaces: &[TrackRef],
    scripts: &[TrackRef],
    files: &[TrackRef],
    processes: &[TrackRef],
    out: &mut Vec<TrackedWeight>,
) {
    // A reference's own weight wins; without one, the object's weight and its reverse
    // flag apply (as the daemon's plan resolves them). Interfaces have no object: 0.
    let push =
        |out: &mut Vec<TrackedWeight>, kind: &str, t: &TrackRef, own: Option<(i32, bool)>| {
            let (default_weight, default_reverse) = own.unwrap_or((0, false));
            out.push(TrackedWeight {
                key: format!("{prefix}{kind}:{}", t.name),
                weight: t.weight.unwrap_or(default_weight),
                reverse: t.reverse ^ (default_reverse && t.weight.is_none()),
            });
        };
    for t in interfaces {
        push(out, "iface", t, None);
    }
    for t in scripts {
        let own = config
            .vrrp_script(&t.name)
            .map(|s| (s.weight, s.weight_reverse));
        push(out, "script", t, own);
    }
    for t in files {
        let own = config
            .track_file(&t.name)
            .map(|f| (f.weight, f.weight_reverse));
        push(out, "file", t, own);
    }
    for t in processes {
        let own = config
            .track_process(&t.name)
            .map(|p| (p.weight, p.weight_reverse));
        push(out, "process", t, own);
    }
}

fn scope_text(s: Scope) -> &'static str {
    match s {
        Scope::Global => "global",
        Scope::Site => "site",
        Scope::Link => "link",
        Scope::Host => "host",
        Scope::Nowhere => "nowhere",
    }
}

fn prefix_text(p: &Prefix) -> String {
    format!("{}/{}", p.address, p.len)
}

/// An address as `ip address add` would take it: `10.0.0.100/24 dev eth0 label eth0:1`.
fn address_text(a: &VirtualAddress) -> String {
    let mut s = format!("{}/{}", a.address, a.prefix_len);
    if let Some(b) = a.brd {
        let _ = write!(s, " brd {b}");
    }
    if let Some(d) = &a.dev {
        let _ = write!(s, " dev {d}");
    }
    if let Some(sc) = a.scope {
        let _ = write!(s, " scope {}", scope_text(sc));
    }
    if let Some(l) = &a.label {
        let _ = write!(s, " label {l}");
    }
    if let Some(p) = a.peer {
        let _ = write!(s, " peer {p}");
    }
    if a.no_track {
        s.push_str(" no_track");
    }
    if a.use_vmac {
        s.push_str(" use_vmac");
    }
    for f in &a.flags {
        let _ = write!(s, " {f}");
    }
    s
}

/// A route as `ip route add` would take it (`unicast` left implicit, as ip(8) does).
fn route_text(r: &Route) -> String {
    let mut s = match r.route_type {
        RouteType::Unicast => String::new(),
        RouteType::Blackhole => "blackhole ".into(),
        RouteType::Unreachable => "unreachable ".into(),
        RouteType::Prohibit => "prohibit ".into(),
        RouteType::Throw => "throw ".into(),
    };
    s.push_str(&prefix_text(&r.to));
    if let Some(a) = r.src {
        let _ = write!(s, " src {a}");
    }
    if let Some(a) = r.via {
        let _ = write!(s, " via {a}");
    }
    if let Some(a) = r.or_via {
        let _ = write!(s, " or {a}");
    }
    if let Some(d) = &r.dev {
        let _ = write!(s, " dev {d}");
    }
    if let Some(sc) = r.scope {
        let _ = write!(s, " scope {}", scope_text(sc));
    }
    if let Some(t) = &r.table {
        let _ = write!(s, " table {t}");
    }
    if let Some(m) = r.metric {
        let _ = write!(s, " metric {m}");
    }
    if r.no_track {
        s.push_str(" no_track");
    }
    for o in &r.options {
        let _ = write!(s, " {o}");
    }
    s
}

/// A rule as `ip rule add` would take it.
fn rule_text(r: &Rule) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(p) = &r.from {
        parts.push(format!("from {}", prefix_text(p)));
    }
    if let Some(p) = &r.to {
        parts.push(format!("to {}", prefix_text(p)));
    }
    if let Some(t) = &r.table {
        parts.push(format!("table {t}"));
    }
    if let Some(p) = r.preference {
        parts.push(format!("pref {p}"));
    }
    if let Some(i) = &r.iif {
        parts.push(format!("iif {i}"));
    }
    if let Some(o) = &r.oif {
        parts.push(format!("oif {o}"));
    }
    if let Some(f) = &r.fwmark {
        parts.push(format!("fwmark {f}"));
    }
    if r.no_track {
        parts.push("no_track".into());
    }
    parts.extend(r.options.iter().cloned());
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(" ")
    }
}
