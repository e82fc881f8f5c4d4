//! `vrrp_instance` in the model: [`Instance`], what it holds of its own
//! (state, authentication, unicast peers, `use_vmac`), and the methods that
//! give a setting's effective value from the instance and [`GlobalDefs`].
//!
//! Plain data and keepalived's defaulting rules; no I/O.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    GarpExtraIf, GlobalDefs, Notify, PRIORITY_DEFAULT, PRIORITY_OWNER, Route, Rule, TrackRef,
    VirtualAddress, opt_secs, secs,
};

/// Initial state of an instance. keepalived accepts only these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthType {
    /// Simple password (VRRPv2 auth type 1).
    Pass,
    /// IPsec AH (VRRPv2 auth type 2).
    Ah,
}

/// `authentication { auth_type ..; auth_pass .. }` (VRRPv2 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    pub auth_type: AuthType,
    /// As written; only the first 8 bytes go on the wire.
    pub auth_pass: String,
}

/// One `unicast_peer` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnicastPeer {
    pub address: IpAddr,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ttl: Option<u8>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<u8>,
}

/// `use_vmac [NAME] [MAC]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vmac {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// `vrrp_instance NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Instance {
    pub name: String,
    /// `None`: BACKUP.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<InitialState>,
    /// May be absent for unicast with `unicast_src_ip`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub virtual_router_id: u8,
    /// `None`: see [`Instance::effective_priority`].
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Default 1 s; v3 allows centisecond fractions.
    #[serde(with = "secs")]
    pub advert_int: Duration,
    /// `None`: global `vrrp_version` (3 for IPv6).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    /// `nopreempt` clears it; default true.
    pub preempt: bool,
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempt_delay: Option<Duration>,
    /// `accept` → Some(true), `no_accept` → Some(false); `None`: derived.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept: Option<bool>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast_src_ip: Option<IpAddr>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unicast_peers: Vec<UnicastPeer>,
    /// `unicast_ttl`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast_ttl: Option<u8>,
    #[serde(default)]
    pub unicast_fault_no_peer: bool,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_src_ip: Option<IpAddr>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_dst_ip: Option<IpAddr>,
    #[serde(default)]
    pub check_unicast_src: bool,
    #[serde(default)]
    pub track_src_ip: bool,
    /// `old_unicast_checksum [never]`: VRRPv3 unicast over IPv4 checksummed with the
    /// multicast group as the pseudo-header's destination (keepalived before 1.3.6).
    #[serde(default)]
    pub old_unicast_checksum: bool,
    /// `v3_checksum_as_v2 [BOOL]` (`None`: the global setting).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v3_checksum_as_v2: Option<bool>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_ipaddresses: Vec<VirtualAddress>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_ipaddresses_excluded: Vec<VirtualAddress>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_routes: Vec<Route>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_rules: Vec<Rule>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_interfaces: Vec<TrackRef>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_scripts: Vec<TrackRef>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackRef>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_processes: Vec<TrackRef>,
    #[serde(default)]
    pub notify: Notify,
    /// `None`: global `vrrp_garp_master_delay`.
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_master_delay: Option<Duration>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_master_repeat: Option<u32>,
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_delay: Option<Duration>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_lower_prio_repeat: Option<u32>,
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_master_refresh: Option<Duration>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_master_refresh_repeat: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub garp_extra_if: Option<GarpExtraIf>,
    /// `down_timer_adverts` (`None`: global, 3).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_timer_adverts: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_prio_no_advert: Option<bool>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub higher_prio_send_advert: Option<bool>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_vmac: Option<Vmac>,
    #[serde(default)]
    pub vmac_xmit_base: bool,
    #[serde(default)]
    pub dont_track_primary: bool,
    /// `None`: global `vrrp_strict`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_mode: Option<bool>,
    /// `None`: global `vrrp_skip_check_adv_addr`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_check_adv_addr: Option<bool>,
    #[serde(default)]
    pub promote_secondaries: bool,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<u8>,
}

impl Default for Instance {
    fn default() -> Self {
        Self::new("")
    }
}

impl Instance {
    pub fn new(name: impl Into<String>) -> Self {
        Instance {
            name: name.into(),
            state: None,
            interface: None,
            virtual_router_id: 0,
            priority: None,
            advert_int: Duration::from_secs(1),
            version: None,
            preempt: true,
            preempt_delay: None,
            accept: None,
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            unicast_ttl: None,
            unicast_fault_no_peer: false,
            mcast_src_ip: None,
            mcast_dst_ip: None,
            check_unicast_src: false,
            track_src_ip: false,
            old_unicast_checksum: false,
            v3_checksum_as_v2: None,
            authentication: None,
            virtual_ipaddresses: Vec::new(),
            virtual_ipaddresses_excluded: Vec::new(),
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            notify: Notify::default(),
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_extra_if: None,
            down_timer_adverts: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            use_vmac: None,
            vmac_xmit_base: false,
            dont_track_primary: false,
            strict_mode: None,
            skip_check_adv_addr: None,
            promote_secondaries: false,
            debug: None,
        }
    }

