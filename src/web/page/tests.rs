//! The page rendered from hand-built snapshots: each section shows its values, every
//! string from the status is escaped, and odd states (no peer, a peer without a report,
//! a hostile peer) still render.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::control::{
    ConfigCompare, GroupStatus, HandoverView, HookCount, HookRunView, InstanceStatus, LinkView,
    PeerView, ScriptView, TrackStatusView, TransitionView, UnknownVridStatus, VrrpSeen,
};
use crate::link::compare::Difference;
use crate::link::message::{
    HookResult, InstanceState, InstanceStatus as PeerInst, Status as PeerStatus, TrackedState,
};
use crate::sync::DirStatus;

/// 2026-11-22 14:03:07 UTC.
const AT: u64 = 1_795_356_187_000;

fn instance(state: &str, eff: u8, base: u8, master: Option<&str>) -> InstanceStatus {
    InstanceStatus {
        name: "VI_1".into(),
        state: state.into(),
        interface: "eth0".into(),
        vrid: 51,
        version: 3,
        priority: base,
        effective_priority: eff,
        master: master.map(str::to_string),
        virtual_addresses: vec!["10.0.0.100/24".into()],
        in_state_ms: 3_200,
        last_reason: "master down timer expired".into(),
        operator: None,
        stats: Default::default(),
        excluded_addresses: vec![],
        transitions: vec![],
    }
}

fn peer_inst(state: InstanceState, eff: u8, base: u8) -> PeerInst {
    PeerInst {
        name: "VI_1".into(),
        state,
        effective_priority: eff,
        base_priority: base,
        last_reason: "higher priority advert".into(),
        in_state_ms: 3_100,
        tracked: vec![TrackedState {
            key: "script:chk_svc".into(),
            state: "down".into(),
        }],
        hook_running: None,
        last_hook: Some(HookResult {
            hook: "notify_backup".into(),
            result: "exit 0".into(),
            ago_ms: 3_000,
        }),
    }
}

fn peer(address: &str, link: &str) -> PeerView {
    PeerView {
        address: address.into(),
        node_id: None,
        fingerprint: None,
        link: link.into(),
        link_since_ms_ago: Some(60_000),
        rtt_us: None,
        last_heard_ms_ago: None,
        status: None,
        config: None,
        vrrp: vec![],
        refused: BTreeMap::new(),
    }
}

fn status(instances: Vec<InstanceStatus>, link: LinkView) -> Status {
    Status {
        router_id: "a".into(),
        config_file: PathBuf::from("/etc/keepalived/keepalived.conf"),
        config_digest: "0123abcd".into(),
        pid: 42,
        uptime_ms: 125_000,
        instances,
        groups: vec![],
        tracks: vec![],
        unknown_vrids: vec![],
        link,
        handover: vec![],
        sync: vec![],
        scripts: vec![],
        hooks: vec![],
        hook_counts: vec![],
        arbiter: vec![],
    }
}

