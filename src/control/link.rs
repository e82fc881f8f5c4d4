//! The link's part of the control socket: identity, peers and their trust, and the
//! peers' rows in `baton status`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::link::compare::Difference;
use crate::link::message::{ConfigSummary, Status as PeerSelfStatus};

/// `baton identity`: who this node is on the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityView {
    /// `AB:CD:...`, as `openssl x509 -noout -fingerprint -sha256` prints it.
    pub fingerprint: String,
    pub node_id: String,
    pub state_dir: String,
    /// `ADDRESS:PORT` the link listens on (empty when offline or not listening).
    #[serde(default)]
    pub listen: Vec<String>,
}

/// One line of `baton peer list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerListEntry {
    pub fingerprint: String,
    /// `approved` (by `baton peer approve`), `configured` (baton.conf) or `pending`.
    pub trust: String,
    #[serde(default)]
    pub node_id: Option<String>,
    /// Where it last connected from.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub last_seen_ms_ago: Option<u64>,
    /// When it was approved (RFC 3339, UTC), for approved peers.
    #[serde(default)]
    pub approved_at: Option<String>,
    /// Whether a session with this key is up right now.
    #[serde(default)]
    pub linked: bool,
}

/// The link's section of `baton status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LinkView {
    /// Empty when the node has no link (no `link` block): peers then come from adverts.
    #[serde(default)]
    pub fingerprint: String,
    #[serde(default)]
    pub node_id: String,
    #[serde(default)]
    pub listen: Vec<String>,
    pub peers: Vec<PeerView>,
    /// Refusals that belong to no known peer (connections from addresses that are not
    /// peers), by cause.
    #[serde(default)]
    pub refused: BTreeMap<String, u64>,
}

/// One peer, as this node sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    pub address: String,
    #[serde(default)]
    pub node_id: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// `up`, `down`, `connecting`, `pending trust (ours)`, `pending trust (theirs)`,
    /// `pending trust (both)`, `untrusted` (refused: wrong key), or `vrrp only` (no link
    /// answers at that address, but its adverts arrive: a keepalived peer).
    pub link: String,
    /// How long the link has been in that state.
    #[serde(default)]
    pub link_since_ms_ago: Option<u64>,
    #[serde(default)]
    pub rtt_us: Option<u64>,
    #[serde(default)]
    pub last_heard_ms_ago: Option<u64>,
    /// The peer's report of itself, from a trusted, linked session only.
    #[serde(default)]
    pub status: Option<PeerSelfStatus>,
    /// `None`: not compared yet (no summary from the peer).
    #[serde(default)]
    pub config: Option<ConfigCompare>,
    /// What the adverts from this address tell, per instance of ours.
    #[serde(default)]
    pub vrrp: Vec<VrrpSeen>,
    /// Refusals of this peer's connections, by cause.
    #[serde(default)]
    pub refused: BTreeMap<String, u64>,
}

/// The result of comparing our config summary with a peer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigCompare {
    /// `differences.is_empty()`.
    pub matches: bool,
    pub differences: Vec<Difference>,
}

/// Adverts from a peer's address for one of our instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpSeen {
    pub instance: String,
    pub vrid: u8,
    pub priority: u8,
    pub last_advert_ms_ago: u64,
}

/// What a running peer has, for `baton check --against-peer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerConfig {
    pub address: String,
    #[serde(default)]
    pub node_id: Option<String>,
    pub summary: ConfigSummary,
}
