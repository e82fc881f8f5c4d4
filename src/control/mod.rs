//! The local control socket: what an operator (or a monitoring system) asks a running
//! baton, and how the answer looks.
//!
//! One JSON request per line on a Unix stream socket, one JSON response per line back.
//! This module owns the message types, a small blocking client for the command line and
//! the human-readable rendering of a status. The server side lives in the daemon; this
//! module never touches instances directly, only [`crate::proto`] value types.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::proto::Stats;

/// Where the daemon listens unless told otherwise (systemd's `RuntimeDirectory=baton`).
pub const DEFAULT_SOCKET: &str = "/run/baton/baton.sock";

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    Status,
    /// Become master now (unless in FAULT) and hold it until released.
    Promote {
        instance: String,
    },
    /// Step down and stay backup until released.
    Demote {
        instance: String,
    },
    /// Undo promote / demote.
    Release {
        instance: String,
    },
    /// Re-read the configuration, as SIGHUP does.
    Reload,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Status(Box<Status>),
    Ok { message: String },
    Error { message: String },
}

/// The whole node as the daemon sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub router_id: String,
    pub config_file: PathBuf,
    /// A fingerprint of the resolved configuration: two nodes whose shared parts differ
    /// show it at a glance.
    pub config_digest: String,
    pub pid: u32,
    pub uptime_ms: u64,
    pub instances: Vec<InstanceStatus>,
    pub groups: Vec<GroupStatus>,
    pub tracks: Vec<TrackStatusView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub state: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub priority: u8,
    pub effective_priority: u8,
    /// "self" when this node is master, the master's address when known.
    pub master: Option<String>,
    pub virtual_addresses: Vec<String>,
    /// Time spent in the current state.
    pub in_state_ms: u64,
    pub last_reason: String,
    /// "promoted" / "demoted" when an operator override is active.
    pub operator: Option<String>,
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    pub name: String,
    pub state: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackStatusView {
    pub key: String,
    pub status: String,
}

/// Errors of the client side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("cannot reach baton at {path}: {source} (is it running? see --socket)")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to baton: {0}")]
    Io(#[from] std::io::Error),
    #[error("baton answered something unreadable: {0}")]
    Decode(#[from] serde_json::Error),
}

/// Sends one request and waits (at most `timeout`) for its answer.
pub fn request(path: &Path, req: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
        path: path.to_owned(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    (&stream).write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    Ok(serde_json::from_str(&answer)?)
}

/// Renders a status the way `baton status` prints it.
pub fn render(status: &Status) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "baton pid {} up {}  router_id {}  config {} (digest {})",
        status.pid,
        human_ms(status.uptime_ms),
        status.router_id,
        status.config_file.display(),
        status.config_digest
    );
    let _ = writeln!(
        out,
        "{:<16} {:<7} {:<10} {:>4} {:>2} {:>9} {:<17} {:>9}  VIPS",
        "INSTANCE", "STATE", "INTERFACE", "VRID", "V", "PRIO", "MASTER", "SINCE"
    );
    for i in &status.instances {
        let prio = if i.priority == i.effective_priority {
            i.priority.to_string()
        } else {
            format!("{}/{}", i.effective_priority, i.priority)
        };
        let state = match &i.operator {
            Some(op) => format!("{}*{}", i.state, op.get(..1).unwrap_or("?")),
            None => i.state.clone(),
        };
        let _ = writeln!(
            out,
            "{:<16} {:<7} {:<10} {:>4} {:>2} {:>9} {:<17} {:>9}  {}",
            i.name,
            state,
            i.interface,
            i.vrid,
            i.version,
            prio,
            i.master.as_deref().unwrap_or("-"),
            human_ms(i.in_state_ms),
            i.virtual_addresses.join(" ")
        );
    }
    if status.instances.iter().any(|i| i.operator.is_some()) {
        let _ = writeln!(
            out,
            "(*p promoted, *d demoted by an operator: `baton release NAME`)"
        );
    }
    for g in &status.groups {
        let _ = writeln!(
            out,
            "group {} {} [{}]",
            g.name,
            g.state,
            g.members.join(", ")
        );
    }
    if !status.tracks.is_empty() {
        let list: Vec<String> = status
            .tracks
            .iter()
            .map(|t| format!("{}={}", t.key, t.status))
            .collect();
        let _ = writeln!(out, "tracked: {}", list.join("  "));
    }
    out
}

fn human_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_object() {
        let req = Request::Promote {
            instance: "VI_1".into(),
        };
        let text = serde_json::to_string(&req).unwrap();
        assert_eq!(text, r#"{"cmd":"promote","instance":"VI_1"}"#);
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), req);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"cmd":"status"}"#).unwrap(),
            Request::Status
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_ms(250), "250ms");
        assert_eq!(human_ms(1_500), "1.5s");
        assert_eq!(human_ms(61_000), "1m1s");
        assert_eq!(human_ms(3_720_000), "1h2m");
    }
}
