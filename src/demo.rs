//! `baton demo`: failover on one machine, with real processes, sockets and addresses.
//!
//! Builds three network namespaces (a LAN bridge and two hosts), runs this very binary
//! as a baton node in each host, then plays the failures users fear: the master host
//! dies, the master's service check fails, the master is stopped for maintenance. It
//! prints who was master when and how long each takeover took (from the failure to the
//! new master's notify hook), and removes everything, also on Ctrl-C. The two hosts are
//! linked (`link` module): they approve each other's key and each shows both in its
//! status; the takeovers are as fast as without the link.
//!
//! The lab is set up with the `ip` tool, like the test suite; baton itself moves the
//! virtual address through netlink.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};

use baton::control::{self, Request, Response, Status};

mod link;

const VIP: &str = "10.77.0.100";

/// One demo node: a namespace with a baton in it.
struct Node {
    name: &'static str,
    ns: String,
    priority: u8,
    conf: PathBuf,
    baton_conf: PathBuf,
    socket: PathBuf,
    service: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Everything the demo created; dropping it removes all of it.
struct Lab {
    namespaces: Vec<String>,
    dir: PathBuf,
    nodes: Vec<Node>,
    interrupted: Arc<AtomicBool>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (is iproute2 installed?)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn wall_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A timeline entry: nanoseconds since the epoch, who, what.
#[derive(Debug, Clone)]
struct Entry {
    at: u128,
    who: String,
    what: String,
}

pub fn run(advert_int: f64) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the demo builds network namespaces: run it as root");
    }
    if !(0.01..=2.0).contains(&advert_int) {
        bail!("--advert-int must be between 0.01 and 2 seconds");
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&interrupted))
            .context("installing the Ctrl-C handler")?;
    }
    let exe = std::env::current_exe().context("finding the baton binary")?;
    let tag = format!("baton-demo-{}", std::process::id());
    let dir = std::env::temp_dir().join(&tag);
    fs::create_dir_all(&dir)?;
    let mut lab = Lab {
        namespaces: Vec::new(),
        dir: dir.clone(),
        nodes: Vec::new(),
        interrupted,
    };
    build_network(&mut lab, &tag)?;
    let timeline = dir.join("timeline.log");
    let notify = dir.join("notify.sh");
    fs::write(
        &notify,
        format!(
            "#!/bin/sh\n# $1 = node, then keepalived's: INSTANCE name STATE priority\n\
             echo \"$(date +%s%N) $1 $4 $5\" >> {}\n",
            timeline.display()
        ),
    )?;
    set_mode(&notify, 0o755)?;
    let test = ["/usr/bin/test", "/bin/test"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("test");

    for (i, (name, priority)) in [("alpha", 150u8), ("beta", 100u8)].into_iter().enumerate() {
        let ns = lab.namespaces[i + 1].clone();
        let service = dir.join(format!("{name}.service-up"));
        fs::write(&service, "")?;
        let conf = dir.join(format!("{name}.conf"));
        fs::write(
            &conf,
            node_config(name, priority, advert_int, test, &service, &notify),
        )?;
        let (me, peer) = if i == 0 {
            ("10.77.0.1", "10.77.0.2")
        } else {
            ("10.77.0.2", "10.77.0.1")
        };
        let baton_conf = link::baton_conf(&dir, name, me, peer)?;
        lab.nodes.push(Node {
            name,
            ns,
            priority,
            baton_conf,
            socket: dir.join(format!("{name}.sock")),
            log: dir.join(format!("{name}.log")),
            conf,
            service,
            child: None,
        });
    }

    println!("baton demo: two hosts, alpha (priority 150) and beta (priority 100), share {VIP}");
    println!(
        "            VRRPv3, advert_int {advert_int}s; each host checks its service every 0.1s (fall 2)\n"
    );
    let mut events: Vec<Entry> = Vec::new();
    let mut results: Vec<(String, Option<f64>, String)> = Vec::new();
    let interval = Duration::from_secs_f64(advert_int);
    let down = |prio: u8| interval * 3 + interval.mul_f64((256.0 - f64::from(prio)) / 256.0);
    let skew = |prio: u8| interval.mul_f64((256.0 - f64::from(prio)) / 256.0);
    let patience = Duration::from_secs(10) + down(1) * 3;

    start(&mut lab, 0, &exe)?;
    start(&mut lab, 1, &exe)?;
    say(&mut events, "demo", "started alpha and beta");
    wait_master(&lab, 0, patience)?;
    println!("  alpha is MASTER and holds {VIP}");
    println!("  the two hosts trust each other's key (the link, TLS 1.3 on port 7411):");
    link::approve_each_other(&lab)?;
    let took = link::wait_linked(&lab, patience)?;
    say(&mut events, "demo", "alpha and beta linked");
    println!(
        "  linked {:.0} ms later; alpha's `baton status` shows both hosts:",
        ms(took)
    );
    link::show_status(&lab, 0);

    // 1. The master host dies.
    let t = kill(&mut lab, 0, true);
    say(&mut events, "demo", "alpha crashed (SIGKILL)");
    wait_master(&lab, 1, patience)?;
    results.push(takeover(
        "master crash (SIGKILL)",
        t,
        &timeline,
        "beta",
        format!("master-down interval {:.0} ms", ms(down(100))),
    ));
    print_last(&results);

    // 2. It comes back and, being preferred, takes over again.
    start(&mut lab, 0, &exe)?;
    say(&mut events, "demo", "alpha restarted");
    wait_master(&lab, 0, patience)?;
    println!("  alpha is back and MASTER again (preemption)");
    let took = link::wait_linked(&lab, patience)?;
    println!(
        "  the link came back by itself ({:.0} ms after alpha was MASTER again)",
        ms(took)
    );

    // 3. The master's service fails its check.
    let t = wall_ns();
    fs::remove_file(&lab.nodes[0].service)?;
    say(&mut events, "demo", "alpha's service stopped (check fails)");
    wait_master(&lab, 1, patience)?;
    results.push(takeover(
        "service check failed",
        t,
        &timeline,
        "beta",
        "2 checks x 0.1 s + skew".into(),
    ));
    print_last(&results);
    fs::write(&lab.nodes[0].service, "")?;
    say(&mut events, "demo", "alpha's service restored");
    wait_master(&lab, 0, patience)?;
    println!("  alpha's service is back: alpha is MASTER again");

    // 4. Maintenance: a clean stop hands over at once (priority 0).
    let t = kill(&mut lab, 0, false);
    say(
        &mut events,
        "demo",
        "alpha stopped for maintenance (SIGTERM)",
    );
    wait_master(&lab, 1, patience)?;
    results.push(takeover(
        "graceful stop (SIGTERM)",
        t,
        &timeline,
        "beta",
        format!("skew time {:.0} ms", ms(skew(100))),
    ));
    print_last(&results);
    if let Some(mut c) = lab.nodes[0].child.take() {
        let _ = c.wait();
    }
    kill(&mut lab, 1, false);
    if let Some(mut c) = lab.nodes[1].child.take() {
        let _ = c.wait();
    }

    println!("\nTimeline (hooks as they ran on each host, and what the demo did):");
    print!("{}", render_timeline(&timeline, &events));
    println!("\nTakeovers (failure → new master's notify hook started):");
    for (what, took, bound) in &results {
        match took {
            Some(t) => println!("  {what:<26} {t:>7.1} ms   (protocol bound: {bound})"),
            None => println!("  {what:<26}       ?     (no hook seen)"),
        }
    }
    println!("\nEverything the demo created has been removed.");
    Ok(())
}

