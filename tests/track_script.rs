//! vrrp_script tracking with real processes: rise/fall counting, sub-second intervals,
//! timeouts that kill the whole process group, script security, user switch.

#![allow(clippy::unwrap_used)] // tests: a failed setup step should panic

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton::hooks::RunAs;
use baton::proto::TrackStatus;
use baton::track::{ScriptSettings, ScriptSpec, TrackEvent, TrackSpecs, Tracker};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::{Instant, sleep};

const DEADLINE: Duration = Duration::from_secs(20);

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A script that exits with the n-th value of `seq` on its n-th run (the last value
/// repeats), counting its runs in `count`.
fn sequence_script(dir: &Path, seq: &[i32]) -> PathBuf {
    let text: String = seq.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(dir.join("seq"), text).unwrap();
    let d = dir.display();
    write_script(
        dir,
        "check.sh",
        &format!(
            "n=$(cat {d}/count 2>/dev/null || echo 0)\n\
             n=$((n+1))\n\
             echo $n > {d}/count.tmp && mv {d}/count.tmp {d}/count\n\
             v=$(sed -n \"${{n}}p\" {d}/seq)\n\
             [ -z \"$v\" ] && v=$(tail -n 1 {d}/seq)\n\
             exit $v"
        ),
    )
}

fn runs(dir: &Path) -> u32 {
    std::fs::read_to_string(dir.join("count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn spec(
    name: &str,
    script: &Path,
    interval_ms: u64,
    rise: u32,
    fall: u32,
    init_fail: bool,
) -> ScriptSpec {
    ScriptSpec {
        name: name.into(),
        argv: vec![script.display().to_string()],
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_secs(5),
        rise,
        fall,
        user: None,
        init_fail,
    }
}

fn settings(security: bool) -> ScriptSettings {
    ScriptSettings {
        script_user: RunAs::current(),
        script_security: security,
    }
}

fn start(specs: Vec<ScriptSpec>, security: bool) -> (Tracker, UnboundedReceiver<TrackEvent>) {
    let (tx, rx) = unbounded_channel();
    let t = Tracker::start(
        TrackSpecs {
            scripts: specs,
            ..TrackSpecs::default()
        },
        settings(security),
        tx,
    );
    (t, rx)
}

async fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

fn drain(rx: &mut UnboundedReceiver<TrackEvent>) -> Vec<TrackStatus> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e.status);
    }
    out
}

/// Runs `seq` through a script with the given counts and returns every status reported.
async fn statuses_for(
    seq: &[i32],
    interval_ms: u64,
    rise: u32,
    fall: u32,
    init_fail: bool,
) -> Vec<TrackStatus> {
    let dir = tempfile::tempdir().unwrap();
    let script = sequence_script(dir.path(), seq);
    let (tracker, mut rx) = start(
        vec![spec("seq", &script, interval_ms, rise, fall, init_fail)],
        false,
    );
    // Three runs past the end of the sequence: the last value repeats, so no more changes.
    let want = seq.len() as u32 + 3;
    wait_for(
        || runs(dir.path()) >= want,
        "the script to run through its sequence",
    )
    .await;
    tracker.stop().await;
    let statuses = drain(&mut rx);
    assert!(rx.try_recv().is_err(), "no events after stop");
    statuses
}

use TrackStatus::{Down, Up};

#[tokio::test(flavor = "current_thread")]
async fn fall_needs_consecutive_failures() {
    // Failures never come twice in a row: with fall 2 the script never goes down.
    let got = statuses_for(&[0, 1, 0, 1, 0, 1, 0], 20, 3, 2, false).await;
    assert_eq!(got, [Up]);
}

#[tokio::test(flavor = "current_thread")]
async fn rise_and_fall_counts_are_kept() {
    // run 2,3 fail -> Down; 4,5 ok, 6 fails (streak reset), 7,8,9 ok -> Up.
    let got = statuses_for(&[0, 1, 1, 0, 0, 1, 0, 0, 0], 20, 3, 2, false).await;
    assert_eq!(got, [Up, Down, Up]);
}

#[tokio::test(flavor = "current_thread")]
async fn init_fail_starts_down_and_needs_rise_successes() {
    let got = statuses_for(&[0, 1, 0, 0, 1, 0, 0], 20, 2, 2, true).await;
    assert_eq!(got, [Down, Up]);
}