/// Node a, MASTER after b failed its check; b linked, BACKUP, reporting itself.
fn linked_pair() -> Status {
    let mut a = instance("MASTER", 150, 150, Some("self"));
    a.transitions = vec![
        TransitionView {
            from: "BACKUP".into(),
            to: "MASTER".into(),
            reason: "higher priority than the master's advert".into(),
            priority: 150,
            at_unix_ms: AT,
            ago_ms: 3_200,
        },
        TransitionView {
            from: "INIT".into(),
            to: "BACKUP".into(),
            reason: "startup".into(),
            priority: 150,
            at_unix_ms: AT - 10_000,
            ago_ms: 13_200,
        },
    ];
    let mut b = peer("10.0.0.2", "up");
    b.node_id = Some("b".into());
    b.fingerprint = Some("AB:CD".into());
    b.rtt_us = Some(420);
    b.last_heard_ms_ago = Some(150);
    b.status = Some(PeerStatus {
        baton_version: "0.1.0".into(),
        uptime_ms: 60_000,
        instances: vec![peer_inst(InstanceState::Backup, 90, 100)],
    });
    b.config = Some(ConfigCompare {
        matches: true,
        differences: vec![],
    });
    let link = LinkView {
        fingerprint: "12:34".into(),
        node_id: "a".into(),
        listen: vec!["10.0.0.1:7411".into()],
        peers: vec![b],
        refused: BTreeMap::new(),
    };
    let mut st = status(vec![a], link);
    st.tracks = vec![TrackStatusView {
        key: "script:chk_svc".into(),
        status: "up".into(),
    }];
    st.scripts = vec![ScriptView {
        name: "chk_svc".into(),
        status: "up".into(),
        running: false,
        disabled: None,
        runs: 40,
        last_result: Some("exit 0".into()),
        last_duration_ms: Some(4),
        seconds: 0.2,
        consecutive: 40,
    }];
    st.hooks = vec![HookRunView {
        target: "VI_1".into(),
        hook: "notify_master".into(),
        argv: vec!["/etc/keepalived/master.sh".into()],
        result: "exit 0".into(),
        outcome: "ok".into(),
        duration_ms: 310,
        at_unix_ms: AT + 300,
        ago_ms: 2_900,
    }];
    st.hook_counts = vec![HookCount {
        hook: "notify_master".into(),
        outcome: "ok".into(),
        runs: 1,
        seconds: 0.31,
    }];
    st.handover = vec![HandoverView {
        target: "VI_1".into(),
        master: true,
        serving: true,
        holding_ms: None,
        waiting_for: None,
        at_most_ms: None,
        peer_waiting_ms: None,
    }];
    st
}

/// The text between `<header>` and `</header>`.
fn headline(page: &str) -> &str {
    let from = page.find("<header>").expect("a header");
    let to = page.find("</header>").expect("a header's end");
    &page[from..to]
}

#[test]
fn escape_makes_hostile_text_inert() {
    assert_eq!(
        escape("<script>alert('x')</script>"),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    );
    assert_eq!(escape("a & b \"c\""), "a &amp; b &quot;c&quot;");
    assert_eq!(escape("&amp;"), "&amp;amp;");
    assert_eq!(escape("bell\u{7} nul\0 tab\t"), "bell? nul? tab\t");
    assert_eq!(escape("VI_1 é ✓"), "VI_1 é ✓");
    assert_eq!(escape(""), "");
}

#[test]
fn the_headline_shows_this_node_serving_and_the_peer_standing_by() {
    let page = render(&linked_pair());
    let head = headline(&page);
    assert!(head.contains("This node"), "{head}");
    assert!(
        head.contains("<strong class=\"role\">Serving</strong>"),
        "{head}"
    );
    assert!(
        head.contains("Peer node <span class=\"who\">b (10.0.0.2)</span>"),
        "{head}"
    );
    assert!(
        head.contains("<strong class=\"role\">Standby</strong>"),
        "{head}"
    );
    assert!(head.contains("MASTER: VI_1"), "{head}");
    assert!(head.contains("BACKUP: VI_1 · link up for 1m0s"), "{head}");
    assert!(head.contains("Peer config"), "{head}");
    assert!(
        head.contains("<strong class=\"role\">Match</strong>"),
        "{head}"
    );
    assert!(page.contains("<title>baton a: Serving</title>"));
}

