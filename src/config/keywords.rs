//! keywords: the table of every configuration keyword baton understands, per block, with
//! what it does and whether baton acts on it; and baton-keepalived.conf(5), rendered from that table.
//!
//! The table is documentation, not the parser: [`super::build`] stays the one place that
//! gives keywords meaning. The tests below keep the two in step in both directions (every
//! row is accepted by the parser in its block; every keyword string the builder matches
//! has a row), so the man page cannot silently drift from what the program reads.
//!
//! This module reads nothing and writes only to the writer it is given.

use std::io::{self, Write};

use super::build::{IGNORED_GLOBAL, IGNORED_INSTANCE};

/// Where a keyword is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Block {
    /// The top level of the file.
    Top,
    GlobalDefs,
    VrrpScript,
    TrackFile,
    TrackProcess,
    SyncGroup,
    Instance,
    /// `authentication { ... }` inside a `vrrp_instance`.
    Authentication,
}

impl Block {
    /// Every block, in man page order.
    pub const ALL: [Block; 8] = [
        Block::Top,
        Block::GlobalDefs,
        Block::VrrpScript,
        Block::TrackFile,
        Block::TrackProcess,
        Block::SyncGroup,
        Block::Instance,
        Block::Authentication,
    ];

    /// How the block is written in a configuration file.
    pub fn title(self) -> &'static str {
        match self {
            Block::Top => "Top level",
            Block::GlobalDefs => "global_defs { ... }",
            Block::VrrpScript => "vrrp_script NAME { ... }",
            Block::TrackFile => "track_file NAME { ... }",
            Block::TrackProcess => "vrrp_track_process NAME { ... }",
            Block::SyncGroup => "vrrp_sync_group NAME { ... }",
            Block::Instance => "vrrp_instance NAME { ... }",
            Block::Authentication => "authentication { ... } (in vrrp_instance)",
        }
    }
}

/// What baton does with a keyword it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Support {
    /// Checked and acted on as keepalived does.
    Yes,
    /// Acted on in part; the description says which part.
    Partial,
    /// Checked and accepted, with no effect on what baton does.
    Ignored,
    /// A whole block keepalived knows and baton is not about (LVS, BFD): skipped, with a note.
    Skipped,
}

/// One keyword of one block.
#[derive(Debug, Clone, Copy)]
pub struct Keyword {
    pub block: Block,
    pub name: &'static str,
    /// A valid value (what follows the keyword on its line, maybe a `{ ... }` block),
    /// shown in the man page and used by the tests; `\n` separates lines.
    pub sample: &'static str,
    pub support: Support,
    /// One line: what it means.
    pub about: &'static str,
}

const fn k(
    block: Block,
    name: &'static str,
    sample: &'static str,
    support: Support,
    about: &'static str,
) -> Keyword {
    Keyword {
        block,
        name,
        sample,
        support,
        about,
    }
}

use Block::*;
use Support::*;

