//! The children register: what a killed baton left behind is killed at the next start,
//! but only if it is still the process that was recorded (a reused pid is never hit).
//! Real processes; one test binary, because the register is per process.

#![allow(clippy::unwrap_used)] // tests: a failed setup step should panic

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton::hooks::children;
use baton::hooks::{Program, RunAs};

/// A long sleep in a process group of its own, as baton starts checks and hooks;
/// killed when dropped, so a failing test leaves nothing behind.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sleeper() -> Sleeper {
    Sleeper(
        Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap(),
    )
}

/// Whether `child` has exited (reaps it if so).
fn exited_within(child: &mut Child, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn register_kills_recorded_groups_and_spares_reused_pids_and_counts_its_cost() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("baton.children");
    let mut left = sleeper();
    let mut stranger = sleeper();
    let left_pid = left.0.id();
    let stranger_pid = stranger.0.id();
    let left_start = children::start_time(left_pid).unwrap();
    let stranger_start = children::start_time(stranger_pid).unwrap();
    // As a killed run leaves it: the first is what it started; the second line has the
    // pid of a process that is not the one it started (another start time): reused.
    std::fs::write(
        &file,
        format!(
            "+{left_pid} {left_start}\n+{stranger_pid} {}\n",
            stranger_start + 1
        ),
    )
    .unwrap();
    let reaped = children::adopt_file(&file);
    assert_eq!(reaped.len(), 1, "{reaped:?}");
    assert_eq!(reaped[0].pgid, left_pid);
    assert_eq!(reaped[0].members, [(left_pid, "sleep".to_owned())]);
    assert!(exited_within(&mut left.0, Duration::from_secs(10)));
    assert!(
        !exited_within(&mut stranger.0, Duration::from_millis(200)),
        "a process that only shares a recorded pid was killed"
    );
    drop(stranger);
    // The file now holds this run's register: empty.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");

    // Every start and reap rewrites the file; what that costs per run of a check.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let program = Program::prepare(&["true".to_owned()], RunAs::current(), false).unwrap();
    let runs = 200;
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..runs {
            let running = program.spawn(&[]).unwrap();
            let text = std::fs::read_to_string(&file).unwrap();
            let last = text.lines().next_back().unwrap();
            assert!(last.starts_with(&format!("+{} ", running.pid)), "{last}");
            let outcome = running.wait_timeout(Duration::from_secs(10)).await;
            assert!(outcome.is_success());
        }
    });
    let with_file = started.elapsed();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.lines().next_back().unwrap().starts_with('-'), "{text}");
    assert_eq!(children::count(), 0);
    // The register's own part: one record and one removal (a /proc read, two writes).
    let me = std::process::id();
    let pairs = 2000;
    let started = Instant::now();
    for _ in 0..pairs {
        children::register(me);
        children::unregister(me);
    }
    let register = started.elapsed();
    // 4400 lines written in all: the journal has been compacted on the way.
    let lines = std::fs::read_to_string(&file).unwrap().lines().count();
    assert!(lines < 4096, "journal never compacted: {lines} lines");
    println!(
        "spawn + wait of `true` with the register file: {:.0} us per run ({runs} runs); \
         of which the register (record + remove): {:.0} us",
        with_file.as_secs_f64() * 1e6 / f64::from(runs),
        register.as_secs_f64() * 1e6 / f64::from(pairs)
    );
}