    /// The initial state (BACKUP unless `state MASTER`).
    pub fn initial_state(&self) -> InitialState {
        self.state.unwrap_or(InitialState::Backup)
    }

    /// The configured priority, keepalived's way: when none is written,
    /// `state MASTER` makes the instance the address owner (255), anything
    /// else gets 100.
    pub fn effective_priority(&self) -> u8 {
        match (self.priority, self.initial_state()) {
            (Some(p), _) => p,
            (None, InitialState::Master) => PRIORITY_OWNER,
            (None, InitialState::Backup) => PRIORITY_DEFAULT,
        }
    }

    /// IPv6 when the first virtual address (or the unicast source) is IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.virtual_ipaddresses
            .first()
            .map(|a| a.address.is_ipv6())
            .or_else(|| self.unicast_src_ip.map(|a| a.is_ipv6()))
            .unwrap_or(false)
    }

    /// The VRRP version in force (IPv6 always 3).
    pub fn effective_version(&self, global: &GlobalDefs) -> u8 {
        if self.is_ipv6() {
            3
        } else {
            self.version.unwrap_or(global.vrrp_version)
        }
    }

    /// The advert interval in force: VRRPv2 carries whole seconds
    /// (rounded, at least 1), VRRPv3 centiseconds (rounded, at least 1).
    pub fn effective_advert_int(&self, global: &GlobalDefs) -> Duration {
        let micros = self.advert_int.as_micros() as u64;
        if self.effective_version(global) == 2 {
            Duration::from_secs(((micros + 500_000) / 1_000_000).max(1))
        } else {
            Duration::from_millis(((micros + 5_000) / 10_000).max(1) * 10)
        }
    }

    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    pub fn effective_strict(&self, global: &GlobalDefs) -> bool {
        self.strict_mode.unwrap_or(global.vrrp_strict)
    }

    /// Preemption in force: keepalived clears nopreempt with `state MASTER`.
    pub fn effective_preempt(&self) -> bool {
        self.preempt || self.initial_state() == InitialState::Master
    }

    /// Accept mode in force: explicit, else off under strict mode unless owner.
    pub fn effective_accept(&self, global: &GlobalDefs) -> bool {
        match self.accept {
            Some(a) => a,
            None => !self.effective_strict(global) || self.effective_priority() == PRIORITY_OWNER,
        }
    }

    pub fn effective_garp_master_delay(&self, global: &GlobalDefs) -> Duration {
        self.garp_master_delay
            .unwrap_or(global.vrrp_garp_master_delay)
    }

    pub fn effective_garp_master_repeat(&self, global: &GlobalDefs) -> u32 {
        self.garp_master_repeat
            .unwrap_or(global.vrrp_garp_master_repeat)
    }

    pub fn effective_garp_lower_prio_delay(&self, global: &GlobalDefs) -> Duration {
        self.garp_lower_prio_delay
            .or(global.vrrp_garp_lower_prio_delay)
            .unwrap_or_else(|| self.effective_garp_master_delay(global))
    }

    pub fn effective_garp_lower_prio_repeat(&self, global: &GlobalDefs) -> u32 {
        self.garp_lower_prio_repeat
            .or(global.vrrp_garp_lower_prio_repeat)
            .unwrap_or_else(|| self.effective_garp_master_repeat(global))
    }

    pub fn effective_garp_master_refresh(&self, global: &GlobalDefs) -> Duration {
        self.garp_master_refresh
            .unwrap_or(global.vrrp_garp_master_refresh)
    }

    pub fn effective_garp_master_refresh_repeat(&self, global: &GlobalDefs) -> u32 {
        self.garp_master_refresh_repeat
            .unwrap_or(global.vrrp_garp_master_refresh_repeat)
    }

    pub fn effective_down_timer_adverts(&self, global: &GlobalDefs) -> u32 {
        self.down_timer_adverts
            .unwrap_or(global.vrrp_down_timer_adverts)
    }

    pub fn effective_skip_check_adv_addr(&self, global: &GlobalDefs) -> bool {
        self.skip_check_adv_addr
            .unwrap_or(global.vrrp_skip_check_adv_addr)
    }

    pub fn effective_check_unicast_src(&self, global: &GlobalDefs) -> bool {
        self.check_unicast_src
            || global.vrrp_check_unicast_src
            || self
                .unicast_peers
                .iter()
                .any(|p| p.min_ttl.is_some() || p.max_ttl.is_some())
    }

    pub fn effective_lower_prio_no_advert(&self, global: &GlobalDefs) -> bool {
        self.lower_prio_no_advert
            .or(global.vrrp_lower_prio_no_advert)
            .unwrap_or_else(|| self.effective_strict(global))
    }

    /// VRRPv3 over IPv4 without the pseudo-header in the checksum.
    pub fn effective_v3_checksum_as_v2(&self, global: &GlobalDefs) -> bool {
        self.v3_checksum_as_v2.unwrap_or(global.v3_checksum_as_v2)
    }

    pub fn effective_higher_prio_send_advert(&self, global: &GlobalDefs) -> bool {
        self.higher_prio_send_advert
            .unwrap_or(global.vrrp_higher_prio_send_advert)
    }
}
