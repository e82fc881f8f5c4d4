//! [`ArbiterDriver`]: the thread, its connection to one etcd endpoint at a time, a task
//! per request and one per watch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions, WatchOptions};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, info, warn};

use super::ops::{self, EtcdResult};
use super::{ArbiterReport, Order, Report};
use crate::arbiter::{Command, Input, Reply, RequestId};
use crate::config::baton::ArbiterConf;

/// What is fixed for a driver's life: read once at start, so a missing TLS file or
/// password fails `baton run` (and `baton check`'s caller sees it) instead of later.
#[derive(Clone)]
struct Settings {
    urls: Vec<String>,
    options: ConnectOptions,
    timeout: Duration,
    /// The lease TTL: how often a watch re-reads the leader even without events, and how
    /// long a request may take at most.
    resync: Duration,
}

impl Settings {
    fn load(conf: &ArbiterConf) -> anyhow::Result<Self> {
        let tls = conf.ca_file.is_some();
        let urls = (conf.endpoints.iter())
            .map(|e| match e.contains("://") {
                true => e.clone(),
                false if tls => format!("https://{e}"),
                false => format!("http://{e}"),
            })
            .collect();
        let timeout = conf.request_timeout();
        let mut options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            // An answer later than the lease is of no use; until then a slow one (a
            // renewal during an etcd election) still counts.
            .with_timeout(conf.lease_ttl().max(timeout))
            .with_keep_alive(Duration::from_secs(1), timeout)
            // A member cut off from its cluster's leader refuses at once.
            .with_require_leader(true);
        if let Some(ca) = &conf.ca_file {
            let read = |p: &std::path::Path| {
                std::fs::read(p).with_context(|| format!("arbiter: reading {}", p.display()))
            };
            let mut t = TlsOptions::new().ca_certificate(Certificate::from_pem(read(ca)?));
            if let (Some(cert), Some(key)) = (&conf.cert_file, &conf.key_file) {
                t = t.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            options = options.with_tls(t);
        }
        if let (Some(user), Some(file)) = (&conf.user, &conf.password_file) {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("arbiter: reading {}", file.display()))?;
            let password = text.lines().next().unwrap_or_default().to_string();
            options = options.with_user(user.clone(), password);
        }
        Ok(Settings {
            urls,
            options,
            timeout,
            resync: conf.lease_ttl(),
        })
    }

    fn retry(&self) -> Duration {
        (self.timeout / 2).max(Duration::from_millis(100))
    }
}

/// The handle the engine keeps.
pub struct ArbiterDriver {
    orders: mpsc::UnboundedSender<Order>,
    shown: Arc<Mutex<String>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl ArbiterDriver {
    pub fn start(conf: &ArbiterConf, report: Report) -> anyhow::Result<Self> {
        let settings = Settings::load(conf)?;
        let first = settings.urls.first().cloned().unwrap_or_default();
        let shown = Arc::new(Mutex::new(first));
        let (orders, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let worker = Worker::new(settings, Arc::new(report), shown.clone());
        std::thread::Builder::new()
            .name("baton-etcd".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(worker.run(rx)),
                    Err(e) => warn!("arbiter: no runtime for the etcd driver: {e}"),
                }
                let _ = done_tx.send(());
            })
            .context("arbiter: starting the etcd driver's thread")?;
        Ok(ArbiterDriver {
            orders,
            shown,
            done,
        })
    }

    /// Hands one command over; never blocks.
    pub fn send(&self, target: &str, command: Command) {
        let target = target.to_string();
        let _ = self.orders.send(Order::Run { target, command });
    }

    /// The endpoint in use.
    pub fn endpoint(&self) -> String {
        self.shown.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Lets the requests in flight end, revokes the leases still held, and waits at most
    /// `grace` for that.
    pub fn stop(self, grace: Duration) {
        let _ = self.orders.send(Order::Stop);
        let _ = self.done.recv_timeout(grace);
    }
}

/// One finished request.
struct Done {
    generation: u64,
    target: String,
    id: RequestId,
    result: Result<Reply, String>,
    transport: bool,
}

struct Worker {
    s: Settings,
    report: Arc<Report>,
    shown: Arc<Mutex<String>>,
    index: usize,
    /// Bumped on every move to another endpoint: a failure of an older connection does
    /// not move again.
    generation: u64,
    moved: Option<Instant>,
    client: Option<Client>,
    /// target → the election it watches, and the task while it runs.
    watches: BTreeMap<String, (String, Option<JoinHandle<()>>)>,
    /// Leases granted and not revoked: revoked at stop.
    leases: BTreeSet<i64>,
    tasks: JoinSet<Done>,
}

impl Worker {
    fn new(s: Settings, report: Arc<Report>, shown: Arc<Mutex<String>>) -> Self {
        Worker {
            s,
            report,
            shown,
            index: 0,
            generation: 0,
            moved: None,
            client: None,
            watches: BTreeMap::new(),
            leases: BTreeSet::new(),
            tasks: JoinSet::new(),
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Order>) {
        let mut tick = tokio::time::interval(self.s.retry());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                order = rx.recv() => match order {
                    Some(Order::Run { target, command }) => self.order(target, command).await,
                    Some(Order::Stop) | None => break,
                },
                Some(done) = self.tasks.join_next() => {
                    if let Ok(done) = done {
                        self.finished(done);
                    }
                }
                _ = tick.tick() => {
                    // Watches wait for a connection: make one when there is none.
                    if self.client.is_none() && !self.watches.is_empty() {
                        self.connect().await;
                    }
                }
            }
        }
        self.shutdown().await;
    }

