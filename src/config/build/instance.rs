//! `vrrp_instance`: every instance keyword, its `authentication` block, and the
//! instance keywords baton accepts without acting on them ([`IGNORED_INSTANCE`]).
//!
//! Addresses, routes and rules inside an instance are read by [`super::addresses`],
//! track lists by [`super::track`]; checks against other instances are validation's.

use crate::config::model::*;
use crate::config::parser::Node;

use super::{B, key};

/// Instance keywords accepted and not acted on.
pub const IGNORED_INSTANCE: &[&str] = &[
    "smtp_alert",
    "native_ipv6",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
    "use_vmac_addr",
    "use_ipvlan",
    "vrf",
    "track_bfd",
    "sync_group_tracking_weight",
    "global_tracking",
    "garp_extra_if_vmac",
];

impl B<'_> {
    pub(super) fn instance(&mut self, n: &Node) -> Option<Instance> {
        let name = self.block_name(n)?;
        let base = key(&["i", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        let mut v = Instance::new(&name);
        for s in n.body() {
            let k = format!("{base}/{}", s.name());
            self.spans.set_last(k.clone(), s.loc());
            if let Some(t) = s.args.first() {
                self.spans.set_last(format!("{k}="), &t.loc);
            }
            match s.name() {
                "state" => {
                    if let Some(t) = self.arg(s, 0) {
                        v.state = match t.text.as_str() {
                            "MASTER" => Some(InitialState::Master),
                            "BACKUP" => Some(InitialState::Backup),
                            other => {
                                self.err(
                                    &t.loc,
                                    format!("state must be MASTER or BACKUP (got '{other}')"),
                                );
                                None
                            }
                        }
                    }
                }
                "interface" => {
                    v.interface = self.string(s);
                    if let (Some(name), Some(t)) = (&v.interface, s.args.first()) {
                        // The kernel's IFNAMSIZ counts the terminating NUL.
                        if name.len() > 15 {
                            self.warn(
                                &t.loc,
                                format!("interface name '{name}' is longer than 15 characters; keepalived ignores it"),
                            );
                            v.interface = None;
                        }
                    }
                }
                "virtual_router_id" => {
                    if let Some(x) = self.int(s, 1, 255) {
                        v.virtual_router_id = x as u8;
                    }
                }
                "priority" => v.priority = self.int(s, 1, 255).map(|x| x as u8),
                "advert_int" => {
                    if let Some(d) = self.secs(s, 0.01, 255.0) {
                        v.advert_int = d;
                    }
                }
                "version" => v.version = self.int(s, 2, 3).map(|x| x as u8),
                "nopreempt" | "no_preempt" => {
                    self.no_block(s);
                    v.preempt = false;
                }
                "preempt" => {
                    self.no_block(s);
                    v.preempt = true;
                }
                "preempt_delay" => v.preempt_delay = self.secs(s, 0.0, 1000.0),
                "accept" => {
                    self.no_block(s);
                    v.accept = Some(true);
                }
                "no_accept" => {
                    self.no_block(s);
                    v.accept = Some(false);
                }
                "unicast_src_ip" => {
                    self.unread(s, 1);
                    v.unicast_src_ip = self.arg(s, 0).and_then(|t| self.host_ip_tok(s.name(), t))
                }
                "unicast_peer" => {
                    self.expect_block(s);
                    for (idx, e) in s.body().iter().enumerate() {
                        self.spans.set(format!("{base}/peer/{idx}"), e.loc());
                        let Some(address) = self.host_ip_tok(s.name(), &e.keyword) else {
                            continue;
                        };
                        let mut p = UnicastPeer {
                            address,
                            min_ttl: None,
                            max_ttl: None,
                        };
                        let mut it = e.args.iter();
                        while let Some(t) = it.next() {
                            let which = t.text.as_str();
                            if which != "min_ttl" && which != "max_ttl" {
                                self.ignored_word(e, t, "unicast_peer option");
                                continue;
                            }
                            let Some(val) = it.next() else {
                                self.err(&t.loc, format!("{which} needs a value"));
                                continue;
                            };
                            let ttl = self.int_tok(which, val, 0, 255).map(|x| x as u8);
                            if which == "min_ttl" {
                                p.min_ttl = ttl;
                            } else {
                                p.max_ttl = ttl;
                            }
                        }
                        v.unicast_peers.push(p);
                    }
                }
                "unicast_ttl" => v.unicast_ttl = self.int(s, 1, 255).map(|x| x as u8),
                "unicast_fault_no_peer" => v.unicast_fault_no_peer = true,
                "mcast_src_ip" => v.mcast_src_ip = self.ip(s),
                "mcast_dst_ip" => {
                    v.mcast_dst_ip = self.ip(s);
                    if let Some(a) = v.mcast_dst_ip {
                        if !a.is_multicast() {
                            self.err(&s.args[0].loc, "mcast_dst_ip must be a multicast address");
                        }
                    }
                }
                "check_unicast_src" => v.check_unicast_src = self.flag(s),
                "track_src_ip" => v.track_src_ip = true,
                "old_unicast_checksum" => v.old_unicast_checksum = true,
                "authentication" => v.authentication = self.auth(s, &base),
                "virtual_ipaddress" => {
                    let list = self.addresses(s, &format!("{base}/vip"));
                    v.virtual_ipaddresses.extend(list);
                }
                "virtual_ipaddress_excluded" => {
                    let list = self.addresses(s, &format!("{base}/evip"));
                    v.virtual_ipaddresses_excluded.extend(list);
                }
                "virtual_routes" => {
                    let list = self.routes(s);
                    v.virtual_routes.extend(list);
                }
                "virtual_rules" => {
                    let list = self.rules(s);
                    v.virtual_rules.extend(list);
                }
                "track_interface" => {
                    let l = self.track_refs(s, &base, -253, 253);
                    v.track_interfaces.extend(l);
                }
                "track_script" => {
                    let l = self.track_refs(s, &base, -253, 253);
                    v.track_scripts.extend(l);
                }
                "track_file" => {
                    let l = self.track_refs(s, &base, -254, 254);
                    v.track_files.extend(l);
                }
                "track_process" => {
                    let l = self.track_refs(s, &base, -254, 254);
                    v.track_processes.extend(l);
                }
                "garp_master_delay" => v.garp_master_delay = self.secs(s, 0.0, 255.0),
                "garp_master_repeat" => {
                    v.garp_master_repeat = self.int(s, 0, 255).map(|x| x as u32)
                }
                "garp_lower_prio_delay" => v.garp_lower_prio_delay = self.secs(s, 0.0, 255.0),
                "garp_lower_prio_repeat" => {
                    v.garp_lower_prio_repeat = self.int(s, 0, 255).map(|x| x as u32)
                }
                "garp_master_refresh" => v.garp_master_refresh = self.secs(s, 0.0, 86400.0),
                "garp_master_refresh_repeat" => {
                    v.garp_master_refresh_repeat = self.int(s, 0, 255).map(|x| x as u32)
                }
                "garp_extra_if" => v.garp_extra_if = self.garp_extra_if(s),
                "down_timer_adverts" => {
                    v.down_timer_adverts = self.int(s, 1, 100).map(|x| x as u32)
                }
                "lower_prio_no_advert" => v.lower_prio_no_advert = Some(self.flag(s)),
                "higher_prio_send_advert" => v.higher_prio_send_advert = Some(self.flag(s)),
                "v3_checksum_as_v2" => v.v3_checksum_as_v2 = Some(self.flag(s)),
                "use_vmac" => {
                    let mut vm = Vmac {
                        name: None,
                        mac: None,
                    };
                    for t in &s.args {
                        if t.text.contains(':') && t.text.len() >= 14 {
                            vm.mac = Some(t.text.clone());
                        } else {
                            vm.name = Some(t.text.clone());
                        }
                    }
                    v.use_vmac = Some(vm);
                }
                "vmac_xmit_base" => v.vmac_xmit_base = true,
                "dont_track_primary" => v.dont_track_primary = true,
                "strict_mode" => v.strict_mode = Some(self.flag(s)),
                "skip_check_adv_addr" => v.skip_check_adv_addr = Some(self.flag(s)),
                "promote_secondaries" => v.promote_secondaries = true,
                "debug" => v.debug = Some(self.int(s, 0, 4).unwrap_or(0) as u8),
                "lvs_sync_daemon_interface" => self.warn(
                    s.loc(),
                    "lvs_sync_daemon_interface in a vrrp_instance is deprecated in keepalived (it wants the global lvs_sync_daemon); baton ignores it",
                ),
                name if IGNORED_INSTANCE.contains(&name) => self.ignored(s),
                _ => {
                    if !self.notify(s, &mut v.notify) {
                        self.unknown(s)
                    }
                }
            }
        }
        // keepalived drops a track_interface entry that names the instance's own
        // interface, weight and all: that interface going down is a FAULT anyway.
        if let Some(own) = v.interface.clone() {
            if v.track_interfaces.iter().any(|t| t.name == own) {
                let loc = self
                    .spans
                    .at(&[&format!("{base}/track_interface/{own}"), &base])
                    .clone();
                self.warn(
                    &loc,
                    format!("track_interface {own} is the instance's own interface; keepalived ignores this entry"),
                );
                v.track_interfaces.retain(|t| t.name != own);
            }
        }
        Some(v)
    }

    fn auth(&mut self, n: &Node, base: &str) -> Option<Authentication> {
        self.expect_block(n);
        let mut ty = None;
        let mut pass = None;
        for s in n.body() {
            match s.name() {
                "auth_type" => {
                    self.unread(s, 1);
                    if let Some(t) = self.arg(s, 0) {
                        self.spans.set(format!("{base}/auth_type="), &t.loc);
                        ty = match t.text.as_str() {
                            "PASS" => Some(AuthType::Pass),
                            "AH" => Some(AuthType::Ah),
                            other => {
                                self.err(
                                    &t.loc,
                                    format!("auth_type must be PASS or AH (got '{other}')"),
                                );
                                None
                            }
                        };
                    }
                }
                "auth_pass" => {
                    self.unread(s, 1);
                    if let Some(t) = self.arg(s, 0) {
                        if t.text.len() > 8 {
                            self.warn(
                                &t.loc,
                                "auth_pass is longer than 8 characters; only the first 8 are used",
                            );
                        }
                        pass = Some(t.text.clone());
                    }
                }
                _ => self.unknown(s),
            }
        }
        match (ty, pass) {
            (Some(AuthType::Pass), None) => {
                // keepalived runs such an instance without authentication.
                self.warn(
                    n.loc(),
                    "auth_type PASS without auth_pass: the instance runs without authentication, as keepalived's does",
                );
                None
            }
            (Some(auth_type), pass) => Some(Authentication {
                auth_type,
                auth_pass: pass.unwrap_or_default(),
            }),
            (None, _) => {
                self.err(n.loc(), "authentication needs auth_type PASS or AH");
                None
            }
        }
    }
}
