//! This node's instances (beside each peer's), who holds which address, and the tracked
//! objects.

use std::fmt::Write as _;

use super::words::{badge, count, human_ms, peer_name, peer_state, prio, prio_why, result_class};
use super::{Esc, close_section, open_section};
use crate::control::{InstanceStatus, PeerView, Status};
use crate::proto::Stats;

pub(super) fn render_instances(out: &mut String, status: &Status) {
    open_section(out, "instances", "Instances");
    if status.instances.is_empty() {
        out.push_str("<p class=\"none\">No instances configured.</p>\n");
        close_section(out);
        return;
    }
    side_by_side(out, status);
    out.push_str("<div class=\"cards\">\n");
    for i in &status.instances {
        card(out, status, i);
    }
    out.push_str("</div>\n");
    for g in &status.groups {
        let _ = write!(out, "<p>sync group <b>{}</b> ", Esc(&g.name));
        super::words::badge(out, &g.state);
        let _ = writeln!(out, " [{}]</p>", Esc(&g.members.join(", ")));
    }
    if status.instances.iter().any(|i| i.operator.is_some()) {
        out.push_str(
            "<p class=\"note\">An operator override is active: <code>baton release NAME</code> \
             hands the instance back to VRRP.</p>\n",
        );
    }
    close_section(out);
}

