//! One link connection: TCP, TLS, and the [`Session`] state machine between them.
//!
//! A connection runs in a task of its own on the link's thread. It feeds what it reads to
//! the session, writes what the session wants sent (each batch in one write, with
//! `TCP_NODELAY`), wakes at the session's deadlines, and tells the hub what happened.
//! A peer that stops reading only blocks this connection's writer: a write that does not
//! drain within the dead time closes the connection. Data sync frames pass through to the
//! sync worker and back; their credit window bounds what waits ahead of a heartbeat.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::timeout;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::LocalView;
use crate::link::identity::{Fingerprint, Identity};
use crate::link::message::Hello;
use crate::link::session::{self, CloseReason, HandoverMsg, Phase, Session, SessionConfig};
use crate::link::tls;
use crate::sync::message as sync_message;
use crate::sync::{SyncHandle, SyncIn};

/// What a connection tells the hub.
#[derive(Debug)]
pub(super) enum FromConn {
    /// TLS is up and the peer showed `fingerprint`; the hub answers with its verdict.
    Open {
        id: u64,
        addr: IpAddr,
        dialed: bool,
        fingerprint: Fingerprint,
        tx: mpsc::UnboundedSender<ToConn>,
    },
    Event {
        id: u64,
        event: session::Event,
    },
    /// A refusal before any session existed (TCP or TLS), for the hub to count and log.
    Refused {
        addr: Option<IpAddr>,
        cause: &'static str,
        detail: String,
    },
    /// A handover message the peer sent (a release request or a release).
    Handover {
        id: u64,
        msg: HandoverMsg,
    },
    Ended {
        id: u64,
    },
}

/// What the hub tells a connection.
#[derive(Debug)]
pub(super) enum ToConn {
    Trusted(bool),
    /// A handover message for the peer.
    Handover(HandoverMsg),
    /// Close, telling the peer why (shutdown).
    Shutdown,
}

/// What every connection needs; cloned into each task.
#[derive(Clone)]
pub(super) struct Env {
    pub identity: Arc<Identity>,
    pub hello: Hello,
    pub heartbeat: Duration,
    pub dead_after: Duration,
    pub hello_timeout: Duration,
    pub hub: mpsc::UnboundedSender<FromConn>,
    pub shared: super::state::SharedState,
    pub local: watch::Receiver<Arc<LocalView>>,
    pub next_id: Arc<AtomicU64>,
    pub sync: SyncHandle,
}

impl Env {
    fn refused(&self, addr: Option<IpAddr>, cause: &'static str, detail: String) {
        let _ = self.hub.send(FromConn::Refused {
            addr,
            cause,
            detail,
        });
    }
}

/// Dials `peer`, from `source` when given, and runs the connection to its end.
/// Returns whether the link came up on it.
pub(super) async fn dial(env: &Env, peer: SocketAddr, source: Option<IpAddr>) -> bool {
    let pin = env.shared.lock().peers.get(&peer.ip()).and_then(|p| p.pin);
    let tcp = match timeout(env.hello_timeout, connect(peer, source)).await {
        Ok(Ok(tcp)) => tcp,
        // A peer that is down or not running baton: not a refusal, just no link.
        Ok(Err(_)) | Err(_) => return false,
    };
    let (config, seen) = match tls::client_config(&env.identity, pin) {
        Ok(c) => c,
        Err(e) => {
            env.refused(Some(peer.ip()), "tls_setup", e.to_string());
            return false;
        }
    };
    let handshake = TlsConnector::from(config).connect(tls::server_name(peer.ip()), tcp);
    let stream = match timeout(env.hello_timeout, handshake).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            handshake_refused(env, peer.ip(), pin, seen.get(), e.to_string());
            return false;
        }
        Err(_) => {
            env.refused(Some(peer.ip()), "handshake_timeout", String::new());
            return false;
        }
    };
    let Some(fingerprint) = tls::peer_fingerprint(stream.get_ref().1) else {
        env.refused(Some(peer.ip()), "handshake", "no certificate".into());
        return false;
    };
    run(env, stream, peer.ip(), true, fingerprint).await
}

/// Runs an accepted connection (its address already checked) to its end.
pub(super) async fn accept(env: Env, tcp: TcpStream, addr: IpAddr) {
    let _ = tcp.set_nodelay(true);
    keepalive(&tcp, env.dead_after);
    let pin = env.shared.lock().peers.get(&addr).and_then(|p| p.pin);
    let (config, seen) = match tls::server_config(&env.identity, pin) {
        Ok(c) => c,
        Err(e) => {
            env.refused(Some(addr), "tls_setup", e.to_string());
            return;
        }
    };
    let stream = match timeout(env.hello_timeout, TlsAcceptor::from(config).accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return handshake_refused(&env, addr, pin, seen.get(), e.to_string()),
        Err(_) => return env.refused(Some(addr), "handshake_timeout", String::new()),
    };
    let Some(fingerprint) = tls::peer_fingerprint(stream.get_ref().1) else {
        return env.refused(Some(addr), "handshake", "no certificate".into());
    };
    run(&env, stream, addr, false, fingerprint).await;
}

