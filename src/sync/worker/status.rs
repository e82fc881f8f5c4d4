//! What the worker shows: each directory's row for `baton status`, and the targets whose
//! MASTER start should wait for a copy on its way (with a word to the engine when one
//! has caught up).

use std::collections::BTreeSet;
use std::time::{Instant, SystemTime};

use super::super::state::DirStatus;
use super::{Dir, Worker};

impl Worker {
    pub(super) fn publish(&self) {
        let now = Instant::now();
        let rows = self.dirs.iter().map(|d| d.status(now)).collect();
        if let Ok(mut s) = self.status.lock() {
            *s = rows;
        }
        let catching: BTreeSet<String> = (self.dirs.iter())
            .filter(|d| d.catching_up())
            .map(|d| d.setup.target.clone())
            .collect();
        let fewer = match self.catching_up.lock() {
            Ok(mut s) => {
                let fewer = s.iter().any(|t| !catching.contains(t));
                *s = catching;
                fewer
            }
            Err(_) => false,
        };
        if fewer && let Some(f) = &self.caught_up {
            f();
        }
    }
}

impl Dir {
    /// Our service is stopped and the peer has a generation we would take: one in
    /// transfer, or offered and not yet asked for.
    fn catching_up(&self) -> bool {
        if self.serving {
            return false;
        }
        let Some(local) = &self.local else {
            return false;
        };
        let differs = self
            .peer
            .digest
            .as_ref()
            .is_some_and(|d| *d != local.digest);
        let would_take =
            self.peer.serving || self.peer.generation.is_some_and(|g| g > local.generation);
        self.pull.is_some() || (differs && would_take && self.peer.conn.is_some())
    }

    fn status(&self, now: Instant) -> DirStatus {
        let local = self.local.as_ref();
        let in_step = local.is_some_and(|l| self.peer.digest.as_deref() == Some(&l.digest));
        let role = match (self.serving, local) {
            (true, _) => "source",
            (false, Some(l)) if l.generation > 0 || self.held.is_some() => "copy",
            _ => "waiting",
        };
        DirStatus {
            dir: self.setup.path.display().to_string(),
            target: self.setup.label.clone(),
            role: role.to_string(),
            generation: local.map(|l| l.generation),
            digest: local.map(|l| l.digest.chars().take(16).collect()),
            files: local.map_or(0, |l| l.manifest.files() as u64),
            bytes: local.map_or(0, |l| l.manifest.bytes()),
            peer: self.peer.addr.map(|a| a.to_string()),
            peer_generation: self.peer.generation,
            in_step,
            last_sync_ms_ago: self.last_sync.map(|t| {
                SystemTime::now()
                    .duration_since(t)
                    .unwrap_or_default()
                    .as_millis() as u64
            }),
            lag_ms: (!in_step && self.peer.addr.is_some())
                .then(|| local.map(|l| now.saturating_duration_since(l.since).as_millis() as u64))
                .flatten(),
            transfer: self.pull.as_ref().and_then(|p| p.progress()),
            last_error: self.last_error.clone(),
            conflicts: self.conflicts,
            conflicts_dir: self.conflicts_dir.clone(),
            refused: self.refused.clone(),
        }
    }
}
