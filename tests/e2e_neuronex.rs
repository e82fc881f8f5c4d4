//! End-to-end: the NeuronEX master/backup pair from the user's guide, run as written
//! (examples/neuronex/{master,backup}.conf with contrib/neuronex/*.sh). Only the node
//! addresses and the script directory are rewritten; `systemctl` and `logger` are stubs
//! (through the scripts' own NEURONEX_PATH knob) that record what the hooks did, and
//! "NeuronEX" on the master is a tiny HTTP responder on 127.0.0.1:8085 in its namespace.

mod common;
mod e2e;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::netns::wait_for;
use e2e::{Cluster, DEADLINE, HookLine, ms, now_ns, parse_hooks};

const VIP: &str = "192.160.127.254";

/// Answers HTTP 200 on 127.0.0.1:8085 inside a namespace until dropped.
struct FakeNeuronEx {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeNeuronEx {
    fn start(c: &Cluster, ns: &str) -> FakeNeuronEx {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = c.net.spawn(ns, move || {
            let l = TcpListener::bind("127.0.0.1:8085").expect("bind 8085");
            l.set_nonblocking(true).expect("nonblocking");
            ready_tx.send(()).expect("ready");
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                        let mut buf = [0u8; 1024];
                        let _ = s.read(&mut buf);
                        let _ = s.write_all(
                            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ready_rx
            .recv_timeout(DEADLINE)
            .expect("fake NeuronEX listening");
        FakeNeuronEx {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeNeuronEx {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The example config with the guide's node addresses replaced by the test nodes' and
/// /etc/keepalived/ by the directory holding the copied scripts; nothing else changes.
fn rewrite(example: &str, scripts: &Path) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/examples/neuronex/{example}"))
        .expect("example config");
    assert!(text.contains("10.0.0.127") || text.contains("10.0.0.223"));
    text.replace("10.0.0.127", "10.0.0.1")
        .replace("10.0.0.223", "10.0.0.2")
        .replace("/etc/keepalived/", &format!("{}/", scripts.display()))
}

fn refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn systemctl_calls(c: &Cluster, node: &str) -> Vec<HookLine> {
    parse_hooks(&std::fs::read_to_string(c.path("neuronex.log")).unwrap_or_default())
        .into_iter()
        .filter(|h| h.node == node && h.phase == "systemctl")
        .collect()
}

/// Waits for the `n`th (1-based) `systemctl ACTION` made by `node`'s hooks; its time.
fn wait_systemctl(c: &Cluster, node: &str, action: &str, n: usize) -> u128 {
    let find = || {
        systemctl_calls(c, node)
            .into_iter()
            .filter(|h| h.args.first().map(String::as_str) == Some(action))
            .nth(n - 1)
    };
    wait_for(
        DEADLINE,
        &format!("{node}: systemctl {action} #{n}"),
        || find().is_some(),
    );
    let h = find().expect("found");
    assert_eq!(h.args, [action, "--", "neuronex.service"]);
    h.ns
}

/// The pair as the guide sets it up: NeuronEX answering on the master, master started
/// (MASTER, master.sh ran), then the backup (BACKUP, backup.sh ran).
fn guide_pair(test: &str, wait_limit: Duration) -> (Cluster, FakeNeuronEx) {
    let mut c = Cluster::new(test, 2);
    // The contrib scripts, unchanged, next to each other as in /etc/keepalived.
    let nx = c.path("nx");
    std::fs::create_dir(&nx).expect("mkdir nx");
    let root = env!("CARGO_MANIFEST_DIR");
    for entry in std::fs::read_dir(format!("{root}/contrib/neuronex")).expect("contrib") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "sh") {
            std::fs::copy(&p, nx.join(p.file_name().expect("name"))).expect("copy script");
        }
    }
    // Stubs: systemctl marks NeuronEX running / stopped per node, then logs the call
    // (stamped when it began): a logged call has taken effect. logger goes to a file.
    let stub = c.path("stub");
    std::fs::create_dir(&stub).expect("mkdir stub");
    let log = c.path("neuronex.log");
    c.write_script(
        "stub/systemctl",
        &format!(
            "#!/bin/sh\nt=$(date +%s%N)\n\
             case \"$1\" in\n  start) touch {dir}/running-$BATON_TEST_NODE ;;\n  stop) rm -f {dir}/running-$BATON_TEST_NODE ;;\nesac\n\
             echo \"$t $BATON_TEST_NODE systemctl $*\" >> {log}\n",
            log = log.display(),
            dir = c.dir.path().display()
        ),
    );
    c.write_script(
        "stub/logger",
        &format!(
            "#!/bin/sh\necho \"$(date +%s%N) $BATON_TEST_NODE logger $*\" >> {}\n",
            log.display()
        ),
    );
    let path = format!("{}:/usr/bin:/bin:/usr/sbin:/sbin", stub.display());
    let env_file = c.path("neuronex.env");
    let env = |node: &str| -> Vec<(String, String)> {
        vec![
            ("NEURONEX_PATH".into(), path.clone()),
            ("NEURONEX_ENV_FILE".into(), env_file.display().to_string()),
            (
                "NEURONEX_STATE_DIR".into(),
                c.path(&format!("state-{node}")).display().to_string(),
            ),
        ]
    };
    let em = env("master");
    let eb = env("backup");
    let master_conf = rewrite("master.conf", &nx);
    let backup_conf = rewrite("backup.conf", &nx);

    let neuronex = FakeNeuronEx::start(&c, &c.net.node(0).ns.clone());
    c.start_env("master", 0, &master_conf, &refs(&em));
    c.d(0).wait_state_within("VI_1", "MASTER", wait_limit);
    c.wait_addr(0, VIP, true);
    // master.sh ran on the master: NeuronEX started there.
    wait_systemctl(&c, "master", "start", 1);
    assert!(c.path("running-master").exists());

    c.start_env("backup", 1, &backup_conf, &refs(&eb));
    c.d(1).wait_state("VI_1", "BACKUP");
    wait_systemctl(&c, "backup", "stop", 1);
    assert!(!c.path("running-backup").exists());
    assert!(!c.has_addr(1, VIP));
    wait_for(DEADLINE, "backup names the master", || {
        c.d(1).instance("VI_1").expect("status")["master"] == "10.0.0.1"
    });

    (c, neuronex)
}

#[test]
fn neuronex_guide_pair_fails_over_and_back() {
    let (mut c, _neuronex) = guide_pair("e2e_neuronex", DEADLINE);

    // Master host dies: the backup takes over and its master.sh starts NeuronEX.
    let t0 = now_ns();
    c.dm(0).kill();
    c.d(1).wait_state("VI_1", "MASTER");
    let started = wait_systemctl(&c, "backup", "start", 1);
    eprintln!(
        "FIGURE NeuronEX guide pair: master SIGKILL -> backup systemctl start: {:.0} ms",
        ms(t0, started)
    );
    assert!(c.path("running-backup").exists());
    c.wait_addr(1, VIP, true);

    // Master comes back (NeuronEX still answering there): it preempts, the backup's
    // backup.sh stops its NeuronEX.
    let t1 = now_ns();
    c.dm(0).restart();
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    let stopped = wait_systemctl(&c, "backup", "stop", 2);
    eprintln!(
        "FIGURE NeuronEX guide pair: master restart -> backup systemctl stop: {:.0} ms (both running meanwhile)",
        ms(t1, stopped)
    );
    assert!(!c.path("running-backup").exists());
    assert!(c.path("running-master").exists());
    c.wait_addr(0, VIP, true);
    c.wait_addr(1, VIP, false);
    // Exactly the hooks the guide's configs name ran, and nothing failed.
    let backup_calls: Vec<String> = systemctl_calls(&c, "backup")
        .iter()
        .map(|h| h.args[0].clone())
        .collect();
    assert_eq!(backup_calls, ["stop", "start", "stop"], "{}", c.all_logs());
}

#[test]
fn neuronex_dies_on_the_master_then_comes_back() {
    // The guide's check runs every 5 s and needs 3 failures: up to 15 s (+ a run).
    let slow = Duration::from_secs(25);
    let (c, neuronex) = guide_pair("e2e_neuronex_dies", DEADLINE);
    let t0 = now_ns();
    drop(neuronex); // NeuronEX stops answering on 127.0.0.1:8085.
    c.d(0).wait_state_within("VI_1", "FAULT", slow);
    c.d(1).wait_state("VI_1", "MASTER");
    // fault.sh stopped the master's NeuronEX, master.sh started the backup's.
    wait_systemctl(&c, "master", "stop", 1);
    let started = wait_systemctl(&c, "backup", "start", 1);
    eprintln!(
        "FIGURE NeuronEX guide pair: NeuronEX dies on master -> backup systemctl start: {:.0} ms (check interval 5 fall 3)",
        ms(t0, started)
    );
    assert!(!c.path("running-master").exists());
    assert!(c.path("running-backup").exists());
    c.wait_addr(1, VIP, true);
    c.wait_addr(0, VIP, false);

    // The operator brings NeuronEX back on the master: the check passes, the master
    // preempts, the backup's backup.sh stops its copy. The master's config has no
    // notify_backup, and only notify_master starts NeuronEX (the operator did).
    let _again = FakeNeuronEx::start(&c, &c.net.node(0).ns.clone());
    c.d(0).wait_state_within("VI_1", "MASTER", slow);
    c.d(1).wait_state("VI_1", "BACKUP");
    wait_systemctl(&c, "backup", "stop", 2);
    wait_systemctl(&c, "master", "start", 2);
    assert!(!c.path("running-backup").exists());
    assert!(c.path("running-master").exists());
    c.wait_addr(0, VIP, true);
    c.wait_addr(1, VIP, false);
}
