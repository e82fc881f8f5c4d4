//! build: the statement tree into the typed [`Config`], checking each value
//! where it is written (numbers, ranges, addresses, states) and recording
//! the location of what later cross-checks ([`super::validate`]) point at.
//!
//! Unknown keywords are warnings and the build goes on, as keepalived does;
//! blocks baton does not implement (LVS, BFD, ...) are skipped with a note.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use super::diag::{Diagnostic, Loc};
use super::lexer::Token;
use super::model::*;
use super::parser::Node;
use super::split::split_command;

/// Locations of things in the source, keyed by a path such as
/// `i/VI_1/virtual_router_id` (the keyword) or `i/VI_1/virtual_router_id=`
/// (its value). For YAML input [`super::yaml_spans`] fills the same keys
/// from the text.
#[derive(Debug, Clone, Default)]
pub struct Spans {
    pub file: Loc,
    pub map: HashMap<String, Loc>,
    /// The input was YAML: no keyword was range-checked at its token, so
    /// validation repeats those checks.
    pub from_yaml: bool,
}

impl Spans {
    pub fn for_file(path: &Path) -> Self {
        Spans {
            file: Loc {
                file: std::sync::Arc::from(path),
                line: 1,
                col: 1,
            },
            map: HashMap::new(),
            from_yaml: false,
        }
    }

