//! The HTTP server's driver: listeners, connections and their limits, on a thread of its
//! own. What to answer is decided by [`crate::web`] (pure); this file only moves bytes.
//!
//! It never asks the engine anything: every page is rendered from the latest status
//! snapshot the engine publishes on a `watch` channel ([`Snapshot`]), cloned out as an
//! `Arc` so no lock is held while a page is written, and a page rendered for one
//! snapshot is kept and served again until the next snapshot comes. The thread has its
//! own current-thread runtime, so however slow or many the clients, the engine's thread
//! never runs a line of this file after [`WebHandle::start`] and [`WebHandle::listen`].
//!
//! Limits, so that no client can make it hold memory or a slot for long:
//! - at most [`MAX_CONNECTIONS`] connections at once; one more gets a 503 at once and is
//!   closed;
//! - a request head of at most 8 KiB (the buffer never grows past it), complete within
//!   [`HEAD_TIMEOUT`] of the connection (or of the first byte of a kept-alive
//!   connection's next request), else 408 and close;
//! - a kept-alive connection may wait [`IDLE_TIMEOUT`] for its next request and serve
//!   [`MAX_REQUESTS`]; an answer must be taken within [`WRITE_TIMEOUT`];
//! - a body is never read: a request that announces one is refused (400), as is any
//!   method but GET and HEAD (405).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout_at;
use tracing::{debug, warn};

use crate::control::Status;
use crate::web::metrics::NodeFacts;
use crate::web::request::{self, Method, Parse};
use crate::web::route::{self, Answer, Page};

use super::engine::Snapshot;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// From a connection's start (or its next request's first byte) to a complete head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a kept-alive connection may wait for its next request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests on one connection before it is closed.
pub const MAX_REQUESTS: u32 = 100;
/// How long a client may take to read an answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// After an error answer: how long, and how much, the rest of the request is read and
/// dropped, so the close does not reset the connection before the client has read it.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// What the engine tells the server's thread.
enum Cmd {
    /// Listen on `keep` (already listening) and `add` (bound by the engine); stop every
    /// other listener.
    Listen {
        keep: Vec<SocketAddr>,
        add: Vec<(SocketAddr, std::net::TcpListener)>,
    },
}

/// The engine's handle on the server. Dropping it stops the server.
pub struct WebHandle {
    cmd: mpsc::UnboundedSender<Cmd>,
    facts: watch::Sender<Arc<NodeFacts>>,
    /// The addresses listened on now.
    bound: Vec<SocketAddr>,
}

impl WebHandle {
    /// Starts the server's thread, listening nowhere yet.
    pub fn start(snapshot: Snapshot, facts: NodeFacts) -> anyhow::Result<WebHandle> {
        let (cmd, rx) = mpsc::unbounded_channel();
        let (facts_tx, facts_rx) = watch::channel(Arc::new(facts));
        let shared = Arc::new(Shared {
            snapshot,
            facts: facts_rx,
            active: AtomicUsize::new(0),
            cache: Mutex::new(Vec::new()),
            busy_warned: AtomicU64::new(0),
            started: Instant::now(),
        });
        std::thread::Builder::new()
            .name("baton-http".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        warn!("http: cannot start its runtime: {e}");
                        return;
                    }
                };
                runtime.block_on(run(rx, shared));
            })
            .context("starting the HTTP server's thread")?;
        Ok(WebHandle {
            cmd,
            facts: facts_tx,
            bound: Vec::new(),
        })
    }

    /// Listens on exactly `want`: binds what is new, keeps what stays, closes the rest.
    /// If any new address cannot be bound, nothing changes and the error says which.
    pub fn listen(&mut self, want: &[SocketAddr]) -> anyhow::Result<()> {
        let mut add = Vec::new();
        for addr in want.iter().filter(|a| !self.bound.contains(a)) {
            let l = bind(*addr).with_context(|| format!("cannot listen on {addr}"))?;
            add.push((*addr, l));
        }
        let keep: Vec<SocketAddr> = (self.bound.iter())
            .filter(|a| want.contains(a))
            .copied()
            .collect();
        self.cmd
            .send(Cmd::Listen { keep, add })
            .map_err(|_| anyhow::anyhow!("the HTTP server's thread has stopped"))?;
        self.bound = want.to_vec();
        Ok(())
    }

    pub fn bound(&self) -> &[SocketAddr] {
        &self.bound
    }

    /// New facts of the configuration, after a reload.
    pub fn set_facts(&self, facts: NodeFacts) {
        self.facts.send_replace(Arc::new(facts));
    }
}

