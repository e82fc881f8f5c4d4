//! A real three-member etcd cluster for the arbiter's end-to-end tests (issue 14), each
//! member in a namespace of its own on the test network, and partitions made on the
//! network's bridge.
//!
//! [`Etcd::start`] takes three nodes of a bridged [`TestNet`] (the Cluster's namespaces:
//! the baton nodes first, the members after them, so with two baton nodes the members
//! are 10.0.0.3-5) and runs Debian's `/usr/bin/etcd` in each, with raft timings for tests
//! (heartbeat 50 ms, election timeout 500 ms) and data directories on /dev/shm (a tmpfs:
//! fsync is cheap, so a busy CI machine does not slow the raft log down). It returns once
//! `etcdctl endpoint health` passes on every member. The guard kills every member
//! (SIGKILL and wait) when it goes, also after a panic.
//!
//! Partitions are nftables rules in the bridge's own namespace (the hub), on the bridge
//! `forward` hook, matching the bridge ports: frames between the ports are dropped in
//! both directions, silently, as a switch or firewall between the hosts would. (A rule in
//! the node's own `output` chain would fail each send at once with EPERM, which tells the
//! node far more than a real partition does.) [`Etcd::cut_from_etcd`] drops everything
//! between one node and the three members; [`Etcd::cut_between`] everything between two
//! nodes (VRRP, multicast or unicast, and ARP) while both still reach etcd;
//! [`Etcd::heal`] removes every cut.

use std::cell::Cell;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::netns::TestNet;

/// How long a fresh or restarted cluster gets to become healthy.
pub const START_DEADLINE: Duration = Duration::from_secs(30);
/// The client port.
pub const CLIENT_PORT: u16 = 2379;
/// The nftables table the cuts live in (bridge family, in the hub namespace).
const CUT_TABLE: &str = "baton_test_cut";

/// One etcd member.
pub struct Member {
    /// `m0`, `m1`, `m2`: the member's name in the cluster.
    pub name: String,
    pub ns: String,
    pub ip: Ipv4Addr,
    /// The bridge port (in the hub) its namespace is plugged into.
    pub port: String,
    pub data: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Member {
    /// `IP:2379`.
    pub fn endpoint(&self) -> String {
        format!("{}:{CLIENT_PORT}", self.ip)
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The three members, the data directory and the cuts made on the bridge.
pub struct Etcd {
    pub members: Vec<Member>,
    hub: String,
    initial_cluster: String,
    token: String,
    cut: Cell<bool>,
    _dir: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill();
        }
    }
}

/// `ip netns exec NS etcdctl ARGS...` (ETCDCTL_API 3 is etcdctl 3.4's default), with
/// short dial and command timeouts: a dead member fails fast.
pub fn etcdctl(ns: &str, endpoints: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, "etcdctl"])
        .arg(format!("--endpoints={endpoints}"))
        .args(["--dial-timeout=1s", "--command-timeout=2s"])
        .args(args)
        .env("ETCDCTL_API", "3")
        .stdin(Stdio::null())
        .output()
        .expect("run etcdctl (is etcd-client installed?)")
}

