//! The arbiter's driver: carries out the election machines' [`Command`]s against etcd, on
//! a thread of its own with its own single-threaded runtime, so that nothing etcd does
//! (a dead member, a slow answer, a reconnect) can hold up the engine. The engine hands
//! commands over a channel that never blocks; answers and watch events come back through
//! the `report` callback as [`ArbiterReport`]s, which the engine turns into its own events.
//!
//! One driver per `arbiter etcd` block, talking to one endpoint at a time: it moves to the
//! next on a transport error, on a request that timed out, and on
//! [`Command::NextEndpoint`], and re-establishes the watches there.
//!
//! Built without the `etcd` feature, [`ArbiterDriver::start`] refuses to start.

use crate::arbiter::{Command, Input};

#[cfg(feature = "etcd")]
mod etcd;
#[cfg(feature = "etcd")]
mod ops;

#[cfg(feature = "etcd")]
pub use etcd::ArbiterDriver;

/// What a driver reports for one election.
#[derive(Debug)]
pub struct ArbiterReport {
    /// The instance or sync group the election is for.
    pub target: String,
    pub input: Input,
}

/// What the engine hands a driver: one election's command, or the end.
#[derive(Debug)]
#[cfg_attr(not(feature = "etcd"), allow(dead_code))]
enum Order {
    Run { target: String, command: Command },
    Stop,
}

/// The engine's callback for reports.
pub type Report = Box<dyn Fn(ArbiterReport) + Send + Sync>;

#[cfg(not(feature = "etcd"))]
mod absent {
    use std::time::Duration;

    use super::Report;
    use crate::arbiter::Command;
    use crate::config::baton::ArbiterConf;

    /// Stands in for the driver in a build without etcd support: it never starts.
    pub struct ArbiterDriver {
        _never: std::convert::Infallible,
    }

    impl ArbiterDriver {
        pub fn start(_conf: &ArbiterConf, _report: Report) -> anyhow::Result<Self> {
            anyhow::bail!(
                "baton was built without etcd support (cargo feature `etcd`): \
                 the arbiter etcd block cannot run; the deb and rpm packages have it"
            )
        }

        pub fn send(&self, _target: &str, _command: Command) {}

        pub fn endpoint(&self) -> String {
            String::new()
        }

        pub fn stop(self, _grace: Duration) {}
    }
}

#[cfg(not(feature = "etcd"))]
pub use absent::ArbiterDriver;
