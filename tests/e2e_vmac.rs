//! End-to-end: `use_vmac` / `vmac_xmit_base` between two baton nodes and an observer,
//! the gratuitous ARP sets after a lower-priority advert (`garp_lower_prio_*`), and
//! unicast without peers (`unicast_fault_no_peer`, and keepalived's multicast fallback
//! for an empty `unicast_peer {}`). Everything runs in namespaces this test creates.

mod common;
mod e2e;

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;

use baton::net::{Family, SocketConfig, VrrpSocket};
use baton::wire::{Advert, Auth, Centis, ChecksumMode, Version};
use common::netns::wait_for;
use e2e::{Capture, Cluster, DEADLINE, Inst, conf};
use nix::sys::signal::Signal;

const VIP: &str = "10.0.0.100";
/// RFC 5798 virtual router MAC of VRID 51 (0x33), IPv4.
const VMAC: &str = "00:00:5e:00:01:33";

/// `ip -d -j link show NAME` in `ns`, if the link exists.
fn link(c: &Cluster, ns: &str, name: &str) -> Option<serde_json::Value> {
    let out = c
        .net
        .exec(ns, "ip", &["-d", "-j", "link", "show", "dev", name]);
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.as_array()?.first().cloned()
}

fn mac_of(c: &Cluster, ns: &str, name: &str) -> String {
    link(c, ns, name)
        .and_then(|l| l["address"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The observer resolves the VIP (a datagram to it makes the kernel ask by ARP) and
/// returns the MAC it learned.
fn resolve_vip(c: &Cluster, observer: &str) -> String {
    c.net.ip(observer, &["neigh", "flush", "dev", "eth0"]);
    let mut learned = String::new();
    wait_for(DEADLINE, "the observer resolves the VIP", || {
        c.net.run(observer, || {
            let s = UdpSocket::bind("0.0.0.0:0").expect("udp socket");
            let _ = s.send_to(b"who", (VIP, 9));
        });
        std::thread::sleep(Duration::from_millis(50));
        let out = c.net.ip(observer, &["neigh", "show", VIP, "dev", "eth0"]);
        learned = out
            .split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        !learned.is_empty() && !out.contains("FAILED") && !out.contains("INCOMPLETE")
    });
    learned
}

fn vmac_inst(priority: u8, extra: &[&str]) -> Inst {
    let mut i = Inst::new(priority, "BACKUP");
    i.extra.push("use_vmac".into());
    i.extra.extend(extra.iter().map(|e| e.to_string()));
    i
}

#[test]
fn vmac_holds_the_vip_answers_arp_with_the_virtual_mac_and_leaves_with_baton() {
    let mut c = Cluster::new("vmac", 3);
    let observer = c.net.node(2).ns.clone();
    let (ns_a, ns_b) = (c.net.node(0).ns.clone(), c.net.node(1).ns.clone());
    let a = c.start("a", 0, &conf("a", "", &[&vmac_inst(150, &[])]));
    let b = c.start("b", 1, &conf("b", "", &[&vmac_inst(100, &[])]));
    c.d(a).wait_state("VI_1", "MASTER");
    c.d(b).wait_state("VI_1", "BACKUP");

    // The macvlan exists on both nodes (keepalived creates it at start, in every state),
    // in private mode, with the virtual MAC; only the master's holds the VIP.
    for ns in [&ns_a, &ns_b] {
        let l = link(&c, ns, "vrrp.51").unwrap_or_else(|| panic!("no vrrp.51 in {ns}"));
        assert_eq!(l["address"], VMAC, "{l}");
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["mode"], "private", "{l}");
    }
    wait_for(DEADLINE, "VIP on the master's vrrp.51", || {
        c.net.find_addr(&ns_a, "vrrp.51", VIP).is_some()
    });
    assert!(c.net.find_addr(&ns_a, "eth0", VIP).is_none(), "not on eth0");
    assert!(
        c.net.find_addr(&ns_b, "vrrp.51", VIP).is_none(),
        "not on the backup"
    );

    // Adverts leave from the virtual MAC; the VIP answers ARP with it.
    let cap = Capture::start(&observer, "vrrp", 2);
    let adverts = cap.finish();
    assert!(
        adverts
            .lines()
            .all(|l| l.starts_with(VMAC) || l.contains(&format!(" {VMAC} >"))),
        "adverts from {VMAC}:\n{adverts}"
    );
    assert_eq!(resolve_vip(&c, &observer), VMAC);

    // Failover: the other node now answers for the VIP, with the same MAC.
    assert_eq!(c.dm(a).term(), Some(0), "{}", c.all_logs());
    c.d(b).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "vrrp.51 gone with baton on node a", || {
        link(&c, &ns_a, "vrrp.51").is_none()
    });
    wait_for(DEADLINE, "VIP on node b's vrrp.51", || {
        c.net.find_addr(&ns_b, "vrrp.51", VIP).is_some()
    });
    assert_eq!(
        resolve_vip(&c, &observer),
        VMAC,
        "node b answers, node a is gone"
    );

    assert_eq!(c.dm(b).term(), Some(0), "{}", c.all_logs());
    assert!(link(&c, &ns_b, "vrrp.51").is_none(), "removed on exit");
}

#[test]
fn vmac_works_under_strict_rp_filter_and_restores_it_on_exit() {
    fn rp(c: &Cluster, ns: &str, conf: &str) -> String {
        let path = format!("/proc/sys/net/ipv4/conf/{conf}/rp_filter");
        let out = c.net.exec(ns, "cat", &[&path]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
    let mut c = Cluster::new("vmacrp", 2);
    let (ns_a, ns_b) = (c.net.node(0).ns.clone(), c.net.node(1).ns.clone());
    for ns in [&ns_a, &ns_b] {
        let out = c.net.exec(
            ns,
            "sh",
            &["-c", "echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter"],
        );
        assert!(out.status.success());
        assert_eq!(rp(&c, ns, "all"), "1");
    }
    let a = c.start("a", 0, &conf("a", "", &[&vmac_inst(150, &[])]));
    let b = c.start("b", 1, &conf("b", "", &[&vmac_inst(100, &[])]));
    c.d(a).wait_state("VI_1", "MASTER");
    // Strict reverse-path filtering would drop adverts that arrive on the VMAC from a
    // peer routed via eth0: the backup must keep hearing the master all the same.
    c.d(b).hear_adverts("VI_1", 5);
    c.assert_state(b, "VI_1", "BACKUP");
    c.assert_state(a, "VI_1", "MASTER");
    assert_eq!(rp(&c, &ns_b, "eth0"), "1", "eth0 keeps strict filtering");
    assert_eq!(c.dm(b).term(), Some(0), "{}", c.all_logs());
    assert_eq!(rp(&c, &ns_b, "all"), "1", "restored on exit");
}

#[test]
fn vmac_left_by_a_killed_run_is_taken_over() {
    let mut c = Cluster::new("vmackill", 2);
    let ns = c.net.node(0).ns.clone();
    let a = c.start("a", 0, &conf("a", "", &[&vmac_inst(150, &[])]));
    c.d(a).wait_state("VI_1", "MASTER");
    c.dm(a).kill();
    assert!(
        link(&c, &ns, "vrrp.51").is_some(),
        "SIGKILL leaves the macvlan"
    );
    c.dm(a).restart();
    c.d(a).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "VIP on vrrp.51 again", || {
        c.net.find_addr(&ns, "vrrp.51", VIP).is_some()
    });
    assert_eq!(mac_of(&c, &ns, "vrrp.51"), VMAC);
    assert_eq!(c.dm(a).term(), Some(0), "{}", c.all_logs());
    assert!(link(&c, &ns, "vrrp.51").is_none());
}

#[test]
fn vmac_deleted_under_a_master_comes_back_with_the_vip() {
    let mut c = Cluster::new("vmacdel", 2);
    let ns = c.net.node(0).ns.clone();
    let a = c.start("a", 0, &conf("a", "", &[&vmac_inst(150, &[])]));
    c.d(a).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "VIP on vrrp.51", || {
        c.net.find_addr(&ns, "vrrp.51", VIP).is_some()
    });
    c.net.ip(&ns, &["link", "del", "vrrp.51"]);
    wait_for(DEADLINE, "VIP on a new vrrp.51", || {
        c.net.find_addr(&ns, "vrrp.51", VIP).is_some()
    });
    assert_eq!(mac_of(&c, &ns, "vrrp.51"), VMAC);
    c.assert_state(a, "VI_1", "MASTER");
    let observer = c.net.node(1).ns.clone();
    assert_eq!(resolve_vip(&c, &observer), VMAC);
}

#[test]
fn reload_that_drops_use_vmac_moves_the_vip_to_the_interface_and_deletes_the_vmac() {
    let mut c = Cluster::new("vmacreload", 2);
    let ns = c.net.node(0).ns.clone();
    let a = c.start("a", 0, &conf("a", "", &[&vmac_inst(150, &[])]));
    c.d(a).wait_state("VI_1", "MASTER");
    wait_for(DEADLINE, "VIP on vrrp.51", || {
        c.net.find_addr(&ns, "vrrp.51", VIP).is_some()
    });
    std::fs::write(&c.d(a).conf, conf("a", "", &[&Inst::new(150, "BACKUP")])).expect("conf");
    c.d(a).signal(Signal::SIGHUP);
    c.d(a).wait_log("configuration reloaded");
    wait_for(DEADLINE, "vrrp.51 deleted", || {
        link(&c, &ns, "vrrp.51").is_none()
    });
    c.wait_addr(0, VIP, true);
    c.assert_state(a, "VI_1", "MASTER");
    let observer = c.net.node(1).ns.clone();
    assert_eq!(resolve_vip(&c, &observer), mac_of(&c, &ns, "eth0"));
}

#[test]
fn ipv6_vmac_carries_the_ipv6_virtual_mac_and_adverts_reach_the_backup() {
    let mut c = Cluster::new("vmac6", 2);
    let (ns_a, ns_b) = (c.net.node(0).ns.clone(), c.net.node(1).ns.clone());
    let inst = |priority| {
        let mut i = vmac_inst(priority, &[]);
        i.vips = vec!["fd00::100/64".into()];
        i
    };
    let a = c.start("a", 0, &conf("a", "", &[&inst(150)]));
    let b = c.start("b", 1, &conf("b", "", &[&inst(100)]));
    c.d(a).wait_state("VI_1", "MASTER");
    c.d(b).wait_state("VI_1", "BACKUP");
    assert_eq!(mac_of(&c, &ns_a, "vrrp.51"), "00:00:5e:00:02:33");
    wait_for(DEADLINE, "IPv6 VIP on vrrp.51", || {
        c.net.find_addr(&ns_a, "vrrp.51", "fd00::100").is_some()
    });
    assert!(c.net.find_addr(&ns_b, "vrrp.51", "fd00::100").is_none());
    // The backup keeps hearing the master through its VMAC: it stays BACKUP.
    c.d(b).hear_adverts("VI_1", 5);
    c.assert_state(b, "VI_1", "BACKUP");
    assert_eq!(c.dm(a).term(), Some(0), "{}", c.all_logs());
    c.d(b).wait_state("VI_1", "MASTER");
    assert!(link(&c, &ns_a, "vrrp.51").is_none());
}

#[test]
fn vmac_xmit_base_sends_adverts_from_the_base_mac() {
    let mut c = Cluster::new("vmacxb", 2);
    let ns = c.net.node(0).ns.clone();
    let observer = c.net.node(1).ns.clone();
    let a = c.start(
        "a",
        0,
        &conf("a", "", &[&vmac_inst(150, &["vmac_xmit_base"])]),
    );
    c.d(a).wait_state("VI_1", "MASTER");
    let base = mac_of(&c, &ns, "eth0");
    let cap = Capture::start(&observer, "vrrp", 3);
    let adverts = cap.finish();
    let lines: Vec<&str> = adverts.lines().collect();
    assert_eq!(lines.len(), 3, "{adverts}");
    for l in lines {
        assert!(l.contains(&format!("{base} >")), "from {base}: {l}");
    }
    // The addresses still live on the VMAC and answer with its MAC.
    assert!(c.net.find_addr(&ns, "vrrp.51", VIP).is_some());
    assert_eq!(resolve_vip(&c, &observer), VMAC);
}

/// Sends one VRRPv2 advert for VRID 51 with `priority` from `ns`'s eth0 (10.0.0.N).
fn inject_advert(c: &Cluster, ns: &str, src: Ipv4Addr, priority: u8) {
    let ifname = "eth0".to_string();
    let ifindex = c
        .net
        .ip(ns, &["-j", "link", "show", "dev", "eth0"])
        .split("\"ifindex\":")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse::<u32>().ok())
        .expect("ifindex of eth0");
    c.net.run_async(ns, move || async move {
        let sock = VrrpSocket::open(&SocketConfig {
            ifname,
            ifindex,
            family: Family::V4,
            groups: vec![],
        })
        .expect("VRRP socket");
        let advert = Advert {
            version: Version::V2,
            vrid: 51,
            priority,
            max_advert_int: Centis(100),
            auth: Auth::None,
            addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100))],
        };
        let group = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
        let bytes = advert
            .to_bytes(IpAddr::V4(src), group, ChecksumMode::PseudoHeader)
            .expect("encode");
        sock.send(IpAddr::V4(src), group, &bytes)
            .await
            .expect("send advert");
    });
}

