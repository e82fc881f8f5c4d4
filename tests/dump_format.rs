//! The dump renderers (`baton::dump`, pure functions) against keepalived 2.2.7's own files.
//!
//! A [`DumpView`] is built for the state keepalived was in when the fixtures were captured
//! (`tests/data/keepalived-dump/`, see `interop_dump.rs`): the configuration of
//! `node-a.conf`, and the run-dependent values (times, counters) read back from the
//! captured files. Fed keepalived's values, the renderers must reproduce keepalived's
//! files: `.stats` and `.json` byte for byte, `.data` line by line except the sections and
//! global lines baton does not write and the socket descriptors it does not have. The
//! exporter's parsing (tests/dump/exporter.rs) must then read the same from both.
//! No namespaces, no daemons: a format drift fails here first.

mod dump;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use baton::config::model::{UnicastPeer, VirtualAddress};
use baton::dump::{
    AuthView, DumpKind, DumpView, Garp, Globals, Hook, InstanceView, Notify, Owner, ScriptView,
    Tracked,
};
use baton::proto::{State, Stats};
use dump::compare::{self, Rules};
use dump::exporter;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn vip(last: u8, label: Option<&str>, dev: Option<&str>) -> VirtualAddress {
    VirtualAddress {
        address: ip(last),
        prefix_len: 24,
        brd: None,
        dev: dev.map(str::to_string),
        scope: None,
        label: label.map(str::to_string),
        peer: None,
        no_track: false,
        use_vmac: false,
        flags: Vec::new(),
    }
}

/// A value of the captured `.data`: `label = value` in `block`.
fn captured(block: &str, label: &str) -> String {
    compare::parse_data(&dump::fixture("keepalived.data"))
        .into_iter()
        .find(|l| l.block == block && l.label == label)
        .map(|l| l.value)
        .unwrap_or_else(|| panic!("no {label:?} in {block:?} of the capture"))
}

/// `1796237335.521969 (...)` -> that instant.
fn time(value: &str) -> SystemTime {
    let secs = value.split(' ').next().unwrap_or_default();
    let (s, us) = secs.split_once('.').unwrap_or((secs, "0"));
    SystemTime::UNIX_EPOCH
        + Duration::from_secs(s.parse().unwrap_or(0))
        + Duration::from_micros(us.parse().unwrap_or(0))
}

/// Which capture the counters come from: keepalived wrote `.stats` and `.json` a moment
/// apart, so their advert counts can differ.
#[derive(Clone, Copy)]
enum Counts {
    Stats,
    Json,
}

/// The captured counters of `name`, as baton's.
fn stats(name: &str, from: Counts) -> Stats {
    let c = match from {
        Counts::Stats => exporter::parse_stats(&dump::fixture("keepalived.stats"))
            .unwrap_or_default()
            .remove(name),
        Counts::Json => exporter::parse_json(&dump::fixture("keepalived.json"))
            .unwrap_or_default()
            .into_iter()
            .find(|v| v.data.iname == name)
            .map(|v| v.stats),
    }
    .unwrap_or_default();
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Stats {
        adverts_received: n(c.advert_rcvd),
        adverts_sent: n(c.advert_sent),
        became_master: n(c.become_master),
        released_master: n(c.release_master),
        length_errors: n(c.packet_len_err),
        ttl_errors: n(c.ip_ttl_err),
        type_errors: n(c.invalid_type_rcvd),
        interval_errors: n(c.advert_interval_err),
        address_list_errors: n(c.addr_list_err),
        auth_errors: n(c.auth_failure),
        priority_zero_received: n(c.pri_zero_rcvd),
        priority_zero_sent: n(c.pri_zero_sent),
        ..Stats::default()
    }
}

fn hook(argv: &[&str]) -> Option<Hook> {
    Some(Hook {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        owner: None,
    })
}

