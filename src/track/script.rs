//! vrrp_script: run a check program every `interval`, kill it after `timeout`, and turn
//! the exit codes into Up/Down with keepalived's rise/fall counting.
//!
//! Rules (keepalived.conf(5)): exit code 0 is a success, anything else (including a
//! timeout) a failure. The script starts Up, or Down with `init_fail`; an Up script goes
//! Down after `fall` consecutive failures, a Down script goes Up after `rise`
//! consecutive successes. A run is never started while the previous one still runs.

use std::time::{Duration, SystemTime};

use crate::hooks::{RunAs, RunOutcome};
use crate::proto::TrackStatus;

/// One `vrrp_script` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive successes that bring a Down script Up (at least 1).
    pub rise: u32,
    /// Consecutive failures that bring an Up script Down (at least 1).
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
}

/// The rise/fall counter, pure so it can be tested without processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    up: bool,
    /// Successes (when down) or failures (when up) in a row so far.
    streak: u32,
}

impl RiseFall {
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> RiseFall {
        todo!("{rise} {fall} {init_fail}")
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Feeds one run's result; returns the new state if it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        todo!("{success} {:?}", (self.rise, self.fall, self.streak))
    }
}
