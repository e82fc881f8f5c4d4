//! How the community Prometheus exporter (mehdy/keepalived-exporter, its host collector)
//! reads keepalived, written again in Rust from its behaviour, so tests can check that it
//! accepts what baton writes and sees the same as in keepalived's files:
//!
//! - the version: `keepalived -v`, **stderr**, first line (there must be a newline), the
//!   second space-separated word minus its first character, parsed as a version; `--signum`
//!   is used from 1.3.8, the scripts' `State` is read from 1.4.0;
//! - with `-ka.json`: `keepalived --version` (stdout and stderr) must exit 0 and contain
//!   `--enable-json`;
//! - the signals: `keepalived --signum=DATA|STATS|JSON` must exit 0, stdout a JSON integer;
//! - the pid from `/var/run/keepalived.pid` (`-ka.pid-path`);
//! - `keepalived.data`: instance blocks (` VRRP Instance = X`, then lines indented 3, items
//!   indented 5: `State`, `Wantstate`, `Interface`, `Gratuitous ARP delay`,
//!   `Virtual Router ID`, `Virtual IP (N):` and `Virtual IP Excluded :` items) and script
//!   blocks (` VRRP Script = X`, `Status`, `State`); an unknown state or a non-number fails
//!   the whole scrape;
//! - `keepalived.stats`: `VRRP Instance: X`, sections ending in `:`, counters `Label: N`;
//! - `keepalived.json`: an array of `{data, stats}` with integer fields;
//! - and then: every instance needs a VRID, `.data` and `.stats` must list the same
//!   instances, and each virtual address line needs at least three words (address, "dev",
//!   interface).

use std::collections::BTreeMap;

use serde::Deserialize;

const STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/// One instance as the exporter holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Data {
    pub iname: String,
    pub state: i64,
    pub wantstate: i64,
    pub ifp_ifname: String,
    pub garp_delay: i64,
    pub vrid: i64,
    pub vips: Vec<String>,
    pub evips: Vec<String>,
}

/// One instance's counters as the exporter holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Counters {
    pub advert_rcvd: i64,
    pub advert_sent: i64,
    pub become_master: i64,
    pub release_master: i64,
    pub packet_len_err: i64,
    pub advert_interval_err: i64,
    pub ip_ttl_err: i64,
    pub invalid_type_rcvd: i64,
    pub addr_list_err: i64,
    pub invalid_authtype: i64,
    pub authtype_mismatch: i64,
    pub auth_failure: i64,
    pub pri_zero_rcvd: i64,
    pub pri_zero_sent: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Vrrp {
    pub data: Data,
    pub stats: Counters,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub name: String,
    pub status: String,
    pub state: String,
}

/// Go's `strings.Split(s, sep)[i]`, empty when there are fewer pieces (Go would panic;
/// the exporter only indexes after checking the separator is there).
fn piece(s: &str, sep: &str, i: usize) -> String {
    s.split(sep).nth(i).unwrap_or("").trim().to_string()
}

fn state_number(s: &str) -> Result<i64, String> {
    STATES
        .iter()
        .position(|x| *x == s)
        .map(|i| i as i64)
        .ok_or_else(|| format!("unknown state {s:?}"))
}

/// `keepalived.data`: the instances.
pub fn parse_data(text: &str) -> Result<BTreeMap<String, Data>, String> {
    let mut data: BTreeMap<String, Data> = BTreeMap::new();
    let (mut instance, mut key) = (String::new(), String::new());
    for l in text.lines() {
        if l.starts_with(" VRRP Instance") && l.contains('=') {
            instance = piece(l.trim(), "=", 1);
            data.insert(
                instance.clone(),
                Data {
                    iname: instance.clone(),
                    ..Data::default()
                },
            );
        } else if l.starts_with("   ") && !instance.is_empty() {
            let val = if l.starts_with("     ") {
                l.trim().to_string()
            } else {
                let sep = if l.contains('=') {
                    "="
                } else if l.contains(':') {
                    ":"
                } else {
                    continue;
                };
                key = piece(l.trim(), sep, 0);
                if key == "Virtual IP" {
                    continue;
                }
                piece(l.trim(), sep, 1)
            };
            let Some(d) = data.get_mut(&instance) else {
                continue;
            };
            if (key.starts_with("Virtual IP (") || key == "Virtual IP") && !val.is_empty() {
                d.vips.push(val.clone());
            }
            if key.starts_with("Virtual IP Excluded") && !val.is_empty() {
                d.evips.push(val.clone());
            }
            let number = |v: &str| v.parse::<i64>().map_err(|e| format!("{key} {v:?}: {e}"));
            match key.as_str() {
                "State" => d.state = state_number(&val)?,
                "Wantstate" => d.wantstate = state_number(&val)?,
                "Interface" | "Listening device" => d.ifp_ifname = val.clone(),
                "Gratuitous ARP delay" => d.garp_delay = number(&val)?,
                "Virtual Router ID" => d.vrid = number(&val)?,
                _ => {}
            }
        } else if l.starts_with(" VRRP Version") || l.starts_with(" VRRP Script") {
            continue;
        } else {
            instance.clear();
        }
    }
    Ok(data)
}

