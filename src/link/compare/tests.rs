//! The comparison's text helpers and the digest; whole configs compared are in
//! tests/link_compare.rs.

use super::*;

fn inst(name: &str) -> InstanceConfigSummary {
    InstanceConfigSummary {
        name: name.into(),
        vrid: 51,
        version: 3,
        advert_interval_ms: 1000,
        virtual_addresses: vec!["10.0.0.100/24".into()],
        virtual_routes: vec![],
        virtual_rules: vec![],
        auth: None,
        checksum_mode: CHECKSUM_RFC.into(),
        unicast_source: None,
        unicast_peers: vec![],
        sync_group: None,
        tracked: vec![],
    }
}

fn summary(instances: Vec<InstanceConfigSummary>) -> ConfigSummary {
    ConfigSummary {
        digest: digest(&instances),
        instances,
    }
}

#[test]
fn items_with_options_are_bracketed_in_a_list() {
    let items = vec![
        "10.0.0.1/24 dev eth1".to_string(),
        "10.0.0.2/24".to_string(),
    ];
    assert_eq!(list_text(&items), "[10.0.0.1/24 dev eth1] 10.0.0.2/24");
    assert_eq!(list_text(&[]), "-");
    assert_eq!(interval_text(1000), "1s");
    assert_eq!(interval_text(50), "0.05s");
}

#[test]
fn ipv6_peers_compare_as_addresses() {
    let mut a = inst("VI_6");
    a.unicast_source = Some("fd00::1".into());
    a.unicast_peers = vec!["fd00::2".into()];
    let mut b = inst("VI_6");
    b.unicast_source = Some("fd00:0:0::2".into());
    b.unicast_peers = vec!["fd00:0::1".into()];
    assert_eq!(compare(&summary(vec![a]), &summary(vec![b])), vec![]);
}

#[test]
fn a_unicast_side_against_a_multicast_side_is_a_difference() {
    let mut a = inst("VI_1");
    a.unicast_peers = vec!["10.0.0.2".into()];
    let d = compare(&summary(vec![a]), &summary(vec![inst("VI_1")]));
    assert_eq!(
        d,
        vec![Difference {
            instance: "VI_1".into(),
            field: "unicast_peer".into(),
            ours: "unicast_peer 10.0.0.2".into(),
            theirs: "multicast".into(),
        }]
    );
}

#[test]
fn the_digest_follows_the_content_and_a_filled_source() {
    let a = summary(vec![inst("VI_1")]);
    assert_eq!(a.digest.len(), 16);
    assert_eq!(a.digest, summary(vec![inst("VI_1")]).digest);
    let mut v = inst("VI_1");
    v.vrid = 52;
    assert_ne!(a.digest, summary(vec![v]).digest);
    let mut filled = a.clone();
    fill_unicast_sources(&mut filled, |_| "10.0.0.1".parse().ok());
    assert_eq!(
        filled.instances[0].unicast_source.as_deref(),
        Some("10.0.0.1")
    );
    assert_ne!(filled.digest, a.digest);
}

#[test]
fn no_peer_is_exit_3_and_says_so() {
    let r = against_peers(&Config::default(), &[]);
    assert_eq!(r.status, EXIT_NO_PEER);
    assert!(r.text.contains("no linked peer"), "{}", r.text);
}
