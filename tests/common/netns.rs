//! Network namespaces for tests: real kernels, isolated links, cleaned up on drop.
//!
//! A [`TestNet`] owns a set of namespaces named after the test and the process id, joined
//! either by one veth pair ([`TestNet::pair`]) or by a bridge in a hub namespace
//! ([`TestNet::bridged`]). Every node gets `eth0` with 10.0.0.(i+1)/24 and
//! fd00::(i+1)/64; nothing touches the host's own namespace. Dropping the guard deletes
//! every namespace it created (and so every link inside), also after a panic.
//!
//! Setup uses the `ip` tool; the library under test never does. To run library code in
//! a namespace, [`TestNet::run`] / [`TestNet::spawn`] start a thread that enters the
//! namespace with `setns` and builds a tokio current-thread runtime there: sockets and
//! netlink connections opened on that thread live in that namespace.

use std::fs::File;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};

/// One namespace on the test network.
#[derive(Debug, Clone)]
pub struct Node {
    /// Namespace name (`ip -n NAME`, /run/netns/NAME).
    pub ns: String,
    /// The interface facing the test network, inside `ns`.
    pub ifname: String,
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
}

/// The guard: namespaces and links for one test.
#[derive(Debug)]
pub struct TestNet {
    pub nodes: Vec<Node>,
    /// Namespace holding the bridge, if any.
    pub hub: Option<String>,
    created: Vec<String>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Runs a command and panics with its output if it fails.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl TestNet {
    fn base(test: &str) -> String {
        // Short enough to read in `ip netns`, unique per test, process and call.
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let t: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(24)
            .collect();
        format!("bt-{t}-{}-{seq}", std::process::id())
    }

    fn new_ns(&mut self, name: String) -> String {
        sh("ip", &["netns", "add", &name]);
        self.created.push(name.clone());
        sh("ip", &["-n", &name, "link", "set", "lo", "up"]);
        // No duplicate address detection: addresses (and the link-local) are usable at
        // once, so tests need not wait for DAD.
        for key in ["all", "default"] {
            let path = format!("net.ipv6.conf.{key}.accept_dad=0");
            sh("ip", &["netns", "exec", &name, "sysctl", "-qw", &path]);
        }
        name
    }

    fn node_addrs(i: usize) -> (Ipv4Addr, Ipv6Addr) {
        let n = u8::try_from(i + 1).expect("at most 254 nodes");
        (
            Ipv4Addr::new(10, 0, 0, n),
            Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(n)),
        )
    }

    fn configure(&self, node: &Node) {
        let ns = node.ns.as_str();
        let dev = node.ifname.as_str();
        sh(
            "ip",
            &[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/24", node.v4),
                "dev",
                dev,
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/64", node.v6),
                "dev",
                dev,
                "nodad",
            ],
        );
        sh("ip", &["-n", ns, "link", "set", dev, "up"]);
    }

    /// Two namespaces joined by one veth pair (`eth0` on each side).
    pub fn pair(test: &str) -> TestNet {
        let base = Self::base(test);
        let mut net = TestNet {
            nodes: Vec::new(),
            hub: None,
            created: Vec::new(),
        };
        let a = net.new_ns(format!("{base}-a"));
        let b = net.new_ns(format!("{base}-b"));
        sh(
            "ip",
            &[
                "-n", &a, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns",
                &b,
            ],
        );
        for (i, ns) in [a, b].into_iter().enumerate() {
            let (v4, v6) = Self::node_addrs(i);
            let node = Node {
                ns,
                ifname: "eth0".into(),
                v4,
                v6,
            };
            net.configure(&node);
            net.nodes.push(node);
        }
        net.wait_link_local();
        net
    }

