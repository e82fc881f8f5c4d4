//! Helpers for tests that drive a [`HookRunner`] with real scripts: write a script, name
//! it as a hook command, and collect the runner's reports until hooks have finished.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton::hooks::{HookCmd, HookPhase, HookReport, HookRunner, HookSettings};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;

/// How long [`finished`] waits for the hooks it counts.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// An executable `/bin/sh` script `name` in `dir` running `body`.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
    path
}

/// The hook command that runs `path` with no arguments, as the daemon's user.
pub fn cmd(path: &Path) -> Option<HookCmd> {
    Some(HookCmd {
        argv: vec![path.display().to_string()],
        run_as: None,
    })
}

/// A runner with `settings` and the receiver of its reports.
pub fn runner(settings: HookSettings) -> (HookRunner, UnboundedReceiver<HookReport>) {
    let (tx, rx) = unbounded_channel();
    (HookRunner::new(settings, tx), rx)
}

/// Collects reports until `n` hooks have finished (or been refused).
pub async fn finished(rx: &mut UnboundedReceiver<HookReport>, n: usize) -> Vec<HookReport> {
    let mut all = Vec::new();
    let mut done = 0;
    let end = Instant::now() + DEADLINE;
    while done < n {
        let r = tokio::time::timeout_at(end, rx.recv())
            .await
            .expect("hooks did not finish before the deadline")
            .expect("report channel closed");
        if matches!(
            r.phase,
            HookPhase::Finished { .. } | HookPhase::Refused { .. }
        ) {
            done += 1;
        }
        all.push(r);
    }
    all
}
