//! Netlink in a namespace: links, addresses, routes, rules and the event monitor,
//! checked against what `ip -j` reports.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton::net::{NetEvent, Netlink, Route, RouteKind, Rule, Scope, VirtualAddress};
use common::netns::{TestNet, sh};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(5);

fn ifindex(net: &TestNet, ns: &str) -> u32 {
    let v: Value = serde_json::from_str(&net.ip(ns, &["-j", "link", "show", "eth0"])).unwrap();
    v[0]["ifindex"].as_u64().unwrap() as u32
}

#[test]
fn link_lookup_and_interface_addresses_match_ip() {
    let net = TestNet::pair("link_lookup");
    let a = net.node(0).clone();
    let v: Value = serde_json::from_str(&net.ip(&a.ns, &["-j", "link", "show", "eth0"])).unwrap();
    let want_index = v[0]["ifindex"].as_u64().unwrap() as u32;
    let want_mac = v[0]["address"].as_str().unwrap().to_string();
    let ll = net
        .find_addr_where(&a.ns, "eth0", |x| x["scope"] == "link")
        .expect("link-local in ip output");
    let (info, by_index, primary, link_local, addrs, missing) = net.run_async(&a.ns, {
        move || async move {
            let nl = Netlink::new().unwrap();
            let info = nl.link_by_name("eth0").await.unwrap();
            let by_index = nl.link_by_index(info.ifindex).await.unwrap();
            let primary = nl.primary_ipv4(info.ifindex).await.unwrap();
            let ll = nl.ipv6_link_local(info.ifindex).await.unwrap();
            let addrs = nl.addresses(info.ifindex).await.unwrap();
            let missing = nl.link_by_name("nosuch0").await;
            (info, by_index, primary, ll, addrs, missing)
        }
    });
    assert_eq!(info.ifindex, want_index);
    assert_eq!(info.name, "eth0");
    let mac = info.mac.expect("veth has a MAC");
    let mac_text = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(mac_text, want_mac);
    assert!(info.up && info.admin_up);
    assert_eq!(by_index, info);
    assert_eq!(primary, Some(a.v4));
    assert_eq!(
        link_local.map(|x| x.to_string()).as_deref(),
        ll["local"].as_str()
    );
    assert!(
        addrs
            .iter()
            .any(|x| x.addr == IpAddr::V4(a.v4) && x.prefix_len == 24)
    );
    assert!(
        addrs
            .iter()
            .any(|x| x.addr == IpAddr::V6(a.v6) && x.prefix_len == 64)
    );
    assert!(
        matches!(missing, Err(baton::net::Error::NoSuchInterface(_))),
        "{missing:?}"
    );
}

#[test]
fn address_add_shows_label_and_prefix_and_delete_removes_it_idempotently() {
    let net = TestNet::pair("addr");
    let a = net.node(0).clone();
    let idx = ifindex(&net, &a.ns);
    let vip4 = VirtualAddress {
        ifindex: idx,
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)),
        prefix_len: 24,
        broadcast: Some(Ipv4Addr::new(10, 0, 0, 255)),
        label: Some("eth0:vip".into()),
        scope: Scope::Global,
    };
    let vip6 = VirtualAddress::host(idx, IpAddr::V6("fd00::100".parse().unwrap()));
    let (v4, v6) = (vip4.clone(), vip6.clone());
    net.run_async(&a.ns, move || async move {
        let nl = Netlink::new().unwrap();
        nl.add_address(&v4).await.unwrap();
        nl.add_address(&v4)
            .await
            .expect("adding twice is not an error");
        nl.add_address(&v6).await.unwrap();
        nl.add_address(&v6)
            .await
            .expect("adding twice is not an error");
    });
    let got = net
        .find_addr(&a.ns, "eth0", "10.0.0.100")
        .expect("VIP present");
    assert_eq!(got["prefixlen"], 24);
    assert_eq!(got["label"], "eth0:vip");
    assert_eq!(got["broadcast"], "10.0.0.255");
    assert_eq!(got["secondary"], true, "same subnet as the primary");
    let got6 = net
        .find_addr(&a.ns, "eth0", "fd00::100")
        .expect("v6 VIP present");
    assert_eq!(got6["prefixlen"], 128);
    assert_ne!(got6["tentative"], true, "added without DAD");

    // The label changed since the add (say, across a reload): the delete must still
    // remove the address rather than leave the VIP behind.
    let mut v4 = vip4.clone();
    v4.label = Some("eth0:renamed".into());
    let v6 = vip6.clone();
    let primary_after = net.run_async(&a.ns, move || async move {
        let nl = Netlink::new().unwrap();
        let p = nl.primary_ipv4(v4.ifindex).await.unwrap();
        nl.del_address(&v4).await.unwrap();
        nl.del_address(&v4)
            .await
            .expect("deleting twice is not an error");
        nl.del_address(&v6).await.unwrap();
        nl.del_address(&v6)
            .await
            .expect("deleting twice is not an error");
        p
    });
    assert_eq!(
        primary_after,
        Some(a.v4),
        "a secondary VIP is never the primary"
    );
    assert!(net.find_addr(&a.ns, "eth0", "10.0.0.100").is_none());
    assert!(net.find_addr(&a.ns, "eth0", "fd00::100").is_none());
    assert!(
        net.find_addr(&a.ns, "eth0", &a.v4.to_string()).is_some(),
        "primary kept"
    );
}

