//! Golden adverts captured from the real keepalived 2.2.7 (tests/data/wire/*.hex, made by
//! tests/data/wire/capture.sh): each parses to the advert its config describes and emits
//! back to the same bytes, checksum included.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use baton::wire::vrrp::MULTICAST_V4;
use baton::wire::{Advert, Auth, Centis, ChecksumMode, Error, Version, peek_vrid};

struct Golden {
    header: Vec<String>,
    src: IpAddr,
    dst: IpAddr,
    bytes: Vec<u8>,
}

fn load(name: &str) -> Golden {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests/data/wire",
        &format!("{name}.hex"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut header, mut hex) = (Vec::new(), String::new());
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('#') {
            header.push(h.trim().to_string());
        } else {
            hex.push_str(line);
            hex.push(' ');
        }
    }
    let field = |key: &str| {
        header
            .iter()
            .find_map(|h| h.strip_prefix(key))
            .unwrap_or_else(|| panic!("{name}: no '{key}' header"))
            .trim()
            .parse::<IpAddr>()
            .unwrap()
    };
    let bytes = hex
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    Golden {
        src: field("src:"),
        dst: field("dst:"),
        bytes,
        header: header.clone(),
    }
}

fn v4(d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 201, 0, d))
}

/// Parses, compares with `expected`, and re-emits byte for byte.
fn check(name: &str, mode: ChecksumMode, expected: Advert) -> Golden {
    let g = load(name);
    assert!(
        g.header.iter().any(|h| h.contains("Keepalived v2.2.7")),
        "{name}: header must name the keepalived that produced it"
    );
    let advert = Advert::parse(&g.bytes, g.src, g.dst, mode).unwrap();
    assert_eq!(advert, expected, "{name}");
    assert_eq!(peek_vrid(&g.bytes), Some(expected.vrid));
    assert_eq!(advert.buffer_len(), g.bytes.len(), "{name}");
    assert_eq!(
        advert.to_bytes(g.src, g.dst, mode).unwrap(),
        g.bytes,
        "{name}: re-emit"
    );
    g
}

#[test]
fn v2_multicast_with_pass_auth() {
    check(
        "v2_mcast_pass",
        ChecksumMode::PseudoHeader,
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            max_advert_int: Centis(100),
            auth: Auth::from_password(b"s3cret"),
            addresses: vec![v4(100)],
        },
    );
}

#[test]
fn v2_multicast_without_auth_keeps_eight_zero_bytes() {
    let g = check(
        "v2_mcast_noauth",
        ChecksumMode::PseudoHeader,
        Advert {
            version: Version::V2,
            vrid: 7,
            priority: 100,
            max_advert_int: Centis(300),
            auth: Auth::None,
            addresses: vec![v4(100), v4(101)],
        },
    );
    assert_eq!(g.bytes.len(), 8 + 2 * 4 + 8);
}

#[test]
fn v2_unicast() {
    let g = check(
        "v2_unicast",
        ChecksumMode::PseudoHeader,
        Advert {
            version: Version::V2,
            vrid: 52,
            priority: 200,
            max_advert_int: Centis(100),
            auth: Auth::Pass(*b"12345678"),
            addresses: vec![v4(110)],
        },
    );
    assert_eq!(g.dst, v4(2));
    // v2 has no pseudo-header: the destination does not enter the checksum.
    let mcast = IpAddr::V4(MULTICAST_V4);
    assert!(Advert::parse(&g.bytes, g.src, mcast, ChecksumMode::PseudoHeader).is_ok());
}

fn v3_ipv4_mcast_advert() -> Advert {
    Advert {
        version: Version::V3,
        vrid: 60,
        priority: 120,
        // keepalived advert_int 0.05 is 5 centiseconds on the wire.
        max_advert_int: Centis(5),
        auth: Auth::None,
        addresses: vec![v4(120), v4(121), v4(122)],
    }
}

