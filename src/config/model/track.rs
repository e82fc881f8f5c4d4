//! Tracked objects in the model: `vrrp_script`, `track_file` and
//! `vrrp_track_process` definitions, and the references to them ([`TrackRef`])
//! that instances and sync groups hold.
//!
//! Plain data and their defaults; running the checks is `track`'s.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Command, opt_secs, secs};

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VrrpScript {
    pub name: String,
    /// `None` when the block has no `script` (an error, reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<Command>,
    /// Default 1 s; fractions allowed.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// `None`: unset (keepalived 2.2.7 dumps 0); baton then allows a run
    /// the whole interval, see [`VrrpScript::effective_timeout`].
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// -253..=253, default 0 (0: failure means FAULT).
    pub weight: i32,
    pub weight_reverse: bool,
    /// Successes needed for OK (default 1).
    pub rise: u32,
    /// Failures needed for KO (default 1).
    pub fall: u32,
    /// Start in the failed state.
    pub init_fail: bool,
}

impl Default for VrrpScript {
    fn default() -> Self {
        Self::new("")
    }
}

impl VrrpScript {
    pub fn new(name: impl Into<String>) -> Self {
        VrrpScript {
            name: name.into(),
            script: None,
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
        }
    }
    /// The time a run may take: the timeout, else the interval (a run
    /// still going when the next is due has failed).
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.interval)
    }
}

/// `track_file NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackFile {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Default 1.
    pub weight: i32,
    pub weight_reverse: bool,
    /// `init_file [VALUE] [overwrite]`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_file: Option<InitFile>,
}

impl Default for TrackFile {
    fn default() -> Self {
        Self::new("")
    }
}

impl TrackFile {
    pub fn new(name: impl Into<String>) -> Self {
        TrackFile {
            name: name.into(),
            file: None,
            weight: 1,
            weight_reverse: false,
            init_file: None,
        }
    }
}

/// `init_file [VALUE] [overwrite]` of a track_file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitFile {
    pub value: i64,
    pub overwrite: bool,
}

/// `vrrp_track_process NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackProcess {
    pub name: String,
    /// Process name (or path) to match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// Parameters that must match, if any were given.
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param_match: Option<ParamMatch>,
    /// Default 0: keepalived.conf(5) says 1, but keepalived 2.2.7's own
    /// configuration dump shows 0, and baton follows the program.
    pub weight: i32,
    pub weight_reverse: bool,
    /// Minimum processes for success (default 1).
    pub quorum: u32,
    /// Maximum processes for success (`None`: unlimited).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_max: Option<u32>,
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork_delay: Option<Duration>,
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminate_delay: Option<Duration>,
    /// Match the full command line instead of the process name.
    pub full_command: bool,
}

impl Default for TrackProcess {
    fn default() -> Self {
        Self::new("")
    }
}

impl TrackProcess {
    pub fn new(name: impl Into<String>) -> Self {
        TrackProcess {
            name: name.into(),
            process: None,
            params: Vec::new(),
            param_match: None,
            weight: 0,
            weight_reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: None,
            terminate_delay: None,
            full_command: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ParamMatch {
    /// Parameters given must match exactly (no more, no fewer).
    Exact,
    /// The first n parameters match.
    Partial,
    /// Like partial, and the last may be a prefix.
    Initial,
}

/// A reference from an instance or sync group to a tracked object, with an
/// optional weight override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackRef {
    pub name: String,
    /// `None`: the tracked object's own weight (0 for interfaces).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    #[serde(default)]
    pub reverse: bool,
}
