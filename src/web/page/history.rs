//! What happened and what is going on between the nodes: handovers held or awaited, the
//! etcd elections, the directories kept in step, the last transitions as a timeline, the
//! last hooks, adverts for VRIDs no instance has.

use std::fmt::Write as _;

use super::words::{badge, clock, count, human_bytes, human_ms, result_class};
use super::{Esc, close_section, open_section};
use crate::control::{Status, TransitionView};

/// Per target, whether this node serves it, and what a held handover waits for.
pub(super) fn render_handover(out: &mut String, status: &Status) {
    if status.handover.is_empty() {
        return;
    }
    open_section(out, "handover", "Handover");
    out.push_str("<ul class=\"plain\">");
    for h in &status.handover {
        let _ = write!(out, "<li><b>{}</b>: ", Esc(&h.target));
        let here = match (h.master, h.serving) {
            (true, true) => "this node is MASTER and serving",
            (true, false) => "this node is MASTER, its service not started",
            (false, true) => "this node's service is stopping",
            (false, false) => "this node's service is stopped",
        };
        out.push_str(here);
        if let (Some(held), Some(why)) = (h.holding_ms, &h.waiting_for) {
            let _ = write!(
                out,
                "; MASTER hooks held {}: {}; at most {} more",
                human_ms(held),
                Esc(why),
                human_ms(h.at_most_ms.unwrap_or(0))
            );
        }
        if let Some(waits) = h.peer_waiting_ms {
            let _ = write!(
                out,
                "; the peer holds its MASTER hooks for this node's release since {}",
                human_ms(waits)
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>\n");
    close_section(out);
}

/// Per arbitrated target, the etcd election as `baton status` words it.
pub(super) fn render_arbiter(out: &mut String, status: &Status) {
    if status.arbiter.is_empty() {
        return;
    }
    open_section(out, "arbiter", "etcd arbiter");
    out.push_str("<ul class=\"plain\">");
    for a in &status.arbiter {
        // Coloured as the states: serving as MASTER, waiting as BACKUP, cut off as FAULT.
        let (class, word) = match (a.serving, a.healthy) {
            (true, _) => ("master", "serving"),
            (false, true) => ("backup", "not serving"),
            (false, false) => ("fault", "out of touch"),
        };
        let _ = write!(
            out,
            "<li><b>{}</b> <span class=\"st {class}\">{word}</span> {}; ",
            Esc(&a.target),
            Esc(&a.phase)
        );
        match (&a.leader, a.leader_token) {
            (Some(l), Some(t)) => {
                let _ = write!(out, "leader {} (token {t})", Esc(l));
            }
            _ => out.push_str("no leader"),
        }
        if let (Some(left), Some(ttl)) = (a.lease_left_ms, a.lease_ttl_ms) {
            let _ = write!(
                out,
                "; lease safe for {} of {}",
                human_ms(left),
                human_ms(ttl)
            );
        }
        let _ = write!(
            out,
            "<br><small>etcd {}, mode {}, etcd_down {}</small></li>",
            Esc(&a.endpoint),
            Esc(&a.mode),
            Esc(&a.etcd_down)
        );
    }
    out.push_str("</ul>\n");
    close_section(out);
}

/// One entry per directory kept in step, worded as `baton status` words it.
pub(super) fn render_sync(out: &mut String, status: &Status) {
    if status.sync.is_empty() {
        return;
    }
    open_section(out, "sync", "Data sync");
    out.push_str("<ul class=\"plain\">");
    for d in &status.sync {
        let held = match d.generation {
            Some(g) => format!(
                "generation {g}, {}, {}",
                count(d.files, "file"),
                human_bytes(d.bytes)
            ),
            None => "no generation yet".into(),
        };
        let mut line = format!("{}: {held}", d.role);
        match (&d.peer, d.peer_generation) {
            (Some(peer), Some(g)) => {
                let _ = write!(line, "; peer {peer} holds {g}");
            }
            (Some(peer), None) => {
                let _ = write!(line, "; peer {peer}");
            }
            (None, _) => line.push_str("; no peer linked yet"),
        }
        if d.in_step {
            line.push_str(", in step");
        } else if let Some(lag) = d.lag_ms {
            let _ = write!(line, ", behind for {}", human_ms(lag));
        }
        if let Some(ago) = d.last_sync_ms_ago {
            let _ = write!(line, ", last sync {} ago", human_ms(ago));
        }
        let class = if d.in_step { "ok" } else { "unknown" };
        let _ = write!(
            out,
            "<li class=\"{class}\"><code>{}</code> ({}): {}",
            Esc(&d.dir),
            Esc(&d.target),
            Esc(&line)
        );
        if let Some(t) = &d.transfer {
            let _ = write!(
                out,
                "<br>receiving generation {}: {} ({}) to come, {} so far",
                t.generation,
                count(t.files_left, "file"),
                human_bytes(t.bytes_left),
                human_bytes(t.bytes_done)
            );
        }
        if let Some(e) = &d.last_error {
            let _ = write!(
                out,
                "<br><span class=\"res bad\">last error: {}</span>",
                Esc(e)
            );
        }
        if d.conflicts > 0 {
            let _ = write!(
                out,
                "<br>conflicts: {} changed here and replaced by the peer's copy, moved aside to \
                 <code>{}</code>",
                count(d.conflicts, "file"),
                Esc(d.conflicts_dir.as_deref().unwrap_or("the state directory"))
            );
        }
        if !d.refused.is_empty() {
            let list: Vec<String> = d.refused.iter().map(|(k, n)| format!("{k}={n}")).collect();
            let _ = write!(out, "<br>refused from the peer: {}", Esc(&list.join(" ")));
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>\n");
    close_section(out);
}

/// Every instance's last transitions, newest first, with their reasons.
pub(super) fn render_timeline(out: &mut String, status: &Status) {
    let mut all: Vec<(&str, &TransitionView)> = (status.instances.iter())
        .flat_map(|i| i.transitions.iter().map(move |t| (i.name.as_str(), t)))
        .collect();
    if all.is_empty() {
        return;
    }
    // Newest first; within one instance the daemon's order (newest first) holds.
    all.sort_by_key(|(_, t)| std::cmp::Reverse(t.at_unix_ms));
    open_section(out, "timeline", "Timeline");
    out.push_str("<ol class=\"timeline\">\n");
    for (name, t) in all {
        let _ = write!(
            out,
            "<li><span class=\"when\">{} <small>({} ago)</small></span> \
             <span class=\"what\"><b>{}</b> ",
            clock(t.at_unix_ms, t.ago_ms),
            human_ms(t.ago_ms),
            Esc(name)
        );
        badge(out, &t.from);
        out.push_str(" \u{2192} ");
        badge(out, &t.to);
        let _ = writeln!(
            out,
            " <span class=\"prio\">priority {}</span></span> \
             <span class=\"why\">{}</span></li>",
            t.priority,
            Esc(&t.reason)
        );
    }
    out.push_str("</ol>\n");
    close_section(out);
}

/// The last hooks that ended, newest first: which, for what, its exit status and how
/// long it ran; then the runs since start by kind and outcome.
pub(super) fn render_hooks(out: &mut String, status: &Status) {
    if status.hooks.is_empty() && status.hook_counts.is_empty() {
        return;
    }
    open_section(out, "hooks", "Hooks");
    if !status.hooks.is_empty() {
        out.push_str("<ol class=\"hooks\">\n");
        for h in &status.hooks {
            let class = match h.outcome.as_str() {
                "ok" => "ok",
                "obsolete" | "not_run" => "unknown",
                _ => result_class(&h.result),
            };
            let ran = if h.duration_ms > 0 || h.result.starts_with("exit") {
                format!(" after {}", human_ms(h.duration_ms))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "<li><span class=\"when\">{} <small>({} ago)</small></span> \
                 <span class=\"what\"><b>{}</b> {} <span class=\"res {class}\">{}</span>{ran}</span> \
                 <code class=\"argv\">{}</code></li>",
                clock(h.at_unix_ms, h.ago_ms),
                human_ms(h.ago_ms),
                Esc(&h.hook),
                Esc(&h.target),
                Esc(&h.result),
                Esc(&h.argv.join(" "))
            );
        }
        out.push_str("</ol>\n");
    }
    if !status.hook_counts.is_empty() {
        let list: Vec<String> = (status.hook_counts.iter())
            .map(|c| format!("{} {} {}", c.hook, c.outcome, c.runs))
            .collect();
        let _ = writeln!(
            out,
            "<p class=\"note\">runs since start: {}</p>",
            Esc(&list.join(" · "))
        );
    }
    close_section(out);
}

/// Adverts on an interface for VRIDs no instance has (a neighbour's cluster, or a peer
/// whose config lost an instance).
pub(super) fn render_unknown(out: &mut String, status: &Status) {
    if status.unknown_vrids.is_empty() {
        return;
    }
    open_section(out, "unknown", "Adverts for unknown VRIDs");
    out.push_str("<ul class=\"plain\">");
    for u in &status.unknown_vrids {
        let _ = write!(
            out,
            "<li>{} VRID {}{}: {}, last from {}, {} ago</li>",
            Esc(&u.interface),
            u.vrid,
            if u.family == "IPv6" { " (IPv6)" } else { "" },
            count(u.count, "advert"),
            Esc(&u.last_source),
            human_ms(u.last_seen_ms_ago)
        );
    }
    out.push_str("</ul>\n");
    close_section(out);
}
