//! The copy's half: deciding which offers to take, gathering and checking the peer's
//! manifest, receiving the files it lacks into the incoming area (each checked against
//! its size and SHA-256), and switching the complete generation in.
//!
//! Nothing here writes into the synced directory itself except [`Stage::apply`]'s one
//! atomic exchange, and that only while our service is stopped. Whatever a peer sends
//! that does not fit (a bad manifest, a chunk out of order, too long, over the window, a
//! hash that does not match) ends the transfer, is counted and logged, and leaves the
//! directory as it was. Files already received stay in the incoming area, so the next
//! attempt does not fetch them again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracing::{debug, info, warn};

use super::super::message::{
    Abort, Ack, Credit, Data, Manifest as Page, Msg, Offer, Pull, WINDOW, Want,
};
use super::super::state::{Held, TransferStatus};
use super::super::tree::{self, Entry, Incoming, Kind, Manifest, ReceiveError, Receiving};
use super::{Local, MAX_ENTRIES, Worker};

/// A generation being fetched from one connection.
pub(in crate::sync) struct Pulling {
    pub conn: u64,
    generation: u64,
    digest: String,
    entries: Vec<Entry>,
    next_page: u32,
    manifest: Option<Arc<Manifest>>,
    pub transfer: u32,
    files: VecDeque<u32>,
    receiving: Option<Receiving>,
    /// Bytes received, and how many of them were credited back.
    received: u64,
    credited: u64,
    bytes_left: u64,
    started: Instant,
}

impl Pulling {
    /// Files were asked for and not all have come.
    pub fn in_transfer(&self) -> bool {
        self.manifest.is_some() && !self.files.is_empty()
    }

    pub fn progress(&self) -> Option<TransferStatus> {
        self.manifest.as_ref().map(|_| TransferStatus {
            generation: self.generation,
            files_left: self.files.len() as u64,
            bytes_left: self.bytes_left,
            bytes_done: self.received,
        })
    }
}

impl Worker {
    pub(super) fn on_offer(&mut self, i: usize, conn: u64, offer: Offer) {
        let addr = self.peers.get(&conn).map(|p| p.addr);
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        d.peer.conn = Some(conn);
        d.peer.last_offer = Some(offer.clone());
        d.peer.addr = addr.or(d.peer.addr);
        d.peer.generation = Some(offer.generation);
        d.peer.digest = Some(offer.digest.clone());
        d.peer.serving = offer.serving;
        if d.serving {
            // A copy that differs from ours, offered by a node that does not serve (it
            // has just added the directory, or restarted): our offer tells it what to
            // fetch. Two serving nodes do not answer each other's offers.
            let differs = d.local.as_ref().is_some_and(|l| l.digest != offer.digest);
            if differs && !offer.serving {
                self.offer(i, Some(conn));
            }
            return;
        }
        if d.local.is_none() {
            self.rescan(i, false);
        }
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let Some(local) = &d.local else { return };
        if local.digest == offer.digest {
            // Already the same: record it as the generation both hold.
            let (generation, digest) =
                (offer.generation.max(local.generation), local.digest.clone());
            if d.held.as_ref().is_none_or(|h| h.digest != digest) {
                let held = Held {
                    generation,
                    digest: digest.clone(),
                    manifest: Arc::clone(&local.manifest),
                };
                let _ = held.save(&d.state);
                d.held = Some(held);
                d.last_sync = Some(SystemTime::now());
            }
            let ack = ack(&d.setup.path, generation, &digest, None);
            return self.send(conn, &ack);
        }
        // From a peer whose service runs, any other generation; from one whose service
        // is stopped too, only a newer one (it served last).
        if !offer.serving && offer.generation <= local.generation {
            return;
        }
        if d.pull
            .as_ref()
            .is_some_and(|p| p.conn == conn && p.digest == offer.digest)
        {
            return;
        }
        debug!(
            "sync {}: fetching generation {}",
            d.setup.path.display(),
            offer.generation
        );
        let transfer = self.next_transfer;
        self.next_transfer = self.next_transfer.wrapping_add(1).max(1);
        self.transfers.retain(|_, dir| *dir != i);
        self.transfers.insert(transfer, i);
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        d.pull = Some(Pulling {
            conn,
            generation: offer.generation,
            digest: offer.digest,
            entries: Vec::new(),
            next_page: 0,
            manifest: None,
            transfer,
            files: VecDeque::new(),
            receiving: None,
            received: 0,
            credited: 0,
            bytes_left: 0,
            started: Instant::now(),
        });
        let pull = Msg::Pull(Pull {
            dir: d.setup.path.to_string_lossy().into_owned(),
            generation: offer.generation,
            transfer,
        });
        self.send(conn, &pull);
    }