/// tcpdump's `HH:MM:SS.micros` as seconds of the day.
fn stamp(line: &str) -> f64 {
    let t = line.split_whitespace().next().unwrap_or_default();
    t.split(':')
        .map(|p| p.parse::<f64>().unwrap_or(0.0))
        .fold(0.0, |acc, x| acc * 60.0 + x)
}

#[test]
fn master_hearing_a_lower_priority_sends_two_sets_of_gratuitous_arp() {
    let mut c = Cluster::new("lowgarp", 2);
    let observer = c.net.node(1).ns.clone();
    let mut i = Inst::new(150, "BACKUP");
    i.version = 2;
    i.advert_int = "1".into();
    i.extra = vec![
        "garp_master_delay 0".into(),
        "garp_master_repeat 1".into(),
        "garp_lower_prio_repeat 3".into(),
        "garp_lower_prio_delay 1".into(),
    ];
    let a = c.start("a", 0, &conf("a", "", &[&i]));
    c.d(a).wait_state("VI_1", "MASTER");
    c.d(a).wait_log("gratuitous ARP / NA sent");

    let cap = Capture::start(&observer, "arp", 6);
    inject_advert(&c, &observer, Ipv4Addr::new(10, 0, 0, 2), 100);
    let out = cap.finish();
    let garps: Vec<&str> = out.lines().filter(|l| l.contains(VIP)).collect();
    assert_eq!(
        garps.len(),
        6,
        "two sets of three:\n{out}\n{}",
        c.all_logs()
    );
    let first = stamp(garps[0]);
    let second = stamp(garps[3]);
    println!(
        "lower priority GARP sets {:.3} s apart (configured 1 s)",
        second - first
    );
    assert!(
        second - stamp(garps[2]) > 0.5,
        "the second set waits for garp_lower_prio_delay:\n{out}"
    );
    c.assert_state(a, "VI_1", "MASTER");
}

