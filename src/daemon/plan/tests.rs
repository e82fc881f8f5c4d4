//! Tests of the plan: what the engine runs for a configuration.

use super::*;
use crate::config::{self, LoadOptions};

/// The plan of a keepalived.conf text (also used by the other daemon modules' tests).
pub(crate) fn plan(text: &str) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let loaded = config::load(&path, &LoadOptions::default()).unwrap();
    Plan::new(&loaded.config)
}

const PAIR: &str = r#"
vrrp_script chk {
    script "/bin/true"
    weight -30
}
vrrp_sync_group G {
    group {
        A
        B
    }
    track_script {
        chk
    }
}
vrrp_instance A {
    interface eth0
    virtual_router_id 1
    priority 150
    authentication {
        auth_type PASS
        auth_pass secret
    }
    track_interface { eth1 weight -10 }
    virtual_ipaddress { 10.0.0.1/24 }
}
vrrp_instance B {
    interface eth0
    dont_track_primary
    virtual_router_id 2
    version 3
    advert_int 0.05
    unicast_src_ip 10.0.0.2
    unicast_peer { 10.0.0.3 }
    old_unicast_checksum
    virtual_ipaddress { 10.0.0.9/24 }
}
"#;

#[test]
fn instances_track_their_interface_unless_told_not_to() {
    let p = plan(PAIR);
    let a = &p.instances[0];
    let keys: Vec<(&str, i32)> = a
        .tracks
        .iter()
        .map(|t| (t.key.as_str(), t.weight))
        .collect();
    assert_eq!(
        keys,
        [("iface:eth0", 0), ("iface:eth1", -10), ("script:chk", -30)],
        "own interface (weight 0 = FAULT), track_interface, and the group's script"
    );
    let b = &p.instances[1];
    assert!(
        b.tracks.iter().all(|t| t.key != "iface:eth0"),
        "dont_track_primary"
    );
    assert!(
        b.tracks.iter().any(|t| t.key == "script:chk"),
        "group tracks apply to members"
    );
    assert_eq!(
        b.watched_interfaces,
        ["eth0"],
        "still watched, to bind the socket"
    );
}

#[test]
fn protocol_settings_follow_keepalived() {
    let p = plan(PAIR);
    let a = &p.instances[0];
    assert_eq!(a.version, Version::V2);
    assert_eq!(a.advert_interval, Centis(100));
    assert_eq!(a.auth, Auth::Pass(*b"secret\0\0"));
    let b = &p.instances[1];
    assert_eq!(b.advert_interval, Centis(5));
    assert_eq!(b.auth, Auth::None);
    assert_eq!(b.destinations(), [IpAddr::from([10, 0, 0, 3])]);
}

#[test]
fn checksum_variants() {
    let p = plan(PAIR);
    let b = &p.instances[1];
    let peer = IpAddr::from([10, 0, 0, 3]);
    // keepalived's old_unicast_checksum: the multicast group stands in the
    // pseudo-header even for unicast.
    assert_eq!(b.checksum, ChecksumMode::PseudoHeader);
    assert_eq!(b.checksum_destination(peer), IpAddr::from([224, 0, 0, 18]));
    assert_eq!(
        p.instances[0].checksum_destination(peer),
        peer,
        "v2: unchanged"
    );

    let no_pseudo = plan(&format!("global_defs {{ v3_checksum_as_v2 }}\n{PAIR}"));
    assert_eq!(no_pseudo.instances[1].checksum, ChecksumMode::V2Style);
}

#[test]
fn unicast_sources_are_checked_unless_baton_conf_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, PAIR).unwrap();
    let mut config = config::load(&path, &LoadOptions::default()).unwrap().config;
    assert!(
        Plan::new(&config).instances[1].check_unicast_src,
        "baton's default: only the configured peers"
    );
    config.baton.global.unicast_accept_any_source = Some(true);
    assert!(!Plan::new(&config).instances[1].check_unicast_src);
    let explicit = plan(&PAIR.replace("old_unicast_checksum", "check_unicast_src"));
    let mut explicit_conf = config.clone();
    explicit_conf.instances[1].check_unicast_src = true;
    assert!(
        Plan::new(&explicit_conf).instances[1].check_unicast_src,
        "check_unicast_src in keepalived.conf wins"
    );
    assert!(explicit.instances[1].check_unicast_src);
}

#[test]
fn shared_digest_ignores_what_differs_between_nodes() {
    let a = plan(PAIR);
    let other_node = plan(&PAIR.replace("priority 150", "priority 100"));
    assert_eq!(a.shared_digest, other_node.shared_digest);
    let drifted = plan(&PAIR.replace("10.0.0.1/24", "10.0.0.7/24"));
    assert_ne!(a.shared_digest, drifted.shared_digest);
}
