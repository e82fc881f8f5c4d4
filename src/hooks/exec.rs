//! Running one external program the keepalived way: argv (never a shell), a fresh process
//! group so a timeout can kill the program together with everything it started, an
//! optional switch to another user and group, stdio on /dev/null.
//!
//! Environment: like keepalived, a program inherits the daemon's environment minus the
//! variables that change how it is loaded or split words (`IFS`, `LD_PRELOAD`,
//! `LD_LIBRARY_PATH`); if the daemon has no `PATH`, [`FALLBACK_PATH`] is used (for the
//! search here and in the child).
//!
//! Shared by `track` (vrrp_script) and `hooks` (notify scripts). It may not know about
//! instances, states or tracked objects: it only checks, starts, waits for and kills
//! processes.

use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Group, Pid, User};

/// The user and group a program runs as (already resolved to numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// The daemon's own uid and gid.
    pub fn current() -> RunAs {
        RunAs {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        }
    }
}

/// Why a program could not be run.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
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
    #[error("{path}: not an executable file for uid {uid} gid {gid}")]
    NotExecutable { path: PathBuf, uid: u32, gid: u32 },
    #[error("refusing to run {path} as root: {reason}")]
    Insecure { path: PathBuf, reason: String },
    #[error("cannot start {program}: {reason}")]
    Spawn { program: String, reason: String },
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
    /// A newer transition made it obsolete and it outlived its grace; its whole process
    /// group got SIGTERM, then SIGKILL.
    Obsolete,
    /// Never started (spawn error, refused by script security, ...).
    NotStarted(String),
}

impl RunOutcome {
    /// keepalived's rule: only exit code 0 is a success.
    pub fn is_success(&self) -> bool {
        matches!(self, RunOutcome::Exited(0))
    }

    fn from_status(status: ExitStatus) -> RunOutcome {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => RunOutcome::Exited(code),
            (None, Some(sig)) => RunOutcome::Signaled(sig),
            (None, None) => RunOutcome::NotStarted("unknown wait status".into()),
        }
    }
}

/// Search path used when the daemon's environment has no `PATH` (the POSIX default that
/// libc's `confstr(_CS_PATH)` gives, which is what keepalived falls back to).
pub const FALLBACK_PATH: &str = "/bin:/usr/bin";

/// Variables removed from every program's environment (keepalived does the same).
const SCRUBBED_ENV: [&str; 3] = ["IFS", "LD_PRELOAD", "LD_LIBRARY_PATH"];

/// Resolves `user [group]` as keepalived.conf writes it; the group defaults to the user's
/// primary group.
pub fn resolve_user(user: &str, group: Option<&str>) -> Result<RunAs, ExecError> {
    let u = User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| ExecError::UnknownUser(user.to_owned()))?;
    let gid = match group {
        None => u.gid.as_raw(),
        Some(g) => Group::from_name(g)
            .ok()
            .flatten()
            .ok_or_else(|| ExecError::UnknownGroup(g.to_owned()))?
            .gid
            .as_raw(),
    };
    Ok(RunAs {
        uid: u.uid.as_raw(),
        gid,
    })
}

/// The default user for scripts when `script_user` is not configured: keepalived uses
/// `keepalived_script` if that user exists, else the daemon's own uid/gid.
pub fn default_script_user() -> RunAs {
    resolve_user("keepalived_script", None).unwrap_or_else(|_| RunAs::current())
}

fn search_path() -> OsString {
    std::env::var_os("PATH").unwrap_or_else(|| FALLBACK_PATH.into())
}

fn is_executable_by(meta: &std::fs::Metadata, run_as: RunAs) -> bool {
    let mode = meta.permissions().mode();
    if run_as.uid == 0 {
        return mode & 0o111 != 0;
    }
    if run_as.uid == meta.uid() {
        return mode & 0o100 != 0;
    }
    if run_as.gid == meta.gid() {
        return mode & 0o010 != 0;
    }
    mode & 0o001 != 0
}

/// Finds the program the way exec would (the daemon's `PATH`, or [`FALLBACK_PATH`]), so
/// the security check sees the file that will really run. A name with a slash is taken
/// as it is.
pub fn resolve_program(program: &str, run_as: RunAs) -> Result<PathBuf, ExecError> {
    if program.is_empty() {
        return Err(ExecError::EmptyArgv);
    }
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    for dir in std::env::split_paths(&search_path()) {
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && is_executable_by(&meta, run_as) {
                return Ok(candidate);
            }
        }
    }
    Err(ExecError::NotFound(program.to_owned()))
}

