//! The handover's side of data sync: the sync worker learns whose service may run (it
//! takes the peer's copy only while ours is not), and a MASTER start waits, at most
//! `handover_timeout`, for a newer copy of the target's synced directories that is on its
//! way from the peer, so a node that fails back starts on the data its peer last served.

use std::collections::BTreeMap;
use std::time::Instant;

use tracing::{info, warn};

use super::super::Engine;
use super::Machine;

impl Engine {
    /// After a synced directory caught up: the starts that waited for it.
    pub(in crate::daemon::engine) fn handover_repump(&mut self, now: Instant) {
        let names: Vec<String> = self.handover.machines.keys().cloned().collect();
        for name in names {
            self.handover_pump(&name, now);
        }
    }

    /// Tells the sync worker, when it changed, whose service may be running: a synced
    /// directory takes the peer's copy only while its target's is not (a start waiting
    /// for a copy counts as not running).
    pub(super) fn sync_publish(&mut self) {
        let serving: BTreeMap<String, bool> = (self.handover.machines.iter())
            .map(|(name, m)| (name.clone(), m.hand.serving() && m.gate.is_none()))
            .collect();
        if self.handover.serving_sent.as_ref() != Some(&serving) {
            self.link_sync_serving(serving.clone());
            self.handover.serving_sent = Some(serving);
        }
    }
}

/// Whether held MASTER notifies may go out as far as data sync is concerned: nothing is
/// on its way, or it has been waited for `handover_timeout` (0: never waited for).
pub(super) fn sync_gate_open(m: &mut Machine, key: &str, catching_up: bool, now: Instant) -> bool {
    if !catching_up || m.timeout.is_zero() {
        return true;
    }
    match m.gate {
        None => {
            info!(
                "{key}: MASTER hooks wait for the peer's newer copy of its synced directories \
                 (at most {} s)",
                m.timeout.as_secs_f64()
            );
            m.gate = Some(now + m.timeout);
            false
        }
        Some(until) if now >= until => {
            warn!(
                "{key}: the peer's newer copy of its synced directories did not arrive within \
                 handover_timeout; the service starts on this node's copy"
            );
            true
        }
        Some(_) => false,
    }
}
