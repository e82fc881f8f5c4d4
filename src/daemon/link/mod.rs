//! The link's driver: the thin async side of [`crate::link`], beside the engine.
//!
//! It runs on a thread of its own with its own single-threaded runtime, so neither TLS
//! handshakes nor a flood of connections can take a moment from the engine's thread:
//! VRRP never waits on the link. The engine and the link talk only through channels
//! that never block the sender:
//! - engine → link: a `watch` of the latest [`LocalView`] (our status and config
//!   summary; each send replaces the last, so bursts coalesce), and [`Cmd`]s on an
//!   unbounded channel (control requests with their reply, advert sources, reloads);
//! - link → engine: [`LinkReport`]s on the engine's channel, and the [`SharedState`] the
//!   engine reads for `baton status`.
//!
//! Inside: `hub` (trust, one connection per peer, control requests, config compare),
//! `conn` (one TCP + TLS connection and its session), `state` (what status shows).

mod conn;
mod hub;
mod state;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::config::{self, baton::LinkConf};
use crate::control::{Request, Response};
use crate::link::identity::{Fingerprint, Identity, Origin};
use crate::link::message::{ConfigSummary, Hello, Status, VERSIONS};
use crate::link::session::{HELLO_TIMEOUT, HandoverMsg};
use crate::link::trust::TrustStore;

use super::plan::Plan;
use crate::sync::{DirSetup, DirStatus, SyncHandle, SyncIn, SyncSetup};
pub use state::SharedState;

/// What the engine publishes for the peers: our status and config summary, and when it
/// was built (ages in it grow from then).
#[derive(Debug, Clone)]
pub struct LocalView {
    pub status: Status,
    /// Shared with every session: it changes only on reload.
    pub config: Arc<ConfigSummary>,
    pub built: Instant,
}

/// What the link reports to the engine.
#[derive(Debug, Clone)]
pub enum LinkReport {
    /// `handover`: the agreed protocol version has the handover frames.
    Up {
        peer: IpAddr,
        handover: bool,
    },
    Down {
        peer: IpAddr,
    },
    /// A release request or release from a linked peer.
    Handover {
        peer: IpAddr,
        msg: HandoverMsg,
    },
    /// A synced directory whose newer generation a MASTER start waited for has it now.
    SyncCaughtUp,
}

/// Requests from the engine.
#[derive(Debug)]
pub(crate) enum Cmd {
    Control(Request, oneshot::Sender<Response>),
    /// A source of adverts for one of our VRIDs (a peer, with multicast).
    AdvertSource(IpAddr),
    Reconfigure(LinkSetup),
    /// A handover message for every linked peer.
    Handover(HandoverMsg),
    Shutdown(oneshot::Sender<()>),
}

/// One peer address of the setup.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupPeer {
    pub address: IpAddr,
    pub port: u16,
    pub pin: Option<Fingerprint>,
}

/// The link block resolved against the instances.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSetup {
    pub listen: Vec<IpAddr>,
    pub port: u16,
    pub peers: Vec<SetupPeer>,
    pub trusted: Vec<Fingerprint>,
    /// No peers written and multicast instances: sources of adverts become peers.
    pub discovery: bool,
    pub state_dir: PathBuf,
    pub heartbeat: Duration,
    pub dead_after: Duration,
    /// The directories kept in step (none: the sync worker idles).
    pub sync: SyncSetup,
}

impl LinkSetup {
    /// The link block with its defaults taken from the instances: listen on their
    /// `unicast_src_ip`, link to their `unicast_peer`s (and, with multicast, to the
    /// sources of adverts).
    pub fn resolve(conf: &LinkConf, plan: &Plan) -> anyhow::Result<LinkSetup> {
        let port = conf.port();
        let mut listen = conf.listen.clone();
        if listen.is_empty() {
            for p in &plan.instances {
                if let Some(src) = p.source.filter(|s| !listen.contains(s)) {
                    listen.push(src);
                }
            }
        }
        if listen.is_empty() {
            anyhow::bail!(
                "link: no listen address: add `listen ADDRESS` to the link block (without it \
                 baton listens on the instances' unicast_src_ip, and none has one)"
            );
        }
        let fingerprint = |text: &str| {
            text.parse::<Fingerprint>()
                .with_context(|| format!("link: {text:?} is not a fingerprint"))
        };
        let mut peers = Vec::new();
        for p in &conf.peers {
            peers.push(SetupPeer {
                address: p.address,
                port: p.port.unwrap_or(port),
                pin: p.fingerprint.as_deref().map(fingerprint).transpose()?,
            });
        }
        let mut discovery = false;
        if peers.is_empty() {
            for inst in &plan.instances {
                discovery |= !inst.is_unicast();
                for up in &inst.peers {
                    if !peers.iter().any(|p: &SetupPeer| p.address == up.address)
                        && !listen.contains(&up.address)
                    {
                        peers.push(SetupPeer {
                            address: up.address,
                            port,
                            pin: None,
                        });
                    }
                }
            }
        }
        let trusted = conf
            .trusted
            .iter()
            .map(|t| fingerprint(t))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(LinkSetup {
            listen,
            port,
            peers,
            trusted,
            discovery,
            state_dir: conf.state_dir(),
            heartbeat: conf.heartbeat(),
            dead_after: conf.dead_after(),
            sync: sync_setup(conf, plan),
        })
    }
}