#[test]
fn unicast_without_peers_runs_multicast_or_faults_as_told() {
    let mut c = Cluster::new("nopeer", 2);
    let observer = c.net.node(1).ns.clone();
    let mut multicast = Inst::new(150, "BACKUP");
    multicast.name = "EMPTY".into();
    multicast.vrid = 60;
    multicast.unicast = Some(("10.0.0.1".into(), vec![]));
    let mut fault = Inst::new(150, "BACKUP");
    fault.name = "NOPEER".into();
    fault.vrid = 61;
    fault.vips = vec!["10.0.0.101/24".into()];
    fault.unicast = Some(("10.0.0.1".into(), vec![]));
    fault.extra.push("unicast_fault_no_peer".into());
    let a = c.start("a", 0, &conf("a", "", &[&multicast, &fault]));

    c.d(a).wait_state("EMPTY", "MASTER");
    c.d(a).wait_state("NOPEER", "FAULT");
    let reason = c.d(a).instance("NOPEER").expect("NOPEER in status")["last_reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("unicast_fault_no_peer"), "reason: {reason}");
    assert!(
        c.d(a).log_text().contains("runs as MULTICAST"),
        "warned:\n{}",
        c.d(a).log_text()
    );
    assert!(c.has_addr(0, VIP));
    assert!(
        !c.has_addr(0, "10.0.0.101"),
        "a FAULT instance holds nothing"
    );
    let cap = Capture::start(&observer, "vrrp", 2);
    let out = cap.finish();
    assert!(
        out.lines().all(|l| l.contains("> 224.0.0.18")),
        "multicast adverts (only EMPTY sends):\n{out}"
    );
    assert!(out.contains("vrid 60"), "{out}");
}
