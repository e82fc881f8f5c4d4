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
//!   `GROUP "G1" BACKUP 0`, and `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100`; with
//!   `notify_priority_changes`, also `INSTANCE "VI_1" MASTER_PRIORITY 80` (or
//!   `BACKUP_PRIORITY`) when the effective priority changes, which runs no script.
//! - STOP and MASTER_RX_LOWER_PRI apply to instances only: for a group, STOP runs the
//!   group's `notify_stop` but neither the generic `notify` nor a FIFO line;
//!   MASTER_RX_LOWER_PRI never runs the generic `notify` (it is a FIFO line and
//!   `notify_master_rx_lower_pri`).
//!
//! Every script runs from its argv (no shell), in its own process group, stdio on
//! /dev/null, as its configured user or the global script user, with the daemon's
//! environment minus `IFS`, `LD_PRELOAD` and `LD_LIBRARY_PATH` (see [`exec`]), and is in
//! the [`children`] register until reaped, so no exit of baton leaves it running.
//!
//! Time limits ([`HookLimits`], per target, from baton's own file): a hook still running
//! after `notify_timeout` is killed with its process group; a hook whose transition a
//! newer one has made obsolete gets `notify_obsolete_grace` before it is killed, so it
//! cannot hold the next transition's hooks back for long. The exact rule is in [`queue`].
//! The FIFO rules are in [`fifo`].
//!
//! This module may not decide states or read configuration files; it only runs what it
//! is told.

pub mod children;
pub mod exec;
pub mod fifo;
mod queue;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use exec::{ExecError, Program, RunAs, RunOutcome, Running, check_script_security};
use fifo::NotifyFifo;

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
    /// How long these scripts may run (baton's own file).
    pub limits: HookLimits,
}

/// The time limits of one target's hooks: `notify_timeout` and `notify_obsolete_grace`
/// from baton's own file (see [`queue`] for the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookLimits {
    /// A hook still running after this long is killed with its process group.
    pub timeout: Duration,
    /// How long the scripts of a transition that a newer one has made obsolete may go on.
    pub obsolete_grace: Duration,
}

impl Default for HookLimits {
    fn default() -> Self {
        HookLimits {
            timeout: crate::config::baton::NOTIFY_TIMEOUT_DEFAULT,
            obsolete_grace: crate::config::baton::NOTIFY_OBSOLETE_GRACE_DEFAULT,
        }
    }
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
    pub fifos: Vec<FifoSpec>,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            script_user: RunAs::current(),
            script_security: false,
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
    Started {
        pid: u32,
    },
    Finished {
        outcome: RunOutcome,
    },
    /// Not run: unknown program, insecure path, spawn failure.
    Refused {
        reason: String,
    },
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

/// The scripts of one target, checked once when they were set.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    master: Option<Result<Program, ExecError>>,
    backup: Option<Result<Program, ExecError>>,
    fault: Option<Result<Program, ExecError>>,
    stop: Option<Result<Program, ExecError>>,
    notify: Option<Result<Program, ExecError>>,
    master_rx_lower_pri: Option<Result<Program, ExecError>>,
    limits: HookLimits,
}

struct Queue {
    scripts: Arc<Prepared>,
    env: Arc<Vec<(String, String)>>,
    jobs: UnboundedSender<queue::Job>,
    worker: JoinHandle<()>,
}