/// Every keyword baton reads, except the long lists of keywords it accepts and ignores
/// wholesale ([`IGNORED_GLOBAL`], [`IGNORED_INSTANCE`]), which the man page lists as is.
#[rustfmt::skip]
pub const KEYWORDS: &[Keyword] = &[
    // --- Top level --------------------------------------------------------------------
    k(Top, "global_defs", "{\n}", Yes, "Settings for the whole daemon."),
    k(Top, "vrrp_script", "chk_x {\n script /bin/true\n}", Yes, "A health check command run periodically; instances track it."),
    k(Top, "track_file", "tf_x {\n file /run/baton-weight\n}", Yes, "A file holding a number that adjusts the priority of instances tracking it."),
    k(Top, "vrrp_track_file", "tf_y {\n file /run/baton-weight\n}", Yes, "Older name of track_file."),
    k(Top, "vrrp_track_process", "tp_x {\n process sshd\n}", Yes, "A process that must be running (name, optional parameters, counts)."),
    k(Top, "vrrp_sync_group", "G_x {\n group {\n VI_T\n }\n}", Yes, "Instances that change state together."),
    k(Top, "vrrp_instance", "VI_x {\n interface lo\n virtual_router_id 9\n virtual_ipaddress {\n 10.0.9.1/24\n }\n}", Yes, "One virtual router: its ID, priority, addresses, peers and hooks."),
    k(Top, "static_ipaddress", "{\n 10.0.8.1/24 dev lo\n}", Yes, "Addresses configured once at start, whatever the VRRP state."),
    k(Top, "static_routes", "{\n 10.0.7.0/24 dev lo\n}", Yes, "Routes configured once at start, whatever the VRRP state."),
    k(Top, "static_rules", "{\n from 10.0.6.0/24 table 100 preference 100\n}", Yes, "Policy rules configured once at start, whatever the VRRP state."),
    k(Top, "virtual_server", "10.0.5.1 80 {\n}", Skipped, "LVS virtual server (keepalived's checker): not part of baton."),
    k(Top, "virtual_server_group", "VSG {\n}", Skipped, "LVS: not part of baton."),
    k(Top, "real_server", "10.0.5.2 80 {\n}", Skipped, "LVS: not part of baton."),
    k(Top, "bfd_instance", "B1 {\n}", Skipped, "BFD: not part of baton."),
    k(Top, "SSL", "{\n}", Skipped, "TLS settings of LVS health checkers: not part of baton."),
    k(Top, "linkbeat_interfaces", "{\n}", Skipped, "Link polling by ioctl: baton follows links over netlink."),
    k(Top, "interface_up_down_delays", "{\n}", Skipped, "Per-interface link state delays: not implemented."),
    k(Top, "garp_group", "{\n}", Skipped, "Per-interface gratuitous ARP groups: not implemented."),
    k(Top, "track_group", "{\n}", Skipped, "Address tracking groups: not implemented."),
    // --- global_defs ------------------------------------------------------------------
    k(GlobalDefs, "router_id", "node-a", Yes, "Name of this node in logs and `baton status` (default: short host name)."),
    k(GlobalDefs, "vrrp_version", "3", Yes, "Default VRRP version of IPv4 instances, 2 or 3 (IPv6 is always 3)."),
    k(GlobalDefs, "vrrp_strict", "", Partial, "Strict RFC mode: authentication is ignored and lower_prio_no_advert defaults on; baton installs no firewall rules."),
    k(GlobalDefs, "enable_script_security", "", Yes, "Refuse scripts that a non-root user could change (file or any directory above it)."),
    k(GlobalDefs, "script_user", "root", Yes, "USER [GROUP] that runs hooks and checks without their own user (default root)."),
    k(GlobalDefs, "vrrp_garp_master_delay", "5", Yes, "Seconds after becoming master before the second burst of gratuitous ARP/NA (0: none)."),
    k(GlobalDefs, "vrrp_garp_master_repeat", "5", Yes, "Gratuitous ARP/NA messages per burst."),
    k(GlobalDefs, "vrrp_garp_lower_prio_delay", "5", Yes, "Seconds after a lower-priority advert (heard while MASTER) before the second set of gratuitous ARP / NA; 0: no second set. Default: vrrp_garp_master_delay."),
    k(GlobalDefs, "vrrp_garp_lower_prio_repeat", "5", Yes, "Gratuitous ARP / NA a MASTER sends at once, and again after the delay, when it hears a lower priority; 0: none. Default: vrrp_garp_master_repeat."),
    k(GlobalDefs, "vrrp_garp_master_refresh", "60", Yes, "Seconds between refresh bursts while master (0: none)."),
    k(GlobalDefs, "vrrp_garp_master_refresh_repeat", "2", Yes, "Messages per refresh burst."),
    k(GlobalDefs, "vrrp_garp_interval", "0.001", Yes, "Seconds between gratuitous ARP messages of one burst."),
    k(GlobalDefs, "vrrp_gna_interval", "0.001", Yes, "Seconds between unsolicited neighbour advertisements of one burst."),
    k(GlobalDefs, "vrrp_min_garp", "", Yes, "One gratuitous ARP/NA on becoming master, no second burst."),
    k(GlobalDefs, "vrrp_mcast_group4", "224.0.0.18", Yes, "IPv4 multicast group for adverts."),
    k(GlobalDefs, "vrrp_mcast_group6", "ff02::12", Yes, "IPv6 multicast group for adverts."),
    k(GlobalDefs, "vrrp_startup_delay", "5", Yes, "Seconds to wait at start before instances run (for slow networks)."),
    k(GlobalDefs, "vrrp_down_timer_adverts", "3", Ignored, "Missed adverts before a backup takes over: baton uses the RFC's 3."),
    k(GlobalDefs, "notify_fifo", "/run/baton.fifo", Yes, "FIFO that receives one line per state change (PATH [USER [GROUP]])."),
    k(GlobalDefs, "notify_fifo_script", "/usr/local/bin/fifo-reader", Yes, "Program started to read notify_fifo."),
    k(GlobalDefs, "vrrp_notify_fifo", "/run/baton-vrrp.fifo", Yes, "Same as notify_fifo, VRRP events only (baton has no others)."),
    k(GlobalDefs, "vrrp_notify_fifo_script", "/usr/local/bin/fifo-reader", Yes, "Program started to read vrrp_notify_fifo."),
    k(GlobalDefs, "vrrp_notify_priority_changes", "", Yes, "FIFO line (INSTANCE \"VI_1\" MASTER_PRIORITY 80) when an instance's effective priority changes; no script runs."),
    k(GlobalDefs, "vrrp_check_unicast_src", "", Yes, "Drop unicast adverts whose source is not a configured peer: baton's default anyway (unless baton's own file sets unicast_accept_any_source), keepalived's only with this flag."),
    k(GlobalDefs, "vrrp_skip_check_adv_addr", "", Yes, "Do not compare the address list of adverts from the current master."),
    k(GlobalDefs, "vrrp_lower_prio_no_advert", "", Yes, "A master that hears a lower priority does not answer with an advert."),
    k(GlobalDefs, "vrrp_higher_prio_send_advert", "", Yes, "A master that hears a higher priority sends one advert before stepping down."),
    k(GlobalDefs, "v3_checksum_as_v2", "", Yes, "VRRPv3 over IPv4 without the pseudo-header in the checksum (some routers)."),
    k(GlobalDefs, "default_interface", "lo", Yes, "Interface of static addresses, routes and rules that name none (default eth0)."),
    k(GlobalDefs, "vrrp_garp_extra_if", "60", Ignored, "Gratuitous ARP on other interfaces: not implemented."),
    k(GlobalDefs, "log_unknown_vrids", "", Partial, "keepalived logs every advert for a VRID not configured on its interface, and only with this flag; baton, flag or not, counts them per interface and VRID in `baton status` and logs the first of each once (warning)."),
    k(GlobalDefs, "vrrp_log_unknown_vrids", "", Partial, "Another spelling of log_unknown_vrids that baton reads the same way; keepalived 2.2.7 knows only log_unknown_vrids."),
    k(GlobalDefs, "dynamic_interfaces", "", Ignored, "Accepted; baton always follows interfaces coming and going over netlink."),
    k(GlobalDefs, "notification_email", "{\n a@example.org\n}", Ignored, "baton sends no mail; an empty list gets keepalived's warning."),
    // --- vrrp_script ------------------------------------------------------------------
    k(VrrpScript, "script", "\"/usr/bin/curl -sf http://127.0.0.1/\"", Yes, "The command (run without a shell); exit 0 means healthy. Quote a command that has arguments: as in keepalived, only the first word of an unquoted line is run."),
    k(VrrpScript, "interval", "0.5", Yes, "Seconds between runs; fractions are a baton extension (keepalived: whole seconds)."),
    k(VrrpScript, "timeout", "1", Yes, "Seconds before a run counts as failed and is killed (default: interval)."),
    k(VrrpScript, "weight", "-20", Yes, "Priority change while failing (negative) or healthy (positive); 0 means FAULT; add `reverse` to invert."),
    k(VrrpScript, "rise", "2", Yes, "Successes in a row that make the check healthy."),
    k(VrrpScript, "fall", "2", Yes, "Failures in a row that make the check fail."),
    k(VrrpScript, "user", "root", Yes, "USER [GROUP] the check runs as."),
    k(VrrpScript, "init_fail", "", Yes, "Start in the failed state instead of healthy."),
    // --- track_file -------------------------------------------------------------------
    k(TrackFile, "file", "/run/baton-weight", Yes, "The file to watch; its number times the weight adjusts priority."),
    k(TrackFile, "weight", "1", Yes, "Multiplier of the file's number (0: non-zero means FAULT); `reverse` inverts."),
    k(TrackFile, "init_file", "0 overwrite", Yes, "Create the file with this value at start ([VALUE] [overwrite])."),
    // --- vrrp_track_process -----------------------------------------------------------
    k(TrackProcess, "process", "sshd -D", Yes, "Process name, then optional parameters to match."),
    k(TrackProcess, "param_match", "partial", Yes, "How parameters match: exact (no value), partial or initial."),
    k(TrackProcess, "weight", "-10", Yes, "Priority change while the process is missing; 0 means FAULT."),
    k(TrackProcess, "quorum", "1", Yes, "Fewest matching processes counted as up."),
    k(TrackProcess, "quorum_max", "4", Yes, "Most matching processes counted as up."),
    k(TrackProcess, "fork_delay", "1", Yes, "Seconds to wait after a fork before counting it."),
    k(TrackProcess, "terminate_delay", "1", Yes, "Seconds to wait after an exit before counting it."),
    k(TrackProcess, "delay", "1", Yes, "Sets fork_delay and terminate_delay together."),
    k(TrackProcess, "full_command", "", Yes, "Match the full command line rather than the process name."),
    // --- vrrp_sync_group --------------------------------------------------------------
    k(SyncGroup, "group", "{\n VI_T\n}", Yes, "The member instances, one per line."),
    k(SyncGroup, "track_interface", "{\n lo\n}", Yes, "Interfaces every member tracks (NAME [weight N [reverse]])."),
    k(SyncGroup, "track_script", "{\n S_T\n}", Yes, "vrrp_scripts every member tracks."),
    k(SyncGroup, "track_file", "{\n F_T\n}", Yes, "track_files every member tracks."),
    k(SyncGroup, "track_process", "{\n P_T\n}", Yes, "vrrp_track_processes every member tracks."),
    k(SyncGroup, "notify_master", "/etc/keepalived/master.sh", Yes, "Run when the group becomes master (CMD [USER [GROUP]]; quote a command with arguments)."),
    k(SyncGroup, "notify_backup", "/etc/keepalived/backup.sh", Yes, "Run when the group becomes backup."),
    k(SyncGroup, "notify_fault", "/etc/keepalived/fault.sh", Yes, "Run when the group enters FAULT."),
    k(SyncGroup, "notify_stop", "/etc/keepalived/stop.sh", Yes, "Run when baton stops."),
    k(SyncGroup, "notify", "/etc/keepalived/notify.sh", Yes, "Run on every change with GROUP NAME STATE PRIORITY appended."),
    k(SyncGroup, "notify_master_rx_lower_pri", "/bin/true", Ignored, "Instances only; accepted in a group and not run."),
    k(SyncGroup, "notify_deleted", "", Ignored, "Hook on instance removal at reload: not implemented."),
    k(SyncGroup, "notify_priority_changes", "", Yes, "FIFO lines on effective priority changes for every member instance."),
    k(SyncGroup, "sync_group_tracking_weight", "", Ignored, "Weighted group tracking: accepted, not implemented."),
    k(SyncGroup, "smtp_alert", "", Ignored, "baton sends no mail."),
    k(SyncGroup, "global_tracking", "", Ignored, "Obsolete in keepalived."),
    k(SyncGroup, "track_bfd", "", Ignored, "BFD is not part of baton."),
    // --- vrrp_instance ----------------------------------------------------------------
    k(Instance, "state", "MASTER", Yes, "Initial state, MASTER or BACKUP (the election decides after start)."),
    k(Instance, "interface", "lo", Yes, "Interface that sends and receives adverts and carries the addresses."),
    k(Instance, "virtual_router_id", "51", Yes, "VRID, 1-255: the same on every node of the pair, unique on the segment."),
    k(Instance, "priority", "150", Yes, "1-255; the highest running node is master (255: address owner)."),
    k(Instance, "advert_int", "1", Yes, "Seconds between adverts; VRRPv3 allows hundredths (sub-second failover)."),
    k(Instance, "version", "3", Yes, "VRRP version of this instance, 2 or 3."),
    k(Instance, "nopreempt", "", Yes, "A recovering higher priority node does not take over (state BACKUP only)."),
    k(Instance, "no_preempt", "", Yes, "Same as nopreempt."),
    k(Instance, "preempt", "", Yes, "Undo nopreempt (the default)."),
    k(Instance, "preempt_delay", "30", Yes, "Seconds after start before a backup may preempt."),
    k(Instance, "accept", "", Ignored, "baton never filters traffic to the virtual addresses, so it always accepts."),
    k(Instance, "no_accept", "", Ignored, "Dropping traffic to the virtual addresses (firewall rules): not implemented."),
    k(Instance, "unicast_src_ip", "10.0.0.2", Yes, "Source address of adverts; with unicast_peer, unicast mode."),
    k(Instance, "unicast_peer", "{\n 10.0.0.3 min_ttl 250 max_ttl 255\n}", Yes, "Peers adverts go to instead of multicast (ADDR [min_ttl N] [max_ttl N]). An empty block runs the instance by multicast, with a warning, as keepalived does."),
    k(Instance, "unicast_ttl", "255", Ignored, "TTL of unicast adverts: baton always sends 255."),
    k(Instance, "unicast_fault_no_peer", "", Yes, "With no unicast peer the instance stays in FAULT (the reason is in status) instead of running by multicast."),
    k(Instance, "mcast_src_ip", "10.0.0.2", Yes, "Source address of multicast adverts."),
    k(Instance, "mcast_dst_ip", "224.0.0.18", Yes, "Multicast group of this instance's adverts."),
    k(Instance, "check_unicast_src", "", Yes, "Drop unicast adverts whose source is not a configured peer: baton's default anyway (unless baton's own file sets unicast_accept_any_source), keepalived's only with this flag."),
    k(Instance, "track_src_ip", "", Ignored, "Following changes of the source address: not implemented."),
    k(Instance, "old_unicast_checksum", "", Yes, "VRRPv3 unicast checksum as keepalived before 1.3.6 computed it."),
    k(Instance, "authentication", "{\n auth_type PASS\n auth_pass secret\n}", Yes, "VRRPv2 authentication (see the authentication block)."),
    k(Instance, "virtual_ipaddress", "{\n 10.0.0.10/24 dev lo label lo:vip\n}", Yes, "Addresses held by the master: ADDR[/LEN] [dev IF] [brd ADDR] [scope S] [label L] [no_track]."),
    k(Instance, "virtual_ipaddress_excluded", "{\n 10.0.0.11/24\n}", Yes, "Addresses held by the master but not sent in adverts."),
    k(Instance, "virtual_routes", "{\n 10.0.4.0/24 via 10.0.0.1 dev lo\n}", Yes, "Routes added by the master, in ip-route syntax."),
    k(Instance, "virtual_rules", "{\n from 10.0.0.10 table 100 preference 100\n}", Yes, "Policy rules added by the master, in ip-rule syntax."),
    k(Instance, "track_interface", "{\n lo weight -10\n}", Yes, "Interfaces whose link state moves priority (weight) or forces FAULT (no weight)."),
    k(Instance, "track_script", "{\n S_T weight -20\n}", Yes, "vrrp_scripts this instance follows."),
    k(Instance, "track_file", "{\n F_T\n}", Yes, "track_files this instance follows."),
    k(Instance, "track_process", "{\n P_T\n}", Yes, "vrrp_track_processes this instance follows."),
    k(Instance, "garp_master_delay", "5", Yes, "Per-instance vrrp_garp_master_delay."),
    k(Instance, "garp_master_repeat", "5", Yes, "Per-instance vrrp_garp_master_repeat."),
    k(Instance, "garp_lower_prio_delay", "5", Yes, "Per-instance vrrp_garp_lower_prio_delay."),
    k(Instance, "garp_lower_prio_repeat", "5", Yes, "Per-instance vrrp_garp_lower_prio_repeat."),
    k(Instance, "garp_master_refresh", "60", Yes, "Per-instance vrrp_garp_master_refresh."),
    k(Instance, "garp_master_refresh_repeat", "2", Yes, "Per-instance vrrp_garp_master_refresh_repeat."),
    k(Instance, "garp_extra_if", "60", Ignored, "Gratuitous ARP on other interfaces: not implemented."),
    k(Instance, "down_timer_adverts", "3", Ignored, "Missed adverts before takeover: baton uses the RFC's 3."),
    k(Instance, "lower_prio_no_advert", "", Yes, "Per-instance vrrp_lower_prio_no_advert."),
    k(Instance, "higher_prio_send_advert", "", Yes, "Per-instance vrrp_higher_prio_send_advert."),
    k(Instance, "v3_checksum_as_v2", "", Yes, "Per-instance v3_checksum_as_v2."),
    k(Instance, "use_vmac", "vrrp.51", Yes, "Virtual MAC: a private-mode macvlan (default name vrrp.VRID, MAC 00:00:5e:00:01:VRID, :02: for IPv6; a MAC of five octets gets the VRID) on `interface`, created at start in every state (re-created if deleted while baton runs) and removed on exit or when a reload drops it; the virtual addresses and adverts use it (unicast: adverts from the base interface, vmac_xmit_base implied). Sets arp_ignore 1, arp_filter 1 and arp_announce 2 on the base interface."),
    k(Instance, "vmac_xmit_base", "", Yes, "With use_vmac: adverts are sent and received on the base interface, with its MAC; the addresses stay on the VMAC."),
    k(Instance, "dont_track_primary", "", Yes, "Link down on `interface` does not put the instance in FAULT."),
    k(Instance, "strict_mode", "", Partial, "Per-instance vrrp_strict."),
    k(Instance, "skip_check_adv_addr", "", Yes, "Per-instance vrrp_skip_check_adv_addr."),
    k(Instance, "promote_secondaries", "", Ignored, "Kernel promote_secondaries sysctl: not set by baton."),
    k(Instance, "debug", "0", Ignored, "Per-instance debug level: use `baton run -D` or BATON_LOG."),
    k(Instance, "lvs_sync_daemon_interface", "eth0", Ignored, "Deprecated in keepalived for the global lvs_sync_daemon; baton warns and ignores it."),
    k(Instance, "notify_master", "/etc/keepalived/master.sh", Yes, "Run on becoming master (CMD [USER [GROUP]]; quote a command with arguments)."),
    k(Instance, "notify_backup", "/etc/keepalived/backup.sh", Yes, "Run on becoming backup."),
    k(Instance, "notify_fault", "/etc/keepalived/fault.sh", Yes, "Run on entering FAULT."),
    k(Instance, "notify_stop", "/etc/keepalived/stop.sh", Yes, "Run when baton stops the instance."),
    k(Instance, "notify", "/etc/keepalived/notify.sh", Yes, "Run on every change with INSTANCE NAME STATE PRIORITY appended."),
    k(Instance, "notify_master_rx_lower_pri", "/bin/true", Yes, "Run when a master hears an advert with a lower priority."),
    k(Instance, "notify_deleted", "", Ignored, "Hook on instance removal at reload: not implemented."),
    k(Instance, "notify_priority_changes", "", Yes, "FIFO line (INSTANCE \"VI_1\" BACKUP_PRIORITY 80) when the effective priority changes in MASTER or BACKUP; no script runs."),
    // --- authentication ---------------------------------------------------------------
    k(Authentication, "auth_type", "PASS", Partial, "PASS (a shared password; guards against a foreign VRID, not an attacker). AH cannot be sent or received."),
    k(Authentication, "auth_pass", "secret", Yes, "The password, at most 8 characters."),
];