#[test]
fn every_section_shows_its_values() {
    let page = render(&linked_pair());
    for want in [
        // instances, side by side and in detail
        "<th>Peer b (10.0.0.2)</th>",
        "<span class=\"st master\">MASTER</span> <span class=\"prio\">150</span>",
        "<span class=\"st backup\">BACKUP</span> <span class=\"prio\">90/100</span>",
        "eth0, VRID 51, VRRPv3",
        "<dt>master</dt><dd>this node</dd>",
        "150 (base 150)",
        "MASTER for 3.2s",
        "master down timer expired",
        "10.0.0.100/24 (held here)",
        // addresses
        "<td><code>10.0.0.100/24</code></td><td>VI_1</td><td>this node (a)</td>",
        // tracked
        "<code>script:chk_svc</code> up",
        "script chk_svc",
        "up (40 runs in a row)",
        "exit 0 in 4ms",
        // link and the peer's own report
        "SHA256 12:34",
        "10.0.0.1:7411",
        "up for 1m0s",
        "420us",
        "150ms ago",
        "SHA256 AB:CD",
        "0.1.0, up 1m0s",
        "90/100 (base 100, \u{2212}10 from tracked objects)",
        "higher priority advert",
        "<span class=\"tag bad\">script:chk_svc down</span>",
        "notify_backup <span class=\"res ok\">exit 0</span>, 3.0s ago",
        "config: match",
        // handover
        "this node is MASTER and serving",
        // timeline, newest first
        "14:03:07 UTC <small>(3.2s ago)</small>",
        "higher priority than the master&#39;s advert",
        // hooks
        "<b>notify_master</b> VI_1 <span class=\"res ok\">exit 0</span> after 310ms",
        "/etc/keepalived/master.sh",
        "notify_master ok 1",
        // footer
        "router_id a",
        "/etc/keepalived/keepalived.conf",
        "<meta http-equiv=\"refresh\" content=\"2\">",
    ] {
        assert!(page.contains(want), "missing {want:?} in\n{page}");
    }
    let newest = page.find("BACKUP</span> \u{2192} <span class=\"st master\">");
    let oldest = page.find("INIT</span> \u{2192} ");
    assert!(newest < oldest, "timeline is not newest first");
}

#[test]
fn the_page_refers_to_nothing_outside_this_node() {
    let page = render(&linked_pair());
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(!page.contains("<script"));
    assert!(!page.contains("@import") && !page.contains("url("));
    assert!(page.contains("name=\"viewport\""));
}

#[test]
fn hostile_strings_from_the_status_and_the_peer_are_escaped() {
    let evil = "<script>alert(\"x\")</script>&'";
    let mut st = linked_pair();
    st.router_id = evil.into();
    st.instances[0].name = evil.into();
    st.instances[0].last_reason = evil.into();
    st.instances[0].state = evil.into();
    st.instances[0].virtual_addresses = vec![evil.into()];
    st.instances[0].transitions[0].reason = evil.into();
    st.instances[0].transitions[0].to = evil.into();
    st.hooks[0].argv = vec![evil.into()];
    st.hooks[0].result = evil.into();
    st.tracks[0].key = evil.into();
    st.groups = vec![GroupStatus {
        name: evil.into(),
        state: evil.into(),
        members: vec![evil.into()],
    }];
    let p = &mut st.link.peers[0];
    p.node_id = Some(evil.into());
    p.fingerprint = Some(evil.into());
    p.config = Some(ConfigCompare {
        matches: false,
        differences: vec![Difference {
            instance: evil.into(),
            field: evil.into(),
            ours: evil.into(),
            theirs: evil.into(),
        }],
    });
    if let Some(ps) = &mut p.status {
        ps.baton_version = evil.into();
        ps.instances[0].name = evil.into();
        ps.instances[0].last_reason = evil.into();
        ps.instances[0].tracked[0].key = evil.into();
        ps.instances[0].hook_running = Some(evil.into());
    }
    st.sync = vec![DirStatus {
        dir: evil.into(),
        target: evil.into(),
        role: evil.into(),
        last_error: Some(evil.into()),
        ..DirStatus::default()
    }];
    let page = render(&st);
    assert!(!page.contains("<script"), "{page}");
    assert!(!page.contains("alert(\""), "{page}");
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"));
    // An unknown state gets the neutral badge, its text escaped.
    assert!(page.contains("<span class=\"st unknown\">&lt;script&gt;"));
    assert!(page.contains("Differs (1 field)"));
}

#[test]
fn a_node_alone_says_it_has_no_peer() {
    let st = status(
        vec![instance("MASTER", 100, 100, Some("self"))],
        LinkView::default(),
    );
    let page = render(&st);
    let head = headline(&page);
    assert!(head.contains("Serving"), "{head}");
    assert!(
        head.contains("<strong class=\"role\">None</strong>"),
        "{head}"
    );
    assert!(head.contains("no link block in baton&#39;s file"), "{head}");
    assert!(
        !page.contains("id=\"link\""),
        "a link section without a link"
    );
    assert!(!head.contains("Peer config"));
}

