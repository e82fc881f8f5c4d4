//! What a node remembers of its recent past, as `baton status --json` (and the status
//! page and the metrics beside it) shows it: the last transitions of each instance, the
//! last hooks that ran, hook runs counted by kind and outcome, and the tracked scripts'
//! runs.

use serde::{Deserialize, Serialize};

/// One transition of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionView {
    pub from: String,
    pub to: String,
    pub reason: String,
    /// The effective priority it had then.
    pub priority: u8,
    /// Wall clock, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    pub ago_ms: u64,
}

/// One hook run that has ended (or was refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRunView {
    /// The instance or sync group it ran for.
    pub target: String,
    /// The keepalived.conf keyword: `notify_master`, `notify`, ...
    pub hook: String,
    pub argv: Vec<String>,
    /// `exit 0`, `exit 3`, `signal 9`, `timeout`, `obsolete`, `not started: ...`.
    pub result: String,
    /// `ok` (exit 0), `failed`, `timeout`, `obsolete` or `not_run`: the metrics' label.
    pub outcome: String,
    /// From its start to its end; 0 for one that never started.
    pub duration_ms: u64,
    /// When it ended, wall clock, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    pub ago_ms: u64,
}

/// Hook runs of one kind with one outcome since baton started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookCount {
    pub hook: String,
    pub outcome: String,
    pub runs: u64,
    /// Summed durations of those runs.
    pub seconds: f64,
}

/// A `vrrp_script` and its runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptView {
    pub name: String,
    /// `up`, `down` (or `unknown` before its first result).
    pub status: String,
    /// A run is going on now.
    pub running: bool,
    /// Why it is never run (script security, a missing program), if so.
    pub disabled: Option<String>,
    pub runs: u64,
    /// The last run's result (`exit 0`, `timeout`, ...).
    pub last_result: Option<String>,
    pub last_duration_ms: Option<u64>,
    /// Summed durations of every run.
    pub seconds: f64,
    /// How many runs in a row had the latest run's success or failure.
    pub consecutive: u32,
}
