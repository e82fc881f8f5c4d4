//! The source's half: answering a peer's pull with the manifest of our current
//! generation, streaming the files it wants within its credit, and recording what it
//! acknowledges.
//!
//! Files are read in [`CHUNK`] pieces through descriptors that follow no symlink. A file
//! whose size or mtime is not the manifest's, when it is opened or when its last byte is
//! read, changed after the scan: the transfer is aborted and a rescan makes the next
//! generation (the receiver keeps what it had). The receiver checks every file's SHA-256
//! itself, so the source does not hash a second time what its scan hashed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read as _;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracing::{debug, info};

use super::super::message::{self, Abort, Ack, CHUNK, Credit, Data, Msg, PAGE, Pull, WINDOW, Want};
use super::super::state::Held;
use super::super::tree::{Kind, Manifest, open_inside};
use super::Worker;

/// One transfer to a peer.
pub(in crate::sync) struct Sending {
    pub conn: u64,
    pub transfer: u32,
    pub generation: u64,
    manifest: Arc<Manifest>,
    files: VecDeque<u32>,
    open: Option<Open>,
    /// Bytes sent, and the most we may have sent (window plus credit).
    sent: u64,
    allowed: u64,
}

struct Open {
    index: u32,
    file: File,
    offset: u64,
    size: u64,
    mtime: (i64, u32),
}

impl Sending {
    /// There is something to send and credit to send it with.
    pub fn ready(&self) -> bool {
        (self.open.is_some() || !self.files.is_empty()) && self.sent < self.allowed
    }
}

impl Worker {
    pub(super) fn on_pull(&mut self, i: usize, conn: u64, pull: Pull) {
        let Some(d) = self.dirs.get(i) else { return };
        let Some(local) = &d.local else { return };
        let dir = d.setup.path.to_string_lossy().into_owned();
        let entries = &local.manifest.entries;
        let count = entries.len().div_ceil(PAGE).max(1);
        let page = |n: usize, chunk: &[super::super::tree::Entry]| {
            Msg::Manifest(message::Manifest {
                dir: dir.clone(),
                generation: local.generation,
                digest: local.digest.clone(),
                page: n as u32,
                last: n + 1 == count,
                transfer: pull.transfer,
                entries: chunk.to_vec(),
            })
        };
        let msgs: Vec<Msg> = if entries.is_empty() {
            vec![page(0, &[])]
        } else {
            entries
                .chunks(PAGE)
                .enumerate()
                .map(|(n, c)| page(n, c))
                .collect()
        };
        for m in &msgs {
            self.send(conn, m);
        }
    }

    pub(super) fn on_want(&mut self, i: usize, conn: u64, want: Want) {
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        let dir = d.setup.path.to_string_lossy().into_owned();
        let abort = |reason: &str| {
            Msg::Abort(Abort {
                dir: dir.clone(),
                transfer: want.transfer,
                reason: reason.to_string(),
            })
        };
        let Some(local) = d.local.as_ref().filter(|l| l.generation == want.generation) else {
            let m = abort("generation no longer current");
            return self.send(conn, &m);
        };
        let manifest = Arc::clone(&local.manifest);
        let all_files = want.files.iter().all(|&n| {
            (manifest.entries.get(n as usize)).is_some_and(|e| matches!(e.kind, Kind::File { .. }))
        });
        if !all_files || want.files.len() > manifest.entries.len() {
            let m = abort("asked for what is not a file of the generation");
            self.send(conn, &m);
            return self.refuse(i, "bad_want", "a file index outside the manifest");
        }
        d.sends.retain(|s| s.conn != conn);
        d.sends.push(Sending {
            conn,
            transfer: want.transfer,
            generation: want.generation,
            manifest,
            files: want.files.into_iter().collect(),
            open: None,
            sent: 0,
            allowed: WINDOW,
        });
    }

    pub(super) fn on_credit(&mut self, i: usize, conn: u64, credit: Credit) {
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        if let Some(s) =
            (d.sends.iter_mut()).find(|s| s.conn == conn && s.transfer == credit.transfer)
        {
            // Credit for more than was sent is a confused peer: it gains nothing by it.
            let granted = credit
                .bytes
                .min(s.sent.saturating_sub(s.allowed.saturating_sub(WINDOW)));
            s.allowed = s.allowed.saturating_add(granted);
        }
    }

