//! Handover measurement (issue 11): a service stand-in driven by the notify hooks, and
//! the overlap and gap of two nodes' service intervals computed from its log.
//!
//! The stand-in is what the NeuronEX guide's hooks drive, made measurable: a start takes
//! 0.3 s, a stop 1.0 s, and one node's requests are applied one after another in the
//! order they were made (a per-node lock, as systemd queues jobs for one unit). Every
//! step is a line `<CLOCK_REALTIME ns> <node> <phase> <label>` in the cluster's shared
//! hook log, so [`super::parse_hooks`] reads it and both nodes share one clock.
//!
//! A node's *service interval* runs from the moment its `notify_master` hook starts
//! (`start_req`, the hook's first action) to the moment its hook for leaving MASTER ends
//! (`stop_end`, its last). *Overlap* is the time both nodes are inside one; *gap* the
//! time neither is, between the first covered instant and the last.

use std::path::{Path, PathBuf};

use super::{Cluster, DEADLINE, Daemon, HookLine, Inst, conf, file_check};

/// Seconds a start takes in the stand-in.
pub const START_S: &str = "0.3";
/// Seconds a stop takes.
pub const STOP_S: &str = "1.0";

/// The stand-in: `svc.sh NODE LABEL start|stop`. Like `systemctl start|stop`, the hook
/// waits for the job, but the job runs in a session of its own (`setsid -f -w`): an agent
/// that kills its hook (keepalived does at exit) leaves the job running, as systemd
/// would. Jobs of one node are served in the order they were asked for: each takes a
/// ticket under `flock` and waits (polling every 5 ms) until the previous ticket is done,
/// so a node's start and stop never run at once and never swap (plain `flock` waiters
/// are woken in no set order).
pub fn service_script(log: &Path, lock_dir: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         if [ \"$1\" != --work ]; then\n\
         \x20   echo \"$(date +%s%N) $1 ${{3}}_req $2 $$\" >> {log}\n\
         \x20   exec setsid -f -w \"$0\" --work \"$@\" $$\n\
         fi\n\
         node=$2 label=$3 action=$4 id=$5\n\
         log={log}\n\
         q={locks}/$node\n\
         exec 9>>\"$q.lock\"\n\
         flock 9\n\
         t=$(cat \"$q.next\" 2>/dev/null || echo 0)\n\
         echo $((t + 1)) > \"$q.next\"\n\
         flock -u 9\n\
         while [ \"$(cat \"$q.done\" 2>/dev/null || echo 0)\" != \"$t\" ]; do sleep 0.005; done\n\
         trap 'echo $((t + 1)) > \"$q.done\"; exit 1' TERM INT HUP\n\
         echo \"$(date +%s%N) $node ${{action}}_begin $label $id\" >> \"$log\"\n\
         if [ \"$action\" = start ]; then sleep {START_S}; else sleep {STOP_S}; fi\n\
         echo \"$(date +%s%N) $node ${{action}}_end $label $id\" >> \"$log\"\n\
         echo $((t + 1)) > \"$q.done\"\n",
        log = log.display(),
        locks = lock_dir.display(),
    )
}

/// Writes the stand-in into the cluster's dir (`svc.sh`, logging to the hook log).
pub fn install_service(c: &Cluster) {
    c.write_script("svc.sh", &service_script(&c.hook_log(), c.dir.path()));
}

/// The instance lines wiring every notify hook of `node` to the stand-in: MASTER starts
/// the service, BACKUP / FAULT / STOP stop it (the generic `notify` is not set).
pub fn service_hooks(c: &Cluster, node: &str) -> Vec<String> {
    let svc = c.path("svc.sh");
    [
        ("master", "start"),
        ("backup", "stop"),
        ("fault", "stop"),
        ("stop", "stop"),
    ]
    .iter()
    .map(|(kind, action)| {
        format!(
            "notify_{kind} \"{} {node} notify_{kind} {action}\"",
            svc.display()
        )
    })
    .collect()
}

