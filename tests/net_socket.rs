//! VRRP raw sockets between two network namespaces: what arrives, with which IP facts.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use baton::net::socket::{VRRP_GROUP_V4, VRRP_GROUP_V6};
use baton::net::{Family, Netlink, RxPacket, SocketConfig, VrrpSocket};
use common::netns::{Node, TestNet};

/// Opaque bytes shaped like a VRRPv3 advert (net never parses them).
const PAYLOAD: [u8; 12] = [
    0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xab, 0xcd, 10, 0, 0, 100,
];
const LIMIT: Duration = Duration::from_secs(5);

fn config(node: &Node, family: Family, groups: Vec<IpAddr>) -> SocketConfig {
    let ifindex = nix::net::if_::if_nametoindex(node.ifname.as_str()).expect("ifindex");
    SocketConfig {
        ifname: node.ifname.clone(),
        ifindex,
        family,
        groups,
    }
}

/// Opens a socket in `node`'s namespace, signals readiness, then collects `count`
/// packets (each with a deadline). Returns the receiving ifindex and the packets.
fn receiver(
    net: &TestNet,
    node: &Node,
    family: Family,
    groups: Vec<IpAddr>,
    count: usize,
) -> (mpsc::Receiver<()>, JoinHandle<(u32, Vec<RxPacket>)>) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let node = node.clone();
    let h = net.spawn_async(&node.ns.clone(), move || async move {
        let cfg = config(&node, family, groups);
        let sock = VrrpSocket::open(&cfg).expect("open receiver");
        ready_tx.send(()).expect("ready");
        let mut got = Vec::new();
        for _ in 0..count {
            let p = tokio::time::timeout(LIMIT, sock.recv())
                .await
                .expect("packet within deadline")
                .expect("recv");
            got.push(p);
        }
        assert_eq!(sock.stats().received, count as u64);
        (cfg.ifindex, got)
    });
    (ready_rx, h)
}

fn wait_ready(rx: &mpsc::Receiver<()>) {
    rx.recv_timeout(LIMIT).expect("receiver ready");
}

#[test]
fn multicast_v4_advert_arrives_with_ttl_255_and_ip_facts() {
    let net = TestNet::pair("mcast_v4");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    let (ready, rx) = receiver(&net, &b, Family::V4, vec![VRRP_GROUP_V4.into()], 1);
    wait_ready(&ready);
    net.run_async(&a.ns, {
        let a = a.clone();
        move || async move {
            let sock = VrrpSocket::open(&config(&a, Family::V4, vec![VRRP_GROUP_V4.into()]))
                .expect("open sender");
            sock.send(a.v4.into(), VRRP_GROUP_V4.into(), &PAYLOAD)
                .await
                .expect("send");
        }
    });
    let (ifindex, got) = rx.join().expect("receiver");
    let p = &got[0];
    assert_eq!(p.payload, PAYLOAD, "payload only, IP header stripped");
    assert_eq!(p.ttl, 255);
    assert_eq!(p.src, IpAddr::V4(a.v4));
    assert_eq!(p.dst, IpAddr::V4(VRRP_GROUP_V4));
    assert_eq!(p.ifindex, ifindex);
}

#[test]
fn multicast_v6_advert_arrives_from_link_local_with_hop_limit_255() {
    let net = TestNet::pair("mcast_v6");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    let (ready, rx) = receiver(&net, &b, Family::V6, vec![VRRP_GROUP_V6.into()], 1);
    wait_ready(&ready);
    let src = net.run_async(&a.ns, {
        let a = a.clone();
        move || async move {
            let cfg = config(&a, Family::V6, vec![VRRP_GROUP_V6.into()]);
            let nl = Netlink::new().expect("netlink");
            let ll = nl
                .ipv6_link_local(cfg.ifindex)
                .await
                .expect("addresses")
                .expect("a link-local address");
            let sock = VrrpSocket::open(&cfg).expect("open sender");
            sock.send(ll.into(), VRRP_GROUP_V6.into(), &PAYLOAD)
                .await
                .expect("send");
            ll
        }
    });
    let (ifindex, got) = rx.join().expect("receiver");
    let p = &got[0];
    assert_eq!(p.payload, PAYLOAD);
    assert_eq!(p.ttl, 255, "hop limit");
    assert_eq!(p.src, IpAddr::V6(src));
    assert_eq!(p.dst, IpAddr::V6(VRRP_GROUP_V6));
    assert_eq!(p.ifindex, ifindex);
}

