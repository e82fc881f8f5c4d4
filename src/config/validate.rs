//! validate: checks across the model that no single keyword shows, each
//! reported at the token that causes it (via [`Spans`]): missing interfaces,
//! mixed address families, duplicate VRIDs, references to undefined
//! tracked objects and sync group members, and the combinations keepalived
//! silently rewrites (nopreempt with state MASTER, AH with MASTER, ...).
//!
//! Range checks of single values happen in `build` at the value's token;
//! for YAML input (no token locations) they are repeated here.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use super::LoadOptions;
use super::build::Spans;
use super::diag::Diagnostic;
use super::model::*;

/// Add every cross-check problem of `c` to `diags`.
pub fn validate(c: &Config, spans: &Spans, opts: &LoadOptions, diags: &mut Vec<Diagnostic>) {
    let from_yaml = spans.from_yaml;
    let idx = Index {
        scripts: c
            .vrrp_scripts
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect(),
        files: c.track_files.iter().map(|s| s.name.as_str()).collect(),
        procs: c.track_processes.iter().map(|s| s.name.as_str()).collect(),
        instances: c.instances.iter().map(|s| s.name.as_str()).collect(),
    };
    let mut v = V { spans, diags, idx };
    let host_ifs = opts.check_interfaces.then(|| host_interfaces(opts));

    // Only YAML can leave a name empty; keepalived.conf needs a word.
    let unnamed = c.vrrp_scripts.iter().any(|s| s.name.is_empty())
        || c.track_files.iter().any(|s| s.name.is_empty())
        || c.track_processes.iter().any(|s| s.name.is_empty())
        || c.sync_groups.iter().any(|s| s.name.is_empty())
        || c.instances.iter().any(|s| s.name.is_empty());
    if unnamed {
        v.err(&[], "every vrrp_instance, vrrp_sync_group, vrrp_script, track_file and vrrp_track_process needs a name");
    }

    for s in &c.vrrp_scripts {
        if s.script.is_none() {
            let base = format!("s/{}", s.name);
            v.err(
                &[&format!("{base}}}"), &base],
                format!("vrrp_script {} has no script", s.name),
            );
        }
        if from_yaml && !(-253..=253).contains(&s.weight) {
            v.err(
                &[],
                format!(
                    "vrrp_script {}: weight must be between -253 and 253",
                    s.name
                ),
            );
        }
    }
    for f in &c.track_files {
        if f.file.is_none() {
            let base = format!("f/{}", f.name);
            v.err(
                &[&format!("{base}}}"), &base],
                format!("track_file {} has no file", f.name),
            );
        }
    }
    for p in &c.track_processes {
        if p.process.is_none() {
            let base = format!("p/{}", p.name);
            v.err(
                &[&format!("{base}}}"), &base],
                format!("vrrp_track_process {} has no process", p.name),
            );
        }
    }

    let mut member_of: HashSet<&str> = HashSet::new();
    for g in &c.sync_groups {
        let base = format!("g/{}", g.name);
        for m in &g.members {
            let at = format!("{base}/member/{m}");
            if !v.idx.instances.contains(m.as_str()) {
                v.err(
                    &[&at, &base],
                    format!("vrrp_sync_group {}: no vrrp_instance named '{m}'", g.name),
                );
            } else if !member_of.insert(m) {
                v.err(
                    &[&at, &base],
                    format!("vrrp_instance {m} is in more than one sync group"),
                );
            }
        }
        if g.members.len() == 1 {
            v.warn(
                &[&base],
                format!(
                    "vrrp_sync_group {} has only one member; keepalived warns that this is probably not what you want",
                    g.name
                ),
            );
        }
        v.refs(&base, &g.track_scripts, &g.track_files, &g.track_processes);
        if let Some(ifs) = &host_ifs {
            for t in &g.track_interfaces {
                v.missing_if(
                    ifs,
                    &t.name,
                    &[&format!("{base}/track_interface/{}", t.name)],
                );
            }
        }
    }

    // Instances seen so far by (interface, IPv6, VRID, multicast group).
    type SeenKey<'a> = (Option<&'a str>, bool, u8, Option<std::net::IpAddr>);
    let mut seen: HashMap<SeenKey<'_>, Vec<&Instance>> = HashMap::new();
    for i in &c.instances {
        let base = format!("i/{}", i.name);
        let k = |s: &str| format!("{base}/{s}");
        let version = i.effective_version(&c.global);
        let v6 = i.is_ipv6();

        if i.virtual_router_id == 0 {
            if !spans.has(&k("virtual_router_id")) {
                v.err(
                    &[&base],
                    format!("vrrp_instance {} has no virtual_router_id", i.name),
                );
            } else if from_yaml {
                v.err(&[&base], "virtual_router_id must be between 1 and 255");
            }
        }
        if i.priority == Some(0) {
            v.err(
                &[&k("priority="), &base],
                "priority must be between 1 and 255 (got 0)",
            );
        }
        if let Some(ver) = i.version {
            if from_yaml && !(2..=3).contains(&ver) {
                v.err(&[&base], "version must be 2 or 3");
            }
        }
        v.advert_int(i, version, &k("advert_int="), &base);

        let unicast_ok = i.unicast_src_ip.is_some() && !i.unicast_peers.is_empty();
        if i.interface.is_none() && !unicast_ok {
            v.err(
                &[&base],
                format!(
                    "vrrp_instance {} has no interface (only unicast with unicast_src_ip may omit it)",
                    i.name
                ),
            );
        }

        // One address family per instance.
        let family_v6 = i
            .virtual_ipaddresses
            .first()
            .map(|a| a.address.is_ipv6())
            .or(i.unicast_src_ip.map(|a| a.is_ipv6()));
        if let Some(f6) = family_v6 {
            for (idx, a) in i.virtual_ipaddresses.iter().enumerate() {
                if a.address.is_ipv6() != f6 {
                    v.err(
                        &[&k(&format!("vip/{idx}")), &base],
                        format!(
                            "virtual_ipaddress {} is {} but the instance is {}; mixed families go in virtual_ipaddress_excluded",
                            a.address,
                            fam(a.address.is_ipv6()),
                            fam(f6)
                        ),
                    );
                }
            }
            for (idx, p) in i.unicast_peers.iter().enumerate() {
                if p.address.is_ipv6() != f6 {
                    v.err(
                        &[&k(&format!("peer/{idx}")), &base],
                        format!(
                            "unicast_peer {} is {} but the instance is {}",
                            p.address,
                            fam(p.address.is_ipv6()),
                            fam(f6)
                        ),
                    );
                }
            }
            if let Some(src) = i.unicast_src_ip {
                if src.is_ipv6() != f6 {
                    v.err(
                        &[&k("unicast_src_ip="), &base],
                        format!(
                            "unicast_src_ip {src} is {} but the instance is {}",
                            fam(src.is_ipv6()),
                            fam(f6)
                        ),
                    );
                }
            }
        }
        if v6 && i.version == Some(2) {
            v.err(
                &[&k("version="), &base],
                "IPv6 instances must use VRRP version 3",
            );
        }

        if let Some(vm) = &i.use_vmac {
            if !i.unicast_peers.is_empty() && !i.vmac_xmit_base {
                v.warn(
                    &[&k("use_vmac"), &base],
                    "unicast with use_vmac sends from the base interface: vmac_xmit_base is implied",
                );
            }
            if let Some(name) = vm.name.as_ref().filter(|n| n.len() > 15 || n.contains('/')) {
                v.err(
                    &[&k("use_vmac"), &base],
                    format!("use_vmac: {name:?} cannot be an interface name (at most 15 characters, no '/')"),
                );
            }
            if let Some(mac) = &vm.mac {
                if !vmac_mac_ok(mac) {
                    v.err(
                        &[&k("use_vmac"), &base],
                        format!("use_vmac: {mac:?} is not a MAC address (five or six hex octets separated by ':')"),
                    );
                }
            }
        }
        if i.unicast_fault_no_peer && i.unicast_peers.is_empty() {
            v.warn(
                &[&k("unicast_peer"), &k("unicast_fault_no_peer"), &base],
                format!(
                    "vrrp_instance {} has no unicast peer: with unicast_fault_no_peer it stays in FAULT",
                    i.name
                ),
            );
        } else if spans.has(&k("unicast_peer")) && i.unicast_peers.is_empty() {
            // keepalived runs such an instance by multicast; so does baton, loudly.
            v.warn(
                &[&k("unicast_peer"), &base],
                format!(
                    "unicast_peer lists no peers: vrrp_instance {} runs as MULTICAST (add peers, or unicast_fault_no_peer to make it FAULT)",
                    i.name
                ),
            );
        } else if i.unicast_src_ip.is_some() && i.unicast_peers.is_empty() {
            v.warn(
                &[&k("unicast_src_ip"), &base],
                "unicast_src_ip without unicast_peer: adverts are sent by multicast",
            );
        }

        // Same VRID on one interface and family, unless unicast to
        // disjoint peers or different multicast groups.
        if i.virtual_router_id != 0 {
            let key = (
                i.interface.as_deref(),
                v6,
                i.virtual_router_id,
                i.mcast_dst_ip,
            );
            for j in seen.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
                let disjoint = i.is_unicast()
                    && j.is_unicast()
                    && !i
                        .unicast_peers
                        .iter()
                        .any(|p| j.unicast_peers.iter().any(|q| q.address == p.address));
                if !disjoint {
                    v.err(
                        &[&k("virtual_router_id="), &base],
                        format!(
                            "virtual_router_id {} is already used by vrrp_instance {} on {} ({})",
                            i.virtual_router_id,
                            j.name,
                            i.interface.as_deref().unwrap_or("the same interface"),
                            fam(v6)
                        ),
                    );
                    break;
                }
            }
            seen.entry(key).or_default().push(i);
        }

        v.refs(&base, &i.track_scripts, &i.track_files, &i.track_processes);

        if i.virtual_ipaddresses.is_empty() {
            v.warn(
                &[&base],
                format!(
                    "vrrp_instance {} has no virtual_ipaddress; keepalived warns that at least one is sensible",
                    i.name
                ),
            );
        }

        if i.initial_state() == InitialState::Master {
            if !i.preempt {
                v.warn(
                    &[&k("nopreempt"), &k("no_preempt"), &base],
                    "nopreempt has no effect with state MASTER (keepalived clears it)",
                );
            }
            if i.preempt_delay.is_some() {
                v.warn(
                    &[&k("preempt_delay"), &base],
                    "preempt_delay has no effect with state MASTER (keepalived clears it)",
                );
            }
            if i.effective_strict(&c.global) && i.effective_priority() != PRIORITY_OWNER {
                v.warn(
                    &[&k("state="), &base],
                    "state MASTER under strict mode needs priority 255; keepalived starts the instance as BACKUP",
                );
            }
            if matches!(&i.authentication, Some(a) if a.auth_type == AuthType::Ah) {
                v.warn(
                    &[&k("auth_type="), &k("authentication"), &base],
                    "initial state MASTER is incompatible with AH authentication; keepalived starts the instance as BACKUP",
                );
            }
        }
        if i.authentication.is_some() {
            if version == 3 {
                v.warn(
                    &[&k("authentication"), &base],
                    "authentication is ignored under VRRPv3",
                );
            } else if i.effective_strict(&c.global) {
                v.warn(
                    &[&k("authentication"), &base],
                    "strict mode does not support authentication; it is ignored",
                );
            }
        }

        if let Some(ifs) = &host_ifs {
            if let Some(name) = &i.interface {
                v.missing_if(ifs, name, &[&k("interface="), &base]);
            }
            for t in &i.track_interfaces {
                v.missing_if(
                    ifs,
                    &t.name,
                    &[&k(&format!("track_interface/{}", t.name)), &base],
                );
            }
            for (idx, a) in i.virtual_ipaddresses.iter().enumerate() {
                if let Some(d) = &a.dev {
                    v.missing_if(ifs, d, &[&k(&format!("vip/{idx}/dev")), &base]);
                }
            }
        }
    }
}

