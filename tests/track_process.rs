//! vrrp_track_process against real processes: a copy of `sleep` under a name unique to
//! this test run, counted against quorum and quorum_max.

#![allow(clippy::unwrap_used)] // tests: a failed setup step should panic

use std::process::{Child, Command};
use std::time::Duration;

use baton::hooks::RunAs;
use baton::proto::TrackStatus;
use baton::track::{ProcessSpec, ScriptSettings, TrackEvent, TrackSpecs, Tracker};
use tokio::sync::mpsc::UnboundedReceiver;

const DEADLINE: Duration = Duration::from_secs(20);

async fn next(rx: &mut UnboundedReceiver<TrackEvent>) -> TrackStatus {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("no track event before the deadline")
        .expect("channel closed")
        .status
}

/// Starts the copied executable. Another test thread may fork while the copy's write
/// descriptor is still open in this process (it is close-on-exec, but a forked child
/// holds it until its own exec), which makes exec fail with ETXTBSY for a moment: retry.
fn spawn(exe: &std::path::Path, arg: &str) -> Child {
    for _ in 0..100 {
        match Command::new(exe).arg(arg).spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
    panic!("{} stayed busy", exe.display());
}

struct Reap(Vec<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn quorum_and_quorum_max() {
    let dir = tempfile::tempdir().unwrap();
    // Process names are cut to 15 bytes by the kernel; keep ours shorter and unique.
    let name = format!("btq{}", std::process::id());
    let exe = dir.path().join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();

    let spec = ProcessSpec {
        name: "svc".into(),
        process: name.clone(),
        params: Vec::new(),
        param_match: None,
        full_command: false,
        quorum: 1,
        quorum_max: Some(1),
        fork_delay: Duration::ZERO,
        terminate_delay: Duration::ZERO,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tracker = Tracker::start(
        TrackSpecs {
            processes: vec![spec],
            ..TrackSpecs::default()
        },
        ScriptSettings {
            script_user: RunAs::current(),
            script_security: false,
        },
        tx,
    );
    let mut procs = Reap(Vec::new());
    assert_eq!(next(&mut rx).await, TrackStatus::Down, "none running");

    procs.0.push(spawn(&exe, "300"));
    assert_eq!(next(&mut rx).await, TrackStatus::Up, "one running");

    procs.0.push(spawn(&exe, "300"));
    assert_eq!(
        next(&mut rx).await,
        TrackStatus::Down,
        "two is above quorum_max"
    );

    let mut extra = procs.0.pop().unwrap();
    extra.kill().unwrap();
    extra.wait().unwrap();
    assert_eq!(next(&mut rx).await, TrackStatus::Up, "back to one");

    drop(procs);
    assert_eq!(next(&mut rx).await, TrackStatus::Down, "all gone");
    tracker.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn terminate_delay_rides_out_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("btr{}", std::process::id());
    let exe = dir.path().join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let spec = ProcessSpec {
        name: "svc".into(),
        // With parameters the command line is used: argv[0] must match exactly.
        process: exe.display().to_string(),
        params: vec!["301".into()],
        param_match: Some(baton::track::ParamMatch::Exact),
        full_command: false,
        quorum: 1,
        quorum_max: None,
        fork_delay: Duration::ZERO,
        terminate_delay: Duration::from_secs(3),
    };
    let mut procs = Reap(vec![spawn(&exe, "301")]);
    // A process with other parameters does not count.
    procs.0.push(spawn(&exe, "302"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tracker = Tracker::start(
        TrackSpecs {
            processes: vec![spec],
            ..TrackSpecs::default()
        },
        ScriptSettings {
            script_user: RunAs::current(),
            script_security: false,
        },
        tx,
    );
    assert_eq!(next(&mut rx).await, TrackStatus::Up);
    // Restart quickly: no Down is reported.
    let mut old = procs.0.remove(0);
    old.kill().unwrap();
    old.wait().unwrap();
    procs.0.push(spawn(&exe, "301"));
    // Let two scans see the restarted process (pacing only: nothing is asserted on time),
    // then stop it for good: Down after the delay.
    tokio::time::sleep(baton::track::process::POLL_INTERVAL * 2).await;
    let mut cur = procs.0.pop().unwrap();
    cur.kill().unwrap();
    cur.wait().unwrap();
    assert_eq!(next(&mut rx).await, TrackStatus::Down);
    assert!(rx.try_recv().is_err(), "exactly one change");
    tracker.stop().await;
}
