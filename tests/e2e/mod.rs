//! End-to-end harness: real `baton run` processes inside test namespaces.
//!
//! A [`Cluster`] owns, in drop order, the daemons (SIGKILL + wait, also after a panic),
//! the namespaces ([`TestNet`]) and a temp dir with configs, sockets, logs and hook
//! scripts. The hook script appends `<CLOCK_REALTIME ns> <node> start|end <args...>`
//! lines to one shared log, so a test can assert which hook ran, with which arguments,
//! in which order, and that two hooks of one node never overlapped.
//!
//! Everything waits for conditions with a deadline; measured times are only printed.

#![allow(dead_code)]

pub mod link;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::common::netns::{TestNet, wait_for};

pub mod etcd;
pub mod handover;
#[allow(dead_code)] // each test binary uses some of it
pub mod sync;
pub mod sync_peer;
pub mod web;

/// Generous deadline for anything the protocol should do within a few intervals.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub const BATON: &str = env!("CARGO_BIN_EXE_baton");

/// Nanoseconds since the epoch (CLOCK_REALTIME), comparable with the hooks' `date +%s%N`.
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos()
}

/// One `baton run` process in a namespace.
pub struct Daemon {
    pub name: String,
    pub ns: String,
    pub conf: PathBuf,
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    pub log: PathBuf,
    /// baton's own file, passed as `--baton-conf` on every (re)start; `None`: not passed.
    pub baton_conf: Option<PathBuf>,
    env: Vec<(String, String)>,
    /// Runs in a mount namespace of its own with SRC bound on DST: two nodes on one
    /// host each see their own directory at the same path (data sync tests).
    bind: Option<(PathBuf, PathBuf)>,
    child: Option<Child>,
}

