//! One target's queue of transitions, and the rule for a hook that the instance has
//! already moved on from.
//!
//! The hooks of one instance (or sync group) run one at a time, in transition order. A
//! transition is *obsolete* as soon as a newer transition of the same target (MASTER,
//! BACKUP, FAULT or STOP; a MASTER_RX_LOWER_PRI report is not a transition) is queued
//! behind it. From that moment its scripts together get the target's
//! `notify_obsolete_grace`: what still runs when the grace is over gets SIGTERM on its
//! process group, then SIGKILL [`TERM_PATIENCE`] later, is logged (`notify_fault made
//! obsolete by MASTER, killed after 2 s`) and reported as [`RunOutcome::Obsolete`], and
//! the queue goes on. So a hung `notify_fault` delays the next `notify_master` by the
//! grace, not by the timeout.
//!
//! The generic `notify` of an obsolete transition still starts if the grace has time left
//! (it is the one script that sees every state, and users log with it), within what is
//! left of the same grace; once the grace is over it is skipped and logged. The notify
//! FIFO always gets every line, at the moment of the transition.
//!
//! A hook that is not obsolete is bounded by the target's `notify_timeout`, after which
//! its group gets the same SIGTERM-then-SIGKILL and the outcome is
//! [`RunOutcome::TimedOut`]. Both limits are taken from the scripts a transition was
//! queued with, so a reload applies them to the transitions that follow it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::exec::{ExecError, Program, RunOutcome, TERM_PATIENCE};
use super::{HookKind, HookPhase, HookReport, Notify, Prepared, Target, send_refused};

/// One transition waiting in a target's queue.
pub(super) struct Job {
    pub notify: Notify,
    pub priority: u8,
    pub enqueued: SystemTime,
    pub scripts: Arc<Prepared>,
    /// Answered once the transition's hooks have all ended.
    pub done: Option<tokio::sync::oneshot::Sender<()>>,
    /// Variables added to the hooks' environment (the target's, when it was queued).
    pub env: Arc<Vec<(String, String)>>,
}

impl Notify {
    /// Whether this event moves the target to another state (and so makes the hooks
    /// of the transition before it obsolete).
    fn is_transition(self) -> bool {
        matches!(
            self,
            Notify::Master | Notify::Backup | Notify::Fault | Notify::Stop
        )
    }
}

impl HookKind {
    /// The keepalived.conf keyword of the script.
    pub fn keyword(self) -> &'static str {
        match self {
            HookKind::Master => "notify_master",
            HookKind::Backup => "notify_backup",
            HookKind::Fault => "notify_fault",
            HookKind::Stop => "notify_stop",
            HookKind::Generic => "notify",
            HookKind::MasterRxLowerPri => "notify_master_rx_lower_pri",
            HookKind::FifoScript => "notify_fifo_script",
        }
    }
}

/// Since when, and by which newer transition, the current job is obsolete.
#[derive(Debug, Clone, Copy)]
struct Obsolete {
    since: Instant,
    by: Notify,
}

/// The worker side of one target's queue.
pub(super) struct Lane {
    target: Target,
    jobs: UnboundedReceiver<Job>,
    /// Jobs received while a hook ran, in order.
    pending: VecDeque<Job>,
    /// The sender side is still open.
    open: bool,
    reports: UnboundedSender<HookReport>,
    obsolete: Option<Obsolete>,
}

impl Lane {
    pub fn new(
        target: Target,
        jobs: UnboundedReceiver<Job>,
        reports: UnboundedSender<HookReport>,
    ) -> Lane {
        Lane {
            target,
            jobs,
            pending: VecDeque::new(),
            open: true,
            reports,
            obsolete: None,
        }
    }

    /// Serves the queue until its sender is dropped and every job has run.
    pub async fn serve(mut self) {
        loop {
            let mut job = match self.pending.pop_front() {
                Some(job) => job,
                None if self.open => match self.jobs.recv().await {
                    Some(job) => job,
                    None => return,
                },
                None => return,
            };
            while let Ok(next) = self.jobs.try_recv() {
                self.pending.push_back(next);
            }
            self.obsolete = self
                .pending
                .iter()
                .find(|j| j.notify.is_transition())
                .map(|j| Obsolete {
                    since: Instant::now(),
                    by: j.notify,
                });
            self.run_job(&job).await;
            if let Some(done) = job.done.take() {
                let _ = done.send(());
            }
        }
    }

    /// A job received while a hook runs: queued, and it may make the current one obsolete.
    fn received(&mut self, job: Option<Job>) {
        match job {
            Some(job) => {
                if self.obsolete.is_none() && job.notify.is_transition() {
                    self.obsolete = Some(Obsolete {
                        since: Instant::now(),
                        by: job.notify,
                    });
                }
                self.pending.push_back(job);
            }
            None => self.open = false,
        }
    }