/// The `sync_dir`s with the name whose service each follows: an instance's sync group
/// if it has one (the group's members serve together), else the instance or group named.
fn sync_setup(conf: &LinkConf, plan: &Plan) -> SyncSetup {
    let dirs = (conf.sync_dirs.iter())
        .map(|d| {
            let (label, target) = match (&d.instance, &d.group) {
                (Some(i), _) => {
                    let group = plan
                        .position(i)
                        .and_then(|n| (plan.groups.iter()).find(|g| g.members.contains(&n)));
                    (
                        format!("instance {i}"),
                        group.map_or(i.clone(), |g| g.name.clone()),
                    )
                }
                (None, Some(g)) => (format!("group {g}"), g.clone()),
                (None, None) => (String::new(), String::new()),
            };
            DirSetup {
                path: d.path.clone(),
                label,
                target,
            }
        })
        .collect();
    SyncSetup {
        dirs,
        state_dir: conf.state_dir(),
        interval: conf.sync_interval(),
        max_file_size: conf.sync_max_file_size(),
    }
}

/// The engine's handle on the running link.
pub struct LinkHandle {
    cmd: mpsc::UnboundedSender<Cmd>,
    local: watch::Sender<Arc<LocalView>>,
    pub shared: SharedState,
    expects_peer: bool,
    sync: SyncHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LinkHandle {
    /// Makes (or loads) the identity, loads the trust store, binds the listeners and
    /// starts the link's thread. Errors here stop baton from starting: a link block
    /// that cannot work must not be ignored.
    pub fn start(
        setup: LinkSetup,
        node_name: &str,
        local: LocalView,
        report: mpsc::UnboundedSender<LinkReport>,
    ) -> anyhow::Result<LinkHandle> {
        let (identity, origin) = Identity::load_or_create(&setup.state_dir)
            .with_context(|| format!("link identity in {}", setup.state_dir.display()))?;
        if origin == Origin::Created {
            info!(
                "link: made this node's identity in {}: SHA256 {}",
                setup.state_dir.display(),
                identity.fingerprint()
            );
        }
        let configured = setup
            .trusted
            .iter()
            .copied()
            .chain(setup.peers.iter().filter_map(|p| p.pin));
        let store = TrustStore::load(&setup.state_dir, configured)
            .context("loading the link's trusted peers")?;
        let expects_peer = store.trusts_any();
        let mut listeners = Vec::new();
        for addr in &setup.listen {
            let sa = SocketAddr::new(*addr, setup.port);
            listeners.push(bind(sa).with_context(|| format!("link: listening on {sa}"))?);
        }
        let shared = SharedState::default();
        {
            let mut s = shared.lock();
            s.fingerprint = Some(identity.fingerprint());
            s.node_id = node_name.to_string();
            s.listen = setup
                .listen
                .iter()
                .map(|a| SocketAddr::new(*a, setup.port))
                .collect();
        }
        let caught_up = report.clone();
        let sync = SyncHandle::start(
            setup.sync.clone(),
            Box::new(move || {
                let _ = caught_up.send(LinkReport::SyncCaughtUp);
            }),
        )
        .context("starting the sync worker")?;
        let thread_sync = sync.clone();
        let (local_tx, local_rx) = watch::channel(Arc::new(local));
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let hello = Hello {
            versions: VERSIONS,
            node_id: node_name.to_string(),
            fingerprint: identity.fingerprint().to_string(),
            baton_version: env!("CARGO_PKG_VERSION").to_string(),
            capabilities: Vec::new(),
        };
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("baton-link".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        warn!("link: cannot start its runtime: {e}");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let (conn_tx, conn_rx) = mpsc::unbounded_channel();
                    let env = conn::Env {
                        identity: Arc::new(identity),
                        hello,
                        heartbeat: setup.heartbeat,
                        dead_after: setup.dead_after,
                        hello_timeout: HELLO_TIMEOUT,
                        hub: conn_tx,
                        shared: thread_shared,
                        local: local_rx,
                        next_id: Arc::new(AtomicU64::new(1)),
                        sync: thread_sync,
                    };
                    for l in listeners {
                        match tokio::net::TcpListener::from_std(l) {
                            Ok(l) => {
                                tokio::spawn(listen(l, env.clone()));
                            }
                            Err(e) => warn!("link: listener: {e}"),
                        }
                    }
                    hub::Hub::new(env, setup, store, report, conn_rx)
                        .run(cmd_rx)
                        .await;
                });
            })
            .context("starting the link's thread")?;
        Ok(LinkHandle {
            cmd: cmd_tx,
            local: local_tx,
            shared,
            expects_peer,
            sync,
            thread: Some(thread),
        })
    }

    /// Whether the service of each target may be running, for the sync worker (which
    /// takes a copy only while it is not). Never blocks.
    pub fn sync_serving(&self, serving: BTreeMap<String, bool>) {
        self.sync.send(SyncIn::Serving(serving));
    }

    /// Whether a MASTER start of `target` should wait for a generation on its way.
    pub fn sync_catching_up(&self, target: &str) -> bool {
        self.sync.is_catching_up(target)
    }

    /// What `baton status` shows of the synced directories.
    pub fn sync_status(&self) -> Vec<DirStatus> {
        self.sync.status()
    }

    /// Our latest status and config summary, for the peers. Never blocks.
    pub fn publish(&self, view: LocalView) {
        self.local.send_replace(Arc::new(view));
    }

    /// A control request for the link; the link answers on `reply`. Never blocks.
    pub fn control(&self, req: Request, reply: oneshot::Sender<Response>) {
        if let Err(mpsc::error::SendError(Cmd::Control(_, reply))) =
            self.cmd.send(Cmd::Control(req, reply))
        {
            let _ = reply.send(Response::Error {
                message: "the link has stopped".into(),
            });
        }
    }

    pub fn advert_source(&self, addr: IpAddr) {
        let _ = self.cmd.send(Cmd::AdvertSource(addr));
    }

    /// A release request or release for the linked peers. Never blocks.
    pub fn handover(&self, msg: HandoverMsg) {
        let _ = self.cmd.send(Cmd::Handover(msg));
    }

    /// Whether this node trusts a peer key (configured or approved) at start: a baton
    /// peer it means to link with, whose release it waits for before the first link.
    pub fn expects_peer(&self) -> bool {
        self.expects_peer
    }

    pub fn reconfigure(&self, setup: LinkSetup) {
        self.sync.send(SyncIn::Reconfigure(setup.sync.clone()));
        let _ = self.cmd.send(Cmd::Reconfigure(setup));
    }

    /// Closes every connection, telling each peer; waits at most `within`.
    pub async fn shutdown(mut self, within: Duration) {
        let (done, wait) = oneshot::channel();
        if self.cmd.send(Cmd::Shutdown(done)).is_ok() {
            let _ = tokio::time::timeout(within, wait).await;
        }
        // The thread ends with its hub; it is not joined, so a stuck peer cannot hold
        // baton's exit. Nor is the sync worker's: a switch in progress is one rename,
        // and whatever was not switched in is simply not there.
        self.sync.send(SyncIn::Shutdown);
        drop(self.thread.take());
    }
}