/// The service intervals of `node`, in order: each opens at a `start_req` (while none is
/// open) and closes at the `stop_end` of the first stop asked for after it (the job id,
/// the stand-in's last argument, ties an end to its request: a stop asked for before the
/// start, such as a node entering BACKUP at start-up, may end after the start was asked
/// for and closes nothing). One still open is closed at `until`.
pub fn service_intervals(lines: &[HookLine], node: &str, until: u128) -> Vec<(u128, u128)> {
    intervals_from(lines, node, until, "start_req")
}

/// The times `node`'s service was up: like [`service_intervals`], but each opens when the
/// start has finished (`start_end`), so it leaves out the time a start waited and ran.
pub fn up_intervals(lines: &[HookLine], node: &str, until: u128) -> Vec<(u128, u128)> {
    intervals_from(lines, node, until, "start_end")
}

fn intervals_from(lines: &[HookLine], node: &str, until: u128, open_at: &str) -> Vec<(u128, u128)> {
    let mut mine: Vec<&HookLine> = lines.iter().filter(|l| l.node == node).collect();
    mine.sort_by_key(|l| l.ns);
    let id = |l: &HookLine| l.args.get(1).cloned().unwrap_or_default();
    // When each job was asked for.
    let asked: std::collections::HashMap<String, u128> = mine
        .iter()
        .filter(|l| l.phase.ends_with("_req"))
        .map(|l| (id(l), l.ns))
        .collect();
    let asked_at = |l: &HookLine| asked.get(&id(l)).copied().unwrap_or(l.ns);
    let mut out = Vec::new();
    // (when the start that opened it was asked for, when it opened)
    let mut open: Option<(u128, u128)> = None;
    for l in mine {
        match open {
            None if l.phase == open_at => open = Some((asked_at(l), l.ns)),
            Some((req, from)) if l.phase == "stop_end" && asked_at(l) >= req => {
                out.push((from, l.ns));
                open = None;
            }
            _ => {}
        }
    }
    if let Some((_, from)) = open {
        out.push((from, until.max(from)));
    }
    out
}

/// Overlap and gap (ns) of the nodes' intervals within the window `[from, to]`: the time
/// two or more intervals cover, and the time none covers between the first covered
/// instant and the last.
pub fn overlap_gap(nodes: &[Vec<(u128, u128)>], from: u128, to: u128) -> (u128, u128) {
    // +1 at a clipped start, -1 at a clipped end; ends sort before starts at one instant
    // (touching intervals neither overlap nor leave a gap, either way).
    let mut edges: Vec<(u128, i32)> = Vec::new();
    for (s, e) in nodes.iter().flatten() {
        let (s, e) = ((*s).max(from), (*e).min(to));
        if s < e {
            edges.push((s, 1));
            edges.push((e, -1));
        }
    }
    edges.sort();
    let (mut overlap, mut gap, mut pending) = (0u128, 0u128, 0u128);
    let mut depth = 0i32;
    let mut seen = false;
    let mut at = from;
    for (t, d) in edges {
        let span = t - at;
        if depth == 0 && seen {
            pending += span;
        } else if depth >= 2 {
            overlap += span;
        }
        if d > 0 && depth == 0 && seen {
            // Coverage resumes: the hole before it was a gap between intervals.
            gap += pending;
            pending = 0;
        }
        depth += d;
        seen = true;
        at = t;
    }
    (overlap, gap)
}

/// The stand-in's lines of `node` after `since` with phase `phase`.
pub fn service_lines<'a>(
    lines: &'a [HookLine],
    node: &str,
    phase: &str,
    since: u128,
) -> Vec<&'a HookLine> {
    lines
        .iter()
        .filter(|l| l.node == node && l.phase == phase && l.ns >= since)
        .collect()
}

/// Runs `baton ARGS... --socket SOCKET` against `d`; its stdout (panics unless it exits 0).
pub fn cli(d: &Daemon, args: &[&str]) -> String {
    d.cli(args)
}

/// Waits until `d` shows the link to `addr` up.
pub fn wait_link_up(d: &Daemon, addr: &str) {
    d.wait_link(addr, "up");
}

/// Daemons `x` (at `x_addr`) and `y` approve each other's key; waits for the link up on
/// both (the e2e link helpers). The trust is kept in their state dirs, so restarts
/// relink by themselves.
#[allow(unused_imports)] // used by e2e_handover only
pub use super::link::approve_each_other;

