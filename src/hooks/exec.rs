//! Running one external program the keepalived way: argv (never a shell), a fresh process
//! group so a timeout can kill the program together with everything it started, an
//! optional switch to another user and group, stdio on /dev/null and a small, fixed
//! environment.
//!
//! Shared by `track` (vrrp_script) and `hooks` (notify scripts). It may not know about
//! instances, states or tracked objects: it only starts, waits for and kills processes.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The user and group a program runs as (already resolved to numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// Why a program could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    #[error("empty command")]
    EmptyArgv,
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
    #[error("{0}: not found in PATH")]
    NotFound(String),
    #[error("refusing to run {path}: {reason}")]
    Insecure { path: PathBuf, reason: String },
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// How one run of a program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunOutcome {
    /// Exited on its own with this code.
    Exited(i32),
    /// Killed by a signal it did not get from us.
    Signaled(i32),
    /// Ran past its timeout; its whole process group got SIGKILL.
    TimedOut,
    /// Never started (spawn error, refused by script security, ...).
    NotStarted(String),
}

impl RunOutcome {
    /// keepalived's rule: only exit code 0 is a success.
    pub fn is_success(&self) -> bool {
        matches!(self, RunOutcome::Exited(0))
    }
}

/// A started program, with its pid and the wall-clock time it was started.
#[derive(Debug)]
pub struct Running {
    pub pid: u32,
    pub started: SystemTime,
    pub(crate) child: tokio::process::Child,
}

/// Resolves `user [group]` as keepalived.conf writes it; the group defaults to the user's
/// primary group.
pub fn resolve_user(user: &str, group: Option<&str>) -> Result<RunAs, ExecError> {
    todo!("{user} {group:?}")
}

/// The default user for scripts when `script_user` is not configured: keepalived uses
/// `keepalived_script` if that user exists, else the daemon's own uid/gid.
pub fn default_script_user() -> RunAs {
    todo!()
}

/// Finds the program the way exec would, with [`SCRIPT_PATH`], so the security check
/// sees the file that will really run.
pub fn resolve_program(program: &str) -> Result<PathBuf, ExecError> {
    todo!("{program}")
}

/// keepalived's `enable_script_security` rule: a program that will run as root must not
/// be writable by anyone but root, and neither may any directory on its path (symlinks
/// resolved). Programs run as another user are not checked. `Err` carries the reason.
pub fn check_script_security(path: &Path, run_as: RunAs) -> Result<(), String> {
    todo!("{path:?} {run_as:?}")
}

/// PATH given to every program (keepalived uses the same default search path).
pub const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Starts `argv` in a new process group as `run_as`, stdio on /dev/null, with the fixed
/// environment. Checks script security first when `secure` is set.
pub fn spawn(argv: &[String], run_as: RunAs, secure: bool) -> Result<Running, ExecError> {
    todo!("{argv:?} {run_as:?} {secure}")
}

/// Waits for a started program for at most `timeout`; past it, SIGKILLs the whole process
/// group and reaps the leader.
pub async fn wait_with_timeout(running: Running, timeout: Duration) -> RunOutcome {
    todo!("{running:?} {timeout:?}")
}

/// SIGKILLs the whole process group of a running program and reaps the leader.
pub async fn kill_group(running: Running) {
    todo!("{running:?}")
}
