//! The VRRP protocol core (RFC 5798 / RFC 3768 behaviour, keepalived's extensions).
//!
//! Sans-IO: nothing here opens a socket, spawns a task or reads the clock. Time comes in
//! as an argument. The driver calls [`Node::handle`], then drains [`Node::poll_action`]
//! until it returns `None`, then sleeps until [`Node::next_deadline`] or the next input.
//!
//! A [`Node`] owns every instance and sync group of one host, so group rules (members
//! move together, one member in FAULT faults the group) are enforced here, not by the
//! driver.
//!
//! Files: `node.rs` (the entry point and sync-group rules), `instance.rs` (one instance's
//! state machine), `priority.rs` (effective priority, Skew_Time, Master_Down_Interval),
//! `timer.rs` (the per-instance deadline table), `group.rs` (group state and membership).
//! Elections use one total order everywhere: effective priority, then the primary address
//! as an unsigned integer. A backup therefore also preempts an equal-priority master with a
//! lower address (RFC 5798 would accept it), so the winner does not depend on boot order.

use std::net::IpAddr;
use std::time::Duration;

use crate::wire::{Advert, Auth, Centis, ChecksumMode, Version};

mod group;
mod instance;
mod node;
mod priority;
mod timer;

#[cfg(test)]
mod tests;

pub use node::Node;

/// Index of an instance inside its [`Node`], in the order the instances were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub usize);

/// States as keepalived reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
    Stop,
}

/// The configured starting state (`state MASTER` / `state BACKUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InitialState {
    Master,
    #[default]
    Backup,
}

/// How one tracked object changes an instance's priority (keepalived semantics).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackRef {
    /// Names the tracked object, e.g. `script:chk_web`, `iface:eth0`, `file:/run/x`.
    pub key: String,
    /// 0: failure puts the instance in FAULT. Positive: added while up.
    /// Negative: added while down. For files and processes see [`TrackStatus`].
    pub weight: i32,
    /// keepalived's `reverse`: the weight applies with the opposite sign.
    pub reverse: bool,
}

/// The current reading of a tracked object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackStatus {
    Up,
    Down,
    /// track_file: the number read from the file (multiplied by the weight).
    Value(i64),
}

/// As `baton status` shows it: `up`, `down`, or the number.
impl std::fmt::Display for TrackStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrackStatus::Up => f.write_str("up"),
            TrackStatus::Down => f.write_str("down"),
            TrackStatus::Value(n) => write!(f, "{n}"),
        }
    }
}

/// Everything the state machine needs to know about one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConfig {
    pub name: String,
    pub version: Version,
    pub vrid: u8,
    /// Configured priority, 1..=255 (255: address owner).
    pub priority: u8,
    pub advert_interval: Centis,
    pub initial_state: InitialState,
    /// false: `nopreempt`. Ignored with `initial_state: Master`, as keepalived does.
    pub preempt: bool,
    /// Counted from Startup; ignored with `initial_state: Master`, as keepalived does.
    pub preempt_delay: Duration,
    /// This node's primary address on the instance interface (or unicast_src_ip); it breaks
    /// priority ties and is the source of sent adverts.
    pub primary_address: IpAddr,
    /// Addresses carried in adverts and held while master (virtual_ipaddress).
    pub virtual_addresses: Vec<IpAddr>,
    /// v2 only: authentication sent and required.
    pub auth: Auth,
    pub checksum: ChecksumMode,
    pub tracks: Vec<TrackRef>,
    /// keepalived `lower_prio_no_advert`: do not answer a lower-priority advert at once.
    pub lower_prio_no_advert: bool,
    /// keepalived `higher_prio_send_advert`: a master that yields sends one advert first.
    pub higher_prio_send_advert: bool,
    /// keepalived `skip_check_adv_addr`: do not compare the advert's address list.
    pub skip_check_adv_addr: bool,
    /// keepalived `garp_lower_prio_repeat`: announcements a master sends at once, and
    /// again after [`InstanceConfig::lower_prio_garp_delay`], when it hears a lower
    /// priority (0: none).
    pub lower_prio_garp_repeat: u32,
    /// keepalived `garp_lower_prio_delay` (zero: no second set).
    pub lower_prio_garp_delay: Duration,
    /// The configuration itself keeps the instance in FAULT (e.g. `unicast_fault_no_peer`
    /// with no peer); the text is the reason shown in status.
    pub config_fault: Option<String>,
    /// Elected from outside (an arbiter alone, no VRRP peers): the instance sends no
    /// adverts, ignores received ones and runs no master-down or preempt timer; it moves
    /// between BACKUP and MASTER only on [`Input::Elected`]. Tracked objects, FAULT,
    /// operator demote and shutdown work as usual.
    pub elected_externally: bool,
}

