//! The engine's memory of the recent past, for `baton status`, the status page and the
//! metrics: each instance's last transitions, the last hooks that ended with how long
//! they took, and hook runs counted by hook and outcome. Bounded: a node that flaps for
//! a year remembers as much as one that changed state once.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::control::{HookCount, HookRunView, ScriptView, TransitionView};
use crate::hooks::{HookPhase, HookReport, RunOutcome, Target};
use crate::track::ScriptReport;

/// Transitions kept per instance.
pub(super) const TRANSITIONS: usize = 20;
/// Hook runs kept.
pub(super) const HOOK_RUNS: usize = 30;

#[derive(Debug)]
struct Transition {
    from: &'static str,
    to: &'static str,
    reason: String,
    priority: u8,
    wall: SystemTime,
    at: Instant,
}

#[derive(Debug)]
struct HookRun {
    target: String,
    hook: &'static str,
    argv: Vec<String>,
    result: String,
    outcome: &'static str,
    duration: Duration,
    wall: SystemTime,
    at: Instant,
}

#[derive(Debug, Default)]
pub(super) struct History {
    transitions: HashMap<String, VecDeque<Transition>>,
    hooks: VecDeque<HookRun>,
    /// When each running hook started (by target, hook and argv).
    started: HashMap<(String, &'static str, Vec<String>), SystemTime>,
    counts: BTreeMap<(&'static str, &'static str), (u64, Duration)>,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn ago(now: Instant, at: Instant) -> u64 {
    now.saturating_duration_since(at).as_millis() as u64
}

/// The metrics' label of a hook's end.
pub(crate) fn outcome_label(o: &RunOutcome) -> &'static str {
    match o {
        RunOutcome::Exited(0) => "ok",
        RunOutcome::Exited(_) | RunOutcome::Signaled(_) => "failed",
        RunOutcome::TimedOut => "timeout",
        RunOutcome::Obsolete => "obsolete",
        RunOutcome::NotStarted(_) => "not_run",
    }
}

pub(crate) fn outcome_text(o: &RunOutcome) -> String {
    match o {
        RunOutcome::Exited(c) => format!("exit {c}"),
        RunOutcome::Signaled(s) => format!("signal {s}"),
        RunOutcome::TimedOut => "timeout".into(),
        RunOutcome::Obsolete => "obsolete".into(),
        RunOutcome::NotStarted(why) => format!("not started: {why}"),
    }
}

impl History {
    pub(super) fn transition(
        &mut self,
        instance: &str,
        from: &'static str,
        to: &'static str,
        reason: &str,
        priority: u8,
    ) {
        let list = self.transitions.entry(instance.to_string()).or_default();
        if list.len() == TRANSITIONS {
            list.pop_back();
        }
        list.push_front(Transition {
            from,
            to,
            reason: reason.to_string(),
            priority,
            wall: SystemTime::now(),
            at: Instant::now(),
        });
    }

    /// Drops what is kept of instances a reload removed.
    pub(super) fn retain_instances(&mut self, keep: impl Fn(&str) -> bool) {
        self.transitions.retain(|name, _| keep(name));
    }

    pub(super) fn hook(&mut self, r: &HookReport) {
        let target = match &r.target {
            Target::Instance(n) | Target::Group(n) => n.clone(),
        };
        let hook = r.kind.keyword();
        let key = (target, hook, r.argv.clone());
        let (result, outcome, duration) = match &r.phase {
            HookPhase::Started { .. } => {
                // A hook that never reports its end cannot fill the map: one entry per
                // target, hook and command line at most.
                self.started.insert(key, r.at);
                return;
            }
            HookPhase::Finished { outcome } => {
                let began = self.started.remove(&key);
                let took = began.and_then(|b| r.at.duration_since(b).ok());
                (
                    outcome_text(outcome),
                    outcome_label(outcome),
                    took.unwrap_or_default(),
                )
            }
            HookPhase::Refused { reason } => {
                (format!("not run: {reason}"), "not_run", Duration::ZERO)
            }
        };
        let c = self.counts.entry((hook, outcome)).or_default();
        c.0 += 1;
        c.1 += duration;
        if self.hooks.len() == HOOK_RUNS {
            self.hooks.pop_back();
        }
        let (target, hook, argv) = key;
        self.hooks.push_front(HookRun {
            target,
            hook,
            argv,
            result,
            outcome,
            duration,
            wall: r.at,
            at: Instant::now(),
        });
    }

