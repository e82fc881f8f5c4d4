//! vrrp_script: run a check program every `interval`, kill it (with its process group)
//! after `timeout`, and turn exit codes into Up/Down with keepalived's rise/fall rules.
//!
//! Rules (keepalived.conf(5) and keepalived's behaviour): exit code 0 is a success,
//! anything else — another code, a signal, a timeout, a failed start — is a failure.
//! An Up script goes Down after `fall` consecutive failures; a Down script goes Up
//! after `rise` consecutive successes. Before its first run a script is "not yet known":
//! baton reports it Up, and the first result alone decides (one failure brings it Down,
//! exactly as keepalived's initial counter does). With `init_fail` it starts Down and
//! needs `rise` successes. A run is never started while the previous one still runs;
//! runs start every `interval` from the previous start, or right after a run that took
//! longer.
//!
//! A script that cannot be run at all (not found, not executable, refused by
//! `enable_script_security`) is disabled with a logged reason and never changes state,
//! which is what keepalived does with it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::MissedTickBehavior;

use super::{ScriptSettings, TrackEvent};
use crate::hooks::{Program, RunAs, RunOutcome};
use crate::proto::TrackStatus;

/// The shortest interval honoured; shorter ones are raised to it so a zero in the
/// configuration cannot turn into a busy loop.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// One `vrrp_script` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive successes that bring a Down script Up (0 is treated as 1).
    pub rise: u32,
    /// Consecutive failures that bring an Up script Down (0 is treated as 1).
    pub fall: u32,
    /// `user USER [GROUP]`; `None`: the global script user.
    pub user: Option<RunAs>,
    pub init_fail: bool,
}

/// What the control socket shows about a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptReport {
    pub name: String,
    pub status: TrackStatus,
    /// Result of the latest finished run, `None` before the first.
    pub last: Option<RunOutcome>,
    pub last_at: Option<SystemTime>,
    /// How many runs in a row had the same success/failure as the latest.
    pub consecutive: u32,
    pub runs: u64,
    /// Why the script is not run at all, if it is disabled.
    pub disabled: Option<String>,
    /// A run is going on now.
    pub running: bool,
    pub last_duration: Option<Duration>,
    /// Every run's duration, summed.
    pub total_duration: Duration,
}

/// The rise/fall counter, pure so it can be tested without processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    up: bool,
    /// No result yet and not `init_fail`: the first result decides.
    unknown: bool,
    /// Results in a row that go against the current state.
    streak: u32,
}

impl RiseFall {
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> RiseFall {
        RiseFall {
            rise: rise.max(1),
            fall: fall.max(1),
            up: !init_fail,
            unknown: !init_fail,
            streak: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Feeds one run's result; returns the new state if it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        if std::mem::take(&mut self.unknown) {
            self.streak = 0;
            if success {
                return None;
            }
            self.up = false;
            return Some(false);
        }
        if success == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.up { self.fall } else { self.rise };
        if self.streak >= needed {
            self.up = success;
            self.streak = 0;
            Some(self.up)
        } else {
            None
        }
    }
}

fn status_of(up: bool) -> TrackStatus {
    if up {
        TrackStatus::Up
    } else {
        TrackStatus::Down
    }
}

/// The life of one script: runs until the task is aborted (which kills a running check).
pub(crate) async fn run(
    spec: ScriptSpec,
    settings: ScriptSettings,
    events: UnboundedSender<TrackEvent>,
    report: Arc<Mutex<ScriptReport>>,
) {
    let key = format!("script:{}", spec.name);
    let mut rf = RiseFall::new(spec.rise, spec.fall, spec.init_fail);
    let _ = events.send(TrackEvent {
        key: key.clone(),
        status: status_of(rf.is_up()),
    });
    let run_as = spec.user.unwrap_or(settings.script_user);
    let program = match Program::prepare(&spec.argv, run_as, settings.script_security) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(script = %spec.name, "vrrp_script disabled: {e}");
            if let Ok(mut r) = report.lock() {
                r.disabled = Some(e.to_string());
            }
            return;
        }
    };
    if let Some(why) = &program.insecure {
        tracing::warn!(
            script = %spec.name,
            "unsafe permissions for vrrp_script (enable_script_security would refuse it): {why}"
        );
    }
    let mut ticks = tokio::time::interval(spec.interval.max(MIN_INTERVAL));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Ok(mut r) = report.lock() {
            r.running = true;
        }
        let began = Instant::now();
        let outcome = match program.spawn(&[]) {
            Ok(running) => running.wait_timeout(spec.timeout).await,
            Err(e) => RunOutcome::NotStarted(e.to_string()),
        };
        if outcome == RunOutcome::TimedOut {
            tracing::info!(script = %spec.name, "vrrp_script timed out after {:?}; killed", spec.timeout);
        }
        let success = outcome.is_success();
        let changed = rf.record(success);
        if let Ok(mut r) = report.lock() {
            let same = r.last.as_ref().map(RunOutcome::is_success) == Some(success);
            r.consecutive = if same {
                r.consecutive.saturating_add(1)
            } else {
                1
            };
            r.last = Some(outcome);
            r.last_at = Some(SystemTime::now());
            r.runs += 1;
            r.status = status_of(rf.is_up());
            r.running = false;
            let took = began.elapsed();
            r.last_duration = Some(took);
            r.total_duration += took;
        }
        if let Some(up) = changed {
            tracing::info!(script = %spec.name, up, "vrrp_script changed state");
            let _ = events.send(TrackEvent {
                key: key.clone(),
                status: status_of(up),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(rf: &mut RiseFall, results: &[bool]) -> Vec<Option<bool>> {
        results.iter().map(|&s| rf.record(s)).collect()
    }

    #[test]
    fn fall_needs_consecutive_failures() {
        let mut rf = RiseFall::new(2, 3, false);
        assert_eq!(feed(&mut rf, &[true]), [None]);
        // Interrupted streak does not count.
        assert_eq!(
            feed(&mut rf, &[false, false, true, false, false]),
            [None; 5]
        );
        assert!(rf.is_up());
        assert_eq!(rf.record(false), Some(false));
    }

    #[test]
    fn rise_needs_consecutive_successes() {
        let mut rf = RiseFall::new(2, 1, true);
        assert!(!rf.is_up());
        assert_eq!(feed(&mut rf, &[true, false, true]), [None; 3]);
        assert_eq!(rf.record(true), Some(true));
    }

    #[test]
    fn first_result_decides_without_init_fail() {
        let mut rf = RiseFall::new(3, 3, false);
        assert!(rf.is_up());
        assert_eq!(rf.record(false), Some(false));
        assert_eq!(feed(&mut rf, &[true, true]), [None, None]);
        assert_eq!(rf.record(true), Some(true));
    }

    #[test]
    fn zero_counts_act_as_one() {
        let mut rf = RiseFall::new(0, 0, true);
        assert_eq!(rf.record(true), Some(true));
        assert_eq!(rf.record(false), Some(false));
    }
}
