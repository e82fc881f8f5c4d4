//! The text of `baton status`, `baton identity` and `baton peer list`, line by line as a
//! user reads it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::control::{ConfigCompare, InstanceStatus, LinkView, VrrpSeen};
use crate::link::compare::Difference;
use crate::link::message::{InstanceStatus as PeerInst, Status as PeerStatus};

fn ours(name: &str, state: &str, eff: u8, base: u8) -> InstanceStatus {
    InstanceStatus {
        name: name.into(),
        state: state.into(),
        interface: "eth0".into(),
        vrid: 51,
        version: 3,
        priority: base,
        effective_priority: eff,
        master: Some("self".into()),
        virtual_addresses: vec!["10.0.0.100/24".into()],
        in_state_ms: 3_000,
        last_reason: "x".into(),
        operator: None,
        stats: Default::default(),
        excluded_addresses: vec![],
        transitions: vec![],
    }
}

fn theirs(name: &str, state: InstanceState, eff: u8, base: u8) -> PeerInst {
    PeerInst {
        name: name.into(),
        state,
        effective_priority: eff,
        base_priority: base,
        last_reason: "x".into(),
        in_state_ms: 1_000,
        tracked: vec![],
        hook_running: None,
        last_hook: None,
    }
}

fn peer(address: &str, link: &str) -> PeerView {
    PeerView {
        address: address.into(),
        node_id: None,
        fingerprint: None,
        link: link.into(),
        link_since_ms_ago: None,
        rtt_us: None,
        last_heard_ms_ago: None,
        status: None,
        config: None,
        vrrp: vec![],
        refused: BTreeMap::new(),
    }
}

