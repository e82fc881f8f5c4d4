//! From the configuration model to what the engine drives: one [`InstancePlan`] per
//! `vrrp_instance` (the protocol settings plus the host-side facts: interface, peers,
//! addresses, hooks), the tracked objects, and a digest of the parts two nodes must share.
//!
//! Pure: reads no files and touches no sockets. The host-dependent part of an instance's
//! protocol settings (its primary address) is filled in by the engine when the interface
//! is known, through [`InstancePlan::proto_config`].
//!
//! This file owns the plan's types and the per-instance and per-group derivations;
//! `tracks` builds the tracked objects and the references to them, `digest` the digest.

mod digest;
mod tracks;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::config::baton::{ArbiterConf, ArbiterMode};
use crate::config::model::{self, Config, Instance, RunAs as ConfigRunAs};
use crate::hooks::{HookCmd, HookLimits, NotifySpec, RunAs};
use crate::net::Family;
use crate::proto::{self, InitialState, InstanceConfig, TrackRef};
use crate::track::TrackSpecs;
use crate::wire::{Auth, Centis, ChecksumMode, Version};

use digest::shared_digest;
use tracks::{group_tracks, object_tracks, track_ref};

/// Everything the engine runs, derived from one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub router_id: String,
    pub startup_delay: Duration,
    pub script_security: bool,
    pub script_user: Option<ConfigRunAs>,
    pub instances: Vec<InstancePlan>,
    pub groups: Vec<GroupPlan>,
    pub track: TrackSpecs,
    /// Notify FIFOs (global and VRRP ones) with their optional reader scripts.
    pub fifos: Vec<(String, Option<HookCmd>)>,
    /// FNV-1a over what must be identical on every node of a VRRP pair.
    pub shared_digest: String,
    /// `static_ipaddress` / `static_routes` / `static_rules`: configured once at start,
    /// not by VRRP, on `default_interface` unless an entry names its `dev`.
    pub statics: Statics,
}

/// The static part of the configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Statics {
    pub interface: String,
    pub addresses: Vec<model::VirtualAddress>,
    pub routes: Vec<model::Route>,
    pub rules: Vec<model::Rule>,
}

impl Statics {
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.routes.is_empty() && self.rules.is_empty()
    }
}

/// One sync group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    pub name: String,
    /// Indexes into [`Plan::instances`].
    pub members: Vec<usize>,
    pub notify: NotifySpec,
    /// The longest `handover_timeout` of its members: the group hands over as one.
    pub handover_timeout: Duration,
}

/// Gratuitous ARP / unsolicited NA schedule of an instance that becomes master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpPlan {
    /// Delay before the second burst (zero: no second burst).
    pub delay: Duration,
    /// Announcements per burst.
    pub repeat: u32,
    /// Period of refresh bursts while master (zero: none).
    pub refresh: Duration,
    pub refresh_repeat: u32,
    /// Spacing between announcements of one burst.
    pub interval: Duration,
}

/// One vrrp_instance, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlan {
    pub name: String,
    /// `None` only for a unicast instance that names no interface: the engine uses the
    /// interface that holds `source`.
    pub interface: Option<String>,
    pub family: Family,
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    pub advert_interval: Centis,
    pub initial_state: InitialState,
    pub preempt: bool,
    pub preempt_delay: Duration,
    pub auth: Auth,
    pub checksum: ChecksumMode,
    /// keepalived's `old_unicast_checksum`: v3 unicast adverts carry the checksum of
    /// the multicast group as destination, as keepalived before 1.3.6 computed it.
    pub old_unicast_checksum: bool,
    /// `unicast_src_ip` / `mcast_src_ip`: the address adverts come from.
    pub source: Option<IpAddr>,
    pub peers: Vec<model::UnicastPeer>,
    pub mcast_group: IpAddr,
    /// Unicast: drop adverts whose source is not a `unicast_peer`. keepalived does so
    /// only with `check_unicast_src`; baton does unless its own file sets
    /// `unicast_accept_any_source`, so a crafted advert from any host on the segment
    /// cannot take mastership. An explicit `check_unicast_src` always checks.
    pub check_unicast_src: bool,
    pub virtual_addresses: Vec<model::VirtualAddress>,
    pub excluded_addresses: Vec<model::VirtualAddress>,
    pub routes: Vec<model::Route>,
    pub rules: Vec<model::Rule>,
    pub tracks: Vec<TrackRef>,
    /// Interfaces whose link state this instance tracks (its own, unless
    /// `dont_track_primary`, and every `track_interface`).
    pub watched_interfaces: Vec<String>,
    pub garp: GarpPlan,
    pub notify: NotifySpec,
    /// baton.conf `handover_timeout`: with a link, the longest the MASTER hooks wait
    /// for the linked peer's release.
    pub handover_timeout: Duration,
    /// `notify_priority_changes` (the instance's, its sync group's, or global
    /// `vrrp_notify_priority_changes`): FIFO lines when the effective priority changes.
    pub notify_priority_changes: bool,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub skip_check_adv_addr: bool,
    /// `garp_lower_prio_repeat` / `garp_lower_prio_delay` (and their global defaults).
    pub lower_prio_garp_repeat: u32,
    pub lower_prio_garp_delay: Duration,
    /// `unicast_fault_no_peer` without a peer: the reason the instance stays in FAULT.
    pub config_fault: Option<String>,
    /// `use_vmac`: the macvlan the addresses live on.
    pub vmac: Option<VmacPlan>,
    /// baton.conf `arbiter etcd`: the target whose election this instance serves under
    /// (itself, or its sync group), and whether that election alone decides (`mode only`).
    pub arbiter: Option<String>,
    pub elected_externally: bool,
}