/// `keepalived.data`: the vrrp_scripts.
pub fn parse_scripts(text: &str) -> Vec<Script> {
    let mut scripts = Vec::new();
    let mut script = Script::default();
    for l in text.lines() {
        if l.starts_with(" VRRP Script") && l.contains('=') {
            if !script.name.is_empty() {
                scripts.push(std::mem::take(&mut script));
            }
            script.name = piece(l.trim(), "=", 1);
        } else if l.starts_with("   ") && !script.name.is_empty() {
            if !l.contains('=') {
                continue;
            }
            let (key, val) = (piece(l.trim(), "=", 0), piece(l.trim(), "=", 1));
            match key.as_str() {
                "Status" => script.status = val,
                "State" => script.state = val,
                _ => {}
            }
        } else if !l.starts_with("    ") && !script.name.is_empty() {
            scripts.push(std::mem::take(&mut script));
        }
    }
    if !script.name.is_empty() {
        scripts.push(script);
    }
    scripts
}

/// `keepalived.stats`.
pub fn parse_stats(text: &str) -> Result<BTreeMap<String, Counters>, String> {
    let mut stats: BTreeMap<String, Counters> = BTreeMap::new();
    let (mut instance, mut section) = (String::new(), String::new());
    for l in text.lines() {
        let number = |v: &str| v.parse::<i64>().map_err(|e| format!("{l:?}: {e}"));
        if l.starts_with("VRRP Instance") && l.contains(':') {
            instance = piece(l.trim(), ":", 1);
            stats.insert(instance.clone(), Counters::default());
        } else if l.starts_with("  ") && l.ends_with(':') {
            section = piece(l.trim(), ":", 0);
        } else if l.starts_with("    ") && !section.is_empty() {
            let (key, value) = (piece(l.trim(), ":", 0), number(&piece(l.trim(), ":", 1))?);
            let Some(s) = stats.get_mut(&instance) else {
                continue;
            };
            match (section.as_str(), key.as_str()) {
                ("Advertisements", "Received") => s.advert_rcvd = value,
                ("Advertisements", "Sent") => s.advert_sent = value,
                ("Packet Errors", "Length") => s.packet_len_err = value,
                ("Packet Errors", "TTL") => s.ip_ttl_err = value,
                ("Packet Errors", "Invalid Type") => s.invalid_type_rcvd = value,
                ("Packet Errors", "Advertisement Interval") => s.advert_interval_err = value,
                ("Packet Errors", "Address List") => s.addr_list_err = value,
                ("Authentication Errors", "Invalid Type") => s.invalid_authtype = value,
                ("Authentication Errors", "Type Mismatch") => s.authtype_mismatch = value,
                ("Authentication Errors", "Failure") => s.auth_failure = value,
                ("Priority Zero", "Received") => s.pri_zero_rcvd = value,
                ("Priority Zero", "Sent") => s.pri_zero_sent = value,
                _ => {}
            }
        } else if l.starts_with("  ") && !l.ends_with(':') && !l.starts_with("    ") {
            let (key, value) = (piece(l.trim(), ":", 0), number(&piece(l.trim(), ":", 1))?);
            section.clear();
            let Some(s) = stats.get_mut(&instance) else {
                continue;
            };
            match key.as_str() {
                "Became master" => s.become_master = value,
                "Released master" => s.release_master = value,
                _ => {}
            }
        }
    }
    Ok(stats)
}

/// `keepalived.json`.
pub fn parse_json(text: &str) -> Result<Vec<Vrrp>, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The text files joined as the collector joins them (it fails the scrape otherwise).
pub fn join(
    data: BTreeMap<String, Data>,
    mut stats: BTreeMap<String, Counters>,
) -> Result<Vec<Vrrp>, String> {
    if let Some((name, _)) = data.iter().find(|(_, d)| d.vrid == 0) {
        return Err(format!("incomplete data: instance {name} has vrid=0"));
    }
    if data.len() != stats.len() {
        return Err("keepalived.data and keepalived.stats datas are not synced".into());
    }
    data.into_iter()
        .map(|(name, d)| {
            let s = stats
                .remove(&name)
                .ok_or_else(|| format!("there is no stats found for instance {name}"))?;
            Ok(Vrrp { data: d, stats: s })
        })
        .collect()
}