fn handshake_refused(
    env: &Env,
    addr: IpAddr,
    pin: Option<Fingerprint>,
    seen: Option<Fingerprint>,
    error: String,
) {
    match (pin, seen) {
        (Some(pin), Some(seen)) if pin != seen => env.refused(
            Some(addr),
            "wrong_key",
            format!("showed key {seen}, baton.conf pins {pin}"),
        ),
        _ => env.refused(Some(addr), "handshake", error),
    }
}

async fn connect(peer: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = match peer {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(src) = source.filter(|s| s.is_ipv4() == peer.is_ipv4()) {
        // From the address the peer knows us by, whatever the routing table prefers
        // (a virtual address on the same interface must not become the source).
        socket.bind(SocketAddr::new(src, 0))?;
    }
    let tcp = socket.connect(peer).await?;
    tcp.set_nodelay(true)?;
    keepalive(&tcp, Duration::from_secs(3));
    Ok(tcp)
}

/// TCP keepalive as well as heartbeats, so the kernel drops a half-open connection too.
fn keepalive(tcp: &TcpStream, idle: Duration) {
    let ka = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(Duration::from_secs(1))
        .with_retries(3);
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&ka);
}

/// The session over an established TLS stream. Returns whether the link came up.
///
/// Reading and writing run apart: a writer task takes the session's bytes in order, so a
/// long write (file data of a sync, to a slow peer) never stops this task from reading
/// the peer's frames, and two nodes that both send at once cannot block each other.
async fn run<S>(env: &Env, stream: S, addr: IpAddr, dialed: bool, fp: Fingerprint) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let id = env.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _ = env.hub.send(FromConn::Open {
        id,
        addr,
        dialed,
        fingerprint: fp,
        tx,
    });
    let (mut reader, writer) = tokio::io::split(stream);
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (stall_tx, mut stall_rx) = oneshot::channel::<()>();
    let writer = tokio::spawn(write_out(writer, out_rx, stall_tx, env.dead_after));
    let (sync_tx, mut sync_rx) = mpsc::unbounded_channel::<(u16, Vec<u8>)>();
    let mut sync_up = false;
    let mut window = Window::default();
    let mut local = env.local.clone();
    let now = Instant::now();
    let mut session = Session::new(
        now,
        SessionConfig {
            heartbeat_interval: env.heartbeat,
            dead_after: env.dead_after,
            hello_timeout: env.hello_timeout,
            ..SessionConfig::new(env.hello.clone(), fp.to_string())
        },
    );
    feed_local(&mut session, &local.borrow_and_update(), now, true);
    let mut was_up = false;
    let mut buf = vec![0u8; 64 * 1024];
    let mut stalled = false;
    loop {
        if let Some(out) = session.poll_transmit() {
            let _ = out_tx.send(out);
        }
        while let Some(event) = session.poll_event() {
            was_up |= matches!(event, session::Event::Up { .. });
            let _ = env.hub.send(FromConn::Event { id, event });
        }
        while let Some(msg) = session.poll_handover() {
            let _ = env.hub.send(FromConn::Handover { id, msg });
        }
        if !sync_up && session.speaks_sync() {
            sync_up = true;
            env.sync.send(SyncIn::PeerUp {
                conn: id,
                addr,
                outbox: sync_tx.clone(),
            });
        }
        while let Some(frame) = session.poll_sync() {
            let kind = frame.kind.number();
            if !window.inbound(kind, frame.body.len()) {
                // File data past what we allowed: dropped here, so what waits for the
                // worker stays within the window, and the worker ends the transfer.
                env.sync.send(SyncIn::OverWindow { conn: id });
                continue;
            }
            env.sync.send(SyncIn::Frame {
                conn: id,
                kind,
                body: frame.body,
            });
        }
        {
            let mut shared = env.shared.lock();
            if let Some(p) = shared.peers.get_mut(&addr) {
                if session.rtt().is_some() {
                    p.rtt = session.rtt();
                }
                p.last_heard = session.last_heard().or(p.last_heard);
            }
        }
        if session.phase() == Phase::Closed {
            break;
        }
        let deadline = session.next_deadline();
        tokio::select! {
            // Reading first: what the peer sent is taken before our own replies (the
            // window's credit among them) go out.
            biased;
            read = reader.read(&mut buf) => {
                let now = Instant::now();
                match read {
                    Ok(0) => session.handle_eof(),
                    Ok(n) => session.handle_bytes(now, buf.get(..n).unwrap_or_default()),
                    Err(_) => session.handle_eof(),
                }
            }
            _ = sleep_until(deadline) => {
                let now = Instant::now();
                // Ages in our status grow between changes; bring them up to date for the
                // heartbeat that may be due (it carries the status), without sending the
                // status a second time. A real change not yet seen is sent as one.
                let changed = local.has_changed().unwrap_or(false);
                feed_local(&mut session, &local.borrow_and_update(), now, changed);
                session.handle_timeout(now);
            }
            cmd = rx.recv() => match cmd {
                Some(ToConn::Trusted(t)) => session.set_trusted(t),
                Some(ToConn::Handover(msg)) => send_handover(&mut session, &msg),
                Some(ToConn::Shutdown) | None => session.shutdown(),
            },
            changed = local.changed() => {
                if changed.is_ok() {
                    feed_local(&mut session, &local.borrow_and_update(), Instant::now(), true);
                }
            }
            Some((kind, body)) = sync_rx.recv() => {
                window.outbound(kind, &body);
                session.send_sync(kind, &body);
            }
            _ = &mut stall_rx, if !stalled => {
                // The peer stopped reading (or the connection broke under a write):
                // nothing more can be said to it.
                stalled = true;
                env.refused(Some(addr), "write_stalled", String::new());
                session.handle_eof();
            }
        }
    }
    if sync_up {
        env.sync.send(SyncIn::PeerDown { conn: id });
    }
    // The Close frame, if the session queued one, then the TLS close_notify: the writer
    // sends what it holds and shuts its half down when the channel closes.
    if let Some(out) = session.poll_transmit().filter(|_| !stalled) {
        let _ = out_tx.send(out);
    }
    drop(out_tx);
    if stalled {
        writer.abort();
    } else if timeout(Duration::from_millis(500), writer).await.is_err() {
        // The writer's own timeout ends it; it is not waited for longer.
    }
    while let Some(event) = session.poll_event() {
        let _ = env.hub.send(FromConn::Event { id, event });
    }
    let _ = env.hub.send(FromConn::Ended { id });
    was_up
}