fn routes(net: &TestNet, ns: &str, v6: bool, table: &str) -> Vec<Value> {
    let fam = if v6 { "-6" } else { "-4" };
    let out = net.ip(ns, &[fam, "-j", "route", "show", "table", table]);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn routes_add_and_delete_in_a_table() {
    let net = TestNet::pair("route");
    let a = net.node(0).clone();
    let idx = ifindex(&net, &a.ns);
    let via = Route {
        kind: RouteKind::Unicast,
        dst: IpAddr::V4(Ipv4Addr::new(10, 9, 0, 0)),
        prefix_len: 24,
        gateway: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))),
        ifindex: Some(idx),
        src: Some(IpAddr::V4(a.v4)),
        metric: Some(50),
        table: Some(100),
        scope: None,
    };
    let blackhole = Route {
        kind: RouteKind::Blackhole,
        dst: IpAddr::V4(Ipv4Addr::new(10, 8, 0, 0)),
        prefix_len: 16,
        gateway: None,
        ifindex: None,
        src: None,
        metric: None,
        table: Some(1000),
        scope: None,
    };
    let dev6 = Route {
        kind: RouteKind::Unicast,
        dst: IpAddr::V6("fd00:9::".parse().unwrap()),
        prefix_len: 64,
        gateway: Some(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2))),
        ifindex: Some(idx),
        src: None,
        metric: Some(7),
        table: None,
        scope: None,
    };
    let all = [via.clone(), blackhole.clone(), dev6.clone()];
    let rs = all.clone();
    net.run_async(&a.ns, move || async move {
        let nl = Netlink::new().unwrap();
        for r in &rs {
            nl.add_route(r).await.unwrap();
            nl.add_route(r).await.expect("adding twice is not an error");
        }
    });
    let t100 = routes(&net, &a.ns, false, "100");
    let r = t100
        .iter()
        .find(|r| r["dst"] == "10.9.0.0/24")
        .unwrap_or_else(|| panic!("route in table 100: {t100:?}"));
    assert_eq!(r["gateway"], "10.0.0.2");
    assert_eq!(r["dev"], "eth0");
    assert_eq!(r["metric"], 50);
    assert_eq!(r["prefsrc"], a.v4.to_string());
    let t1000 = routes(&net, &a.ns, false, "1000");
    assert!(
        t1000
            .iter()
            .any(|r| r["type"] == "blackhole" && r["dst"] == "10.8.0.0/16"),
        "{t1000:?}"
    );
    let main6 = routes(&net, &a.ns, true, "main");
    assert!(
        main6
            .iter()
            .any(|r| r["dst"] == "fd00:9::/64" && r["gateway"] == "fd00::2" && r["metric"] == 7),
        "{main6:?}"
    );

    net.run_async(&a.ns, move || async move {
        let nl = Netlink::new().unwrap();
        for r in &all {
            nl.del_route(r).await.unwrap();
            nl.del_route(r)
                .await
                .expect("deleting twice is not an error");
        }
    });
    assert!(routes(&net, &a.ns, false, "100").is_empty());
    assert!(routes(&net, &a.ns, false, "1000").is_empty());
    assert!(
        !routes(&net, &a.ns, true, "main")
            .iter()
            .any(|r| r["dst"] == "fd00:9::/64")
    );
}

