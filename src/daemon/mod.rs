//! The daemon: loads the configuration, builds the engine on a single-threaded tokio
//! runtime, and runs it until SIGTERM / SIGINT.
//!
//! Submodules: [`plan`] (configuration → what to run), [`engine`] (the one task that
//! owns every instance), [`effects`] (ordered side effects: addresses, GARP, hooks), `reload`
//! (what a reload moves on a master besides its virtual addresses), `unknown` (adverts for
//! VRIDs no instance has), `vmac` (the macvlan interfaces of `use_vmac`).

pub mod effects;
pub mod engine;
pub mod plan;
mod reload;
mod timer;
mod unknown;
mod vmac;

use std::path::PathBuf;

use anyhow::Context as _;

use crate::config::{self, LoadOptions};

/// How `baton run` was asked to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub load: LoadOptions,
    /// Control socket path.
    pub socket: PathBuf,
    pub pid_file: Option<PathBuf>,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration has errors; every diagnostic is in the text.
    #[error("{0}")]
    Config(config::LoadFailure),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Runs the daemon in the foreground until it is told to stop.
pub fn run(opts: Options) -> Result<(), StartError> {
    let loaded = config::load(&opts.config, &opts.load).map_err(StartError::Config)?;
    for d in &loaded.diagnostics {
        tracing::warn!("{d}");
    }
    if let Some(pid) = &opts.pid_file {
        std::fs::write(pid, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing pid file {}", pid.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let engine = engine::Engine::start(opts, loaded.config).await?;
        engine.run().await
    })?;
    Ok(())
}

/// systemd notifications; each is a no-op outside systemd (no NOTIFY_SOCKET).
pub(crate) mod sd {
    use std::time::Duration;

    use sd_notify::NotifyState;

    pub fn ready(status: &str) {
        let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub fn reloading() {
        let mut states = vec![NotifyState::Reloading];
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            states.push(now);
        }
        let _ = sd_notify::notify(&states);
    }

    pub fn stopping() {
        let _ = sd_notify::notify(&[NotifyState::Stopping]);
    }

    pub fn status(status: &str) {
        let _ = sd_notify::notify(&[NotifyState::Status(status)]);
    }

    pub fn watchdog() {
        let _ = sd_notify::notify(&[NotifyState::Watchdog]);
    }

    /// Half the watchdog period systemd asks for, if it asks.
    pub fn watchdog_period() -> Option<Duration> {
        sd_notify::watchdog_enabled().map(|d| d / 2)
    }
}