#[test]
fn a_peer_without_a_report_renders_by_its_link_or_its_adverts() {
    // The link is down: no report; our instance is MASTER.
    let mut st = linked_pair();
    let p = &mut st.link.peers[0];
    p.link = "down".into();
    p.status = None;
    p.rtt_us = None;
    let page = render(&st);
    let head = headline(&page);
    assert!(head.contains("Unreachable"), "{head}");
    assert!(head.contains("link down since 1m0s ago"), "{head}");
    assert!(page.contains("config: match, when last linked"));
    assert!(page.contains("no report"));

    // A keepalived peer that is master: known from its adverts only.
    let mut me = instance("BACKUP", 100, 100, Some("10.0.0.9"));
    me.last_reason = "higher priority advert".into();
    let mut k = peer("10.0.0.9", "vrrp only");
    k.vrrp = vec![VrrpSeen {
        instance: "VI_1".into(),
        vrid: 51,
        priority: 150,
        last_advert_ms_ago: 80,
    }];
    let st = status(
        vec![me],
        LinkView {
            peers: vec![k],
            ..LinkView::default()
        },
    );
    let page = render(&st);
    let head = headline(&page);
    assert!(head.contains("Standby"), "{head}");
    assert!(head.contains("Serving"), "{head}");
    assert!(
        head.contains("MASTER: VI_1 (as its adverts show)"),
        "{head}"
    );
    assert!(page.contains("advert prio 150 (80ms ago)"));
    assert!(page.contains("<td>peer 10.0.0.9</td>"), "{page}");
    assert!(page.contains("No link (no link block in baton's file)"));
}

#[test]
fn pending_trust_says_what_to_approve_where() {
    let mut st = linked_pair();
    let p = &mut st.link.peers[0];
    p.link = "pending trust (both)".into();
    p.status = None;
    p.config = None;
    let page = render(&st);
    assert!(headline(&page).contains("Not trusted yet"));
    assert!(page.contains("baton peer approve AB:CD</code> here"));
    assert!(page.contains("there, <code>baton peer approve 12:34</code>"));
    assert!(page.contains("config: not compared yet (pending trust (both))"));
}

#[test]
fn roles_from_states() {
    let r = |list: &[(&str, &str)], holding| headline::role_of(list, holding).word;
    assert_eq!(r(&[("A", "MASTER"), ("B", "MASTER")], false), "Serving");
    assert_eq!(
        r(&[("A", "MASTER"), ("B", "BACKUP")], false),
        "Serving 1 of 2 instances"
    );
    assert_eq!(r(&[("A", "MASTER")], true), "Taking over");
    assert_eq!(r(&[("A", "FAULT"), ("B", "BACKUP")], false), "Fault");
    assert_eq!(r(&[("A", "BACKUP")], false), "Standby");
    assert_eq!(r(&[("A", "INIT")], false), "Starting");
    assert_eq!(r(&[("A", "STOP")], false), "Stopped");
    assert_eq!(r(&[], false), "Idle");
    assert_eq!(
        headline::role_of(&[("A", "MASTER"), ("B", "BACKUP"), ("C", "MASTER")], false).detail,
        "MASTER: A, C · BACKUP: B"
    );
}