fn build_network(lab: &mut Lab, tag: &str) -> anyhow::Result<()> {
    let lan = format!("{tag}-lan");
    ip(&["netns", "add", &lan])?;
    lab.namespaces.push(lan.clone());
    ip(&["-n", &lan, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &lan, "link", "set", "br0", "up"])?;
    for (i, host) in ["alpha", "beta"].into_iter().enumerate() {
        let ns = format!("{tag}-{host}");
        ip(&["netns", "add", &ns])?;
        lab.namespaces.push(ns.clone());
        let leg = format!("leg{i}");
        ip(&[
            "link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &leg, "netns",
            &lan,
        ])?;
        ip(&["-n", &lan, "link", "set", &leg, "master", "br0"])?;
        ip(&["-n", &lan, "link", "set", &leg, "up"])?;
        let addr = format!("10.77.0.{}/24", i + 1);
        ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
    }
    Ok(())
}

fn node_config(
    name: &str,
    priority: u8,
    advert_int: f64,
    test: &str,
    service: &Path,
    notify: &Path,
) -> String {
    format!(
        "! baton demo node {name}\n\
         global_defs {{\n    router_id {name}\n}}\n\
         vrrp_script chk_service {{\n    script \"{test} -e {service}\"\n    interval 0.1\n    fall 2\n    rise 2\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 77\n    \
         priority {priority}\n    advert_int {advert_int}\n    version 3\n    \
         virtual_ipaddress {{\n        {VIP}/24\n    }}\n    \
         track_script {{\n        chk_service\n    }}\n    \
         notify \"{notify} {name}\"\n}}\n",
        service = service.display(),
        notify = notify.display(),
    )
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn start(lab: &mut Lab, i: usize, exe: &Path) -> anyhow::Result<()> {
    let n = &mut lab.nodes[i];
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&n.log)?;
    let child = Command::new("ip")
        .args(["netns", "exec", &n.ns])
        .arg(exe)
        .arg("run")
        .arg("-f")
        .arg(&n.conf)
        .arg("--baton-conf")
        .arg(&n.baton_conf)
        .arg("--socket")
        .arg(&n.socket)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting baton for {}", n.name))?;
    n.child = Some(child);
    Ok(())
}

