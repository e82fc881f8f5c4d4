//! The status others read without asking the engine: the HTTP server (metrics, the
//! status page, `/status`) takes the latest snapshot from a watch channel, so however
//! often it is scraped, the engine's work stays one status build per change (at most
//! one per [`MIN_GAP`]) and one per [`PERIOD`] for the counters and ages, and only while
//! someone holds a receiver.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::control::Status;

use super::Engine;

/// Counters and ages are at most this old.
const PERIOD: Duration = Duration::from_secs(1);
/// Changes closer together than this share one build.
const MIN_GAP: Duration = Duration::from_millis(20);

pub type Snapshot = watch::Receiver<Option<Arc<Status>>>;

#[derive(Debug)]
pub(super) struct SnapshotSide {
    tx: watch::Sender<Option<Arc<Status>>>,
    built: Option<Instant>,
    /// Something shown changed since the last build.
    dirty: bool,
}

impl Default for SnapshotSide {
    fn default() -> Self {
        SnapshotSide {
            tx: watch::Sender::new(None),
            built: None,
            dirty: true,
        }
    }
}

impl SnapshotSide {
    fn wanted(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// When the next build is due, while anyone reads.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if !self.wanted() {
            return None;
        }
        let built = self.built?;
        Some(built + if self.dirty { MIN_GAP } else { PERIOD })
    }

    pub(super) fn mark(&mut self) {
        self.dirty = true;
    }
}

impl Engine {
    /// A receiver of the snapshots; it holds the latest one (`None` until the first
    /// build, which follows at once).
    pub(crate) fn subscribe(&mut self) -> Snapshot {
        self.snapshot.dirty = true;
        self.snapshot.built = None;
        self.snapshot.tx.subscribe()
    }

    /// Builds a new snapshot if one is due.
    pub(super) fn refresh_snapshot(&mut self, now: Instant) {
        let side = &self.snapshot;
        if !side.wanted() {
            return;
        }
        let due = match side.built {
            None => true,
            Some(t) if side.dirty => now >= t + MIN_GAP,
            Some(t) => now >= t + PERIOD,
        };
        if !due {
            return;
        }
        let status = Arc::new(self.status(now));
        self.snapshot.tx.send_replace(Some(status));
        self.snapshot.built = Some(now);
        self.snapshot.dirty = false;
    }
}
