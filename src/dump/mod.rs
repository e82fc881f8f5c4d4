//! keepalived's dump interface: the text of `keepalived.data` (SIGUSR1), `keepalived.stats`
//! (SIGUSR2) and `keepalived.json` (the JSON signal, SIGRTMIN+2) in keepalived 2.2.7's
//! formats, so the scripts and the Prometheus exporter that read those files keep working.
//!
//! Pure: the renderers take a [`DumpView`], a plain snapshot the engine builds from its own
//! state, and return the file's text. Nothing here reads a file, the environment or the
//! clock (times come in the view); writing the files is the daemon's. `data.rs`,
//! `stats.rs` and `json.rs` render one file each; this file holds the view, the signal
//! numbers and the formatting the three share.
//!
//! The formats are keepalived's own output as captured in `tests/data/keepalived-dump/`
//! (its README lists what baton cannot fill and the neutral value it prints instead).

use std::ffi::OsStr;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::config::model::{Scope, UnicastPeer, VirtualAddress};
use crate::proto::{State, Stats};

pub mod data;
pub mod json;
pub mod stats;

#[cfg(test)]
mod tests;

/// The keepalived version whose formats baton writes (and whose `-v` it answers as).
pub const KEEPALIVED_VERSION: &str = "2.2.7";

/// Which of the three files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    Data,
    Stats,
    Json,
}

impl DumpKind {
    pub fn file_name(self) -> &'static str {
        match self {
            DumpKind::Data => "keepalived.data",
            DumpKind::Stats => "keepalived.stats",
            DumpKind::Json => "keepalived.json",
        }
    }

    pub fn render(self, view: &DumpView) -> String {
        match self {
            DumpKind::Data => data::render(view),
            DumpKind::Stats => stats::render(view),
            DumpKind::Json => json::render(view),
        }
    }
}

/// The signal keepalived writes `keepalived.json` on: SIGRTMIN+2 (36 with glibc).
pub fn json_signal() -> i32 {
    libc::SIGRTMIN() + 2
}

/// `--signum=NAME`: the signal number keepalived 2.2.7 prints for NAME (upper case only,
/// as keepalived). `STATS_CLEAR` is not offered: baton does not clear its counters, and a
/// script sending that real-time signal would otherwise end the daemon.
pub fn signum(name: &str) -> Option<i32> {
    match name {
        "STOP" => Some(libc::SIGTERM),
        "RELOAD" => Some(libc::SIGHUP),
        "DATA" => Some(libc::SIGUSR1),
        "STATS" => Some(libc::SIGUSR2),
        "JSON" => Some(json_signal()),
        _ => None,
    }
}

/// The directory the files go to, as keepalived picks it: `$TMPDIR`, else `/tmp`.
pub fn dump_dir(tmpdir: Option<&OsStr>) -> PathBuf {
    match tmpdir {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/tmp"),
    }
}

/// Everything the three files show, taken from the engine at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpView {
    pub globals: Globals,
    pub instances: Vec<InstanceView>,
    pub scripts: Vec<ScriptView>,
}

/// The `global_defs` settings baton keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Globals {
    pub router_id: String,
    pub default_interface: String,
    pub script_security: bool,
    /// The user scripts and hooks run as unless they name one.
    pub script_owner: Owner,
}

/// A uid:gid pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// A command (notify hook) and who runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub argv: Vec<String>,
    /// `None`: the global script user ([`Globals::script_owner`]).
    pub owner: Option<Owner>,
}

/// The notify hooks of an instance, in keepalived's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notify {
    pub backup: Option<Hook>,
    pub master: Option<Hook>,
    pub fault: Option<Hook>,
    pub stop: Option<Hook>,
    pub generic: Option<Hook>,
    pub master_rx_lower_pri: Option<Hook>,
}

/// A tracked interface or script as an instance references it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
}

/// VRRPv2 authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthView {
    None,
    /// `auth_type PASS`: keepalived prints the password (it travels in clear in every
    /// advert anyway); the files are written mode 0600.
    Pass(String),
    Ah,
}

/// The gratuitous ARP / NA settings of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Garp {
    pub delay: Duration,
    pub repeat: u32,
    pub refresh: Duration,
    pub refresh_repeat: u32,
    pub lower_prio_delay: Duration,
    pub lower_prio_repeat: u32,
}

/// One vrrp_instance: its configuration and its runtime state.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceView {
    pub name: String,
    /// 2 or 3.
    pub version: u8,
    pub state: State,
    /// While BACKUP: the master last heard, and its priority when known.
    pub master: Option<(IpAddr, Option<u8>)>,
    /// v3: the interval learned from the master (the own one otherwise).
    pub master_advert_interval: Duration,
    pub config_faults: u32,
    /// Weight-0 tracked objects (interfaces, scripts) that are down now.
    pub track_faults: u32,
    /// Tracked scripts that have not reported yet.
    pub scripts_init: u32,
    pub last_transition: SystemTime,
    /// The instance's next timer (advert as MASTER, master-down as BACKUP).
    pub next_timer: Option<SystemTime>,
    pub master_down_timer: Duration,
    pub interface: String,
    pub source: Option<IpAddr>,
    /// `unicast_src_ip` / `mcast_src_ip` named the source.
    pub source_configured: bool,
    pub mcast_group: IpAddr,
    pub unicast_peers: Vec<UnicastPeer>,
    pub check_unicast_src: bool,
    pub old_unicast_checksum: bool,
    pub garp: Garp,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub skip_check_adv_addr: bool,
    pub dont_track_primary: bool,
    pub vrid: u8,
    pub priority: u8,
    pub effective_priority: u8,
    pub advert_interval: Duration,
    pub preempt: bool,
    pub preempt_delay: Duration,
    pub auth: AuthView,
    pub virtual_addresses: Vec<VirtualAddress>,
    pub excluded_addresses: Vec<VirtualAddress>,
    /// The virtual addresses are on the interface (MASTER).
    pub addresses_set: bool,
    pub tracked_interfaces: Vec<Tracked>,
    pub tracked_scripts: Vec<Tracked>,
    pub notify: Notify,
    pub notify_priority_changes: bool,
    /// `use_vmac`: the macvlan's name.
    pub vmac: Option<String>,
    pub stats: Stats,
}