    pub(super) fn on_ack(&mut self, i: usize, conn: u64, ack: Ack) {
        let addr = self.peers.get(&conn).map(|p| p.addr);
        let Some(d) = self.dirs.get_mut(i) else {
            return;
        };
        d.peer.addr = addr.or(d.peer.addr);
        if !ack.ok {
            d.peer.generation = None;
            d.last_error = Some(format!(
                "the peer could not take generation {}: {}",
                ack.generation,
                ack.error.as_deref().unwrap_or("no reason given")
            ));
            return;
        }
        d.peer.generation = Some(ack.generation);
        d.peer.digest = Some(ack.digest.clone());
        let Some(local) = d.local.as_ref().filter(|l| l.digest == ack.digest) else {
            return;
        };
        d.last_sync = Some(SystemTime::now());
        d.last_error = None;
        if d.held.as_ref().is_some_and(|h| h.digest == ack.digest) {
            return;
        }
        info!(
            "sync {}: the peer holds generation {} ({} files, {} bytes)",
            d.setup.path.display(),
            local.generation,
            local.manifest.files(),
            local.manifest.bytes()
        );
        let held = Held {
            generation: local.generation,
            digest: local.digest.clone(),
            manifest: Arc::clone(&local.manifest),
        };
        if let Err(e) = held.save(&d.state) {
            d.last_error = Some(format!("cannot record the generation both hold: {e}"));
        }
        d.held = Some(held);
    }

    /// Sends what the credit of each transfer allows.
    pub(super) fn pump_sends(&mut self) {
        for i in 0..self.dirs.len() {
            let mut out: Vec<(u64, Msg)> = Vec::new();
            let mut changed = false;
            let Some(d) = self.dirs.get_mut(i) else {
                continue;
            };
            let root = d.setup.path.clone();
            let dir = root.to_string_lossy().into_owned();
            d.sends.retain_mut(|s| {
                let mut budget = WINDOW;
                while s.ready() && budget > 0 {
                    match s.step(&root) {
                        Ok(Some(data)) => {
                            budget = budget.saturating_sub(data.bytes.len() as u64 + 16);
                            s.sent += data.bytes.len() as u64;
                            out.push((s.conn, Msg::Data(data)));
                        }
                        Ok(None) => {}
                        Err(reason) => {
                            debug!("sync {dir}: transfer {} aborted: {reason}", s.transfer);
                            changed = true;
                            out.push((
                                s.conn,
                                Msg::Abort(Abort {
                                    dir: dir.clone(),
                                    transfer: s.transfer,
                                    reason,
                                }),
                            ));
                            return false;
                        }
                    }
                }
                s.open.is_some() || !s.files.is_empty()
            });
            if changed {
                d.scan_at = Some(Instant::now());
            }
            for (conn, m) in &out {
                self.send(*conn, m);
            }
        }
    }
}

/// The open file still has the size and mtime the scan saw.
fn unchanged(file: &File, size: u64, mtime: (i64, u32)) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    file.metadata().is_ok_and(|m| {
        m.is_file()
            && m.size() == size
            && (m.mtime(), u32::try_from(m.mtime_nsec()).unwrap_or(u32::MAX)) == mtime
    })
}

impl Sending {
    /// The next chunk: `Ok(None)` when a file of no bytes was finished; `Err` ends the
    /// transfer with a reason for the peer.
    fn step(&mut self, root: &std::path::Path) -> Result<Option<Data>, String> {
        if self.open.is_none() {
            let Some(index) = self.files.pop_front() else {
                return Ok(None);
            };
            let entry = self
                .manifest
                .entries
                .get(index as usize)
                .ok_or("no such file")?;
            let Kind::File { size, .. } = entry.kind else {
                return Err(format!("{} is not a file", entry.path));
            };
            let file = open_inside(root, &entry.path)
                .map_err(|e| format!("{} changed: {e}", entry.path))?;
            let mtime = (entry.mtime, entry.mtime_ns);
            if !unchanged(&file, size, mtime) {
                return Err(format!("{} changed since the scan", entry.path));
            }
            self.open = Some(Open {
                index,
                file,
                offset: 0,
                size,
                mtime,
            });
        }
        let Some(open) = self.open.as_mut() else {
            return Ok(None);
        };
        // Never past the credit: a chunk is cut to what is left of it.
        let credit = self.allowed.saturating_sub(self.sent);
        let want = (open.size - open.offset).min(CHUNK as u64).min(credit) as usize;
        let mut buf = vec![0u8; want];
        let mut got = 0;
        while got < want {
            match open.file.read(buf.get_mut(got..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read error: {e}")),
            }
        }
        buf.truncate(got);
        let path =
            || (self.manifest.entries.get(open.index as usize)).map_or("?", |e| e.path.as_str());
        if got < want {
            return Err(format!("{} changed while it was sent (shorter)", path()));
        }
        let data = Data {
            transfer: self.transfer,
            index: open.index,
            offset: open.offset,
            bytes: buf,
        };
        open.offset += got as u64;
        if open.offset == open.size {
            let mut extra = [0u8; 1];
            let longer = matches!(open.file.read(&mut extra), Ok(n) if n > 0);
            if longer || !unchanged(&open.file, open.size, open.mtime) {
                return Err(format!("{} changed while it was sent", path()));
            }
            self.open = None;
        }
        Ok(Some(data))
    }
}