/// A sync group: members move between MASTER and BACKUP together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupConfig {
    pub name: String,
    pub members: Vec<InstanceId>,
}

/// Something that happened, handed to the core.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Input {
    /// Start the instance (after `vrrp_startup_delay`, if any).
    Startup,
    /// A valid advertisement addressed to this instance (TTL, source and parse already
    /// checked by the driver).
    Advert { from: IpAddr, advert: Advert },
    /// A packet for this instance was dropped before it became an [`Input::Advert`];
    /// the core only counts it.
    RxError(RxError),
    /// A deadline passed. Spurious calls are harmless.
    Timer,
    /// Operator: become master now unless in FAULT. Until [`Input::Release`] the instance
    /// behaves as if its effective priority were 254 (an owner keeps 255) and always
    /// preempts, so it also wins every later election (a non-promoted 254 with a higher
    /// address would still win the tie). Given to a sync-group member, it applies to the
    /// whole group.
    Promote,
    /// Operator: step down and stay backup until released ("manual recovery mode"). A
    /// master sends priority 0 (so the peer takes over after Skew_Time) and removes its
    /// addresses. Until [`Input::Release`] the instance behaves as if its effective priority
    /// were 1 and never preempts; it still takes over when no master is heard at all, so a
    /// pair never ends up with none. Applies to the whole sync group.
    Demote,
    /// Operator: undo promote / demote; the normal election resumes (a released backup
    /// that now outranks the master preempts it after Master_Down_Interval).
    Release,
    /// Stop: a master sends priority 0 and releases its addresses.
    Shutdown,
    /// For an instance elected from outside ([`InstanceConfig::elected_externally`]):
    /// this node now holds (true) or no longer holds (false) the election. A BACKUP
    /// becomes MASTER, a MASTER becomes BACKUP; other instances ignore it. Given to a
    /// sync-group member, it applies to the whole group.
    Elected(bool),
}

/// Why a received packet was dropped (counted per instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RxError {
    Checksum,
    Ttl,
    Version,
    Vrid,
    Auth,
    Interval,
    AddressList,
    Length,
    Type,
    Source,
}

/// Why a transition happened (for logs and the control socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(pub String);

/// What the driver must carry out, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Send this advertisement (multicast, or to every unicast peer).
    SendAdvert {
        instance: InstanceId,
        advert: Advert,
    },
    /// Add the virtual addresses (and routes / rules) of the instance.
    AddAddresses { instance: InstanceId },
    /// Remove the virtual addresses (and routes / rules) of the instance.
    RemoveAddresses { instance: InstanceId },
    /// Send gratuitous ARP / unsolicited NA for the virtual addresses.
    Announce { instance: InstanceId },
    /// A master heard a lower priority (two masters were active): send one set of
    /// `repeat` gratuitous ARP / unsolicited NA now, so the network's last word on the
    /// virtual addresses is this node's.
    AnnounceLowerPriority { instance: InstanceId, repeat: u32 },
    /// The instance changed state: run notify hooks, log one line.
    Transition {
        instance: InstanceId,
        from: State,
        to: State,
        reason: Reason,
        priority: u8,
    },
    /// A sync group changed state (after all its members did).
    GroupTransition {
        group: usize,
        from: State,
        to: State,
    },
    /// After [`Node::reconfigure`]: a master whose virtual addresses changed keeps its
    /// state; remove `removed` and add `added` (then announce the added ones).
    UpdateAddresses {
        instance: InstanceId,
        removed: Vec<IpAddr>,
        added: Vec<IpAddr>,
    },
    /// After [`Node::reconfigure`]: an instance vanished from the configuration. It has no
    /// [`InstanceId`] any more, so the action carries its old configuration. When it was
    /// MASTER (`from == State::Master`) the driver sends `release` (a priority 0 advert)
    /// and removes `config.virtual_addresses`; in every case it runs the STOP hooks.
    Removed {
        config: Box<InstanceConfig>,
        from: State,
        release: Option<Advert>,
    },
}

/// Per-instance counters, mirroring the VRRP MIB statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub priority_zero_sent: u64,
    pub priority_zero_received: u64,
    pub checksum_errors: u64,
    pub ttl_errors: u64,
    pub version_errors: u64,
    pub vrid_errors: u64,
    pub auth_errors: u64,
    pub interval_errors: u64,
    pub address_list_errors: u64,
    pub length_errors: u64,
    pub type_errors: u64,
    pub source_errors: u64,
    pub became_master: u64,
    /// Times the instance left MASTER, for any reason (keepalived's "Released master").
    #[serde(default)]
    pub released_master: u64,
}