/// A listening socket that may be bound before its address is up (IP_FREEBIND), so the
/// link starts even when the address is configured a little later at boot.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    match addr {
        SocketAddr::V4(_) => socket.set_freebind_v4(true)?,
        SocketAddr::V6(_) => {
            socket.set_only_v6(true)?;
            socket.set_freebind_v6(true)?;
        }
    }
    socket.bind(&addr.into())?;
    socket.listen(16)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Accepts connections; only peers' addresses get as far as TLS.
async fn listen(listener: tokio::net::TcpListener, env: conn::Env) {
    loop {
        let Ok((tcp, remote)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let addr = canonical(remote.ip());
        let closing = env.shared.lock().closing;
        if closing {
            continue;
        }
        if !env.shared.lock().peers.contains_key(&addr) {
            let _ = env.hub.send(conn::FromConn::Refused {
                addr: None,
                cause: "not_a_peer",
                detail: format!("connection from {addr}, which is not a link peer"),
            });
            continue;
        }
        tokio::spawn(conn::accept(env.clone(), tcp, addr));
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The link setup of a loaded configuration, if it has a link block.
pub fn setup_of(config: &config::Config, plan: &Plan) -> Option<anyhow::Result<LinkSetup>> {
    config
        .baton
        .link
        .as_ref()
        .map(|conf| LinkSetup::resolve(conf, plan))
}