fn instance(name: &str, from: Counts) -> InstanceView {
    let block = format!("VRRP Instance = {name}");
    let next = captured(&block, "Read timeout");
    InstanceView {
        name: name.into(),
        version: 2,
        state: State::Master,
        master: None,
        master_advert_interval: Duration::from_secs(1),
        config_faults: 0,
        track_faults: 0,
        scripts_init: 0,
        last_transition: time(&captured(&block, "Last transition")),
        next_timer: (next != "DISABLED").then(|| time(&next)),
        master_down_timer: Duration::from_micros(
            captured(&block, "Master down timer")
                .trim_end_matches(" usecs")
                .parse()
                .unwrap_or(0),
        ),
        interface: "eth0".into(),
        source: Some(ip(1)),
        source_configured: false,
        mcast_group: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        unicast_peers: Vec::new(),
        check_unicast_src: false,
        old_unicast_checksum: false,
        garp: Garp {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: Duration::ZERO,
            refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
        },
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        skip_check_adv_addr: false,
        dont_track_primary: false,
        vrid: 0,
        priority: 0,
        effective_priority: 0,
        advert_interval: Duration::from_secs(1),
        preempt: true,
        preempt_delay: Duration::ZERO,
        auth: AuthView::None,
        virtual_addresses: Vec::new(),
        excluded_addresses: Vec::new(),
        addresses_set: false,
        tracked_interfaces: Vec::new(),
        tracked_scripts: Vec::new(),
        notify: Notify::default(),
        notify_priority_changes: false,
        vmac: None,
        stats: stats(name, from),
    }
}

/// node-a.conf in the state of the capture, with keepalived's values where baton's differ
/// (tests/interop_dump.rs lists those differences for the real daemon).
fn captured_view(from: Counts) -> DumpView {
    let master = InstanceView {
        vrid: 61,
        priority: 150,
        effective_priority: 160,
        addresses_set: true,
        auth: AuthView::Pass("s3cret".into()),
        virtual_addresses: vec![vip(100, None, None), vip(101, Some("eth0:1"), Some("eth0"))],
        excluded_addresses: vec![vip(200, None, None)],
        tracked_interfaces: vec![Tracked {
            name: "tk0".into(),
            weight: 0,
            reverse: false,
        }],
        tracked_scripts: vec![
            Tracked {
                name: "chk_ok".into(),
                weight: 10,
                reverse: false,
            },
            Tracked {
                name: "chk_args".into(),
                weight: -5,
                reverse: false,
            },
        ],
        notify: Notify {
            backup: hook(&["/usr/bin/true", "backup"]),
            master: hook(&["/usr/bin/true", "master"]),
            fault: hook(&["/usr/bin/true", "fault"]),
            stop: hook(&["/usr/bin/true", "stop"]),
            generic: hook(&["/usr/bin/true"]),
            master_rx_lower_pri: hook(&["/usr/bin/true", "lower"]),
        },
        ..instance("VI_MASTER", from)
    };
    let backup = InstanceView {
        version: 3,
        state: State::Backup,
        master: Some((ip(2), Some(200))),
        master_advert_interval: Duration::from_millis(500),
        source_configured: true,
        unicast_peers: vec![UnicastPeer {
            address: ip(2),
            min_ttl: None,
            max_ttl: None,
        }],
        vrid: 62,
        priority: 50,
        effective_priority: 50,
        advert_interval: Duration::from_millis(500),
        preempt: false,
        virtual_addresses: vec![vip(150, None, None)],
        ..instance("VI_BACKUP", from)
    };
    let script =
        |name: &str, argv: &[&str], timeout: u64, weight, rise, fall, tracked| ScriptView {
            name: name.into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(timeout),
            weight,
            rise,
            fall,
            good: Some(true),
            init_fail: name == "chk_args",
            owner: None,
            tracking: vec![("VI_MASTER".to_string(), tracked)],
        };
    DumpView {
        globals: Globals {
            router_id: "dump_a".into(),
            default_interface: "eth0".into(),
            script_security: true,
            script_owner: Owner { uid: 0, gid: 0 },
        },
        instances: vec![master, backup],
        scripts: vec![
            script("chk_ok", &["/usr/bin/true"], 0, 10, 1, 1, 10),
            script("chk_args", &["/usr/bin/test", "-e", "/"], 1, 0, 2, 3, -5),
        ],
    }
}

