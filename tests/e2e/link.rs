//! Link helpers for the end-to-end tests: baton.conf `link` blocks, the control socket's
//! link requests (identity, peers, approve, revoke), the peer rows of `baton status`,
//! and a firewall inside a test namespace that drops the link's TCP port.
//!
//! Identity and peers go through the command line (`baton identity`, `baton peer ...`)
//! as a user types them; [`Daemon::control`] sends a raw JSON request line for anything
//! the command line does not show.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{DEADLINE, Daemon};
use crate::common::netns::sh;
pub use crate::common::netns::wait_until;

/// The link's default TCP port.
pub const LINK_PORT: u16 = 7411;

/// A baton.conf with one `link` block: listen on `listen`, dial and accept `peers`, keep
/// the identity in `state_dir`; `extra` lines go inside the block as written.
pub fn link_conf(listen: &str, peers: &[&str], state_dir: &Path, extra: &[&str]) -> String {
    let mut s = format!("link {{\n    listen {listen}\n");
    for p in peers {
        s.push_str(&format!("    peer {p}\n"));
    }
    s.push_str(&format!("    state_dir {}\n", state_dir.display()));
    for e in extra {
        s.push_str(&format!("    {e}\n"));
    }
    s.push_str("}\n");
    s
}

/// `AB:CD:...`: 32 upper-case hex pairs joined by colons.
pub fn is_fingerprint(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 32
        && parts.iter().all(|p| {
            p.len() == 2
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        })
}

/// What `openssl x509 -noout -fingerprint -sha256` says of a certificate: the part after
/// `=`.
pub fn openssl_fingerprint(cert: &Path) -> String {
    let out = sh(
        "openssl",
        &[
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-in",
            &cert.to_string_lossy(),
        ],
    );
    out.trim()
        .split_once('=')
        .map(|(_, fp)| fp.to_string())
        .unwrap_or_else(|| panic!("openssl printed no fingerprint: {out}"))
}

impl Daemon {
    /// Sends one JSON request line to the control socket and returns the parsed answer
    /// (`None` if the daemon does not answer or answers something unreadable).
    pub fn try_control(&self, req: &Value) -> Option<Value> {
        let stream = UnixStream::connect(&self.socket).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut line = serde_json::to_vec(req).ok()?;
        line.push(b'\n');
        (&stream).write_all(&line).ok()?;
        let mut answer = String::new();
        BufReader::new(&stream).read_line(&mut answer).ok()?;
        serde_json::from_str(&answer).ok()
    }

    /// [`Daemon::try_control`], panicking with the log if there is no answer.
    pub fn control(&self, req: Value) -> Value {
        self.try_control(&req).unwrap_or_else(|| {
            panic!(
                "{}: no answer to {req}\n--- log ---\n{}",
                self.name,
                self.log_text()
            )
        })
    }

    /// Runs `baton ARGS... --socket SOCKET`; its stdout, panicking (with the log) unless
    /// it exits 0.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(super::BATON)
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .output()
            .expect("run baton");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}: baton {}: {stdout}{}\n--- log ---\n{}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
        stdout
    }

    /// `baton identity --json`: fingerprint, node_id, state_dir, listen.
    pub fn identity(&self) -> Value {
        let text = self.cli(&["identity", "--json"]);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("identity --json: {e}: {text}"))
    }

    /// This node's fingerprint: the first line of `baton identity` is `SHA256 FP`.
    pub fn fingerprint(&self) -> String {
        let text = self.cli(&["identity"]);
        let fp = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("SHA256 "))
            .unwrap_or_default()
            .to_string();
        assert!(
            is_fingerprint(&fp),
            "{}: baton identity said {text:?}",
            self.name
        );
        fp
    }

    /// `baton peer list --json`: pending and trusted peers.
    pub fn peer_list(&self) -> Vec<Value> {
        let text = self.cli(&["peer", "list", "--json"]);
        match serde_json::from_str(&text) {
            Ok(Value::Array(rows)) => rows,
            other => panic!("{}: peer list --json: {other:?}: {text}", self.name),
        }
    }

    /// The peer list's row for `fingerprint`.
    pub fn peer_entry(&self, fingerprint: &str) -> Option<Value> {
        self.peer_list()
            .into_iter()
            .find(|p| p["fingerprint"] == fingerprint)
    }

    /// `baton peer approve FP`.
    pub fn approve(&self, fingerprint: &str) {
        self.cli(&["peer", "approve", fingerprint]);
    }

    /// `baton peer revoke FP`.
    pub fn revoke(&self, fingerprint: &str) {
        self.cli(&["peer", "revoke", fingerprint]);
    }

    /// The `link` section of `baton status --json` (Null while the daemon does not answer).
    pub fn link_view(&self) -> Value {
        self.try_status()
            .map(|s| s["link"].clone())
            .unwrap_or(Value::Null)
    }

    /// The status row of the peer at `addr` (written `ADDR` or `ADDR:PORT`).
    pub fn peer_row(&self, addr: &str) -> Option<Value> {
        let view = self.link_view();
        view["peers"]
            .as_array()?
            .iter()
            .find(|p| {
                p["address"].as_str().is_some_and(|a| {
                    a == addr
                        || a.strip_prefix(addr)
                            .is_some_and(|rest| rest.starts_with(':'))
                        || a.strip_prefix(&format!("[{addr}]"))
                            .is_some_and(|rest| rest.starts_with(':'))
                })
            })
            .cloned()
    }

    /// The link state of the peer at `addr` as `baton status` says it (`up`, `down`, ...).
    pub fn link_state(&self, addr: &str) -> Option<String> {
        self.peer_row(addr)
            .and_then(|p| p["link"].as_str().map(str::to_string))
    }

    /// Waits until the row of `addr` satisfies `pred`; returns that row.
    pub fn wait_row(&self, addr: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_row_within(addr, what, DEADLINE, pred)
    }

    pub fn wait_row_within(
        &self,
        addr: &str,
        what: &str,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut found = None;
        wait_until(
            limit,
            &format!("{}: peer {addr} {what}", self.name),
            || {
                found = self.peer_row(addr).filter(|r| pred(r));
                found.is_some()
            },
            || {
                format!(
                    "link view now: {:#}\n--- {} log ---\n{}",
                    self.link_view(),
                    self.name,
                    self.log_text()
                )
            },
        );
        found.expect("row found")
    }

    /// Waits until the link to `addr` is in `state`; returns the row.
    pub fn wait_link(&self, addr: &str, state: &str) -> Value {
        self.wait_row(addr, &format!("link {state}"), |r| r["link"] == state)
    }

    /// The state of `instance` in the peer's own report carried by the row of `addr`.
    pub fn peer_reports(&self, addr: &str, instance: &str) -> Option<String> {
        let row = self.peer_row(addr)?;
        row["status"]["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == instance)
            .and_then(|i| i["state"].as_str().map(str::to_string))
    }

    /// Log lines that contain `needle`.
    pub fn log_lines_with(&self, needle: &str) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }
}

