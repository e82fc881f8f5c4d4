//! The invariants checked after each run, and the figures it yields.

use std::time::Duration;

use super::World;
use crate::link::handover::{HANDOVER_TIMEOUT_DEFAULT, StartReason};

#[derive(Default, Debug)]
pub(super) struct Stats {
    pub(super) gaps: Vec<Duration>,
    pub(super) starts: usize,
    pub(super) overlaps: usize,
    pub(super) timeouts: usize,
    pub(super) longest_wait: Duration,
}

impl World {
    pub(super) fn check(&self, seed: u64) -> Stats {
        let mut stats = Stats::default();
        let timeout = HANDOVER_TIMEOUT_DEFAULT;
        for a in self.intervals.iter().filter(|iv| iv.node == 0) {
            for b in self.intervals.iter().filter(|iv| iv.node == 1) {
                let (Some(ae), Some(be)) = (a.end, b.end) else {
                    continue;
                };
                let start = a.start.max(b.start);
                let end = ae.min(be);
                if start >= end {
                    continue;
                }
                let later = if a.start >= b.start { a } else { b };
                stats.overlaps += 1;
                assert!(
                    self.linked_model
                        && matches!(later.why, StartReason::PeerGone | StartReason::PeerSilent)
                        && self.ever_cut,
                    "seed {seed}: node {} started ({:?}) while node {} served, overlap {:?}",
                    later.node,
                    later.why,
                    1 - later.node,
                    end - start
                );
            }
        }
        for &(node, entered, started, ended) in &self.masterships {
            let ended = ended.unwrap_or(self.now);
            match started {
                Some(s) => assert!(
                    s - entered <= timeout,
                    "seed {seed}: node {node} held {:?}",
                    s - entered
                ),
                None => assert!(
                    ended - entered <= timeout,
                    "seed {seed}: node {node} master for {:?} without its hooks",
                    ended - entered
                ),
            }
        }
        stats.timeouts = self
            .intervals
            .iter()
            .filter(|iv| matches!(iv.why, StartReason::TimedOut { .. }))
            .count();
        stats.starts = self.intervals.len();
        // What a handover the link sequenced adds: from the end of the peer's service (or
        // our entering MASTER, if later) to the handover letting our hooks start.
        for iv in &self.intervals {
            if !matches!(iv.why, StartReason::Released | StartReason::PeerStopping) {
                continue;
            }
            let peer_end = self
                .intervals
                .iter()
                .filter(|p| p.node != iv.node)
                .filter_map(|p| p.end)
                .filter(|e| *e <= iv.decided)
                .max();
            if let Some(e) = peer_end {
                stats.gaps.push(iv.decided - e.max(iv.entered));
            }
        }
        stats.longest_wait = self.waits.iter().copied().max().unwrap_or_default();
        stats
    }
}
