//! The messages of the baton-to-baton link: JSON bodies of [`super::codec`] frames.
//!
//! Each struct is one frame type's body. Fields added later carry `#[serde(default)]`
//! and unknown fields are ignored, so a message grows without a new type or version.
//! Version negotiation lives here too: the highest version both peers speak.
//! No I/O and no clock: times are ages or offsets the sender computed.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::proto;

/// The link protocol versions this build speaks. Version 2 adds the handover frames
/// ([`ReleaseRequest`], [`Released`]); with a peer that speaks only version 1 the session
/// neither sends nor accepts them, and the two nodes hand over as if unlinked. Version 3
/// adds the data sync frames; with an older peer no directory is kept in step.
pub const VERSIONS: VersionRange = VersionRange { min: 1, max: 3 };

/// The first version with the data sync frames.
pub const SYNC_VERSION: u16 = 3;

/// The first version with the handover frames.
pub const HANDOVER_VERSION: u16 = 2;

/// Frame type numbers of the handover: 16, 17 and 19 are in use from version 2 on, the
/// rest (18 included, once named "done") stay held and decode as unknown types.
pub const HANDOVER_TYPES: RangeInclusive<u16> = 16..=31;
pub const HANDOVER_RELEASE_REQUEST: u16 = 16;
pub const HANDOVER_RELEASED: u16 = 17;
pub const HANDOVER_DONE: u16 = 18;
pub const HANDOVER_HOLDING: u16 = 19;
/// Frame type numbers of data sync: 32 to 39 are in use from version 3 on (their bodies
/// are `crate::sync::message`'s), the rest of the range is held.
pub const DATA_SYNC_TYPES: RangeInclusive<u16> = 32..=47;
pub const SYNC_IN_USE: RangeInclusive<u16> = 32..=39;

/// Protocol versions a node speaks, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRange {
    pub min: u16,
    pub max: u16,
}

impl std::fmt::Display for VersionRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "version {}", self.min)
        } else {
            write!(f, "versions {}-{}", self.min, self.max)
        }
    }
}

/// Why two nodes have no version in common.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    #[error("peer speaks only newer link {theirs}; this baton speaks {ours}: upgrade it")]
    PeerNewer {
        ours: VersionRange,
        theirs: VersionRange,
    },
    #[error("peer speaks only older link {theirs}; this baton speaks {ours}: upgrade the peer")]
    PeerOlder {
        ours: VersionRange,
        theirs: VersionRange,
    },
    #[error("peer sent an empty version range {}-{}", .theirs.min, .theirs.max)]
    Empty { theirs: VersionRange },
}

/// The highest version in both ranges.
pub fn negotiate(ours: VersionRange, theirs: VersionRange) -> Result<u16, VersionError> {
    if theirs.min > theirs.max {
        return Err(VersionError::Empty { theirs });
    }
    if theirs.min > ours.max {
        return Err(VersionError::PeerNewer { ours, theirs });
    }
    if theirs.max < ours.min {
        return Err(VersionError::PeerOlder { ours, theirs });
    }
    Ok(ours.max.min(theirs.max))
}

/// First frame each side sends, at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub versions: VersionRange,
    /// The node's name for humans (its router_id or host name).
    pub node_id: String,
    /// SHA-256 of the sender's certificate, as `openssl x509 -fingerprint -sha256` shows
    /// it; must be the one TLS saw.
    pub fingerprint: String,
    pub baton_version: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// Whether the sender trusts the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Trusted,
    Pending,
}

/// The answer to a Hello, sent again whenever the sender's verdict changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloAck {
    pub version: u16,
    pub verdict: Verdict,
}

/// Sent every second; `sent_at_us` is the sender's own monotonic offset, echoed back
/// unchanged so the sender measures the round trip on its own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub seq: u64,
    pub sent_at_us: u64,
}

/// The echo of a [`Heartbeat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    pub seq: u64,
    pub sent_at_us: u64,
}

/// An instance state as a peer reports it; a state a newer peer adds reads as Unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceState {
    Init,
    Backup,
    Master,
    Fault,
    Stop,
    #[serde(other)]
    Unknown,
}

impl From<proto::State> for InstanceState {
    fn from(s: proto::State) -> Self {
        match s {
            proto::State::Initialize => InstanceState::Init,
            proto::State::Backup => InstanceState::Backup,
            proto::State::Master => InstanceState::Master,
            proto::State::Fault => InstanceState::Fault,
            proto::State::Stop => InstanceState::Stop,
        }
    }
}