    pub(super) fn on_manifest(&mut self, i: usize, conn: u64, page: Page) {
        let max_file = self.setup.max_file_size;
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        // Pages that answer an earlier pull (one replaced by a newer offer, or ended) are
        // dropped: they change nothing.
        let Some(p) = (d.pull.as_mut()).filter(|p| p.conn == conn && p.transfer == page.transfer)
        else {
            return;
        };
        if p.manifest.is_some() {
            return self.refuse(
                i,
                "unexpected_manifest",
                "a manifest page after the last one",
            );
        }
        if page.page != p.next_page || (page.page > 0 && page.generation != p.generation) {
            d.pull = None;
            return self.refuse(i, "manifest_order", "manifest pages out of order");
        }
        // The first page says which generation this is (a newer one than offered, if the
        // source moved on).
        p.generation = page.generation;
        p.digest = page.digest;
        p.next_page += 1;
        if p.entries.len() + page.entries.len() > MAX_ENTRIES {
            d.pull = None;
            return self.refuse(i, "too_many", "a manifest of more than a million entries");
        }
        p.entries.extend(page.entries);
        if !page.last {
            return;
        }
        let manifest = Manifest {
            entries: std::mem::take(&mut p.entries),
        };
        if let Err(e) = manifest.validate(max_file, MAX_ENTRIES) {
            d.pull = None;
            return self.refuse(i, e.cause(), &e.to_string());
        }
        if manifest.digest() != p.digest {
            d.pull = None;
            return self.refuse(
                i,
                "digest_mismatch",
                "the manifest is not the one its digest names",
            );
        }
        let manifest = Arc::new(manifest);
        p.manifest = Some(Arc::clone(&manifest));
        self.start_fetch(i);
    }

    /// With the manifest in hand: ask for the files we have nowhere.
    fn start_fetch(&mut self, i: usize) {
        self.rescan(i, false);
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let incoming = match d.incoming.take() {
            Some(inc) => inc,
            None => match Incoming::open(incoming_dir(&d.setup.path)) {
                Ok(inc) => inc,
                Err(e) => {
                    d.pull = None;
                    d.last_error = Some(format!("cannot make the incoming area: {e}"));
                    return;
                }
            },
        };
        let (Some(p), Some(local)) = (d.pull.as_mut(), d.local.as_ref()) else {
            d.incoming = Some(incoming);
            return;
        };
        let Some(manifest) = p.manifest.clone() else {
            d.incoming = Some(incoming);
            return;
        };
        let mut files = Vec::new();
        for n in tree::needed(&local.manifest, &manifest, &incoming) {
            let Some(Entry {
                kind: Kind::File { size, sha256 },
                ..
            }) = manifest.entries.get(n as usize)
            else {
                continue;
            };
            if *size == 0 {
                // Nothing to fetch: an empty file is made here.
                if let Err(e) = incoming
                    .begin(sha256, 0)
                    .and_then(|r| r.finish().map_err(std::io::Error::other))
                {
                    warn!("sync {}: {e}", d.setup.path.display());
                }
                continue;
            }
            if files.iter().any(|&(_, s): &(u32, &String)| s == sha256) {
                continue;
            }
            p.bytes_left += size;
            files.push((n, sha256));
        }
        p.files = files.iter().map(|&(n, _)| n).collect();
        d.incoming = Some(incoming);
        if p.files.is_empty() {
            return self.apply(i);
        }
        let want = Msg::Want(Want {
            dir: d.setup.path.to_string_lossy().into_owned(),
            generation: p.generation,
            transfer: p.transfer,
            files: p.files.iter().copied().collect(),
        });
        let conn = p.conn;
        self.send(conn, &want);
    }

