//! The hub: the one task of the link that owns the trust store and the list of
//! connections, decides trust for each connection, keeps one connection per peer, answers
//! the control socket's link requests, compares configs, and logs what changes.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

mod control;

use super::conn::{self, Env, FromConn, ToConn};
use super::state::{LinkState, PeerState, SharedState, count};
use super::{Cmd, LinkReport, LinkSetup, LocalView};
use crate::link::compare::{self, Difference};
use crate::link::identity::Fingerprint;
use crate::link::message::HANDOVER_VERSION;
use crate::link::session::{CloseReason, Event};
use crate::link::trust::TrustStore;

/// Reconnect backoff: from MIN, doubling to MAX, ±20 % jitter.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

struct ConnEntry {
    addr: IpAddr,
    fingerprint: Fingerprint,
    dialed: bool,
    tx: mpsc::UnboundedSender<ToConn>,
    up: bool,
    /// Whether we told it we trust the peer.
    trusted: bool,
    /// Closed as the duplicate of another connection to the same peer: what it still
    /// reports must not overwrite what the connection that stays reports.
    superseded: bool,
    /// Its session is up (both sides trusted, a version agreed), whether or not it is
    /// the one that speaks for the peer: handover messages may use it.
    session_up: bool,
}

pub(super) struct Hub {
    pub env: Env,
    pub setup: LinkSetup,
    pub store: TrustStore,
    pub shared: SharedState,
    pub report: mpsc::UnboundedSender<LinkReport>,
    pub conn_rx: mpsc::UnboundedReceiver<FromConn>,
    pub local: watch::Receiver<Arc<LocalView>>,
    conns: HashMap<u64, ConnEntry>,
    dialers: HashMap<IpAddr, JoinHandle<()>>,
    /// (peer, cause) already logged since the peer's last good link.
    logged: HashSet<(Option<IpAddr>, String)>,
}

impl Hub {
    pub fn new(
        env: Env,
        setup: LinkSetup,
        store: TrustStore,
        report: mpsc::UnboundedSender<LinkReport>,
        conn_rx: mpsc::UnboundedReceiver<FromConn>,
    ) -> Hub {
        Hub {
            shared: env.shared.clone(),
            local: env.local.clone(),
            env,
            setup,
            store,
            report,
            conn_rx,
            conns: HashMap::new(),
            dialers: HashMap::new(),
            logged: HashSet::new(),
        }
    }

