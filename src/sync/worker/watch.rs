//! inotify on a synced directory and every directory under it: any event (or lost
//! events, `IN_Q_OVERFLOW`) tells the worker to rescan soon. The rescan, not the event,
//! says what changed, so a missed or coalesced event costs nothing but delay, and the
//! compare timer catches what inotify cannot see (a tree over the watch limit).
//!
//! One small thread per directory blocks in `poll` on the inotify descriptor (with a
//! timeout, to notice it is no longer wanted).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::os::fd::AsFd as _;
use tracing::warn;

use super::super::tree::{Kind, Manifest};
use super::SyncIn;

pub(super) struct Watch {
    inotify: Arc<Inotify>,
    stop: Arc<AtomicBool>,
    warned: AtomicBool,
}

fn flags() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_DONT_FOLLOW
}

impl Watch {
    /// Starts watching directory `i` at `root` (it may not exist yet: then only the
    /// compare timer and later rescans see it appear).
    pub fn start(root: &Path, i: usize, tx: Sender<SyncIn>) -> Option<Watch> {
        let inotify = match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
            Ok(n) => Arc::new(n),
            Err(e) => {
                warn!(
                    "sync {}: no inotify ({e}); changes are found by the compare timer",
                    root.display()
                );
                return None;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (n, s) = (Arc::clone(&inotify), Arc::clone(&stop));
        let spawned = std::thread::Builder::new()
            .name("baton-sync-watch".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let mut fds = [PollFd::new(n.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, PollTimeout::from(1000u16)) {
                        Ok(0) => continue,
                        Ok(_) => {}
                        Err(nix::errno::Errno::EINTR) => continue,
                        Err(_) => return,
                    }
                    // Drain what is there; the events themselves are not needed.
                    let mut any = false;
                    while let Ok(events) = n.read_events() {
                        if events.is_empty() {
                            break;
                        }
                        any = true;
                    }
                    if any && tx.send(SyncIn::Changed(i)).is_err() {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            warn!("sync {}: cannot start its watcher: {e}", root.display());
            return None;
        }
        let w = Watch {
            inotify,
            stop,
            warned: AtomicBool::new(false),
        };
        w.rewatch(root);
        Some(w)
    }

    /// Watches the root again (after it was replaced, e.g. by a switched-in generation).
    pub fn rewatch(&self, root: &Path) {
        let _ = self.inotify.add_watch(root, flags());
    }

    /// Watches every directory of a fresh scan (adding a watch twice is harmless).
    pub fn watch_dirs(&self, root: &Path, manifest: &Manifest) {
        for e in &manifest.entries {
            if matches!(e.kind, Kind::Dir)
                && let Err(err) = self.inotify.add_watch(&root.join(&e.path), flags())
                && err == nix::errno::Errno::ENOSPC
                && !self.warned.swap(true, Ordering::Relaxed)
            {
                warn!(
                    "sync {}: over the inotify watch limit (fs.inotify.max_user_watches); \
                     changes under some directories are found by the compare timer",
                    root.display()
                );
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
