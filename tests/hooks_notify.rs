//! Notify hooks with real scripts: order under a burst, keepalived's arguments for the
//! generic notify, timeouts, user switch, script security, and the notify FIFO.

#![allow(clippy::unwrap_used)] // tests: a failed setup step should panic

mod common;

use common::hooks::{DEADLINE, cmd, finished, runner, script};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use baton::hooks::{
    FifoSpec, HookCmd, HookKind, HookLimits, HookPhase, HookSettings, Notify, NotifySpec, RunAs,
    RunOutcome, Target,
};
use tokio::time::{Instant, sleep};

/// A temp dir every user can enter (scripts may run as `nobody`).
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn burst_of_transitions_runs_in_order_without_overlap() {
    let dir = open_dir();
    let log = dir.path().join("log");
    let l = log.display();
    // Each hook logs its start and end around a short sleep, so an overlap would
    // interleave lines.
    let mk = |name: &str| {
        script(
            dir.path(),
            &format!("{name}.sh"),
            &format!("echo \"begin {name} $*\" >> {l}\nsleep 0.01\necho \"end {name} $*\" >> {l}"),
        )
    };
    let spec = NotifySpec {
        master: cmd(&mk("master")),
        backup: cmd(&mk("backup")),
        fault: cmd(&mk("fault")),
        notify: cmd(&mk("notify")),
        ..NotifySpec::default()
    };
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(vi.clone(), spec);
    let states = [Notify::Master, Notify::Backup, Notify::Fault];
    let mut expected = Vec::new();
    for i in 0..20u8 {
        let n = states[usize::from(i) % 3];
        let prio = 100 + i;
        hooks.enqueue(&vi, n, prio);
        let name = n.as_str().to_lowercase();
        let args = format!("INSTANCE VI_1 {} {prio}", n.as_str());
        expected.push(format!("begin {name} "));
        expected.push(format!("end {name} "));
        expected.push(format!("begin notify {args}"));
        expected.push(format!("end notify {args}"));
    }
    let reports = finished(&mut rx, 40).await;
    assert!(
        reports
            .iter()
            .all(|r| !matches!(&r.phase, HookPhase::Finished { outcome } if *outcome != RunOutcome::Exited(0))),
        "{reports:?}"
    );
    assert_eq!(lines(&log), expected);
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn generic_notify_gets_keepalived_arguments() {
    let dir = open_dir();
    let out = dir.path().join("args");
    let notify = script(
        dir.path(),
        "notify.sh",
        &format!("echo \"$*\" >> {}", out.display()),
    );
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let with_extra = Some(HookCmd {
        // Configured arguments come first, keepalived's four after them.
        argv: vec![notify.display().to_string(), "extra arg".into()],
        run_as: None,
    });
    let vi = Target::Instance("VI_1".into());
    let g1 = Target::Group("G1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            notify: cmd(&notify),
            ..NotifySpec::default()
        },
    );
    hooks.set_notify(
        g1.clone(),
        NotifySpec {
            notify: with_extra,
            ..NotifySpec::default()
        },
    );

    hooks.enqueue(&vi, Notify::Master, 100);
    finished(&mut rx, 1).await;
    hooks.enqueue(&g1, Notify::Backup, 150);
    finished(&mut rx, 1).await;
    hooks.enqueue(&vi, Notify::Fault, 0);
    finished(&mut rx, 1).await;
    hooks.enqueue(&vi, Notify::Stop, 100);
    finished(&mut rx, 1).await;
    assert_eq!(
        lines(&out),
        [
            "INSTANCE VI_1 MASTER 100",
            "extra arg GROUP G1 BACKUP 0",
            "INSTANCE VI_1 FAULT 0",
            "INSTANCE VI_1 STOP 100",
        ]
    );
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn hook_past_its_timeout_is_killed_and_the_queue_goes_on() {
    let dir = open_dir();
    let d = dir.path().display();
    let slow = script(
        dir.path(),
        "slow.sh",
        &format!("sleep 300 &\necho $! > {d}/child.pid\nwait"),
    );
    let next = script(dir.path(), "next.sh", &format!("touch {d}/next-ran"));
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            master: cmd(&slow),
            backup: cmd(&next),
            limits: HookLimits {
                timeout: Duration::from_millis(300),
                ..HookLimits::default()
            },
            ..NotifySpec::default()
        },
    );
    hooks.enqueue(&vi, Notify::Master, 100);
    hooks.enqueue(&vi, Notify::Backup, 100);
    let reports = finished(&mut rx, 2).await;
    let outcomes: Vec<_> = reports
        .iter()
        .filter_map(|r| match &r.phase {
            HookPhase::Finished { outcome } => Some((r.kind, outcome.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (HookKind::Master, RunOutcome::TimedOut),
            (HookKind::Backup, RunOutcome::Exited(0))
        ]
    );
    let child: i32 = std::fs::read_to_string(dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let end = Instant::now() + DEADLINE;
    loop {
        let gone = match std::fs::read_to_string(format!("/proc/{child}/stat")) {
            Err(_) => true,
            Ok(s) => s
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z')),
        };
        if gone {
            break;
        }
        assert!(
            Instant::now() < end,
            "the hook's child survived the timeout"
        );
        sleep(Duration::from_millis(10)).await;
    }
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn hook_runs_as_nobody() {
    let dir = open_dir();
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    std::fs::set_permissions(&outdir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = outdir.join("id");
    let who = script(dir.path(), "who.sh", &format!("id -u > {}", out.display()));
    let nobody = baton::hooks::exec::resolve_user("nobody", None).unwrap();
    let (mut hooks, mut rx) = runner(HookSettings::default());
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            master: Some(HookCmd {
                argv: vec![who.display().to_string()],
                run_as: Some(nobody),
            }),
            ..NotifySpec::default()
        },
    );
    hooks.enqueue(&vi, Notify::Master, 100);
    finished(&mut rx, 1).await;
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().trim(),
        nobody.uid.to_string()
    );
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn script_security_refuses_world_writable_hook() {
    let dir = open_dir();
    let ran = dir.path().join("ran");
    let bad = script(dir.path(), "bad.sh", &format!("touch {}", ran.display()));
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o777)).unwrap();
    let settings = HookSettings {
        script_user: RunAs { uid: 0, gid: 0 },
        script_security: true,
        ..HookSettings::default()
    };
    let (mut hooks, mut rx) = runner(settings);
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            master: cmd(&bad),
            ..NotifySpec::default()
        },
    );
    hooks.enqueue(&vi, Notify::Master, 100);
    let reports = finished(&mut rx, 1).await;
    match &reports[0].phase {
        HookPhase::Refused { reason } => {
            assert!(reason.contains("writable by everyone"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!ran.exists());

    // The same file, made safe, runs.
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            master: cmd(&bad),
            ..NotifySpec::default()
        },
    );
    hooks.enqueue(&vi, Notify::Master, 100);
    finished(&mut rx, 1).await;
    assert!(ran.exists());
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn script_security_checks_every_directory() {
    let dir = open_dir();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let s = script(&sub, "s.sh", "true");
    let root = RunAs { uid: 0, gid: 0 };
    assert_eq!(baton::hooks::check_script_security(&s, root), Ok(()));
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = baton::hooks::check_script_security(&s, root).unwrap_err();
    assert!(
        err.contains("sub") && err.contains("writable by everyone"),
        "{err}"
    );
    // Sticky directories (like /tmp) are fine.
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert_eq!(baton::hooks::check_script_security(&s, root), Ok(()));
    // A script that will not run as root is not checked.
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(
        baton::hooks::check_script_security(
            &s,
            RunAs {
                uid: 65534,
                gid: 65534
            }
        ),
        Ok(())
    );
}

#[tokio::test(flavor = "current_thread")]
async fn fifo_gets_one_line_per_transition() {
    let dir = open_dir();
    let fifo = dir.path().join("notify.fifo");
    let settings = HookSettings {
        fifos: vec![FifoSpec {
            path: fifo.clone(),
            script: None,
        }],
        ..HookSettings::default()
    };
    let (mut hooks, _rx) = runner(settings);
    // The runner created the FIFO; a reader opening now does not block (we hold a writer).
    let reader = std::fs::File::open(&fifo).unwrap();
    let vi = Target::Instance("VI_1".into());
    let g1 = Target::Group("G1".into());
    hooks.enqueue(&vi, Notify::Master, 100);
    hooks.enqueue(&g1, Notify::Backup, 100);
    hooks.enqueue(&vi, Notify::MasterRxLowerPri, 100);
    hooks.enqueue(&vi, Notify::Fault, 0);
    let got = tokio::task::spawn_blocking(move || {
        BufReader::new(reader)
            .lines()
            .take(4)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    });
    let got = tokio::time::timeout(DEADLINE, got).await.unwrap().unwrap();
    assert_eq!(
        got,
        [
            "INSTANCE \"VI_1\" MASTER 100",
            "GROUP \"G1\" BACKUP 0",
            "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 100",
            "INSTANCE \"VI_1\" FAULT 0",
        ]
    );
    hooks.shutdown(Duration::from_secs(5)).await;
    assert!(
        !fifo.exists(),
        "a FIFO baton created is removed on shutdown"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn fifo_without_reader_never_blocks() {
    let dir = open_dir();
    let fifo = dir.path().join("notify.fifo");
    let settings = HookSettings {
        fifos: vec![FifoSpec {
            path: fifo.clone(),
            script: None,
        }],
        ..HookSettings::default()
    };
    let (mut hooks, _rx) = runner(settings);
    let vi = Target::Instance("VI_1".into());
    // Far more than a pipe buffer holds: the excess is dropped and counted.
    for _ in 0..10_000 {
        hooks.enqueue(&vi, Notify::Backup, 100);
    }
    assert!(hooks.fifo_drops() > 0);
    hooks.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn fifo_script_reads_the_fifo() {
    let dir = open_dir();
    let fifo = dir.path().join("notify.fifo");
    let out = dir.path().join("seen");
    // The FIFO path arrives as the last argument.
    let reader = script(
        dir.path(),
        "reader.sh",
        &format!(
            "while read -r line; do echo \"$line\" >> {}; done < \"$1\"",
            out.display()
        ),
    );
    let settings = HookSettings {
        fifos: vec![FifoSpec {
            path: fifo.clone(),
            script: cmd(&reader),
        }],
        ..HookSettings::default()
    };
    let (mut hooks, mut rx) = runner(settings);
    let vi = Target::Instance("VI_1".into());
    hooks.enqueue(&vi, Notify::Master, 100);
    hooks.enqueue(&vi, Notify::Backup, 90);
    let end = Instant::now() + DEADLINE;
    while lines(&out).len() < 2 {
        assert!(Instant::now() < end, "reader never saw the lines");
        sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        lines(&out),
        [
            "INSTANCE \"VI_1\" MASTER 100",
            "INSTANCE \"VI_1\" BACKUP 90"
        ]
    );
    hooks.shutdown(Duration::from_secs(5)).await;
    // Closing the FIFO gives the reader EOF and it exits by itself.
    let reports: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert!(
        reports.iter().any(|r| r.kind == HookKind::FifoScript
            && r.phase
                == HookPhase::Finished {
                    outcome: RunOutcome::Exited(0)
                }),
        "{reports:?}"
    );
}