#[test]
fn a_held_handover_and_a_sync_and_faults_read_as_baton_status_words_them() {
    let mut st = linked_pair();
    st.instances[0].effective_priority = 0;
    st.instances[0].state = "FAULT".into();
    st.instances[0].operator = Some("demoted".into());
    st.instances[0].stats.ttl_errors = 3;
    st.instances[0].stats.priority_zero_received = 1;
    st.handover = vec![HandoverView {
        target: "VI_1".into(),
        master: true,
        serving: false,
        holding_ms: Some(420),
        waiting_for: Some("waiting for peer 10.0.0.2 to stop its service".into()),
        at_most_ms: Some(9_600),
        peer_waiting_ms: None,
    }];
    st.sync = vec![DirStatus {
        dir: "/opt/neuronex/data".into(),
        target: "instance VI_1".into(),
        role: "source".into(),
        generation: Some(12),
        files: 10_000,
        bytes: 200 << 20,
        peer: Some("10.0.0.2".into()),
        peer_generation: Some(12),
        in_step: true,
        last_sync_ms_ago: Some(3_200),
        ..DirStatus::default()
    }];
    st.unknown_vrids = vec![UnknownVridStatus {
        interface: "eth0".into(),
        family: "IPv4".into(),
        vrid: 77,
        count: 3,
        last_source: "10.0.0.9".into(),
        last_seen_ms_ago: 2_000,
    }];
    let page = render(&st);
    for want in [
        "MASTER hooks held 420ms: waiting for peer 10.0.0.2 to stop its service; at most 9.6s more",
        "source: generation 12, 10000 files, 200.0 MiB; peer 10.0.0.2 holds 12, in step, last sync 3.2s ago",
        "0 (base 150, 0 in FAULT); demoted by an operator",
        "<dt>dropped</dt><dd>ttl 3</dd>",
        "received 0 (1 with priority 0)",
        "baton release NAME",
        "eth0 VRID 77: 3 adverts, last from 10.0.0.9, 2.0s ago",
        "<strong class=\"role\">Fault</strong>",
    ] {
        assert!(page.contains(want), "missing {want:?} in\n{page}");
    }
}

#[test]
fn clock_times_carry_the_date_only_for_another_day() {
    assert_eq!(words::clock(AT, 5_000), "14:03:07 UTC");
    assert_eq!(words::clock(AT, 86_400_000), "2026-11-22 14:03:07 UTC");
    assert_eq!(words::clock(u64::MAX, 0), "-");
}

#[test]
fn extreme_values_do_not_panic() {
    let mut st = linked_pair();
    st.uptime_ms = u64::MAX;
    st.instances[0].in_state_ms = u64::MAX;
    st.instances[0].effective_priority = 255;
    st.instances[0].priority = 0;
    st.instances[0].transitions[0].at_unix_ms = u64::MAX;
    st.instances[0].transitions[0].ago_ms = u64::MAX;
    st.hooks[0].duration_ms = u64::MAX;
    st.scripts[0].seconds = f64::NAN;
    st.scripts[0].consecutive = u32::MAX;
    if let Some(ps) = &mut st.link.peers[0].status {
        ps.instances[0].state = InstanceState::Unknown;
        ps.instances.push(peer_inst(InstanceState::Stop, 0, 255));
        ps.instances[1].name = String::new();
    }
    st.instances.push(instance("", 0, 0, None));
    let page = render(&st);
    assert!(page.ends_with("</html>\n"));
    assert!(page.contains("+255 from tracked objects"));
}

#[test]
fn the_arbiter_section_says_who_leads_and_how_long_the_lease_holds() {
    let mut st = linked_pair();
    assert!(!render(&st).contains("etcd arbiter"));
    st.arbiter = vec![crate::control::ArbiterView {
        target: "VI_1".into(),
        mode: "vrrp".into(),
        etcd_down: "stop".into(),
        endpoint: "http://10.0.9.1:2379".into(),
        healthy: false,
        serving: false,
        token: None,
        leader: Some("lb<2>".into()),
        leader_token: Some(7),
        lease_ttl_ms: Some(5_000),
        lease_left_ms: None,
        phase: "out of touch with etcd: lease past its safe bound".into(),
    }];
    let page = render(&st);
    for want in [
        "etcd arbiter",
        "<span class=\"st fault\">out of touch</span> out of touch with etcd: lease past its safe bound; leader lb&lt;2&gt; (token 7)",
        "etcd http://10.0.9.1:2379, mode vrrp, etcd_down stop",
    ] {
        assert!(page.contains(want), "missing {want:?} in\n{page}");
    }
}