fn node(link: LinkView) -> Status {
    Status {
        router_id: "lb1".into(),
        config_file: PathBuf::from("/etc/keepalived/keepalived.conf"),
        config_digest: "abc".into(),
        pid: 42,
        uptime_ms: 5_000,
        instances: vec![
            ours("VI_1", "MASTER", 150, 150),
            ours("VI_2", "BACKUP", 90, 100),
        ],
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

const FP_A: &str = "9C:13:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:8D";
const FP_B: &str = "01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20";

/// The two-peer status the issue describes: one linked baton that reports itself and
/// whose config differs, and one keepalived seen only through its adverts.
fn two_peers() -> Status {
    let mut up = peer("10.0.0.2", "up");
    up.node_id = Some("5e3a9c0d11f2b477".into());
    up.fingerprint = Some(FP_B.into());
    up.link_since_ms_ago = Some(123_000);
    up.rtt_us = Some(420);
    up.last_heard_ms_ago = Some(300);
    up.status = Some(PeerStatus {
        baton_version: "0.1.0".into(),
        uptime_ms: 600_000,
        instances: vec![
            theirs("VI_1", InstanceState::Backup, 100, 100),
            theirs("VI_2", InstanceState::Master, 100, 100),
        ],
    });
    up.config = Some(ConfigCompare {
        matches: false,
        differences: vec![Difference {
            instance: "VI_1".into(),
            field: "virtual_addresses".into(),
            ours: "10.0.0.100/24".into(),
            theirs: "10.0.0.101/24".into(),
        }],
    });
    up.refused.insert("oversized".into(), 2);
    up.refused.insert("garbage".into(), 0);
    let mut kad = peer("10.0.0.3", "vrrp only");
    kad.last_heard_ms_ago = Some(1_000);
    kad.vrrp = vec![VrrpSeen {
        instance: "VI_1".into(),
        vrid: 51,
        priority: 50,
        last_advert_ms_ago: 1_000,
    }];
    node(LinkView {
        fingerprint: FP_A.into(),
        node_id: "0a1b2c3d4e5f6071".into(),
        listen: vec!["10.0.0.1:7411".into()],
        peers: vec![up, kad],
        refused: BTreeMap::from([("not_a_peer".to_string(), 3)]),
    })
}

/// The lines after the instance table (the header line and the instances are the same
/// as without a link, checked below).
fn link_part(text: &str) -> Vec<&str> {
    text.lines().skip(4).collect()
}

#[test]
fn both_peers_show_beside_this_node() {
    let text = render(&two_peers());
    assert_eq!(
        link_part(&text),
        vec![
            format!("link: node 0a1b2c3d4e5f6071  listen 10.0.0.1:7411  SHA256 {FP_A}").as_str(),
            "PEER      NODE              LINK         RTT    LAST HEARD",
            "10.0.0.2  5e3a9c0d11f2b477  up for 2m3s  420us  300ms ago",
            "10.0.0.3  -                 VRRP only    -      1.0s ago",
            "INSTANCE  THIS NODE      10.0.0.2    10.0.0.3",
            "VI_1      MASTER 150     BACKUP 100  advert prio 50 (1.0s ago)",
            "VI_2      BACKUP 90/100  MASTER 100  -",
            "config: differs from peer 10.0.0.2:",
            "  VI_1 virtual_addresses: ours 10.0.0.100/24, peer 10.0.0.101/24",
            "config: not compared with peer 10.0.0.3 (VRRP only: no link)",
            "refused from peer 10.0.0.2: oversized 2",
            "refused from addresses that are not peers: not_a_peer 3",
        ],
        "{text}"
    );
}

#[test]
fn a_node_without_link_or_peers_reads_as_before() {
    let text = render(&node(LinkView::default()));
    assert_eq!(
        text,
        "baton pid 42 up 5.0s  router_id lb1  config /etc/keepalived/keepalived.conf (digest abc)\n\
     INSTANCE         STATE   INTERFACE  VRID  V      PRIO MASTER                SINCE  VIPS\n\
     VI_1             MASTER  eth0         51  3       150 self                   3.0s  10.0.0.100/24\n\
     VI_2             BACKUP  eth0         51  3    90/100 self                   3.0s  10.0.0.100/24\n"
    );
    // The first lines are the same with peers.
    let with_peers = render(&two_peers());
    assert!(with_peers.starts_with(&text), "{with_peers}");
}

#[test]
fn a_matching_config_and_link_states_read_plainly() {
    let mut up = peer("10.0.0.2", "up");
    up.config = Some(ConfigCompare {
        matches: true,
        differences: vec![],
    });
    let mut down = peer("10.0.0.4", "down");
    down.link_since_ms_ago = Some(12_000);
    let mut revoked = peer("10.0.0.5", "down");
    revoked.config = Some(ConfigCompare {
        matches: true,
        differences: vec![],
    });
    let text = render(&node(LinkView {
        fingerprint: FP_A.into(),
        peers: vec![up, down, revoked],
        ..LinkView::default()
    }));
    let lines = link_part(&text);
    assert_eq!(lines[0], format!("link: node -  listen -  SHA256 {FP_A}"));
    assert!(
        lines.contains(&"10.0.0.4  -     down since 12.0s ago  -    -"),
        "{text}"
    );
    assert!(lines.contains(&"config: match (peer 10.0.0.2)"), "{text}");
    assert!(
        lines.contains(&"config: match (peer 10.0.0.5, when last linked)"),
        "{text}"
    );
    assert!(
        lines.contains(&"config: not compared with peer 10.0.0.4 yet (down since 12.0s ago)"),
        "{text}"
    );
    // No peer reports anything: no side-by-side rows of dashes.
    assert!(!text.contains("THIS NODE"), "{text}");
}

/// A pair without a link block: the other node shows only as its adverts tell.
#[test]
fn without_a_link_the_master_shows_as_its_adverts_tell() {
    let mut master = peer("10.0.0.1", "vrrp only");
    master.vrrp = vec![VrrpSeen {
        instance: "VI_1".into(),
        vrid: 51,
        priority: 200,
        last_advert_ms_ago: 400,
    }];
    let text = render(&node(LinkView {
        peers: vec![master],
        ..LinkView::default()
    }));
    assert_eq!(
        link_part(&text),
        vec![
            "link: none (no link block in baton's file); peers as their adverts show them",
            "PEER      NODE  LINK       RTT  LAST HEARD",
            "10.0.0.1  -     VRRP only  -    400ms ago",
            "INSTANCE  THIS NODE      10.0.0.1",
            "VI_1      MASTER 150     advert prio 200 (400ms ago)",
            "VI_2      BACKUP 90/100  -",
        ],
        "{text}"
    );
}

#[test]
fn pending_trust_says_who_must_approve_what() {
    let mut ours_pending = peer("10.0.0.2", "pending trust (ours)");
    ours_pending.fingerprint = Some(FP_B.into());
    let theirs_pending = peer("10.0.0.3", "pending trust (theirs)");
    let text = render(&node(LinkView {
        fingerprint: FP_A.into(),
        peers: vec![ours_pending, theirs_pending],
        ..LinkView::default()
    }));
    let lines = link_part(&text);
    assert!(
    lines.contains(
        &format!(
            "to trust peer 10.0.0.2: compare with `baton identity` there, then `baton peer approve {FP_B}`"
        )
        .as_str()
    ),
    "{text}"
);
    assert!(
        lines.contains(
            &format!(
                "peer 10.0.0.3 has not approved this node yet: there, `baton peer approve {FP_A}`"
            )
            .as_str()
        ),
        "{text}"
    );
}

#[test]
fn identity_puts_the_fingerprint_first() {
    let text = render_identity(&IdentityView {
        fingerprint: FP_A.into(),
        node_id: "0a1b2c3d4e5f6071".into(),
        state_dir: "/var/lib/baton".into(),
        listen: vec![],
    });
    assert_eq!(
        text,
        format!(
            "SHA256 {FP_A}\nnode id    0a1b2c3d4e5f6071\nstate dir  /var/lib/baton\nlisten     -\n"
        )
    );
}

#[test]
fn peer_list_shows_whole_fingerprints() {
    let text = render_peer_list(&[
        PeerListEntry {
            fingerprint: FP_B.into(),
            trust: "approved".into(),
            node_id: Some("5e3a9c0d11f2b477".into()),
            address: Some("10.0.0.2".into()),
            last_seen_ms_ago: Some(300),
            approved_at: Some("2026-12-01T23:00:00Z".into()),
            linked: true,
        },
        PeerListEntry {
            fingerprint: FP_A.into(),
            trust: "pending".into(),
            node_id: None,
            address: Some("10.0.0.9".into()),
            last_seen_ms_ago: Some(61_000),
            approved_at: None,
            linked: false,
        },
    ]);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec![
            "TRUST     NODE              ADDRESS   LAST SEEN  LINKED  FINGERPRINT".to_string(),
            format!("approved  5e3a9c0d11f2b477  10.0.0.2  300ms ago  yes     {FP_B}"),
            format!("pending   -                 10.0.0.9  1m1s ago   no      {FP_A}"),
        ],
        "{text}"
    );
    assert!(render_peer_list(&[]).starts_with("no peers"));
}

#[test]
fn unknown_vrids_are_listed_per_interface() {
    let u = |ifname: &str, family: &str, vrid, count| UnknownVridStatus {
        interface: ifname.into(),
        family: family.into(),
        vrid,
        count,
        last_source: "10.0.0.9".into(),
        last_seen_ms_ago: 2_000,
    };
    let mut out = String::new();
    render_unknown_vrids(
        &mut out,
        &[
            u("eth0", "IPv4", 7, 1),
            u("eth0", "IPv6", 77, 3),
            u("eth1", "IPv4", 9, 2),
        ],
    );
    assert_eq!(
        out,
        "unknown VRIDs on eth0: 7 (1 advert, last from 10.0.0.9, 2.0s ago), 77/IPv6 (3 adverts, last from 10.0.0.9, 2.0s ago)\n\
         unknown VRIDs on eth1: 9 (2 adverts, last from 10.0.0.9, 2.0s ago)\n"
    );
}

#[test]
fn human_durations() {
    assert_eq!(human_ms(250), "250ms");
    assert_eq!(human_ms(1_500), "1.5s");
    assert_eq!(human_ms(61_000), "1m1s");
    assert_eq!(human_ms(3_720_000), "1h2m");
}

#[test]
fn a_held_handover_says_what_it_waits_for_and_how_long() {
    let mut s = node(LinkView::default());
    s.handover = vec![
        HandoverView {
            target: "VI_1".into(),
            master: true,
            serving: false,
            holding_ms: Some(420),
            waiting_for: Some("waiting for the peer to release it".into()),
            at_most_ms: Some(9_580),
            peer_waiting_ms: None,
        },
        HandoverView {
            target: "VI_2".into(),
            master: false,
            serving: true,
            holding_ms: None,
            waiting_for: None,
            at_most_ms: None,
            peer_waiting_ms: Some(1_200),
        },
        // Nothing held and nobody waiting: no line.
        HandoverView {
            target: "VI_3".into(),
            master: true,
            serving: true,
            holding_ms: None,
            waiting_for: None,
            at_most_ms: None,
            peer_waiting_ms: None,
        },
    ];
    let text = render(&s);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("handover")).collect();
    assert_eq!(
        lines,
        [
            "handover VI_1: MASTER hooks held 420ms: waiting for the peer to release it; at most 9.6s more",
            "handover VI_2: the peer holds its MASTER hooks for this node's release since 1.2s (this node's service is stopping)",
        ]
    );
}

