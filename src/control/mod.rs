//! The local control socket: what an operator (or a monitoring system) asks a running
//! baton, and how the answer looks.
//!
//! One JSON request per line on a Unix stream socket, one JSON response per line back.
//! This module owns the message types, a small blocking client for the command line and
//! the human-readable rendering of its answers ([`render`]). The server side lives in the daemon; this
//! module never touches instances directly, only [`crate::proto`] value types.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::proto::Stats;

mod history;
mod link;
mod render;
pub use history::{HookCount, HookRunView, ScriptView, TransitionView};
pub use link::{
    ConfigCompare, IdentityView, LinkView, PeerConfig, PeerListEntry, PeerView, VrrpSeen,
};
pub use render::{render, render_identity, render_peer_list};

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
    /// This node's link identity (`baton identity`).
    Identity,
    /// Pending and trusted peers (`baton peer list`).
    Peers,
    /// Trust a fingerprint (`baton peer approve FP`); persisted in the state directory.
    PeerApprove {
        fingerprint: String,
    },
    /// End the trust in a fingerprint and drop its connection (`baton peer revoke FP`).
    PeerRevoke {
        fingerprint: String,
    },
    /// The config summaries of the linked peers (`baton check --against-peer`).
    PeerConfigs,
}

impl Request {
    /// Whether the link answers it (identity, peers and their trust, peer configs).
    pub fn is_link(&self) -> bool {
        matches!(
            self,
            Request::Identity
                | Request::Peers
                | Request::PeerApprove { .. }
                | Request::PeerRevoke { .. }
                | Request::PeerConfigs
        )
    }

    /// Whether the request only looks: anyone who can open the socket may send it.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Request::Status | Request::Identity | Request::Peers | Request::PeerConfigs
        )
    }
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    Status(Box<Status>),
    Identity(IdentityView),
    Peers { peers: Vec<PeerListEntry> },
    PeerConfigs { peers: Vec<PeerConfig> },
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
    /// Adverts for VRIDs that no instance has on the interface they arrived on.
    #[serde(default)]
    pub unknown_vrids: Vec<UnknownVridStatus>,
    /// The peers: over the link when there is one, else as their adverts show them.
    #[serde(default)]
    pub link: LinkView,
    /// With a link: each target's handover (instance, or sync group).
    #[serde(default)]
    pub handover: Vec<HandoverView>,
    /// With a link: each directory kept in step (`sync_dir`).
    #[serde(default)]
    pub sync: Vec<crate::sync::DirStatus>,
    /// The `vrrp_script`s and their runs.
    #[serde(default)]
    pub scripts: Vec<ScriptView>,
    /// The last hooks that ended, newest first.
    #[serde(default)]
    pub hooks: Vec<HookRunView>,
    /// Every hook run since start, by hook and outcome.
    #[serde(default)]
    pub hook_counts: Vec<HookCount>,
    /// With an arbiter block: each target's etcd election.
    #[serde(default)]
    pub arbiter: Vec<ArbiterView>,
}

/// One target's etcd election as `baton status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArbiterView {
    /// The instance or sync group.
    pub target: String,
    /// `vrrp` (VRRP elects, the election guards) or `only` (the election alone decides).
    pub mode: String,
    /// `stop` or `keep`: what happens when etcd cannot be reached.
    pub etcd_down: String,
    /// The etcd endpoint in use.
    pub endpoint: String,
    /// In touch with etcd: a lease that is still safe to rely on.
    pub healthy: bool,
    /// Holds the election and may serve.
    pub serving: bool,
    /// This node's fencing token while it holds the election (its key's revision).
    pub token: Option<i64>,
    /// The current leader's name and token.
    pub leader: Option<String>,
    pub leader_token: Option<i64>,
    /// The granted lease TTL, and how long the lease is still safe to rely on.
    pub lease_ttl_ms: Option<u64>,
    pub lease_left_ms: Option<u64>,
    /// One plain line: what the election is doing.
    pub phase: String,
}

/// One target's handover as `baton status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverView {
    /// The instance or sync group.
    pub target: String,
    /// This node is MASTER for it (holding or serving).
    #[serde(default)]
    pub master: bool,
    /// Its service may be running here (MASTER hooks started, or leaving hooks running).
    pub serving: bool,
    /// The MASTER hooks are held: for how long so far, why, and how much longer at most.
    pub holding_ms: Option<u64>,
    pub waiting_for: Option<String>,
    pub at_most_ms: Option<u64>,
    /// The peer holds its MASTER hooks for our release, for this long so far.
    pub peer_waiting_ms: Option<u64>,
}

/// Adverts seen on one interface for one VRID (of one family) that no instance has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownVridStatus {
    pub interface: String,
    /// "IPv4" or "IPv6".
    pub family: String,
    pub vrid: u8,
    /// Adverts counted since baton started (or since the VRID was last known).
    pub count: u64,
    pub last_source: String,
    pub last_seen_ms_ago: u64,
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
    /// `virtual_ipaddress_excluded`: held with the others, not in the adverts.
    #[serde(default)]
    pub excluded_addresses: Vec<String>,
    /// The last transitions, newest first.
    #[serde(default)]
    pub transitions: Vec<TransitionView>,
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
    fn a_status_without_unknown_vrids_still_reads() {
        // An older daemon's answer has no unknown_vrids field.
        let text = r#"{"router_id":"a","config_file":"/x","config_digest":"0","pid":1,"uptime_ms":0,"instances":[],"groups":[],"tracks":[]}"#;
        let st: Status = serde_json::from_str(text).unwrap();
        assert!(st.unknown_vrids.is_empty());
    }
}
