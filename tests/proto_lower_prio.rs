//! Protocol rules for two keepalived extensions, driven through `proto::Node` with virtual
//! time (the style of `proto_rules.rs`): the gratuitous ARP sets a master sends when it
//! hears a lower priority (`garp_lower_prio_delay` / `garp_lower_prio_repeat`), and an
//! instance the configuration keeps in FAULT (`unicast_fault_no_peer` without peers).

#![allow(clippy::unwrap_used)] // tests: a None here is a failed test

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use baton::proto::*;
use baton::wire::{Advert, Auth, Centis, ChecksumMode, Version};

const V0: InstanceId = InstanceId(0);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn cfg(priority: u8) -> InstanceConfig {
    InstanceConfig {
        name: "a".into(),
        version: Version::V3,
        vrid: 51,
        priority,
        advert_interval: Centis(100),
        initial_state: InitialState::Backup,
        preempt: true,
        preempt_delay: Duration::ZERO,
        primary_address: ip(10),
        virtual_addresses: vec![ip(100)],
        auth: Auth::None,
        checksum: ChecksumMode::PseudoHeader,
        tracks: vec![],
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        skip_check_adv_addr: false,
        lower_prio_garp_repeat: 5,
        lower_prio_garp_delay: Duration::from_secs(5),
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

fn drain(node: &mut Node) -> Vec<Action> {
    std::iter::from_fn(|| node.poll_action()).collect()
}

/// The lower-priority announcement sets among `actions`, by their size.
fn lower_sets(actions: &[Action]) -> Vec<u32> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::AnnounceLowerPriority { repeat, .. } => Some(*repeat),
            _ => None,
        })
        .collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Started and master (the master-down timer ran out); returns the node and that instant.
fn master(c: InstanceConfig) -> (Node, Instant) {
    let t0 = Instant::now();
    let mut node = Node::new(vec![c], vec![], t0);
    node.handle(t0, V0, Input::Startup);
    drain(&mut node);
    let at = node.next_deadline().unwrap();
    node.timer(at);
    drain(&mut node);
    assert_eq!(node.state(V0), State::Master);
    (node, at)
}

/// Runs the node's timers from `from` to `to` in 10 ms steps, collecting the sets sent
/// with the instant each was sent at.
fn run(node: &mut Node, from: Instant, to: Instant) -> Vec<(Instant, u32)> {
    let mut out = Vec::new();
    let mut now = from;
    while now <= to {
        node.timer(now);
        for r in lower_sets(&drain(node)) {
            out.push((now, r));
        }
        now += ms(10);
    }
    out
}

#[test]
fn master_hearing_a_lower_priority_announces_now_and_after_the_delay() {
    let (mut node, t) = master(cfg(100));
    let heard = t + ms(300);
    node.handle(heard, V0, advert(50));
    let now = drain(&mut node);
    let sends = now
        .iter()
        .position(|a| matches!(a, Action::SendAdvert { .. }));
    let announces = now
        .iter()
        .position(|a| matches!(a, Action::AnnounceLowerPriority { .. }));
    assert!(
        sends < announces && sends.is_some(),
        "the advert that makes the other master yield goes first: {now:?}"
    );
    assert_eq!(lower_sets(&now), [5], "one set of garp_lower_prio_repeat");

    let later = run(&mut node, heard, heard + ms(12_000));
    assert_eq!(
        later.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
        [5],
        "exactly one more set"
    );
    let second = later[0].0.duration_since(heard);
    assert!(
        second >= Duration::from_secs(5) && second < Duration::from_secs(5) + ms(10),
        "the second set comes garp_lower_prio_delay after the advert: {second:?}"
    );
}

#[test]
fn a_further_lower_advert_moves_the_second_set_later() {
    let (mut node, t) = master(cfg(100));
    node.handle(t + ms(100), V0, advert(50));
    node.handle(t + ms(2100), V0, advert(50));
    assert_eq!(
        lower_sets(&drain(&mut node)),
        [5, 5],
        "a set for each advert"
    );
    let later = run(&mut node, t + ms(2100), t + ms(20_000));
    assert_eq!(later.len(), 1, "one delayed set: {later:?}");
    assert!(later[0].0 >= t + ms(7100), "after the last advert heard");
}