/// Rows of one block, in table order.
pub fn in_block(block: Block) -> impl Iterator<Item = &'static Keyword> {
    KEYWORDS.iter().filter(move |k| k.block == block)
}

/// Write baton-keepalived.conf(5) in roff (man(7) macros).
pub fn write_man_page(out: &mut dyn Write, version: &str) -> io::Result<()> {
    let w = out;
    writeln!(
        w,
        ".TH BATON-KEEPALIVED.CONF 5 \"\" \"baton {}\" \"File Formats\"",
        esc(version)
    )?;
    // Keyword names must stay whole: no hyphenation, ragged right.
    writeln!(w, ".nh\n.ad l")?;
    writeln!(w, ".SH NAME")?;
    writeln!(
        w,
        "baton-keepalived.conf \\- keepalived.conf as baton reads it (the VRRP syntax)"
    )?;
    writeln!(w, ".SH SYNOPSIS")?;
    writeln!(w, ".B /etc/keepalived/keepalived.conf")?;
    writeln!(w, ".SH DESCRIPTION")?;
    for p in INTRO {
        writeln!(w, ".PP\n{}", esc(p))?;
    }
    writeln!(w, ".SH KEYWORDS")?;
    writeln!(
        w,
        "Each keyword below is followed by an example value. Marks: \\fB[ignored]\\fR: read and checked, no effect; \\fB[partial]\\fR: see the description; \\fB[skipped]\\fR: block skipped whole with a note."
    )?;
    for block in Block::ALL {
        writeln!(w, ".SS {}", esc(block.title()))?;
        for kw in in_block(block) {
            let value = match kw.sample.split_once('\n') {
                // A top-level block: its name line is enough; its own keywords follow.
                Some((head, _)) if kw.block == Block::Top => format!("{head} ... }}"),
                _ => squeeze(&kw.sample.replace('\n', " ")),
            };
            writeln!(w, ".TP")?;
            if value.is_empty() {
                writeln!(w, ".B {}", esc(kw.name))?;
            } else {
                writeln!(w, "\\fB{}\\fR {}", esc(kw.name), esc(&value))?;
            }
            let mark = match kw.support {
                Support::Yes => "",
                Support::Partial => "[partial] ",
                Support::Ignored => "[ignored] ",
                Support::Skipped => "[skipped] ",
            };
            writeln!(w, "{}{}", esc(mark), esc(kw.about))?;
        }
    }
    writeln!(w, ".SH ACCEPTED AND IGNORED")?;
    writeln!(
        w,
        "keepalived keywords baton reads without acting on them; each gets a note from \\fBbaton check\\fR. Mail, SNMP, DBus, LVS, process tuning and the like:"
    )?;
    writeln!(w, ".SS In global_defs (and at the top level)")?;
    writeln!(w, "{}", esc(&IGNORED_GLOBAL.join(", ")))?;
    writeln!(w, ".SS In vrrp_instance")?;
    writeln!(w, "{}", esc(&IGNORED_INSTANCE.join(", ")))?;
    writeln!(
        w,
        ".PP\nAny other keyword is reported as unknown (a warning) and skipped."
    )?;
    writeln!(w, ".SH NOTIFY HOOKS")?;
    for p in HOOKS {
        writeln!(w, ".PP\n{}", esc(p))?;
    }
    writeln!(w, ".SH FILES")?;
    writeln!(w, ".TP\n.B /etc/keepalived/keepalived.conf")?;
    writeln!(w, "The configuration the service reads.")?;
    writeln!(w, ".TP\n.B /etc/baton/baton.conf")?;
    writeln!(w, "baton's own settings, described in baton.conf(5).")?;
    writeln!(w, ".TP\n.B /etc/default/baton, /etc/sysconfig/baton")?;
    writeln!(w, "BATON_ARGS for the service.")?;
    writeln!(w, ".TP\n.B /usr/share/doc/baton/examples/")?;
    writeln!(w, "Example configurations.")?;
    writeln!(w, ".SH SEE ALSO")?;
    writeln!(
        w,
        "\\fBbaton\\fR(8), \\fBbaton.conf\\fR(5), \\fBkeepalived.conf\\fR(5)"
    )?;
    Ok(())
}

