//! How values read on the page: durations, sizes, priorities, clock times, state badges,
//! worded as `baton status` words them.

use std::fmt::Write as _;

use super::Esc;
use crate::control::PeerView;
use crate::link::message::InstanceState;

/// `850ms`, `3.2s`, `2m3s`, `1h5m`: as `baton status` prints ages.
pub(super) fn human_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

pub(super) fn human_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}us"),
        1_000..1_000_000 => format!("{:.1}ms", us as f64 / 1000.0),
        _ => human_ms(us / 1000),
    }
}

/// Bytes in binary units, one decimal: `512 B`, `1.5 KiB`, `200.0 MiB`.
pub(super) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// `1 file`, `3 files`.
pub(super) fn count(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `150`, or `140/150` when tracking has moved the effective priority off the base.
pub(super) fn prio(effective: u8, base: u8) -> String {
    if effective == base {
        base.to_string()
    } else {
        format!("{effective}/{base}")
    }
}

/// Why the effective priority is what it is, in a few words: `base 150`,
/// `base 150, −10 from tracked objects`, `0: in FAULT`.
pub(super) fn prio_why(effective: u8, base: u8, state: &str) -> String {
    let delta = i32::from(effective) - i32::from(base);
    match delta {
        0 => format!("base {base}"),
        _ if effective == 0 && state == "FAULT" => format!("base {base}, 0 in FAULT"),
        d if d < 0 => format!("base {base}, \u{2212}{} from tracked objects", -d),
        d => format!("base {base}, +{d} from tracked objects"),
    }
}

/// Wall-clock time of an event that happened `ago_ms` ago: `14:03:07 UTC`, with the
/// date in front when it was another day than now.
pub(super) fn clock(at_unix_ms: u64, ago_ms: u64) -> String {
    let at = civil(at_unix_ms);
    let now = civil(at_unix_ms.saturating_add(ago_ms));
    match (at, now) {
        (Some(a), Some(n)) if a.date() == n.date() => {
            format!("{:02}:{:02}:{:02} UTC", a.hour(), a.minute(), a.second())
        }
        (Some(a), _) => format!(
            "{}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            a.year(),
            u8::from(a.month()),
            a.day(),
            a.hour(),
            a.minute(),
            a.second()
        ),
        (None, _) => "-".into(),
    }
}

fn civil(unix_ms: u64) -> Option<time::OffsetDateTime> {
    let secs = i64::try_from(unix_ms / 1000).ok()?;
    time::OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// The CSS class of a state badge (one of a fixed list, never the status's own text).
pub(super) fn state_class(state: &str) -> &'static str {
    match state {
        "MASTER" => "master",
        "BACKUP" => "backup",
        "FAULT" => "fault",
        "STOP" => "stop",
        "INIT" => "init",
        _ => "unknown",
    }
}

/// `<span class="st master">MASTER</span>`.
pub(super) fn badge(out: &mut String, state: &str) {
    let _ = write!(
        out,
        "<span class=\"st {}\">{}</span>",
        state_class(state),
        Esc(state)
    );
}

/// A peer's state as our own instances' states are named.
pub(super) fn peer_state(s: InstanceState) -> &'static str {
    match s {
        InstanceState::Init => "INIT",
        InstanceState::Backup => "BACKUP",
        InstanceState::Master => "MASTER",
        InstanceState::Fault => "FAULT",
        InstanceState::Stop => "STOP",
        InstanceState::Unknown => "UNKNOWN",
    }
}

/// `up for 2m3s`, `down since 12.0s ago`, `VRRP only`; other states as the daemon
/// words them (`pending trust (ours)`, `untrusted`, `connecting`).
pub(super) fn link_state(p: &PeerView) -> String {
    match (p.link.as_str(), p.link_since_ms_ago) {
        ("up", Some(ms)) => format!("up for {}", human_ms(ms)),
        ("down", Some(ms)) => format!("down since {} ago", human_ms(ms)),
        ("vrrp only", _) => "VRRP only".into(),
        (other, _) => other.into(),
    }
}

/// A peer by its node id and address (`b (10.0.0.2)`), or its address alone.
pub(super) fn peer_name(p: &PeerView) -> String {
    match p.node_id.as_deref() {
        Some(id) if !id.is_empty() && id != p.address => format!("{id} ({})", p.address),
        _ => p.address.clone(),
    }
}

/// `ok` for a result that reads as a success (`exit 0`, `up`), `bad` for one that
/// does not; the class of a result cell.
pub(super) fn result_class(result: &str) -> &'static str {
    match result {
        "exit 0" | "up" | "ok" => "ok",
        "unknown" => "unknown",
        _ => "bad",
    }
}