    async fn order(&mut self, target: String, command: Command) {
        let (id, job): (RequestId, Job) = match command {
            Command::NextEndpoint => {
                // Several elections may time out at once: one move for all of them.
                let recent = self.moved.is_some_and(|t| t.elapsed() < self.s.timeout);
                if !recent {
                    self.next_endpoint("a request timed out").await;
                }
                return;
            }
            Command::Watch { election } => {
                let handle = self
                    .client
                    .clone()
                    .map(|c| self.spawn_watch(&target, &election, c));
                if let Some((_, Some(old))) = self.watches.insert(target, (election, handle)) {
                    old.abort();
                }
                return;
            }
            Command::Unwatch => {
                if let Some((_, Some(task))) = self.watches.remove(&target) {
                    task.abort();
                }
                return;
            }
            Command::Grant { id, ttl } => (id, Job::Grant(ttl)),
            Command::KeepAlive { id, lease } => (id, Job::KeepAlive(lease)),
            Command::Campaign {
                id,
                election,
                key,
                value,
                lease,
            } => (id, Job::Campaign(election, key, value, lease)),
            Command::Resign { id, key } => (id, Job::Resign(key)),
            Command::Revoke { id, lease } => {
                // Revoked here, or left to expire: not again at stop.
                self.leases.remove(&lease);
                (id, Job::Revoke(lease))
            }
        };
        if self.client.is_none() {
            self.connect().await;
        }
        let Some(client) = self.client.clone() else {
            let input = Input::Failed {
                id,
                error: "no connection to etcd".into(),
            };
            (self.report)(ArbiterReport { target, input });
            return;
        };
        let (generation, timeout) = (self.generation, self.s.resync.max(self.s.timeout));
        self.tasks.spawn(async move {
            let result = tokio::time::timeout(timeout, job.run(client)).await;
            let (result, transport) = match result {
                Ok(Ok(reply)) => (Ok(reply), false),
                Ok(Err(e)) => (Err(e.to_string()), ops::is_transport(&e)),
                Err(_) => (Err("no answer from etcd".into()), true),
            };
            Done {
                generation,
                target,
                id,
                result,
                transport,
            }
        });
    }

    fn finished(&mut self, done: Done) {
        let input = match done.result {
            Ok(reply) => {
                if let Reply::Granted { lease, .. } = &reply {
                    self.leases.insert(*lease);
                }
                Input::Reply { id: done.id, reply }
            }
            Err(error) => {
                debug!("arbiter: {}: {error}", done.target);
                if done.transport && done.generation == self.generation {
                    // Moving needs the runtime: the next order or tick connects.
                    self.drop_connection(&error);
                }
                Input::Failed { id: done.id, error }
            }
        };
        (self.report)(ArbiterReport {
            target: done.target,
            input,
        });
    }

    /// The current endpoint failed: the next one is tried on the next need.
    fn drop_connection(&mut self, why: &str) {
        warn!(
            "arbiter: etcd at {} failed ({why}); trying the next endpoint",
            self.url()
        );
        self.rotate();
    }

    async fn next_endpoint(&mut self, why: &str) {
        self.drop_connection(why);
        self.connect().await;
    }

    fn rotate(&mut self) {
        self.index = (self.index + 1) % self.s.urls.len().max(1);
        self.generation += 1;
        self.moved = Some(Instant::now());
        self.client = None;
        for (_, task) in self.watches.values_mut() {
            if let Some(t) = task.take() {
                t.abort();
            }
        }
        if let Ok(mut shown) = self.shown.lock() {
            *shown = self.url();
        }
    }

