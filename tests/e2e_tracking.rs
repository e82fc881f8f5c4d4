//! End-to-end: tracked objects other than check scripts — track_file (weighted and
//! weight 0), track_interface on a second interface — and a stop while hooks are still
//! queued.

mod common;
mod e2e;

use common::netns::wait_for;
use e2e::{Cluster, DEADLINE, Inst, conf, hook_script};

const VIP: &str = "10.0.0.100";

fn prio(c: &Cluster, d: usize) -> serde_json::Value {
    c.d(d).instance("VI_1").expect("status")["effective_priority"].clone()
}

#[test]
fn track_file_weighted_and_weight_zero() {
    let mut c = Cluster::new("e2e_track_file", 2);
    let tf = c.path("tf");
    let tz = c.path("tz");
    std::fs::write(&tf, "0\n").expect("write");
    std::fs::write(&tz, "0\n").expect("write");
    let files = format!(
        "vrrp_track_file tf {{\n    file {}\n}}\nvrrp_track_file tz {{\n    file {}\n}}\n",
        tf.display(),
        tz.display()
    );
    let mut a = Inst::new(150, "BACKUP");
    a.extra
        .push("track_file {\n        tf weight 1\n        tz weight 0\n    }".into());
    let b = Inst::new(100, "BACKUP");
    c.start("a", 0, &conf("a", &files, &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");
    assert_eq!(prio(&c, 0), 150);

    // The value times the weight is added: -60 brings a to 90, below b.
    std::fs::write(&tf, "-60\n").expect("write");
    wait_for(DEADLINE, "priority 90", || prio(&c, 0) == 90);
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    c.wait_addr(1, VIP, true);
    c.wait_addr(0, VIP, false);
    std::fs::write(&tf, "10\n").expect("write");
    wait_for(DEADLINE, "priority 160", || prio(&c, 0) == 160);
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");

    // Weight 0: any non-zero value is a failure.
    std::fs::write(&tz, "1\n").expect("write");
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    std::fs::write(&tz, "0\n").expect("write");
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
}

#[test]
fn track_interface_down_means_fault() {
    let mut c = Cluster::new("e2e_track_if", 2);
    let a_ns = c.net.node(0).ns.clone();
    // A second interface (a veth pair inside a's namespace; no dummy module here).
    c.net.ip(
        &a_ns,
        &[
            "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink0p",
        ],
    );
    c.net.ip(&a_ns, &["link", "set", "uplink0p", "up"]);
    c.net.ip(&a_ns, &["link", "set", "uplink0", "up"]);
    let mut a = Inst::new(150, "BACKUP");
    a.extra
        .push("track_interface {\n        uplink0\n    }".into());
    let b = Inst::new(100, "BACKUP");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(1).wait_state("VI_1", "BACKUP");

    c.net.ip(&a_ns, &["link", "set", "uplink0", "down"]);
    c.d(0).wait_state("VI_1", "FAULT");
    c.d(1).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
    c.wait_addr(0, VIP, false);
    c.net.ip(&a_ns, &["link", "set", "uplink0", "up"]);
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, VIP, true);
}

#[test]
fn sigterm_with_hooks_queued_runs_them_all_then_stop() {
    let mut c = Cluster::new("e2e_term_queue", 2);
    // Slow hooks: BACKUP and MASTER hooks are still queued when SIGTERM arrives.
    c.write_script("hook.sh", &hook_script(&c.hook_log(), 300));
    let a = Inst::new(150, "BACKUP").hooks(&c, "a");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    let code = c.dm(0).term();
    assert_eq!(code, Some(0), "{}", c.all_logs());
    assert!(!c.has_addr(0, VIP));
    let runs: Vec<Vec<String>> = c
        .hooks_of("a")
        .iter()
        .filter(|h| h.phase == "end")
        .map(|h| h.args.clone())
        .collect();
    let want: Vec<Vec<String>> = [
        vec!["notify_backup"],
        vec!["notify", "INSTANCE", "VI_1", "BACKUP", "150"],
        vec!["notify_master"],
        vec!["notify", "INSTANCE", "VI_1", "MASTER", "150"],
        vec!["notify_stop"],
        vec!["notify", "INSTANCE", "VI_1", "STOP", "150"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(runs, want, "every queued hook ran, in order, before exit");
}
