//! hooks: notify scripts and notify FIFOs, run the way keepalived runs them.
//!
//! The engine calls [`HookRunner::enqueue`] for every state transition of an instance or
//! sync group; that call never blocks. Each instance and each sync group has its own
//! queue served by its own task, so two hooks of one target never overlap and always run
//! in transition order, while different targets do not wait for each other. Every hook
//! start and end goes back to the daemon as a [`HookReport`].
//!
//! Argument conventions (keepalived.conf(5)):
//! - `notify_master` / `notify_backup` / `notify_fault` / `notify_stop` and
//!   `notify_master_rx_lower_pri` run with exactly their configured argv.
//! - the generic `notify` runs after the state-specific one, with four arguments appended:
//!   `INSTANCE|GROUP`, the name, `MASTER|BACKUP|FAULT|STOP`, and the priority
//!   (instances: their current priority; groups: always `0`).
//! - notify FIFOs get one line per transition: `INSTANCE "VI_1" MASTER 100` or
//!   `GROUP "G1" BACKUP 0`, and `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100`.
//!
//! This module may not decide states or read configuration files; it only runs what it
//! is told.

pub mod exec;
pub mod fifo;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::UnboundedSender;

pub use exec::{ExecError, RunAs, RunOutcome, check_script_security};

/// One configured script: argv as written in the config, and the user to run it as
/// (`None`: the global script user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCmd {
    pub argv: Vec<String>,
    pub run_as: Option<RunAs>,
}

/// The notify scripts of one instance or sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifySpec {
    pub master: Option<HookCmd>,
    pub backup: Option<HookCmd>,
    pub fault: Option<HookCmd>,
    pub stop: Option<HookCmd>,
    /// Generic `notify`: called after the specific one, with 4 arguments appended.
    pub notify: Option<HookCmd>,
    pub master_rx_lower_pri: Option<HookCmd>,
}

/// A notify FIFO (`notify_fifo` / `vrrp_notify_fifo`) and its optional reader script,
/// which gets the FIFO path appended as its last argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoSpec {
    pub path: PathBuf,
    pub script: Option<HookCmd>,
}

/// Settings shared by every hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSettings {
    /// `script_user` (or keepalived's default, see [`exec::default_script_user`]).
    pub script_user: RunAs,
    /// `enable_script_security`.
    pub script_security: bool,
    /// A hook still running after this long is killed with its process group.
    pub timeout: Duration,
    pub fifos: Vec<FifoSpec>,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            script_user: RunAs { uid: 0, gid: 0 },
            script_security: false,
            timeout: Duration::from_secs(30),
            fifos: Vec::new(),
        }
    }
}

/// What a hook is about: one instance or one sync group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Instance(String),
    Group(String),
}

/// The event that triggers hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Notify {
    Master,
    Backup,
    Fault,
    Stop,
    /// A master received an advert with a lower priority (instances only).
    MasterRxLowerPri,
}

impl Notify {
    /// The word keepalived uses in notify arguments and FIFO lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Notify::Master => "MASTER",
            Notify::Backup => "BACKUP",
            Notify::Fault => "FAULT",
            Notify::Stop => "STOP",
            Notify::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
        }
    }
}

/// Which configured script a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HookKind {
    Master,
    Backup,
    Fault,
    Stop,
    /// The generic `notify`.
    Generic,
    MasterRxLowerPri,
    /// `notify_fifo_script`.
    FifoScript,
}

/// One step in a hook's life.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookPhase {
    Started { pid: u32 },
    Finished { outcome: RunOutcome },
    /// Not run: unknown program, insecure path, spawn failure.
    Refused { reason: String },
}

/// Sent to the daemon for every hook start and end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReport {
    pub target: Target,
    pub kind: HookKind,
    pub argv: Vec<String>,
    /// Wall clock of this phase (CLOCK_REALTIME, comparable with timestamps scripts write).
    pub at: SystemTime,
    /// When the transition was enqueued.
    pub enqueued: SystemTime,
    pub phase: HookPhase,
}

/// Owns the per-target queues and the notify FIFOs.
pub struct HookRunner {
    _private: (),
}

impl HookRunner {
    /// Opens the FIFOs (creating them if missing), starts their reader scripts. Must be
    /// called inside a tokio runtime.
    pub fn new(settings: HookSettings, reports: UnboundedSender<HookReport>) -> Self {
        todo!("{settings:?} {reports:?}")
    }

    /// Registers (or replaces, on reload) the notify scripts of a target.
    pub fn set_notify(&mut self, target: Target, spec: NotifySpec) {
        todo!("{target:?} {spec:?}")
    }

    /// Records a transition: writes the FIFO lines now and queues the scripts behind any
    /// earlier ones of the same target. Never blocks. `priority` is ignored for groups.
    pub fn enqueue(&mut self, target: &Target, notify: Notify, priority: u8) {
        todo!("{target:?} {notify:?} {priority}")
    }

    /// Lines dropped because a FIFO was full.
    pub fn fifo_drops(&self) -> u64 {
        todo!()
    }

    /// Waits until every queued hook has finished or `deadline` passed (then kills what
    /// still runs), and stops the FIFO reader scripts. Call after enqueueing the STOP
    /// transitions on shutdown.
    pub async fn shutdown(self, deadline: Duration) {
        todo!("{deadline:?}")
    }
}