/// A listening socket as the server wants it: close-on-exec (socket2's default, so no
/// hook inherits it), address reuse for a quick restart, IPv6 sockets IPv6 only (so
/// `::` and `0.0.0.0` can both be listened on), and an address that is not on the node
/// yet accepted, as the link does.
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
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// What the server's tasks share.
struct Shared {
    snapshot: Snapshot,
    facts: watch::Receiver<Arc<NodeFacts>>,
    /// Connections being served.
    active: AtomicUsize,
    /// The pages rendered for the latest snapshot and facts.
    cache: Mutex<Vec<Cached>>,
    /// Seconds after `started` of the last "too many connections" warning.
    busy_warned: AtomicU64,
    started: Instant,
}

struct Cached {
    page: Page,
    /// Which snapshot and facts it was rendered from (`Weak`: the cache does not keep an
    /// old snapshot's contents alive, and its address cannot be reused while held).
    status: Weak<Status>,
    facts: Weak<NodeFacts>,
    answer: Arc<Answer>,
}

impl Shared {
    /// The answer for `path`, rendered at most once per snapshot.
    fn answer(&self, path: &str) -> Arc<Answer> {
        // Clone the Arcs out: the engine's next publish never waits on a reader.
        let status = self.snapshot.borrow().clone();
        let facts = self.facts.borrow().clone();
        let (Some(page), Some(status)) = (Page::of(path), status.as_ref()) else {
            return Arc::new(route::respond(path, status.as_deref(), &facts));
        };
        let Ok(mut cache) = self.cache.lock() else {
            return Arc::new(route::render(page, status, &facts));
        };
        let same = |c: &Cached| {
            c.page == page
                && c.status.as_ptr() == Arc::as_ptr(status)
                && c.facts.as_ptr() == Arc::as_ptr(&facts)
        };
        if let Some(c) = cache.iter().find(|c| same(c)) {
            return Arc::clone(&c.answer);
        }
        // The stale page goes first, so its memory is free for the new one (unless a
        // connection is still writing it).
        cache.retain(|c| c.page != page);
        let answer = Arc::new(route::render(page, status, &facts));
        cache.push(Cached {
            page,
            status: Arc::downgrade(status),
            facts: Arc::downgrade(&facts),
            answer: Arc::clone(&answer),
        });
        answer
    }

    /// Takes a connection slot, if one is free.
    fn enter(self: &Arc<Self>) -> Option<Slot> {
        let n = self.active.fetch_add(1, Ordering::AcqRel);
        if n >= MAX_CONNECTIONS {
            self.active.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(Arc::clone(self)))
    }

    /// Once a minute at most: a flood of connections must not flood the log too.
    fn warn_busy(&self) {
        let now = self.started.elapsed().as_secs() + 60;
        let last = self.busy_warned.load(Ordering::Relaxed);
        if now >= last + 60 && self.busy_warned.swap(now, Ordering::Relaxed) == last {
            warn!("http: {MAX_CONNECTIONS} connections at once; refusing more with 503");
        }
    }
}

