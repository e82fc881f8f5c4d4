//! `keepalived.json` (SIGRTMIN+2): an array with one `{"data": {...}, "stats": {...}}`
//! object per instance, with keepalived 2.2.7's field names, order and encodings: compact,
//! `/` escaped as `\/`, times with six decimals, intervals as C's `%g`, flags as 0/1 or
//! true/false as keepalived writes each. Written by hand rather than through serde_json so
//! that the bytes match what keepalived writes, not just the values.

use super::stats::Counters;
use super::{
    AuthView, DumpView, Hook, InstanceView, address_line, epoch_micros, fmt_g, quote_command,
    secs_g, state_code,
};
use crate::proto::State;

/// The whole file.
pub fn render(view: &DumpView) -> String {
    let mut out = String::from("[");
    for (n, i) in view.instances.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str("{\"data\":");
        out.push_str(&data(view, i));
        out.push_str(",\"stats\":");
        out.push_str(&stats(i));
        out.push('}');
    }
    out.push_str("]\n");
    out
}

/// A JSON string literal, escaped as keepalived's writer does.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One JSON object, members in the order they are added.
#[derive(Default)]
struct Object(Vec<String>);

impl Object {
    fn raw(&mut self, key: &str, value: String) -> &mut Self {
        self.0.push(format!("{}:{value}", string(key)));
        self
    }
    fn int(&mut self, key: &str, v: impl std::fmt::Display) -> &mut Self {
        self.raw(key, v.to_string())
    }
    fn flag(&mut self, key: &str, v: bool) -> &mut Self {
        self.raw(key, u8::from(v).to_string())
    }
    fn bool(&mut self, key: &str, v: bool) -> &mut Self {
        self.raw(key, v.to_string())
    }
    fn str(&mut self, key: &str, v: &str) -> &mut Self {
        self.raw(key, string(v))
    }
    fn strings(&mut self, key: &str, items: &[String]) -> &mut Self {
        let items: Vec<String> = items.iter().map(|s| string(s)).collect();
        self.raw(key, format!("[{}]", items.join(",")))
    }
    fn finish(&self) -> String {
        format!("{{{}}}", self.0.join(","))
    }
}

fn data(view: &DumpView, i: &InstanceView) -> String {
    let mut o = Object::default();
    let master_priority = match (i.state, i.master) {
        (State::Backup, Some((_, Some(p)))) => p,
        _ => 0,
    };
    let g = &i.garp;
    o.str("iname", &i.name)
        .flag("dont_track_primary", i.dont_track_primary)
        .flag("skip_check_adv_addr", i.skip_check_adv_addr)
        .flag("strict_mode", false)
        .str("vmac_ifname", i.vmac.as_deref().unwrap_or(""))
        .str("ifp_ifname", &i.interface)
        .int("master_priority", master_priority)
        .raw("last_transition", epoch_micros(i.last_transition))
        .int("garp_delay", g.delay.as_secs())
        .int("garp_refresh", g.refresh.as_secs())
        .int("garp_rep", g.repeat)
        .int("garp_refresh_rep", g.refresh_repeat)
        .int("garp_lower_prio_delay", g.lower_prio_delay.as_secs())
        .int("garp_lower_prio_rep", g.lower_prio_repeat)
        .flag("lower_prio_no_advert", i.lower_prio_no_advert)
        .flag("higher_prio_send_advert", i.higher_prio_send_advert)
        .int("vrid", i.vrid)
        .int("base_priority", i.priority)
        .int("effective_priority", i.effective_priority)
        .bool("vipset", i.addresses_set)
        .bool("promote_secondaries", false)
        .raw("adver_int", secs_g(i.advert_interval))
        .raw("master_adver_int", secs_g(i.master_advert_interval))
        .int("accept", 1)
        .bool("nopreempt", !i.preempt)
        .raw(
            "preempt_delay",
            if i.preempt {
                secs_g(i.preempt_delay)
            } else {
                fmt_g(0.0)
            },
        )
        .int("state", state_code(i.state))
        .int("wantstate", state_code(i.state))
        .int("version", i.version)
        .bool("smtp_alert", false)
        .bool("notify_deleted", false);
    let n = &i.notify;
    for (key, hook) in [
        ("script_backup", &n.backup),
        ("script_master", &n.master),
        ("script_fault", &n.fault),
        ("script_stop", &n.stop),
        ("script", &n.generic),
        ("script_master_rx_lower_pri", &n.master_rx_lower_pri),
    ] {
        if let Some(Hook { argv, .. }) = hook {
            o.str(key, &quote_command(argv));
        }
    }
    let lines = |list: &[crate::config::model::VirtualAddress]| -> Vec<String> {
        list.iter()
            .map(|a| address_line(a, &i.interface, i.addresses_set))
            .collect()
    };
    if !i.virtual_addresses.is_empty() {
        o.strings("vips", &lines(&i.virtual_addresses));
    }
    if !i.excluded_addresses.is_empty() {
        o.strings("evips", &lines(&i.excluded_addresses));
    }
    if !i.tracked_interfaces.is_empty() {
        let names: Vec<String> = i
            .tracked_interfaces
            .iter()
            .map(|t| t.name.clone())
            .collect();
        o.strings("track_ifp", &names);
    }
    if !i.tracked_scripts.is_empty() {
        // keepalived lists each tracked script by its command, not its name.
        let commands: Vec<String> = (i.tracked_scripts.iter())
            .map(|t| {
                view.scripts
                    .iter()
                    .find(|s| s.name == t.name)
                    .map_or_else(|| t.name.clone(), |s| quote_command(&s.argv))
            })
            .collect();
        o.strings("track_script", &commands);
    }
    match &i.auth {
        AuthView::None => {
            o.int("auth_type", 0);
        }
        AuthView::Pass(p) => {
            o.int("auth_type", 1).str("auth_data", p);
        }
        AuthView::Ah => {
            o.int("auth_type", 2);
        }
    }
    o.finish()
}

fn stats(i: &InstanceView) -> String {
    let c = Counters::from_stats(&i.stats);
    let mut o = Object::default();
    o.int("advert_rcvd", c.advert_rcvd)
        .int("advert_sent", c.advert_sent)
        .int("become_master", c.become_master)
        .int("release_master", c.release_master)
        .int("packet_len_err", c.packet_len_err)
        .int("advert_interval_err", c.advert_interval_err)
        .int("ip_ttl_err", c.ip_ttl_err)
        .int("invalid_type_rcvd", c.invalid_type_rcvd)
        .int("addr_list_err", c.addr_list_err)
        .int("invalid_authtype", c.invalid_authtype)
        .int("authtype_mismatch", c.authtype_mismatch)
        .int("auth_failure", c.auth_failure)
        .int("pri_zero_rcvd", c.pri_zero_rcvd)
        .int("pri_zero_sent", c.pri_zero_sent);
    o.finish()
}
