//! `global_defs`: the global settings, and the keepalived global keywords
//! baton accepts without acting on them ([`IGNORED_GLOBAL`]).
//!
//! It fills [`GlobalDefs`] only; instances that default from it are resolved
//! elsewhere.

use std::net::IpAddr;

use crate::config::model::*;
use crate::config::parser::Node;

use super::{B, key};

/// Keywords keepalived knows and baton accepts but does not act on.
pub const IGNORED_GLOBAL: &[&str] = &[
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "email_faults",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "snmp_socket",
    "enable_dbus",
    "dbus_service_name",
    "lvs_timeouts",
    "lvs_sync_daemon",
    "lvs_flush",
    "lvs_flush_on_stop",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "use_pid_dir",
    "instance",
    "local_name",
    "max_auto_priority",
    "min_auto_priority_delay",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_no_swap",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "bfd_rt_priority",
    "vrrp_rlimit_rttime",
    "checker_rlimit_rttime",
    "bfd_rlimit_rttime",
    "vrrp_cpu_affinity",
    "checker_cpu_affinity",
    "bfd_cpu_affinity",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_counters",
    "nftables_ipvs_priority",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "rs_init_notifies",
    "no_checker_emails",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "linkbeat_use_polling",
    "vrrp_dont_write_state",
    "fifo_write_vrrp_states_on_reload",
    "vrrp_startup_delay_ignore",
    "umask",
    "vrrp_tracking_weight",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "vrrp_use_process_cmdline",
    "vrrp_use_process_comm",
    "tmp_config_directory",
    "vmac_prefix",
    "vmac_addr_prefix",
    "data_use_instance",
    "vrrp_owner_ignore_adverts",
    "child_wait_time",
    "disable_local_igmp",
    "include_check",
    "nftables_ipvs",
    "nftables_ipvs_start_fwmark",
    "no_email_faults",
];