#[test]
fn unicast_v4_and_v6_reach_the_peer_from_the_chosen_source() {
    let net = TestNet::pair("unicast");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    // A second address on A, so the source is visibly the one we asked for and not
    // whatever the kernel would pick.
    net.ip(&a.ns, &["addr", "add", "10.0.0.77/32", "dev", "eth0"]);
    let (ready4, rx4) = receiver(&net, &b, Family::V4, vec![], 1);
    let (ready6, rx6) = receiver(&net, &b, Family::V6, vec![], 1);
    wait_ready(&ready4);
    wait_ready(&ready6);
    net.run_async(&a.ns, {
        let (a, b) = (a.clone(), b.clone());
        move || async move {
            let s4 = VrrpSocket::open(&config(&a, Family::V4, vec![])).expect("open v4");
            let failed = s4
                .send_each(
                    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 77)),
                    &[b.v4.into()],
                    &PAYLOAD,
                )
                .await;
            assert!(failed.is_empty(), "{failed:?}");
            let s6 = VrrpSocket::open(&config(&a, Family::V6, vec![])).expect("open v6");
            s6.send(a.v6.into(), b.v6.into(), &PAYLOAD)
                .await
                .expect("send v6");
        }
    });
    let (_, got4) = rx4.join().expect("v4 receiver");
    assert_eq!(got4[0].src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 77)));
    assert_eq!(got4[0].dst, IpAddr::V4(b.v4));
    assert_eq!(got4[0].ttl, 255);
    assert_eq!(got4[0].payload, PAYLOAD);
    let (_, got6) = rx6.join().expect("v6 receiver");
    assert_eq!(got6[0].src, IpAddr::V6(a.v6));
    assert_eq!(got6[0].dst, IpAddr::V6(b.v6));
    assert_eq!(got6[0].ttl, 255);
    assert_eq!(got6[0].payload, PAYLOAD);
}

#[test]
fn packets_with_lower_ttl_are_reported_with_their_real_ttl() {
    let net = TestNet::pair("low_ttl");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    let (ready4, rx4) = receiver(&net, &b, Family::V4, vec![], 1);
    let (ready6, rx6) = receiver(&net, &b, Family::V6, vec![VRRP_GROUP_V6.into()], 1);
    wait_ready(&ready4);
    wait_ready(&ready6);
    // A sender that is not baton: a plain raw socket with ordinary TTLs.
    net.run(&a.ns, {
        let (a, b) = (a.clone(), b.clone());
        move || {
            use socket2::{Domain, Protocol, SockAddr, Socket, Type};
            let s4 = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
            s4.set_ttl_v4(64).unwrap();
            let to = SockAddr::from(std::net::SocketAddrV4::new(b.v4, 0));
            s4.send_to(&PAYLOAD, &to).unwrap();
            let s6 = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112))).unwrap();
            s6.set_multicast_hops_v6(1).unwrap();
            let ifindex = nix::net::if_::if_nametoindex(a.ifname.as_str()).unwrap();
            s6.set_multicast_if_v6(ifindex).unwrap();
            let to = SockAddr::from(std::net::SocketAddrV6::new(VRRP_GROUP_V6, 0, 0, ifindex));
            s6.send_to(&PAYLOAD, &to).unwrap();
        }
    });
    let (_, got4) = rx4.join().expect("v4 receiver");
    assert_eq!(got4[0].ttl, 64);
    assert_eq!(got4[0].payload, PAYLOAD);
    let (_, got6) = rx6.join().expect("v6 receiver");
    assert_eq!(got6[0].ttl, 1);
    assert_eq!(got6[0].payload, PAYLOAD);
}

#[test]
fn own_multicast_is_not_looped_back() {
    let net = TestNet::pair("no_loop");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    let (ready_b, rx_b) = receiver(&net, &b, Family::V4, vec![VRRP_GROUP_V4.into()], 1);
    wait_ready(&ready_b);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let ha = net.spawn_async(&a.ns, {
        let a = a.clone();
        move || async move {
            let sock = VrrpSocket::open(&config(&a, Family::V4, vec![VRRP_GROUP_V4.into()]))
                .expect("open");
            sock.send(a.v4.into(), VRRP_GROUP_V4.into(), b"from-a")
                .await
                .expect("send");
            go_tx.send(()).expect("go");
            // The first thing A receives must be B's reply, not its own advert.
            tokio::time::timeout(LIMIT, sock.recv())
                .await
                .expect("reply within deadline")
                .expect("recv")
        }
    });
    let (_, got_b) = rx_b.join().expect("b receiver");
    assert_eq!(got_b[0].payload, b"from-a");
    go_rx.recv_timeout(LIMIT).expect("a sent");
    net.run_async(&b.ns, {
        let b = b.clone();
        move || async move {
            let sock = VrrpSocket::open(&config(&b, Family::V4, vec![])).expect("open");
            sock.send(b.v4.into(), VRRP_GROUP_V4.into(), b"from-b")
                .await
                .expect("send");
        }
    });
    let first = ha.join().expect("a receiver");
    assert_eq!(first.payload, b"from-b");
    assert_eq!(first.src, IpAddr::V4(b.v4));
}

