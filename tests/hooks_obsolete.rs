//! Hooks that the instance has moved on from: a hung `notify_fault` must not hold the
//! next `notify_master` back for the whole notify timeout, and a hook is still bounded by
//! its timeout when nothing waits behind it. Real scripts, real process groups.

#![allow(clippy::unwrap_used)] // tests: a failed setup step should panic

mod common;

use common::hooks::{DEADLINE, cmd, finished, runner, script};
use std::path::Path;
use std::time::{Duration, SystemTime};

use baton::hooks::{
    HookKind, HookLimits, HookPhase, HookReport, HookSettings, Notify, NotifySpec, RunOutcome,
    Target,
};
use tokio::time::{Instant, sleep};

fn outcomes(reports: &[HookReport]) -> Vec<(HookKind, RunOutcome)> {
    reports
        .iter()
        .filter_map(|r| match &r.phase {
            HookPhase::Finished { outcome } => Some((r.kind, outcome.clone())),
            _ => None,
        })
        .collect()
}

fn started_at(reports: &[HookReport], kind: HookKind) -> SystemTime {
    reports
        .iter()
        .find(|r| r.kind == kind && matches!(r.phase, HookPhase::Started { .. }))
        .map(|r| r.at)
        .unwrap_or_else(|| panic!("{kind:?} never started: {reports:#?}"))
}

/// Whether a process is gone (or a zombie nobody will run again).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