    pub(super) fn on_data(&mut self, i: usize, conn: u64, data: Data) {
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let Some(p) = d
            .pull
            .as_mut()
            .filter(|p| p.conn == conn && p.transfer == data.transfer)
        else {
            return;
        };
        let refused = |w: &mut Worker, cause: &str, detail: String| {
            if let Some(d) = w.dirs.get_mut(i) {
                d.pull = None;
                let abort = Msg::Abort(Abort {
                    dir: d.setup.path.to_string_lossy().into_owned(),
                    transfer: data.transfer,
                    reason: format!("refused: {detail}"),
                });
                w.send(conn, &abort);
            }
            w.refuse(i, cause, &detail);
        };
        let Some(manifest) = p.manifest.clone() else {
            return refused(
                self,
                "unexpected_data",
                "file data before the manifest".into(),
            );
        };
        if p.files.front() != Some(&data.index) {
            return refused(
                self,
                "data_order",
                format!("data for file {} out of turn", data.index),
            );
        }
        p.received += data.bytes.len() as u64;
        let Some(Entry {
            kind: Kind::File { size, sha256 },
            path,
            ..
        }) = manifest.entries.get(data.index as usize)
        else {
            return refused(self, "data_order", "data for something not a file".into());
        };
        if p.receiving.is_none() {
            match d.incoming.as_ref().map(|inc| inc.begin(sha256, *size)) {
                Some(Ok(r)) => p.receiving = Some(r),
                Some(Err(e)) => {
                    d.last_error = Some(format!("cannot write {path} into the incoming area: {e}"));
                    d.pull = None;
                    return;
                }
                None => return,
            }
        }
        let Some(r) = p.receiving.as_mut() else {
            return;
        };
        if let Err(e) = r.write(data.offset, &data.bytes) {
            if let ReceiveError::Io(io) = &e {
                // Our disk, not the peer: the transfer stops, the copy stays as it is,
                // and the incoming area is emptied so the space is free again.
                d.last_error = Some(format!("cannot receive {path}: {io}"));
                d.pull = None;
                if let Some(inc) = &d.incoming {
                    let _ = inc.clear();
                }
                let abort = Msg::Abort(Abort {
                    dir: d.setup.path.to_string_lossy().into_owned(),
                    transfer: data.transfer,
                    reason: format!("the copy cannot store it: {io}"),
                });
                return self.send(conn, &abort);
            }
            let cause = e.cause();
            return refused(self, cause, format!("{path}: {e}"));
        }
        p.bytes_left = p.bytes_left.saturating_sub(data.bytes.len() as u64);
        let done = r.written() == *size;
        if done {
            let Some(r) = p.receiving.take() else { return };
            if let Err(e) = r.finish() {
                let cause = e.cause();
                return refused(self, cause, format!("{path}: {e}"));
            }
            p.files.pop_front();
        }
        let owed = p.received - p.credited;
        if owed >= WINDOW / 4 || (done && p.files.is_empty()) {
            p.credited = p.received;
            let credit = Msg::Credit(Credit {
                transfer: p.transfer,
                bytes: owed,
            });
            self.send(conn, &credit);
        }
        if done
            && self
                .dirs
                .get(i)
                .and_then(|d| d.pull.as_ref())
                .is_some_and(|p| p.files.is_empty())
        {
            self.apply(i);
        }
    }

    pub(super) fn on_abort(&mut self, i: usize, conn: u64, abort: Abort) {
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        if d.pull
            .as_ref()
            .is_some_and(|p| p.conn == conn && p.transfer == abort.transfer)
        {
            debug!(
                "sync {}: the source ended the transfer: {}",
                d.setup.path.display(),
                abort.reason
            );
            d.pull = None;
        }
        d.sends
            .retain(|s| !(s.conn == conn && s.transfer == abort.transfer));
    }

