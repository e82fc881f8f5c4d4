//! The typed, validated model of a keepalived configuration (its VRRP side).
//!
//! This is what the rest of baton codes against. It is produced either from
//! keepalived.conf (lexer → parser → builder → validation) or from its YAML
//! form, and both produce the identical value. Types here hold no source
//! locations (those live in diagnostics only) so the YAML form stays clean.
//!
//! Defaults are keepalived 2.2's (keepalived.conf(5)); where keepalived
//! derives a value from another one (a priority from the state, a GARP lower
//! priority delay from the master delay) the field stays `None` and a method
//! gives the effective value, so the dump shows what the user wrote.
//!
//! Durations are `std::time::Duration`, written in YAML as seconds (a float,
//! microsecond resolution as in keepalived).
//!
//! This file owns [`Config`], `global_defs`, the command and notify types and
//! sync groups; the instance is in `instance.rs`, tracked objects in `track.rs`,
//! addresses, routes and rules in `addresses.rs`, the seconds serde helpers in
//! `serde_secs.rs`. All are re-exported here, so users name them `model::X`.

mod addresses;
mod instance;
mod serde_secs;
mod track;

pub use addresses::*;
pub use instance::*;
pub(crate) use serde_secs::{opt_secs, secs};
pub use track::*;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default VRRP priority of a backup router (RFC 5798 section 5.2.4).
pub const PRIORITY_DEFAULT: u8 = 100;
/// Priority of the address owner.
pub const PRIORITY_OWNER: u8 = 255;
/// IANA VRRP IPv4 multicast group.
pub const MCAST_GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IANA VRRP IPv6 multicast group.
pub const MCAST_GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// A whole configuration after includes, conditionals and macros.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub global: GlobalDefs,
    /// `vrrp_script NAME { ... }` in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vrrp_scripts: Vec<VrrpScript>,
    /// `track_file NAME { ... }` (and the deprecated `vrrp_track_file`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackFile>,
    /// `vrrp_track_process NAME { ... }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_processes: Vec<TrackProcess>,
    /// `vrrp_sync_group NAME { ... }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sync_groups: Vec<SyncGroup>,
    /// `vrrp_instance NAME { ... }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Instance>,
    /// `static_ipaddress { ... }`: addresses configured at start, not by VRRP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_addresses: Vec<VirtualAddress>,
    /// `static_routes { ... }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_routes: Vec<Route>,
    /// `static_rules { ... }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_rules: Vec<Rule>,
    /// baton's own settings, from its own file (not keepalived.conf); see [`super::baton`].
    #[serde(skip_serializing_if = "super::baton::BatonConf::is_empty")]
    pub baton: super::baton::BatonConf,
}

impl Config {
    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }
    pub fn vrrp_script(&self, name: &str) -> Option<&VrrpScript> {
        self.vrrp_scripts.iter().find(|s| s.name == name)
    }
    pub fn track_file(&self, name: &str) -> Option<&TrackFile> {
        self.track_files.iter().find(|s| s.name == name)
    }
    pub fn track_process(&self, name: &str) -> Option<&TrackProcess> {
        self.track_processes.iter().find(|s| s.name == name)
    }
    /// The sync group an instance belongs to, if any.
    pub fn sync_group_of(&self, instance: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
    }
}

