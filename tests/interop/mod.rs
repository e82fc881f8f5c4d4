//! Running baton and the real keepalived side by side in test namespaces.
//!
//! An [`Agent`] is one daemon process (baton or keepalived) started with
//! `ip netns exec` in its own process group, logging to a file in the test's temp
//! directory; dropping it kills the group. [`Cell`] describes one pairing (VRRP version,
//! family, unicast or multicast, authentication, checksum mode) and renders the
//! keepalived.conf both daemons read: baton takes keepalived's syntax unchanged, so the
//! two nodes of a pair differ only in priority, addresses and `state`.
//!
//! Nothing here asserts timing: callers wait for conditions with deadlines.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

pub use crate::common::netns::wait_until;
use crate::common::netns::{Node, TestNet};

/// Which daemon runs on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Baton,
    Keepalived,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Baton => "baton",
            Kind::Keepalived => "keepalived",
        }
    }
}

/// One row of the interoperability matrix.
#[derive(Debug, Clone)]
pub struct Cell {
    pub name: &'static str,
    pub version: u8,
    pub ipv6: bool,
    pub unicast: bool,
    pub pass_auth: bool,
    /// keepalived's `old_unicast_checksum` on both nodes.
    pub old_checksum: bool,
    /// `advert_int` as written in the configuration.
    pub advert_int: &'static str,
}

impl Cell {
    /// The virtual address (without prefix) both nodes fight over.
    pub fn vip(&self) -> &'static str {
        if self.ipv6 { "fd00::100" } else { "10.0.0.100" }
    }

    fn vip_cidr(&self) -> &'static str {
        if self.ipv6 {
            "fd00::100/64"
        } else {
            "10.0.0.100/24"
        }
    }

    /// keepalived.conf for `me` (priority `priority`, peer `peer`).
    pub fn config(&self, router_id: &str, me: &Node, peer: &Node, priority: u8) -> String {
        let state = if priority > 100 { "MASTER" } else { "BACKUP" };
        let mut c = String::new();
        c.push_str(&format!(
            "global_defs {{\n    router_id {router_id}\n}}\n\n"
        ));
        c.push_str("vrrp_instance VI_1 {\n");
        c.push_str(&format!("    state {state}\n"));
        c.push_str(&format!("    interface {}\n", me.ifname));
        c.push_str("    virtual_router_id 51\n");
        c.push_str(&format!("    priority {priority}\n"));
        c.push_str(&format!("    advert_int {}\n", self.advert_int));
        c.push_str(&format!("    version {}\n", self.version));
        if self.unicast {
            let (src, dst) = if self.ipv6 {
                (me.v6.to_string(), peer.v6.to_string())
            } else {
                (me.v4.to_string(), peer.v4.to_string())
            };
            c.push_str(&format!("    unicast_src_ip {src}\n"));
            c.push_str(&format!("    unicast_peer {{\n        {dst}\n    }}\n"));
        }
        if self.old_checksum {
            c.push_str("    old_unicast_checksum\n");
        }
        if self.pass_auth {
            c.push_str(
                "    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }\n",
            );
        }
        c.push_str(&format!(
            "    virtual_ipaddress {{\n        {}\n    }}\n",
            self.vip_cidr()
        ));
        c.push_str("}\n");
        c
    }
}

static RUN: AtomicU32 = AtomicU32::new(0);

/// One running daemon in a namespace.
pub struct Agent {
    pub kind: Kind,
    pub log: PathBuf,
    pub socket: PathBuf,
    child: Option<Child>,
}

/// Where the binaries are.
pub fn baton_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