#[test]
fn v3_ipv4_multicast_sub_second_interval() {
    let g = check(
        "v3_ipv4_mcast",
        ChecksumMode::PseudoHeader,
        v3_ipv4_mcast_advert(),
    );
    // keepalived 2.2.7 includes the pseudo-header: the other mode refuses it.
    assert_eq!(
        Advert::parse(&g.bytes, g.src, g.dst, ChecksumMode::V2Style),
        Err(Error::Checksum)
    );
}

#[test]
fn v3_ipv4_unicast_checksum_uses_the_peer_address() {
    let g = check(
        "v3_ipv4_unicast",
        ChecksumMode::PseudoHeader,
        Advert {
            version: Version::V3,
            vrid: 61,
            priority: 254,
            max_advert_int: Centis(250),
            auth: Auth::None,
            addresses: vec![v4(130)],
        },
    );
    assert_eq!(g.dst, v4(2));
    let mcast = IpAddr::V4(MULTICAST_V4);
    assert_eq!(
        Advert::parse(&g.bytes, g.src, mcast, ChecksumMode::PseudoHeader),
        Err(Error::Checksum)
    );
}

#[test]
fn v3_ipv6_multicast() {
    let g = check(
        "v3_ipv6_mcast",
        ChecksumMode::PseudoHeader,
        Advert {
            version: Version::V3,
            vrid: 62,
            priority: 110,
            max_advert_int: Centis(100),
            auth: Auth::None,
            addresses: vec![
                "fd00:b::100".parse().unwrap(),
                "fd00:b::101".parse().unwrap(),
            ],
        },
    );
    assert_eq!(g.dst, "ff02::12".parse::<IpAddr>().unwrap());
    // IPv6 always carries the pseudo-header, whatever the configured IPv4 mode.
    assert!(Advert::parse(&g.bytes, g.src, g.dst, ChecksumMode::V2Style).is_ok());
}

#[test]
fn v3_priority_zero_on_shutdown() {
    check(
        "v3_ipv4_priority0",
        ChecksumMode::PseudoHeader,
        Advert {
            version: Version::V3,
            vrid: 63,
            priority: 0,
            max_advert_int: Centis(100),
            auth: Auth::None,
            addresses: vec![v4(140)],
        },
    );
}

/// Derived, not captured (keepalived 2.2.7 predates `v3_checksum_as_v2`): the captured v3
/// advert with its checksum recomputed by capture.sh's own code over the message alone.
#[test]
fn v3_ipv4_checksum_as_v2() {
    let g = load("v3_ipv4_mcast_checksum_as_v2");
    assert!(g.header.iter().any(|h| h.starts_with("DERIVED")));
    let advert = Advert::parse(&g.bytes, g.src, g.dst, ChecksumMode::V2Style).unwrap();
    assert_eq!(advert, v3_ipv4_mcast_advert());
    assert_eq!(
        advert
            .to_bytes(g.src, g.dst, ChecksumMode::V2Style)
            .unwrap(),
        g.bytes
    );
    assert_eq!(
        Advert::parse(&g.bytes, g.src, g.dst, ChecksumMode::PseudoHeader),
        Err(Error::Checksum)
    );
}

/// keepalived's `old_unicast_checksum` (the pre-1.3.6 algorithm) puts the multicast group,
/// not the peer, into the pseudo-header of a unicast advert. We refuse it as a checksum
/// error when checked against the real destination, and a caller that wants to accept old
/// peers can retry with the group address.
#[test]
fn v3_ipv4_unicast_old_keepalived_checksum() {
    let g = load("v3_ipv4_unicast_oldchksum");
    assert_eq!(
        Advert::parse(&g.bytes, g.src, g.dst, ChecksumMode::PseudoHeader),
        Err(Error::Checksum)
    );
    let mcast = IpAddr::V4(MULTICAST_V4);
    let advert = Advert::parse(&g.bytes, g.src, mcast, ChecksumMode::PseudoHeader).unwrap();
    assert_eq!((advert.vrid, advert.priority), (64, 150));
    assert_eq!(advert.addresses, vec![v4(150)]);
    assert_eq!(
        advert
            .to_bytes(g.src, mcast, ChecksumMode::PseudoHeader)
            .unwrap(),
        g.bytes
    );
}