/// keepalived's `enable_script_security` rule. A program that will run with uid 0 or
/// gid 0 (or is set-uid/set-gid root) must not be changeable by anyone but root: every
/// component of its path, as written and with symlinks resolved, must be owned by root,
/// and no directory (unless sticky) or file on it may be writable by a non-root group or
/// by everyone. Programs run as another user are not checked. `Err` carries the reason.
pub fn check_script_security(path: &Path, run_as: RunAs) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mode = meta.permissions().mode();
    let setid_root = (meta.uid() == 0 && mode & 0o4100 == 0o4100)
        || (meta.gid() == 0 && mode & 0o2010 == 0o2010);
    if run_as.uid != 0 && run_as.gid != 0 && !setid_root {
        return Ok(());
    }
    check_components(path)?;
    let real = std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if real != path {
        check_components(&real)?;
    }
    Ok(())
}

/// Walks `/`, `/a`, `/a/b`, ... (without following the last symlink of each prefix).
fn check_components(path: &Path) -> Result<(), String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("current directory: {e}"))?
            .join(path)
    };
    let mut prefix = PathBuf::new();
    let last = absolute.components().count().saturating_sub(1);
    for (i, comp) in absolute.components().enumerate() {
        match comp {
            Component::RootDir => prefix.push("/"),
            Component::Normal(c) => prefix.push(c),
            Component::ParentDir => {
                prefix.pop();
                continue;
            }
            Component::CurDir | Component::Prefix(_) => continue,
        }
        let meta =
            std::fs::symlink_metadata(&prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
        let ft = meta.file_type();
        let is_last = i == last;
        if !is_last && !ft.is_dir() && !ft.is_symlink() {
            return Err(format!("{} is not a directory", prefix.display()));
        }
        if meta.uid() != 0 {
            return Err(format!(
                "{} is owned by uid {}, not root",
                prefix.display(),
                meta.uid()
            ));
        }
        let mode = meta.permissions().mode();
        let sticky_dir = ft.is_dir() && mode & 0o1000 != 0;
        if (ft.is_dir() && !sticky_dir) || ft.is_file() {
            if mode & 0o002 != 0 {
                return Err(format!("{} is writable by everyone", prefix.display()));
            }
            if meta.gid() != 0 && mode & 0o020 != 0 {
                return Err(format!(
                    "{} is writable by group {}",
                    prefix.display(),
                    meta.gid()
                ));
            }
        }
    }
    Ok(())
}

/// A program checked once (path search, user, script security) and ready to be started
/// many times cheaply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    path: PathBuf,
    argv: Vec<String>,
    run_as: RunAs,
    /// Set when the security check failed but `enable_script_security` is off: the
    /// program runs anyway (keepalived's behaviour) and this says why it is unsafe.
    pub insecure: Option<String>,
}

impl Program {
    /// Checks `argv[0]` as keepalived does at start-up: found, executable by `run_as`
    /// and, with `script_security`, safe to run as root.
    pub fn prepare(
        argv: &[String],
        run_as: RunAs,
        script_security: bool,
    ) -> Result<Program, ExecError> {
        let first = argv.first().ok_or(ExecError::EmptyArgv)?;
        let path = resolve_program(first, run_as)?;
        let meta = std::fs::metadata(&path).map_err(|_| ExecError::NotFound(first.clone()))?;
        if !meta.is_file() || !is_executable_by(&meta, run_as) {
            return Err(ExecError::NotExecutable {
                path,
                uid: run_as.uid,
                gid: run_as.gid,
            });
        }
        let insecure = match check_script_security(&path, run_as) {
            Ok(()) => None,
            Err(reason) if script_security => return Err(ExecError::Insecure { path, reason }),
            Err(reason) => Some(reason),
        };
        Ok(Program {
            path,
            argv: argv.to_vec(),
            run_as,
            insecure,
        })
    }