#[test]
fn repeat_zero_disables_and_delay_zero_means_no_second_set() {
    let mut c = cfg(100);
    c.lower_prio_garp_repeat = 0;
    let (mut node, t) = master(c);
    node.handle(t + ms(100), V0, advert(50));
    assert!(lower_sets(&drain(&mut node)).is_empty());
    assert!(run(&mut node, t, t + ms(12_000)).is_empty());

    let mut c = cfg(100);
    c.lower_prio_garp_repeat = 2;
    c.lower_prio_garp_delay = Duration::ZERO;
    let (mut node, t) = master(c);
    node.handle(t + ms(100), V0, advert(50));
    assert_eq!(lower_sets(&drain(&mut node)), [2]);
    assert!(run(&mut node, t, t + ms(12_000)).is_empty());
}

#[test]
fn lower_prio_no_advert_still_announces() {
    // keepalived keeps the two apart: no answering advert, but the ARP caches are fixed.
    let mut c = cfg(100);
    c.lower_prio_no_advert = true;
    let (mut node, t) = master(c);
    node.handle(t + ms(100), V0, advert(50));
    let now = drain(&mut node);
    assert!(!now.iter().any(|a| matches!(a, Action::SendAdvert { .. })));
    assert_eq!(lower_sets(&now), [5]);
}

#[test]
fn leaving_master_cancels_the_second_set() {
    let (mut node, t) = master(cfg(100));
    node.handle(t + ms(100), V0, advert(50));
    node.handle(t + ms(200), V0, advert(200));
    assert_eq!(node.state(V0), State::Backup);
    drain(&mut node);
    // Keep the backup fed so it stays backup while the old delay passes.
    let mut now = t + ms(200);
    while now < t + ms(8000) {
        now += ms(500);
        node.handle(now, V0, advert(200));
        node.timer(now);
        assert!(
            lower_sets(&drain(&mut node)).is_empty(),
            "no sets as backup"
        );
    }
}

#[test]
fn higher_priority_and_release_do_not_trigger_it() {
    let (mut node, t) = master(cfg(100));
    node.handle(t + ms(100), V0, advert(0));
    assert!(
        lower_sets(&drain(&mut node)).is_empty(),
        "priority 0 is a release, not a rival master"
    );
    node.handle(t + ms(200), V0, advert(200));
    assert!(lower_sets(&drain(&mut node)).is_empty(), "this one yields");
    assert!(run(&mut node, t, t + ms(12_000)).is_empty());
}

#[test]
fn config_fault_keeps_the_instance_in_fault_with_its_reason() {
    let mut c = cfg(100);
    c.config_fault = Some("unicast_fault_no_peer: no unicast peer configured".into());
    let t0 = Instant::now();
    let mut node = Node::new(vec![c], vec![], t0);
    node.handle(t0, V0, Input::Startup);
    assert_eq!(node.state(V0), State::Fault);
    let reasons: Vec<String> = drain(&mut node)
        .into_iter()
        .filter_map(|a| match a {
            Action::Transition { reason, .. } => Some(reason.0),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        ["startup: unicast_fault_no_peer: no unicast peer configured"]
    );
    node.handle(t0 + ms(10), V0, advert(50));
    node.timer(t0 + ms(60_000));
    assert_eq!(node.state(V0), State::Fault, "no timer or advert lifts it");
    assert!(drain(&mut node).is_empty(), "FAULT sends nothing");

    // A reload that adds a peer clears it; one that takes it away again faults.
    let mut fixed = cfg(100);
    fixed.config_fault = None;
    node.reconfigure(t0 + ms(60_000), vec![fixed.clone()], vec![]);
    assert_eq!(node.state(V0), State::Backup);
    let mut broken = fixed;
    broken.config_fault = Some("no peer".into());
    drain(&mut node);
    node.reconfigure(t0 + ms(61_000), vec![broken], vec![]);
    assert_eq!(node.state(V0), State::Fault);
}