async fn wait_gone(pid: i32, what: &str) {
    let end = Instant::now() + DEADLINE;
    while !gone(pid) {
        assert!(Instant::now() < end, "{what} (pid {pid}) is still running");
        sleep(Duration::from_millis(10)).await;
    }
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

async fn wait_file(path: &Path) {
    let end = Instant::now() + DEADLINE;
    while !path.exists() {
        assert!(Instant::now() < end, "{} never appeared", path.display());
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn hung_fault_hook_is_killed_after_the_grace_once_master_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // The hung hook also leaves a background child in its group: both must go.
    let fault = script(
        dir.path(),
        "fault.sh",
        &format!("sleep 1000 &\necho $! > {d}/child.pid\necho $$ > {d}/fault.pid\nwait"),
    );
    let master = script(dir.path(), "master.sh", "exit 0");
    let notify = script(
        dir.path(),
        "notify.sh",
        &format!("echo \"$3\" >> {d}/generic"),
    );
    let grace = Duration::from_millis(500);
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            fault: cmd(&fault),
            master: cmd(&master),
            notify: cmd(&notify),
            limits: HookLimits {
                timeout: Duration::from_secs(30),
                obsolete_grace: grace,
            },
            ..NotifySpec::default()
        },
    );
    hooks.enqueue(&vi, Notify::Fault, 0);
    wait_file(&dir.path().join("fault.pid")).await;
    let queued = SystemTime::now();
    hooks.enqueue(&vi, Notify::Master, 100);
    // fault (obsolete), master, generic notify for MASTER; the FAULT generic is skipped.
    let reports = finished(&mut rx, 3).await;
    assert_eq!(
        outcomes(&reports),
        [
            (HookKind::Fault, RunOutcome::Obsolete),
            (HookKind::Master, RunOutcome::Exited(0)),
            (HookKind::Generic, RunOutcome::Exited(0)),
        ]
    );
    let delay = started_at(&reports, HookKind::Master)
        .duration_since(queued)
        .unwrap();
    println!(
        "MASTER hook delay behind a hung FAULT hook (grace {grace:?}): {:.1} ms",
        delay.as_secs_f64() * 1000.0
    );
    assert!(delay >= grace, "the fault hook was not given its grace");
    assert!(
        delay < grace + Duration::from_secs(5),
        "notify_master waited {delay:?}, far past the grace"
    );
    wait_gone(
        read_pid(&dir.path().join("fault.pid")),
        "the hung notify_fault",
    )
    .await;
    wait_gone(
        read_pid(&dir.path().join("child.pid")),
        "the notify_fault's child",
    )
    .await;
    let generic = std::fs::read_to_string(dir.path().join("generic")).unwrap();
    assert_eq!(
        generic, "MASTER\n",
        "the obsolete FAULT's generic notify ran"
    );
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn obsolete_hook_that_ignores_sigterm_is_killed_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let fault = script(
        dir.path(),
        "fault.sh",
        &format!("trap '' TERM\necho $$ > {d}/fault.pid\nwhile :; do sleep 1; done"),
    );
    let backup = script(dir.path(), "backup.sh", "exit 0");
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            fault: cmd(&fault),
            backup: cmd(&backup),
            limits: HookLimits {
                timeout: Duration::from_secs(30),
                obsolete_grace: Duration::from_millis(100),
            },
            ..NotifySpec::default()
        },
    );
    hooks.enqueue(&vi, Notify::Fault, 0);
    wait_file(&dir.path().join("fault.pid")).await;
    hooks.enqueue(&vi, Notify::Backup, 100);
    let reports = finished(&mut rx, 2).await;
    assert_eq!(
        outcomes(&reports),
        [
            (HookKind::Fault, RunOutcome::Obsolete),
            (HookKind::Backup, RunOutcome::Exited(0)),
        ]
    );
    wait_gone(
        read_pid(&dir.path().join("fault.pid")),
        "the TERM-proof hook",
    )
    .await;
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_lower_priority_report_does_not_cut_notify_master_short() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let master = script(
        dir.path(),
        "master.sh",
        &format!("touch {d}/master.started\nwhile [ ! -e {d}/go ]; do sleep 0.05; done"),
    );
    let rx_lower = script(dir.path(), "rx_lower.sh", "exit 0");
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            master: cmd(&master),
            master_rx_lower_pri: cmd(&rx_lower),
            limits: HookLimits {
                timeout: Duration::from_secs(30),
                obsolete_grace: Duration::from_millis(100),
            },
            ..NotifySpec::default()
        },
    );
    hooks.enqueue(&vi, Notify::Master, 100);
    wait_file(&dir.path().join("master.started")).await;
    hooks.enqueue(&vi, Notify::MasterRxLowerPri, 100);
    // Well past the grace: a transition would have killed notify_master by now.
    sleep(Duration::from_millis(600)).await;
    std::fs::write(dir.path().join("go"), "").unwrap();
    let reports = finished(&mut rx, 2).await;
    assert_eq!(
        outcomes(&reports),
        [
            (HookKind::Master, RunOutcome::Exited(0)),
            (HookKind::MasterRxLowerPri, RunOutcome::Exited(0)),
        ]
    );
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn notify_timeout_kills_a_hook_with_nothing_queued_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let master = script(
        dir.path(),
        "master.sh",
        &format!("echo $$ > {d}/master.pid\nsleep 1000"),
    );
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            master: cmd(&master),
            limits: HookLimits {
                timeout: Duration::from_millis(400),
                obsolete_grace: Duration::from_secs(2),
            },
            ..NotifySpec::default()
        },
    );
    hooks.enqueue(&vi, Notify::Master, 100);
    let reports = finished(&mut rx, 1).await;
    assert_eq!(
        outcomes(&reports),
        [(HookKind::Master, RunOutcome::TimedOut)]
    );
    wait_gone(
        read_pid(&dir.path().join("master.pid")),
        "the timed-out hook",
    )
    .await;
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn new_limits_apply_to_transitions_queued_after_they_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let master = script(dir.path(), "master.sh", "sleep 1000");
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let vi = Target::Instance("VI_1".into());
    let spec = |timeout| NotifySpec {
        master: cmd(&master),
        limits: HookLimits {
            timeout,
            obsolete_grace: Duration::from_secs(2),
        },
        ..NotifySpec::default()
    };
    hooks.set_notify(vi.clone(), spec(Duration::from_secs(600)));
    // As a reload does: the same target gets its scripts again, with a new timeout.
    hooks.set_notify(vi.clone(), spec(Duration::from_millis(300)));
    hooks.enqueue(&vi, Notify::Master, 100);
    let reports = finished(&mut rx, 1).await;
    assert_eq!(
        outcomes(&reports),
        [(HookKind::Master, RunOutcome::TimedOut)]
    );
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn each_instance_and_group_gets_its_limits_from_batons_file() {
    use baton::config::baton::Settings;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(
        &path,
        "vrrp_sync_group G { group { VI_1 VI_2 } }\n\
         vrrp_instance VI_1 { interface eth0\n virtual_router_id 1\n priority 100\n }\n\
         vrrp_instance VI_2 { interface eth0\n virtual_router_id 2\n priority 100\n }\n",
    )
    .unwrap();
    let mut config = baton::config::load(&path, &baton::config::LoadOptions::default())
        .unwrap()
        .config;
    let limits = |p: &baton::daemon::plan::Plan| -> Vec<HookLimits> {
        p.instances
            .iter()
            .map(|i| i.notify.limits)
            .chain(p.groups.iter().map(|g| g.notify.limits))
            .collect()
    };
    // Nothing written: the defaults.
    let plan = baton::daemon::plan::Plan::new(&config);
    assert_eq!(limits(&plan), [HookLimits::default(); 3]);
    // A global setting and an instance's own; a reload builds its plan the same way.
    config.baton.global.notify_obsolete_grace = Some(Duration::from_millis(500));
    config.baton.instances.insert(
        "VI_2".into(),
        Settings {
            notify_timeout: Some(Duration::from_secs(5)),
            ..Settings::default()
        },
    );
    let plan = baton::daemon::plan::Plan::new(&config);
    let half = Duration::from_millis(500);
    assert_eq!(
        limits(&plan),
        [
            HookLimits {
                timeout: Duration::from_secs(30),
                obsolete_grace: half
            },
            HookLimits {
                timeout: Duration::from_secs(5),
                obsolete_grace: half
            },
            HookLimits {
                timeout: Duration::from_secs(30),
                obsolete_grace: half
            },
        ]
    );
}