    pub(super) fn transitions(&self, instance: &str, now: Instant) -> Vec<TransitionView> {
        let Some(list) = self.transitions.get(instance) else {
            return Vec::new();
        };
        list.iter()
            .map(|t| TransitionView {
                from: t.from.into(),
                to: t.to.into(),
                reason: t.reason.clone(),
                priority: t.priority,
                at_unix_ms: unix_ms(t.wall),
                ago_ms: ago(now, t.at),
            })
            .collect()
    }

    pub(super) fn hooks(&self, now: Instant) -> Vec<HookRunView> {
        (self.hooks.iter())
            .map(|h| HookRunView {
                target: h.target.clone(),
                hook: h.hook.into(),
                argv: h.argv.clone(),
                result: h.result.clone(),
                outcome: h.outcome.into(),
                duration_ms: h.duration.as_millis() as u64,
                at_unix_ms: unix_ms(h.wall),
                ago_ms: ago(now, h.at),
            })
            .collect()
    }

    pub(super) fn counts(&self) -> Vec<HookCount> {
        (self.counts.iter())
            .map(|((hook, outcome), (runs, took))| HookCount {
                hook: (*hook).into(),
                outcome: (*outcome).into(),
                runs: *runs,
                seconds: took.as_secs_f64(),
            })
            .collect()
    }
}

pub(super) fn script_view(r: ScriptReport) -> ScriptView {
    ScriptView {
        status: r.status.to_string(),
        running: r.running,
        disabled: r.disabled,
        runs: r.runs,
        last_result: r.last.as_ref().map(outcome_text),
        last_duration_ms: r.last_duration.map(|d| d.as_millis() as u64),
        seconds: r.total_duration.as_secs_f64(),
        consecutive: r.consecutive,
        name: r.name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookKind;

    fn report(phase: HookPhase, at: SystemTime) -> HookReport {
        HookReport {
            target: Target::Instance("VI_1".into()),
            kind: HookKind::Master,
            argv: vec!["/bin/up".into()],
            at,
            enqueued: at,
            phase,
        }
    }

    #[test]
    fn a_hook_run_is_timed_from_its_start_to_its_end_and_counted() {
        let mut h = History::default();
        let t0 = SystemTime::now();
        h.hook(&report(HookPhase::Started { pid: 1 }, t0));
        let end = t0 + Duration::from_millis(250);
        let done = HookPhase::Finished {
            outcome: RunOutcome::Exited(3),
        };
        h.hook(&report(done, end));
        let runs = h.hooks(Instant::now());
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].duration_ms, 250);
        assert_eq!(runs[0].result, "exit 3");
        assert_eq!(runs[0].outcome, "failed");
        assert_eq!(runs[0].hook, "notify_master");
        let counts = h.counts();
        assert_eq!(counts.len(), 1);
        assert_eq!((counts[0].runs, counts[0].seconds), (1, 0.25));
        assert!(h.started.is_empty());
    }

    #[test]
    fn what_is_kept_is_bounded_and_newest_first() {
        let mut h = History::default();
        for i in 0..(TRANSITIONS + 5) {
            h.transition("VI_1", "BACKUP", "MASTER", &format!("r{i}"), 100);
        }
        let t = h.transitions("VI_1", Instant::now());
        assert_eq!(t.len(), TRANSITIONS);
        assert_eq!(t[0].reason, format!("r{}", TRANSITIONS + 4));
        for _ in 0..(HOOK_RUNS + 3) {
            let refused = HookPhase::Refused {
                reason: "no such file".into(),
            };
            h.hook(&report(refused, SystemTime::now()));
        }
        assert_eq!(h.hooks(Instant::now()).len(), HOOK_RUNS);
        assert_eq!(h.counts()[0].runs, (HOOK_RUNS + 3) as u64);
        h.retain_instances(|n| n != "VI_1");
        assert!(h.transitions("VI_1", Instant::now()).is_empty());
    }
}
