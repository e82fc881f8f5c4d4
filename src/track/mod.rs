//! track: the tracked objects an instance's priority or fault state depends on —
//! `vrrp_script` checks, `track_file` values and `vrrp_track_process` quorums.
//!
//! A [`Tracker`] starts one task per object; each reports changes as a [`TrackEvent`] on
//! one channel (and once at start with the initial state), so the engine never waits for
//! a script. This module may not touch instances or priorities: it only reports
//! readings; `proto` applies weights.

pub mod file;
pub mod process;
pub mod script;

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

pub use crate::proto::TrackStatus;
pub use file::FileSpec;
pub use process::{ParamMatch, ProcessSpec};
pub use script::{ScriptReport, ScriptSpec};

/// A tracked object changed (or reports its initial reading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackEvent {
    /// `script:NAME`, `file:NAME` or `process:NAME`.
    pub key: String,
    pub status: TrackStatus,
}

/// Settings that apply to every tracked script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptSettings {
    /// Used when a [`ScriptSpec`] has no `user`.
    pub script_user: crate::hooks::RunAs,
    /// `enable_script_security`.
    pub script_security: bool,
}

/// Every tracked object of one configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackSpecs {
    pub scripts: Vec<ScriptSpec>,
    pub files: Vec<FileSpec>,
    pub processes: Vec<ProcessSpec>,
}

/// Owns the task of every tracked object.
pub struct Tracker {
    tasks: Vec<JoinHandle<()>>,
    scripts: Vec<Arc<Mutex<ScriptReport>>>,
}

impl Tracker {
    /// Starts watching everything in `specs`; each object reports its initial reading
    /// on `events` right away. Must be called inside a tokio runtime.
    pub fn start(
        specs: TrackSpecs,
        settings: ScriptSettings,
        events: UnboundedSender<TrackEvent>,
    ) -> Tracker {
        let mut tasks = Vec::new();
        let mut scripts = Vec::new();
        for spec in specs.scripts {
            let report = Arc::new(Mutex::new(ScriptReport {
                name: spec.name.clone(),
                status: if spec.init_fail {
                    TrackStatus::Down
                } else {
                    TrackStatus::Up
                },
                last: None,
                last_at: None,
                consecutive: 0,
                runs: 0,
                disabled: None,
                running: false,
                last_duration: None,
                total_duration: std::time::Duration::ZERO,
            }));
            scripts.push(Arc::clone(&report));
            tasks.push(tokio::spawn(script::run(
                spec,
                settings,
                events.clone(),
                report,
            )));
        }
        for spec in specs.files {
            tasks.push(tokio::spawn(file::run(spec, events.clone())));
        }
        for spec in specs.processes {
            tasks.push(tokio::spawn(process::run(spec, events.clone())));
        }
        Tracker { tasks, scripts }
    }

    /// The last result of every script, for the control socket.
    pub fn script_reports(&self) -> Vec<ScriptReport> {
        self.scripts
            .iter()
            .filter_map(|r| r.lock().ok().map(|r| r.clone()))
            .collect()
    }

    /// Cancels every task; a script still running is killed with its process group.
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            // Awaiting makes sure the aborted task was dropped (and its script killed).
            let _ = t.await;
        }
    }
}