impl Agent {
    /// Starts `kind` in `ns` with configuration `conf` (written under `dir`).
    pub fn start(kind: Kind, ns: &str, dir: &Path, conf: &str) -> Agent {
        let n = RUN.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}-{}-{n}", kind.name(), ns);
        let conf_path = dir.join(format!("{tag}.conf"));
        fs::write(&conf_path, conf).expect("write config");
        let log = dir.join(format!("{tag}.log"));
        let socket = dir.join(format!("{tag}.sock"));
        let out = fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("dup log");
        let conf_s = conf_path.to_string_lossy().into_owned();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        match kind {
            Kind::Baton => {
                cmd.arg(baton_bin()).args([
                    "run",
                    "-D",
                    "-f",
                    &conf_s,
                    "--socket",
                    &socket.to_string_lossy(),
                ]);
            }
            Kind::Keepalived => {
                let pid = |what: &str| dir.join(format!("{tag}.{what}.pid"));
                cmd.args(["keepalived", "-n", "-l", "-D", "--vrrp", "-f", &conf_s])
                    .arg("-p")
                    .arg(pid("main"))
                    .arg("-r")
                    .arg(pid("vrrp"))
                    .arg("-c")
                    .arg(pid("checkers"))
                    .arg("-i")
                    .arg(&tag);
            }
        }
        use std::os::unix::process::CommandExt as _;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd.spawn().expect("spawn agent");
        Agent {
            kind,
            log,
            socket,
            child: Some(child),
        }
    }

    fn pid(&self) -> Option<Pid> {
        self.child
            .as_ref()
            .map(|c| Pid::from_raw(i32::try_from(c.id()).expect("pid fits")))
    }

    /// SIGKILL to every process of the agent (a crash: nothing is cleaned up).
    pub fn crash(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = killpg(pid, Signal::SIGKILL);
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// SIGTERM to the main process, then waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = kill(pid, Signal::SIGTERM);
        }
        if let Some(mut c) = self.child.take() {
            let start = Instant::now();
            loop {
                if c.try_wait().expect("wait").is_some() {
                    break;
                }
                if start.elapsed() > Duration::from_secs(20) {
                    let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
                    let _ = c.wait();
                    panic!("{} did not stop within 20 s of SIGTERM", self.kind.name());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // keepalived's VRRP child may outlive the parent by a moment.
        if let Some(pid) = self.pid() {
            let _ = killpg(pid, Signal::SIGKILL);
        }
    }

    pub fn running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => c.try_wait().expect("wait").is_none(),
            None => false,
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The instance's state as the agent reports it: baton's status, keepalived's last
    /// `Entering ... STATE` log line. `None` while it has not said.
    pub fn state(&self) -> Option<String> {
        match self.kind {
            Kind::Baton => {
                let st = self.baton_status()?;
                st["instances"][0]["state"].as_str().map(str::to_string)
            }
            Kind::Keepalived => {
                let log = self.log_text();
                log.lines().rev().find_map(|l| {
                    let i = l.find("Entering ")?;
                    let rest = &l[i + "Entering ".len()..];
                    let end = rest.find(" STATE")?;
                    Some(rest[..end].to_string())
                })
            }
        }
    }

    /// `baton status --json`, parsed; `None` if the daemon does not answer.
    pub fn baton_status(&self) -> Option<serde_json::Value> {
        let out = Command::new(baton_bin())
            .args(["status", "--json", "--socket"])
            .arg(&self.socket)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Nonzero receive-error counters in baton's status (empty for keepalived).
    pub fn error_counters(&self) -> Vec<(String, u64)> {
        if self.kind != Kind::Baton {
            return Vec::new();
        }
        let Some(st) = self.baton_status() else {
            return Vec::new();
        };
        let stats = &st["instances"][0]["stats"];
        let Some(obj) = stats.as_object() else {
            return Vec::new();
        };
        obj.iter()
            .filter(|(k, _)| k.ends_with("_errors"))
            .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k.clone(), n)))
            .collect()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.crash();
    }
}

/// Lines of a `kind` log that say the daemon refused something the peer sent.
pub fn complaints_in(kind: Kind, log: &str) -> Vec<String> {
    const BAD: &[&str] = &[
        "checksum",
        "invalid",
        "not present",
        "mismatch",
        "advert dropped",
        "length",
        "bad ",
        "error",
        "unknown",
    ];
    log.lines()
        .filter(|l| {
            let low = l.to_lowercase();
            BAD.iter().any(|b| low.contains(b))
        })
        // keepalived's start-up banner lists build options, not complaints.
        .filter(|l| {
            kind != Kind::Keepalived
                || !(l.contains("configure options") || l.contains("Config options"))
        })
        .map(|l| format!("{}: {l}", kind.name()))
        .collect()
}

/// Whether `addr` is configured in namespace `ns` on `ifname`.
pub fn has_addr(net: &TestNet, node: &Node, addr: &str) -> bool {
    net.find_addr(&node.ns, &node.ifname, addr).is_some()
}