/// baton's own file with a link block: listen on `listen`, peer `peer`, identity and
/// trust in `state_dir`.
pub fn link_conf(listen: &str, peer: &str, state_dir: &Path) -> String {
    format!(
        "link {{\n    listen {listen}\n    peer {peer}\n    state_dir {}\n}}\n",
        state_dir.display()
    )
}

pub const VIP: &str = "10.0.0.100";
/// Daemon (and TestNet node) indexes, and the node names in the stand-in's log.
pub const A: usize = 0;
pub const B: usize = 1;
pub const NAMES: [&str; 2] = ["a", "b"];

pub struct Pair {
    pub c: Cluster,
    pub linked: bool,
    /// a's check passes while this file exists.
    pub check_file: PathBuf,
    /// With [`Opts::weight`]: a's priority drops by 20 while this file is missing.
    pub weight_file: PathBuf,
    pub addrs: [String; 2],
}

/// How a pair differs from the guide's.
#[derive(Debug, Clone, Default)]
pub struct Opts {
    /// b starts as `state MASTER` too (and preempts): both enter MASTER at start.
    pub both_master: bool,
    /// Lines for the `global` block of both nodes' baton.conf (linked pairs).
    pub global: Vec<String>,
    /// a tracks a second file with `weight -20` ([`Pair::weight_file`]): while it is
    /// missing a's priority is 80, below b's 90.
    pub weight: bool,
    /// Lines for both nodes' link block (linked pairs).
    pub link: Vec<String>,
    /// Each node in a mount namespace of its own with `root-a` / `root-b` of the
    /// cluster's dir bound on its `mnt`: one path, two directories ([`sync_root`]).
    pub own_mounts: bool,
    /// With `own_mounts`: b's root is a tmpfs of this size (e.g. "16m").
    pub small_b: Option<&'static str>,
    /// More lines for a's vrrp_instance (another hook, say).
    pub a_extra: Vec<String>,
}

/// Where node `i`'s own view of the pair's `mnt` lives on the host (with
/// [`Opts::own_mounts`]).
pub fn sync_root(c: &Cluster, i: usize) -> PathBuf {
    c.path(&format!("root-{}", NAMES[i]))
}

/// The guide's pair, a serving: see [`pair_with`].
pub fn pair(test: &str, adv: &str, version: u8, linked: bool) -> Pair {
    pair_with(test, adv, version, linked, &Opts::default())
}

/// a priority 100 (`state MASTER`, preempt, a tracked check on [`Pair::check_file`]), b
/// priority 90 (`nopreempt`), unicast, the stand-in service in every hook; linked pairs
/// approve each other. Returns once a is MASTER and serves.
pub fn pair_with(test: &str, adv: &str, version: u8, linked: bool, opts: &Opts) -> Pair {
    let mut c = Cluster::new(test, 2);
    install_service(&c);
    let addrs = [c.net.node(A).v4.to_string(), c.net.node(B).v4.to_string()];
    let check_file = c.path("a-healthy");
    std::fs::write(&check_file, "").expect("check file");
    let weight_file = c.path("a-weight");
    std::fs::write(&weight_file, "").expect("weight file");
    let interval = if adv == "1" { "1" } else { "0.1" };
    if opts.own_mounts {
        let mnt = c.path("mnt");
        std::fs::create_dir_all(&mnt).expect("mount point");
        for i in [A, B] {
            let root = sync_root(&c, i);
            std::fs::create_dir_all(&root).expect("node root");
            if let (B, Some(size)) = (i, opts.small_b) {
                let ok = std::process::Command::new("mount")
                    .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                    .arg(&root)
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "mount a tmpfs on {}", root.display());
                c.mounts.push(root.clone());
            }
            std::fs::create_dir_all(root.join("data")).expect("node data");
            c.binds.insert(i, (root, mnt.clone()));
        }
    }
    for i in [A, B] {
        let me = NAMES[i];
        let mut inst = if i == A {
            Inst::new(100, "MASTER")
        } else if opts.both_master {
            Inst::new(90, "MASTER")
        } else {
            Inst::new(90, "BACKUP")
        };
        inst.advert_int = adv.into();
        inst.version = version;
        inst.nopreempt = i == B && !opts.both_master;
        inst.unicast = Some((addrs[i].clone(), vec![addrs[1 - i].clone()]));
        inst.extra = service_hooks(&c, me);
        if i == A {
            inst.extra.extend(opts.a_extra.iter().cloned());
        }
        let scripts = if i == A {
            inst.track_scripts = vec!["healthy".into()];
            let mut s = file_check("healthy", &check_file, interval, "");
            if opts.weight {
                inst.track_scripts.push("weight".into());
                s += &file_check("weight", &weight_file, interval, "    weight -20\n");
            }
            s
        } else {
            String::new()
        };
        let text = conf(me, &scripts, &[&inst]);
        if linked {
            let state = c.path(&format!("state-{me}"));
            let mut bc = link_conf(&addrs[i], &addrs[1 - i], &state);
            if !opts.link.is_empty() {
                let mnt = c.path("mnt").display().to_string();
                let extra = opts.link.join("\n    ").replace("{mnt}", &mnt);
                bc = bc.replacen("\n}\n", &format!("\n    {extra}\n}}\n"), 1);
            }
            if !opts.global.is_empty() {
                bc.push_str(&format!(
                    "global {{\n    {}\n}}\n",
                    opts.global.join("\n    ")
                ));
            }
            c.start_baton(me, i, &text, &bc);
        } else {
            c.start(me, i, &text);
        }
        if i == A {
            c.d(A).wait_state("VI_1", "MASTER");
        }
    }
    if linked {
        approve_each_other(&c, A, B, &addrs[A], &addrs[B]);
    }
    let p = Pair {
        c,
        linked,
        check_file,
        weight_file,
        addrs,
    };
    // a holds the service, b does not.
    settle(&p, "start", A, 0);
    p
}