struct FifoReader {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Owns the per-target queues and the notify FIFOs.
pub struct HookRunner {
    settings: HookSettings,
    reports: UnboundedSender<HookReport>,
    queues: HashMap<Target, Queue>,
    fifos: Vec<NotifyFifo>,
    readers: Vec<FifoReader>,
}

fn prepare(cmd: &Option<HookCmd>, settings: &HookSettings) -> Option<Result<Program, ExecError>> {
    cmd.as_ref().map(|c| {
        let run_as = c.run_as.unwrap_or(settings.script_user);
        let prepared = Program::prepare(&c.argv, run_as, settings.script_security);
        match &prepared {
            Err(e) => tracing::error!(argv = ?c.argv, "notify script disabled: {e}"),
            Ok(p) => {
                if let Some(why) = &p.insecure {
                    tracing::warn!(
                        argv = ?c.argv,
                        "unsafe permissions for notify script (enable_script_security would refuse it): {why}"
                    );
                }
            }
        }
        prepared
    })
}

impl HookRunner {
    /// Opens the FIFOs (creating them if missing) and starts their reader scripts. Must
    /// be called inside a tokio runtime. A FIFO that cannot be used is logged and skipped.
    pub fn new(settings: HookSettings, reports: UnboundedSender<HookReport>) -> Self {
        let mut fifos = Vec::new();
        let mut readers = Vec::new();
        for spec in &settings.fifos {
            // Create and open first (holding a read end ourselves), then start the reader:
            // its open cannot block or fail with ENOENT, and no line can be lost.
            match NotifyFifo::open(&spec.path) {
                Ok(f) => fifos.push(f),
                Err(e) => {
                    tracing::error!("{e}");
                    continue;
                }
            }
            let Some(cmd) = &spec.script else { continue };
            match prepare(&Some(cmd.clone()), &settings) {
                Some(Ok(program)) => {
                    let extra = vec![spec.path.display().to_string()];
                    let (stop, stop_rx) = oneshot::channel();
                    let reports = reports.clone();
                    let task = tokio::spawn(run_reader(program, extra, stop_rx, reports));
                    readers.push(FifoReader { stop, task });
                }
                Some(Err(e)) => send_refused(
                    &reports,
                    &fifo_target(),
                    HookKind::FifoScript,
                    &cmd.argv,
                    SystemTime::now(),
                    &e,
                ),
                None => {}
            }
        }
        HookRunner {
            settings,
            reports,
            queues: HashMap::new(),
            fifos,
            readers,
        }
    }

    /// Registers (or replaces, on reload) the notify scripts of a target. Transitions
    /// already queued keep the scripts they were queued with.
    pub fn set_notify(&mut self, target: Target, spec: NotifySpec) {
        let s = &self.settings;
        let scripts = Arc::new(Prepared {
            master: prepare(&spec.master, s),
            backup: prepare(&spec.backup, s),
            fault: prepare(&spec.fault, s),
            stop: prepare(&spec.stop, s),
            notify: prepare(&spec.notify, s),
            master_rx_lower_pri: prepare(&spec.master_rx_lower_pri, s),
            limits: spec.limits,
        });
        if let Some(q) = self.queues.get_mut(&target) {
            q.scripts = scripts;
            return;
        }
        let (jobs, rx) = unbounded_channel();
        let worker =
            tokio::spawn(queue::Lane::new(target.clone(), rx, self.reports.clone()).serve());
        self.queues.insert(
            target,
            Queue {
                scripts,
                env: Arc::default(),
                jobs,
                worker,
            },
        );
    }

    /// Sets the variables added to the environment of the target's hooks queued from now
    /// on (e.g. the arbiter's fencing token); an empty list adds none.
    pub fn set_env(&mut self, target: &Target, env: Vec<(String, String)>) {
        if let Some(q) = self.queues.get_mut(target) {
            q.env = Arc::new(env);
        }
    }

    /// Forgets a target (removed on reload). Transitions already queued still run.
    pub fn remove_notify(&mut self, target: &Target) {
        // Dropping the sender ends the worker once its queue is empty.
        self.queues.remove(target);
    }

    /// Records a transition: writes the FIFO lines now and queues the scripts behind any
    /// earlier ones of the same target. Never blocks. `priority` is ignored for groups.
    pub fn enqueue(&mut self, target: &Target, notify: Notify, priority: u8) {
        self.enqueue_then(target, notify, priority, None);
    }

    /// As [`HookRunner::enqueue`], and `done` is answered (or dropped) once every hook
    /// of this transition has ended: finished, killed, skipped, or none configured. A
    /// dropped sender means the same: nothing of the transition runs any more.
    pub fn enqueue_then(
        &mut self,
        target: &Target,
        notify: Notify,
        priority: u8,
        done: Option<oneshot::Sender<()>>,
    ) {
        let enqueued = SystemTime::now();
        // keepalived.conf(5): STOP only applies to instances, MASTER_RX_LOWER_PRI too.
        let instance_only = matches!(notify, Notify::Stop | Notify::MasterRxLowerPri);
        if !(instance_only && matches!(target, Target::Group(_))) {
            self.write_fifos(&fifo::line(target, notify, priority));
        }
        let Some(q) = self.queues.get(target) else {
            return;
        };
        let job = queue::Job {
            notify,
            priority,
            enqueued,
            scripts: Arc::clone(&q.scripts),
            done,
            env: Arc::clone(&q.env),
        };
        if q.jobs.send(job).is_err() {
            tracing::error!(?target, "notify queue closed; transition not run");
        }
    }