/// `global_defs { ... }`: the VRRP-relevant part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalDefs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    /// `vrrp_version` (default 2; IPv6 instances always use 3).
    pub vrrp_version: u8,
    pub vrrp_strict: bool,
    pub enable_script_security: bool,
    /// `script_user USER [GROUP]`: default identity for scripts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_user: Option<RunAs>,
    #[serde(with = "secs")]
    pub vrrp_garp_master_delay: Duration,
    pub vrrp_garp_master_repeat: u32,
    /// Defaults to `vrrp_garp_master_delay` when `None`.
    #[serde(with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    /// Defaults to `vrrp_garp_master_repeat` when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    /// Zero means no periodic refresh.
    #[serde(with = "secs")]
    pub vrrp_garp_master_refresh: Duration,
    pub vrrp_garp_master_refresh_repeat: u32,
    /// Delay between gratuitous ARPs on one interface (zero: none).
    #[serde(with = "secs")]
    pub vrrp_garp_interval: Duration,
    /// Delay between unsolicited neighbour adverts on one interface.
    #[serde(with = "secs")]
    pub vrrp_gna_interval: Duration,
    /// `vrrp_min_garp`: one GARP, no second burst.
    pub vrrp_min_garp: bool,
    pub vrrp_mcast_group4: Ipv4Addr,
    pub vrrp_mcast_group6: Ipv6Addr,
    #[serde(with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_startup_delay: Option<Duration>,
    /// `vrrp_down_timer_adverts` (default 3).
    pub vrrp_down_timer_adverts: u32,
    /// `notify_fifo FIFO [user [group]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fifo: Option<Fifo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fifo_script: Option<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_notify_fifo: Option<Fifo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_notify_fifo_script: Option<Command>,
    pub vrrp_notify_priority_changes: bool,
    /// `vrrp_check_unicast_src`.
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub vrrp_skip_check_adv_addr: bool,
    /// `vrrp_lower_prio_no_advert` (`None`: false, or true under strict).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_lower_prio_no_advert: Option<bool>,
    /// `vrrp_higher_prio_send_advert`.
    pub vrrp_higher_prio_send_advert: bool,
    /// `v3_checksum_as_v2` (keepalived after 2.2.7): VRRPv3 over IPv4 without the
    /// pseudo-header in the checksum, as some routers compute it.
    pub v3_checksum_as_v2: bool,
    /// `default_interface` for static addresses (keepalived default eth0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_interface: Option<String>,
    /// `vrrp_garp_extra_if [all] SECS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_garp_extra_if: Option<GarpExtraIf>,
    /// `dynamic_interfaces [allow_if_changes]`.
    pub dynamic_interfaces: bool,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            vrrp_version: 2,
            vrrp_strict: false,
            enable_script_security: false,
            script_user: None,
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_master_refresh: Duration::ZERO,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_min_garp: false,
            vrrp_mcast_group4: MCAST_GROUP4,
            vrrp_mcast_group6: MCAST_GROUP6,
            vrrp_startup_delay: None,
            vrrp_down_timer_adverts: 3,
            notify_fifo: None,
            notify_fifo_script: None,
            vrrp_notify_fifo: None,
            vrrp_notify_fifo_script: None,
            vrrp_notify_priority_changes: false,
            vrrp_check_unicast_src: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_lower_prio_no_advert: None,
            vrrp_higher_prio_send_advert: false,
            v3_checksum_as_v2: false,
            default_interface: None,
            vrrp_garp_extra_if: None,
            dynamic_interfaces: false,
        }
    }
}

/// `[all] SECS` of `garp_extra_if`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GarpExtraIf {
    pub all: bool,
    #[serde(with = "secs")]
    pub interval: Duration,
}

/// A user (and optional group) a script or FIFO runs or is owned as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunAs {
    pub user: String,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A notify FIFO path with its optional owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fifo {
    pub path: String,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as: Option<RunAs>,
}

/// A command to execute without a shell.
///
/// `raw` is the command as written (quotes removed from a single quoted
/// string); `argv` is it split the keepalived way: whitespace separates
/// words, single or double quotes group, a backslash escapes the next
/// character. The hook runner execs `argv[0]` with `argv[1..]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub raw: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// `[username [groupname]]` after the command, or `user` in a vrrp_script.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as: Option<RunAs>,
}

/// Scripts run on state changes. Each may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Notify {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Command>,
    /// `notify_deleted`: report DELETED rather than FAULT when a reload
    /// removes the instance.
    pub deleted: bool,
    /// The script of `notify_deleted SCRIPT`, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_script: Option<Command>,
    /// `notify`: called after the specific one with TYPE NAME STATE PRIORITY.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any: Option<Command>,
    /// `notify_master_rx_lower_pri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_rx_lower_pri: Option<Command>,
    pub priority_changes: bool,
}

/// `vrrp_sync_group NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SyncGroup {
    pub name: String,
    /// Instance names from `group { ... }`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
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
    /// `sync_group_tracking_weight`: keep member weights.
    #[serde(default)]
    pub sync_group_tracking_weight: bool,
}