    pub async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
        self.apply_peers(Instant::now());
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(Cmd::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.on_cmd(cmd),
                    None => return,
                },
                Some(msg) = self.conn_rx.recv() => self.on_conn(msg),
                changed = self.local.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.recompare_all();
                }
            }
        }
    }

    /// Makes the peer table and the dialers match the setup.
    fn apply_peers(&mut self, now: Instant) {
        let wanted: HashMap<IpAddr, (u16, Option<Fingerprint>)> = self
            .setup
            .peers
            .iter()
            .map(|p| (p.address, (p.port, p.pin)))
            .collect();
        {
            let mut shared = self.shared.lock();
            shared
                .peers
                .retain(|addr, p| !p.configured || wanted.contains_key(addr));
            for (addr, (port, pin)) in &wanted {
                let p = shared
                    .peers
                    .entry(*addr)
                    .or_insert_with(|| PeerState::new(*port, *pin, true, now));
                p.port = *port;
                p.pin = *pin;
                p.configured = true;
            }
        }
        self.store.set_configured(
            self.setup
                .trusted
                .iter()
                .copied()
                .chain(self.setup.peers.iter().filter_map(|p| p.pin)),
        );
        let gone: Vec<IpAddr> = self
            .dialers
            .keys()
            .filter(|a| !self.shared.lock().peers.contains_key(a))
            .copied()
            .collect();
        for addr in gone {
            if let Some(d) = self.dialers.remove(&addr) {
                d.abort();
            }
            for c in self.conns.values().filter(|c| c.addr == addr) {
                let _ = c.tx.send(ToConn::Shutdown);
            }
        }
        let addrs: Vec<(IpAddr, u16)> = (self.shared.lock().peers.iter())
            .map(|(a, p)| (*a, p.port))
            .collect();
        for (addr, port) in addrs {
            self.start_dialer(addr, port);
        }
        // A key that is no longer trusted loses its connections.
        let untrusted: Vec<u64> = (self.conns.iter())
            .filter(|(_, c)| c.trusted && !self.store.is_trusted(&c.fingerprint))
            .map(|(id, _)| *id)
            .collect();
        for id in untrusted {
            if let Some(c) = self.conns.get(&id) {
                let _ = c.tx.send(ToConn::Trusted(false));
            }
        }
        self.retrust_pending();
    }

    fn start_dialer(&mut self, addr: IpAddr, port: u16) {
        if self.dialers.contains_key(&addr) {
            return;
        }
        let env = self.env.clone();
        let source = self
            .setup
            .listen
            .iter()
            .copied()
            .find(|s| s.is_ipv4() == addr.is_ipv4());
        let task = tokio::spawn(async move {
            let mut backoff = BACKOFF_MIN;
            loop {
                let open = {
                    let shared = env.shared.lock();
                    (!shared.closing).then(|| shared.peers.get(&addr).map(|p| p.open))
                };
                match open.flatten() {
                    None => return,
                    Some(0) => {
                        if conn::dial(&env, SocketAddr::new(addr, port), source).await {
                            backoff = BACKOFF_MIN;
                        }
                    }
                    // Linked (or pending) over a connection the peer dialled.
                    Some(_) => backoff = BACKOFF_MIN,
                }
                tokio::time::sleep(jitter(backoff)).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        });
        self.dialers.insert(addr, task);
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Control(req, reply) => {
                let resp = self.on_control(req);
                let _ = reply.send(resp);
            }
            Cmd::AdvertSource(addr) => {
                if self.setup.discovery && !self.shared.lock().peers.contains_key(&addr) {
                    info!("link: {addr} sends adverts for our VRIDs: linking to it");
                    let port = self.setup.port;
                    self.shared
                        .lock()
                        .peers
                        .insert(addr, PeerState::new(port, None, false, Instant::now()));
                    self.start_dialer(addr, port);
                }
            }
            Cmd::Reconfigure(setup) => {
                if setup.listen != self.setup.listen
                    || setup.port != self.setup.port
                    || setup.state_dir != self.setup.state_dir
                {
                    warn!(
                        "link: a new listen address, port or state_dir takes effect when baton restarts"
                    );
                }
                let (listen, port, dir) = (
                    self.setup.listen.clone(),
                    self.setup.port,
                    self.setup.state_dir.clone(),
                );
                self.setup = LinkSetup {
                    listen,
                    port,
                    state_dir: dir,
                    ..setup
                };
                self.apply_peers(Instant::now());
            }
            // On every connection that is up, also one being closed as a duplicate: the
            // two nodes may not yet agree which one stays, and a release that goes out
            // on the one the peer is closing would be lost. A message that arrives twice
            // changes nothing the second time.
            Cmd::Handover(msg) => {
                for c in self.conns.values().filter(|c| c.session_up) {
                    let _ = c.tx.send(ToConn::Handover(msg.clone()));
                }
            }
            Cmd::Shutdown(_) => {}
        }
    }

    /// Pending connections whose key is now trusted are told so.
    fn retrust_pending(&mut self) {
        for c in self.conns.values_mut() {
            if !c.trusted && self.store.is_trusted(&c.fingerprint) {
                c.trusted = true;
                let _ = c.tx.send(ToConn::Trusted(true));
            }
        }
    }

    fn on_conn(&mut self, msg: FromConn) {
        let now = Instant::now();
        match msg {
            FromConn::Open {
                id,
                addr,
                dialed,
                fingerprint,
                tx,
            } => {
                let trust = self.store.observe(fingerprint, addr, None, now);
                let trusted = trust.is_trusted();
                let _ = tx.send(ToConn::Trusted(trusted));
                if !trusted {
                    self.log_once(
                        Some(addr),
                        "pending",
                        format!(
                            "link: {addr} connected with a key this node does not trust; \
                             to trust it: baton peer approve {fingerprint}"
                        ),
                    );
                }
                self.conns.insert(
                    id,
                    ConnEntry {
                        addr,
                        fingerprint,
                        dialed,
                        tx,
                        up: false,
                        trusted,
                        superseded: false,
                        session_up: false,
                    },
                );
                // A second key from a linked peer's address (another program there, or
                // a rogue) does not take over the peer's row while the link is up.
                let linked = self.other_up(id, addr);
                {
                    let mut shared = self.shared.lock();
                    if let Some(p) = shared.peers.get_mut(&addr) {
                        p.open += 1;
                        if !linked {
                            p.fingerprint = Some(fingerprint);
                        }
                    }
                }
                self.drop_duplicates(id);
            }
            FromConn::Event { id, event } => self.on_event(id, event, now),
            FromConn::Refused {
                addr,
                cause,
                detail,
            } => self.refused(addr, cause, &detail, now),
            FromConn::Handover { id, msg } => {
                // From any connection of the peer that is up (trusted, with the agreed
                // version): the message is the peer's whichever one carried it.
                if let Some(c) = self.conns.get(&id).filter(|c| c.session_up) {
                    let peer = c.addr;
                    let _ = self.report.send(LinkReport::Handover { peer, msg });
                }
            }
            FromConn::Ended { id } => {
                let Some(c) = self.conns.remove(&id) else {
                    return;
                };
                // Who speaks for the peer now: a duplicate being closed never did; a
                // connection that was up did, whatever else is open from that address;
                // otherwise the others that are still open do.
                let others_open = (self.conns.values()).any(|o| o.addr == c.addr && !o.superseded);
                let link_ends =
                    !c.superseded && !self.other_up(id, c.addr) && (c.up || !others_open);
                let mut shared = self.shared.lock();
                if let Some(p) = shared.peers.get_mut(&c.addr) {
                    p.open = p.open.saturating_sub(1);
                    if link_ends && p.link != LinkState::Untrusted {
                        let was_up = p.is_up();
                        p.set_link(LinkState::Down, now);
                        if was_up {
                            info!("link to {} down", c.addr);
                            let _ = self.report.send(LinkReport::Down { peer: c.addr });
                        }
                    }
                }
            }
        }
    }

    /// Whether a connection other than `id` to `addr` is up (and not being closed as a
    /// duplicate).
    fn other_up(&self, id: u64, addr: IpAddr) -> bool {
        (self.conns.iter()).any(|(i, c)| *i != id && c.addr == addr && c.up && !c.superseded)
    }

    /// Two connections with one key: both nodes keep the one dialled by the node with
    /// the lower fingerprint, so they agree without talking.
    fn drop_duplicates(&mut self, id: u64) {
        let Some(new) = self.conns.get(&id) else {
            return;
        };
        let ours = self.env.identity.fingerprint();
        let keep_dialed_by_us = ours < new.fingerprint;
        let fp = new.fingerprint;
        let mut same: Vec<(u64, bool)> = (self.conns.iter())
            .filter(|(_, c)| c.fingerprint == fp)
            .map(|(i, c)| (*i, c.dialed))
            .collect();
        if same.len() < 2 {
            return;
        }
        // The preferred direction first, then the newest.
        same.sort_by_key(|(i, dialed)| (*dialed != keep_dialed_by_us, std::cmp::Reverse(*i)));
        for (i, _) in same.into_iter().skip(1) {
            if let Some(c) = self.conns.get_mut(&i) {
                c.superseded = true;
                let _ = c.tx.send(ToConn::Shutdown);
            }
        }
    }

    fn on_event(&mut self, id: u64, event: Event, now: Instant) {
        let Some((addr, superseded)) = self.conns.get(&id).map(|c| (c.addr, c.superseded)) else {
            return;
        };
        // Only the connection that speaks for the peer changes its row: not a duplicate
        // being closed, not a second connection from the address of a linked peer.
        // Refusals are counted whichever connection they come from.
        let speaks = !superseded && !self.other_up(id, addr);
        if let (Event::Up { .. }, Some(c)) = (&event, self.conns.get_mut(&id)) {
            c.session_up = true;
        }
        if !speaks && !matches!(event, Event::Closed(_)) {
            return;
        }
        match event {
            Event::PeerHello { hello, .. } => {
                let mut shared = self.shared.lock();
                if let Some(p) = shared.peers.get_mut(&addr) {
                    p.node_id = Some(hello.node_id);
                }
            }
            Event::Pending { ours, theirs } => {
                let mut shared = self.shared.lock();
                if let Some(p) = shared.peers.get_mut(&addr) {
                    p.set_link(LinkState::Pending { ours, theirs }, now);
                }
                // Waiting for the peer's approval is shown in status, not logged: on
                // every reconnect it lasts until the peer's HelloAck arrives.
            }
            Event::Up { version } => {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.up = true;
                }
                self.logged.retain(|(a, _)| *a != Some(addr));
                let name = {
                    let mut shared = self.shared.lock();
                    let p = shared.peers.get_mut(&addr);
                    p.map(|p| {
                        p.set_link(LinkState::Up, now);
                        p.node_id.clone().unwrap_or_default()
                    })
                };
                info!(
                    "link to {addr} ({}) up, protocol version {version}",
                    name.unwrap_or_default()
                );
                let handover = version >= HANDOVER_VERSION;
                let _ = self.report.send(LinkReport::Up {
                    peer: addr,
                    handover,
                });
            }
            Event::PeerStatus(status) => {
                let mut shared = self.shared.lock();
                if let Some(p) = shared.peers.get_mut(&addr).filter(|p| p.is_up()) {
                    p.status = Some((*status, now));
                }
            }
            Event::PeerConfig(summary) => {
                {
                    let mut shared = self.shared.lock();
                    if let Some(p) = shared.peers.get_mut(&addr) {
                        p.summary = Some(*summary);
                    }
                }
                self.recompare(addr);
            }
            Event::Closed(reason) => {
                if conn::is_refusal(&reason) {
                    self.refused(Some(addr), reason.cause(), &reason.to_string(), now);
                } else if let CloseReason::PeerClosed(close) = &reason
                    && !close.detail.is_empty()
                {
                    info!("link: {addr} closed the link: {}", close.detail);
                }
            }
        }
    }

    fn refused(&mut self, addr: Option<IpAddr>, cause: &str, detail: &str, now: Instant) {
        {
            let mut shared = self.shared.lock();
            match addr.and_then(|a| shared.peers.get_mut(&a)) {
                Some(p) => {
                    count(&mut p.refused, cause);
                    if cause == "wrong_key" {
                        p.set_link(LinkState::Untrusted, now);
                    }
                }
                None => count(&mut shared.refused, cause),
            }
        }
        let who = addr.map_or_else(|| "?".to_string(), |a| a.to_string());
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        };
        self.log_once(
            addr,
            cause,
            format!("link: refused {who} ({cause}){detail}"),
        );
    }

    fn log_once(&mut self, addr: Option<IpAddr>, cause: &str, line: String) {
        if self.logged.insert((addr, cause.to_string())) {
            warn!("{line}");
        }
    }

    fn recompare_all(&mut self) {
        let addrs: Vec<IpAddr> = self.shared.lock().peers.keys().copied().collect();
        for a in addrs {
            self.recompare(a);
        }
    }

    /// Compares our summary with the peer's; logs when the differences appear or go.
    fn recompare(&mut self, addr: IpAddr) {
        let ours = Arc::clone(&self.local.borrow().config);
        let mut shared = self.shared.lock();
        let Some(p) = shared.peers.get_mut(&addr) else {
            return;
        };
        let Some(theirs) = &p.summary else {
            return;
        };
        let diffs = compare::compare(&ours, theirs);
        let before = p.differences.replace(diffs.clone());
        let name = p.node_id.clone().unwrap_or_default();
        drop(shared);
        match (before.as_deref(), diffs.is_empty()) {
            (Some(b), _) if b == diffs.as_slice() => {}
            (Some(b), true) if !b.is_empty() => {
                info!("link: config of {addr} ({name}) matches this node's again")
            }
            (_, true) => {}
            (_, false) => warn!(
                "link: config of {addr} ({name}) differs from this node's: {}",
                describe(&diffs)
            ),
        }
    }

    async fn shutdown(&mut self) {
        // A dialler runs the connection it made: aborting it first would drop that
        // connection unsaid, with what was queued for it (the handover's last release).
        // So the dialers stop dialling, every connection closes in order, and only then
        // are the dialers ended.
        self.shared.lock().closing = true;
        for c in self.conns.values() {
            let _ = c.tx.send(ToConn::Shutdown);
        }
        // Let the connections send their Close frames; each ends within half a second.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(600);
        while !self.conns.is_empty() {
            match tokio::time::timeout_at(deadline, self.conn_rx.recv()).await {
                Ok(Some(FromConn::Ended { id })) => {
                    self.conns.remove(&id);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        for d in self.dialers.values() {
            d.abort();
        }
    }
}

pub(super) fn describe(diffs: &[Difference]) -> String {
    diffs
        .iter()
        .map(|d| {
            format!(
                "{} {}: ours {}, peer {}",
                d.instance, d.field, d.ours, d.theirs
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn jitter(d: Duration) -> Duration {
    // ±20 %, from the clock's low bits: enough to keep two nodes from dialling in step.
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let factor = 0.8 + 0.4 * f64::from(nanos % 1000) / 1000.0;
    d.mul_f64(factor)
}
