//! Property tests for the VRRP wire layer: every valid advert survives emit then parse, and
//! no byte sequence, however mangled, makes parsing panic.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton::wire::{Advert, Auth, Centis, ChecksumMode, Packet, Version, peek_version, peek_vrid};
use proptest::prelude::*;

fn any_v4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
}

fn any_v6() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
}

fn any_mode() -> impl Strategy<Value = ChecksumMode> {
    prop_oneof![
        Just(ChecksumMode::PseudoHeader),
        Just(ChecksumMode::V2Style)
    ]
}

fn any_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any_v4(), any_v6()]
}

/// A valid advert with the source and destination that can carry it.
fn valid_advert() -> impl Strategy<Value = (Advert, IpAddr, IpAddr)> {
    let v2 = (
        any::<u8>(),
        any::<u8>(),
        1u8..=255,
        prop_oneof![
            Just(Auth::None),
            any::<[u8; 8]>().prop_map(Auth::Pass),
            (3u8..=255).prop_map(Auth::Unknown),
        ],
        prop::collection::vec(any_v4(), 0..=40),
        any_v4(),
        any_v4(),
    )
        .prop_map(|(vrid, priority, secs, auth, addresses, src, dst)| {
            let advert = Advert {
                version: Version::V2,
                vrid,
                priority,
                max_advert_int: Centis::from_secs(secs),
                auth,
                addresses,
            };
            (advert, src, dst)
        });
    let v3_v4 = (prop::collection::vec(any_v4(), 0..=40), any_v4(), any_v4());
    let v3_v6 = (prop::collection::vec(any_v6(), 0..=20), any_v6(), any_v6());
    let v3 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=0x0fff,
        prop_oneof![v3_v4, v3_v6],
    )
        .prop_map(|(vrid, priority, cs, (addresses, src, dst))| {
            let advert = Advert {
                version: Version::V3,
                vrid,
                priority,
                max_advert_int: Centis(cs),
                auth: Auth::None,
                addresses,
            };
            (advert, src, dst)
        });
    prop_oneof![v2, v3]
}

/// Reads every accessor of a checked packet; none may panic.
fn touch_everything(bytes: &[u8]) {
    let _ = peek_vrid(bytes);
    let _ = peek_version(bytes);
    if let Ok(p) = Packet::new_checked(bytes) {
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
        let _ = (p.body(), p.v2_auth_data());
        for i in [0, 1, 255, usize::MAX / 4, usize::MAX] {
            let _ = (p.address_v4(i), p.address_v6(i));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn emit_then_parse_gives_the_same_advert((advert, src, dst) in valid_advert(), mode in any_mode()) {
        let bytes = advert.to_bytes(src, dst, mode).unwrap();
        prop_assert_eq!(bytes.len(), advert.buffer_len());
        prop_assert_eq!(peek_vrid(&bytes), Some(advert.vrid));
        prop_assert_eq!(peek_version(&bytes), Some(advert.version));
        prop_assert_eq!(Advert::parse(&bytes, src, dst, mode).unwrap(), advert);
    }

    #[test]
    fn any_single_bit_flip_is_refused(
        (advert, src, dst) in valid_advert(),
        mode in any_mode(),
        bit in any::<prop::sample::Index>(),
    ) {
        let mut bytes = advert.to_bytes(src, dst, mode).unwrap();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(Advert::parse(&bytes, src, dst, mode).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        src in any_addr(),
        dst in any_addr(),
        mode in any_mode(),
    ) {
        touch_everything(&bytes);
        if let Ok(advert) = Advert::parse(&bytes, src, dst, mode) {
            // Whatever parses can be sent again and means the same thing.
            let again = advert.to_bytes(src, dst, mode).unwrap();
            prop_assert_eq!(Advert::parse(&again, src, dst, mode).unwrap(), advert);
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        (advert, src, dst) in valid_advert(),
        mode in any_mode(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        new_len in prop::option::of(0usize..800),
        refill in any::<bool>(),
    ) {
        let mut bytes = advert.to_bytes(src, dst, mode).unwrap();
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        if let Some(len) = new_len {
            bytes.resize(len, 0);
        }
        // Half the time make the checksum right again, so the checks behind it are reached.
        if refill && let Ok(mut p) = Packet::new_checked(&mut bytes[..]) {
            let _ = p.fill_checksum(src, dst, mode);
        }
        touch_everything(&bytes);
        if let Ok(parsed) = Advert::parse(&bytes, src, dst, mode) {
            let again = parsed.to_bytes(src, dst, mode).unwrap();
            prop_assert_eq!(Advert::parse(&again, src, dst, mode).unwrap(), parsed);
        }
    }
}