    /// Every file is at hand: build the generation and switch it in, if our service is
    /// still stopped.
    fn apply(&mut self, i: usize) {
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let Some(p) = d.pull.take() else { return };
        self.transfers.remove(&p.transfer);
        let (Some(manifest), false) = (p.manifest.clone(), d.serving) else {
            return;
        };
        // The directory as it is now (an admin may have changed it since the last scan;
        // the scanner re-hashes only what changed).
        let current = match d.scanner.scan(&d.setup.path) {
            Ok(s) => s.manifest,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => {
                d.last_error = Some(format!("cannot scan {}: {e}", d.setup.path.display()));
                return;
            }
        };
        let (Some(stage), Some(incoming)) = (&d.stage, &d.incoming) else {
            return;
        };
        let conflicts = d.state.join("conflicts");
        let stamp = stamp(p.generation);
        let base = d.held.as_ref().map(|h| &*h.manifest);
        let result = stage.apply(&current, &manifest, incoming, base, &conflicts, &stamp);
        let dir = d.setup.path.to_string_lossy().into_owned();
        match result {
            Ok(applied) => {
                for e in &applied.errors {
                    warn!("sync {dir}: after the switch: {e}");
                }
                if let Some(old) = &applied.kept_old {
                    warn!(
                        "sync {dir}: a local change could not be moved aside; the whole \
                         previous copy is kept at {}",
                        old.display()
                    );
                }
                if !applied.conflicts.is_empty() {
                    let to = applied
                        .conflicts_dir
                        .as_ref()
                        .map(|p| p.display().to_string());
                    warn!(
                        "sync {dir}: {} file(s) changed here were replaced by the peer's generation; moved aside to {}",
                        applied.conflicts.len(),
                        to.as_deref().unwrap_or("?")
                    );
                    d.conflicts += applied.conflicts.len() as u64;
                    d.conflicts_dir = to;
                }
                info!(
                    "sync {dir}: now holds generation {} ({} files, {} bytes) in {} ms",
                    p.generation,
                    manifest.files(),
                    manifest.bytes(),
                    p.started.elapsed().as_millis()
                );
                let manifest_for_scan = Arc::clone(&manifest);
                let held = Held {
                    generation: p.generation,
                    digest: p.digest.clone(),
                    manifest: Arc::clone(&manifest),
                };
                if let Err(e) = held.save(&d.state) {
                    warn!("sync {dir}: cannot record the generation: {e}");
                }
                d.held = Some(held);
                d.local = Some(Local {
                    generation: p.generation,
                    digest: p.digest.clone(),
                    manifest,
                    since: Instant::now(),
                });
                d.peer.generation = Some(p.generation);
                d.peer.digest = Some(p.digest.clone());
                d.last_sync = Some(SystemTime::now());
                d.last_error = None;
                if let Err(e) = incoming.clear() {
                    warn!("sync {dir}: cannot empty the incoming area: {e}");
                }
                d.scanner.expect(&manifest_for_scan);
                d.scan_at = Some(Instant::now());
                let ack = ack(&d.setup.path, p.generation, &p.digest, None);
                self.send(p.conn, &ack);
            }
            Err(e) => {
                warn!(
                    "sync {dir}: generation {} not switched in, the previous one stays: {e}",
                    p.generation
                );
                d.last_error = Some(format!("generation {} not switched in: {e}", p.generation));
                let ack = ack(&d.setup.path, p.generation, &p.digest, Some(e.to_string()));
                self.send(p.conn, &ack);
            }
        }
    }
}

fn ack(dir: &std::path::Path, generation: u64, digest: &str, error: Option<String>) -> Msg {
    Msg::Ack(Ack {
        dir: dir.to_string_lossy().into_owned(),
        generation,
        digest: digest.to_string(),
        ok: error.is_none(),
        error,
    })
}

/// The incoming area of a directory: a hidden sibling, on the same filesystem, so that
/// received files move into the new generation by rename.
pub(super) fn incoming_dir(dir: &std::path::Path) -> std::path::PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}.baton-incoming"))
}

/// The name of a conflicts folder: UTC time and the generation that replaced the files.
fn stamp(generation: u64) -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z-gen{generation}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
