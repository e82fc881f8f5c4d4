//! `keepalived.data` (SIGUSR1): the global settings, every VRRP instance and every
//! vrrp_script, in keepalived 2.2.7's layout and line labels.
//!
//! keepalived also writes sections baton has no counterpart for (its socket pool, its
//! interface table, LVS, SNMP, BFD and checker settings); those are left out, and within
//! the sections written, lines about keepalived features baton lacks carry keepalived's
//! default value (see `tests/data/keepalived-dump/README.md`).

use std::fmt::Write as _;

use super::{
    AuthView, DumpView, Hook, InstanceView, Owner, ScriptView, Tracked, address_line,
    epoch_and_date, quote_command, secs_g, state_name,
};
use crate::proto::State;

/// The whole file.
pub fn render(view: &DumpView) -> String {
    let mut out = String::new();
    globals(&mut out, view);
    out.push_str("------< VRRP Topology >------\n");
    for i in &view.instances {
        instance(&mut out, i, view.globals.script_owner);
    }
    if !view.scripts.is_empty() {
        out.push_str("------< VRRP Scripts >------\n");
        for s in &view.scripts {
            script(&mut out, s, view.globals.script_owner);
        }
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn enabled(b: bool) -> &'static str {
    if b { "enabled" } else { "disabled" }
}

/// Writing to a String cannot fail; the result is ignored once, here.
macro_rules! line {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

fn globals(out: &mut String, view: &DumpView) {
    let g = &view.globals;
    out.push_str("------< Global definitions >------\n");
    line!(out, " Network namespace = (default)");
    line!(out, " Router ID = {}", g.router_id);
    line!(out, " Default interface = {}", g.default_interface);
    // Master_Down_Interval is three adverts; baton has no `vrrp_down_timer_adverts`.
    line!(out, " Num adverts before down = 3");
    line!(out, " Script security {}", enabled(g.script_security));
    line!(
        out,
        " Default script uid:gid {}:{}",
        g.script_owner.uid,
        g.script_owner.gid
    );
}

/// `1 sec` for whole seconds, `500 milli-sec` otherwise.
fn interval(d: std::time::Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} sec", d.as_secs())
    } else {
        format!("{} milli-sec", d.as_millis())
    }
}

fn instance(out: &mut String, i: &InstanceView, owner: Owner) {
    line!(out, " VRRP Instance = {}", i.name);
    line!(out, "   VRRP Version = {}", i.version);
    line!(out, "   State = {}", state_name(i.state));
    if let (State::Backup, Some((addr, prio))) = (i.state, i.master) {
        line!(out, "   Master router = {addr}");
        if let Some(p) = prio {
            line!(out, "   Master priority = {p}");
        }
        if i.version == 3 {
            line!(
                out,
                "   Master advert int = {:.2} sec",
                i.master_advert_interval.as_secs_f64()
            );
        }
    }
    if i.has_flags() {
        line!(out, "   Flags:");
        for f in i.flags() {
            line!(out, "     {f}");
        }
    } else {
        line!(out, "   Flags: none");
    }
    // baton has no separate "wanted" state: it is where the instance is.
    line!(out, "   Wantstate = {}", state_name(i.state));
    line!(out, "   Number of config faults = {}", i.config_faults);
    line!(
        out,
        "   Number of interface and track script faults = {}",
        i.track_faults
    );
    line!(out, "   Number of track scripts init = {}", i.scripts_init);
    line!(
        out,
        "   Last transition = {}",
        epoch_and_date(i.last_transition)
    );
    match i.next_timer {
        Some(t) => line!(out, "   Read timeout = {}", epoch_and_date(t)),
        None => line!(out, "   Read timeout = DISABLED"),
    }
    line!(
        out,
        "   Master down timer = {} usecs",
        i.master_down_timer.as_micros()
    );
    line!(out, "   Interface = {}", i.interface);
    if let Some(src) = i.source {
        let from = if i.source_configured {
            " (from configuration)"
        } else {
            ""
        };
        line!(out, "   Using src_ip = {src}{from}");
    }
    if !i.is_unicast() {
        line!(out, "   Multicast address {}", i.mcast_group);
    }
    garp(out, i);
    line!(out, "   Virtual Router ID = {}", i.vrid);
    line!(out, "   Priority = {}", i.priority);
    line!(out, "   Effective priority = {}", i.effective_priority);
    line!(out, "   Total priority = {}", i.effective_priority);
    line!(out, "   Advert interval = {}", interval(i.advert_interval));
    if i.version == 3 {
        line!(
            out,
            "   Master advert interval = {} milli-sec",
            i.master_advert_interval.as_millis()
        );
    }
    // baton installs no firewall rules, so the addresses always accept traffic.
    line!(out, "   Accept = enabled");
    line!(out, "   Preempt = {}", enabled(i.preempt));
    if i.preempt && !i.preempt_delay.is_zero() {
        line!(out, "   Preempt delay = {} secs", secs_g(i.preempt_delay));
    }
    line!(out, "   Promote_secondaries = disabled");
    // VRRPv3 has no authentication; keepalived prints none of these lines for it.
    match &i.auth {
        _ if i.version == 3 => {}
        AuthView::None => line!(out, "   Authentication type = none"),
        AuthView::Pass(p) => {
            line!(out, "   Authentication type = SIMPLE_PASSWORD");
            line!(out, "   Password = {p}");
        }
        AuthView::Ah => line!(out, "   Authentication type = IPSEC_AH"),
    }
    addresses(out, i);
    if i.is_unicast() {
        unicast(out, i);
    }
    // keepalived's socket pair; baton's sockets are shared per interface: none of its own.
    line!(out, "   fd_in -1, fd_out -1");
    tracked(out, "Tracked interfaces", &i.tracked_interfaces);
    tracked(out, "Tracked scripts", &i.tracked_scripts);
    line!(out, "   Using smtp notification = no");
    line!(out, "   Notify deleted = Fault");
    let n = &i.notify;
    for (label, hook) in [
        ("Backup", &n.backup),
        ("Master", &n.master),
        ("Fault", &n.fault),
        ("Stop", &n.stop),
        ("Generic", &n.generic),
        ("Master rx lower pri", &n.master_rx_lower_pri),
    ] {
        if let Some(h) = hook {
            notify_line(out, label, h, owner);
        }
    }
    line!(
        out,
        "   Notify priority changes = {}",
        i.notify_priority_changes
    );
}