impl InstanceView {
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// keepalived's "Flags:" list (empty: "Flags: none").
    fn flags(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        if self.is_unicast() {
            f.push("Using unicast");
        }
        f
    }

    /// keepalived prints "Flags:" with nothing after it for a `nopreempt` instance.
    fn has_flags(&self) -> bool {
        !self.flags().is_empty() || !self.preempt
    }
}

/// One vrrp_script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptView {
    pub name: String,
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub weight: i32,
    pub rise: u32,
    pub fall: u32,
    /// The last reading: `Some(true)` good, `Some(false)` bad, `None` not run yet.
    pub good: Option<bool>,
    pub init_fail: bool,
    /// `None`: the global script user ([`Globals::script_owner`]).
    pub owner: Option<Owner>,
    /// The instances that track it, with their weight.
    pub tracking: Vec<(String, i32)>,
}

impl ScriptView {
    /// "GOOD" / "BAD": before the first run, what `init_fail` says.
    fn status(&self) -> &'static str {
        match self.good {
            Some(true) => "GOOD",
            Some(false) => "BAD",
            None if self.init_fail => "BAD",
            None => "GOOD",
        }
    }

    /// keepalived's result counter, which runs from 0 (bad) to rise + fall - 1 (good);
    /// baton keeps only the verdict, so this is the counter's settled value.
    fn result(&self) -> u32 {
        let rise = self.rise.max(1);
        let fall = self.fall.max(1);
        match self.status() {
            "GOOD" => rise + fall - 1,
            _ => 0,
        }
    }
}

/// keepalived's state names.
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
        State::Stop => "STOP",
    }
}

/// keepalived's state numbers (the JSON file, the exporter's gauge).
pub fn state_code(s: State) -> u32 {
    match s {
        State::Initialize => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
        State::Stop => 98,
    }
}

/// A command as keepalived shows it: every word in single quotes.
pub fn quote_command(argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|w| format!("'{w}'")).collect();
    words.join(" ")
}

/// Seconds and microseconds since the epoch (0 for a time before it).
fn epoch(t: SystemTime) -> (u64, u32) {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| (d.as_secs(), d.subsec_micros()))
        .unwrap_or((0, 0))
}

/// `1796236089.535573`.
pub fn epoch_micros(t: SystemTime) -> String {
    let (s, us) = epoch(t);
    format!("{s}.{us:06}")
}

/// `1796236089.535573 (Wed Dec  2 18:28:09.535573 2026)`. keepalived writes the part in
/// brackets in local time; baton writes UTC (the same on a host whose zone is UTC).
pub fn epoch_and_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (s, us) = epoch(t);
    let date = i64::try_from(s)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let day = DAYS[usize::from(date.weekday().number_days_from_monday()) % 7];
    let month = MONTHS[(usize::from(u8::from(date.month())) + 11) % 12];
    format!(
        "{s}.{us:06} ({day} {month} {:>2} {:02}:{:02}:{:02}.{us:06} {})",
        date.day(),
        date.hour(),
        date.minute(),
        date.second(),
        date.year()
    )
}

/// C's `%g`: six significant digits, no trailing zeros, exponent form when very small or
/// large. keepalived formats intervals and delays this way.
pub fn fmt_g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() {
            "0".into()
        } else {
            format!("{x}")
        };
    }
    let sci = format!("{x:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mantissa), exp.abs());
    }
    let decimals = usize::try_from(5 - exp).unwrap_or(0);
    trim(&format!("{x:.decimals$}"))
}

/// A duration in seconds as `%g` prints it.
pub fn secs_g(d: Duration) -> String {
    fmt_g(d.as_secs_f64())
}

fn scope_name(s: Option<Scope>) -> &'static str {
    match s {
        None | Some(Scope::Global) => "global",
        Some(Scope::Site) => "site",
        Some(Scope::Link) => "link",
        Some(Scope::Host) => "host",
        Some(Scope::Nowhere) => "nowhere",
    }
}

/// `10.0.0.101/24 dev eth0 scope global label eth0:1 set`: `set` while the address is
/// on the interface.
pub fn address_line(a: &VirtualAddress, interface: &str, set: bool) -> String {
    let mut s = format!(
        "{}/{} dev {} scope {}",
        a.address,
        a.prefix_len,
        a.dev.as_deref().unwrap_or(interface),
        scope_name(a.scope)
    );
    if let Some(l) = &a.label {
        s.push_str(" label ");
        s.push_str(l);
    }
    if set {
        s.push_str(" set");
    }
    s
}

/// Skew_Time and Master_Down_Interval as keepalived prints them: v2 counts the skew in
/// whole seconds' fractions of 256, v3 scales it by the master's interval.
pub fn master_down_timer(version: u8, priority: u8, master_interval: Duration) -> Duration {
    let skew = if version == 3 {
        master_interval.mul_f64(f64::from(256 - u32::from(priority)) / 256.0)
    } else {
        Duration::from_secs_f64(f64::from(256 - u32::from(priority)) / 256.0)
    };
    master_interval * 3 + skew
}
