//! The daemon: loads the configuration, builds the engine on a single-threaded tokio
//! runtime, and runs it until SIGTERM / SIGINT.
//!
//! No check or hook outlives the daemon: every exit path it controls (shutdown, a fatal
//! error, a panic) kills their process groups, and a start first kills what a run that
//! was killed outright left behind (the register next to the control socket, see
//! [`hooks::children`]).
//!
//! Submodules: [`plan`] (configuration → what to run), [`engine`] (the one task that
//! owns every instance), [`effects`] (ordered side effects: addresses, GARP, hooks), `reload`
//! (what a reload moves on a master besides its virtual addresses), `unknown` (adverts for
//! VRIDs no instance has), `vmac` (the macvlan interfaces of `use_vmac`), `web` (the HTTP
//! server's listeners and connections, on a thread of its own).

pub mod arbiter;
pub mod effects;
pub mod engine;
pub mod link;
pub mod plan;
mod prio;
mod reload;
mod timer;
mod unknown;
mod vmac;
mod web;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::config::{self, LoadOptions};
use crate::hooks;

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

/// Catches SIGHUP, SIGUSR1, SIGUSR2 and the JSON dump signal with a handler that does
/// nothing, so one that arrives before the engine's own handlers does not end baton.
fn hold_signals() -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let ignored = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGUSR1,
        signal_hook::consts::SIGUSR2,
        crate::dump::json_signal(),
    ] {
        signal_hook::flag::register(sig, Arc::clone(&ignored))
            .with_context(|| format!("catching signal {sig}"))?;
    }
    Ok(())
}

/// Runs the daemon in the foreground until it is told to stop.
pub fn run(opts: Options) -> Result<(), StartError> {
    let loaded = config::load(&opts.config, &opts.load).map_err(StartError::Config)?;
    for d in &loaded.diagnostics {
        tracing::warn!("{d}");
    }
    // From the moment the pid file names us, scripts may signal us (reload, the dump
    // files); those signals' default action ends a process. Until the engine listens,
    // they are caught and dropped.
    hold_signals()?;
    if let Some(pid) = &opts.pid_file {
        std::fs::write(pid, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing pid file {}", pid.display()))?;
    }
    let register = children_file(&opts.socket);
    adopt_children(&register)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(async {
        let engine = engine::Engine::start(opts, loaded.config).await?;
        engine.run().await
    });
    // A clean shutdown has already stopped every check and hook; after a fatal error
    // some may still run. Either way none may outlive baton.
    hooks::children::kill_all();
    drop(runtime);
    if hooks::children::count() == 0 {
        let _ = std::fs::remove_file(&register);
    }
    result?;
    Ok(())
}

/// Where the children register lives: next to the control socket, so two baton
/// daemons on one host (each with its own socket) never reap each other's children.
pub fn children_file(socket: &Path) -> PathBuf {
    socket.with_extension("children")
}

/// Kills what a previous run that was killed left running (see [`hooks::children`]),
/// starts recording this run's children, and makes a panic kill them too (release
/// builds abort on panic, but the panic hook still runs first).
fn adopt_children(register: &Path) -> anyhow::Result<()> {
    if let Some(dir) = register.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for r in hooks::children::adopt_file(register) {
        let members: Vec<String> = r
            .members
            .iter()
            .map(|(pid, comm)| format!("{pid} ({comm})"))
            .collect();
        tracing::warn!(
            "killed process group {} left running by a previous baton: {}",
            r.pgid,
            members.join(", ")
        );
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // With panic=abort (release builds) nothing is dropped after this hook, so this
        // is the last chance. With unwinding, dropping each running program kills its
        // group, and a panic caught in one task must not kill every other task's child.
        if cfg!(panic = "abort") {
            hooks::children::kill_all();
        }
        previous(info);
    }));
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
