//! vrrp_track_process: count the running processes that match, Up while the count is
//! within `quorum..=quorum_max`, with fork/terminate delays against bounces.
//!
//! keepalived listens to the kernel's process connector; baton scans /proc every
//! [`POLL_INTERVAL`] instead, so a change is seen within that time (plus the delays).

use std::time::Duration;

/// How often /proc is scanned.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// keepalived's `param_match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamMatch {
    /// The parameters must be exactly the configured ones.
    #[default]
    Exact,
    /// `param_match initial`: the first n parameters match exactly, more may follow.
    Initial,
    /// `param_match partial`: like `Initial`, and the last configured one may be a
    /// prefix of the actual one.
    Partial,
}

/// One `vrrp_track_process` block. (`delay` sets both delays; the config layer expands it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub name: String,
    /// The process name (or, with parameters or `full_command`, the program as in argv[0]).
    pub process: String,
    /// Parameters after the process name; matched against the command line.
    pub params: Vec<String>,
    /// `Some` when `param_match` was given (with no params it means "no parameters").
    pub param_match: Option<ParamMatch>,
    pub full_command: bool,
    pub quorum: u32,
    pub quorum_max: Option<u32>,
    pub fork_delay: Duration,
    pub terminate_delay: Duration,
}

/// Counts the processes in /proc that match `spec` (zombies excluded).
pub fn count_matching(spec: &ProcessSpec) -> u32 {
    todo!("{spec:?}")
}