/// Stops a node (SIGKILL or SIGTERM) and returns the wall-clock time of the signal.
fn kill(lab: &mut Lab, i: usize, hard: bool) -> u128 {
    let n = &mut lab.nodes[i];
    let at = wall_ns();
    if let Some(c) = n.child.as_mut() {
        // `ip netns exec` execs baton, so the child's pid is baton's.
        let sig = if hard {
            nix::sys::signal::Signal::SIGKILL
        } else {
            nix::sys::signal::Signal::SIGTERM
        };
        if let Ok(pid) = i32::try_from(c.id()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
        }
        if hard {
            let _ = c.wait();
            n.child = None;
        }
    }
    at
}

fn status(lab: &Lab, i: usize) -> Option<Status> {
    match control::request(
        &lab.nodes[i].socket,
        &Request::Status,
        Duration::from_secs(1),
    ) {
        Ok(Response::Status(s)) => Some(*s),
        _ => None,
    }
}

/// Waits until node `i` reports MASTER (and the other does not).
fn wait_master(lab: &Lab, i: usize, patience: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        if lab.interrupted.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        let me = status(lab, i).is_some_and(|s| s.instances.iter().all(|x| x.state == "MASTER"));
        let other =
            status(lab, 1 - i).is_some_and(|s| s.instances.iter().any(|x| x.state == "MASTER"));
        if me && !other {
            return Ok(());
        }
        if Instant::now() > deadline {
            let n = &lab.nodes[i];
            let log = fs::read_to_string(&n.log).unwrap_or_default();
            bail!(
                "{} did not become MASTER within {:?} (priority {}); its log:\n{log}",
                n.name,
                patience,
                n.priority
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn read_timeline(path: &Path) -> Vec<Entry> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let at = w.next()?.parse().ok()?;
            let who = w.next()?.to_string();
            let what = w.collect::<Vec<_>>().join(" priority ");
            Some(Entry { at, who, what })
        })
        .collect()
}

fn takeover(
    what: &str,
    since: u128,
    timeline: &Path,
    new_master: &str,
    bound: String,
) -> (String, Option<f64>, String) {
    // The hook writes its line a moment after the node reports MASTER.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let took = read_timeline(timeline)
            .into_iter()
            .filter(|e| e.who == new_master && e.what.starts_with("MASTER") && e.at >= since)
            .map(|e| (e.at - since) as f64 / 1e6)
            .reduce(f64::min);
        if took.is_some() || Instant::now() > deadline {
            return (what.to_string(), took, bound);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn print_last(results: &[(String, Option<f64>, String)]) {
    if let Some((what, Some(t), _)) = results.last() {
        println!("  {what}: beta took over in {t:.1} ms");
    }
}

fn say(events: &mut Vec<Entry>, who: &str, what: &str) {
    events.push(Entry {
        at: wall_ns(),
        who: who.to_string(),
        what: what.to_string(),
    });
}

fn render_timeline(timeline: &Path, events: &[Entry]) -> String {
    let mut all = read_timeline(timeline);
    all.extend(events.iter().cloned());
    all.sort_by_key(|e| e.at);
    let t0 = all.first().map(|e| e.at).unwrap_or(0);
    let mut out = String::new();
    for e in &all {
        let rel = (e.at - t0) as f64 / 1e9;
        if e.who == "demo" {
            let _ = writeln!(out, "  {rel:>8.3}s  ---- {}", e.what);
        } else {
            let _ = writeln!(out, "  {rel:>8.3}s  {:<6} {}", e.who, e.what);
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
