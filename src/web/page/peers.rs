//! The link and the peers: who this node is on the link, each peer's link and trust,
//! what it reports of itself (its instances, priorities and why, tracked objects, its
//! hooks), and how its config compares with ours.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::node::kv;
use super::words::{
    badge, human_ms, human_us, link_state, peer_name, peer_state, prio, prio_why, result_class,
};
use super::{Esc, close_section, open_section};
use crate::control::{PeerView, Status};
use crate::link::message::InstanceStatus as PeerInstance;

pub(super) fn render(out: &mut String, status: &Status) {
    let link = &status.link;
    if link.fingerprint.is_empty() && link.peers.is_empty() && link.refused.is_empty() {
        return;
    }
    open_section(out, "link", "Link and peers");
    if link.fingerprint.is_empty() {
        out.push_str(
            "<p>No link (no link block in baton's file): peers as their adverts show them.</p>\n",
        );
    } else {
        out.push_str("<dl class=\"kv\">");
        kv(out, "node id", or_dash(&link.node_id));
        kv(
            out,
            "listen",
            &if link.listen.is_empty() {
                "-".to_string()
            } else {
                link.listen.join(" ")
            },
        );
        let _ = write!(
            out,
            "<dt>fingerprint</dt><dd><code class=\"fp\">SHA256 {}</code></dd>",
            Esc(&link.fingerprint)
        );
        out.push_str("</dl>\n");
    }
    out.push_str("<div class=\"cards\">\n");
    for p in &link.peers {
        peer_card(out, status, p);
    }
    out.push_str("</div>\n");
    refused(out, "addresses that are not peers", &link.refused);
    close_section(out);
}

fn peer_card(out: &mut String, status: &Status, p: &PeerView) {
    let ours = status.link.fingerprint.as_str();
    let class = match p.link.as_str() {
        "up" => "ok",
        "vrrp only" => "unknown",
        _ => "bad",
    };
    let _ = write!(
        out,
        "<article class=\"card peer {class}\"><h3>Peer {}</h3>\n<dl class=\"kv\">",
        Esc(&peer_name(p))
    );
    kv(out, "link", &link_state(p));
    if let Some(rtt) = p.rtt_us {
        kv(out, "round trip", &human_us(rtt));
    }
    // A peer heard only through its adverts was last heard at its latest advert.
    let heard = p
        .last_heard_ms_ago
        .or_else(|| p.vrrp.iter().map(|v| v.last_advert_ms_ago).min());
    if let Some(ms) = heard {
        kv(out, "last heard", &format!("{} ago", human_ms(ms)));
    }
    if let Some(fp) = &p.fingerprint {
        let _ = write!(
            out,
            "<dt>fingerprint</dt><dd><code class=\"fp\">SHA256 {}</code></dd>",
            Esc(fp)
        );
    }
    if let Some(st) = &p.status {
        kv(
            out,
            "baton",
            &format!("{}, up {}", st.baton_version, human_ms(st.uptime_ms)),
        );
    }
    out.push_str("</dl>\n");
    trust_hints(out, ours, p);
    match &p.status {
        Some(st) => {
            for i in &st.instances {
                peer_instance(out, i);
            }
        }
        None => {
            for v in &p.vrrp {
                let _ = writeln!(
                    out,
                    "<p>{}: advert priority {}, {} ago</p>",
                    Esc(&v.instance),
                    v.priority,
                    human_ms(v.last_advert_ms_ago)
                );
            }
        }
    }
    config(out, p, !ours.is_empty());
    refused(out, "this peer", &p.refused);
    out.push_str("</article>\n");
}