const INTRO: &[&str] = &[
    "baton reads keepalived's configuration file unchanged. A statement is a keyword and its values on one line; a block is a keyword (and usually a name) followed by { ... }. Comments start with ! or #. As in keepalived, a block written on one line (authentication { auth_type PASS auth_pass x }) is a single line whose first keyword takes every word after it; baton warns about the words it drops.",
    "Before parsing, the file is expanded as keepalived does: include FILE (globs and {a,b} braces, relative to the including file; includer, includem, includew, includeb and includea are the strict variants), @ID lines that apply only to the node started with -i ID (or named ID), @^ID lines for every other node, $NAME=value definitions used as $NAME or ${NAME}, and ~SEQ(...), ~SEQx(...) and ~LST(...) repetitions.",
    "baton check -f FILE reports every problem with FILE:LINE:COL; errors stop the file from running, warnings and notes do not. baton check --dump prints the resolved configuration as YAML, which baton also reads (by a .yaml or .yml extension).",
];

const HOOKS: &[&str] = &[
    "Hooks run without a shell, in their own process group, as their USER or script_user, stdin and stdout on /dev/null. Hooks of one instance or group never overlap and run in the order of the transitions.",
    "The generic notify hook gets four arguments appended: INSTANCE or GROUP, the name, MASTER, BACKUP, FAULT or STOP, and the priority (0 for groups).",
    "A notify FIFO gets one line per transition in keepalived's format, such as INSTANCE \"VI_1\" MASTER 100 or GROUP \"G1\" BACKUP 0. A FIFO without a reader never blocks baton.",
];

/// Collapse runs of spaces (from flattening a multi-line sample).
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escape text for roff: backslashes, minus signs, and a leading control character.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            _ => out.push(c),
        }
    }
    if out.starts_with(['.', '\'']) {
        out.insert_str(0, "\\&");
    }
    out
}

#[cfg(test)]
mod tests;
