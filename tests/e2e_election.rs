//! End-to-end: elections between real baton processes in namespaces, for each transport
//! (multicast, unicast) and protocol flavour (IPv4 VRRPv2, IPv4 VRRPv3, IPv6 VRRPv3),
//! the VIP on exactly one node, GARP on the wire, and what `baton status` reports.

mod common;
mod e2e;

use e2e::{Capture, Cluster, Inst, conf, file_check};

const VIP: &str = "10.0.0.100";

/// Starts two nodes (TestNet nodes 0 and 1) with the given instances; waits until the
/// higher one (node 0) is MASTER and the other BACKUP, and checks the VIP placement.
fn elect(c: &mut Cluster, a: &Inst, b: &Inst, vip: &str) {
    // The lower priority node starts first, so it is MASTER alone before the higher one
    // arrives and has to preempt it: both halves of the election get exercised.
    c.start("b", 1, &conf("b", "", &[b]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.wait_addr(1, vip, true);
    c.start("a", 0, &conf("a", "", &[a]));
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    c.wait_addr(0, vip, true);
    c.wait_addr(1, vip, false);
    assert_one_master(c);
}

/// `baton status` on every daemon: exactly one MASTER, and it is the one holding the VIP.
fn assert_one_master(c: &Cluster) {
    let masters: Vec<&str> = c
        .daemons
        .iter()
        .filter(|d| d.state("VI_1").as_deref() == Some("MASTER"))
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(masters.len(), 1, "masters: {masters:?}\n{}", c.all_logs());
}

#[test]
fn multicast_v3_ipv4_elects_higher_priority_and_sends_garp() {
    let mut c = Cluster::new("e2e_elect_v3", 3);
    let observer = c.net.node(2).ns.clone();
    // Gratuitous ARP for the VIP: sender and target address are both the VIP.
    let cap = Capture::start(
        &observer,
        "arp and arp[14:4] = 0x0a000064 and arp[24:4] = 0x0a000064",
        1,
    );
    let a = Inst::new(150, "BACKUP");
    let b = Inst::new(100, "BACKUP");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(0).wait_state("VI_1", "MASTER");
    let seen = cap.finish();
    eprintln!("captured: {seen}");
    assert!(seen.contains(VIP), "no GARP for the VIP captured: {seen:?}");
    // Sent from node b's MAC (the VIP's new owner).
    let b_mac = c.net.addrs_json(&c.net.node(1).ns, "eth0")[0]["address"]
        .as_str()
        .expect("mac")
        .to_string();
    assert!(seen.contains(&b_mac), "GARP not from {b_mac}: {seen}");

    // Now the higher priority node arrives and preempts; it announces the VIP too.
    let a_mac = c.net.addrs_json(&c.net.node(0).ns, "eth0")[0]["address"]
        .as_str()
        .expect("mac")
        .to_string();
    let cap = Capture::start(
        &observer,
        &format!("ether src {a_mac} and arp and arp[14:4] = 0x0a000064 and arp[24:4] = 0x0a000064"),
        1,
    );
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    let seen = cap.finish();
    assert!(seen.contains(&a_mac), "GARP not from {a_mac}: {seen}");
    c.wait_addr(0, VIP, true);
    c.wait_addr(1, VIP, false);
    assert!(!c.has_addr(2, VIP));
    assert_one_master(&c);
    let st = c.d(1).instance("VI_1").expect("status");
    assert_eq!(st["effective_priority"], 150);
    let st = c.d(0).instance("VI_1").expect("status");
    assert_eq!(st["master"], "10.0.0.1", "backup names the master: {st}");
}

#[test]
fn multicast_v2_ipv4_elects_higher_priority() {
    let mut c = Cluster::new("e2e_elect_v2", 2);
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    for i in [&mut a, &mut b] {
        i.version = 2;
        i.advert_int = "1".into();
    }
    elect(&mut c, &a, &b, VIP);
}

#[test]
fn unicast_v3_ipv4_elects_higher_priority() {
    let mut c = Cluster::new("e2e_elect_uni", 2);
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    a.unicast = Some(("10.0.0.1".into(), vec!["10.0.0.2".into()]));
    b.unicast = Some(("10.0.0.2".into(), vec!["10.0.0.1".into()]));
    elect(&mut c, &a, &b, VIP);
    // The adverts really were unicast: each side counts received adverts.
    let st = c.d(0).instance("VI_1").expect("status");
    assert!(
        st["stats"]["adverts_received"].as_u64().unwrap_or(0) > 0,
        "{st}"
    );
}

#[test]
fn unicast_v2_ipv4_elects_higher_priority() {
    let mut c = Cluster::new("e2e_elect_uni2", 2);
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    a.unicast = Some(("10.0.0.1".into(), vec!["10.0.0.2".into()]));
    b.unicast = Some(("10.0.0.2".into(), vec!["10.0.0.1".into()]));
    for i in [&mut a, &mut b] {
        i.version = 2;
        i.advert_int = "1".into();
    }
    elect(&mut c, &a, &b, VIP);
}

#[test]
fn multicast_v3_ipv6_elects_higher_priority() {
    let mut c = Cluster::new("e2e_elect_v6", 2);
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    for i in [&mut a, &mut b] {
        i.vips = vec!["fd00::100/64".into()];
    }
    elect(&mut c, &a, &b, "fd00::100");
}

#[test]
fn advert_int_50ms_v3_elects_and_holds() {
    let mut c = Cluster::new("e2e_elect_50ms", 2);
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    for i in [&mut a, &mut b] {
        i.advert_int = "0.05".into();
    }
    elect(&mut c, &a, &b, VIP);
    // Still one stable master after many intervals: wait for 40 more adverts received.
    c.d(0).hear_adverts("VI_1", 40);
    c.assert_state(0, "VI_1", "BACKUP");
    c.assert_state(1, "VI_1", "MASTER");
    let flaps = c.d(0).transitions("VI_1").len() + c.d(1).transitions("VI_1").len();
    eprintln!("transitions at 50 ms: {flaps}");
}

#[test]
fn status_reports_one_master_and_weighted_priority_drop() {
    let mut c = Cluster::new("e2e_weight", 2);
    let ok = c.path("ok");
    std::fs::write(&ok, "").expect("touch");
    let scripts = file_check("chk", &ok, "0.1", "    weight -60\n");
    let mut a = Inst::new(150, "BACKUP");
    a.track_scripts = vec!["chk".into()];
    let b = Inst::new(100, "BACKUP");
    c.start("b", 1, &conf("b", "", &[&b]));
    c.d(0).wait_state("VI_1", "MASTER");
    c.start("a", 0, &conf("a", &scripts, &[&a]));
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    assert_one_master(&c);
    assert_eq!(
        c.d(1).instance("VI_1").expect("status")["effective_priority"],
        150
    );

    // The weighted check fails: 150 - 60 = 90 < 100, so b takes over; a is BACKUP, not FAULT.
    std::fs::remove_file(&ok).expect("rm");
    common::netns::wait_for(e2e::DEADLINE, "effective priority 90", || {
        c.d(1).instance("VI_1").expect("status")["effective_priority"] == 90
    });
    c.d(0).wait_state("VI_1", "MASTER");
    c.d(1).wait_state("VI_1", "BACKUP");
    c.wait_addr(1, VIP, true);
    c.wait_addr(0, VIP, false);
    assert_one_master(&c);
    let st = c.d(1).instance("VI_1").expect("status");
    assert_eq!(st["priority"], 150, "configured priority unchanged: {st}");

    // Recovers: back to 150, a preempts.
    std::fs::write(&ok, "").expect("touch");
    c.d(1).wait_state("VI_1", "MASTER");
    c.d(0).wait_state("VI_1", "BACKUP");
    assert_eq!(
        c.d(1).instance("VI_1").expect("status")["effective_priority"],
        150
    );
    assert_one_master(&c);
}

#[test]
fn many_instances_split_between_two_nodes_ipv4_and_ipv6_same_vrids() {
    let mut c = Cluster::new("e2e_many", 2);
    // 8 VRIDs, each in IPv4 and IPv6 (same VRID, other family): 16 instances per node.
    // Even VRIDs prefer node a, odd ones node b.
    let mut a_insts = Vec::new();
    let mut b_insts = Vec::new();
    for k in 0..8u8 {
        for v6 in [false, true] {
            let vrid = 60 + k;
            let (pa, pb) = if k % 2 == 0 { (150, 100) } else { (100, 150) };
            let vip = if v6 {
                format!("fd00::{:x}/64", 0x200 + u16::from(k))
            } else {
                format!("10.0.0.{}/24", 200 + k)
            };
            let name = format!("VI_{}{vrid}", if v6 { "6_" } else { "4_" });
            for (list, p) in [(&mut a_insts, pa), (&mut b_insts, pb)] {
                let mut i = Inst::new(p, "BACKUP");
                i.name = name.clone();
                i.vrid = vrid;
                i.vips = vec![vip.clone()];
                list.push(i);
            }
        }
    }
    let refs = |v: &[Inst]| -> String { conf("n", "", &v.iter().collect::<Vec<_>>()) };
    c.start("a", 0, &refs(&a_insts));
    c.start("b", 1, &refs(&b_insts));
    for (k, i) in a_insts.iter().enumerate() {
        let a_wins = (k / 2) % 2 == 0;
        let (winner, loser) = if a_wins { (0, 1) } else { (1, 0) };
        c.d(winner).wait_state(&i.name, "MASTER");
        c.d(loser).wait_state(&i.name, "BACKUP");
        let addr = i.vips[0].split('/').next().expect("addr");
        c.wait_addr(winner, addr, true);
        c.wait_addr(loser, addr, false);
    }
    // Each node's status lists all 16, 8 of them MASTER.
    for d in 0..2 {
        let st = c.d(d).status();
        let insts = st["instances"].as_array().expect("instances");
        assert_eq!(insts.len(), 16);
        let masters = insts.iter().filter(|i| i["state"] == "MASTER").count();
        assert_eq!(masters, 8, "{st}");
    }
}

/// `v3_checksum_as_v2` (VRRPv3 over IPv4 without the pseudo-header, as some routers
/// compute it): two nodes that both use it elect normally with no checksum errors; a
/// node that does not use it counts every advert of the other as a checksum error.
#[test]
fn v3_checksum_as_v2_on_both_sides_and_mismatched() {
    let mut c = Cluster::new("e2e_v3_cksum", 2);
    let mut a = Inst::new(150, "BACKUP");
    let mut b = Inst::new(100, "BACKUP");
    a.extra.push("v3_checksum_as_v2".into());
    b.extra.push("v3_checksum_as_v2".into());
    elect(&mut c, &a, &b, VIP);
    // elect() starts b first: daemon 0 is b (BACKUP), daemon 1 is a (MASTER).
    c.d(0).hear_adverts("VI_1", 5);
    assert_eq!(
        c.d(0).counter("VI_1", "checksum_errors"),
        0,
        "{}",
        c.all_logs()
    );
    assert_eq!(c.d(0).state("VI_1").as_deref(), Some("BACKUP"));

    // b alone switches back to the RFC checksum: it no longer understands a.
    b.extra.clear();
    std::fs::write(&c.d(0).conf, conf("b", "", &[&b])).expect("rewrite b");
    c.d(0).signal(nix::sys::signal::Signal::SIGHUP);
    common::netns::wait_for(e2e::DEADLINE, "b counts checksum errors", || {
        c.d(0).counter("VI_1", "checksum_errors") >= 5
    });
    // Deaf to a, b takes the VIP too: which is why the option must match on both sides.
    c.d(0).wait_state("VI_1", "MASTER");
    c.wait_addr(1, VIP, true);
}
