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

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VrrpScript {
    pub name: String,
    /// `None` when the block has no `script` (an error, reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<Command>,
    /// Default 1 s; fractions allowed.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// `None`: unset (keepalived 2.2.7 dumps 0); baton then allows a run
    /// the whole interval, see [`VrrpScript::effective_timeout`].
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// -253..=253, default 0 (0: failure means FAULT).
    pub weight: i32,
    pub weight_reverse: bool,
    /// Successes needed for OK (default 1).
    pub rise: u32,
    /// Failures needed for KO (default 1).
    pub fall: u32,
    /// Start in the failed state.
    pub init_fail: bool,
}

impl Default for VrrpScript {
    fn default() -> Self {
        Self::new("")
    }
}

impl VrrpScript {
    pub fn new(name: impl Into<String>) -> Self {
        VrrpScript {
            name: name.into(),
            script: None,
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
        }
    }
    /// The time a run may take: the timeout, else the interval (a run
    /// still going when the next is due has failed).
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.interval)
    }
}

/// `track_file NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackFile {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Default 1.
    pub weight: i32,
    pub weight_reverse: bool,
    /// `init_file [VALUE] [overwrite]`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_file: Option<InitFile>,
}

impl Default for TrackFile {
    fn default() -> Self {
        Self::new("")
    }
}

impl TrackFile {
    pub fn new(name: impl Into<String>) -> Self {
        TrackFile {
            name: name.into(),
            file: None,
            weight: 1,
            weight_reverse: false,
            init_file: None,
        }
    }
}

/// `init_file [VALUE] [overwrite]` of a track_file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitFile {
    pub value: i64,
    pub overwrite: bool,
}

/// `vrrp_track_process NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackProcess {
    pub name: String,
    /// Process name (or path) to match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// Parameters that must match, if any were given.
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param_match: Option<ParamMatch>,
    /// Default 0: keepalived.conf(5) says 1, but keepalived 2.2.7's own
    /// configuration dump shows 0, and baton follows the program.
    pub weight: i32,
    pub weight_reverse: bool,
    /// Minimum processes for success (default 1).
    pub quorum: u32,
    /// Maximum processes for success (`None`: unlimited).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_max: Option<u32>,
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork_delay: Option<Duration>,
    #[serde(default, with = "opt_secs")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminate_delay: Option<Duration>,
    /// Match the full command line instead of the process name.
    pub full_command: bool,
}

impl Default for TrackProcess {
    fn default() -> Self {
        Self::new("")
    }
}

impl TrackProcess {
    pub fn new(name: impl Into<String>) -> Self {
        TrackProcess {
            name: name.into(),
            process: None,
            params: Vec::new(),
            param_match: None,
            weight: 0,
            weight_reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: None,
            terminate_delay: None,
            full_command: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ParamMatch {
    /// Parameters given must match exactly (no more, no fewer).
    Exact,
    /// The first n parameters match.
    Partial,
    /// Like partial, and the last may be a prefix.
    Initial,
}

/// A reference from an instance or sync group to a tracked object, with an
/// optional weight override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackRef {
    pub name: String,
    /// `None`: the tracked object's own weight (0 for interfaces).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    #[serde(default)]
    pub reverse: bool,
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

/// Address scope (`scope` of ip-address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
}

/// One `virtual_ipaddress` / `virtual_ipaddress_excluded` / `static_ipaddress` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualAddress {
    pub address: IpAddr,
    /// Defaults to 32 (IPv4) or 128 (IPv6).
    pub prefix_len: u8,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brd: Option<IpAddr>,
    /// Interface to put it on; the instance's interface when `None`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    /// Loss of the address does not take the instance out of MASTER.
    #[serde(default)]
    pub no_track: bool,
    #[serde(default)]
    pub use_vmac: bool,
    /// Other ip-address flags kept verbatim (`home`, `-nodad`,
    /// `mngtmpaddr`, `noprefixroute`, `autojoin`, `preferred_lft X`).
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

impl VirtualAddress {
    /// An address with a prefix length and nothing else set.
    pub fn new(address: IpAddr, prefix_len: u8) -> VirtualAddress {
        VirtualAddress {
            address,
            prefix_len,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            no_track: false,
            use_vmac: false,
            flags: Vec::new(),
        }
    }
}

/// Route type for `virtual_routes` / `static_routes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RouteType {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
}

/// An address with a prefix length (`192.168.0.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefix {
    pub address: IpAddr,
    pub len: u8,
}

/// One `virtual_routes` / `static_routes` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub route_type: RouteType,
    pub to: Prefix,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    /// `via` (or the deprecated `gw`).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    /// Second next hop from the deprecated `or`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub or_via: Option<IpAddr>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    #[serde(default)]
    pub no_track: bool,
    /// Remaining ip-route options kept verbatim, in order.
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One `virtual_rules` / `static_rules` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Prefix>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Prefix>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// `preference` / `priority` / `pref`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preference: Option<u32>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<String>,
    #[serde(default)]
    pub no_track: bool,
    /// Remaining ip-rule options kept verbatim, in order.
    #[serde(default)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
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

/// Serde for `Duration` as seconds (float, microsecond resolution).
pub(crate) mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(to_f64(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        from_f64(v).ok_or_else(|| serde::de::Error::custom("expected seconds >= 0"))
    }

    pub(crate) fn to_f64(d: Duration) -> f64 {
        d.as_micros() as f64 / 1e6
    }

    pub(crate) fn from_f64(v: f64) -> Option<Duration> {
        if !v.is_finite() || !(0.0..=1e9).contains(&v) {
            return None;
        }
        // Round to microseconds, keepalived's resolution, so the YAML text
        // of a value parsed from keepalived.conf reads back identical.
        Some(Duration::from_micros((v * 1e6).round() as u64))
    }
}

/// Serde for `Option<Duration>` as optional seconds.
pub(crate) mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&super::secs::to_f64(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<f64>::deserialize(d)? {
            None => Ok(None),
            Some(v) => super::secs::from_f64(v)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("expected seconds >= 0")),
        }
    }
}