    /// The argv as configured.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    pub fn run_as(&self) -> RunAs {
        self.run_as
    }

    /// Starts the program with `extra` appended to its arguments, in a new process
    /// group, stdio on /dev/null.
    pub fn spawn(&self, extra: &[String]) -> Result<Running, ExecError> {
        self.spawn_with(extra, &[])
    }

    /// As [`Program::spawn`], with `env` added to the environment.
    pub fn spawn_with(
        &self,
        extra: &[String],
        env: &[(String, String)],
    ) -> Result<Running, ExecError> {
        let mut cmd = tokio::process::Command::new(&self.path);
        if let Some(arg0) = self.argv.first() {
            cmd.arg0(arg0);
        }
        cmd.args(&self.argv[1..])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        if std::env::var_os("PATH").is_none() {
            cmd.env("PATH", FALLBACK_PATH);
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let me = RunAs::current();
        // Only switch when it changes something: a non-root daemon may run its own scripts.
        if self.run_as.gid != me.gid {
            cmd.gid(self.run_as.gid);
        }
        if self.run_as.uid != me.uid {
            cmd.uid(self.run_as.uid);
        }
        let child = cmd.spawn().map_err(|e| ExecError::Spawn {
            program: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        let started = SystemTime::now();
        let pid = child.id().unwrap_or(0);
        super::children::register(pid);
        Ok(Running {
            pid,
            started,
            child,
            reaped: false,
        })
    }
}

/// A started program. Dropping it before it was waited for kills its process group (the
/// tokio runtime reaps the leader in the background). From start to reaping it is in the
/// [`children`](super::children) register, so no exit of baton leaves it behind.
#[derive(Debug)]
pub struct Running {
    pub pid: u32,
    /// Wall clock right after the process was created.
    pub started: SystemTime,
    child: tokio::process::Child,
    reaped: bool,
}

/// How long a process group gets between SIGTERM and SIGKILL in [`Running::terminate`].
pub const TERM_PATIENCE: Duration = Duration::from_secs(1);

impl Running {
    fn signal_group(&self, signal: Signal) {
        if let Ok(pid) = i32::try_from(self.pid) {
            if pid > 1 {
                // ESRCH: the group is already gone, which is what we want.
                let _ = killpg(Pid::from_raw(pid), signal);
            }
        }
    }

    fn mark_reaped(&mut self) {
        self.reaped = true;
        super::children::unregister(self.pid);
    }

    /// Waits until the program exits. Cancel-safe: dropping the future leaves the
    /// program running and `self` usable.
    pub async fn wait(&mut self) -> RunOutcome {
        match self.child.wait().await {
            Ok(status) => {
                self.mark_reaped();
                RunOutcome::from_status(status)
            }
            Err(e) => {
                self.signal_group(Signal::SIGKILL);
                RunOutcome::NotStarted(format!("wait failed: {e}"))
            }
        }
    }

    /// Waits for the program for at most `timeout`; past it, SIGKILLs the whole process
    /// group and reaps the leader.
    pub async fn wait_timeout(mut self, timeout: Duration) -> RunOutcome {
        match tokio::time::timeout(timeout, self.wait()).await {
            Ok(outcome) => outcome,
            Err(_) => {
                self.kill().await;
                RunOutcome::TimedOut
            }
        }
    }

    /// SIGKILLs the whole process group and reaps the leader.
    pub async fn kill(mut self) {
        // The leader is not reaped yet, so its pid (and with it the group id) cannot have
        // been reused.
        self.signal_group(Signal::SIGKILL);
        let _ = self.child.wait().await;
        self.mark_reaped();
    }

    /// SIGTERMs the whole process group, gives it `patience` to go, then SIGKILLs what
    /// is left of it (members that ignored the SIGTERM too) and reaps the leader.
    pub async fn terminate(mut self, patience: Duration) {
        self.signal_group(Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + patience;
        // Poll without reaping: an exited but unreaped leader keeps the group id from
        // being reused, so the SIGKILL below can only reach this program's group.
        while tokio::time::Instant::now() < deadline && !self.leader_exited() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.signal_group(Signal::SIGKILL);
        let _ = self.child.wait().await;
        self.mark_reaped();
    }

    fn leader_exited(&self) -> bool {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        let Ok(pid) = i32::try_from(self.pid) else {
            return true;
        };
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(WaitStatus::StillAlive) => false,
            Ok(_) => true,
            // ECHILD: already reaped (by the runtime); nothing left to wait for.
            Err(_) => true,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal_group(Signal::SIGKILL);
            super::children::unregister(self.pid);
        }
    }
}