fn rules(net: &TestNet, ns: &str, v6: bool) -> Vec<Value> {
    let fam = if v6 { "-6" } else { "-4" };
    serde_json::from_str::<Value>(&net.ip(ns, &[fam, "-j", "rule", "show"]))
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn rules_add_and_delete() {
    let net = TestNet::pair("rule");
    let a = net.node(0).clone();
    let from = Rule {
        from: Some((IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)), 32)),
        to: None,
        table: 100,
        priority: Some(1000),
        v6: false,
    };
    let to6 = Rule {
        from: None,
        to: Some((IpAddr::V6("fd00:7::".parse().unwrap()), 48)),
        table: 300,
        priority: Some(1001),
        v6: true,
    };
    let all = [from.clone(), to6.clone()];
    let rs = all.clone();
    net.run_async(&a.ns, move || async move {
        let nl = Netlink::new().unwrap();
        for r in &rs {
            nl.add_rule(r).await.unwrap();
            nl.add_rule(r).await.expect("adding twice is not an error");
        }
    });
    let r4 = rules(&net, &a.ns, false);
    let matching: Vec<_> = r4.iter().filter(|r| r["priority"] == 1000).collect();
    assert_eq!(
        matching.len(),
        1,
        "exactly one rule, not a duplicate: {r4:?}"
    );
    assert_eq!(matching[0]["src"], "10.0.0.100");
    assert_eq!(matching[0]["table"], "100");
    let r6 = rules(&net, &a.ns, true);
    assert!(
        r6.iter().any(|r| r["priority"] == 1001
            && r["dst"] == "fd00:7::"
            && r["dstlen"] == 48
            && r["table"] == "300"),
        "{r6:?}"
    );
    net.run_async(&a.ns, move || async move {
        let nl = Netlink::new().unwrap();
        for r in &all {
            nl.del_rule(r).await.unwrap();
            nl.del_rule(r)
                .await
                .expect("deleting twice is not an error");
        }
    });
    assert!(
        !rules(&net, &a.ns, false)
            .iter()
            .any(|r| r["priority"] == 1000)
    );
    assert!(
        !rules(&net, &a.ns, true)
            .iter()
            .any(|r| r["priority"] == 1001)
    );
}

#[test]
fn set_link_down_and_up() {
    let net = TestNet::pair("setlink");
    let a = net.node(0).clone();
    let idx = ifindex(&net, &a.ns);
    let flags = |net: &TestNet| -> Vec<Value> {
        let v: Value =
            serde_json::from_str(&net.ip(&a.ns, &["-j", "link", "show", "eth0"])).unwrap();
        v[0]["flags"].as_array().cloned().unwrap()
    };
    net.run_async(&a.ns, move || async move {
        Netlink::new()
            .unwrap()
            .set_link_up(idx, false)
            .await
            .unwrap();
    });
    assert!(!flags(&net).contains(&Value::from("UP")));
    net.run_async(&a.ns, move || async move {
        Netlink::new()
            .unwrap()
            .set_link_up(idx, true)
            .await
            .unwrap();
    });
    assert!(flags(&net).contains(&Value::from("UP")));
}