/// The stand-in's last line of `node` after `since`.
pub fn last_of<'a>(lines: &'a [HookLine], node: &str, since: u128) -> Option<&'a HookLine> {
    lines
        .iter()
        .filter(|l| l.node == node && l.ns >= since)
        .max_by_key(|l| l.ns)
}

/// Waits until `to` is MASTER with the VIP and its service started after `since` (its
/// last step a `notify_master` start_end), and the other node has no VIP, is not MASTER
/// (if it runs) and its last step after `since` ended a stop for leaving MASTER.
pub fn settle(p: &Pair, kind: &str, to: usize, since: u128) {
    let from = 1 - to;
    let c = &p.c;
    let what = format!(
        "{kind}: {} master with the service, {} stopped",
        NAMES[to], NAMES[from]
    );
    let mut ok = false;
    let start = std::time::Instant::now();
    while !ok {
        let lines = c.hooks();
        let started = last_of(&lines, NAMES[to], since).is_some_and(|l| {
            l.phase == "start_end" && l.args.first().is_some_and(|a| a == "notify_master")
        });
        let stopped = since == 0
            || last_of(&lines, NAMES[from], since).is_some_and(|l| {
                l.phase == "stop_end"
                    && ["notify_backup", "notify_fault", "notify_stop"]
                        .contains(&l.args.first().map(String::as_str).unwrap_or(""))
            });
        let mut from_d = c.daemons[from].try_status().is_some();
        if from_d {
            from_d = c.d(from).state("VI_1").as_deref() == Some("MASTER");
        }
        ok = started
            && stopped
            && !from_d
            && c.d(to).state("VI_1").as_deref() == Some("MASTER")
            && c.has_addr(to, VIP)
            && !c.has_addr(from, VIP);
        if !ok {
            assert!(
                start.elapsed() < DEADLINE * 2,
                "timed out waiting for {what}\n--- service log ---\n{}\n{}",
                std::fs::read_to_string(c.hook_log()).unwrap_or_default(),
                c.all_logs()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Overlap and gap of the two nodes' service intervals from `t0` to now, in ns (and now).
pub fn since(p: &Pair, t0: u128) -> (u128, u128, u128) {
    let t1 = super::now_ns();
    let lines = p.c.hooks();
    let intervals: Vec<_> = NAMES
        .iter()
        .map(|n| service_intervals(&lines, n, t1))
        .collect();
    let (overlap, gap) = overlap_gap(&intervals, t0, t1);
    (overlap, gap, t1)
}