#[test]
fn the_arbiter_row_names_endpoint_leader_token_and_lease() {
    let mut s = node(LinkView::default());
    s.arbiter = vec![crate::control::ArbiterView {
        target: "VI_1".into(),
        mode: "vrrp".into(),
        etcd_down: "stop".into(),
        endpoint: "http://10.0.9.1:2379".into(),
        healthy: true,
        serving: true,
        token: Some(42),
        leader: Some("lb1".into()),
        leader_token: Some(42),
        lease_ttl_ms: Some(5_000),
        lease_left_ms: Some(3_400),
        phase: "leader (token 42)".into(),
    }];
    let text = render(&s);
    let line = text
        .lines()
        .find(|l| l.starts_with("arbiter"))
        .expect("an arbiter line");
    assert_eq!(
        line,
        "arbiter VI_1 (etcd http://10.0.9.1:2379, mode vrrp, etcd_down stop): leader (token 42); \
         leader lb1 (token 42); lease safe for 3.4s of 5.0s"
    );
    // Cut off: no lease to count down, and the phase says why.
    s.arbiter[0].lease_left_ms = None;
    s.arbiter[0].phase = "out of touch with etcd: lease past its safe bound".into();
    let text = render(&s);
    assert!(
        text.contains(
            "out of touch with etcd: lease past its safe bound; leader lb1 (token 42); no lease"
        ),
        "{text}"
    );
}
