//! The synced directories in `baton status`: one line each, then what needs a look
//! (an error, files moved aside, refusals).
//!
//! `sync /opt/neuronex/data (instance VI_1): source, generation 12, 10000 files, 200.0 MiB; peer 10.0.0.2 holds 12, in step, last sync 3.2s ago`

use std::fmt::Write as _;

use super::human_ms;
use crate::sync::DirStatus;

pub(super) fn render_sync(out: &mut String, list: &[DirStatus]) {
    for d in list {
        let held = match d.generation {
            Some(g) => format!(
                "generation {g}, {} file{}, {}",
                d.files,
                if d.files == 1 { "" } else { "s" },
                human_bytes(d.bytes)
            ),
            None => "no generation yet".into(),
        };
        let mut line = format!("sync {} ({}): {}, {held}", d.dir, d.target, d.role);
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
        let _ = writeln!(out, "{line}");
        if let Some(t) = &d.transfer {
            let _ = writeln!(
                out,
                "  receiving generation {}: {} file{} ({}) to come, {} so far",
                t.generation,
                t.files_left,
                if t.files_left == 1 { "" } else { "s" },
                human_bytes(t.bytes_left),
                human_bytes(t.bytes_done)
            );
        }
        if let Some(e) = &d.last_error {
            let _ = writeln!(out, "  last error: {e}");
        }
        if d.conflicts > 0 {
            let _ = writeln!(
                out,
                "  conflicts: {} file{} changed here and replaced by the peer's copy, moved aside to {}",
                d.conflicts,
                if d.conflicts == 1 { "" } else { "s" },
                d.conflicts_dir.as_deref().unwrap_or("the state directory")
            );
        }
        if !d.refused.is_empty() {
            let list: Vec<String> = d.refused.iter().map(|(k, n)| format!("{k}={n}")).collect();
            let _ = writeln!(out, "  refused from the peer: {}", list.join(" "));
        }
    }
}

/// Bytes in binary units, one decimal: `512 B`, `1.5 KiB`, `200.0 MiB`.
fn human_bytes(n: u64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_behind_with_a_transfer_and_conflicts() {
        let d = DirStatus {
            dir: "/opt/neuronex/data".into(),
            target: "instance VI_1".into(),
            role: "copy".into(),
            generation: Some(11),
            files: 10000,
            bytes: 200 << 20,
            peer: Some("10.0.0.1".into()),
            peer_generation: Some(12),
            lag_ms: Some(1200),
            transfer: Some(crate::sync::state::TransferStatus {
                generation: 12,
                files_left: 3,
                bytes_left: 3 << 20,
                bytes_done: 1 << 20,
            }),
            conflicts: 2,
            conflicts_dir: Some("/var/lib/baton/sync/opt_neuronex_data/conflicts/x".into()),
            refused: [("hash_mismatch".to_string(), 1)].into(),
            ..DirStatus::default()
        };
        let mut out = String::new();
        render_sync(&mut out, &[d]);
        assert_eq!(
            out,
            "sync /opt/neuronex/data (instance VI_1): copy, generation 11, 10000 files, 200.0 MiB; \
             peer 10.0.0.1 holds 12, behind for 1.2s\n  \
             receiving generation 12: 3 files (3.0 MiB) to come, 1.0 MiB so far\n  \
             conflicts: 2 files changed here and replaced by the peer's copy, moved aside to \
             /var/lib/baton/sync/opt_neuronex_data/conflicts/x\n  \
             refused from the peer: hash_mismatch=1\n"
        );
    }
}