#[test]
fn monitor_reports_link_down_up_and_address_changes() {
    let net = TestNet::pair("monitor");
    let a = net.node(0).clone();
    let idx = ifindex(&net, &a.ns);
    let (ready_tx, ready_rx) = mpsc::channel();
    let (ev_tx, ev_rx) = mpsc::channel();
    let watcher = net.spawn_async(&a.ns, move || async move {
        let mut mon = baton::net::Monitor::new().await.unwrap();
        assert_eq!(mon.is_up(idx), Some(true));
        ready_tx.send(()).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, mon.next()).await {
            // Link down also removes the IPv6 addresses; stop at the one the test deletes.
            let done = matches!(e, NetEvent::AddressRemoved { prefix: 32, .. });
            ev_tx.send(e).unwrap();
            if done {
                break;
            }
        }
    });
    ready_rx.recv_timeout(LIMIT).unwrap();
    let next = |want: &dyn Fn(&NetEvent) -> bool| -> NetEvent {
        let start = Instant::now();
        loop {
            let left = LIMIT.saturating_sub(start.elapsed());
            let e = ev_rx.recv_timeout(left).expect("event within deadline");
            if want(&e) {
                return e;
            }
        }
    };
    net.ip(&a.ns, &["link", "set", "eth0", "down"]);
    let down = next(&|e| matches!(e, NetEvent::LinkDown { .. }));
    assert_eq!(
        down,
        NetEvent::LinkDown {
            ifindex: idx,
            name: "eth0".into()
        }
    );
    net.ip(&a.ns, &["link", "set", "eth0", "up"]);
    let up = next(&|e| matches!(e, NetEvent::LinkUp { .. }));
    assert_eq!(
        up,
        NetEvent::LinkUp {
            ifindex: idx,
            name: "eth0".into()
        }
    );
    net.ip(&a.ns, &["addr", "add", "10.0.0.55/32", "dev", "eth0"]);
    let added = next(&|e| matches!(e, NetEvent::AddressAdded { prefix: 32, .. }));
    assert_eq!(
        added,
        NetEvent::AddressAdded {
            ifindex: idx,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 55)),
            prefix: 32
        }
    );
    net.ip(&a.ns, &["addr", "del", "10.0.0.55/32", "dev", "eth0"]);
    let removed = next(&|e| matches!(e, NetEvent::AddressRemoved { prefix: 32, .. }));
    assert_eq!(
        removed,
        NetEvent::AddressRemoved {
            ifindex: idx,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 55)),
            prefix: 32
        }
    );
    watcher.join().unwrap();
}

#[test]
fn monitor_reports_links_added_and_removed() {
    let net = TestNet::pair("monitor_links");
    let a = net.node(0).clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let watcher = net.spawn_async(&a.ns.clone(), move || async move {
        let mut mon = baton::net::Monitor::new().await.unwrap();
        ready_tx.send(()).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while let Ok(Some(e)) = tokio::time::timeout_at(deadline, mon.next()).await {
            let done = matches!(e, NetEvent::LinkRemoved { .. });
            seen.push(e);
            if done {
                break;
            }
        }
        seen
    });
    ready_rx.recv_timeout(LIMIT).unwrap();
    // A veth pair inside the namespace (the dummy driver may not be available).
    net.ip(
        &a.ns,
        &[
            "link", "add", "dummy7", "type", "veth", "peer", "name", "dummy8",
        ],
    );
    net.ip(&a.ns, &["link", "del", "dummy7"]);
    let seen = watcher.join().unwrap();
    assert!(
        seen.iter()
            .any(|e| matches!(e, NetEvent::LinkAdded { name, .. } if name == "dummy7")),
        "{seen:?}"
    );
    assert!(
        matches!(seen.last(), Some(NetEvent::LinkRemoved { name, .. }) if name == "dummy7"),
        "{seen:?}"
    );
}

/// Not a check: prints how long adding a /32 takes (median of 100). Run with
/// `cargo test --test net_netlink -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_add_address_median() {
    let net = TestNet::pair("measure");
    let a = net.node(0).clone();
    let idx = ifindex(&net, &a.ns);
    let mut times = net.run_async(&a.ns, move || async move {
        let nl = Netlink::new().unwrap();
        let mut times = Vec::new();
        for i in 0..100u8 {
            let va = VirtualAddress::host(idx, IpAddr::V4(Ipv4Addr::new(10, 1, 0, i)));
            let t = Instant::now();
            nl.add_address(&va).await.unwrap();
            times.push(t.elapsed());
            nl.del_address(&va).await.unwrap();
        }
        times
    });
    times.sort();
    println!(
        "add /32 via netlink: median {:?}, min {:?}, max {:?} (n=100)",
        times[50], times[0], times[99]
    );
    let _ = sh;
}
