//! The sync worker: one thread that scans, reads and writes the synced directories and
//! speaks the sync messages with the linked peers.
//!
//! It gets everything on one channel ([`SyncIn`]): link connections that come up and go
//! down, the sync frames they read, whether the engine's service for each instance or
//! group runs, and inotify's word that a directory changed. It answers through each
//! connection's [`Outbox`]. Nothing in the engine or the link waits on it: they only send
//! on unbounded channels, and `baton status` reads the last [`DirStatus`] it published.
//!
//! Roles follow the service, not VRRP alone: a node whose service runs is the source and
//! never writes into the directory; a node whose service is stopped takes the generation
//! of a peer whose service runs (or, when neither runs, a newer generation from the peer
//! that served last). `source` and `receiver` hold each side's half.

mod local;
mod receiver;
mod source;
mod status;
mod watch;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, info, warn};

use super::message::{self, Msg, Offer};
use super::state::{DirStatus, Held, dir_state};
use super::tree::{Incoming, Manifest, Scanner, Stage};

/// Where a worker sends a frame for one connection: (frame type, body).
pub type Outbox = tokio::sync::mpsc::UnboundedSender<(u16, Vec<u8>)>;

/// Everything the worker is told.
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncIn {
    /// A link connection is up with a peer that speaks sync.
    PeerUp {
        conn: u64,
        addr: IpAddr,
        outbox: Outbox,
    },
    PeerDown {
        conn: u64,
    },
    /// The connection dropped file data past the window it had allowed.
    OverWindow {
        conn: u64,
    },
    /// A sync frame the connection read.
    Frame {
        conn: u64,
        kind: u16,
        body: Vec<u8>,
    },
    /// Whether the service of each target (instance or sync group name) may be running.
    Serving(BTreeMap<String, bool>),
    /// inotify saw a change in directory `i` (or lost events).
    Changed(usize),
    Reconfigure(SyncSetup),
    Shutdown,
}

/// One `sync_dir` resolved against the instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSetup {
    pub path: PathBuf,
    /// What `baton status` names: `instance VI_1` or `group G`.
    pub label: String,
    /// The name whose service state decides the role (the instance's sync group, if it
    /// is in one).
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSetup {
    pub dirs: Vec<DirSetup>,
    pub state_dir: PathBuf,
    /// Full compare interval.
    pub interval: Duration,
    pub max_file_size: u64,
}

/// The most entries a peer's manifest may have.
pub const MAX_ENTRIES: usize = 1_000_000;
/// How long changes are gathered before a rescan.
const COALESCE: Duration = Duration::from_millis(50);

/// Called by the worker when a target it was catching up for has caught up.
pub type CaughtUp = Box<dyn Fn() + Send>;

/// The handle the link keeps on the worker.
#[derive(Clone)]
pub struct SyncHandle {
    pub tx: mpsc::Sender<SyncIn>,
    pub status: Arc<Mutex<Vec<DirStatus>>>,
    /// Targets whose service is stopped here while a newer generation from the peer is
    /// on its way: a MASTER start should wait for it (bounded by handover_timeout).
    pub catching_up: Arc<Mutex<BTreeSet<String>>>,
}

impl SyncHandle {
    pub fn start(setup: SyncSetup, caught_up: CaughtUp) -> std::io::Result<SyncHandle> {
        let (tx, rx) = mpsc::channel();
        let status = Arc::new(Mutex::new(Vec::new()));
        let catching_up = Arc::new(Mutex::new(BTreeSet::new()));
        let mut worker = Worker::new(setup, tx.clone(), Arc::clone(&status));
        worker.catching_up = Arc::clone(&catching_up);
        worker.caught_up = Some(caught_up);
        std::thread::Builder::new()
            .name("baton-sync".into())
            .spawn(move || worker.run(rx))?;
        Ok(SyncHandle {
            tx,
            status,
            catching_up,
        })
    }