/// keepalived takes a unicast advert from any source unless `check_unicast_src` is set;
/// baton takes one only from the instance's `unicast_peer` addresses unless its own file
/// says `unicast_accept_any_source`. One note for the whole file says so, at the first
/// instance it concerns. Runs once baton's own file is in `c.baton`.
pub fn unicast_source_note(c: &Config, spans: &Spans, diags: &mut Vec<Diagnostic>) {
    let written = |name: &str| {
        (c.baton.instances.get(name))
            .and_then(|s| s.unicast_accept_any_source)
            .or(c.baton.global.unicast_accept_any_source)
            .is_some()
    };
    let names: Vec<&str> = (c.instances.iter())
        .filter(|i| {
            i.is_unicast() && !i.effective_check_unicast_src(&c.global) && !written(&i.name)
        })
        .map(|i| i.name.as_str())
        .collect();
    let Some(first) = names.first() else {
        return;
    };
    let base = format!("i/{first}");
    let loc = spans.at(&[&format!("{base}/unicast_peer"), &base]).clone();
    diags.push(Diagnostic::note(
        &loc,
        format!(
            "unicast without check_unicast_src ({}): keepalived would accept adverts from any source, baton accepts them only from the unicast_peer addresses; for keepalived's behaviour set 'unicast_accept_any_source yes' in baton's own file ({}, --baton-conf)",
            names.join(", "),
            super::baton::DEFAULT_BATON_CONF
        ),
    ));
}

