//! `released_master`: every way out of MASTER counts once, and nothing else does.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::wire::{Advert, Auth, Centis, ChecksumMode, Version};

const V0: InstanceId = InstanceId(0);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn cfg() -> InstanceConfig {
    InstanceConfig {
        name: "VI_1".into(),
        version: Version::V3,
        vrid: 51,
        priority: 100,
        advert_interval: Centis(100),
        initial_state: InitialState::Backup,
        preempt: true,
        preempt_delay: Duration::ZERO,
        primary_address: ip(10),
        virtual_addresses: vec![ip(100)],
        auth: Auth::None,
        checksum: ChecksumMode::PseudoHeader,
        tracks: vec![TrackRef {
            key: "script:chk".into(),
            weight: 0,
            reverse: false,
        }],
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        skip_check_adv_addr: false,
        lower_prio_garp_repeat: 0,
        lower_prio_garp_delay: Duration::ZERO,
        config_fault: None,
        elected_externally: false,
    }
}

fn advert(priority: u8) -> Input {
    Input::Advert {
        from: ip(20),
        advert: Advert {
            version: Version::V3,
            vrid: 51,
            priority,
            max_advert_int: Centis(100),
            auth: Auth::None,
            addresses: vec![ip(100)],
        },
    }
}

/// Fires timers until the instance is MASTER (bounded, so a bug fails instead of hanging).
fn until_master(node: &mut Node) {
    for _ in 0..10 {
        if node.state(V0) == State::Master {
            return;
        }
        if let Some(at) = node.next_deadline() {
            node.timer(at);
        }
        while node.poll_action().is_some() {}
    }
    assert_eq!(node.state(V0), State::Master, "never became master");
}

#[test]
fn released_master_counts_each_exit_from_master() {
    let t0 = crate::test_clock::origin();
    let mut node = Node::new(vec![cfg()], vec![], t0);
    node.track(t0, "script:chk", TrackStatus::Up);
    node.handle(t0, V0, Input::Startup);
    assert_eq!(node.state(V0), State::Backup);
    assert_eq!(
        node.stats(V0).released_master,
        0,
        "BACKUP at startup is no release"
    );

    // Preempted by a higher priority.
    until_master(&mut node);
    let now = node.next_deadline().unwrap_or(t0);
    node.handle(now, V0, advert(200));
    assert_eq!(node.state(V0), State::Backup);
    assert_eq!(node.stats(V0).released_master, 1);
    assert_eq!(node.master_priority(V0), Some(200));

    // A tracked object fails while MASTER.
    until_master(&mut node);
    let now = node.next_deadline().unwrap_or(t0);
    node.track(now, "script:chk", TrackStatus::Down);
    assert_eq!(node.state(V0), State::Fault);
    assert_eq!(node.stats(V0).released_master, 2);

    // Leaving FAULT for BACKUP, and BACKUP for FAULT, release nothing.
    node.track(now, "script:chk", TrackStatus::Up);
    assert_eq!(node.state(V0), State::Backup);
    node.track(now, "script:chk", TrackStatus::Down);
    node.track(now, "script:chk", TrackStatus::Up);
    assert_eq!(node.stats(V0).released_master, 2);

    // Operator demote, then shutdown as MASTER.
    until_master(&mut node);
    let now = node.next_deadline().unwrap_or(t0);
    node.handle(now, V0, Input::Demote);
    assert_eq!(node.state(V0), State::Backup);
    assert_eq!(node.stats(V0).released_master, 3);
    node.handle(now, V0, Input::Release);
    until_master(&mut node);
    node.shutdown(now);
    assert_eq!(node.state(V0), State::Stop);
    assert_eq!(node.stats(V0).released_master, 4);
    assert_eq!(node.stats(V0).became_master, 4);
}

#[test]
fn released_master_defaults_to_zero_in_older_status_json() {
    let old = r#"{"adverts_sent":1,"adverts_received":2,"priority_zero_sent":0,
        "priority_zero_received":0,"checksum_errors":0,"ttl_errors":0,"version_errors":0,
        "vrid_errors":0,"auth_errors":0,"interval_errors":0,"address_list_errors":0,
        "length_errors":0,"type_errors":0,"source_errors":0,"became_master":1}"#;
    let s: Stats = serde_json::from_str(old).unwrap_or_default();
    assert_eq!(s.adverts_received, 2);
    assert_eq!(s.released_master, 0);
}