/// A node's own view of itself, sent on every change and with every heartbeat once
/// linked. Ages are as of when the sender built it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Status {
    pub baton_version: String,
    pub uptime_ms: u64,
    pub instances: Vec<InstanceStatus>,
}

impl Status {
    /// The same status `ms` milliseconds later: uptime, time in state and the last hook's
    /// age grow; nothing else changes between reports.
    pub fn aged(&self, ms: u64) -> Status {
        let mut s = self.clone();
        s.uptime_ms = s.uptime_ms.saturating_add(ms);
        for i in &mut s.instances {
            i.in_state_ms = i.in_state_ms.saturating_add(ms);
            if let Some(h) = &mut i.last_hook {
                h.ago_ms = h.ago_ms.saturating_add(ms);
            }
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub state: InstanceState,
    pub effective_priority: u8,
    pub base_priority: u8,
    pub last_reason: String,
    /// Time since the last transition.
    pub in_state_ms: u64,
    #[serde(default)]
    pub tracked: Vec<TrackedState>,
    /// The notify hook running now (e.g. `notify_master`), if any.
    #[serde(default)]
    pub hook_running: Option<String>,
    #[serde(default)]
    pub last_hook: Option<HookResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedState {
    /// As in `baton status`: `script:chk_web`, `iface:eth0`, ...
    pub key: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookResult {
    pub hook: String,
    /// `exit 0`, `exit 3`, `signal 9`, `timeout`, as the sender words it.
    pub result: String,
    pub ago_ms: u64,
}

/// Per instance, the settings both nodes of a pair must agree on, and a digest of the
/// whole so an unchanged summary is recognised at a glance. Sent once linked and on
/// every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConfigSummary {
    pub digest: String,
    pub instances: Vec<InstanceConfigSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfigSummary {
    pub name: String,
    pub vrid: u8,
    /// VRRP version, 2 or 3.
    pub version: u8,
    pub advert_interval_ms: u32,
    pub virtual_addresses: Vec<String>,
    #[serde(default)]
    pub virtual_routes: Vec<String>,
    #[serde(default)]
    pub virtual_rules: Vec<String>,
    /// The authentication type and a digest of its secret, never the secret itself.
    #[serde(default)]
    pub auth: Option<String>,
    /// How the VRRPv3 IPv4 checksum is computed (with or without the pseudo-header).
    pub checksum_mode: String,
    #[serde(default)]
    pub unicast_source: Option<String>,
    #[serde(default)]
    pub unicast_peers: Vec<String>,
    #[serde(default)]
    pub sync_group: Option<String>,
    /// Tracked objects whose weight decides who wins.
    #[serde(default)]
    pub tracked: Vec<TrackedWeight>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedWeight {
    pub key: String,
    pub weight: i32,
    #[serde(default)]
    pub reverse: bool,
}

/// "I have entered MASTER for `target` and hold its MASTER hooks until you say your
/// service for it has stopped." Sent by the node entering MASTER, again on every new
/// connection while it still holds. `generation` counts the sender's masterships of the
/// target, so an answer to an older request is recognised and ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// An instance or sync group name, as in keepalived.conf.
    pub target: String,
    pub generation: u64,
}

/// "My service for `target` is not running": the sender's hooks for leaving MASTER have
/// ended (or were killed at their timeout), or it never started them. It answers the
/// [`ReleaseRequest`] of `generation`; the sender never sends it while it is MASTER
/// itself, so two nodes that both entered MASTER wait for VRRP to pick one.
///
/// With `stopping`, the sender is shutting down and will not serve `target` again on
/// this connection: sent unasked once its leaving hooks are done, it releases any hold
/// of the receiver, present or future, whatever its generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Released {
    pub target: String,
    pub generation: u64,
    #[serde(default)]
    pub stopping: bool,
}

/// "Your request of `generation` reached me, and I cannot release `target` yet": the
/// sender's service is running (its release follows when its hooks for leaving MASTER
/// have ended), or it is MASTER itself. Sent at once in answer to a [`ReleaseRequest`]
/// that is not answered with [`Released`], it tells the requester that its peer is
/// alive, so that a peer silent on VRRP is not taken for a crashed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub target: String,
    pub generation: u64,
}

/// Why the sender closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseCode {
    Version,
    Untrusted,
    Revoked,
    Shutdown,
    Timeout,
    ProtocolError,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    pub code: CloseCode,
    /// For the peer's log: what exactly went wrong.
    #[serde(default)]
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(min: u16, max: u16) -> VersionRange {
        VersionRange { min, max }
    }

    #[test]
    fn negotiation_picks_the_highest_common_version() {
        assert_eq!(negotiate(r(1, 3), r(2, 5)), Ok(3));
        assert_eq!(negotiate(r(2, 5), r(1, 3)), Ok(3));
        assert_eq!(negotiate(r(1, 1), r(1, 4)), Ok(1));
    }

    #[test]
    fn a_peer_with_only_newer_versions_is_refused_with_a_reason() {
        let err = negotiate(r(1, 1), r(2, 3)).unwrap_err();
        assert!(matches!(err, VersionError::PeerNewer { .. }));
        assert_eq!(
            err.to_string(),
            "peer speaks only newer link versions 2-3; this baton speaks version 1: upgrade it"
        );
        assert!(matches!(
            negotiate(r(3, 4), r(1, 2)),
            Err(VersionError::PeerOlder { .. })
        ));
        assert!(matches!(
            negotiate(r(1, 1), r(2, 1)),
            Err(VersionError::Empty { .. })
        ));
    }

    #[test]
    fn unknown_fields_and_states_from_a_newer_peer_are_tolerated() {
        let json = r#"{"name":"VI_1","state":"LEADER","effective_priority":100,
            "base_priority":100,"last_reason":"x","in_state_ms":5,"shiny":true}"#;
        let s: InstanceStatus = serde_json::from_str(json).unwrap();
        assert_eq!(s.state, InstanceState::Unknown);
        assert!(s.tracked.is_empty() && s.last_hook.is_none());
        let c: Close = serde_json::from_str(r#"{"code":"bored"}"#).unwrap();
        assert_eq!(c.code, CloseCode::Other);
    }

    #[test]
    fn an_aged_status_moves_only_its_ages_on() {
        let s = Status {
            baton_version: "0.1.0".into(),
            uptime_ms: 1000,
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                state: InstanceState::Master,
                effective_priority: 100,
                base_priority: 100,
                last_reason: "x".into(),
                in_state_ms: 10,
                tracked: vec![],
                hook_running: None,
                last_hook: Some(HookResult {
                    hook: "notify_master".into(),
                    result: "exit 0".into(),
                    ago_ms: 5,
                }),
            }],
        };
        let a = s.aged(250);
        assert_eq!(a.uptime_ms, 1250);
        assert_eq!(a.instances[0].in_state_ms, 260);
        assert_eq!(a.instances[0].last_hook.as_ref().unwrap().ago_ms, 255);
        assert_eq!(a.instances[0].state, InstanceState::Master);
        assert_eq!(s.aged(0), s);
    }

    #[test]
    fn hello_is_json_a_human_can_read() {
        let hello = Hello {
            versions: VERSIONS,
            node_id: "lb1".into(),
            fingerprint: "AB:CD".into(),
            baton_version: "0.1.0".into(),
            capabilities: vec![],
        };
        assert_eq!(
            serde_json::to_string(&hello).unwrap(),
            r#"{"versions":{"min":1,"max":3},"node_id":"lb1","fingerprint":"AB:CD","baton_version":"0.1.0","capabilities":[]}"#
        );
    }

    #[test]
    fn reserved_ranges_hold_only_the_types_in_use() {
        use crate::link::codec::FrameType;
        assert_eq!(
            FrameType::from(HANDOVER_RELEASE_REQUEST),
            FrameType::ReleaseRequest
        );
        assert_eq!(FrameType::from(HANDOVER_RELEASED), FrameType::Released);
        assert_eq!(FrameType::from(HANDOVER_HOLDING), FrameType::Holding);
        for n in HANDOVER_TYPES.chain(DATA_SYNC_TYPES) {
            let kind = FrameType::from(n);
            if ![
                HANDOVER_RELEASE_REQUEST,
                HANDOVER_RELEASED,
                HANDOVER_HOLDING,
            ]
            .contains(&n)
            {
                let want = if SYNC_IN_USE.contains(&n) {
                    FrameType::Sync(n)
                } else {
                    FrameType::Unknown(n)
                };
                assert_eq!(kind, want);
            }
        }
    }

    #[test]
    fn handover_bodies_are_small_readable_json() {
        let r = Released {
            target: "VI_1".into(),
            generation: 3,
            stopping: false,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"target":"VI_1","generation":3,"stopping":false}"#
        );
        // A release from a peer that leaves `stopping` out is an ordinary answer.
        let r: Released = serde_json::from_str(r#"{"target":"G","generation":1}"#).unwrap();
        assert!(!r.stopping);
        let q = ReleaseRequest {
            target: "G".into(),
            generation: 9,
        };
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"{"target":"G","generation":9}"#
        );
    }
}
