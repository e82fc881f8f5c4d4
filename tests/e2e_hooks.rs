//! End-to-end: hooks and checks that outstay their welcome. A hung `notify_fault` must
//! not hold the service back after the next takeover; no check or hook outlives baton,
//! whether it is stopped (SIGTERM) or killed outright (SIGKILL, then restarted).

mod common;
mod e2e;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::netns::wait_for;
use e2e::{Cluster, DEADLINE, Inst, conf, file_check, ms};

/// What /proc says about a process: (process group, is a zombie).
fn proc_stat(pid: u32) -> Option<(u32, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let zombie = fields.first() == Some(&"Z");
    Some((fields.get(2)?.parse().ok()?, zombie))
}

/// Live (non-zombie) processes of process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&pid| proc_stat(pid).is_some_and(|(g, z)| g == pgid && !z))
                .collect()
        })
        .unwrap_or_default()
}

/// Kills the recorded process groups if the test fails before baton did.
struct GroupsGuard(PathBuf);

impl Drop for GroupsGuard {
    fn drop(&mut self) {
        for pgid in read_pids(&self.0) {
            if let Ok(raw) = i32::try_from(pgid) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(raw),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// First words of each line of a pid file (scripts append `$$ $!`).
fn read_pids(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// A script that records `$$ <child>` in `pids`, starts a long sleep in the background
/// (in its process group) and waits for it: a hung script with a child.
fn hung_script(c: &Cluster, name: &str, pids: &Path, log_as: Option<(&str, &str)>) -> PathBuf {
    let log = match log_as {
        Some((node, label)) => format!(
            "echo \"$(date +%s%N) {node} start {label}\" >> {}\n",
            c.hook_log().display()
        ),
        None => String::new(),
    };
    c.write_script(
        name,
        &format!(
            "#!/bin/sh\n{log}sleep 1000 &\necho \"$$ $!\" >> {}\nwait\n",
            pids.display()
        ),
    )
}

/// The FIFO reader stamps every line with the realtime clock: when baton wrote it.
fn fifo_stamper(c: &Cluster, out: &Path) -> PathBuf {
    c.write_script(
        "stamp.sh",
        &format!(
            "#!/bin/sh\nwhile read -r line; do echo \"$(date +%s%N) $line\" >> {}; done < \"$1\"\n",
            out.display()
        ),
    )
}

#[test]
fn hung_notify_fault_does_not_hold_back_notify_master() {
    let mut c = Cluster::new("e2e_hung_fault", 1);
    let up = c.path("up");
    std::fs::write(&up, "").expect("up file");
    let pids = c.path("fault.pids");
    let _guard = GroupsGuard(pids.clone());
    let fault = hung_script(&c, "fault.sh", &pids, Some(("a", "notify_fault")));
    let stamps = c.path("fifo.stamped");
    let stamper = fifo_stamper(&c, &stamps);
    let mut a = Inst::new(100, "BACKUP");
    a.track_scripts = vec!["chk".into()];
    a.extra = vec![
        format!("notify_fault {}", fault.display()),
        format!("notify_backup {}", c.hook("a", "notify_backup")),
        format!("notify_master {}", c.hook("a", "notify_master")),
    ];
    let text = conf("a", &file_check("chk", &up, "0.1", ""), &[&a]).replacen(
        "global_defs {",
        &format!(
            "global_defs {{\n    vrrp_notify_fifo {}\n    vrrp_notify_fifo_script {}",
            c.path("notify.fifo").display(),
            stamper.display()
        ),
        1,
    );
    c.start("a", 0, &text);
    c.d(0).wait_state("VI_1", "MASTER");
    c.wait_hook("a", &["notify_master"]);

    // The check fails: FAULT, and notify_fault hangs.
    std::fs::remove_file(&up).expect("rm up");
    c.d(0).wait_state("VI_1", "FAULT");
    wait_for(DEADLINE, "notify_fault started", || {
        !read_pids(&pids).is_empty()
    });
    let fault_pgid = read_pids(&pids)[0];

    // It recovers: BACKUP, then MASTER (alone on the link) while notify_fault still hangs.
    std::fs::write(&up, "").expect("up file");
    c.d(0).wait_state("VI_1", "MASTER");
    let master_line = "INSTANCE \"VI_1\" MASTER 100";
    wait_for(DEADLINE, "second MASTER fifo line", || {
        std::fs::read_to_string(&stamps)
            .unwrap_or_default()
            .matches(master_line)
            .count()
            >= 2
    });
    let became_master = std::fs::read_to_string(&stamps)
        .expect("stamps")
        .lines()
        .filter(|l| l.ends_with(master_line))
        .filter_map(|l| l.split_once(' ')?.0.parse::<u128>().ok())
        .next_back()
        .expect("stamp");
    // Within the default 2 s grace plus a margin (the bug: 30 s, the notify timeout).
    let hooks_end = std::time::Instant::now() + Duration::from_secs(8);
    let master_started = loop {
        let starts: Vec<u128> = c
            .hooks_of("a")
            .iter()
            .filter(|h| h.phase == "start" && h.args == ["notify_master"])
            .map(|h| h.ns)
            .collect();
        if starts.len() >= 2 {
            break starts[1];
        }
        assert!(
            std::time::Instant::now() < hooks_end,
            "notify_master did not run within the grace and a margin:\n{}",
            c.all_logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    println!(
        "MASTER hook delay behind a hung FAULT hook: {:.0} ms after the MASTER transition",
        ms(became_master, master_started)
    );

    // Order: notify_fault, then notify_backup, then notify_master, one at a time.
    let order: Vec<String> = c
        .hooks_of("a")
        .iter()
        .filter(|h| h.phase == "start")
        .map(|h| h.args.join(" "))
        .collect();
    assert_eq!(
        order,
        [
            "notify_backup",
            "notify_master",
            "notify_fault",
            "notify_backup",
            "notify_master"
        ],
        "{}",
        c.all_logs()
    );
    // The hung hook and its child are gone, and the log says why.
    assert_eq!(group_members(fault_pgid), Vec::<u32>::new());
    c.d(0)
        .wait_log("notify_fault made obsolete by BACKUP, killed after 2 s");
}

#[test]
fn check_left_running_by_a_killed_baton_is_killed_at_the_next_start() {
    let mut c = Cluster::new("e2e_orphan_check", 1);
    let pids = c.path("check.pids");
    let _guard = GroupsGuard(pids.clone());
    let check = hung_script(&c, "check.sh", &pids, None);
    let scripts = format!(
        "vrrp_script slow {{\n    script \"{}\"\n    interval 1\n    timeout 600\n}}\n",
        check.display()
    );
    let mut a = Inst::new(100, "BACKUP");
    a.track_scripts = vec!["slow".into()];
    c.start("a", 0, &conf("a", &scripts, &[&a]));
    wait_for(DEADLINE, "check started", || !read_pids(&pids).is_empty());
    let pgid = read_pids(&pids)[0];
    assert_eq!(group_members(pgid).len(), 2, "the check and its sleep");

    // A crash: nothing of baton runs to clean up, so the check lives on...
    c.dm(0).kill();
    assert_eq!(
        group_members(pgid).len(),
        2,
        "without a reaper the check survives SIGKILL"
    );
    // ...until baton starts again and finds it in its register.
    c.dm(0).restart();
    wait_for(DEADLINE, "left-over check killed", || {
        group_members(pgid).is_empty()
    });
    c.d(0).wait_log(&format!(
        "killed process group {pgid} left running by a previous baton"
    ));
    // The new run's own check is not touched by that.
    wait_for(DEADLINE, "new check started", || {
        read_pids(&pids).len() >= 2
    });
    let new = read_pids(&pids)[1];
    assert_ne!(new, pgid);
    assert_eq!(group_members(new).len(), 2, "the new run's check runs");
}

#[test]
fn sigterm_kills_the_whole_group_of_a_running_hook() {
    let mut c = Cluster::new("e2e_term_hook", 1);
    let pids = c.path("master.pids");
    let _guard = GroupsGuard(pids.clone());
    let master = hung_script(&c, "master.sh", &pids, None);
    let mut a = Inst::new(100, "BACKUP");
    a.extra = vec![
        format!("notify_master {}", master.display()),
        format!("notify_stop {}", c.hook("a", "notify_stop")),
    ];
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "notify_master started", || {
        !read_pids(&pids).is_empty()
    });
    let pgid = read_pids(&pids)[0];
    assert_eq!(group_members(pgid).len(), 2);
    assert_eq!(c.dm(0).term(), Some(0));
    assert_eq!(
        group_members(pgid),
        Vec::<u32>::new(),
        "the hook's group outlived baton:\n{}",
        c.all_logs()
    );
    // STOP still ran, after the hung notify_master was made obsolete by it.
    assert!(
        c.hooks_of("a")
            .iter()
            .any(|h| h.phase == "end" && h.args == ["notify_stop"]),
        "{}",
        c.all_logs()
    );
    assert!(
        c.d(0)
            .log_text()
            .contains("notify_master made obsolete by STOP, killed after 2 s")
    );
    assert!(
        !c.path("a.children").exists(),
        "a clean exit leaves no register"
    );
}

/// Reads a notify FIFO from a thread; the lines so far.
struct FifoLines(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl FifoLines {
    fn read(path: &Path) -> FifoLines {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        let path = path.to_owned();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let Ok(f) = std::fs::File::open(&path) else {
                return;
            };
            for l in std::io::BufReader::new(f).lines() {
                let Ok(l) = l else { break };
                sink.lock().expect("lock").push(l);
            }
        });
        FifoLines(lines)
    }

    fn wait(&self, n: usize) -> Vec<String> {
        wait_for(DEADLINE, &format!("{n} fifo lines"), || {
            self.0.lock().expect("lock").len() >= n
        });
        self.0.lock().expect("lock").clone()
    }
}

/// The lines keepalived 2.2.7 writes to its notify FIFO when an instance's effective
/// priority changes and `notify_priority_changes` (instance) or
/// `vrrp_notify_priority_changes` (global_defs) is set, as observed with a weighted
/// track_script flipped in a scratch namespace:
///     INSTANCE "<name>" MASTER_PRIORITY <new effective priority>   (instance is MASTER)
///     INSTANCE "<name>" BACKUP_PRIORITY <new effective priority>   (instance is BACKUP)
/// Notify scripts are not called for them.
fn priority_line(name: &str, state: &str, priority: u8) -> String {
    format!("INSTANCE \"{name}\" {state}_PRIORITY {priority}")
}

fn weighted_check(c: &Cluster, name: &str, weight: i32) -> (PathBuf, String) {
    let up = c.path(&format!("{name}.up"));
    std::fs::write(&up, "").expect("up file");
    let text = file_check(name, &up, "0.1", &format!("    weight {weight}\n"));
    (up, text)
}

#[test]
fn priority_changes_of_a_master_are_fifo_lines_like_keepalived() {
    let mut c = Cluster::new("e2e_prio_master", 1);
    let fifo = c.path("notify.fifo");
    let (up, check) = weighted_check(&c, "chk", -20);
    let mut a = Inst::new(100, "BACKUP").hooks(&c, "a");
    a.track_scripts = vec!["chk".into()];
    a.extra.push("notify_priority_changes".into());
    let text = conf("a", &check, &[&a]).replacen(
        "global_defs {",
        &format!("global_defs {{\n    vrrp_notify_fifo {}", fifo.display()),
        1,
    );
    c.start("a", 0, &text);
    wait_for(DEADLINE, "fifo created", || fifo.exists());
    let lines = FifoLines::read(&fifo);
    c.d(0).wait_state("VI_1", "MASTER");
    lines.wait(2);
    std::fs::remove_file(&up).expect("rm up");
    lines.wait(3);
    std::fs::write(&up, "").expect("up file");
    let got = lines.wait(4);
    assert_eq!(
        got,
        [
            "INSTANCE \"VI_1\" BACKUP 100".to_owned(),
            "INSTANCE \"VI_1\" MASTER 100".to_owned(),
            priority_line("VI_1", "MASTER", 80),
            priority_line("VI_1", "MASTER", 100),
        ],
        "{}",
        c.all_logs()
    );
    // No script hears of it: the generic notify saw the two transitions only.
    let generic: Vec<String> = c
        .hooks_of("a")
        .iter()
        .filter(|h| h.phase == "end" && h.args.first().map(String::as_str) == Some("notify"))
        .map(|h| h.args.join(" "))
        .collect();
    assert_eq!(
        generic,
        [
            "notify INSTANCE VI_1 BACKUP 100",
            "notify INSTANCE VI_1 MASTER 100"
        ]
    );
}

#[test]
fn global_priority_changes_cover_a_backup_and_nothing_without_the_setting() {
    let mut c = Cluster::new("e2e_prio_backup", 2);
    let fifo_a = c.path("a.fifo");
    let fifo_b = c.path("b.fifo");
    let (up_a, check_a) = weighted_check(&c, "chk_a", -30);
    let (up_b, check_b) = weighted_check(&c, "chk_b", -30);
    let mut a = Inst::new(100, "BACKUP");
    a.track_scripts = vec!["chk_a".into()];
    let mut b = Inst::new(200, "BACKUP");
    b.track_scripts = vec!["chk_b".into()];
    // a asks for priority lines globally; b does not ask at all.
    let text_a = conf("a", &check_a, &[&a]).replacen(
        "global_defs {",
        &format!(
            "global_defs {{\n    vrrp_notify_fifo {}\n    vrrp_notify_priority_changes",
            fifo_a.display()
        ),
        1,
    );
    let text_b = conf("b", &check_b, &[&b]).replacen(
        "global_defs {",
        &format!("global_defs {{\n    vrrp_notify_fifo {}", fifo_b.display()),
        1,
    );
    c.start("b", 1, &text_b);
    wait_for(DEADLINE, "fifo created", || fifo_b.exists());
    let lines_b = FifoLines::read(&fifo_b);
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("a", 0, &text_a);
    wait_for(DEADLINE, "fifo created", || fifo_a.exists());
    let lines_a = FifoLines::read(&fifo_a);
    c.d(1).wait_state("VI_1", "BACKUP");
    lines_a.wait(1);
    std::fs::remove_file(&up_a).expect("rm up");
    lines_a.wait(2);
    std::fs::write(&up_a, "").expect("up file");
    let got = lines_a.wait(3);
    assert_eq!(
        got,
        [
            "INSTANCE \"VI_1\" BACKUP 100".to_owned(),
            priority_line("VI_1", "BACKUP", 70),
            priority_line("VI_1", "BACKUP", 100),
        ],
        "{}",
        c.all_logs()
    );
    // b's priority moves too (200 -> 170, still master), but b did not ask.
    std::fs::remove_file(&up_b).expect("rm up");
    wait_for(DEADLINE, "b's lower priority in its status", || {
        c.d(0)
            .instance("VI_1")
            .is_some_and(|i| i["effective_priority"] == 170)
    });
    // Protocol time for a line to arrive, had one been owed.
    c.d(1).hear_adverts("VI_1", 3);
    assert_eq!(
        lines_b.wait(2),
        [
            "INSTANCE \"VI_1\" BACKUP 200".to_owned(),
            "INSTANCE \"VI_1\" MASTER 200".to_owned()
        ]
    );
}

#[test]
fn notify_timeout_from_batons_file_bounds_a_hook_and_a_reload_changes_it() {
    let mut c = Cluster::new("e2e_hook_timeout", 1);
    let up = c.path("up");
    std::fs::write(&up, "").expect("up file");
    let master_pids = c.path("master.pids");
    let fault_pids = c.path("fault.pids");
    let _g1 = GroupsGuard(master_pids.clone());
    let _g2 = GroupsGuard(fault_pids.clone());
    let master = hung_script(&c, "master.sh", &master_pids, None);
    let fault = hung_script(&c, "fault.sh", &fault_pids, None);
    let mut a = Inst::new(100, "BACKUP");
    a.track_scripts = vec!["chk".into()];
    a.extra = vec![
        format!("notify_master {}", master.display()),
        format!("notify_fault {}", fault.display()),
    ];
    c.start_baton(
        "a",
        0,
        &conf("a", &file_check("chk", &up, "0.1", ""), &[&a]),
        "instance VI_1 {\n    notify_timeout 1\n}\n",
    );
    c.d(0).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "notify_master started", || {
        !read_pids(&master_pids).is_empty()
    });
    let pgid = read_pids(&master_pids)[0];
    // Nothing is queued behind it: the timeout from baton's file ends it, not 30 s.
    c.d(0).wait_log("notify_master timed out, killed after 1 s");
    assert_eq!(group_members(pgid), Vec::<u32>::new());
    c.assert_state(0, "VI_1", "MASTER");

    // A reload applies a changed timeout to the hooks that follow it.
    let baton_conf = c.path("a.baton.conf");
    std::fs::write(&baton_conf, "instance VI_1 {\n    notify_timeout 2\n}\n").expect("baton conf");
    c.d(0).signal(nix::sys::signal::Signal::SIGHUP);
    c.d(0).wait_log("configuration reloaded");
    std::fs::remove_file(&up).expect("rm up");
    c.d(0).wait_state("VI_1", "FAULT");
    wait_for(DEADLINE, "notify_fault started", || {
        !read_pids(&fault_pids).is_empty()
    });
    let pgid = read_pids(&fault_pids)[0];
    c.d(0).wait_log("notify_fault timed out, killed after 2 s");
    assert_eq!(group_members(pgid), Vec::<u32>::new());
}