/// Whether a link state string is one of the pending-trust states.
pub fn is_pending(state: &str) -> bool {
    state.starts_with("pending trust")
}

/// Drops every TCP segment to or from port `port` inside namespace `ns` (nftables): the
/// link is cut while VRRP, which is not TCP, still passes.
pub fn block_tcp_port(ns: &str, port: u16) {
    let rules = format!(
        "table inet baton_test_block {{\n\
         chain input {{ type filter hook input priority 0; tcp dport {port} drop; tcp sport {port} drop; }}\n\
         chain output {{ type filter hook output priority 0; tcp dport {port} drop; tcp sport {port} drop; }}\n\
         }}\n"
    );
    nft_script(ns, &rules);
}

/// Runs an nftables script (`nft -f -`) inside namespace `ns`; panics with nft's error.
pub fn nft_script(ns: &str, script: &str) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .expect("nft stdin")
                .write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run nft (is nftables installed?)");
    assert!(
        out.status.success(),
        "nft -f in {ns}: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Undoes [`block_tcp_port`].
pub fn unblock_tcp_port(ns: &str) {
    sh(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "nft",
            "delete",
            "table",
            "inet",
            "baton_test_block",
        ],
    );
}

/// Whether the `nft` tool is there (tests/all.sh installs it).
pub fn nft_present() -> bool {
    Command::new("nft")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The address of TestNet node `i` (10.0.0.(i+1)).
pub fn addr(c: &super::Cluster, i: usize) -> String {
    c.net.node(i).v4.to_string()
}

/// Starts baton `name` on TestNet node `node` running `inst`, with a link block that
/// listens on the node's address, names the nodes `peers` and keeps its identity in
/// `<cluster dir>/state-<name>`; `extra` lines go into the link block.
pub fn start_linked(
    c: &mut super::Cluster,
    name: &str,
    node: usize,
    inst: &super::Inst,
    peers: &[usize],
    extra: &[&str],
) -> usize {
    let peer_addrs: Vec<String> = peers.iter().map(|&p| addr(c, p)).collect();
    let peer_refs: Vec<&str> = peer_addrs.iter().map(String::as_str).collect();
    let baton = link_conf(
        &addr(c, node),
        &peer_refs,
        &c.path(&format!("state-{name}")),
        extra,
    );
    c.start_baton(name, node, &super::conf(name, "", &[inst]), &baton)
}

/// Each of daemons `x` and `y` approves the other's fingerprint; waits until both show
/// the other `up`.
pub fn approve_each_other(c: &super::Cluster, x: usize, y: usize, x_addr: &str, y_addr: &str) {
    let fx = c.d(x).fingerprint();
    let fy = c.d(y).fingerprint();
    c.d(x).wait_row(y_addr, "known by its fingerprint", |r| {
        r["fingerprint"] == fy
    });
    c.d(y).wait_row(x_addr, "known by its fingerprint", |r| {
        r["fingerprint"] == fx
    });
    c.d(x).approve(&fy);
    c.d(y).approve(&fx);
    c.d(x).wait_link(y_addr, "up");
    c.d(y).wait_link(x_addr, "up");
}

/// Waits until a restarted daemon answers on its control socket again.
pub fn wait_control(d: &mut Daemon) {
    let start = Instant::now();
    while d.try_status().is_none() {
        assert!(
            d.is_running(),
            "{} exited at start:\n{}",
            d.name,
            d.log_text()
        );
        assert!(
            start.elapsed() < DEADLINE,
            "{}: control socket never answered\n{}",
            d.name,
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every refusal this node counted: its own (connections from non-peers) and each
/// peer row's, summed over causes.
pub fn refused_total(view: &Value) -> u64 {
    let sum = |m: &Value| -> u64 {
        m.as_object()
            .map(|o| o.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0)
    };
    sum(&view["refused"])
        + view["peers"]
            .as_array()
            .map(|ps| ps.iter().map(|p| sum(&p["refused"])).sum())
            .unwrap_or(0)
}