/// A connection slot, given back when the connection ends however it ends.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The server thread's main task: listeners come and go as the engine says; when the
/// engine's handle is dropped, everything stops.
async fn run(mut rx: mpsc::UnboundedReceiver<Cmd>, shared: Arc<Shared>) {
    let mut listeners: HashMap<SocketAddr, JoinHandle<()>> = HashMap::new();
    while let Some(cmd) = rx.recv().await {
        match cmd {
            Cmd::Listen { keep, add } => {
                listeners.retain(|addr, task| {
                    let stays = keep.contains(addr);
                    if !stays {
                        task.abort();
                        debug!(%addr, "http: no longer listening");
                    }
                    stays
                });
                for (addr, l) in add {
                    match TcpListener::from_std(l) {
                        Ok(l) => {
                            debug!(%addr, "http: listening");
                            let task = tokio::spawn(accept(l, Arc::clone(&shared)));
                            if let Some(old) = listeners.insert(addr, task) {
                                old.abort();
                            }
                        }
                        Err(e) => warn!("http: cannot listen on {addr}: {e}"),
                    }
                }
            }
        }
    }
    for task in listeners.into_values() {
        task.abort();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let busy = {
        let a = route::busy();
        let mut bytes = route::head(&a, true).into_bytes();
        bytes.extend_from_slice(&a.bytes());
        bytes
    };
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors, or a connection gone before it was taken: wait a
                // little rather than spin on an error that repeats.
                debug!("http: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match shared.enter() {
            Some(slot) => {
                tokio::spawn(connection(stream, slot));
            }
            None => {
                shared.warn_busy();
                // One write that never waits: the refusal must cost nothing.
                let _ = stream.try_write(&busy);
            }
        }
    }
}

/// How a connection ends.
enum End {
    /// Closed by the client, or as planned.
    Done,
    /// An error was answered: read and drop what the client still sends, briefly.
    Linger,
}

async fn connection(mut stream: TcpStream, slot: Slot) {
    let end = serve(&mut stream, &slot.0).await;
    if let End::Linger = end {
        let _ = timeout_at(tokio::time::Instant::now() + LINGER, async {
            let _ = stream.shutdown().await;
            let mut sink = [0u8; 1024];
            let mut left = LINGER_BYTES;
            while left > 0 {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        })
        .await;
    } else {
        let _ = timeout_at(tokio::time::Instant::now() + LINGER, stream.shutdown()).await;
    }
    drop(slot);
}

/// Requests on one connection until it closes.
async fn serve(stream: &mut TcpStream, shared: &Shared) -> End {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 1024];
    let mut deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
    let mut served = 0u32;
    loop {
        let (req, len) = match request::parse(&buf) {
            Parse::Complete { request, len } => (request, len),
            Parse::Reject(r) => {
                debug!(code = r.code(), "http: refused: {}", r.text());
                let _ = write(stream, &route::reject(r), false, true).await;
                return End::Linger;
            }
            Parse::Partial => {
                // Between requests of a kept-alive connection: wait for the next one's
                // first byte, then give its head the usual time.
                let idle = buf.is_empty() && served > 0;
                let until = if idle {
                    tokio::time::Instant::now() + IDLE_TIMEOUT
                } else {
                    deadline
                };
                let room = request::HEAD_MAX.saturating_sub(buf.len()).min(chunk.len());
                match timeout_at(until, stream.read(&mut chunk[..room])).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return End::Done,
                    Ok(Ok(n)) => {
                        if idle {
                            deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
                        }
                        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                        continue;
                    }
                    Err(_) if buf.is_empty() => return End::Done,
                    Err(_) => {
                        debug!("http: request head not complete in time");
                        let _ = write(stream, &route::timeout(), false, true).await;
                        return End::Linger;
                    }
                }
            }
        };
        served += 1;
        let close = !req.keep_alive || served >= MAX_REQUESTS;
        let answer = shared.answer(req.path);
        let head_only = req.method == Method::Head;
        if write(stream, &answer, head_only, close).await.is_err() || close {
            return End::Done;
        }
        buf.drain(..len.min(buf.len()));
        deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
    }
}

/// Writes one answer within [`WRITE_TIMEOUT`].
async fn write(
    stream: &mut TcpStream,
    answer: &Answer,
    head_only: bool,
    close: bool,
) -> std::io::Result<()> {
    let head = route::head(answer, close);
    let body: &[Vec<u8>] = if head_only { &[] } else { &answer.body };
    let deadline = tokio::time::Instant::now() + WRITE_TIMEOUT;
    timeout_at(deadline, async {
        stream.write_all(head.as_bytes()).await?;
        for piece in body {
            stream.write_all(piece).await?;
        }
        stream.flush().await
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "client too slow"))?
}
