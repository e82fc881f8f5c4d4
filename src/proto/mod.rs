//! The VRRP protocol core (RFC 5798 / RFC 3768 behaviour, keepalived's extensions).
//!
//! Sans-IO: nothing here opens a socket, spawns a task or reads the clock. Time comes in
//! as an argument. The driver calls [`Node::handle`], then drains [`Node::poll_action`]
//! until it returns `None`, then sleeps until [`Node::next_deadline`] or the next input.
//!
//! A [`Node`] owns every instance and sync group of one host, so group rules (members
//! move together, one member in FAULT faults the group) are enforced here, not by the
//! driver.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::wire::{Advert, Auth, Centis, ChecksumMode, Version};

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
    /// false: `nopreempt`.
    pub preempt: bool,
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
    /// Operator: become master now unless in FAULT.
    Promote,
    /// Operator: step down and stay backup until released.
    Demote,
    /// Operator: undo promote / demote.
    Release,
    /// Stop: a master sends priority 0 and releases its addresses.
    Shutdown,
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
}

/// Per-instance counters, mirroring the VRRP MIB statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
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
}

/// All instances and sync groups of one host. Skeleton: the protocol-core work fills it in.
#[derive(Debug)]
pub struct Node {
    _private: (),
}

#[allow(unused_variables)]
impl Node {
    /// Instances start in [`State::Initialize`]; each needs an [`Input::Startup`].
    pub fn new(instances: Vec<InstanceConfig>, groups: Vec<SyncGroupConfig>, now: Instant) -> Node {
        todo!()
    }

    /// Feed one input to one instance.
    pub fn handle(&mut self, now: Instant, id: InstanceId, input: Input) {
        todo!()
    }

    /// Fire every deadline that is due at `now`.
    pub fn timer(&mut self, now: Instant) {
        todo!()
    }

    /// A tracked object changed; every instance that tracks `key` re-evaluates.
    pub fn track(&mut self, now: Instant, key: &str, status: TrackStatus) {
        todo!()
    }

    /// Replace the configuration. Instances are matched by name and keep their state
    /// (a master stays master); new ones start in Initialize, vanished ones stop.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        instances: Vec<InstanceConfig>,
        groups: Vec<SyncGroupConfig>,
    ) {
        todo!()
    }

    /// Stop every instance: masters send priority 0 and release their addresses.
    pub fn shutdown(&mut self, now: Instant) {
        todo!()
    }

    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        todo!()
    }

    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        todo!()
    }

    pub fn len(&self) -> usize {
        todo!()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn config(&self, id: InstanceId) -> &InstanceConfig {
        todo!()
    }

    pub fn state(&self, id: InstanceId) -> State {
        todo!()
    }

    pub fn effective_priority(&self, id: InstanceId) -> u8 {
        todo!()
    }

    /// Address of the current master as last heard (None when unknown or self).
    pub fn master_address(&self, id: InstanceId) -> Option<IpAddr> {
        todo!()
    }

    pub fn stats(&self, id: InstanceId) -> &Stats {
        todo!()
    }
}
