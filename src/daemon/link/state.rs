//! What the link knows about each peer, shared between the link's tasks (which write it)
//! and the engine (which reads it for `baton status`).
//!
//! The link runs on a thread of its own, so this is a plain mutex; every lock is held for
//! a few field updates and never across an await, so the engine, reading it only when a
//! status is asked for, never waits on the link in any way that matters to VRRP.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::control::{ConfigCompare, LinkView, PeerView};
use crate::link::compare::Difference;
use crate::link::identity::Fingerprint;
use crate::link::message::{ConfigSummary, Status, Verdict};

/// The state of the link to one peer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Never connected yet: dialling.
    Connecting,
    Down,
    Pending {
        ours: Verdict,
        theirs: Verdict,
    },
    Up,
    /// The peer showed a key other than the one pinned for its address.
    Untrusted,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Down => "down",
            LinkState::Pending { ours, theirs } => {
                match (ours == Verdict::Trusted, theirs == Verdict::Trusted) {
                    (false, false) => "pending trust (both)",
                    (false, true) => "pending trust (ours)",
                    (true, false) => "pending trust (theirs)",
                    (true, true) => "up",
                }
            }
            LinkState::Up => "up",
            LinkState::Untrusted => "untrusted",
        }
    }
}

/// One peer address.
#[derive(Debug, Clone)]
pub struct PeerState {
    pub port: u16,
    /// The key pinned for this address in baton's file.
    pub pin: Option<Fingerprint>,
    /// Configured (or unicast_peer), as opposed to learnt from adverts.
    pub configured: bool,
    pub node_id: Option<String>,
    pub fingerprint: Option<Fingerprint>,
    pub link: LinkState,
    pub since: Instant,
    /// Whether a link to this address was ever up (a keepalived peer never is).
    pub ever_up: bool,
    /// Connections to or from this address that are open now.
    pub open: usize,
    pub rtt: Option<Duration>,
    pub last_heard: Option<Instant>,
    /// The peer's latest status and when it arrived (its ages grow from there).
    pub status: Option<(Status, Instant)>,
    pub summary: Option<ConfigSummary>,
    pub differences: Option<Vec<Difference>>,
    pub refused: BTreeMap<String, u64>,
}

impl PeerState {
    pub fn new(port: u16, pin: Option<Fingerprint>, configured: bool, now: Instant) -> Self {
        PeerState {
            port,
            pin,
            configured,
            node_id: None,
            fingerprint: None,
            link: LinkState::Connecting,
            since: now,
            ever_up: false,
            open: 0,
            rtt: None,
            last_heard: None,
            status: None,
            summary: None,
            differences: None,
            refused: BTreeMap::new(),
        }
    }

    pub fn set_link(&mut self, link: LinkState, now: Instant) {
        if self.link != link {
            self.link = link;
            self.since = now;
        }
        if link == LinkState::Up {
            self.ever_up = true;
        } else {
            // Only a trusted, linked session's reports are shown.
            self.status = None;
        }
    }

    pub fn is_up(&self) -> bool {
        self.link == LinkState::Up
    }
}

/// Everything `baton status` shows of the link.
#[derive(Debug, Default)]
pub struct Shared {
    /// The link is shutting down: dialers stop, no new connection is made.
    pub closing: bool,
    pub fingerprint: Option<Fingerprint>,
    pub node_id: String,
    pub listen: Vec<SocketAddr>,
    pub peers: BTreeMap<IpAddr, PeerState>,
    /// Refusals of connections from addresses that are not peers, by cause.
    pub refused: BTreeMap<String, u64>,
}

/// The handle both sides hold.
#[derive(Debug, Clone, Default)]
pub struct SharedState(Arc<Mutex<Shared>>);

impl SharedState {
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The link's section of `baton status`, with ages as of `now`. A peer address
    /// that sends adverts (`vrrp_sources`) but never linked is a VRRP-only peer (a
    /// keepalived node, or a baton without a link).
    pub fn view(&self, now: Instant, vrrp_sources: &dyn Fn(&IpAddr) -> bool) -> LinkView {
        let s = self.lock();
        let ago = |t: Instant| now.saturating_duration_since(t).as_millis() as u64;
        LinkView {
            fingerprint: s.fingerprint.map(|f| f.to_string()).unwrap_or_default(),
            node_id: s.node_id.clone(),
            listen: s.listen.iter().map(|a| a.to_string()).collect(),
            refused: s.refused.clone(),
            peers: s
                .peers
                .iter()
                .map(|(addr, p)| PeerView {
                    address: addr.to_string(),
                    node_id: p.node_id.clone(),
                    fingerprint: p.fingerprint.map(|f| f.to_string()),
                    link: if !p.ever_up
                        && matches!(p.link, LinkState::Connecting | LinkState::Down)
                        && vrrp_sources(addr)
                    {
                        "vrrp only".to_string()
                    } else {
                        p.link.label().to_string()
                    },
                    link_since_ms_ago: Some(ago(p.since)),
                    rtt_us: p.rtt.map(|d| d.as_micros() as u64),
                    last_heard_ms_ago: p.last_heard.map(ago),
                    status: p.status.as_ref().map(|(st, at)| st.aged(ago(*at))),
                    config: p.differences.as_ref().map(|d| ConfigCompare {
                        matches: d.is_empty(),
                        differences: d.clone(),
                    }),
                    vrrp: Vec::new(),
                    refused: p.refused.clone(),
                })
                .collect(),
        }
    }
}

/// Adds one to a refusal counter.
pub fn count(map: &mut BTreeMap<String, u64>, cause: &str) {
    *map.entry(cause.to_string()).or_default() += 1;
}
