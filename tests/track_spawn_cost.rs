//! Benchmark, not a test: what one vrrp_script run costs the daemon (a 0.1 s interval
//! means ten of these a second).
//!
//! Run with `cargo test --release --test track_spawn_cost -- --ignored --nocapture`.
//! Starts `/bin/true` 200 times through the same path the tracker uses (new process
//! group, stdio on /dev/null, wait with timeout) and reports wall time per run and the
//! daemon-side CPU time (this process's utime+stime from /proc/self/stat, children
//! excluded). Nothing is asserted on time.

#![allow(clippy::unwrap_used)] // benchmark: a failed setup step should panic

use std::time::{Duration, Instant};

use baton::hooks::{Program, RunAs, RunOutcome};

fn own_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = stat.rsplit(')').next().unwrap();
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state is field 0, utime 11, stime 12.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn script_run_cost() {
    let program = Program::prepare(&["/bin/true".to_owned()], RunAs::current(), false).unwrap();
    let n = 200;
    let mut wall = Vec::with_capacity(n);
    let cpu0 = own_cpu_ticks();
    let t0 = Instant::now();
    for _ in 0..n {
        let start = Instant::now();
        let outcome = program
            .spawn(&[])
            .unwrap()
            .wait_timeout(Duration::from_secs(5))
            .await;
        assert_eq!(outcome, RunOutcome::Exited(0));
        wall.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let total = t0.elapsed();
    let cpu_ms = (own_cpu_ticks() - cpu0) as f64 * 10.0; // USER_HZ is 100 on Linux
    wall.sort_by(f64::total_cmp);
    println!(
        "vrrp_script run (/bin/true): n={n} median={:.3} ms p90={:.3} ms; daemon CPU {:.3} ms per run; {:.1} runs/s back to back",
        wall[n / 2],
        wall[n * 9 / 10],
        cpu_ms / n as f64,
        n as f64 / total.as_secs_f64()
    );
}