const RULES: Rules = Rules {
    omitted_sections: &["VRRP Sockpool", "Interfaces"],
    globals: Some(&[
        "Network namespace",
        "Router ID",
        "Default interface",
        "Num adverts before down",
        "Script security",
        "Default script uid:gid",
    ]),
    varying: &[("", "fd_in")],
    differences: &[],
};

#[test]
fn data_matches_keepalived_line_by_line() {
    let ours = DumpKind::Data.render(&captured_view(Counts::Stats));
    let problems = compare::compare_data(&ours, &dump::fixture("keepalived.data"), &RULES);
    assert!(
        problems.is_empty(),
        "{}\n--- rendered ---\n{ours}",
        problems.join("\n")
    );
}

#[test]
fn stats_match_keepalived_byte_for_byte() {
    let ours = DumpKind::Stats.render(&captured_view(Counts::Stats));
    assert_eq!(ours, dump::fixture("keepalived.stats"));
}

#[test]
fn json_matches_keepalived_byte_for_byte() {
    let ours = DumpKind::Json.render(&captured_view(Counts::Json));
    assert_eq!(ours, dump::fixture("keepalived.json"));
}

#[test]
fn the_exporter_reads_the_same_from_both() {
    let view = captured_view(Counts::Stats);
    let (data, stats) = (DumpKind::Data.render(&view), DumpKind::Stats.render(&view));
    let json = DumpKind::Json.render(&captured_view(Counts::Json));
    let read = |data: &str, stats: &str| -> Vec<String> {
        let vrrps = exporter::join(
            exporter::parse_data(data).expect("exporter parses .data"),
            exporter::parse_stats(stats).expect("exporter parses .stats"),
        )
        .expect("exporter joins the files");
        exporter::series(&vrrps, &exporter::parse_scripts(data), true)
    };
    let want = read(
        &dump::fixture("keepalived.data"),
        &dump::fixture("keepalived.stats"),
    );
    let got = read(&data, &stats);
    assert_eq!(got, want);
    // What the exporter exports, in words: one series per address, the states, scripts.
    for series in [
        "keepalived_vrrp_state{iname=\"VI_MASTER\",intf=\"eth0\",vrid=\"61\",ip_address=\"10.0.0.100/24\"} 2",
        "keepalived_vrrp_excluded_state{iname=\"VI_MASTER\",intf=\"eth0\",vrid=\"61\",ip_address=\"10.0.0.200/24\"} 2",
        "keepalived_vrrp_state{iname=\"VI_BACKUP\",intf=\"eth0\",vrid=\"62\",ip_address=\"10.0.0.150/24\"} 1",
        "keepalived_script_status{name=\"chk_args\"} 1",
        "keepalived_script_state{name=\"chk_ok\"} 0",
    ] {
        assert!(
            got.iter().any(|s| s == series),
            "missing {series} in {got:#?}"
        );
    }
    let from_json = exporter::parse_json(&json).expect("exporter decodes .json");
    let want_json = exporter::parse_json(&dump::fixture("keepalived.json")).expect("fixture");
    assert_eq!(from_json, want_json);
    // The text files and the JSON file tell the exporter the same (bar the advert
    // counts, taken a moment apart).
    let text = exporter::join(
        exporter::parse_data(&data).unwrap_or_default(),
        exporter::parse_stats(&stats).unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(
        exporter::series(&from_json, &[], false),
        exporter::series(&text, &[], false)
    );
}

#[test]
fn a_state_the_exporter_does_not_know_fails_its_scrape() {
    // Checks the port of the exporter's parser, not baton: STOP is not in its state list,
    // and baton shows STOP only while it shuts down.
    let mut view = captured_view(Counts::Stats);
    view.instances[0].state = State::Stop;
    let data = DumpKind::Data.render(&view);
    assert!(exporter::parse_data(&data).is_err());
}