/// A virtual address line: (address, interface), `None` with fewer than three words.
pub fn parse_vip(vip: &str) -> Option<(String, String)> {
    let words: Vec<&str> = vip.split(' ').collect();
    (words.len() >= 3).then(|| (words[0].to_string(), words[2].to_string()))
}

/// The version the exporter reads from `keepalived -v`'s stderr.
pub fn parse_version(stderr: &str) -> Result<Vec<u64>, String> {
    let (first, _) = stderr
        .split_once('\n')
        .ok_or_else(|| format!("failed to parse keepalived version output {stderr:?}"))?;
    let word = first
        .split(' ')
        .nth(1)
        .ok_or_else(|| format!("unknown keepalived version format {first:?}"))?;
    let digits = word.get(1..).unwrap_or("");
    digits
        .split('.')
        .map(|p| {
            p.parse::<u64>()
                .map_err(|e| format!("version {digits:?}: {e}"))
        })
        .collect()
}

/// `keepalived --signum=X`'s stdout as the exporter reads it.
pub fn parse_signum(stdout: &str) -> Result<i64, String> {
    serde_json::from_str::<i64>(stdout).map_err(|e| format!("signum {stdout:?}: {e}"))
}

/// The series the exporter derives from the instances, with their values, as
/// `name{labels} value` lines, sorted; `counters: false` leaves out the ones that count
/// adverts (they differ between any two runs).
pub fn series(vrrps: &[Vrrp], scripts: &[Script], counters: bool) -> Vec<String> {
    let mut out = Vec::new();
    for v in vrrps {
        let d = &v.data;
        let common = format!(
            "iname={:?},intf={:?},vrid=\"{}\"",
            d.iname, d.ifp_ifname, d.vrid
        );
        let s = &v.stats;
        let mut c = vec![
            ("keepalived_become_master_total", s.become_master),
            ("keepalived_release_master_total", s.release_master),
            ("keepalived_packet_length_errors_total", s.packet_len_err),
            (
                "keepalived_advertisements_interval_errors_total",
                s.advert_interval_err,
            ),
            ("keepalived_ip_ttl_errors_total", s.ip_ttl_err),
            (
                "keepalived_invalid_type_received_total",
                s.invalid_type_rcvd,
            ),
            ("keepalived_address_list_errors_total", s.addr_list_err),
            (
                "keepalived_authentication_invalid_total",
                s.invalid_authtype,
            ),
            (
                "keepalived_authentication_mismatch_total",
                s.authtype_mismatch,
            ),
            ("keepalived_authentication_failure_total", s.auth_failure),
            ("keepalived_priority_zero_received_total", s.pri_zero_rcvd),
            ("keepalived_priority_zero_sent_total", s.pri_zero_sent),
            ("keepalived_gratuitous_arp_delay_total", d.garp_delay),
        ];
        if counters {
            c.push(("keepalived_advertisements_received_total", s.advert_rcvd));
            c.push(("keepalived_advertisements_sent_total", s.advert_sent));
        }
        for (name, value) in c {
            out.push(format!("{name}{{{common}}} {value}"));
        }
        for (name, list) in [
            ("keepalived_vrrp_state", &d.vips),
            ("keepalived_vrrp_excluded_state", &d.evips),
        ] {
            for (ip, intf) in list.iter().filter_map(|l| parse_vip(l)) {
                out.push(format!(
                    "{name}{{iname={:?},intf={intf:?},vrid=\"{}\",ip_address={ip:?}}} {}",
                    d.iname, d.vrid, d.state
                ));
            }
        }
        if d.vips.is_empty() {
            out.push(format!(
                "keepalived_vrrp_state{{{common},ip_address=\"\"}} {}",
                d.state
            ));
        }
    }
    for s in scripts {
        if let Some(i) = ["BAD", "GOOD"].iter().position(|x| *x == s.status) {
            out.push(format!("keepalived_script_status{{name={:?}}} {i}", s.name));
        }
        let states = [
            "idle",
            "running",
            "requested termination",
            "forcing termination",
        ];
        if let Some(i) = states.iter().position(|x| *x == s.state) {
            out.push(format!("keepalived_script_state{{name={:?}}} {i}", s.name));
        }
    }
    out.sort();
    out
}