/// What the peer says of one of its instances.
fn peer_instance(out: &mut String, i: &PeerInstance) {
    let state = peer_state(i.state);
    let _ = write!(out, "<h4>{} ", Esc(&i.name));
    badge(out, state);
    out.push_str("</h4><dl class=\"kv\">");
    kv(
        out,
        "priority",
        &format!(
            "{} ({})",
            prio(i.effective_priority, i.base_priority),
            prio_why(i.effective_priority, i.base_priority, state)
        ),
    );
    kv(
        out,
        "in state",
        &format!("{state} for {}", human_ms(i.in_state_ms)),
    );
    kv(out, "reason", &i.last_reason);
    if !i.tracked.is_empty() {
        out.push_str("<dt>tracked</dt><dd>");
        for t in &i.tracked {
            let _ = write!(
                out,
                "<span class=\"tag {}\">{} {}</span> ",
                result_class(&t.state),
                Esc(&t.key),
                Esc(&t.state)
            );
        }
        out.push_str("</dd>");
    }
    if let Some(h) = &i.hook_running {
        kv(out, "hook running", h);
    }
    if let Some(h) = &i.last_hook {
        let _ = write!(
            out,
            "<dt>last hook</dt><dd>{} <span class=\"res {}\">{}</span>, {} ago</dd>",
            Esc(&h.hook),
            result_class(&h.result),
            Esc(&h.result),
            human_ms(h.ago_ms)
        );
    }
    out.push_str("</dl>\n");
}

/// The step the user must take by hand for a pair not linked for want of trust: on the
/// right node, with the right fingerprint.
fn trust_hints(out: &mut String, ours: &str, p: &PeerView) {
    let link = p.link.as_str();
    if link == "pending trust (ours)" || link == "pending trust (both)" {
        match &p.fingerprint {
            Some(fp) => {
                let _ = writeln!(
                    out,
                    "<p class=\"note\">To trust this peer: compare with <code>baton identity</code> \
                     there, then <code>baton peer approve {}</code> here.</p>",
                    Esc(fp)
                );
            }
            None => out.push_str(
                "<p class=\"note\">To trust this peer: see <code>baton peer list</code> for its \
                 fingerprint.</p>\n",
            ),
        }
    }
    if (link == "pending trust (theirs)" || link == "pending trust (both)") && !ours.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">The peer has not approved this node yet: there, \
             <code>baton peer approve {}</code>.</p>",
            Esc(ours)
        );
    }
    if link == "untrusted" {
        out.push_str(
            "<p class=\"note\">Refused: the peer presented another key than the one trusted for \
             its address.</p>\n",
        );
    }
}

/// `config: match`, or each differing field with both values. The comparison outlives
/// the link that carried it; it says so when the link is not up.
fn config(out: &mut String, p: &PeerView, has_link: bool) {
    let stale = if p.link == "up" {
        ""
    } else {
        ", when last linked"
    };
    match &p.config {
        Some(c) if c.differences.is_empty() => {
            let _ = writeln!(out, "<p class=\"cfg ok\">config: match{stale}</p>");
        }
        Some(c) => {
            let _ = writeln!(
                out,
                "<p class=\"cfg bad\">config: differs from this peer{stale}:</p>"
            );
            out.push_str("<ul class=\"diff\">");
            for d in &c.differences {
                let _ = write!(
                    out,
                    "<li><b>{}</b> {}: ours <code>{}</code>, peer <code>{}</code></li>",
                    Esc(&d.instance),
                    Esc(&d.field),
                    Esc(&d.ours),
                    Esc(&d.theirs)
                );
            }
            out.push_str("</ul>\n");
        }
        None if !has_link => {}
        None if p.link == "vrrp only" => {
            out.push_str("<p class=\"cfg\">config: not compared (VRRP only: no link)</p>\n");
        }
        None => {
            let _ = writeln!(
                out,
                "<p class=\"cfg\">config: not compared yet ({})</p>",
                Esc(&link_state(p))
            );
        }
    }
}

fn refused(out: &mut String, from: &str, counts: &BTreeMap<String, u64>) {
    let list: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(cause, n)| format!("{cause} {n}"))
        .collect();
    if !list.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">refused from {from}: {}</p>",
            Esc(&list.join(", "))
        );
    }
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}