    fn url(&self) -> String {
        self.s.urls.get(self.index).cloned().unwrap_or_default()
    }

    /// Connects to the current endpoint (bounded by the request timeout) and restarts
    /// the watches there.
    async fn connect(&mut self) {
        let url = self.url();
        let connect = Client::connect([url.clone()], Some(self.s.options.clone()));
        match tokio::time::timeout(self.s.timeout, connect).await {
            Ok(Ok(client)) => {
                info!("arbiter: using etcd at {url}");
                self.client = Some(client.clone());
                let targets: Vec<(String, String)> = (self.watches.iter())
                    .map(|(t, (e, _))| (t.clone(), e.clone()))
                    .collect();
                for (target, election) in targets {
                    let handle = self.spawn_watch(&target, &election, client.clone());
                    if let Some((_, task)) = self.watches.get_mut(&target) {
                        if let Some(old) = task.replace(handle) {
                            old.abort();
                        }
                    }
                }
            }
            Ok(Err(e)) => {
                let why = e.to_string();
                self.drop_connection(&why);
            }
            Err(_) => self.drop_connection("connecting timed out"),
        }
    }

    fn spawn_watch(&self, target: &str, election: &str, client: Client) -> JoinHandle<()> {
        let watch = Watch {
            target: target.to_string(),
            election: election.to_string(),
            report: self.report.clone(),
            timeout: self.s.timeout,
            resync: self.s.resync,
            retry: self.s.retry(),
        };
        tokio::spawn(watch.run(client))
    }

    /// The end: requests in flight (the resignations) finish, then every lease still
    /// held is revoked, which deletes whatever keys are left on it.
    async fn shutdown(mut self) {
        for (_, (_, task)) in std::mem::take(&mut self.watches) {
            if let Some(t) = task {
                t.abort();
            }
        }
        let timeout = self.s.timeout;
        let tasks = &mut self.tasks;
        let _ = tokio::time::timeout(timeout, async {
            while let Some(done) = tasks.join_next().await {
                if let Ok(Done {
                    result: Ok(Reply::Granted { lease, .. }),
                    ..
                }) = done
                {
                    self.leases.insert(lease);
                }
            }
        })
        .await;
        let Some(client) = self.client.clone() else {
            return;
        };
        for lease in std::mem::take(&mut self.leases) {
            let revoke = ops::revoke(client.clone(), lease);
            match tokio::time::timeout(timeout, revoke).await {
                Ok(Ok(_)) => debug!("arbiter: lease {lease:x} revoked"),
                _ => warn!("arbiter: lease {lease:x} not revoked; it expires on its own"),
            }
        }
    }
}

/// One request, ready to run on a client.
enum Job {
    Grant(Duration),
    KeepAlive(i64),
    Campaign(String, String, String, i64),
    Resign(String),
    Revoke(i64),
}

impl Job {
    async fn run(self, client: Client) -> EtcdResult<Reply> {
        match self {
            Job::Grant(ttl) => ops::grant(client, ttl).await,
            Job::KeepAlive(lease) => ops::keep_alive(client, lease).await,
            Job::Campaign(election, key, value, lease) => {
                ops::campaign(client, &election, &key, &value, lease).await
            }
            Job::Resign(key) => ops::resign(client, &key).await,
            Job::Revoke(lease) => ops::revoke(client, lease).await,
        }
    }
}

/// The watch of one election: the leader read at the start, after every event, and
/// every `resync` besides (a missed event costs at most that).
struct Watch {
    target: String,
    election: String,
    report: Arc<Report>,
    timeout: Duration,
    resync: Duration,
    retry: Duration,
}

impl Watch {
    async fn run(self, client: Client) {
        loop {
            let mut c = client.clone();
            let options = WatchOptions::new().with_prefix();
            let watch = c.watch(self.election.as_str(), Some(options));
            if let Ok(Ok(mut stream)) = tokio::time::timeout(self.timeout, watch).await {
                self.leader(&client).await;
                loop {
                    tokio::select! {
                        m = stream.message() => match m {
                            Ok(Some(_)) => self.leader(&client).await,
                            _ => break,
                        },
                        _ = tokio::time::sleep(self.resync) => self.leader(&client).await,
                    }
                }
            }
            tokio::time::sleep(self.retry).await;
        }
    }

    async fn leader(&self, client: &Client) {
        let read = ops::leader(client.clone(), &self.election);
        if let Ok(Ok((leader, read))) = tokio::time::timeout(self.timeout, read).await {
            (self.report)(ArbiterReport {
                target: self.target.clone(),
                input: Input::LeaderChanged { leader, read },
            });
        }
    }
}
