//! The protocol rules, one test (or a few) per rule, driven through `proto::Node` with
//! virtual time: the test is the driver, so it is the one that reads the clock (once,
//! for a starting instant); `src/proto` never does.

#![allow(clippy::unwrap_used)] // tests: a None here is a failed test

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use baton::proto::*;
use baton::wire::{Advert, Auth, Centis, ChecksumMode, Version};

const V0: InstanceId = InstanceId(0);
const V1: InstanceId = InstanceId(1);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn vip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100))
}

fn cfg(name: &str, priority: u8) -> InstanceConfig {
    InstanceConfig {
        name: name.into(),
        version: Version::V3,
        vrid: 51,
        priority,
        advert_interval: Centis(100),
        initial_state: InitialState::Backup,
        preempt: true,
        preempt_delay: Duration::ZERO,
        primary_address: ip(10),
        virtual_addresses: vec![vip()],
        auth: Auth::None,
        checksum: ChecksumMode::PseudoHeader,
        tracks: vec![],
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        skip_check_adv_addr: false,
        lower_prio_garp_repeat: 0,
        lower_prio_garp_delay: Duration::ZERO,
        config_fault: None,
        elected_externally: false,
    }
}

fn advert(priority: u8) -> Advert {
    Advert {
        version: Version::V3,
        vrid: 51,
        priority,
        max_advert_int: Centis(100),
        auth: Auth::None,
        addresses: vec![vip()],
    }
}

fn rx(from: u8, advert: Advert) -> Input {
    Input::Advert {
        from: ip(from),
        advert,
    }
}

fn drain(node: &mut Node) -> Vec<Action> {
    std::iter::from_fn(|| node.poll_action()).collect()
}