/// Key of an arbiter target's health in the tracked-object table: down (no lease that can
/// be trusted) puts the target's instances in FAULT.
pub fn arbiter_key(target: &str) -> String {
    format!("arbiter:{target}")
}

/// The arbiter target instance `name` serves under (itself, or its sync group), with the
/// block that arbitrates it.
fn arbiter_target<'a>(config: &'a Config, name: &str) -> Option<(String, &'a ArbiterConf)> {
    let group = (config.sync_groups.iter())
        .find(|g| g.members.iter().any(|m| m == name))
        .map(|g| g.name.as_str());
    let target = group.unwrap_or(name);
    (config.baton.arbiters.iter())
        .find(|a| a.covers(target))
        .map(|a| (target.to_string(), a))
}

/// `use_vmac [NAME] [MAC]` and `vmac_xmit_base`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacPlan {
    pub name: String,
    pub mac: [u8; 6],
    /// Adverts go out (and are received) on the base interface, not the VMAC.
    pub xmit_base: bool,
}

/// Key of an interface's link state in the tracked-object table.
pub fn iface_key(name: &str) -> String {
    format!("iface:{name}")
}

impl InstancePlan {
    /// The protocol settings, with the primary address this host uses for the instance.
    pub fn proto_config(&self, primary_address: IpAddr) -> InstanceConfig {
        InstanceConfig {
            name: self.name.clone(),
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            advert_interval: self.advert_interval,
            initial_state: self.initial_state,
            preempt: self.preempt,
            preempt_delay: self.preempt_delay,
            primary_address,
            virtual_addresses: self.virtual_addresses.iter().map(|a| a.address).collect(),
            auth: self.auth.clone(),
            checksum: self.checksum,
            tracks: self.tracks.clone(),
            lower_prio_no_advert: self.lower_prio_no_advert,
            higher_prio_send_advert: self.higher_prio_send_advert,
            skip_check_adv_addr: self.skip_check_adv_addr,
            lower_prio_garp_repeat: self.lower_prio_garp_repeat,
            lower_prio_garp_delay: self.lower_prio_garp_delay,
            config_fault: self.config_fault.clone(),
            elected_externally: self.elected_externally,
        }
    }

    /// Where adverts go: the peers in unicast mode, the multicast group otherwise.
    pub fn destinations(&self) -> Vec<IpAddr> {
        if self.peers.is_empty() {
            vec![self.mcast_group]
        } else {
            self.peers.iter().map(|p| p.address).collect()
        }
    }

    /// The destination the checksum is computed for when sending to `dst`.
    pub fn checksum_destination(&self, dst: IpAddr) -> IpAddr {
        match (self.version, dst) {
            (Version::V3, IpAddr::V4(_)) if self.old_unicast_checksum && !dst.is_multicast() => {
                self.mcast_group
            }
            _ => dst,
        }
    }

    pub fn is_unicast(&self) -> bool {
        !self.peers.is_empty()
    }

