//! The daemon's life around the protocol: systemd notifications and the static
//! addresses and routes it configures at start. (Interfaces coming and going, restored
//! and stale addresses and operator commands are in `e2e_operations.rs`.)
//!
//! Real `baton run` processes in test namespaces (see `e2e/mod.rs`).

mod common;
mod e2e;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::netns::wait_for;
use e2e::{Cluster, DEADLINE, Inst, conf};

/// READY with a status line, WATCHDOG at the asked period, RELOADING then READY around
/// SIGHUP, STOPPING on SIGTERM: what a `Type=notify` unit with `WatchdogSec` needs.
#[test]
fn systemd_notifications() {
    let mut c = Cluster::new("sdnotify", 1);
    let sock_path = c.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let path = sock_path.display().to_string();
    let a = Inst::new(150, "BACKUP");
    c.start_env(
        "a",
        0,
        &conf("a", "", &[&a]),
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "400000")],
    );
    let mut seen = Vec::new();
    let recv_until = |want: &str, seen: &mut Vec<String>| {
        wait_for(DEADLINE, want, || {
            let mut buf = [0u8; 512];
            if let Ok(n) = sock.recv(&mut buf) {
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            seen.iter().any(|m| m.lines().any(|l| l == want))
        });
    };
    recv_until("READY=1", &mut seen);
    assert!(
        seen.iter()
            .any(|m| m.lines().any(|l| l.starts_with("STATUS="))),
        "a STATUS line comes with READY: {seen:?}"
    );
    recv_until("WATCHDOG=1", &mut seen);

    seen.clear();
    c.d(0).signal(nix::sys::signal::Signal::SIGHUP);
    recv_until("RELOADING=1", &mut seen);
    recv_until("READY=1", &mut seen);
    let reload = seen.iter().position(|m| m.contains("RELOADING=1"));
    let ready = seen.iter().rposition(|m| m.contains("READY=1"));
    assert!(reload < ready, "READY follows RELOADING: {seen:?}");

    seen.clear();
    c.d(0).signal(nix::sys::signal::Signal::SIGTERM);
    recv_until("STOPPING=1", &mut seen);
    assert_eq!(c.dm(0).term_wait(), Some(0), "clean exit");
}

/// `static_ipaddress` and `static_routes` are put in place at start, whatever the
/// VRRP state, as keepalived does.
#[test]
fn static_addresses_and_routes_are_configured_at_start() {
    let mut c = Cluster::new("statics", 1);
    let a = Inst::new(100, "BACKUP");
    let statics = "static_ipaddress {\n    10.0.5.5/24 dev eth0\n}\n\
                   static_routes {\n    10.99.0.0/16 via 10.0.0.254 dev eth0\n}\n";
    c.start("a", 0, &conf("a", statics, &[&a]));
    let ns = c.net.node(0).ns.clone();
    wait_for(DEADLINE, "static address", || {
        c.net.find_addr(&ns, "eth0", "10.0.5.5").is_some()
    });
    wait_for(DEADLINE, "static route", || {
        c.net
            .ip(&ns, &["route", "show", "10.99.0.0/16"])
            .contains("via 10.0.0.254")
    });
}

/// The YAML form from `baton check --dump` runs the same daemon: the instance elects
/// itself and holds its address.
#[test]
fn yaml_dump_runs_as_is() {
    let mut c = Cluster::new("yaml_run", 1);
    let a = Inst::new(150, "BACKUP");
    let conf_path = c.path("keepalived.conf");
    std::fs::write(&conf_path, conf("a", "", &[&a])).expect("conf");
    let out = std::process::Command::new(e2e::BATON)
        .args(["check", "--dump", "-f"])
        .arg(&conf_path)
        .output()
        .expect("baton check --dump");
    assert!(out.status.success(), "{out:?}");
    let yaml = String::from_utf8(out.stdout).expect("utf-8");
    assert!(yaml.contains("virtual_router_id: 51"), "{yaml}");
    // Cluster::start writes NAME.conf; run the YAML under a .yaml name instead.
    let yaml_path = c.path("a.yaml");
    std::fs::write(&yaml_path, &yaml).expect("yaml");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.dm(0).kill();
    c.dm(0).conf = yaml_path;
    c.dm(0).restart();
    wait_for(DEADLINE, "status from the YAML run", || {
        c.d(0).try_status().is_some()
    });
    c.d(0).wait_state("VI_1", "MASTER");
    c.wait_addr(0, "10.0.0.100", true);
    assert!(
        c.d(0).log_text().contains("a.yaml"),
        "{}",
        c.d(0).log_text()
    );
}

/// Scripts find baton by its pid file, which is written before the engine listens for
/// signals: a reload or dump signal sent in that window must not end baton (the
/// default action of SIGHUP, SIGUSR1, SIGUSR2 and the real-time JSON signal).
#[test]
fn signals_right_after_the_pid_file_appears_do_not_end_baton() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let mut c = Cluster::new("early_sig", 1);
    let pid_file = c.path("a.pid");
    let started = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU32::new(0));
    let signaller = {
        let (started, sent) = (Arc::clone(&started), Arc::clone(&sent));
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + DEADLINE;
            while !started.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                let pid = std::fs::read_to_string(&pid_file).ok();
                let pid = pid.and_then(|p| p.trim().parse::<i32>().ok());
                if let Some(pid) = pid {
                    use nix::sys::signal::{Signal, kill};
                    let pid = nix::unistd::Pid::from_raw(pid);
                    for sig in [Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGHUP] {
                        if kill(pid, sig).is_ok() {
                            sent.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    // The JSON dump signal is a real-time one, which nix does not name.
                    let rt = format!("-{}", libc::SIGRTMIN() + 2);
                    let by_kill = std::process::Command::new("kill")
                        .args([rt.as_str(), &pid.to_string()])
                        .status();
                    if by_kill.is_ok_and(|s| s.success()) {
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let a = Inst::new(150, "BACKUP");
    c.start("a", 0, &conf("a", "", &[&a]));
    started.store(true, Ordering::SeqCst);
    signaller.join().expect("signaller");
    assert!(
        sent.load(Ordering::SeqCst) > 0,
        "no signal was sent before the socket answered"
    );
    c.d(0).wait_state("VI_1", "MASTER");
    assert!(c.dm(0).is_running(), "baton ended:\n{}", c.d(0).log_text());
}