    /// Writes the FIFO line for a change of an instance's effective priority while it is
    /// MASTER (`master`) or BACKUP. Only the FIFOs hear of it, as with keepalived.
    pub fn priority_changed(&mut self, instance: &str, master: bool, priority: u8) {
        self.write_fifos(&fifo::priority_line(instance, master, priority));
    }

    fn write_fifos(&mut self, text: &str) {
        for f in &mut self.fifos {
            if !f.write_line(text) {
                tracing::warn!(fifo = %f.path().display(), line = %text, "notify FIFO full, line dropped");
            }
        }
    }

    /// Lines dropped because a FIFO was full.
    pub fn fifo_drops(&self) -> u64 {
        self.fifos.iter().map(NotifyFifo::drops).sum()
    }

    /// Waits until every queued hook has finished or `deadline` passed (then kills what
    /// still runs with its process group), closes the FIFOs and stops their reader
    /// scripts. Call after enqueueing the STOP transitions on shutdown.
    pub async fn shutdown(self, deadline: Duration) {
        let until = tokio::time::Instant::now() + deadline;
        let HookRunner {
            queues,
            fifos,
            readers,
            ..
        } = self;
        for (_, q) in queues {
            // Dropping the sender lets the worker finish its queue and end.
            drop(q.jobs);
            let mut worker = q.worker;
            if tokio::time::timeout_at(until, &mut worker).await.is_err() {
                // Aborting drops the running hook, which kills its process group.
                worker.abort();
                let _ = worker.await;
            }
        }
        // Closing our end gives readers EOF; give them until the deadline, then kill.
        drop(fifos);
        for r in readers {
            let _ = r.stop.send(());
            let _ = r.task.await;
        }
    }
}

/// Reports about a `notify_fifo_script` name no instance: an empty instance name.
fn fifo_target() -> Target {
    Target::Instance(String::new())
}

pub(crate) fn send_refused(
    reports: &UnboundedSender<HookReport>,
    target: &Target,
    kind: HookKind,
    argv: &[String],
    enqueued: SystemTime,
    e: &ExecError,
) {
    let _ = reports.send(HookReport {
        target: target.clone(),
        kind,
        argv: argv.to_vec(),
        at: SystemTime::now(),
        enqueued,
        phase: HookPhase::Refused {
            reason: e.to_string(),
        },
    });
}

/// Keeps a `notify_fifo_script` running until told to stop (or it exits by itself).
async fn run_reader(
    program: Program,
    extra: Vec<String>,
    stop: oneshot::Receiver<()>,
    reports: UnboundedSender<HookReport>,
) {
    let target = fifo_target();
    let argv: Vec<String> = program.argv().iter().chain(&extra).cloned().collect();
    let send = |phase: HookPhase, at: SystemTime| {
        let _ = reports.send(HookReport {
            target: target.clone(),
            kind: HookKind::FifoScript,
            argv: argv.clone(),
            at,
            enqueued: at,
            phase,
        });
    };
    let running = match program.spawn(&extra) {
        Ok(r) => r,
        Err(e) => {
            send(
                HookPhase::Refused {
                    reason: e.to_string(),
                },
                SystemTime::now(),
            );
            return;
        }
    };
    send(HookPhase::Started { pid: running.pid }, running.started);
    let outcome = {
        let waiting = running.wait_timeout(Duration::MAX);
        tokio::pin!(waiting);
        tokio::select! {
            outcome = &mut waiting => outcome,
            _ = stop => {
                // Give the reader a moment to drain after EOF, then kill it.
                match tokio::time::timeout(Duration::from_secs(1), &mut waiting).await {
                    Ok(outcome) => outcome,
                    Err(_) => RunOutcome::TimedOut,
                }
            }
        }
    };
    send(HookPhase::Finished { outcome }, SystemTime::now());
}