#[test]
fn wrong_family_arguments_are_refused_not_sent() {
    let net = TestNet::pair("family");
    let a = net.node(0).clone();
    net.run_async(&a.ns.clone(), move || async move {
        let sock = VrrpSocket::open(&config(&a, Family::V4, vec![])).expect("open");
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(sock.send(a.v4.into(), v6, &PAYLOAD).await.is_err());
        assert!(sock.join(VRRP_GROUP_V6.into()).is_err());
    });
}

#[test]
fn adverts_carry_tos_and_traffic_class_0xc0() {
    let net = TestNet::pair("tos");
    let (a, b) = (net.node(0).clone(), net.node(1).clone());
    let (ready_tx, ready_rx) = mpsc::channel();
    // A plain observer in B that sees what baton's socket hides: the v4 header and the
    // v6 traffic class.
    let observer = net.spawn(&b.ns.clone(), move || {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
        use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
        use std::os::fd::AsRawFd;
        let ifindex = nix::net::if_::if_nametoindex(b.ifname.as_str()).unwrap();
        let s4 = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s4.join_multicast_v4_n(&VRRP_GROUP_V4, &InterfaceIndexOrAddress::Index(ifindex))
            .unwrap();
        s4.set_read_timeout(Some(LIMIT)).unwrap();
        let s6 = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112))).unwrap();
        s6.join_multicast_v6(&VRRP_GROUP_V6, ifindex).unwrap();
        s6.set_recv_tclass_v6(true).unwrap();
        s6.set_read_timeout(Some(LIMIT)).unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(&mut &s4, &mut buf).expect("v4 advert");
        assert!(n > 20);
        let tos = buf[1];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut cmsg = [0u8; 64];
        let msg = recvmsg::<SockaddrStorage>(
            s6.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .expect("v6 advert");
        let tclass = msg
            .cmsgs()
            .unwrap()
            .find_map(|c| match c {
                ControlMessageOwned::Ipv6TClass(t) => Some(t),
                _ => None,
            })
            .expect("traffic class cmsg");
        (tos, tclass)
    });
    ready_rx.recv_timeout(LIMIT).unwrap();
    net.run_async(&a.ns.clone(), move || async move {
        let s4 = VrrpSocket::open(&config(&a, Family::V4, vec![])).unwrap();
        s4.send(a.v4.into(), VRRP_GROUP_V4.into(), &PAYLOAD)
            .await
            .unwrap();
        let s6 = VrrpSocket::open(&config(&a, Family::V6, vec![])).unwrap();
        s6.send(a.v6.into(), VRRP_GROUP_V6.into(), &PAYLOAD)
            .await
            .unwrap();
    });
    let (tos, tclass) = observer.join().unwrap();
    assert_eq!(tos, 0xc0);
    assert_eq!(tclass, 0xc0);
}

#[test]
fn multicast_reaches_every_node_on_a_bridge() {
    let net = TestNet::bridged("bridge", 3);
    let (a, b, c) = (
        net.node(0).clone(),
        net.node(1).clone(),
        net.node(2).clone(),
    );
    let (ready_b, rx_b) = receiver(&net, &b, Family::V4, vec![VRRP_GROUP_V4.into()], 1);
    let (ready_c, rx_c) = receiver(&net, &c, Family::V4, vec![VRRP_GROUP_V4.into()], 1);
    wait_ready(&ready_b);
    wait_ready(&ready_c);
    net.run_async(&a.ns.clone(), move || async move {
        let sock = VrrpSocket::open(&config(&a, Family::V4, vec![])).unwrap();
        sock.send(a.v4.into(), VRRP_GROUP_V4.into(), &PAYLOAD)
            .await
            .unwrap();
    });
    for rx in [rx_b, rx_c] {
        let (_, got) = rx.join().unwrap();
        assert_eq!(got[0].src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(got[0].payload, PAYLOAD);
    }
}