/// What a peer may send us of file data on this connection: a window for each transfer
/// we asked for, and every credit we handed to the writer since. An honest source stays
/// within it (it can only act on credit we have sent); what goes past is dropped.
#[derive(Debug, Default)]
struct Window {
    allowed: u64,
    received: u64,
}

impl Window {
    fn outbound(&mut self, kind: u16, body: &[u8]) {
        match kind {
            sync_message::WANT => self.allowed = self.allowed.saturating_add(sync_message::WINDOW),
            sync_message::CREDIT => {
                if let Ok(sync_message::Msg::Credit(c)) = sync_message::decode(kind, body) {
                    self.allowed = self.allowed.saturating_add(c.bytes);
                }
            }
            _ => {}
        }
    }

    /// Whether a frame read from the peer is within the window.
    fn inbound(&mut self, kind: u16, len: usize) -> bool {
        if kind != sync_message::DATA {
            return true;
        }
        let data = (len as u64).saturating_sub(sync_message::DATA_HEADER as u64);
        if self.received.saturating_add(data) > self.allowed {
            return false;
        }
        self.received += data;
        true
    }
}

/// Writes each buffer in order, each in one write; a write that does not drain within
/// `dead_after` (or fails) ends the writer and says so on `stall`. When the channel
/// closes, what is queued is written and the write half shut down.
async fn write_out<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    stall: oneshot::Sender<()>,
    dead_after: Duration,
) {
    while let Some(buf) = rx.recv().await {
        let write = async {
            w.write_all(&buf).await?;
            w.flush().await
        };
        if !matches!(timeout(dead_after, write).await, Ok(Ok(()))) {
            let _ = stall.send(());
            return;
        }
    }
    let _ = timeout(Duration::from_millis(500), w.shutdown()).await;
}

/// A handover message into the session; one the session cannot send (the link is not
/// up, or the peer speaks no handover) is dropped: the handover asks again on the next
/// link, and a peer without it does not wait for us.
fn send_handover(session: &mut Session, msg: &HandoverMsg) {
    match msg {
        HandoverMsg::ReleaseRequest(r) => {
            session.send_release_request(&r.target, r.generation);
        }
        HandoverMsg::Released(r) => {
            session.send_released(&r.target, r.generation, r.stopping);
        }
        HandoverMsg::Holding(h) => {
            session.send_holding(&h.target, h.generation);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Our status (ages as of `now`) and config summary into the session; `changed`: sent
/// at once, else kept for the next heartbeat.
fn feed_local(session: &mut Session, local: &LocalView, now: Instant, changed: bool) {
    let since = now.saturating_duration_since(local.built).as_millis() as u64;
    let status = local.status.aged(since);
    if changed {
        session.set_local_status(status);
    } else {
        session.refresh_local_status(status);
    }
    session.set_local_config(Arc::clone(&local.config));
}

/// Causes that are how connections normally end, not refusals.
pub(super) fn is_refusal(reason: &CloseReason) -> bool {
    !matches!(
        reason,
        CloseReason::Eof
            | CloseReason::Shutdown
            | CloseReason::PeerClosed(_)
            | CloseReason::Revoked
    )
}
