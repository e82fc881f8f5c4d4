//! GARP and unsolicited NA sent from one namespace, captured in the other.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton::net::{Announcer, Netlink};
use common::netns::TestNet;
use pnet_packet::Packet;
use pnet_packet::arp::{ArpOperations, ArpPacket};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
use pnet_packet::icmpv6::ndp::{NdpOptionTypes, NeighborAdvertFlags, NeighborAdvertPacket};
use pnet_packet::icmpv6::{Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::Ipv6Packet;

const LIMIT: Duration = Duration::from_secs(5);
const VIP4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);
const OLD_MAC: &str = "02:00:00:00:00:99";

#[derive(Debug, Default)]
struct Seen {
    garp: Option<Vec<u8>>,
    na: Option<Vec<u8>>,
}

/// Captures frames on eth0 of the current namespace until both a GARP for VIP4 and an
/// NA for VIP6 were seen, or the deadline passes.
fn capture(ready: mpsc::Sender<()>) -> Seen {
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == "eth0")
        .expect("eth0");
    let cfg = pnet_datalink::Config {
        read_timeout: Some(Duration::from_millis(100)),
        promiscuous: false,
        ..Default::default()
    };
    let pnet_datalink::Channel::Ethernet(_tx, mut rx) =
        pnet_datalink::channel(&iface, cfg).expect("capture socket")
    else {
        panic!("not ethernet")
    };
    ready.send(()).unwrap();
    let start = Instant::now();
    let mut seen = Seen::default();
    while start.elapsed() < LIMIT && (seen.garp.is_none() || seen.na.is_none()) {
        let Ok(frame) = rx.next() else { continue };
        let Some(eth) = EthernetPacket::new(frame) else {
            continue;
        };
        if eth.get_ethertype() == EtherTypes::Arp {
            if let Some(arp) = ArpPacket::new(eth.payload()) {
                if arp.get_sender_proto_addr() == VIP4 {
                    seen.garp = Some(frame.to_vec());
                }
            }
        } else if eth.get_ethertype() == EtherTypes::Ipv6 {
            if let Some(ip) = Ipv6Packet::new(eth.payload()) {
                if ip.get_next_header() == IpNextHeaderProtocols::Icmpv6
                    && ip.payload().first() == Some(&136)
                    && ip.payload().get(8..24) == Some(&VIP6.octets()[..])
                {
                    seen.na = Some(frame.to_vec());
                }
            }
        }
    }
    seen
}

#[test]
fn garp_and_unsolicited_na_arrive_and_update_the_neighbour() {
    let net = TestNet::pair("announce");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    // B believes the VIPs live at an old MAC, as after a failover.
    net.ip(
        &b.ns,
        &[
            "neigh",
            "add",
            &VIP4.to_string(),
            "lladdr",
            OLD_MAC,
            "dev",
            "eth0",
            "nud",
            "stale",
        ],
    );
    net.ip(
        &b.ns,
        &[
            "neigh",
            "add",
            &VIP6.to_string(),
            "lladdr",
            OLD_MAC,
            "dev",
            "eth0",
            "nud",
            "stale",
        ],
    );
    let (ready_tx, ready_rx) = mpsc::channel();
    let cap = net.spawn(&b.ns, move || capture(ready_tx));
    ready_rx.recv_timeout(LIMIT).expect("capture ready");
    let (mac, ll) = net.run_async(&a.ns, move || async move {
        let nl = Netlink::new().unwrap();
        let link = nl.link_by_name("eth0").await.unwrap();
        let mac = link.mac.unwrap();
        let ll = nl.ipv6_link_local(link.ifindex).await.unwrap().unwrap();
        let mut ann = Announcer::open("eth0", mac, Some(ll)).unwrap();
        let failed = ann
            .send_repeated(
                &[IpAddr::V4(VIP4), IpAddr::V6(VIP6)],
                2,
                Duration::from_millis(10),
            )
            .await;
        assert!(failed.is_empty(), "{failed:?}");
        (mac, ll)
    });
    let seen = cap.join().expect("capture");

    let garp = seen.garp.expect("GARP seen in B");
    let eth = EthernetPacket::new(&garp).unwrap();
    assert_eq!(eth.get_destination().octets(), [0xff; 6]);
    assert_eq!(eth.get_source().octets(), mac);
    let arp = ArpPacket::new(eth.payload()).unwrap();
    assert_eq!(arp.get_operation(), ArpOperations::Request);
    assert_eq!(arp.get_sender_proto_addr(), VIP4);
    assert_eq!(arp.get_target_proto_addr(), VIP4, "sender = target = VIP");
    assert_eq!(arp.get_sender_hw_addr().octets(), mac);

    let na = seen.na.expect("NA seen in B");
    let eth = EthernetPacket::new(&na).unwrap();
    assert_eq!(eth.get_destination().octets(), [0x33, 0x33, 0, 0, 0, 1]);
    let ip = Ipv6Packet::new(eth.payload()).unwrap();
    assert_eq!(ip.get_hop_limit(), 255);
    assert_eq!(ip.get_source(), ll);
    assert_eq!(ip.get_destination(), "ff02::1".parse::<Ipv6Addr>().unwrap());
    let icmp = Icmpv6Packet::new(ip.payload()).unwrap();
    assert_eq!(icmp.get_icmpv6_type(), Icmpv6Types::NeighborAdvert);
    assert_eq!(
        icmp.get_checksum(),
        pnet_packet::icmpv6::checksum(&icmp, &ip.get_source(), &ip.get_destination())
    );
    let adv = NeighborAdvertPacket::new(ip.payload()).unwrap();
    assert_eq!(adv.get_flags(), NeighborAdvertFlags::Override);
    assert_eq!(adv.get_target_addr(), VIP6);
    let opts = adv.get_options();
    assert_eq!(opts.len(), 1);
    assert_eq!(opts[0].option_type, NdpOptionTypes::TargetLLAddr);
    assert_eq!(opts[0].data, mac);

    // What the announcements are for: B's neighbour entries now point at A.
    let mac_text = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    for vip in [VIP4.to_string(), VIP6.to_string()] {
        common::netns::wait_for(LIMIT, "neighbour entry updated", || {
            let v: serde_json::Value =
                serde_json::from_str(&net.ip(&b.ns, &["-j", "neigh", "show", &vip, "dev", "eth0"]))
                    .unwrap();
            v[0]["lladdr"] == mac_text.as_str()
        });
    }
}

#[test]
fn unknown_interface_is_a_clear_error() {
    let net = TestNet::pair("announce_err");
    let a = net.node(0).clone();
    let r = net.run(&a.ns, || {
        Announcer::open("nosuch0", [2, 0, 0, 0, 0, 1], None).map(|_| ())
    });
    assert!(
        matches!(r, Err(baton::net::Error::NoSuchInterface(_))),
        "{r:?}"
    );
}