    /// Runs one transition's scripts: the state-specific one, then the generic `notify`.
    async fn run_job(&mut self, job: &Job) {
        let s = Arc::clone(&job.scripts);
        let (kind, specific) = match job.notify {
            Notify::Master => (HookKind::Master, &s.master),
            Notify::Backup => (HookKind::Backup, &s.backup),
            Notify::Fault => (HookKind::Fault, &s.fault),
            Notify::Stop => (HookKind::Stop, &s.stop),
            Notify::MasterRxLowerPri => (HookKind::MasterRxLowerPri, &s.master_rx_lower_pri),
        };
        if let Some(p) = specific {
            self.run_hook(job, kind, p, &[]).await;
        }
        let generic = match (job.notify, &self.target) {
            (Notify::MasterRxLowerPri, _) | (Notify::Stop, Target::Group(_)) => None,
            _ => s.notify.as_ref(),
        };
        let Some(p) = generic else { return };
        if let Some(o) = self.obsolete {
            if Instant::now() >= o.since + s.limits.obsolete_grace {
                tracing::info!(
                    target = ?self.target,
                    "notify for {} not run: made obsolete by {}",
                    job.notify.as_str(),
                    o.by.as_str()
                );
                return;
            }
        }
        let extra = match &self.target {
            Target::Instance(name) => [
                "INSTANCE".to_owned(),
                name.clone(),
                job.notify.as_str().to_owned(),
                job.priority.to_string(),
            ],
            Target::Group(name) => [
                "GROUP".to_owned(),
                name.clone(),
                job.notify.as_str().to_owned(),
                "0".to_owned(),
            ],
        };
        self.run_hook(job, HookKind::Generic, p, &extra).await;
    }

    async fn run_hook(
        &mut self,
        job: &Job,
        kind: HookKind,
        program: &Result<Program, ExecError>,
        extra: &[String],
    ) {
        let target = self.target.clone();
        let program = match program {
            Ok(p) => p,
            Err(e) => {
                send_refused(&self.reports, &target, kind, &[], job.enqueued, e);
                return;
            }
        };
        let argv: Vec<String> = program.argv().iter().chain(extra).cloned().collect();
        let reports = self.reports.clone();
        let report = |at: SystemTime, phase: HookPhase| {
            let _ = reports.send(HookReport {
                target: target.clone(),
                kind,
                argv: argv.clone(),
                at,
                enqueued: job.enqueued,
                phase,
            });
        };
        let mut running = match program.spawn_with(extra, &job.env) {
            Ok(r) => r,
            Err(e) => {
                let reason = e.to_string();
                report(SystemTime::now(), HookPhase::Refused { reason });
                return;
            }
        };
        report(running.started, HookPhase::Started { pid: running.pid });
        let limits = job.scripts.limits;
        let timeout_at = Instant::now() + limits.timeout;
        let outcome = loop {
            let grace_end = self.obsolete.map(|o| o.since + limits.obsolete_grace);
            let kill_at = grace_end.map_or(timeout_at, |g| g.min(timeout_at));
            tokio::select! {
                outcome = running.wait() => break outcome,
                job = self.jobs.recv(), if self.open => self.received(job),
                () = tokio::time::sleep_until(kill_at) => {
                    running.terminate(TERM_PATIENCE).await;
                    let by_grace = grace_end.is_some_and(|g| g <= timeout_at);
                    match (by_grace, self.obsolete) {
                        (true, Some(o)) => {
                            tracing::warn!(
                                target = ?self.target,
                                ?argv,
                                "{} made obsolete by {}, killed after {}",
                                kind.keyword(),
                                o.by.as_str(),
                                seconds(limits.obsolete_grace)
                            );
                            break RunOutcome::Obsolete;
                        }
                        _ => {
                            tracing::warn!(
                                target = ?self.target,
                                ?argv,
                                "{} timed out, killed after {}",
                                kind.keyword(),
                                seconds(limits.timeout)
                            );
                            break RunOutcome::TimedOut;
                        }
                    }
                }
            }
        };
        report(SystemTime::now(), HookPhase::Finished { outcome });
    }
}

/// `2 s`, `0.5 s`: durations as the log shows them.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_seconds() {
        assert_eq!(seconds(Duration::from_secs(2)), "2 s");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5 s");
    }

    #[test]
    fn only_state_changes_make_a_hook_obsolete() {
        assert!(Notify::Master.is_transition());
        assert!(Notify::Stop.is_transition());
        assert!(!Notify::MasterRxLowerPri.is_transition());
    }
}