#[tokio::test(flavor = "current_thread")]
async fn first_result_decides_like_keepalived() {
    // Without init_fail the script is reported Up before its first run, but a failing
    // first run brings it down at once, whatever `fall` says.
    let got = statuses_for(&[1, 0, 0, 0], 20, 3, 5, false).await;
    assert_eq!(got, [Up, Down, Up]);
}

#[tokio::test(flavor = "current_thread")]
async fn tenth_of_a_second_interval() {
    let seq = [0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0];
    let got = statuses_for(&seq, 100, 2, 2, false).await;
    assert_eq!(got, [Up, Down, Up, Down, Up]);
}

fn process_gone(pid: i32) -> bool {
    // Killed processes re-parented to a PID 1 that does not reap may linger as zombies.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn timed_out_script_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = write_script(
        dir.path(),
        "slow.sh",
        &format!("echo $$ > {d}/self.pid\nsleep 300 &\necho $! > {d}/child.pid\nwait"),
    );
    let mut s = spec("slow", &script, 60_000, 1, 1, false);
    s.timeout = Duration::from_millis(300);
    let (tracker, mut rx) = start(vec![s], false);
    let first = rx.recv().await.unwrap();
    assert_eq!(first.status, Up);
    let end = Instant::now() + DEADLINE;
    let down = tokio::time::timeout_at(end, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        down,
        TrackEvent {
            key: "script:slow".into(),
            status: Down
        }
    );
    let report = &tracker.script_reports()[0];
    assert_eq!(report.last, Some(baton::hooks::RunOutcome::TimedOut));
    let read_pid = |f: &str| -> i32 {
        std::fs::read_to_string(dir.path().join(f))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (me, child) = (read_pid("self.pid"), read_pid("child.pid"));
    wait_for(
        || process_gone(me) && process_gone(child),
        "script and its child to die",
    )
    .await;
    tracker.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn stop_kills_a_running_script() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = write_script(
        dir.path(),
        "hang.sh",
        &format!("sleep 300 &\necho $! > {d}/child.pid\nwait"),
    );
    let (tracker, _rx) = start(vec![spec("hang", &script, 60_000, 1, 1, false)], false);
    wait_for(
        || std::fs::read_to_string(dir.path().join("child.pid")).is_ok_and(|s| s.ends_with('\n')),
        "child",
    )
    .await;
    let child: i32 = std::fs::read_to_string(dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    tracker.stop().await;
    wait_for(|| process_gone(child), "the child to die after stop").await;
}

#[tokio::test(flavor = "current_thread")]
async fn script_security_refuses_world_writable_script() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = write_script(
        dir.path(),
        "ww.sh",
        &format!("touch {}/ran", dir.path().display()),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut s = spec("ww", &script, 20, 1, 1, false);
    s.user = Some(RunAs { uid: 0, gid: 0 });
    let (tracker, mut rx) = start(vec![s], true);
    assert_eq!(rx.recv().await.unwrap().status, Up);
    wait_for(
        || tracker.script_reports()[0].disabled.is_some(),
        "the script to be disabled",
    )
    .await;
    let reason = tracker.script_reports()[0].disabled.clone().unwrap();
    assert!(reason.contains("writable by everyone"), "{reason}");
    // A disabled script is never started.
    assert_eq!(tracker.script_reports()[0].runs, 0);
    assert!(!dir.path().join("ran").exists());
    tracker.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn script_runs_as_configured_user() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = baton::hooks::exec::resolve_user("nobody", None).unwrap();
    let script = write_script(
        dir.path(),
        "who.sh",
        &format!("[ \"$(id -u)\" = {} ]", nobody.uid),
    );
    // As root the check fails, as nobody it succeeds.
    let as_root = spec("root", &script, 20, 1, 1, false);
    let mut as_nobody = spec("nobody", &script, 20, 1, 1, false);
    as_nobody.user = Some(nobody);
    let (tracker, mut rx) = start(vec![as_root, as_nobody], false);
    wait_for(
        || tracker.script_reports().iter().all(|r| r.runs >= 3),
        "three runs each",
    )
    .await;
    tracker.stop().await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push((e.key, e.status));
    }
    assert!(events.contains(&("script:root".into(), Down)), "{events:?}");
    assert!(
        !events.contains(&("script:nobody".into(), Down)),
        "{events:?}"
    );
}