/// A compact name for each action, to assert on order.
fn kinds(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::SendAdvert { advert, .. } => format!("send:{}", advert.priority),
            Action::AddAddresses { .. } => "add".into(),
            Action::RemoveAddresses { .. } => "remove".into(),
            Action::Announce { .. } => "announce".into(),
            Action::Transition { to, .. } => format!("to:{to:?}"),
            Action::GroupTransition { to, .. } => format!("group:{to:?}"),
            Action::UpdateAddresses { .. } => "update".into(),
            Action::Removed { .. } => "removed".into(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn started(cfgs: Vec<InstanceConfig>, groups: Vec<SyncGroupConfig>) -> (Node, Instant) {
    let t0 = Instant::now();
    let n = cfgs.len();
    let mut node = Node::new(cfgs, groups, t0);
    for i in 0..n {
        node.handle(t0, InstanceId(i), Input::Startup);
    }
    drain(&mut node);
    (node, t0)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Startup, then let the master-down timer expire: the instance is master at t0 + MDI.
fn master(c: InstanceConfig) -> (Node, Instant) {
    let (mut node, _t0) = started(vec![c], vec![]);
    let at = node.next_deadline().unwrap();
    node.timer(at);
    drain(&mut node);
    assert_eq!(node.state(V0), State::Master);
    (node, at)
}

#[test]
fn backup_takes_over_exactly_at_master_down_interval() {
    let (mut node, t0) = started(vec![cfg("a", 100)], vec![]);
    assert_eq!(node.state(V0), State::Backup);
    // 3 * 1 s + 156/256 s.
    let mdi = Duration::from_micros(3_609_375);
    assert_eq!(node.next_deadline(), Some(t0 + mdi));
    node.timer(t0 + mdi - Duration::from_micros(1));
    assert_eq!(
        node.state(V0),
        State::Backup,
        "spurious early timer is harmless"
    );
    node.handle(t0 + mdi, V0, Input::Timer);
    assert_eq!(node.state(V0), State::Master);
    assert_eq!(
        kinds(&drain(&mut node)),
        ["send:100", "add", "announce", "to:Master"]
    );
    assert_eq!(node.stats(V0).became_master, 1);
    assert_eq!(node.stats(V0).adverts_sent, 1);
    // As master the next deadline is the advert timer.
    assert_eq!(node.next_deadline(), Some(t0 + mdi + ms(1000)));
}

#[test]
fn master_sends_adverts_every_interval() {
    let (mut node, t) = master(cfg("a", 100));
    node.timer(t + ms(1000));
    node.timer(t + ms(2000));
    let sent = drain(&mut node);
    assert_eq!(kinds(&sent), ["send:100", "send:100"]);
    assert_eq!(node.next_deadline(), Some(t + ms(3000)));
}

#[test]
fn late_wake_ups_do_not_stretch_the_advert_schedule() {
    // A driver always wakes a little late; the adverts must still keep their period.
    let (mut node, t) = master(cfg("a", 100));
    for k in 1..=10u32 {
        let due = node.next_deadline().unwrap();
        assert_eq!(
            due,
            t + ms(1000) * k,
            "advert {k} is due on the original grid"
        );
        node.timer(due + ms(3));
    }
    // A whole missed interval restarts the grid from the late wake-up.
    let due = node.next_deadline().unwrap();
    node.timer(due + ms(2500));
    assert_eq!(node.next_deadline(), Some(due + ms(2500) + ms(1000)));
}

#[test]
fn v3_backup_adopts_the_masters_interval() {
    let mut c = cfg("a", 100);
    c.advert_interval = Centis(10);
    let (mut node, t0) = started(vec![c], vec![]);
    let mut a = advert(200);
    a.max_advert_int = Centis(50);
    node.handle(t0, V0, rx(20, a));
    // 3 * 500 ms + 156/256 * 500 ms = 1804.6875 ms, not the 100 ms interval configured.
    assert_eq!(
        node.next_deadline(),
        Some(t0 + Duration::from_micros(1_804_687) + Duration::from_nanos(500))
    );
    assert_eq!(node.master_address(V0), Some(ip(20)));
}

#[test]
fn v2_interval_mismatch_is_dropped_and_counted() {
    let mut c = cfg("a", 100);
    c.version = Version::V2;
    let (mut node, t0) = started(vec![c], vec![]);
    let first = node.next_deadline();
    let mut a = advert(200);
    a.version = Version::V2;
    a.max_advert_int = Centis(200);
    node.handle(t0 + ms(500), V0, rx(20, a.clone()));
    assert_eq!(node.stats(V0).interval_errors, 1);
    assert_eq!(
        node.next_deadline(),
        first,
        "a dropped advert does not reset the timer"
    );
    a.max_advert_int = Centis(100);
    node.handle(t0 + ms(500), V0, rx(20, a));
    assert_ne!(node.next_deadline(), first);
}

#[test]
fn state_master_below_255_goes_through_backup() {
    let mut c = cfg("a", 100);
    c.initial_state = InitialState::Master;
    c.preempt = false; // ignored with state MASTER, as keepalived does
    let t0 = Instant::now();
    let mut node = Node::new(vec![c], vec![], t0);
    node.handle(t0, V0, Input::Startup);
    assert_eq!(kinds(&drain(&mut node)), ["to:Backup"]);
    // A higher priority keeps it backup.
    node.handle(t0 + ms(100), V0, rx(20, advert(150)));
    node.timer(t0 + ms(3_700));
    assert_eq!(node.state(V0), State::Backup);
    // A lower-priority master is preempted when the timer runs out (nopreempt ignored).
    node.handle(t0 + ms(3_800), V0, rx(21, advert(50)));
    let at = node.next_deadline().unwrap();
    assert_eq!(
        at,
        t0 + ms(100) + Duration::from_micros(3_609_375),
        "not reset by the lower advert"
    );
    node.timer(at);
    assert_eq!(node.state(V0), State::Master);
}

#[test]
fn address_owner_becomes_master_at_once() {
    let t0 = Instant::now();
    let mut node = Node::new(vec![cfg("a", 255)], vec![], t0);
    node.handle(t0, V0, Input::Startup);
    assert_eq!(node.state(V0), State::Master);
    assert_eq!(
        kinds(&drain(&mut node)),
        ["send:255", "add", "announce", "to:Master"]
    );
}

#[test]
fn nopreempt_backup_never_takes_over_from_a_live_lower_master() {
    let mut c = cfg("a", 200);
    c.preempt = false;
    let (mut node, t0) = started(vec![c], vec![]);
    for k in 0..20 {
        let now = t0 + ms(1000 * k);
        node.handle(now, V0, rx(20, advert(100)));
        node.timer(now);
    }
    assert_eq!(node.state(V0), State::Backup);
}

#[test]
fn preempting_backup_ignores_a_lower_master() {
    let (mut node, t0) = started(vec![cfg("a", 200)], vec![]);
    let first = node.next_deadline().unwrap();
    for k in 0..3 {
        node.handle(t0 + ms(1000 * k), V0, rx(20, advert(100)));
    }
    assert_eq!(
        node.next_deadline(),
        Some(first),
        "lower adverts do not reset the timer"
    );
    node.timer(first);
    assert_eq!(node.state(V0), State::Master);
}

#[test]
fn preempt_delay_counts_from_startup() {
    let mut c = cfg("a", 200);
    c.preempt_delay = Duration::from_secs(10);
    let (mut node, t0) = started(vec![c], vec![]);
    for k in 0..10 {
        let now = t0 + ms(1000 * k);
        node.handle(now, V0, rx(20, advert(100)));
        node.timer(now);
        assert_eq!(
            node.state(V0),
            State::Backup,
            "still inside the preempt delay at {k} s"
        );
    }
    assert_eq!(node.next_deadline(), Some(t0 + ms(10_000)));
    node.timer(t0 + ms(10_000));
    assert_eq!(node.state(V0), State::Master);
    assert_eq!(node.stats(V0).became_master, 1);
}

#[test]
fn shutdown_of_a_master_releases_with_priority_zero() {
    let (mut node, t) = master(cfg("a", 100));
    node.shutdown(t);
    assert_eq!(kinds(&drain(&mut node)), ["send:0", "remove", "to:Stop"]);
    assert_eq!(node.stats(V0).priority_zero_sent, 1);
    assert_eq!(node.next_deadline(), None);
    let (mut node, t0) = started(vec![cfg("b", 100)], vec![]);
    node.shutdown(t0);
    assert_eq!(kinds(&drain(&mut node)), ["to:Stop"]);
}

#[test]
fn backup_hearing_priority_zero_waits_only_skew_time() {
    let (mut node, t0) = started(vec![cfg("a", 100)], vec![]);
    node.handle(t0 + ms(500), V0, rx(20, advert(200)));
    node.handle(t0 + ms(700), V0, rx(20, advert(0)));
    assert_eq!(node.stats(V0).priority_zero_received, 1);
    assert_eq!(
        node.next_deadline(),
        Some(t0 + ms(700) + Duration::from_micros(609_375))
    );
}

#[test]
fn master_yields_to_higher_priority() {
    let (mut node, t) = master(cfg("a", 100));
    node.handle(t, V0, rx(20, advert(101)));
    assert_eq!(node.state(V0), State::Backup);
    assert_eq!(kinds(&drain(&mut node)), ["remove", "to:Backup"]);
    assert_eq!(node.master_address(V0), Some(ip(20)));

    let mut c = cfg("a", 100);
    c.higher_prio_send_advert = true;
    let (mut node, t) = master(c);
    node.handle(t, V0, rx(20, advert(101)));
    assert_eq!(
        kinds(&drain(&mut node)),
        ["send:100", "remove", "to:Backup"]
    );
}

#[test]
fn equal_priority_is_decided_by_the_higher_primary_address() {
    // We are 10.0.0.10. 10.0.0.20 is higher: yield.
    let (mut node, t) = master(cfg("a", 100));
    node.handle(t, V0, rx(20, advert(100)));
    assert_eq!(node.state(V0), State::Backup);
    // 10.0.0.9 is lower: stay master and answer.
    let (mut node, t) = master(cfg("a", 100));
    node.handle(t, V0, rx(9, advert(100)));
    assert_eq!(node.state(V0), State::Master);
    assert_eq!(kinds(&drain(&mut node)), ["send:100"]);
    // Compared as unsigned integers: 10.0.0.200 > 10.0.0.10 although "200" < "10" as text
    // would not hold for e.g. 9 vs 10.
    let (mut node, t) = master(cfg("a", 100));
    node.handle(t, V0, rx(200, advert(100)));
    assert_eq!(node.state(V0), State::Backup);
}

#[test]
fn master_answers_a_lower_priority_at_once_unless_told_not_to() {
    let (mut node, t) = master(cfg("a", 100));
    node.handle(t + ms(300), V0, rx(20, advert(50)));
    assert_eq!(node.state(V0), State::Master);
    assert_eq!(kinds(&drain(&mut node)), ["send:100"]);

    let mut c = cfg("a", 100);
    c.lower_prio_no_advert = true;
    let (mut node, t) = master(c);
    node.handle(t + ms(300), V0, rx(20, advert(50)));
    assert_eq!(node.state(V0), State::Master);
    assert!(drain(&mut node).is_empty());
}

#[test]
fn master_hearing_priority_zero_reasserts() {
    let (mut node, t) = master(cfg("a", 100));
    node.handle(t + ms(300), V0, rx(20, advert(0)));
    assert_eq!(kinds(&drain(&mut node)), ["send:100"]);
    assert_eq!(node.state(V0), State::Master);
}

#[test]
fn auth_mismatch_is_dropped() {
    let mut c = cfg("a", 100);
    c.version = Version::V2;
    c.auth = Auth::Pass(*b"secret\0\0");
    let (mut node, t0) = started(vec![c], vec![]);
    let first = node.next_deadline();
    let mut a = advert(200);
    a.version = Version::V2;
    a.auth = Auth::Pass(*b"wrong\0\0\0");
    node.handle(t0 + ms(100), V0, rx(20, a));
    assert_eq!(node.stats(V0).auth_errors, 1);
    assert_eq!(node.next_deadline(), first);
    assert_eq!(node.master_address(V0), None);
}

#[test]
fn vrid_and_version_mismatch_are_dropped() {
    let (mut node, t0) = started(vec![cfg("a", 100)], vec![]);
    let first = node.next_deadline();
    let mut a = advert(200);
    a.vrid = 52;
    node.handle(t0 + ms(100), V0, rx(20, a));
    let mut b = advert(200);
    b.version = Version::V2;
    node.handle(t0 + ms(100), V0, rx(20, b));
    assert_eq!(node.stats(V0).vrid_errors, 1);
    assert_eq!(node.stats(V0).version_errors, 1);
    assert_eq!(node.stats(V0).adverts_received, 2);
    assert_eq!(node.next_deadline(), first);
}

#[test]
fn address_list_mismatch_is_counted_but_accepted() {
    let (mut node, t0) = started(vec![cfg("a", 100)], vec![]);
    let first = node.next_deadline();
    let mut a = advert(200);
    a.addresses = vec![ip(99)];
    node.handle(t0 + ms(100), V0, rx(20, a.clone()));
    assert_eq!(node.stats(V0).address_list_errors, 1);
    assert_ne!(node.next_deadline(), first, "the advert was still accepted");
    assert_eq!(node.master_address(V0), Some(ip(20)));
    // skip_check_adv_addr: not even compared.
    let mut c = cfg("a", 100);
    c.skip_check_adv_addr = true;
    let (mut node, t0) = started(vec![c], vec![]);
    node.handle(t0, V0, rx(20, a));
    assert_eq!(node.stats(V0).address_list_errors, 0);
}

#[test]
fn own_looped_back_advert_is_ignored() {
    let (mut node, t) = master(cfg("a", 100));
    node.handle(t, V0, rx(10, advert(100)));
    assert!(drain(&mut node).is_empty());
    assert_eq!(node.state(V0), State::Master);
}

#[test]
fn rx_errors_are_counted_each_in_its_counter() {
    let (mut node, t0) = started(vec![cfg("a", 100)], vec![]);
    let all = [
        RxError::Checksum,
        RxError::Ttl,
        RxError::Version,
        RxError::Vrid,
        RxError::Auth,
        RxError::Interval,
        RxError::AddressList,
        RxError::Length,
        RxError::Type,
        RxError::Source,
    ];
    for (n, e) in all.iter().enumerate() {
        for _ in 0..=n {
            node.handle(t0, V0, Input::RxError(*e));
        }
    }
    let s = node.stats(V0);
    let got = [
        s.checksum_errors,
        s.ttl_errors,
        s.version_errors,
        s.vrid_errors,
        s.auth_errors,
        s.interval_errors,
        s.address_list_errors,
        s.length_errors,
        s.type_errors,
        s.source_errors,
    ];
    assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
}

fn track(key: &str, weight: i32) -> TrackRef {
    TrackRef {
        key: key.into(),
        weight,
        reverse: false,
    }
}

#[test]
fn tracked_objects_change_effective_priority() {
    let mut c = cfg("a", 100);
    c.tracks = vec![track("script:chk", -30), track("file:/f", 2)];
    let (mut node, t0) = started(vec![c], vec![]);
    node.track(t0, "script:chk", TrackStatus::Down);
    assert_eq!(node.effective_priority(V0), 70);
    node.track(t0, "file:/f", TrackStatus::Value(10));
    assert_eq!(node.effective_priority(V0), 90);
    node.track(t0, "script:unknown", TrackStatus::Down);
    assert_eq!(node.effective_priority(V0), 90, "unknown keys are ignored");
    node.track(t0, "script:chk", TrackStatus::Up);
    assert_eq!(node.effective_priority(V0), 120);
    // The advert carries it.
    node.timer(node.next_deadline().unwrap());
    let sent = drain(&mut node);
    assert_eq!(kinds(&sent)[0], "send:120");
}

#[test]
fn weight_zero_failure_faults_and_recovery_returns_to_backup() {
    let mut c = cfg("a", 100);
    c.tracks = vec![track("iface:eth0", 0)];
    let (mut node, t) = master(c);
    node.track(t, "iface:eth0", TrackStatus::Down);
    assert_eq!(node.state(V0), State::Fault);
    assert_eq!(kinds(&drain(&mut node)), ["send:0", "remove", "to:Fault"]);
    assert_eq!(node.next_deadline(), None, "FAULT sends nothing");
    node.handle(t + ms(10), V0, rx(20, advert(50)));
    node.timer(t + ms(100_000));
    assert!(
        drain(&mut node).is_empty(),
        "FAULT sends nothing and claims nothing"
    );
    node.track(t + ms(100_000), "iface:eth0", TrackStatus::Up);
    assert_eq!(node.state(V0), State::Backup);
    assert_eq!(kinds(&drain(&mut node)), ["to:Backup"]);
    // File with weight 0: a non-zero value is a failure.
    let mut c = cfg("a", 100);
    c.tracks = vec![track("file:/f", 0)];
    let (mut node, t0) = started(vec![c], vec![]);
    node.track(t0, "file:/f", TrackStatus::Value(1));
    assert_eq!(node.state(V0), State::Fault);
}

#[test]
fn instance_starting_with_a_failed_object_starts_in_fault() {
    let mut c = cfg("a", 255);
    c.tracks = vec![track("iface:eth0", 0)];
    let t0 = Instant::now();
    let mut node = Node::new(vec![c], vec![], t0);
    node.track(t0, "iface:eth0", TrackStatus::Down);
    node.handle(t0, V0, Input::Startup);
    assert_eq!(node.state(V0), State::Fault);
    assert_eq!(kinds(&drain(&mut node)), ["to:Fault"]);
}

fn pair_group() -> (Vec<InstanceConfig>, Vec<SyncGroupConfig>) {
    let mut b = cfg("b", 100);
    b.vrid = 52;
    b.virtual_addresses = vec![ip(101)];
    let mut a = cfg("a", 100);
    a.tracks = vec![track("iface:eth0", 0)];
    let g = SyncGroupConfig {
        name: "g".into(),
        members: vec![V0, V1],
    };
    (vec![a, b], vec![g])
}

#[test]
fn sync_group_members_become_master_and_backup_together() {
    let (cfgs, groups) = pair_group();
    let (mut node, t0) = started(cfgs, groups);
    // Only instance 0's timer fires; instance 1 follows.
    node.handle(t0 + ms(3_700), V0, Input::Timer);
    assert_eq!(node.state(V0), State::Master);
    assert_eq!(node.state(V1), State::Master);
    let k = kinds(&drain(&mut node));
    assert_eq!(k.iter().filter(|s| *s == "to:Master").count(), 2);
    assert_eq!(k.last().map(String::as_str), Some("group:Master"));
    // Instance 1 hears a higher priority: both step down.
    let mut a = advert(200);
    a.vrid = 52;
    a.addresses = vec![ip(101)];
    node.handle(t0 + ms(3_800), V1, rx(20, a));
    assert_eq!(node.state(V0), State::Backup);
    assert_eq!(node.state(V1), State::Backup);
    let k = kinds(&drain(&mut node));
    assert_eq!(k.iter().filter(|s| *s == "to:Backup").count(), 2);
    assert_eq!(k.iter().filter(|s| s.starts_with("group:")).count(), 1);
    assert_eq!(k.last().map(String::as_str), Some("group:Backup"));
}

#[test]
fn sync_group_member_fault_faults_the_group() {
    let (cfgs, groups) = pair_group();
    let (mut node, t0) = started(cfgs, groups);
    node.timer(t0 + ms(3_700));
    drain(&mut node);
    node.track(t0 + ms(4_000), "iface:eth0", TrackStatus::Down);
    assert_eq!(node.state(V0), State::Fault);
    assert_eq!(
        node.state(V1),
        State::Fault,
        "instance 1 tracks nothing but follows its group"
    );
    let k = kinds(&drain(&mut node));
    assert_eq!(k.iter().filter(|s| *s == "remove").count(), 2);
    assert_eq!(k.last().map(String::as_str), Some("group:Fault"));
    node.track(t0 + ms(5_000), "iface:eth0", TrackStatus::Up);
    assert_eq!(node.state(V0), State::Backup);
    assert_eq!(node.state(V1), State::Backup);
}

#[test]
fn promote_takes_over_now_and_demote_steps_down_until_release() {
    let (mut node, t0) = started(vec![cfg("a", 100)], vec![]);
    node.handle(t0, V0, rx(20, advert(200)));
    node.handle(t0 + ms(10), V0, Input::Promote);
    assert_eq!(node.state(V0), State::Master);
    assert_eq!(node.effective_priority(V0), 254);
    assert_eq!(
        kinds(&drain(&mut node)),
        ["send:254", "add", "announce", "to:Master"]
    );
    // The old 200 master is lower now: we stay.
    node.handle(t0 + ms(20), V0, rx(20, advert(200)));
    assert_eq!(node.state(V0), State::Master);
    drain(&mut node);

    node.handle(t0 + ms(30), V0, Input::Demote);
    assert_eq!(node.state(V0), State::Backup);
    assert_eq!(node.effective_priority(V0), 1);
    assert_eq!(kinds(&drain(&mut node)), ["send:0", "remove", "to:Backup"]);
    // A live lower-priority master (50 < configured 100) is not preempted while demoted.
    for k in 1..20 {
        let now = t0 + ms(1000 * k);
        node.handle(now, V0, rx(20, advert(50)));
        node.timer(now);
    }
    assert_eq!(node.state(V0), State::Backup);
    node.handle(t0 + ms(20_000), V0, Input::Release);
    assert_eq!(node.effective_priority(V0), 100);
    // Released: normal preemption resumes (lower adverts no longer reset the timer).
    node.handle(t0 + ms(21_000), V0, rx(20, advert(50)));
    let at = node.next_deadline().unwrap();
    node.timer(at);
    assert_eq!(node.state(V0), State::Master);
}

#[test]
fn promote_does_not_leave_fault() {
    let mut c = cfg("a", 100);
    c.tracks = vec![track("iface:eth0", 0)];
    let (mut node, t0) = started(vec![c], vec![]);
    node.track(t0, "iface:eth0", TrackStatus::Down);
    node.handle(t0, V0, Input::Promote);
    assert_eq!(node.state(V0), State::Fault);
}

#[test]
fn reconfigure_keeps_a_master_and_reports_address_changes() {
    let (mut node, t) = master(cfg("a", 100));
    let mut a2 = cfg("a", 120);
    a2.virtual_addresses = vec![ip(101)];
    let mut n = cfg("new", 100);
    n.vrid = 60;
    node.reconfigure(t, vec![n, a2], vec![]);
    let actions = drain(&mut node);
    assert_eq!(
        actions,
        [Action::UpdateAddresses {
            instance: V1,
            removed: vec![vip()],
            added: vec![ip(101)]
        }]
    );
    assert_eq!(node.state(V1), State::Master);
    assert_eq!(node.state(V0), State::Initialize);
    assert_eq!(node.effective_priority(V1), 120);
    assert_eq!(node.stats(V1).became_master, 1, "stats survive a reload");

    // Removing the master: it releases with priority 0 through a self-contained action.
    node.reconfigure(t, vec![cfg("other", 100)], vec![]);
    let actions = drain(&mut node);
    assert_eq!(actions.len(), 2);
    for a in actions {
        let Action::Removed {
            config,
            from,
            release,
        } = a
        else {
            panic!("{a:?}")
        };
        match config.name.as_str() {
            "a" => {
                assert_eq!(from, State::Master);
                assert_eq!(release.map(|r| r.priority), Some(0));
            }
            "new" => assert_eq!((from, release), (State::Initialize, None)),
            other => panic!("{other}"),
        }
    }
}

#[test]
fn spurious_timer_and_unknown_ids_are_harmless() {
    let (mut node, t0) = started(vec![cfg("a", 100)], vec![]);
    node.timer(t0);
    node.handle(t0, InstanceId(7), Input::Timer);
    node.handle(t0, InstanceId(7), Input::Startup);
    assert!(drain(&mut node).is_empty());
    assert_eq!(node.state(V0), State::Backup);
}

#[test]
fn group_member_starting_in_fault_faults_its_running_sibling() {
    let (cfgs, groups) = pair_group();
    let t0 = Instant::now();
    let mut node = Node::new(cfgs, groups, t0);
    node.handle(t0, V1, Input::Startup);
    assert_eq!(node.state(V1), State::Backup);
    node.track(t0, "iface:eth0", TrackStatus::Down);
    node.handle(t0, V0, Input::Startup);
    assert_eq!(node.state(V0), State::Fault);
    assert_eq!(node.state(V1), State::Fault);
}