impl B<'_> {
    pub(super) fn global(&mut self, n: &Node, g: &mut GlobalDefs) {
        self.expect_block(n);
        for s in n.body() {
            let k = key(&["g", s.name()]);
            self.spans.set_last(k.clone(), s.loc());
            if let Some(t) = s.args.first() {
                self.spans.set_last(format!("{k}="), &t.loc);
            }
            match s.name() {
                "router_id" => g.router_id = self.string(s),
                "vrrp_version" => {
                    if let Some(v) = self.int(s, 2, 3) {
                        g.vrrp_version = v as u8;
                    }
                }
                "vrrp_strict" => g.vrrp_strict = self.flag(s),
                "enable_script_security" => g.enable_script_security = self.flag(s),
                "script_user" => g.script_user = self.run_as(s),
                "vrrp_garp_master_delay" => {
                    if let Some(v) = self.secs(s, 0.0, 255.0) {
                        g.vrrp_garp_master_delay = v;
                    }
                }
                "vrrp_garp_master_repeat" => {
                    if let Some(v) = self.int(s, 0, 255) {
                        g.vrrp_garp_master_repeat = v as u32;
                    }
                }
                "vrrp_garp_lower_prio_delay" => {
                    g.vrrp_garp_lower_prio_delay = self.secs(s, 0.0, 255.0)
                }
                "vrrp_garp_lower_prio_repeat" => {
                    g.vrrp_garp_lower_prio_repeat = self.int(s, 0, 255).map(|v| v as u32)
                }
                "vrrp_garp_master_refresh" => {
                    if let Some(v) = self.secs(s, 0.0, 86400.0) {
                        g.vrrp_garp_master_refresh = v;
                    }
                }
                "vrrp_garp_master_refresh_repeat" => {
                    if let Some(v) = self.int(s, 0, 255) {
                        g.vrrp_garp_master_refresh_repeat = v as u32;
                    }
                }
                "vrrp_garp_interval" | "vrrp_gna_interval" => {
                    if let Some(t) = self.arg(s, 0) {
                        if let Some(v) = self.secs_tok(s.name(), t, 0.0, 4294.967295) {
                            if v.is_zero() {
                                // keepalived 2.2 rejects 0 (range starts at
                                // 1 µs) and keeps its default, which is no
                                // delay: the same effect, so a warning.
                                self.warn(
                                    &t.loc,
                                    format!(
                                        "{} 0 is outside keepalived 2.2's range (0.000001 to 4294.967295); baton takes it as no delay",
                                        s.name()
                                    ),
                                );
                            }
                            if s.name() == "vrrp_garp_interval" {
                                g.vrrp_garp_interval = v;
                            } else {
                                g.vrrp_gna_interval = v;
                            }
                        }
                    }
                }
                "vrrp_min_garp" => g.vrrp_min_garp = self.flag(s),
                // baton always counts and logs adverts for unknown VRIDs (see the
                // keyword table); the flag is checked and changes nothing.
                "log_unknown_vrids" | "vrrp_log_unknown_vrids" => {
                    self.flag(s);
                }
                "vrrp_mcast_group4" => match self.ip(s) {
                    Some(IpAddr::V4(a)) if a.is_multicast() => g.vrrp_mcast_group4 = a,
                    Some(_) => self.err(
                        &s.args[0].loc,
                        "vrrp_mcast_group4 must be an IPv4 multicast address",
                    ),
                    None => {}
                },
                "vrrp_mcast_group6" => match self.ip(s) {
                    Some(IpAddr::V6(a)) if a.is_multicast() => g.vrrp_mcast_group6 = a,
                    Some(_) => self.err(
                        &s.args[0].loc,
                        "vrrp_mcast_group6 must be an IPv6 multicast address",
                    ),
                    None => {}
                },
                "vrrp_startup_delay" => g.vrrp_startup_delay = self.secs(s, 0.0, 180.0),
                "vrrp_down_timer_adverts" => {
                    if let Some(v) = self.int(s, 1, 100) {
                        g.vrrp_down_timer_adverts = v as u32;
                    }
                }
                "notify_fifo" => g.notify_fifo = self.fifo(s),
                "notify_fifo_script" => g.notify_fifo_script = self.command(s, &s.args),
                "vrrp_notify_fifo" => g.vrrp_notify_fifo = self.fifo(s),
                "vrrp_notify_fifo_script" => g.vrrp_notify_fifo_script = self.command(s, &s.args),
                "vrrp_notify_priority_changes" => g.vrrp_notify_priority_changes = self.flag(s),
                "vrrp_check_unicast_src" => g.vrrp_check_unicast_src = self.flag(s),
                "vrrp_skip_check_adv_addr" => g.vrrp_skip_check_adv_addr = self.flag(s),
                "vrrp_lower_prio_no_advert" => g.vrrp_lower_prio_no_advert = Some(self.flag(s)),
                "vrrp_higher_prio_send_advert" => g.vrrp_higher_prio_send_advert = self.flag(s),
                "v3_checksum_as_v2" => g.v3_checksum_as_v2 = self.flag(s),
                "default_interface" => g.default_interface = self.string(s),
                "vrrp_garp_extra_if" => g.vrrp_garp_extra_if = self.garp_extra_if(s),
                "dynamic_interfaces" => {
                    self.no_block(s);
                    g.dynamic_interfaces = true;
                }
                "notification_email" => {
                    // keepalived warns about a list without addresses at the line
                    // after the keyword (where it looked for one): the closing brace.
                    if s.children.as_ref().is_none_or(Vec::is_empty) {
                        let loc = s.close.as_ref().unwrap_or(s.loc()).clone();
                        self.warn(&loc, "empty notification_email block");
                    } else {
                        self.ignored(s);
                    }
                }
                name if IGNORED_GLOBAL.contains(&name) => self.ignored(s),
                _ => self.unknown(s),
            }
        }
    }

    pub(super) fn garp_extra_if(&mut self, s: &Node) -> Option<GarpExtraIf> {
        let (all, t) = match s.args.first() {
            Some(t) if t.text == "all" => (true, s.args.get(1)),
            other => (false, other),
        };
        let Some(t) = t else {
            self.err(s.loc(), format!("'{}' needs a number of seconds", s.name()));
            return None;
        };
        let interval = self.secs_tok(s.name(), t, 0.0, 86400.0)?;
        Some(GarpExtraIf { all, interval })
    }
}
