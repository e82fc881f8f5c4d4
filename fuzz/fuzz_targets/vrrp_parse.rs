//! Feeds arbitrary bytes to the VRRP wire layer: `Packet::new_checked`, every accessor,
//! `Advert::parse`, and (for whatever parses) emit then parse again.
//!
//! Input layout: byte 0 picks the address family and checksum mode, the next 32 bytes are
//! the source and destination addresses, the rest is the VRRP message.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton::wire::{Advert, ChecksumMode, Packet, peek_version, peek_vrid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 33 {
        return;
    }
    let (ctl, rest) = data.split_at(1);
    let (addrs, msg) = rest.split_at(32);
    let v6 = |b: &[u8]| -> IpAddr {
        let mut o = [0u8; 16];
        o.copy_from_slice(b);
        IpAddr::V6(Ipv6Addr::from(o))
    };
    let v4 = |b: &[u8]| IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]));
    let (src, dst) = match ctl[0] & 3 {
        0 => (v4(&addrs[..4]), v4(&addrs[16..20])),
        1 => (v6(&addrs[..16]), v6(&addrs[16..])),
        2 => (v4(&addrs[..4]), v6(&addrs[16..])),
        _ => (v6(&addrs[..16]), v4(&addrs[16..20])),
    };
    let mode = if ctl[0] & 4 == 0 {
        ChecksumMode::PseudoHeader
    } else {
        ChecksumMode::V2Style
    };

    let _ = (peek_vrid(msg), peek_version(msg));
    if let Ok(p) = Packet::new_checked(msg) {
        let _ = (
            p.version(),
            p.packet_type(),
            p.vrid(),
            p.priority(),
            p.addr_count(),
        );
        let _ = (
            p.v2_auth_type(),
            p.v2_adver_int_secs(),
            p.v3_max_adver_int(),
            p.checksum(),
        );
        let _ = (
            p.body(),
            p.v2_auth_data(),
            p.verify_checksum(src, dst, mode),
        );
        for i in 0..=usize::from(p.addr_count()) + 1 {
            let _ = (p.address_v4(i), p.address_v6(i));
        }
    }
    if let Ok(advert) = Advert::parse(msg, src, dst, mode) {
        let bytes = advert
            .to_bytes(src, dst, mode)
            .expect("a parsed advert must emit");
        assert_eq!(Advert::parse(&bytes, src, dst, mode), Ok(advert));
    }
});
