//! Benchmark, not a test: time from `HookRunner::enqueue` to the notify script running.
//!
//! Run with `cargo test --release --test hooks_latency -- --ignored --nocapture`. The
//! script records bash's `$EPOCHREALTIME` (CLOCK_REALTIME, no extra exec) as its first
//! action; the enqueue time is `SystemTime::now()` right before `enqueue`. Also shown:
//! enqueue to `spawn` returning (the `Started` report). Nothing is asserted on time.

#![allow(clippy::unwrap_used)] // tests: a failed setup step should panic

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton::hooks::{HookCmd, HookPhase, HookRunner, HookSettings, Notify, NotifySpec, Target};

fn stats(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: n={} median={:.3} ms p90={:.3} ms min={:.3} ms max={:.3} ms",
        v.len(),
        at(0.5),
        at(0.9),
        v[0],
        v[v.len() - 1]
    );
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn enqueue_to_hook_started_latency() {
    let dir = tempfile::tempdir().unwrap();
    let stamp = dir.path().join("stamp");
    let hook = dir.path().join("master.sh");
    std::fs::write(
        &hook,
        format!("#!/bin/bash\necho $EPOCHREALTIME > {}\n", stamp.display()),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut hooks = HookRunner::new(HookSettings::default(), tx);
    let vi = Target::Instance("VI_1".into());
    hooks.set_notify(
        vi.clone(),
        NotifySpec {
            master: Some(HookCmd {
                argv: vec![hook.display().to_string()],
                run_as: None,
            }),
            ..NotifySpec::default()
        },
    );
    let (mut to_running, mut to_spawned) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let _ = std::fs::remove_file(&stamp);
        let enqueued = SystemTime::now();
        hooks.enqueue(&vi, Notify::Master, 100);
        loop {
            let r = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap()
                .unwrap();
            match r.phase {
                HookPhase::Started { .. } => {
                    to_spawned.push(r.at.duration_since(enqueued).unwrap().as_secs_f64() * 1e3)
                }
                HookPhase::Finished { .. } => break,
                other => panic!("{other:?}"),
            }
        }
        let text = std::fs::read_to_string(&stamp).unwrap();
        let ran: f64 = text.trim().parse().unwrap();
        let enq = enqueued.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        to_running.push((ran - enq) * 1e3);
    }
    stats(
        "enqueue -> hook script running ($EPOCHREALTIME)",
        to_running,
    );
    stats("enqueue -> spawn returned (Started report)", to_spawned);
    hooks.shutdown(Duration::from_secs(5)).await;
}