fn fam(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}

/// Names in the host's /sys/class/net (empty when unreadable).
fn host_interfaces(opts: &LoadOptions) -> HashSet<String> {
    let dir = opts
        .sys_class_net
        .clone()
        .unwrap_or_else(|| PathBuf::from("/sys/class/net"));
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Names of defined objects, for reference checks without scans.
struct Index<'a> {
    scripts: HashMap<&'a str, &'a VrrpScript>,
    files: HashSet<&'a str>,
    procs: HashSet<&'a str>,
    instances: HashSet<&'a str>,
}

struct V<'a> {
    spans: &'a Spans,
    diags: &'a mut Vec<Diagnostic>,
    idx: Index<'a>,
}

impl V<'_> {
    fn err(&mut self, at: &[&str], msg: impl Into<String>) {
        let loc = self.spans.at(at).clone();
        self.diags.push(Diagnostic::error(&loc, msg));
    }
    fn warn(&mut self, at: &[&str], msg: impl Into<String>) {
        let loc = self.spans.at(at).clone();
        self.diags.push(Diagnostic::warning(&loc, msg));
    }

    fn missing_if(&mut self, ifs: &HashSet<String>, name: &str, at: &[&str]) {
        if !ifs.is_empty() && !ifs.contains(name) {
            self.warn(at, format!("interface {name} does not exist on this host"));
        }
    }

    fn advert_int(&mut self, i: &Instance, version: u8, at: &str, base: &str) {
        let d = i.advert_int;
        if version == 2 {
            if d < Duration::from_secs(1) || d > Duration::from_secs(255) {
                self.err(
                    &[at, base],
                    "VRRPv2 advert_int must be between 1 and 255 seconds",
                );
            } else if d.subsec_micros() != 0 {
                self.warn(
                    &[at, base],
                    format!(
                        "VRRPv2 advert_int is whole seconds; {}s is rounded to {}s",
                        secs::to_f64(d),
                        d.as_secs() + u64::from(d.subsec_micros() >= 500_000)
                    ),
                );
            }
        } else if d < Duration::from_millis(10) || d > Duration::from_millis(40_950) {
            self.err(
                &[at, base],
                "VRRPv3 advert_int must be between 0.01 and 40.95 seconds",
            );
        } else if d.subsec_micros() % 10_000 != 0 {
            self.warn(
                &[at, base],
                "VRRPv3 advert_int has centisecond resolution; it is rounded",
            );
        }
    }

    fn refs(&mut self, base: &str, scripts: &[TrackRef], files: &[TrackRef], procs: &[TrackRef]) {
        for r in scripts {
            let at = format!("{base}/track_script/{}", r.name);
            match self.idx.scripts.get(r.name.as_str()) {
                None => self.err(
                    &[&at, base],
                    format!("track_script: no vrrp_script named '{}'", r.name),
                ),
                Some(s) if s.script.is_none() => self.err(
                    &[&at, base],
                    format!(
                        "track_script names vrrp_script '{}', which has no script",
                        r.name
                    ),
                ),
                Some(_) => {}
            }
        }
        for r in files {
            let at = format!("{base}/track_file/{}", r.name);
            if !self.idx.files.contains(r.name.as_str()) {
                self.err(
                    &[&at, base],
                    format!("track_file: no track_file named '{}'", r.name),
                );
            }
        }
        for r in procs {
            let at = format!("{base}/track_process/{}", r.name);
            if !self.idx.procs.contains(r.name.as_str()) {
                self.err(
                    &[&at, base],
                    format!("track_process: no vrrp_track_process named '{}'", r.name),
                );
            }
        }
    }
}

/// `aa:bb:cc:dd:ee:ff`, or five octets (the VRID is the sixth).
fn vmac_mac_ok(text: &str) -> bool {
    let octets: Vec<&str> = text.split(':').collect();
    (5..=6).contains(&octets.len())
        && octets
            .iter()
            .all(|o| (1..=2).contains(&o.len()) && o.chars().all(|c| c.is_ascii_hexdigit()))
}