impl Daemon {
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("daemon log file");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns]);
        if let Some((src, dst)) = &self.bind {
            let script = "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"";
            cmd.args(["unshare", "-m", "sh", "-c", script, "sh"])
                .arg(src)
                .arg(dst);
        }
        cmd.args([BATON, "run", "-f"])
            .arg(&self.conf)
            .arg("--socket")
            .arg(&self.socket)
            .arg("-p")
            .arg(&self.pid_file);
        if let Some(b) = &self.baton_conf {
            cmd.arg("--baton-conf").arg(b);
        }
        cmd.env("BATON_LOG", "info")
            .env("BATON_TEST_NODE", &self.name)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // `ip netns exec` execs the command: the child's pid is baton's.
        self.child = Some(cmd.spawn().expect("spawn baton"));
    }

    pub fn pid(&self) -> Pid {
        let c = self.child.as_ref().expect("daemon running");
        Pid::from_raw(i32::try_from(c.id()).expect("pid fits"))
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// SIGKILL and reap: a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends a signal without waiting.
    pub fn signal(&self, sig: Signal) {
        kill(self.pid(), sig).expect("signal baton");
    }

    /// SIGTERM, then waits for a clean exit (returns its status code).
    pub fn term(&mut self) -> Option<i32> {
        self.signal(Signal::SIGTERM);
        self.term_wait()
    }

    /// Waits (20 s at most) for the process to exit after a signal; its exit code.
    pub fn term_wait(&mut self) -> Option<i32> {
        let mut c = self.child.take().expect("daemon running");
        let start = Instant::now();
        loop {
            if let Some(st) = c.try_wait().expect("try_wait") {
                return st.code();
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = c.kill();
                let _ = c.wait();
                panic!("{} did not exit after SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts the same daemon again (same config, socket, log).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `baton status --json`, or None if the daemon does not answer (yet).
    pub fn try_status(&self) -> Option<Value> {
        let out = Command::new(BATON)
            .args(["status", "--json", "--socket"])
            .arg(&self.socket)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    pub fn status(&self) -> Value {
        self.try_status()
            .unwrap_or_else(|| panic!("{}: baton status failed\n{}", self.name, self.log_text()))
    }

    pub fn instance(&self, name: &str) -> Option<Value> {
        let st = self.try_status()?;
        st["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
    }

    pub fn state(&self, instance: &str) -> Option<String> {
        self.instance(instance)
            .and_then(|i| i["state"].as_str().map(str::to_string))
    }

    pub fn wait_state(&self, instance: &str, state: &str) {
        self.wait_state_within(instance, state, DEADLINE);
    }

    /// [`Daemon::wait_state`] with a deadline of its own (slow, as-written configs).
    pub fn wait_state_within(&self, instance: &str, state: &str, limit: Duration) {
        let start = Instant::now();
        while self.state(instance).as_deref() != Some(state) {
            if start.elapsed() > limit {
                panic!(
                    "{}: {instance} never reached {state} (now {:?})\n--- log ---\n{}",
                    self.name,
                    self.state(instance),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Transitions baton logged for `instance`, in order: (from, to).
    pub fn transitions(&self, instance: &str) -> Vec<(String, String)> {
        let prefix = format!("{instance}: ");
        self.log_text()
            .lines()
            .filter_map(|l| {
                let at = l.find(&prefix)?;
                let rest = &l[at + prefix.len()..];
                if !rest.contains("), priority ") {
                    return None;
                }
                let (from, rest) = rest.split_once(" -> ")?;
                let (to, _) = rest.split_once(" (")?;
                Some((from.to_string(), to.to_string()))
            })
            .collect()
    }

    /// Transitions with the priority logged: (from, to, priority).
    pub fn transitions_prio(&self, instance: &str) -> Vec<(String, String, String)> {
        let prefix = format!("{instance}: ");
        self.log_text()
            .lines()
            .filter_map(|l| {
                let at = l.find(&prefix)?;
                let rest = &l[at + prefix.len()..];
                let (_, prio) = rest.rsplit_once("), priority ")?;
                let (from, rest) = rest.split_once(" -> ")?;
                let (to, _) = rest.split_once(" (")?;
                Some((from.to_string(), to.to_string(), prio.trim().to_string()))
            })
            .collect()
    }

    /// A statistics counter of `instance` (0 while the daemon does not answer).
    pub fn counter(&self, instance: &str, name: &str) -> u64 {
        self.instance(instance)
            .and_then(|i| i["stats"][name].as_u64())
            .unwrap_or(0)
    }

    /// Waits until this daemon has received `n` more adverts for `instance`: protocol
    /// time for anything that was going to happen (a preemption, a flap) to happen.
    pub fn hear_adverts(&self, instance: &str, n: u64) {
        let before = self.counter(instance, "adverts_received");
        wait_for(
            DEADLINE,
            &format!("{}: {n} more adverts", self.name),
            || self.counter(instance, "adverts_received") >= before + n,
        );
    }

    pub fn wait_log(&self, what: &str) {
        wait_for(DEADLINE, what, || self.log_text().contains(what));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One line of the shared hook log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookLine {
    pub ns: u128,
    pub node: String,
    /// "start" or "end".
    pub phase: String,
    /// The hook's own arguments: the label from the config, then what baton appended.
    pub args: Vec<String>,
}

/// Namespaces, temp dir, daemons; dropped daemons first.
pub struct Cluster {
    pub daemons: Vec<Daemon>,
    pub net: TestNet,
    pub dir: tempfile::TempDir,
    /// Per node: a directory bound over a path in the daemon's own mount namespace.
    pub binds: std::collections::HashMap<usize, (PathBuf, PathBuf)>,
    /// Filesystems a test mounted under `dir`, unmounted when the cluster goes.
    pub mounts: Vec<PathBuf>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            d.kill();
        }
        for m in self.mounts.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(m).status();
        }
    }
}

impl Cluster {
    /// `n` namespaces on one bridge (use `n` = nodes + 1 for an observer).
    pub fn new(test: &str, n: usize) -> Cluster {
        let net = TestNet::bridged(test, n);
        let dir = tempfile::Builder::new()
            .prefix(&format!("baton-e2e-{test}-"))
            .tempdir()
            .expect("temp dir");
        let c = Cluster {
            daemons: Vec::new(),
            net,
            dir,
            binds: Default::default(),
            mounts: Vec::new(),
        };
        c.write_script("hook.sh", &hook_script(&c.hook_log(), 0));
        c
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn hook_log(&self) -> PathBuf {
        self.path("hooks.log")
    }

    /// The hook command line for a config: `"/dir/hook.sh NODE LABEL"`.
    pub fn hook(&self, node: &str, label: &str) -> String {
        format!("\"{} {node} {label}\"", self.path("hook.sh").display())
    }

    /// Writes an executable script into the temp dir and returns its path.
    pub fn write_script(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path(name);
        std::fs::write(&p, text).expect("write script");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    /// Starts `baton run` for a config in namespace `node` (index into the TestNet);
    /// returns its index in `daemons`.
    pub fn start(&mut self, name: &str, node: usize, conf: &str) -> usize {
        self.start_env(name, node, conf, &[])
    }

    /// [`Cluster::start`] with baton's own file: writes `<name>.baton.conf` and passes it
    /// as `--baton-conf`.
    pub fn start_baton(&mut self, name: &str, node: usize, conf: &str, baton_conf: &str) -> usize {
        let p = self.path(&format!("{name}.baton.conf"));
        std::fs::write(&p, baton_conf).expect("write baton conf");
        self.start_with(name, node, conf, Some(p), &[])
    }

    pub fn start_env(
        &mut self,
        name: &str,
        node: usize,
        conf: &str,
        env: &[(&str, &str)],
    ) -> usize {
        self.start_with(name, node, conf, None, env)
    }

    fn start_with(
        &mut self,
        name: &str,
        node: usize,
        conf: &str,
        baton_conf: Option<PathBuf>,
        env: &[(&str, &str)],
    ) -> usize {
        let confp = self.path(&format!("{name}.conf"));
        std::fs::write(&confp, conf).expect("write conf");
        let mut d = Daemon {
            name: name.to_string(),
            ns: self.net.node(node).ns.clone(),
            conf: confp,
            socket: self.path(&format!("{name}.sock")),
            pid_file: self.path(&format!("{name}.pid")),
            log: self.path(&format!("{name}.log")),
            baton_conf,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            bind: self.binds.get(&node).cloned(),
            child: None,
        };
        d.spawn();
        // Ready once the control socket answers.
        wait_for(DEADLINE, "control socket", || {
            assert!(d.is_running(), "{name} exited at start:\n{}", d.log_text());
            d.try_status().is_some()
        });
        self.daemons.push(d);
        self.daemons.len() - 1
    }

    pub fn d(&self, i: usize) -> &Daemon {
        &self.daemons[i]
    }

    pub fn dm(&mut self, i: usize) -> &mut Daemon {
        &mut self.daemons[i]
    }

    pub fn hooks(&self) -> Vec<HookLine> {
        parse_hooks(&std::fs::read_to_string(self.hook_log()).unwrap_or_default())
    }

    /// The hook lines of one node.
    pub fn hooks_of(&self, node: &str) -> Vec<HookLine> {
        self.hooks()
            .into_iter()
            .filter(|h| h.node == node)
            .collect()
    }

    /// Waits for a finished hook of `node` whose arguments are exactly `args`; returns
    /// the time its start was logged.
    pub fn wait_hook(&self, node: &str, args: &[&str]) -> u128 {
        let mut found = None;
        let start = Instant::now();
        while found.is_none() {
            found = self
                .hooks_of(node)
                .iter()
                .find(|h| h.phase == "end" && h.args == args)
                .map(|h| h.ns);
            if found.is_none() {
                if start.elapsed() > DEADLINE {
                    panic!(
                        "hook {node} {args:?} never ran; hooks:\n{}\n--- logs ---\n{}",
                        std::fs::read_to_string(self.hook_log()).unwrap_or_default(),
                        self.all_logs()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // The matching start line (the last one before the end).
        let end = found.expect("found");
        self.hooks_of(node)
            .iter()
            .filter(|h| h.phase == "start" && h.args == args && h.ns <= end)
            .map(|h| h.ns)
            .next_back()
            .unwrap_or(end)
    }

    pub fn all_logs(&self) -> String {
        let mut s = String::new();
        for d in &self.daemons {
            let _ = writeln!(s, "=== {} ===\n{}", d.name, d.log_text());
        }
        s
    }

    /// Is `addr` on eth0 of TestNet node `node`?
    /// Daemon `d` reports `instance` in `state` right now (the logs in the failure).
    pub fn assert_state(&self, d: usize, instance: &str, state: &str) {
        assert_eq!(
            self.d(d).state(instance).as_deref(),
            Some(state),
            "{}",
            self.all_logs()
        );
    }

    pub fn has_addr(&self, node: usize, addr: &str) -> bool {
        let n = self.net.node(node);
        self.net.find_addr(&n.ns, &n.ifname, addr).is_some()
    }

    pub fn wait_addr(&self, node: usize, addr: &str, present: bool) {
        let what = format!(
            "{addr} {} on node {node}",
            if present { "present" } else { "absent" }
        );
        let start = Instant::now();
        while self.has_addr(node, addr) != present {
            if start.elapsed() > DEADLINE {
                panic!("timed out waiting for {what}\n{}", self.all_logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A hook that logs its start and end with the realtime clock; `sleep_ms` makes each
/// run last long enough for overlapping runs to show.
pub fn hook_script(log: &Path, sleep_ms: u64) -> String {
    let sleep = if sleep_ms > 0 {
        format!("sleep {}.{:03}\n", sleep_ms / 1000, sleep_ms % 1000)
    } else {
        String::new()
    };
    format!(
        "#!/bin/sh\nnode=$1\nshift\necho \"$(date +%s%N) $node start $*\" >> {log}\n{sleep}echo \"$(date +%s%N) $node end $*\" >> {log}\n",
        log = log.display()
    )
}

pub fn parse_hooks(text: &str) -> Vec<HookLine> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let ns = it.next()?.parse().ok()?;
            let node = it.next()?.to_string();
            let phase = it.next()?.to_string();
            Some(HookLine {
                ns,
                node,
                phase,
                args: it.map(str::to_string).collect(),
            })
        })
        .collect()
}

/// One vrrp_instance, rendered as keepalived.conf text.
#[derive(Debug, Clone)]
pub struct Inst {
    pub name: String,
    pub interface: String,
    pub state: &'static str,
    pub vrid: u8,
    pub priority: u8,
    /// Seconds, as written in the config ("1", "0.1").
    pub advert_int: String,
    pub version: u8,
    pub vips: Vec<String>,
    pub nopreempt: bool,
    /// (unicast_src_ip, peers)
    pub unicast: Option<(String, Vec<String>)>,
    pub track_scripts: Vec<String>,
    /// Extra lines inside the instance block (notify hooks etc).
    pub extra: Vec<String>,
}

impl Inst {
    pub fn new(priority: u8, state: &'static str) -> Inst {
        Inst {
            name: "VI_1".into(),
            interface: "eth0".into(),
            state,
            vrid: 51,
            priority,
            advert_int: "0.1".into(),
            version: 3,
            vips: vec!["10.0.0.100/24".into()],
            nopreempt: false,
            unicast: None,
            track_scripts: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Every notify hook (specific and generic) pointing at the cluster's logging hook.
    pub fn hooks(mut self, c: &Cluster, node: &str) -> Inst {
        for kind in ["master", "backup", "fault", "stop"] {
            self.extra.push(format!(
                "notify_{kind} {}",
                c.hook(node, &format!("notify_{kind}"))
            ));
        }
        self.extra
            .push(format!("notify {}", c.hook(node, "notify")));
        self
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "vrrp_instance {} {{", self.name);
        let _ = writeln!(s, "    state {}", self.state);
        let _ = writeln!(s, "    interface {}", self.interface);
        let _ = writeln!(s, "    virtual_router_id {}", self.vrid);
        let _ = writeln!(s, "    priority {}", self.priority);
        let _ = writeln!(s, "    advert_int {}", self.advert_int);
        let _ = writeln!(s, "    version {}", self.version);
        if self.nopreempt {
            let _ = writeln!(s, "    nopreempt");
        }
        let _ = writeln!(s, "    virtual_ipaddress {{");
        for v in &self.vips {
            let _ = writeln!(s, "        {v}");
        }
        let _ = writeln!(s, "    }}");
        if let Some((src, peers)) = &self.unicast {
            let _ = writeln!(s, "    unicast_src_ip {src}");
            let _ = writeln!(s, "    unicast_peer {{");
            for p in peers {
                let _ = writeln!(s, "        {p}");
            }
            let _ = writeln!(s, "    }}");
        }
        if !self.track_scripts.is_empty() {
            let _ = writeln!(s, "    track_script {{");
            for t in &self.track_scripts {
                let _ = writeln!(s, "        {t}");
            }
            let _ = writeln!(s, "    }}");
        }
        for e in &self.extra {
            let _ = writeln!(s, "    {e}");
        }
        let _ = writeln!(s, "}}");
        s
    }
}

/// A whole config: global_defs, scripts, instances.
pub fn conf(router_id: &str, scripts: &str, insts: &[&Inst]) -> String {
    let mut s = format!("global_defs {{\n    router_id {router_id}\n}}\n{scripts}\n");
    for i in insts {
        s.push_str(&i.render());
    }
    s
}

/// `vrrp_script NAME { script "test -f FILE" ... }` checking that `file` exists.
pub fn file_check(name: &str, file: &Path, interval: &str, extra: &str) -> String {
    format!(
        "vrrp_script {name} {{\n    script \"/usr/bin/test -f {}\"\n    interval {interval}\n    fall 1\n    rise 1\n{extra}}}\n",
        file.display()
    )
}

/// Starts `tcpdump` in `ns` and returns once it is capturing; `finish` gives its output.
pub struct Capture {
    child: Child,
}

impl Capture {
    pub fn start(ns: &str, filter: &str, count: u32) -> Capture {
        let mut child = Command::new("ip")
            .args([
                "netns", "exec", ns, "timeout", "20", "tcpdump", "-l", "-n", "-e",
            ])
            .args(["-c", &count.to_string(), "-i", "eth0"])
            .args(filter.split_whitespace())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tcpdump");
        tcpdump_listening(&mut child);
        Capture { child }
    }

    /// Waits for tcpdump to have its `count` packets (or time out) and returns stdout.
    pub fn finish(mut self) -> String {
        let out = std::mem::replace(
            &mut self.child,
            Command::new("true").spawn().expect("spawn true"),
        )
        .wait_with_output()
        .expect("tcpdump output");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Milliseconds between two realtime stamps, for printing.
pub fn ms(from_ns: u128, to_ns: u128) -> f64 {
    (to_ns as f64 - from_ns as f64) / 1e6
}

/// Returns once tcpdump, just spawned with its stderr piped, says on stderr that the
/// capture is open; the rest of its stderr is drained so that it never blocks on it.
pub fn tcpdump_listening(child: &mut Child) {
    let stderr = child.stderr.take().expect("stderr");
    let mut r = BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line).expect("read tcpdump stderr");
        assert!(n > 0, "tcpdump exited before capturing");
        if line.contains("listening on") {
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        while r.read_line(&mut sink).is_ok_and(|n| n > 0) {}
    });
}