/// Whether Debian's etcd server and client are installed (tests/all.sh installs them).
pub fn etcd_present() -> bool {
    [("etcd", "--version"), ("etcdctl", "version")]
        .iter()
        .all(|(tool, arg)| {
            Command::new(tool)
                .arg(arg)
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

impl Etcd {
    /// Starts a member on each of the TestNet nodes `nodes` (bridged), and waits until
    /// every member is healthy.
    pub fn start(net: &TestNet, nodes: [usize; 3]) -> Etcd {
        assert!(
            etcd_present(),
            "etcd / etcdctl are not installed; tests/all.sh installs etcd-server and etcd-client"
        );
        let hub = net
            .hub
            .clone()
            .expect("the etcd members need a bridged TestNet");
        // tmpfs when there is one: the members fsync every raft entry.
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("baton-etcd-")
            .tempdir_in(base)
            .expect("etcd temp dir");
        let members: Vec<Member> = nodes
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let node = net.node(i);
                Member {
                    name: format!("m{k}"),
                    ns: node.ns.clone(),
                    ip: node.v4,
                    port: format!("p{i}"),
                    data: dir.path().join(format!("m{k}.etcd")),
                    log: dir.path().join(format!("m{k}.log")),
                    child: None,
                }
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://{}:2380", m.name, m.ip))
            .collect::<Vec<_>>()
            .join(",");
        let token = format!(
            "baton-test-{}-{}",
            std::process::id(),
            dir.path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let mut e = Etcd {
            members,
            hub,
            initial_cluster,
            token,
            cut: Cell::new(false),
            _dir: dir,
        };
        for k in 0..e.members.len() {
            e.spawn(k);
        }
        e.wait_healthy(START_DEADLINE);
        e
    }

    fn spawn(&mut self, k: usize) {
        let initial_cluster = self.initial_cluster.clone();
        let token = self.token.clone();
        let m = &mut self.members[k];
        assert!(m.child.is_none(), "etcd member {} already running", m.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .expect("etcd log file");
        let ip = m.ip;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &m.ns, "etcd"])
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&m.data)
            .arg(format!("--listen-peer-urls=http://{ip}:2380"))
            .arg(format!("--initial-advertise-peer-urls=http://{ip}:2380"))
            .arg(format!("--listen-client-urls=http://{ip}:{CLIENT_PORT}"))
            .arg(format!("--advertise-client-urls=http://{ip}:{CLIENT_PORT}"))
            .arg(format!("--initial-cluster={initial_cluster}"))
            // Ignored once the data directory exists (a restart rejoins as it was).
            .arg("--initial-cluster-state=new")
            .arg(format!("--initial-cluster-token={token}"))
            .args(["--heartbeat-interval=50", "--election-timeout=500"])
            .args(["--logger=zap", "--log-outputs=stderr"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        // `ip netns exec` execs etcd: the child's pid is the member's.
        m.child = Some(cmd.spawn().expect("spawn etcd"));
    }

    /// The members' client endpoints, blank-separated, as an `endpoints` line takes them.
    pub fn endpoints_line(&self) -> String {
        self.members
            .iter()
            .map(Member::endpoint)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The running members' indexes.
    pub fn live(&mut self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&k| self.members[k].is_running())
            .collect()
    }

    /// Whether member `k` answers `endpoint health` (a read through raft: it needs a
    /// leader and a majority).
    pub fn healthy(&self, k: usize) -> bool {
        let m = &self.members[k];
        etcdctl(&m.ns, &m.endpoint(), &["endpoint", "health"])
            .status
            .success()
    }

    /// Waits until every running member is healthy (panics with the members' logs).
    pub fn wait_healthy(&mut self, limit: Duration) {
        let start = Instant::now();
        loop {
            let live = self.live();
            assert!(
                !live.is_empty(),
                "no etcd member is running\n{}",
                self.logs()
            );
            if live.iter().all(|&k| self.healthy(k)) {
                return;
            }
            if start.elapsed() > limit {
                panic!(
                    "etcd members {live:?} not healthy after {limit:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `endpoint status -w json` of member `k`: (its member id, the leader's id it
    /// knows, its raft term), or None if it does not answer.
    pub fn status(&self, k: usize) -> Option<(u64, u64, u64)> {
        let m = &self.members[k];
        let out = etcdctl(&m.ns, &m.endpoint(), &["endpoint", "status", "-w", "json"]);
        if !out.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        let st = &v.as_array()?.first()?["Status"];
        let id = st["header"]["member_id"].as_u64()?;
        let leader = st["leader"].as_u64()?;
        let term = st["raftTerm"].as_u64().unwrap_or(0);
        Some((id, leader, term))
    }

    /// The member every running member names as the raft leader, if they all answer
    /// and agree and that member is one of them.
    pub fn leader(&mut self) -> Option<usize> {
        let live = self.live();
        let seen: Vec<(usize, (u64, u64, u64))> = live
            .iter()
            .map(|&k| self.status(k).map(|s| (k, s)))
            .collect::<Option<_>>()?;
        let (_, (_, leader, _)) = *seen.first()?;
        if leader == 0 || seen.iter().any(|(_, (_, l, _))| *l != leader) {
            return None;
        }
        seen.iter()
            .find(|(_, (id, _, _))| *id == leader)
            .map(|(k, _)| *k)
    }

    /// Waits for a leader that every running member agrees on and that `pred` accepts.
    pub fn wait_leader(&mut self, limit: Duration, pred: impl Fn(usize) -> bool) -> usize {
        let start = Instant::now();
        loop {
            if let Some(k) = self.leader().filter(|&k| pred(k)) {
                return k;
            }
            if start.elapsed() > limit {
                panic!("no etcd leader after {limit:?}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL to member `k` (and wait for it).
    pub fn kill(&mut self, k: usize) {
        self.members[k].kill();
    }

    /// Every member killed at once: etcd is down.
    pub fn kill_all(&mut self) {
        for m in &mut self.members {
            let _ = m.child.as_mut().map(Child::kill);
        }
        for m in &mut self.members {
            m.kill();
        }
    }

    /// Starts member `k` again on its data directory (it rejoins as the member it was).
    pub fn restart(&mut self, k: usize) {
        self.members[k].kill();
        self.spawn(k);
    }

    /// Starts every member that is not running, and waits until all are healthy.
    pub fn restart_all(&mut self) {
        for k in 0..self.members.len() {
            if !self.members[k].is_running() {
                self.members[k].kill();
                self.spawn(k);
            }
        }
        self.wait_healthy(START_DEADLINE);
    }

    /// Every member's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for m in &self.members {
            let text = m.log_text();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            let _ = writeln!(s, "=== etcd {} ({}) last lines ===", m.name, m.ip);
            for l in tail.into_iter().rev() {
                let _ = writeln!(s, "{l}");
            }
        }
        s
    }

    /// The keys under `prefix` with their values (`get --prefix`), via any healthy
    /// member; None if none answers.
    pub fn get_prefix(&mut self, prefix: &str) -> Option<Vec<(String, String)>> {
        for k in self.live() {
            let m = &self.members[k];
            let out = etcdctl(&m.ns, &m.endpoint(), &["get", "--prefix", prefix]);
            if out.status.success() {
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let lines: Vec<&str> = text.lines().collect();
                return Some(
                    lines
                        .chunks(2)
                        .map(|kv| (kv[0].to_string(), kv.get(1).unwrap_or(&"").to_string()))
                        .collect(),
                );
            }
        }
        None
    }

    fn nft(&self, script: &str) {
        crate::e2e::link::nft_script(&self.hub, script);
    }

    /// Drops, on the bridge, every frame between the ports `from` and `to` (both ways).
    fn drop_between(&self, from: &[String], to: &[String]) {
        let set = |ports: &[String]| {
            format!(
                "{{ {} }}",
                ports
                    .iter()
                    .map(|p| format!("\"{p}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let (f, t) = (set(from), set(to));
        let mut script = String::new();
        if !self.cut.get() {
            let _ = write!(
                script,
                "table bridge {CUT_TABLE} {{\n chain forward {{\n  type filter hook forward priority 0;\n }}\n}}\n"
            );
        }
        let _ = writeln!(
            script,
            "add rule bridge {CUT_TABLE} forward iifname {f} oifname {t} drop"
        );
        let _ = writeln!(
            script,
            "add rule bridge {CUT_TABLE} forward iifname {t} oifname {f} drop"
        );
        self.nft(&script);
        self.cut.set(true);
    }

    /// Cuts TestNet node `node` off from every etcd member (and only from them).
    pub fn cut_from_etcd(&self, node: usize) {
        let members: Vec<String> = self.members.iter().map(|m| m.port.clone()).collect();
        self.drop_between(&[format!("p{node}")], &members);
    }

    /// Cuts TestNet nodes `a` and `b` off from each other; both still reach etcd.
    pub fn cut_between(&self, a: usize, b: usize) {
        self.drop_between(&[format!("p{a}")], &[format!("p{b}")]);
    }

    /// Removes every cut.
    pub fn heal(&self) {
        if self.cut.replace(false) {
            self.nft(&format!("delete table bridge {CUT_TABLE}\n"));
        }
    }
}
