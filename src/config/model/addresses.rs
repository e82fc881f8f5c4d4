//! Addresses, routes and rules in the model: the `virtual_*` lines of an
//! instance and the `static_*` blocks share these types.
//!
//! Plain data; putting them on interfaces is `net`'s and the daemon's.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

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