fn garp(out: &mut String, i: &InstanceView) {
    let g = &i.garp;
    line!(out, "   Gratuitous ARP delay = {}", g.delay.as_secs());
    line!(out, "   Gratuitous ARP repeat = {}", g.repeat);
    line!(out, "   Gratuitous ARP refresh = {}", g.refresh.as_secs());
    line!(
        out,
        "   Gratuitous ARP refresh repeat = {}",
        g.refresh_repeat
    );
    line!(
        out,
        "   Gratuitous ARP lower priority delay = {}",
        g.lower_prio_delay.as_secs()
    );
    line!(
        out,
        "   Gratuitous ARP lower priority repeat = {}",
        g.lower_prio_repeat
    );
    line!(out, "   Down timer adverts = 3");
    line!(
        out,
        "   Send advert after receive lower priority advert = {}",
        !i.lower_prio_no_advert
    );
    line!(
        out,
        "   Send advert after receive higher priority advert = {}",
        i.higher_prio_send_advert
    );
}

fn addresses(out: &mut String, i: &InstanceView) {
    if !i.virtual_addresses.is_empty() {
        line!(out, "   Virtual IP ({}):", i.virtual_addresses.len());
        for a in &i.virtual_addresses {
            line!(
                out,
                "     {}",
                address_line(a, &i.interface, i.addresses_set)
            );
        }
    }
    if !i.excluded_addresses.is_empty() {
        line!(out, "   Virtual IP Excluded :");
        for a in &i.excluded_addresses {
            line!(
                out,
                "     {}",
                address_line(a, &i.interface, i.addresses_set)
            );
        }
    }
}

fn unicast(out: &mut String, i: &InstanceView) {
    // baton sends every advert with TTL 255 (RFC 5798 5.1.1.3).
    line!(out, "   Unicast TTL = 255");
    line!(
        out,
        "   Check unicast src : {}",
        yes_no(i.check_unicast_src)
    );
    line!(out, "   Unicast Peer :");
    for p in &i.unicast_peers {
        line!(
            out,
            "     {} min_ttl {} max_ttl {}",
            p.address,
            p.min_ttl.unwrap_or(0),
            p.max_ttl.unwrap_or(255)
        );
    }
    line!(
        out,
        "   Unicast checksum compatibility = {}",
        yes_no(i.old_unicast_checksum)
    );
}

fn tracked(out: &mut String, label: &str, list: &[Tracked]) {
    if list.is_empty() {
        return;
    }
    line!(out, "   {label} :");
    for t in list {
        let reverse = if t.reverse { " reverse" } else { "" };
        line!(out, "     {} weight {}{reverse}", t.name, t.weight);
    }
}

fn notify_line(out: &mut String, label: &str, h: &Hook, default: Owner) {
    let o = h.owner.unwrap_or(default);
    line!(
        out,
        "   {label} state transition script = {}, uid:gid {}:{}",
        quote_command(&h.argv),
        o.uid,
        o.gid
    );
}

fn script(out: &mut String, s: &ScriptView, default: Owner) {
    line!(out, " VRRP Script = {}", s.name);
    line!(out, "   Command = {}", quote_command(&s.argv));
    line!(out, "   Interval = {} sec", secs_g(s.interval));
    line!(out, "   Timeout = {} sec", secs_g(s.timeout));
    line!(out, "   Weight = {}", s.weight);
    line!(out, "   Rise = {}", s.rise);
    line!(out, "   Fall = {}", s.fall);
    line!(out, "   Result = {}", s.result());
    line!(out, "   Insecure = no");
    line!(out, "   Init state = unknown");
    line!(out, "   Status = {}", s.status());
    let o = s.owner.unwrap_or(default);
    line!(out, "   Script uid:gid = {}:{}", o.uid, o.gid);
    line!(out, "   VRRP instances :");
    line!(out, "   Tracking instances :");
    for (inst, w) in &s.tracking {
        line!(out, "     {inst}, weight {w}");
    }
    line!(out, "   State = idle");
}