/// One row per instance: this node's state and priority, then each peer's as it
/// reports it (or the priority its adverts carry).
fn side_by_side(out: &mut String, status: &Status) {
    let peers = &status.link.peers;
    let mut names: Vec<&str> = status.instances.iter().map(|i| i.name.as_str()).collect();
    for p in peers {
        for i in p.status.iter().flat_map(|s| &s.instances) {
            if !names.contains(&i.name.as_str()) {
                names.push(&i.name);
            }
        }
    }
    out.push_str("<table class=\"side\"><thead><tr><th>Instance</th><th>This node</th>");
    for p in peers {
        let _ = write!(out, "<th>Peer {}</th>", Esc(&peer_name(p)));
    }
    out.push_str("</tr></thead><tbody>\n");
    for name in names {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th><td>", Esc(name));
        match status.instances.iter().find(|i| i.name == name) {
            Some(i) => {
                badge(out, &i.state);
                let _ = write!(
                    out,
                    " <span class=\"prio\">{}</span>",
                    prio(i.effective_priority, i.priority)
                );
            }
            None => out.push_str("absent"),
        }
        out.push_str("</td>");
        for p in peers {
            out.push_str("<td>");
            peer_cell(out, p, name);
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

fn peer_cell(out: &mut String, p: &PeerView, name: &str) {
    if let Some(st) = &p.status {
        match st.instances.iter().find(|i| i.name == name) {
            Some(i) => {
                badge(out, peer_state(i.state));
                let _ = write!(
                    out,
                    " <span class=\"prio\">{}</span>",
                    prio(i.effective_priority, i.base_priority)
                );
            }
            None => out.push_str("absent"),
        }
        return;
    }
    match p.vrrp.iter().find(|v| v.instance == name) {
        Some(v) => {
            let _ = write!(
                out,
                "advert prio {} ({} ago)",
                v.priority,
                human_ms(v.last_advert_ms_ago)
            );
        }
        None => out.push_str("<span class=\"none\">no report</span>"),
    }
}

/// Who the master is, as words: this node, a peer by name, an address, or unknown.
fn master_words(status: &Status, i: &InstanceStatus) -> String {
    match i.master.as_deref() {
        Some("self") => "this node".into(),
        Some(addr) => match status.link.peers.iter().find(|p| p.address == addr) {
            Some(p) => format!("peer {}", peer_name(p)),
            None => addr.into(),
        },
        None => "none heard".into(),
    }
}

fn card(out: &mut String, status: &Status, i: &InstanceStatus) {
    let _ = write!(out, "<article class=\"card\"><h3>{} ", Esc(&i.name));
    badge(out, &i.state);
    out.push_str("</h3>\n<dl class=\"kv\">");
    kv(
        out,
        "where",
        &format!("{}, VRID {}, VRRPv{}", i.interface, i.vrid, i.version),
    );
    kv(out, "master", &master_words(status, i));
    let mut prio_text = format!(
        "{} ({})",
        i.effective_priority,
        prio_why(i.effective_priority, i.priority, &i.state)
    );
    if let Some(op) = &i.operator {
        let _ = write!(prio_text, "; {op} by an operator");
    }
    kv(out, "priority", &prio_text);
    kv(
        out,
        "in state",
        &format!("{} for {}", i.state, human_ms(i.in_state_ms)),
    );
    kv(out, "reason", &i.last_reason);
    let held = if i.state == "MASTER" {
        "held here"
    } else {
        "not held here"
    };
    if !i.virtual_addresses.is_empty() {
        kv(
            out,
            "addresses",
            &format!("{} ({held})", i.virtual_addresses.join(" ")),
        );
    }
    if !i.excluded_addresses.is_empty() {
        kv(
            out,
            "excluded",
            &format!(
                "{} ({held}, not advertised)",
                i.excluded_addresses.join(" ")
            ),
        );
    }
    kv(out, "adverts", &adverts(&i.stats));
    let errors = errors(&i.stats);
    if !errors.is_empty() {
        kv(out, "dropped", &errors);
    }
    out.push_str("</dl></article>\n");
}

/// One `<dt>`/`<dd>` pair; the label is ours, the value escaped.
pub(super) fn kv(out: &mut String, label: &str, value: &str) {
    let _ = write!(out, "<dt>{label}</dt><dd>{}</dd>", Esc(value));
}

fn adverts(s: &Stats) -> String {
    let zero = |n: u64| {
        if n > 0 {
            format!(" ({n} with priority 0)")
        } else {
            String::new()
        }
    };
    format!(
        "sent {}{}, received {}{}; became master {}",
        s.adverts_sent,
        zero(s.priority_zero_sent),
        s.adverts_received,
        zero(s.priority_zero_received),
        count(s.became_master, "time")
    )
}

/// The nonzero counters of adverts dropped as invalid: `ttl 3, auth 1`.
fn errors(s: &Stats) -> String {
    let all = [
        ("checksum", s.checksum_errors),
        ("ttl", s.ttl_errors),
        ("version", s.version_errors),
        ("vrid", s.vrid_errors),
        ("auth", s.auth_errors),
        ("interval", s.interval_errors),
        ("address list", s.address_list_errors),
        ("length", s.length_errors),
        ("type", s.type_errors),
        ("source", s.source_errors),
    ];
    let list: Vec<String> = all
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
    list.join(", ")
}

/// Every virtual address and who holds it: this node when it is MASTER, else the
/// master it hears (by peer name when the address is a peer's), else a peer that
/// reports MASTER for the instance over the link.
pub(super) fn render_addresses(out: &mut String, status: &Status) {
    let any = (status.instances.iter())
        .any(|i| !i.virtual_addresses.is_empty() || !i.excluded_addresses.is_empty());
    if !any {
        return;
    }
    open_section(out, "addresses", "Addresses");
    out.push_str(
        "<table class=\"addr\"><thead><tr><th>Address</th><th>Instance</th><th>Held by</th></tr>\
         </thead><tbody>\n",
    );
    for i in &status.instances {
        let holder = holder(status, i);
        let here = if i.state == "MASTER" { " here" } else { "" };
        let all = (i.virtual_addresses.iter().map(|a| (a, "")))
            .chain(i.excluded_addresses.iter().map(|a| (a, " (excluded)")));
        for (addr, note) in all {
            let _ = writeln!(
                out,
                "<tr class=\"{}\"><td><code>{}</code>{note}</td><td>{}</td><td>{}</td></tr>",
                here.trim(),
                Esc(addr),
                Esc(&i.name),
                Esc(&holder)
            );
        }
    }
    out.push_str("</tbody></table>\n");
    close_section(out);
}

fn holder(status: &Status, i: &InstanceStatus) -> String {
    if i.state == "MASTER" {
        return format!("this node ({})", status.router_id);
    }
    if let Some(addr) = i.master.as_deref().filter(|a| *a != "self") {
        return match status.link.peers.iter().find(|p| p.address == addr) {
            Some(p) => format!("peer {}", peer_name(p)),
            None => addr.to_string(),
        };
    }
    let reported = status.link.peers.iter().find(|p| {
        (p.status.iter().flat_map(|s| &s.instances))
            .any(|pi| pi.name == i.name && peer_state(pi.state) == "MASTER")
    });
    match reported {
        Some(p) => format!("peer {}", peer_name(p)),
        None => "nobody".into(),
    }
}

/// The tracked objects (interfaces, scripts, files, processes) with their state, and
/// each `vrrp_script`'s runs.
pub(super) fn render_tracked(out: &mut String, status: &Status) {
    if status.tracks.is_empty() && status.scripts.is_empty() {
        return;
    }
    open_section(out, "tracked", "Tracked objects");
    if !status.tracks.is_empty() {
        out.push_str("<ul class=\"tracks\">");
        for t in &status.tracks {
            let _ = write!(
                out,
                "<li class=\"{}\"><code>{}</code> {}</li>",
                result_class(&t.status),
                Esc(&t.key),
                Esc(&t.status)
            );
        }
        out.push_str("</ul>\n");
    }
    for s in &status.scripts {
        let _ = write!(
            out,
            "<article class=\"card {}\"><h3>script {}</h3><dl class=\"kv\">",
            result_class(&s.status),
            Esc(&s.name)
        );
        let mut state = s.status.clone();
        if s.consecutive > 0 {
            let _ = write!(
                state,
                " ({} in a row)",
                count(u64::from(s.consecutive), "run")
            );
        }
        if s.running {
            state.push_str(", running now");
        }
        kv(out, "status", &state);
        if let Some(why) = &s.disabled {
            kv(out, "disabled", why);
        }
        let mut last = s.last_result.clone().unwrap_or_else(|| "-".into());
        if let Some(ms) = s.last_duration_ms {
            let _ = write!(last, " in {}", human_ms(ms));
        }
        kv(out, "last run", &last);
        kv(
            out,
            "runs",
            &format!("{} ({:.1} s in all)", s.runs, s.seconds.max(0.0)),
        );
        out.push_str("</dl></article>\n");
    }
    close_section(out);
}