    /// A placeholder primary address until the interface is known.
    pub fn unspecified(&self) -> IpAddr {
        match self.family {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

impl Plan {
    /// Resolves a validated configuration. `config::load` has already refused anything
    /// that cannot run, so this only applies keepalived's defaults and derivations.
    pub fn new(config: &Config) -> Plan {
        let g = &config.global;
        let mut instances: Vec<InstancePlan> = config
            .instances
            .iter()
            .map(|i| instance_plan(i, config))
            .collect();

        let groups = config
            .sync_groups
            .iter()
            .map(|sg| {
                let members: Vec<usize> = sg
                    .members
                    .iter()
                    .filter_map(|m| config.instances.iter().position(|i| &i.name == m))
                    .collect();
                // A group's tracked objects apply to every member.
                let extra = group_tracks(sg, config);
                for &m in &members {
                    if let Some(inst) = instances.get_mut(m) {
                        for (t, watch) in &extra {
                            inst.tracks.push(t.clone());
                            if let Some(w) = watch {
                                if !inst.watched_interfaces.contains(w) {
                                    inst.watched_interfaces.push(w.clone());
                                }
                            }
                        }
                    }
                }
                GroupPlan {
                    name: sg.name.clone(),
                    members,
                    notify: notify_spec(&sg.notify, hook_limits(config, None)),
                    handover_timeout: (sg.members.iter())
                        .map(|m| config.baton.handover_timeout(Some(m)))
                        .max()
                        .unwrap_or_else(|| config.baton.handover_timeout(None)),
                }
            })
            .collect();

        let track = tracks::track_specs(config);

        let mut fifos = Vec::new();
        for (fifo, script) in [
            (&g.notify_fifo, &g.notify_fifo_script),
            (&g.vrrp_notify_fifo, &g.vrrp_notify_fifo_script),
        ] {
            if let Some(f) = fifo {
                fifos.push((f.path.clone(), script.as_ref().map(hook_cmd)));
            }
        }

        Plan {
            statics: Statics {
                // keepalived's default for `default_interface`.
                interface: g.default_interface.clone().unwrap_or_else(|| "eth0".into()),
                addresses: config.static_addresses.clone(),
                routes: config.static_routes.clone(),
                rules: config.static_rules.clone(),
            },
            router_id: g.router_id.clone().unwrap_or_else(short_hostname),
            startup_delay: g.vrrp_startup_delay.unwrap_or_default(),
            script_security: g.enable_script_security,
            script_user: g.script_user.clone(),
            shared_digest: shared_digest(config),
            instances,
            groups,
            track,
            fifos,
        }
    }

    /// Index of the instance named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.instances.iter().position(|i| i.name == name)
    }
}

fn instance_plan(i: &Instance, config: &Config) -> InstancePlan {
    let g = &config.global;
    let family = if i.is_ipv6() { Family::V6 } else { Family::V4 };
    let version = if i.effective_version(g) == 3 {
        Version::V3
    } else {
        Version::V2
    };
    let advert_interval = match version {
        // v2 carries whole seconds; keepalived rounds a fractional v2 interval.
        Version::V2 => {
            Centis(u16::try_from(i.advert_int.as_secs().clamp(1, 255) * 100).unwrap_or(100))
        }
        Version::V3 => {
            let c = Centis::from_duration(i.advert_int);
            Centis(c.0.clamp(1, Centis::MAX_V3.0))
        }
    };
    let auth = match (&i.authentication, version) {
        (Some(a), Version::V2) => match a.auth_type {
            model::AuthType::Pass => {
                let mut pass = [0u8; 8];
                for (dst, src) in pass.iter_mut().zip(a.auth_pass.bytes()) {
                    *dst = src;
                }
                Auth::Pass(pass)
            }
            model::AuthType::Ah => Auth::Ah,
        },
        _ => Auth::None,
    };
    // keepalived's `old_unicast_checksum` is not "no pseudo-header": its old VRRPv3
    // code put the multicast group in the pseudo-header even for unicast. That is a
    // per-destination detail the engine applies when it emits (see
    // `InstancePlan::checksum_destination`); the mode stays the RFC one.
    let checksum = if i.effective_v3_checksum_as_v2(g) {
        ChecksumMode::V2Style
    } else {
        ChecksumMode::PseudoHeader
    };
    let mcast_group = match (i.mcast_dst_ip, family) {
        (Some(a), _) => a,
        (None, Family::V4) => IpAddr::V4(g.vrrp_mcast_group4),
        (None, Family::V6) => IpAddr::V6(g.vrrp_mcast_group6),
    };

    let mut tracks = Vec::new();
    let mut watched = Vec::new();
    let arbiter = arbiter_target(config, &i.name);
    if let Some((target, _)) = &arbiter {
        tracks.push(TrackRef {
            key: arbiter_key(target),
            weight: 0,
            reverse: false,
        });
    }
    if let Some(ifname) = &i.interface {
        if !i.dont_track_primary {
            tracks.push(TrackRef {
                key: iface_key(ifname),
                weight: 0,
                reverse: false,
            });
        }
        // Even untracked, the engine needs the link state to bind sockets.
        watched.push(ifname.clone());
    }
    for t in &i.track_interfaces {
        tracks.push(track_ref(&iface_key(&t.name), t, 0));
        if !watched.contains(&t.name) {
            watched.push(t.name.clone());
        }
    }
    tracks.extend(object_tracks(
        i.track_scripts.iter(),
        i.track_files.iter(),
        i.track_processes.iter(),
        config,
    ));

    InstancePlan {
        name: i.name.clone(),
        interface: i.interface.clone(),
        family,
        version,
        vrid: i.virtual_router_id,
        priority: i.effective_priority(),
        advert_interval,
        initial_state: match i.initial_state() {
            model::InitialState::Master => InitialState::Master,
            model::InitialState::Backup => InitialState::Backup,
        },
        preempt: i.effective_preempt(),
        preempt_delay: if i.initial_state() == model::InitialState::Master {
            Duration::ZERO
        } else {
            i.preempt_delay.unwrap_or_default()
        },
        auth,
        checksum,
        old_unicast_checksum: i.old_unicast_checksum,
        source: i.unicast_src_ip.or(i.mcast_src_ip),
        peers: i.unicast_peers.clone(),
        mcast_group,
        check_unicast_src: i.effective_check_unicast_src(g)
            || !config.baton.unicast_accept_any_source(&i.name),
        virtual_addresses: i.virtual_ipaddresses.clone(),
        excluded_addresses: i.virtual_ipaddresses_excluded.clone(),
        routes: i.virtual_routes.clone(),
        rules: i.virtual_rules.clone(),
        tracks,
        watched_interfaces: watched,
        garp: GarpPlan {
            delay: if g.vrrp_min_garp {
                Duration::ZERO
            } else {
                i.effective_garp_master_delay(g)
            },
            repeat: if g.vrrp_min_garp {
                1
            } else {
                i.effective_garp_master_repeat(g).max(1)
            },
            refresh: i.effective_garp_master_refresh(g),
            refresh_repeat: i.effective_garp_master_refresh_repeat(g).max(1),
            interval: match family {
                Family::V4 => g.vrrp_garp_interval,
                Family::V6 => g.vrrp_gna_interval,
            },
        },
        notify: notify_spec(&i.notify, hook_limits(config, Some(&i.name))),
        handover_timeout: config.baton.handover_timeout(Some(&i.name)),
        notify_priority_changes: i.notify.priority_changes
            || g.vrrp_notify_priority_changes
            || config
                .sync_groups
                .iter()
                .any(|sg| sg.notify.priority_changes && sg.members.contains(&i.name)),
        lower_prio_no_advert: i.effective_lower_prio_no_advert(g),
        higher_prio_send_advert: i.effective_higher_prio_send_advert(g),
        skip_check_adv_addr: i.effective_skip_check_adv_addr(g),
        lower_prio_garp_repeat: if g.vrrp_min_garp {
            0
        } else {
            i.effective_garp_lower_prio_repeat(g)
        },
        lower_prio_garp_delay: i.effective_garp_lower_prio_delay(g),
        config_fault: (i.unicast_fault_no_peer && i.unicast_peers.is_empty())
            .then(|| "unicast_fault_no_peer: no unicast peer configured".to_string()),
        vmac: i.use_vmac.as_ref().map(|v| super::vmac::plan(v, i, family)),
        elected_externally: arbiter
            .as_ref()
            .is_some_and(|(_, a)| a.mode == ArbiterMode::Only),
        arbiter: arbiter.map(|(target, _)| target),
    }
}

fn hook_cmd(c: &model::Command) -> HookCmd {
    HookCmd {
        argv: c.argv.clone(),
        run_as: c.run_as.as_ref().and_then(resolve_run_as),
    }
}

/// A target's hook time limits from baton's own file (`None`: a sync group).
fn hook_limits(config: &Config, instance: Option<&str>) -> HookLimits {
    HookLimits {
        timeout: config.baton.notify_timeout(instance),
        obsolete_grace: config.baton.notify_obsolete_grace(instance),
    }
}

fn notify_spec(n: &model::Notify, limits: HookLimits) -> NotifySpec {
    NotifySpec {
        limits,
        master: n.master.as_ref().map(hook_cmd),
        backup: n.backup.as_ref().map(hook_cmd),
        fault: n.fault.as_ref().map(hook_cmd),
        stop: n.stop.as_ref().map(hook_cmd),
        notify: n.any.as_ref().map(hook_cmd),
        master_rx_lower_pri: n.master_rx_lower_pri.as_ref().map(hook_cmd),
    }
}

/// Resolves `user [group]` to numbers; `None` when the user does not exist (the hook
/// runner then uses the global script user, and the config check has warned).
pub fn resolve_run_as(r: &ConfigRunAs) -> Option<RunAs> {
    let user = nix::unistd::User::from_name(&r.user).ok().flatten()?;
    let gid = match &r.group {
        Some(g) => nix::unistd::Group::from_name(g).ok().flatten()?.gid,
        None => user.gid,
    };
    Some(RunAs {
        uid: user.uid.as_raw(),
        gid: gid.as_raw(),
    })
}

fn short_hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.split('.').next().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// The proto view of all sync groups.
pub fn proto_groups(plan: &Plan) -> Vec<proto::SyncGroupConfig> {
    plan.groups
        .iter()
        .map(|g| proto::SyncGroupConfig {
            name: g.name.clone(),
            members: g.members.iter().map(|&m| proto::InstanceId(m)).collect(),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