    /// `n` namespaces, each with `eth0` plugged into one bridge in a hub namespace.
    pub fn bridged(test: &str, n: usize) -> TestNet {
        let base = Self::base(test);
        let mut net = TestNet {
            nodes: Vec::new(),
            hub: None,
            created: Vec::new(),
        };
        let hub = net.new_ns(format!("{base}-hub"));
        net.hub = Some(hub.clone());
        sh("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        // Forward at once: no STP listening/learning delay before frames pass.
        sh(
            "ip",
            &[
                "-n",
                &hub,
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "forward_delay",
                "0",
            ],
        );
        sh("ip", &["-n", &hub, "link", "set", "br0", "up"]);
        for i in 0..n {
            let ns = net.new_ns(format!("{base}-{i}"));
            let port = format!("p{i}");
            sh(
                "ip",
                &[
                    "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                    "netns", &ns,
                ],
            );
            sh("ip", &["-n", &hub, "link", "set", &port, "master", "br0"]);
            sh("ip", &["-n", &hub, "link", "set", &port, "up"]);
            let (v4, v6) = Self::node_addrs(i);
            let node = Node {
                ns,
                ifname: "eth0".into(),
                v4,
                v6,
            };
            net.configure(&node);
            net.nodes.push(node);
        }
        net.wait_link_local();
        net
    }

    /// Waits (with a deadline) until each node's eth0 has its IPv6 link-local address.
    fn wait_link_local(&self) {
        for node in &self.nodes {
            wait_for(Duration::from_secs(10), "link-local address", || {
                self.addrs_json(&node.ns, &node.ifname)
                    .to_string()
                    .contains("\"fe80:")
            });
        }
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// `ip -n NS ARGS...`, panicking on failure; returns stdout.
    pub fn ip(&self, ns: &str, args: &[&str]) -> String {
        let mut all = vec!["-n", ns];
        all.extend_from_slice(args);
        sh("ip", &all)
    }

    /// Runs any command inside the namespace (`ip netns exec`), without checking status.
    pub fn exec(&self, ns: &str, cmd: &str, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", ns, cmd];
        all.extend_from_slice(args);
        Command::new("ip")
            .args(&all)
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {ns} {cmd}: {e}"))
    }

    /// `ip -j addr show dev IFNAME` in the namespace, parsed.
    pub fn addrs_json(&self, ns: &str, ifname: &str) -> serde_json::Value {
        let out = self.ip(ns, &["-j", "addr", "show", "dev", ifname]);
        serde_json::from_str(&out).expect("ip -j addr output is JSON")
    }

    /// The `addr_info` entry for `local` on `ifname`, if present.
    pub fn find_addr(&self, ns: &str, ifname: &str, local: &str) -> Option<serde_json::Value> {
        let v = self.addrs_json(ns, ifname);
        v.as_array()?
            .iter()
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .find(|a| a["local"] == local)
    }

    /// The first `addr_info` entry on `ifname` for which `pred` holds.
    pub fn find_addr_where(
        &self,
        ns: &str,
        ifname: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let v = self.addrs_json(ns, ifname);
        v.as_array()?
            .iter()
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .find(|a| pred(a))
    }

    /// Runs `f` on a thread inside namespace `ns` and returns its result (a panic in
    /// `f` fails the caller).
    pub fn run<R: Send + 'static>(&self, ns: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
        match self.spawn(ns, f).join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// Starts `f` on a thread inside namespace `ns`.
    pub fn spawn<R: Send + 'static>(
        &self,
        ns: &str,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> JoinHandle<R> {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
    }

    /// Runs an async block on a tokio current-thread runtime inside `ns`.
    pub fn run_async<R, Fut>(&self, ns: &str, f: impl FnOnce() -> Fut + Send + 'static) -> R
    where
        R: Send + 'static,
        Fut: Future<Output = R>,
    {
        self.run(ns, move || block_on(f()))
    }

    /// Starts an async block on its own thread and runtime inside `ns`.
    pub fn spawn_async<R, Fut>(
        &self,
        ns: &str,
        f: impl FnOnce() -> Fut + Send + 'static,
    ) -> JoinHandle<R>
    where
        R: Send + 'static,
        Fut: Future<Output = R>,
    {
        self.spawn(ns, move || block_on(f()))
    }
}

/// A fresh current-thread runtime (the daemon's shape) driving `fut` to completion.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(fut)
}

/// Polls `cond` until it holds, panicking with `what` after `limit`.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `cond` until it holds; on timeout panics with `what` and `context()` (the logs).
pub fn wait_until(
    limit: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > limit {
            panic!("timed out waiting for {what}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        // Deleting a namespace destroys the links inside it (and their veth peers).
        // Keep going past failures so one stuck namespace does not leak the others.
        let mut errors = Vec::new();
        for ns in self.created.iter().rev() {
            match Command::new("ip").args(["netns", "del", ns]).output() {
                Ok(o) if o.status.success() => {}
                Ok(o) => errors.push(format!("{ns}: {}", String::from_utf8_lossy(&o.stderr))),
                Err(e) => errors.push(format!("{ns}: {e}")),
            }
        }
        if !errors.is_empty() {
            eprintln!("TestNet cleanup failed: {}", errors.join("; "));
        }
    }
}
