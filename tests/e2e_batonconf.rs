//! End-to-end: a daemon started with baton's own file (`--baton-conf`). A reload with a
//! broken baton file is refused as a whole: the daemon keeps running its old config (a
//! keepalived.conf change made at the same time is not applied) and logs where the
//! problem is. A `--baton-conf` path that does not exist stops the start with a plain
//! message.

mod common;
mod e2e;

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{BATON, Cluster, Inst, conf};
use nix::sys::signal::Signal;

const GOOD: &str = "global {\n    notify_timeout 20\n}\ninstance VI_1 {\n    notify_timeout 5\n}\n";

#[test]
fn broken_baton_file_on_sighup_keeps_the_running_config() {
    let mut c = Cluster::new("e2e_bconf_hup", 1);
    let mut a = Inst::new(150, "BACKUP").hooks(&c, "a");
    a.vips = vec!["10.0.0.100/24".into()];
    let i = c.start_baton("a", 0, &conf("a", "", &[&a]), GOOD);
    c.d(i).wait_state("VI_1", "MASTER");
    c.wait_addr(0, "10.0.0.100", true);
    let a_trans = c.d(i).transitions("VI_1");

    // A second VIP in keepalived.conf and a typo in the baton file, in one reload.
    a.vips.push("10.0.0.101/24".into());
    std::fs::write(&c.d(i).conf, conf("a", "", &[&a])).expect("rewrite conf");
    let baton_conf = c
        .d(i)
        .baton_conf
        .clone()
        .expect("started with a baton file");
    std::fs::write(
        &baton_conf,
        "global {\n    notify_timeout 20\n}\ninstance VI_1 {\n    notify_timeot 5\n}\n",
    )
    .expect("break baton conf");
    c.d(i).signal(Signal::SIGHUP);
    c.d(i).wait_log("reload refused");
    let where_ = format!(
        "{}:5:5: error: unknown setting 'notify_timeot'",
        baton_conf.display()
    );
    assert!(c.d(i).log_text().contains(&where_), "{}", c.d(i).log_text());

    // Still running, still master, old VIP list, no transition.
    assert!(c.dm(i).is_running());
    c.assert_state(i, "VI_1", "MASTER");
    assert!(c.has_addr(0, "10.0.0.100"));
    assert!(
        !c.has_addr(0, "10.0.0.101"),
        "the refused reload added nothing"
    );
    assert_eq!(c.d(i).transitions("VI_1"), a_trans);

    // Fixed: the next reload takes both files.
    std::fs::write(&baton_conf, GOOD).expect("fix baton conf");
    c.d(i).signal(Signal::SIGHUP);
    c.d(i).wait_log("configuration reloaded");
    c.wait_addr(0, "10.0.0.101", true);
    c.assert_state(i, "VI_1", "MASTER");
}

#[test]
fn missing_explicit_baton_file_fails_at_start() {
    let c = Cluster::new("e2e_bconf_missing", 1);
    let a = Inst::new(150, "BACKUP").hooks(&c, "a");
    let confp = c.path("a.conf");
    std::fs::write(&confp, conf("a", "", &[&a])).expect("write conf");
    let missing = c.path("no-such.baton.conf");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &c.net.node(0).ns, BATON, "run", "-f"])
        .arg(&confp)
        .arg("--socket")
        .arg(c.path("a.sock"))
        .arg("--baton-conf")
        .arg(&missing)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run baton");
    // A daemon that started anyway would never exit: wait with a deadline, then kill it.
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > e2e::DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("baton run started although --baton-conf names no file");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).expect("read stderr");
    }
    let out = std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: err.into_bytes(),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}:1:1: error: cannot read {}: No such file or directory",
            missing.display(),
            missing.display()
        )),
        "{err}"
    );
    assert!(!c.has_addr(0, "10.0.0.100"));
}