    /// Whether a start of `target`'s service should wait for a generation on its way.
    pub fn is_catching_up(&self, target: &str) -> bool {
        self.catching_up.lock().is_ok_and(|s| s.contains(target))
    }

    pub fn send(&self, msg: SyncIn) {
        let _ = self.tx.send(msg);
    }

    pub fn status(&self) -> Vec<DirStatus> {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

struct Peer {
    addr: IpAddr,
    outbox: Outbox,
}

/// Our scan of a directory, with the generation number it has.
struct Local {
    generation: u64,
    digest: String,
    manifest: Arc<Manifest>,
    /// When this generation first differed from what the peer holds.
    since: Instant,
}

/// What we know of the peer's copy.
#[derive(Default)]
struct PeerCopy {
    /// The connection its last offer came on, while it is up.
    conn: Option<u64>,
    addr: Option<IpAddr>,
    generation: Option<u64>,
    digest: Option<String>,
    serving: bool,
    /// Its last offer, taken again when our copy drifts from it.
    last_offer: Option<Offer>,
}

pub(super) struct Dir {
    setup: DirSetup,
    state: PathBuf,
    serving: bool,
    scanner: Scanner,
    stage: Option<Stage>,
    incoming: Option<Incoming>,
    held: Option<Held>,
    local: Option<Local>,
    peer: PeerCopy,
    scan_at: Option<Instant>,
    compare_at: Instant,
    watch: Option<watch::Watch>,
    pull: Option<receiver::Pulling>,
    sends: Vec<source::Sending>,
    last_sync: Option<SystemTime>,
    last_error: Option<String>,
    conflicts: u64,
    conflicts_dir: Option<String>,
    refused: BTreeMap<String, u64>,
}

pub(super) struct Worker {
    setup: SyncSetup,
    dirs: Vec<Dir>,
    peers: BTreeMap<u64, Peer>,
    serving: BTreeMap<String, bool>,
    tx: mpsc::Sender<SyncIn>,
    status: Arc<Mutex<Vec<DirStatus>>>,
    next_transfer: u32,
    /// Transfers we receive, by id: which directory.
    transfers: HashMap<u32, usize>,
    catching_up: Arc<Mutex<BTreeSet<String>>>,
    caught_up: Option<CaughtUp>,
}

impl Worker {
    fn new(setup: SyncSetup, tx: mpsc::Sender<SyncIn>, status: Arc<Mutex<Vec<DirStatus>>>) -> Self {
        let mut w = Worker {
            setup: setup.clone(),
            dirs: Vec::new(),
            peers: BTreeMap::new(),
            serving: BTreeMap::new(),
            tx,
            status,
            next_transfer: 1,
            transfers: HashMap::new(),
            catching_up: Arc::default(),
            caught_up: None,
        };
        w.reconfigure(setup);
        w
    }

    fn reconfigure(&mut self, setup: SyncSetup) {
        let now = Instant::now();
        let mut old: Vec<Dir> = std::mem::take(&mut self.dirs);
        for (i, d) in setup.dirs.iter().enumerate() {
            if let Some(pos) = old.iter().position(|o| o.setup.path == d.path) {
                let mut kept = old.swap_remove(pos);
                kept.setup = d.clone();
                kept.watch = watch::Watch::start(&d.path, i, self.tx.clone());
                self.dirs.push(kept);
                continue;
            }
            let state = dir_state(&setup.state_dir, &d.path);
            let held = match Held::load(&state) {
                Ok(h) => h,
                Err(e) => {
                    warn!(
                        "sync {}: cannot read {}: {e}",
                        d.path.display(),
                        state.display()
                    );
                    None
                }
            };
            let stage = Stage::new(&d.path)
                .map_err(|e| warn!("sync {}: {e}", d.path.display()))
                .ok();
            if let Some(s) = &stage
                && let Err(e) = s.clean()
            {
                warn!(
                    "sync {}: cannot remove a leftover stage: {e}",
                    d.path.display()
                );
            }
            // Contents received by an earlier run may not have reached the disk whole.
            let incoming = receiver::incoming_dir(&d.path);
            if incoming.exists()
                && let Err(e) = Incoming::open(incoming).and_then(|inc| inc.clear())
            {
                warn!(
                    "sync {}: cannot empty the incoming area: {e}",
                    d.path.display()
                );
            }
            self.dirs.push(Dir {
                setup: d.clone(),
                state,
                serving: false,
                scanner: Scanner::new(),
                stage,
                incoming: None,
                held,
                local: None,
                peer: PeerCopy::default(),
                scan_at: Some(now),
                compare_at: now + setup.interval,
                watch: watch::Watch::start(&d.path, i, self.tx.clone()),
                pull: None,
                sends: Vec::new(),
                last_sync: None,
                last_error: None,
                conflicts: 0,
                conflicts_dir: None,
                refused: BTreeMap::new(),
            });
        }
        self.setup = setup;
        let serving = self.serving.clone();
        self.set_serving(serving);
    }

    fn run(&mut self, rx: mpsc::Receiver<SyncIn>) {
        loop {
            self.publish();
            let now = Instant::now();
            let wait = self.next_deadline().map_or(Duration::from_secs(3600), |t| {
                t.saturating_duration_since(now)
            });
            match rx.recv_timeout(wait) {
                Ok(SyncIn::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
            }
            // Take everything queued before acting on timers, so a role change is seen
            // before a generation is switched in.
            while let Ok(msg) = rx.try_recv() {
                if matches!(msg, SyncIn::Shutdown) {
                    return;
                }
                self.handle(msg);
            }
            self.timers(Instant::now());
            self.pump_sends();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut t = self
            .dirs
            .iter()
            .flat_map(|d| [d.scan_at, Some(d.compare_at)])
            .flatten()
            .min();
        if self.dirs.iter().any(|d| d.sends.iter().any(|s| s.ready())) {
            t = Some(Instant::now());
        }
        t
    }

    fn handle(&mut self, msg: SyncIn) {
        match msg {
            SyncIn::PeerUp { conn, addr, outbox } => {
                debug!("sync: link to {addr} up (connection {conn})");
                self.peers.insert(conn, Peer { addr, outbox });
                for i in 0..self.dirs.len() {
                    self.offer(i, Some(conn));
                }
            }
            SyncIn::OverWindow { conn } => {
                for i in 0..self.dirs.len() {
                    let Some(d) = self.dirs.get_mut(i) else {
                        continue;
                    };
                    let Some(p) = d.pull.take_if(|p| p.conn == conn) else {
                        continue;
                    };
                    let abort = Msg::Abort(message::Abort {
                        dir: d.setup.path.to_string_lossy().into_owned(),
                        transfer: p.transfer,
                        reason: "refused: data past the window".into(),
                    });
                    self.send(conn, &abort);
                    self.refuse(i, "over_window", "file data past the credit window");
                }
            }
            SyncIn::PeerDown { conn } => {
                self.peers.remove(&conn);
                for i in 0..self.dirs.len() {
                    let cut = (self.dirs.get(i))
                        .and_then(|d| d.pull.as_ref())
                        .is_some_and(|p| p.conn == conn && p.in_transfer());
                    if cut {
                        self.refuse(i, "truncated", "the link ended in the middle of a transfer");
                    }
                }
                for d in &mut self.dirs {
                    if d.peer.conn == Some(conn) {
                        d.peer.conn = None;
                    }
                    d.sends.retain(|s| s.conn != conn);
                    if d.pull.as_ref().is_some_and(|p| p.conn == conn) {
                        d.pull = None;
                    }
                }
                self.transfers
                    .retain(|_, i| self.dirs.get(*i).is_some_and(|d| d.pull.is_some()));
            }
            SyncIn::Frame { conn, kind, body } => match message::decode(kind, &body) {
                Ok(msg) => self.on_msg(conn, msg),
                Err(e) => self.refuse_any(e.cause(), &e.to_string()),
            },
            SyncIn::Serving(map) => self.set_serving(map),
            SyncIn::Changed(i) => {
                if let Some(d) = self.dirs.get_mut(i) {
                    let at = Instant::now() + COALESCE;
                    d.scan_at = Some(d.scan_at.map_or(at, |t| t.min(at)));
                }
            }
            SyncIn::Reconfigure(setup) => self.reconfigure(setup),
            SyncIn::Shutdown => {}
        }
    }

    fn set_serving(&mut self, map: BTreeMap<String, bool>) {
        for i in 0..self.dirs.len() {
            let Some(d) = self.dirs.get_mut(i) else {
                continue;
            };
            let serving = map.get(&d.setup.target).copied().unwrap_or(false);
            if serving != d.serving {
                d.serving = serving;
                if serving {
                    // Our service starts: whatever we were receiving stops here.
                    d.pull = None;
                    info!(
                        "sync {}: this node's copy is now the source",
                        d.setup.path.display()
                    );
                }
                d.scan_at = Some(Instant::now());
            }
        }
        self.serving = map;
    }

    fn on_msg(&mut self, conn: u64, msg: Msg) {
        let i = match &msg {
            Msg::Data(d) => self.transfers.get(&d.transfer).copied(),
            Msg::Credit(c) => (self.dirs.iter()).position(|d| {
                d.sends
                    .iter()
                    .any(|s| s.conn == conn && s.transfer == c.transfer)
            }),
            other => other
                .dir()
                .and_then(|p| self.dirs.iter().position(|d| d.setup.path.as_os_str() == p)),
        };
        let Some(i) = i else {
            // Data and credit of a transfer that has ended are expected after an abort.
            if let Some(dir) = msg.dir() {
                let detail =
                    format!("a message about {dir}, which this node does not keep in step");
                self.refuse_any("unknown_dir", &detail);
            }
            return;
        };
        match msg {
            Msg::Offer(o) => self.on_offer(i, conn, o),
            Msg::Pull(p) => self.on_pull(i, conn, p),
            Msg::Want(w) => self.on_want(i, conn, w),
            Msg::Credit(c) => self.on_credit(i, conn, c),
            Msg::Ack(a) => self.on_ack(i, conn, a),
            Msg::Manifest(m) => self.on_manifest(i, conn, m),
            Msg::Data(d) => self.on_data(i, conn, d),
            Msg::Abort(a) => self.on_abort(i, conn, a),
        }
    }

    /// A refusal not tied to one directory: counted on every directory, logged the
    /// first time and then at powers of two.
    fn refuse_any(&mut self, cause: &str, detail: &str) {
        let mut log = false;
        for d in &mut self.dirs {
            let n = d.refused.entry(cause.to_string()).or_default();
            *n += 1;
            log |= *n == 1 || n.is_power_of_two();
        }
        if log {
            warn!("sync: refused from a peer ({cause}): {detail}");
        }
    }

    pub(super) fn refuse(&mut self, i: usize, cause: &str, detail: &str) {
        if let Some(d) = self.dirs.get_mut(i) {
            let n = d.refused.entry(cause.to_string()).or_default();
            *n += 1;
            if *n == 1 || n.is_power_of_two() {
                warn!(
                    "sync {}: refused from the peer ({cause}): {detail}",
                    d.setup.path.display()
                );
            }
            d.last_error = Some(format!("refused from the peer ({cause}): {detail}"));
        }
    }

    pub(super) fn send(&self, conn: u64, msg: &Msg) {
        if let Some(p) = self.peers.get(&conn) {
            let _ = p.outbox.send(msg.encode());
        }
    }

    /// One connection per peer address: the newest.
    fn conns(&self) -> Vec<u64> {
        let mut by_addr: BTreeMap<IpAddr, u64> = BTreeMap::new();
        for (&c, p) in &self.peers {
            by_addr.insert(p.addr, c);
        }
        by_addr.into_values().collect()
    }
}