    /// The location of `key`, else of the first fallback found, else the file.
    pub fn at(&self, keys: &[&str]) -> &Loc {
        keys.iter()
            .find_map(|k| self.map.get(*k))
            .unwrap_or(&self.file)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Record the first location of `key` (a name, a block).
    fn set(&mut self, key: String, loc: &Loc) {
        self.map.entry(key).or_insert_with(|| loc.clone());
    }

    /// Record the latest location of `key`: for a keyword written twice
    /// the model keeps the last value, so checks point there.
    fn set_last(&mut self, key: String, loc: &Loc) {
        self.map.insert(key, loc.clone());
    }

    pub fn into_diags(self) -> Vec<Diagnostic> {
        Vec::new()
    }
}

/// Blocks keepalived knows that baton skips whole (one note each).
const SKIPPED_BLOCKS: &[&str] = &[
    "virtual_server",
    "virtual_server_group",
    "real_server",
    "bfd_instance",
    "SSL",
    "linkbeat_interfaces",
    "interface_up_down_delays",
    "garp_group",
    "track_group",
];

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

/// Build the model, reporting problems; returns the spans for validation.
pub fn build(tree: &[Node], diags: &mut Vec<Diagnostic>) -> (Config, Spans) {
    let mut one_line = Default::default();
    one_line_statements(tree, &mut one_line);
    let mut b = B {
        diags,
        spans: Spans::default(),
        one_line,
    };
    if let Some(first) = tree.first() {
        b.spans.file = Loc {
            file: first.loc().file.clone(),
            line: 1,
            col: 1,
        };
    }
    let mut c = Config::default();
    // Names seen per kind, for the duplicate check without quadratic scans.
    let mut names: std::collections::HashSet<(&'static str, String)> = Default::default();
    let mut fresh = |kind: &'static str, name: &str| names.insert((kind, name.to_string()));
    for n in tree {
        match n.name() {
            "global_defs" => b.global(n, &mut c.global),
            "vrrp_script" => {
                if let Some(s) = b.vrrp_script(n) {
                    if !fresh("vrrp_script", &s.name) {
                        b.script_again(n, &s.name);
                    } else {
                        c.vrrp_scripts.push(s);
                    }
                }
            }
            "track_file" | "vrrp_track_file" => {
                if let Some(s) = b.track_file(n) {
                    if !fresh("track_file", &s.name) {
                        b.dup(n, "track_file", &s.name);
                    } else {
                        c.track_files.push(s);
                    }
                }
            }
            "vrrp_track_process" => {
                if let Some(s) = b.track_process(n) {
                    if !fresh("vrrp_track_process", &s.name) {
                        b.dup(n, "vrrp_track_process", &s.name);
                    } else {
                        c.track_processes.push(s);
                    }
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = b.sync_group(n) {
                    if !fresh("vrrp_sync_group", &g.name) {
                        b.dup(n, "vrrp_sync_group", &g.name);
                    } else {
                        c.sync_groups.push(g);
                    }
                }
            }
            "vrrp_instance" => {
                if let Some(i) = b.instance(n) {
                    if !fresh("vrrp_instance", &i.name) {
                        b.dup(n, "vrrp_instance", &i.name);
                    } else {
                        c.instances.push(i);
                    }
                }
            }
            "static_ipaddress" => {
                let list = b.addresses(n, "static_ipaddress");
                c.static_addresses.extend(list);
            }
            "static_routes" => {
                let list = b.routes(n);
                c.static_routes.extend(list);
            }
            "static_rules" => {
                let list = b.rules(n);
                c.static_rules.extend(list);
            }
            name if SKIPPED_BLOCKS.contains(&name) => b.skip(n),
            name if IGNORED_GLOBAL.contains(&name) => b.ignored(n),
            _ => b.unknown(n),
        }
    }
    (c, b.spans)
}

struct B<'d> {
    diags: &'d mut Vec<Diagnostic>,
    spans: Spans,
    /// Statements written on the same line as their block's keyword
    /// (`authentication { auth_type PASS ... }`), to explain dropped words.
    one_line: std::collections::HashSet<Loc>,
}

fn one_line_statements(nodes: &[Node], out: &mut std::collections::HashSet<Loc>) {
    for n in nodes {
        for c in n.body() {
            if c.loc().line == n.loc().line && c.loc().file == n.loc().file {
                out.insert(c.loc().clone());
            }
        }
        one_line_statements(n.body(), out);
    }
}

fn key(parts: &[&str]) -> String {
    parts.join("/")
}

impl B<'_> {
    fn err(&mut self, loc: &Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(loc, msg));
    }
    fn warn(&mut self, loc: &Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(loc, msg));
    }
    fn note(&mut self, loc: &Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::note(loc, msg));
    }

    fn unknown(&mut self, n: &Node) {
        self.warn(n.loc(), format!("unknown keyword '{}'", n.name()));
    }

    fn skip(&mut self, n: &Node) {
        if n.name() == "virtual_server" {
            super::lvs::check(n, self.diags);
        }
        self.note(
            n.loc(),
            format!(
                "'{}' is not part of baton (VRRP only); block skipped",
                n.name()
            ),
        );
    }

    fn ignored(&mut self, n: &Node) {
        self.note(
            n.loc(),
            format!("'{}' is accepted and ignored by baton", n.name()),
        );
    }

    fn dup(&mut self, n: &Node, what: &str, name: &str) {
        let loc = n.args.first().map(|t| &t.loc).unwrap_or(n.loc()).clone();
        self.err(&loc, format!("duplicate {what} '{name}'"));
    }

    /// A second `vrrp_script` of the same name: keepalived runs with it,
    /// and every lookup by name finds the first, so baton keeps the first.
    fn script_again(&mut self, n: &Node, name: &str) {
        let loc = n.args.first().map(|t| &t.loc).unwrap_or(n.loc()).clone();
        let first = self.spans.at(&[&key(&["s", name])]);
        let first = if first.file == loc.file {
            format!("line {}", first.line)
        } else {
            format!("{}:{}", first.file.display(), first.line)
        };
        self.warn(
            &loc,
            format!(
                "vrrp_script '{name}' is defined again; the definition at {first} is used and this one is ignored, as keepalived does"
            ),
        );
    }

    /// An unknown word on an address line, which keepalived logs and skips.
    /// An address there is most often the next line of a block written on
    /// one line, which keepalived never reads as an address.
    fn ignored_word(&mut self, line: &Node, t: &Token, what: &str) {
        let msg = if parse_prefix(t.text.split('/').next().unwrap_or("")).is_some() {
            format!(
                "'{}' is read as an option of {} and ignored, as keepalived does: it takes one address per line, and a block written on one line is one line",
                t.text,
                line.name()
            )
        } else {
            format!(
                "unknown {what} '{}' ignored (keepalived ignores it too)",
                t.text
            )
        };
        self.warn(&t.loc, msg);
    }

    fn expect_block(&mut self, n: &Node) {
        if !n.is_block() {
            self.err(n.loc(), format!("'{}' needs a {{ ... }} block", n.name()));
        }
    }

    fn no_block(&mut self, n: &Node) {
        if n.is_block() {
            self.warn(
                n.loc(),
                format!("'{}' does not take a block; block ignored", n.name()),
            );
        }
    }

    /// The block's name (first argument), or an error.
    fn block_name(&mut self, n: &Node) -> Option<String> {
        self.expect_block(n);
        match n.args.first() {
            Some(t) => Some(t.text.clone()),
            None => {
                self.err(n.loc(), format!("'{}' needs a name", n.name()));
                None
            }
        }
    }

    fn arg<'n>(&mut self, n: &'n Node, i: usize) -> Option<&'n Token> {
        self.no_block(n);
        let t = n.args.get(i);
        if t.is_none() {
            self.err(n.loc(), format!("'{}' needs a value", n.name()));
        }
        t
    }

    fn string(&mut self, n: &Node) -> Option<String> {
        let v = self.arg(n, 0).map(|t| t.text.clone());
        self.unread(n, 1);
        v
    }

    /// Words after what keepalived reads of a line: it takes the values it
    /// needs and drops the rest without a word. They are usually a block
    /// written on one line (`authentication { auth_type PASS auth_pass x }`
    /// is one line to keepalived, so `auth_pass x` is part of `auth_type`).
    fn unread(&mut self, n: &Node, used: usize) {
        let Some(first) = n.args.get(used) else {
            return;
        };
        let rest: Vec<&str> = n.args[used..].iter().map(Token::raw).collect();
        let rest = rest.join(" ");
        let why = if self.same_line_as_brace(n) {
            "keepalived reads a block written on one line as a single line, so the first keyword takes the rest; put each keyword on its own line"
        } else {
            "keepalived ignores it too"
        };
        self.warn(
            &first.loc,
            format!("'{rest}' after '{}' is ignored: {why}", n.name()),
        );
    }

    /// Whether `n` was written after a `{` on its own line (the first
    /// statement of a one-line block).
    fn same_line_as_brace(&self, n: &Node) -> bool {
        self.one_line.contains(n.loc())
    }

    fn int_tok(&mut self, what: &str, t: &Token, min: i64, max: i64) -> Option<i64> {
        match t.text.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            Ok(v) => {
                self.err(
                    &t.loc,
                    format!("{what} must be between {min} and {max} (got {v})"),
                );
                None
            }
            Err(_) => {
                self.err(
                    &t.loc,
                    format!("{what}: '{}' is not a whole number", t.text),
                );
                None
            }
        }
    }

    fn int(&mut self, n: &Node, min: i64, max: i64) -> Option<i64> {
        self.unread(n, 1);
        self.int_first(n, min, max)
    }

    /// The first value of `n` as a number; later words are the caller's.
    fn int_first(&mut self, n: &Node, min: i64, max: i64) -> Option<i64> {
        let t = self.arg(n, 0)?;
        self.int_tok(n.name(), t, min, max)
    }

    fn secs_tok(&mut self, what: &str, t: &Token, min: f64, max: f64) -> Option<Duration> {
        match parse_secs(&t.text) {
            Some(d) if d.as_secs_f64() >= min && d.as_secs_f64() <= max => Some(d),
            Some(_) => {
                self.err(
                    &t.loc,
                    format!(
                        "{what} must be between {min} and {max} seconds (got {})",
                        t.text
                    ),
                );
                None
            }
            None => {
                self.err(
                    &t.loc,
                    format!("{what}: '{}' is not a number of seconds", t.text),
                );
                None
            }
        }
    }

    fn secs(&mut self, n: &Node, min: f64, max: f64) -> Option<Duration> {
        self.unread(n, 1);
        let t = self.arg(n, 0)?;
        self.secs_tok(n.name(), t, min, max)
    }

    /// `KEYWORD [on|off|true|false|yes|no]`: no value means on.
    fn flag(&mut self, n: &Node) -> bool {
        self.no_block(n);
        match n.args.first() {
            None => true,
            Some(t) => match t.text.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" => true,
                "off" | "false" | "no" => false,
                _ => {
                    self.err(
                        &t.loc,
                        format!(
                            "{}: expected on|off|true|false|yes|no, got '{}'",
                            n.name(),
                            t.text
                        ),
                    );
                    true
                }
            },
        }
    }

    fn ip_tok(&mut self, t: &Token) -> Option<IpAddr> {
        match t.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(&t.loc, format!("invalid address '{}'", t.text));
                None
            }
        }
    }

    fn ip(&mut self, n: &Node) -> Option<IpAddr> {
        self.unread(n, 1);
        let t = self.arg(n, 0)?;
        self.ip_tok(t)
    }

    /// A host address where keepalived also takes `ADDR/anything`: it
    /// reads up to the `/` and drops the rest, so baton does too, and says so.
    fn host_ip_tok(&mut self, what: &str, t: &Token) -> Option<IpAddr> {
        let Some((addr, suffix)) = t.text.split_once('/') else {
            return self.ip_tok(t);
        };
        match addr.parse::<IpAddr>() {
            Ok(a) => {
                self.warn(
                    &t.loc,
                    format!(
                        "{what}: the prefix /{suffix} after {a} is ignored (a unicast address is one host; keepalived ignores it too)"
                    ),
                );
                Some(a)
            }
            Err(_) => self.ip_tok(t),
        }
    }

    fn prefix_tok(&mut self, t: &Token) -> Option<Prefix> {
        match parse_prefix(&t.text) {
            Some(p) => Some(p),
            None => {
                self.err(&t.loc, format!("invalid address '{}'", t.text));
                None
            }
        }
    }

    /// A notify-style command: `CMD [user [group]]`. The first word is the
    /// command (quote it to give arguments); the next two are the user and
    /// group, as keepalived.conf(5) writes `notify_master
    /// <STRING>|<QUOTED-STRING> [username [groupname]]`.
    fn command(&mut self, n: &Node, args: &[Token]) -> Option<Command> {
        self.no_block(n);
        let Some(first) = args.first() else {
            self.err(n.loc(), format!("'{}' needs a command", n.name()));
            return None;
        };
        let run_as = match &args[1..] {
            [] => None,
            [u] => Some(RunAs {
                user: u.text.clone(),
                group: None,
            }),
            [u, g] => Some(RunAs {
                user: u.text.clone(),
                group: Some(g.text.clone()),
            }),
            [_, _, extra, ..] => {
                self.err(
                    &extra.loc,
                    format!(
                        "{}: unexpected '{}' after the user and group (quote a command that has arguments)",
                        n.name(),
                        extra.text
                    ),
                );
                None
            }
        };
        self.finish_command(first, first.text.clone(), run_as)
    }

    /// A `script` line of a vrrp_script: keepalived runs its first word
    /// only (a quoted word may hold a whole command line), so baton does.
    fn script_command(&mut self, n: &Node) -> Option<Command> {
        self.no_block(n);
        let Some(first) = n.args.first() else {
            self.err(n.loc(), format!("'{}' needs a command", n.name()));
            return None;
        };
        if n.args.len() > 1 && !self.same_line_as_brace(n) {
            let rest: Vec<&str> = n.args[1..].iter().map(Token::raw).collect();
            self.warn(
                &n.args[1].loc,
                format!(
                    "'{}' after the command is ignored: keepalived runs only '{}'; quote the whole command to pass arguments",
                    rest.join(" "),
                    first.text
                ),
            );
        } else {
            self.unread(n, 1);
        }
        self.finish_command(first, first.text.clone(), None)
    }

    fn finish_command(
        &mut self,
        first: &Token,
        raw: String,
        run_as: Option<RunAs>,
    ) -> Option<Command> {
        let argv = split_command(&raw);
        if argv.is_empty() {
            self.err(&first.loc, "the command is empty");
            return None;
        }
        Some(Command { raw, argv, run_as })
    }

    fn run_as(&mut self, n: &Node) -> Option<RunAs> {
        let user = self.arg(n, 0)?.text.clone();
        Some(RunAs {
            user,
            group: n.args.get(1).map(|t| t.text.clone()),
        })
    }

    fn fifo(&mut self, n: &Node) -> Option<Fifo> {
        let path = self.arg(n, 0)?.text.clone();
        let run_as = n.args.get(1).map(|u| RunAs {
            user: u.text.clone(),
            group: n.args.get(2).map(|g| g.text.clone()),
        });
        Some(Fifo { path, run_as })
    }

    /// `weight N [reverse]` for a tracked object definition.
    fn weight(&mut self, n: &Node, min: i64, max: i64) -> Option<(i32, bool)> {
        self.unread(n, 2);
        let w = self.int_first(n, min, max)? as i32;
        let reverse = match n.args.get(1) {
            None => false,
            Some(t) if t.text == "reverse" => true,
            Some(t) if t.text == "noreverse" || t.text == "no_reverse" => false,
            Some(t) => {
                self.err(
                    &t.loc,
                    format!("weight: expected 'reverse', got '{}'", t.text),
                );
                false
            }
        };
        Some((w, reverse))
    }

    fn global(&mut self, n: &Node, g: &mut GlobalDefs) {
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

    fn garp_extra_if(&mut self, s: &Node) -> Option<GarpExtraIf> {
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

    fn vrrp_script(&mut self, n: &Node) -> Option<VrrpScript> {
        let name = self.block_name(n)?;
        let mut v = VrrpScript::new(&name);
        let base = key(&["s", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        self.spans
            .set(format!("{base}}}"), n.close.as_ref().unwrap_or(n.loc()));
        let mut user = None;
        for s in n.body() {
            self.spans.set(format!("{base}/{}", s.name()), s.loc());
            match s.name() {
                "script" => v.script = self.script_command(s),
                "interval" | "timeout" => {
                    if let Some(d) = self.secs(s, 0.000001, 86400.0) {
                        if d.subsec_micros() != 0 {
                            // baton's extension, but a keepalived reading the
                            // same file reports it and ignores the value: a
                            // warning, since the file no longer passes `keepalived -t`.
                            self.warn(
                                &s.args[0].loc,
                                format!(
                                    "fractional {} is a baton extension; keepalived 2.2 needs whole seconds and ignores it",
                                    s.name()
                                ),
                            );
                        }
                        if s.name() == "interval" {
                            v.interval = d;
                        } else {
                            v.timeout = Some(d);
                        }
                    }
                }
                "weight" => {
                    if let Some((w, r)) = self.weight(s, -253, 253) {
                        v.weight = w;
                        v.weight_reverse = r;
                    }
                }
                "rise" => {
                    if let Some(x) = self.int(s, 1, i64::from(u32::MAX)) {
                        v.rise = x as u32;
                    }
                }
                "fall" => {
                    if let Some(x) = self.int(s, 1, i64::from(u32::MAX)) {
                        v.fall = x as u32;
                    }
                }
                "user" => user = self.run_as(s),
                "init_fail" => {
                    self.no_block(s);
                    v.init_fail = true;
                }
                _ => self.unknown(s),
            }
        }
        if let (Some(u), Some(cmd)) = (user, v.script.as_mut()) {
            cmd.run_as = Some(u);
        }
        Some(v)
    }

    fn track_file(&mut self, n: &Node) -> Option<TrackFile> {
        let name = self.block_name(n)?;
        let mut v = TrackFile::new(&name);
        let base = key(&["f", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        self.spans
            .set(format!("{base}}}"), n.close.as_ref().unwrap_or(n.loc()));
        for s in n.body() {
            match s.name() {
                "file" => v.file = self.string(s),
                "weight" => {
                    if let Some((w, r)) = self.weight(s, -2_147_483_647, 2_147_483_647) {
                        v.weight = w;
                        v.weight_reverse = r;
                    }
                }
                "init_file" => {
                    let mut init = InitFile {
                        value: 0,
                        overwrite: false,
                    };
                    for t in &s.args {
                        if t.text == "overwrite" {
                            init.overwrite = true;
                        } else if let Some(x) =
                            self.int_tok("init_file", t, i64::from(i32::MIN), i64::from(i32::MAX))
                        {
                            init.value = x;
                        }
                    }
                    v.init_file = Some(init);
                }
                _ => self.unknown(s),
            }
        }
        Some(v)
    }

    fn track_process(&mut self, n: &Node) -> Option<TrackProcess> {
        let name = self.block_name(n)?;
        let mut v = TrackProcess::new(&name);
        let base = key(&["p", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        self.spans
            .set(format!("{base}}}"), n.close.as_ref().unwrap_or(n.loc()));
        for s in n.body() {
            match s.name() {
                "process" => {
                    if let Some(t) = self.arg(s, 0) {
                        v.process = Some(t.text.clone());
                        v.params = s.args[1..].iter().map(|t| t.text.clone()).collect();
                    }
                }
                "param_match" => {
                    v.param_match = match s.args.first().map(|t| t.text.as_str()) {
                        None => Some(ParamMatch::Exact),
                        Some("partial") => Some(ParamMatch::Partial),
                        Some("initial") => Some(ParamMatch::Initial),
                        Some(other) => {
                            self.err(
                                &s.args[0].loc,
                                format!("param_match: expected partial or initial, got '{other}'"),
                            );
                            None
                        }
                    }
                }
                "weight" => {
                    if let Some((w, r)) = self.weight(s, -254, 254) {
                        v.weight = w;
                        v.weight_reverse = r;
                    }
                }
                "quorum" => {
                    if let Some(x) = self.int(s, 1, 65535) {
                        v.quorum = x as u32;
                    }
                }
                "quorum_max" => v.quorum_max = self.int(s, 0, 65535).map(|x| x as u32),
                "fork_delay" => v.fork_delay = self.secs(s, 0.0, 3600.0),
                "terminate_delay" => v.terminate_delay = self.secs(s, 0.0, 3600.0),
                "delay" => {
                    let d = self.secs(s, 0.0, 3600.0);
                    v.fork_delay = d;
                    v.terminate_delay = d;
                }
                "full_command" => {
                    self.no_block(s);
                    v.full_command = true;
                }
                _ => self.unknown(s),
            }
        }
        Some(v)
    }

    /// Entries of `track_interface|script|file|process { NAME [weight N [reverse]] }`.
    fn track_refs(&mut self, n: &Node, base: &str, min: i64, max: i64) -> Vec<TrackRef> {
        self.expect_block(n);
        let mut out = Vec::new();
        for e in n.body() {
            let mut r = TrackRef {
                name: e.name().to_string(),
                weight: None,
                reverse: false,
            };
            self.spans
                .set(format!("{base}/{}/{}", n.name(), e.name()), e.loc());
            let mut it = e.args.iter();
            let mut dropped = false;
            while let Some(t) = it.next() {
                match t.text.as_str() {
                    "weight" => match it.next() {
                        Some(w) => r.weight = self.int_tok("weight", w, min, max).map(|x| x as i32),
                        None => self.err(&t.loc, "weight needs a value"),
                    },
                    "reverse" => r.reverse = true,
                    "noreverse" | "no_reverse" => r.reverse = false,
                    // keepalived logs the word and drops the whole entry:
                    // the object is then not tracked at all.
                    other if !dropped => {
                        dropped = true;
                        self.warn(
                            &t.loc,
                            format!(
                                "{}: unknown option '{other}' after '{}'; {} is not tracked, as in keepalived",
                                n.name(),
                                e.name(),
                                e.name()
                            ),
                        );
                    }
                    _ => {}
                }
            }
            if !dropped {
                out.push(r);
            }
        }
        out
    }

    fn notify(&mut self, s: &Node, notify: &mut Notify) -> bool {
        let slot = match s.name() {
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            "notify_stop" => &mut notify.stop,
            "notify" => &mut notify.any,
            "notify_master_rx_lower_pri" => &mut notify.master_rx_lower_pri,
            "notify_deleted" => {
                notify.deleted = true;
                if !s.args.is_empty() {
                    notify.deleted_script = self.command(s, &s.args);
                }
                return true;
            }
            "notify_priority_changes" => {
                notify.priority_changes = self.flag(s);
                return true;
            }
            _ => return false,
        };
        // keepalived keeps the first script given for a state and ignores the rest.
        if slot.is_some() {
            self.warn(
                s.loc(),
                format!(
                    "{} is already set; keepalived keeps the first and ignores this one",
                    s.name()
                ),
            );
            return true;
        }
        *slot = self.command(s, &s.args);
        true
    }

    fn sync_group(&mut self, n: &Node) -> Option<SyncGroup> {
        let name = self.block_name(n)?;
        let base = key(&["g", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        let mut g = SyncGroup {
            name,
            members: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            notify: Notify::default(),
            sync_group_tracking_weight: false,
        };
        for s in n.body() {
            match s.name() {
                "group" => {
                    self.expect_block(s);
                    for m in s.body() {
                        self.spans
                            .set(format!("{base}/member/{}", m.name()), m.loc());
                        if g.members.iter().any(|x| x == m.name()) {
                            self.warn(m.loc(), format!("'{}' is listed twice", m.name()));
                        } else {
                            g.members.push(m.name().to_string());
                        }
                    }
                }
                "track_interface" => g.track_interfaces = self.track_refs(s, &base, -253, 253),
                "track_script" => g.track_scripts = self.track_refs(s, &base, -253, 253),
                "track_file" => g.track_files = self.track_refs(s, &base, -254, 254),
                "track_process" => g.track_processes = self.track_refs(s, &base, -254, 254),
                "sync_group_tracking_weight" => g.sync_group_tracking_weight = true,
                "smtp_alert" | "global_tracking" | "track_bfd" => self.ignored(s),
                _ => {
                    if !self.notify(s, &mut g.notify) {
                        self.unknown(s)
                    }
                }
            }
        }
        Some(g)
    }

    fn instance(&mut self, n: &Node) -> Option<Instance> {
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

    /// Lines of `virtual_ipaddress`-like blocks.
    fn addresses(&mut self, n: &Node, base: &str) -> Vec<VirtualAddress> {
        self.expect_block(n);
        let mut out = Vec::new();
        for e in n.body() {
            let Some(p) = self.prefix_tok(&e.keyword) else {
                continue;
            };
            self.spans.set(format!("{base}/{}", out.len()), e.loc());
            let mut a = VirtualAddress::new(p.address, p.len);
            let mut it = e.args.iter();
            while let Some(t) = it.next() {
                let word = t.text.as_str();
                match word {
                    "no_track" => a.no_track = true,
                    "use_vmac" => a.use_vmac = true,
                    "home" | "-nodad" | "nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" => {
                        a.flags.push(word.to_string())
                    }
                    "brd" | "broadcast" | "dev" | "scope" | "label" | "peer" | "preferred_lft"
                    | "track_group" => {
                        let Some(val) = it.next() else {
                            self.err(&t.loc, format!("'{word}' needs a value"));
                            continue;
                        };
                        match word {
                            "brd" | "broadcast" => {
                                if val.text == "+" || val.text == "-" {
                                    a.flags.push(format!("brd {}", val.text));
                                } else {
                                    a.brd = self.ip_tok(val);
                                }
                            }
                            "dev" => {
                                self.spans
                                    .set(format!("{base}/{}/dev", out.len()), &val.loc);
                                a.dev = Some(val.text.clone());
                            }
                            "scope" => a.scope = self.scope(val),
                            "label" => a.label = Some(val.text.clone()),
                            "peer" => {
                                a.peer = parse_prefix(&val.text).map(|p| p.address);
                                if a.peer.is_none() {
                                    self.err(&val.loc, format!("invalid address '{}'", val.text));
                                }
                            }
                            _ => a.flags.push(format!("{word} {}", val.text)),
                        }
                    }
                    _ => self.ignored_word(e, t, "address option"),
                }
            }
            out.push(a);
        }
        out
    }

    fn scope(&mut self, t: &Token) -> Option<Scope> {
        match t.text.as_str() {
            "global" | "0" => Some(Scope::Global),
            "site" | "200" => Some(Scope::Site),
            "link" | "253" => Some(Scope::Link),
            "host" | "254" => Some(Scope::Host),
            "nowhere" | "255" => Some(Scope::Nowhere),
            other => {
                self.err(&t.loc, format!("unknown scope '{other}'"));
                None
            }
        }
    }

    fn routes(&mut self, n: &Node) -> Vec<Route> {
        self.expect_block(n);
        let mut out = Vec::new();
        for e in n.body() {
            let words: Vec<&Token> = std::iter::once(&e.keyword).chain(e.args.iter()).collect();
            let mut r = Route {
                route_type: RouteType::Unicast,
                to: Prefix {
                    address: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    len: 0,
                },
                src: None,
                via: None,
                or_via: None,
                dev: None,
                scope: None,
                table: None,
                metric: None,
                no_track: false,
                options: Vec::new(),
            };
            let mut have_to = false;
            let mut default_to = false;
            // The family word of `via inet6 X`, when written.
            let mut via_family: Option<bool> = None;
            let mut ok = true;
            let mut i = 0;
            while i < words.len() {
                let t = words[i];
                let w = t.text.as_str();
                i += 1;
                let value = |i: &mut usize| -> Option<&Token> {
                    let v = words.get(*i).copied();
                    *i += 1;
                    v
                };
                match w {
                    "blackhole" | "unreachable" | "prohibit" | "throw" => {
                        r.route_type = match w {
                            "blackhole" => RouteType::Blackhole,
                            "unreachable" => RouteType::Unreachable,
                            "prohibit" => RouteType::Prohibit,
                            _ => RouteType::Throw,
                        };
                    }
                    // The default route: its family is the gateway's
                    // (keepalived makes `default via inet6 X` ::/0).
                    "default" | "any" | "all" if !have_to => {
                        have_to = true;
                        default_to = true;
                    }
                    "no_track" => r.no_track = true,
                    "onlink" | "pervasive" => r.options.push(w.to_string()),
                    "src" | "via" | "gw" | "or" | "to" | "dev" | "oif" | "scope" | "table"
                    | "metric" | "priority" | "preference" => {
                        let Some(v) = value(&mut i) else {
                            self.err(&t.loc, format!("'{w}' needs a value"));
                            ok = false;
                            break;
                        };
                        match w {
                            "src" => r.src = self.ip_tok(v),
                            "via" | "gw" => {
                                if w == "gw" {
                                    self.warn(&t.loc, "'gw' for routes is deprecated; use 'via'");
                                }
                                let v = if v.text == "inet" || v.text == "inet6" {
                                    via_family = Some(v.text == "inet6");
                                    match value(&mut i) {
                                        Some(x) => x,
                                        None => continue,
                                    }
                                } else {
                                    v
                                };
                                r.via = self.ip_tok(v);
                            }
                            "or" => {
                                self.warn(&t.loc, "'or' for routes is deprecated; use 'nexthop'");
                                r.or_via = self.ip_tok(v);
                            }
                            "to" if matches!(v.text.as_str(), "default" | "any" | "all") => {
                                have_to = true;
                                default_to = true;
                            }
                            "to" => match self.prefix_tok(v) {
                                Some(p) => {
                                    r.to = p;
                                    have_to = true;
                                }
                                None => ok = false,
                            },
                            "dev" | "oif" => r.dev = Some(v.text.clone()),
                            "scope" => r.scope = self.scope(v),
                            "table" => r.table = Some(v.text.clone()),
                            _ => {
                                r.metric =
                                    self.int_tok(w, v, 0, i64::from(u32::MAX)).map(|x| x as u32)
                            }
                        }
                    }
                    _ if !have_to && parse_prefix(w).is_some()
                        || (!have_to && w.contains(['.', ':']) && !w.contains('=')) =>
                    {
                        match self.prefix_tok(t) {
                            Some(p) => {
                                r.to = p;
                                have_to = true;
                            }
                            None => ok = false,
                        }
                    }
                    _ => {
                        // Other ip-route options take one value; keep both.
                        match value(&mut i) {
                            Some(v) => r.options.push(format!("{w} {}", v.text)),
                            None => r.options.push(w.to_string()),
                        }
                    }
                }
            }
            let mut families = [r.via, r.or_via, r.src]
                .into_iter()
                .flatten()
                .map(|a| a.is_ipv6())
                .chain(via_family)
                .chain((have_to && !default_to).then_some(r.to.address.is_ipv6()));
            if let Some(first) = families.next() {
                if ok && families.any(|f| f != first) {
                    // keepalived logs this and runs without the route.
                    self.warn(
                        e.loc(),
                        "route mixes IPv4 and IPv6 addresses; it is ignored, as keepalived ignores it",
                    );
                    continue;
                }
            }
            if default_to {
                let v6 = [r.via, r.or_via, r.src].into_iter().flatten().next();
                if let Some(IpAddr::V6(_)) = v6 {
                    r.to.address = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
                }
            }
            if !have_to && ok {
                self.err(e.loc(), "route has no destination");
                ok = false;
            }
            if ok {
                out.push(r);
            }
        }
        out
    }

    fn rules(&mut self, n: &Node) -> Vec<Rule> {
        self.expect_block(n);
        let mut out = Vec::new();
        for e in n.body() {
            let words: Vec<&Token> = std::iter::once(&e.keyword).chain(e.args.iter()).collect();
            let mut r = Rule {
                from: None,
                to: None,
                table: None,
                preference: None,
                iif: None,
                oif: None,
                fwmark: None,
                no_track: false,
                options: Vec::new(),
            };
            let mut ok = true;
            let mut i = 0;
            while i < words.len() {
                let t = words[i];
                let w = t.text.as_str();
                i += 1;
                match w {
                    "no_track" => r.no_track = true,
                    "not" | "l3mdev" | "blackhole" | "prohibit" | "unreachable" | "inet"
                    | "inet6" => r.options.push(w.to_string()),
                    _ => {
                        let Some(v) = words.get(i).copied() else {
                            self.err(&t.loc, format!("'{w}' needs a value"));
                            ok = false;
                            break;
                        };
                        i += 1;
                        match w {
                            "from" | "to" => match parse_prefix(&v.text) {
                                Some(p) if w == "from" => r.from = Some(p),
                                Some(p) => r.to = Some(p),
                                None if v.text == "all" => {}
                                None => {
                                    self.err(&v.loc, format!("invalid address '{}'", v.text));
                                    ok = false;
                                }
                            },
                            "table" | "lookup" => r.table = Some(v.text.clone()),
                            "preference" | "priority" | "pref" => {
                                r.preference =
                                    self.int_tok(w, v, 0, i64::from(u32::MAX)).map(|x| x as u32)
                            }
                            "iif" => r.iif = Some(v.text.clone()),
                            "oif" => r.oif = Some(v.text.clone()),
                            "fwmark" => r.fwmark = Some(v.text.clone()),
                            _ => r.options.push(format!("{w} {}", v.text)),
                        }
                    }
                }
            }
            if ok {
                if r.preference.is_none() {
                    self.warn(
                        e.loc(),
                        "rule has no preference; the kernel-assigned one may differ between hosts",
                    );
                }
                out.push(r);
            }
        }
        out
    }
}

/// Decimal seconds (`1`, `0.1`, `2.71828`) to microsecond resolution.
pub fn parse_secs(s: &str) -> Option<Duration> {
    if s.is_empty() || s.starts_with(['-', '+']) {
        return None;
    }
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros: u64 = 0;
    for (i, c) in frac.chars().take(6).enumerate() {
        micros += u64::from(c.to_digit(10)?) * 10u64.pow(5 - i as u32);
    }
    secs.checked_mul(1_000_000)?
        .checked_add(micros)
        .map(Duration::from_micros)
}

/// `ADDR[/LEN]`; without a length, the full host length.
pub fn parse_prefix(s: &str) -> Option<Prefix> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let address: IpAddr = a.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some(Prefix { address, len })
}
