//! Our own copy: scanning it (a new digest is a new generation), the timers that make
//! the scans, and offering what we hold to the peers; a copy that drifted from the offer
//! of a peer it takes from fetches that offer again.

use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, warn};

use super::super::message::{Msg, Offer};
use super::super::tree::Manifest;
use super::{Local, Worker};

impl Worker {
    /// Tells the peers (or one connection) which generation we hold.
    pub(super) fn offer(&mut self, i: usize, only: Option<u64>) {
        let Some(d) = self.dirs.get(i) else { return };
        let Some(local) = &d.local else { return };
        let offer = Msg::Offer(Offer {
            dir: d.setup.path.to_string_lossy().into_owned(),
            generation: local.generation,
            digest: local.digest.clone(),
            files: local.manifest.files() as u64,
            bytes: local.manifest.bytes(),
            serving: d.serving,
        });
        let conns = only.map_or_else(|| self.conns(), |c| vec![c]);
        for c in conns {
            self.send(c, &offer);
        }
    }

    pub(super) fn timers(&mut self, now: Instant) {
        for i in 0..self.dirs.len() {
            let Some(d) = self.dirs.get_mut(i) else {
                continue;
            };
            let compare = d.compare_at <= now;
            if compare {
                d.compare_at = now + self.setup.interval;
            }
            if compare || d.scan_at.is_some_and(|t| t <= now) {
                d.scan_at = None;
                self.rescan(i, compare);
            }
        }
    }

    /// Scans directory `i`; a new digest is a new generation, offered to the peers (as
    /// is the current one on the compare timer).
    pub(super) fn rescan(&mut self, i: usize, offer_anyway: bool) {
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        if let Some(w) = &d.watch {
            w.rewatch(&d.setup.path);
        }
        let scan = match d.scanner.scan(&d.setup.path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !d.serving => {
                // No copy yet: an empty one, which the first generation fills.
                d.local = Some(Local {
                    generation: 0,
                    digest: Manifest::default().digest(),
                    manifest: Arc::new(Manifest::default()),
                    since: Instant::now(),
                });
                return;
            }
            Err(e) => {
                d.last_error = Some(format!("cannot scan {}: {e}", d.setup.path.display()));
                return;
            }
        };
        if let Some(w) = &d.watch {
            w.watch_dirs(&d.setup.path, &scan.manifest);
        }
        let digest = scan.manifest.digest();
        let changed = d.local.as_ref().is_none_or(|l| l.digest != digest);
        if changed {
            let held = d.held.as_ref();
            let generation = match (held, &d.local) {
                (Some(h), _) if h.digest == digest => h.generation,
                (h, l) => {
                    let top = h
                        .map_or(0, |h| h.generation)
                        .max(l.as_ref().map_or(0, |l| l.generation));
                    if l.is_none() && h.is_none() && scan.manifest.entries.is_empty() {
                        0
                    } else {
                        top + 1
                    }
                }
            };
            for (path, why) in scan.skipped.iter().take(3) {
                warn!(
                    "sync {}: {path} not kept in step: {why}",
                    d.setup.path.display()
                );
            }
            debug!(
                "sync {}: generation {generation} ({} files, {} bytes)",
                d.setup.path.display(),
                scan.manifest.files(),
                scan.manifest.bytes()
            );
            d.local = Some(Local {
                generation,
                digest,
                manifest: Arc::new(scan.manifest),
                since: Instant::now(),
            });
            // Sends of an older generation cannot finish as asked.
            d.sends.retain(|s| s.generation == generation);
        }
        if changed || offer_anyway {
            self.offer(i, None);
        }
        // A copy that no longer matches the offer of a peer we take from (someone
        // changed it, or a generation was missed): fetch it again.
        let Some(d) = self.dirs.get(i) else { return };
        if let (false, None, Some(conn), Some(offer), Some(local)) = (
            d.serving,
            &d.pull,
            d.peer.conn,
            &d.peer.last_offer,
            &d.local,
        ) && offer.digest != local.digest
            && (changed || offer_anyway)
        {
            let offer = offer.clone();
            self.on_offer(i, conn, offer);
        }
    }
}
