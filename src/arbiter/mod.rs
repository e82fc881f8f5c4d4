//! The etcd arbiter: one election per target (an instance, or a sync group), as a sans-IO
//! state machine. A node may serve a target (run its MASTER hooks, hold its virtual
//! addresses) only while it holds that target's election, and stops before its lease can
//! have expired on the etcd side.
//!
//! The election is etcd's usual recipe on plain KV calls: each candidate puts the key
//! `<prefix><target>/<lease id in hex>` (value: its node name) attached to its lease, if
//! that key does not exist yet; the candidate whose key has the lowest create revision is
//! the leader, and that revision is the *fencing token* (it only grows: a new term is a new
//! key). Resigning deletes the key; a lease that expires on etcd deletes it too. Nothing
//! here talks to etcd: the driver (`daemon::arbiter`) carries out each [`Command`] and
//! feeds back its [`Reply`] or failure, and the watch of the prefix as
//! [`Input::LeaderChanged`].
//!
//! Time comes in as an argument; outputs are drained with [`Arbiter::poll`] after every
//! input, and [`Arbiter::next_deadline`] says when to call [`Input::Timer`]. A spurious
//! timer is harmless. No I/O, no clock, no panics.
//!
//! The lease bound, on this node's monotonic clock: a keep-alive answered with a TTL of
//! `ttl` was *sent* at `s`, so etcd renewed the lease no earlier than `s` and keeps it at
//! least `ttl` of its own time. With every clock's rate within `1 ± drift` of real time,
//! the lease cannot expire on etcd before `s + ttl·(1 − drift)/(1 + drift)` of this node's
//! clock. The node stops serving `margin` before that instant (the *deadline*), so its
//! leaving hooks have `margin` to finish while the lease still holds.

use std::time::{Duration, Instant};

pub use crate::config::baton::EtcdDown;

mod machine;

#[cfg(test)]
mod tests;

pub use machine::Arbiter;

/// One election's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ArbiterConfig {
    /// The instance or sync group the election is for.
    pub target: String,
    /// The election's key prefix: `<configured prefix><target>/`.
    pub election: String,
    /// This node's name, the value of its key (shown as the leader by every node).
    pub name: String,
    /// The lease TTL asked for (etcd may grant more, never less than its minimum).
    pub ttl: Duration,
    /// The bound on any clock's rate difference from real time (0.01: 1 %).
    pub drift: f64,
    /// How long before the deadline serving stops: the time the leaving hooks have.
    pub margin: Duration,
    /// An etcd request unanswered this long has failed (the driver moves to the next
    /// endpoint).
    pub request_timeout: Duration,
    pub etcd_down: EtcdDown,
}

/// Identifies one request, so a late answer to an abandoned one is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// What the driver must do against etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// LeaseGrant with this TTL (whole seconds, rounded up).
    Grant { id: RequestId, ttl: Duration },
    /// One LeaseKeepAlive round for `lease`.
    KeepAlive { id: RequestId, lease: i64 },
    /// In one transaction: put `key` = `value` with `lease` if the key does not exist; then
    /// read the key's create revision and the leader (the key under `election` with the
    /// lowest create revision). Repeating it is harmless.
    Campaign {
        id: RequestId,
        election: String,
        key: String,
        value: String,
        lease: i64,
    },
    /// Watch every key under `election` and send [`Input::LeaderChanged`] once at the start
    /// and after every change (re-established by the driver on another endpoint).
    Watch { election: String },
    /// Stop the watch.
    Unwatch,
    /// Delete `key` (resign).
    Resign { id: RequestId, key: String },
    /// LeaseRevoke (on shutdown, once not serving).
    Revoke { id: RequestId, lease: i64 },
    /// A request timed out: move to the next endpoint.
    NextEndpoint,
}

/// The answer to a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Granted {
        lease: i64,
        ttl: Duration,
    },
    /// The lease's TTL after the renewal; zero: the lease no longer exists.
    KeptAlive {
        ttl: Duration,
    },
    Campaigned {
        /// The create revision of this node's key.
        revision: i64,
        leader: Option<Leader>,
        /// The store revision the leader was read at.
        read: i64,
    },
    Resigned,
    Revoked,
}

/// The current leader of an election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    pub key: String,
    /// The leader's node name.
    pub name: String,
    /// Its key's create revision: the term's fencing token.
    pub revision: i64,
}

/// Something that happened, handed to the machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Whether this node wants to serve the target. VRRP plus arbiter: the target is VRRP
    /// MASTER (true), or has left MASTER and its leaving hooks have ended (false).
    /// Arbiter only: the target is eligible (not FAULT, not demoted).
    Want(bool),
    Reply {
        id: RequestId,
        reply: Reply,
    },
    /// The request failed (an error from etcd or the transport).
    Failed {
        id: RequestId,
        error: String,
    },
    /// From the watch: the election's leader (None: nobody) as read at store revision
    /// `read`. A report older than one already seen is ignored.
    LeaderChanged {
        leader: Option<Leader>,
        read: i64,
    },
    Timer,
    /// Shutting down: resign and revoke the lease (the engine gives this once the
    /// target's leaving hooks have ended).
    Stop,
}

/// What the machine decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this to the driver.
    Command(Command),
    /// Serving became allowed (true) or not (false).
    Serving(bool),
    /// Whether this node is in touch with etcd (a live lease before its deadline). false:
    /// the engine puts the target in FAULT with `reason`.
    Healthy { healthy: bool, reason: String },
}

/// When a lease granted or renewed by a request sent at `sent` stops being safe to rely
/// on (see the module's text): `sent + ttl·(1 − drift)/(1 + drift) − margin`.
pub fn deadline(sent: Instant, ttl: Duration, drift: f64, margin: Duration) -> Instant {
    let drift = if drift.is_finite() {
        drift.clamp(0.0, 0.5)
    } else {
        0.0
    };
    let safe = ttl.mul_f64((1.0 - drift) / (1.0 + drift));
    sent + safe.saturating_sub(margin)
}
