//! Feeds arbitrary data sync frames (type and body, as a peer's link frames 32 to 39 carry
//! them) to `baton::sync::message::decode`, and every manifest page it reads to
//! `Manifest::validate`, the gate for a peer's manifest. Nothing may panic. Beyond that:
//! a message that decodes encodes to a body that decodes to the same message; a Data
//! frame never carries more than a chunk; and a manifest that passes names only paths
//! that stay inside the directory, under parents that are directories of the manifest,
//! with symlinks that point inside.
//!
//! Input layout: byte 0 picks the frame type (32 + b % 9, so 40, unknown, too), byte 1
//! the largest file size allowed (2^(b % 41)), the rest is the body.
//!
//! Without cargo-fuzz the same body runs as a normal test on well-formed seeds and their
//! mutations: `cargo test --manifest-path fuzz/Cargo.toml --bin sync_messages`.
#![cfg_attr(not(test), no_main)]

use std::collections::HashSet;

use baton::sync::message::{CHUNK, Msg, decode};
use baton::sync::tree::{Kind, Manifest};
use libfuzzer_sys::fuzz_target;

/// The receiver's own bound on a peer's manifest.
const MAX_ENTRIES: usize = 1_000_000;

/// What a run reached, so the test can tell a corpus that exercises the checks from
/// one that never decodes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reached {
    pub decoded: bool,
    pub manifest: bool,
    pub valid: bool,
    pub refused: bool,
}

pub fn run(data: &[u8]) -> Reached {
    let mut r = Reached::default();
    let (Some(&k), Some(&m), Some(body)) = (data.first(), data.get(1), data.get(2..)) else {
        return r;
    };
    let kind = 32 + u16::from(k % 9);
    let max_file = 1u64 << (m % 41);
    let Ok(msg) = decode(kind, body) else {
        return r;
    };
    r.decoded = true;
    let (kind2, body2) = msg.encode();
    assert_eq!(kind2, kind, "{msg:?} encodes to another type");
    assert_eq!(decode(kind2, &body2).as_ref(), Ok(&msg), "no round trip");
    match &msg {
        Msg::Data(d) => {
            assert!(d.bytes.len() <= CHUNK);
            assert_eq!(body.len(), 16 + d.bytes.len());
        }
        Msg::Manifest(page) => {
            r.manifest = true;
            let manifest = Manifest {
                entries: page.entries.clone(),
            };
            let digest = manifest.digest();
            assert_eq!(digest, manifest.clone().digest(), "digest not stable");
            match manifest.validate(max_file, MAX_ENTRIES) {
                Ok(()) => {
                    r.valid = true;
                    check_valid(&manifest, max_file);
                }
                Err(e) => {
                    r.refused = true;
                    assert!(!e.cause().is_empty());
                }
            }
        }
        _ => {}
    }
    r
}

/// What passing `validate` promises, checked on its own.
fn check_valid(m: &Manifest, max_file: u64) {
    let mut dirs: HashSet<&str> = HashSet::new();
    let mut prev: Option<&str> = None;
    for e in &m.entries {
        let p = e.path.as_str();
        assert!(prev.is_none_or(|q| q < p), "unsorted or duplicate {p:?}");
        prev = Some(p);
        assert!(
            !p.is_empty() && !p.starts_with('/') && !p.contains('\0'),
            "{p:?}"
        );
        assert!(
            p.split('/').all(|n| !n.is_empty() && n != "." && n != ".."),
            "{p:?} leaves the directory"
        );
        if let Some((parent, _)) = p.rsplit_once('/') {
            assert!(dirs.contains(parent), "{p:?}: parent not a directory entry");
        }
        assert!(e.mode <= 0o7777);
        match &e.kind {
            Kind::Dir => {
                dirs.insert(p);
            }
            Kind::File { size, sha256 } => {
                assert!(*size <= max_file);
                assert_eq!(sha256.len(), 64);
            }
            Kind::Symlink { target } => {
                assert!(!target.is_empty() && !target.starts_with('/'), "{target:?}");
                // Lexically from the link's directory, never above the root.
                let mut depth = p.matches('/').count() as i64;
                for n in target.split('/') {
                    match n {
                        "" | "." => {}
                        ".." => depth -= 1,
                        _ => depth += 1,
                    }
                    assert!(depth >= 0, "{p:?} -> {target:?} leaves the directory");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    run(data);
});

#[cfg(test)]
mod tests {
    use super::*;
    use baton::sync::message::{Abort, Ack, Credit, Data, Manifest as Page, Offer, Pull, Want};
    use baton::sync::tree::Entry;

    /// splitmix64, so the corpus is the same on every run.
    fn rng(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn entry(path: &str, kind: Kind) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1_700_000_000,
            mtime_ns: 5,
        }
    }

    fn file(path: &str, size: u64) -> Entry {
        entry(
            path,
            Kind::File {
                size,
                sha256: "ab".repeat(32),
            },
        )
    }

    fn link(path: &str, target: &str) -> Entry {
        entry(
            path,
            Kind::Symlink {
                target: target.into(),
            },
        )
    }

    fn page(entries: Vec<Entry>) -> Msg {
        Msg::Manifest(Page {
            dir: "/opt/d".into(),
            generation: 7,
            digest: "00".into(),
            page: 0,
            last: true,
            transfer: 1,
            entries,
        })
    }

    /// Real messages, as a source and a receiver send them, as fuzz inputs.
    fn seeds() -> Vec<Vec<u8>> {
        let good = vec![
            entry("conf", Kind::Dir),
            file("conf/app.yaml", 10),
            link("conf/current", "app.yaml"),
            file("empty", 0),
        ];
        let msgs = vec![
            Msg::Offer(Offer {
                dir: "/opt/d".into(),
                generation: 3,
                digest: "ab".repeat(32),
                files: 2,
                bytes: 10,
                serving: true,
            }),
            Msg::Pull(Pull {
                dir: "/opt/d".into(),
                generation: 3,
                transfer: 1,
            }),
            page(good),
            page(vec![entry("a", Kind::Dir), link("a/b", "../x")]),
            page(vec![file("../escape", 1)]),
            page(vec![file("/etc/passwd", 1)]),
            page(vec![link("l", "../../etc"), link("m", "/etc")]),
            page(vec![file("big", 1 << 40)]),
            page(vec![file("b", 1), file("a", 1)]),
            page(vec![file("a/b", 1)]),
            page(vec![entry("a", Kind::Dir), entry("a", Kind::Dir)]),
            Msg::Want(Want {
                dir: "/opt/d".into(),
                generation: 3,
                transfer: 9,
                files: vec![1, 4, 0],
            }),
            Msg::Data(Data {
                transfer: 9,
                index: 1,
                offset: 65536,
                bytes: b"hello".to_vec(),
            }),
            Msg::Credit(Credit {
                transfer: 9,
                bytes: 262_144,
            }),
            Msg::Abort(Abort {
                dir: "/opt/d".into(),
                transfer: 9,
                reason: "refused".into(),
            }),
            Msg::Ack(Ack {
                dir: "/opt/d".into(),
                generation: 3,
                digest: "ab".into(),
                ok: false,
                error: Some("disk full".into()),
            }),
        ];
        msgs.iter()
            .flat_map(|m| {
                let (kind, body) = m.encode();
                let k = u8::try_from(kind - 32).unwrap_or(0);
                // Each with a tight and a generous file size limit.
                [20u8, 40].map(|lim| {
                    let mut v = vec![k, lim];
                    v.extend_from_slice(&body);
                    v
                })
            })
            .collect()
    }

    /// One or two random edits of `seed`: bit flips, bytes set to JSON-significant
    /// characters, cuts, duplicated or dropped runs, another frame type.
    fn mutate(seed: &[u8], st: &mut u64) -> Vec<u8> {
        const SPICE: &[u8] = b"{}[]\",:0123456789-./\\ \x00\xffetrufalsn";
        let mut v = seed.to_vec();
        for _ in 0..1 + rng(st) % 2 {
            let len = v.len().max(1);
            let at = usize::try_from(rng(st) % len as u64).unwrap_or(0);
            match rng(st) % 7 {
                0 => {
                    if let Some(b) = v.get_mut(at) {
                        *b ^= 1 << (rng(st) % 8);
                    }
                }
                1 => {
                    if let Some(b) = v.get_mut(at) {
                        *b = SPICE[usize::try_from(rng(st) % SPICE.len() as u64).unwrap_or(0)];
                    }
                }
                2 => v.truncate(at),
                3 => {
                    let end = (at + 1 + usize::try_from(rng(st) % 16).unwrap_or(0)).min(v.len());
                    let run = v.get(at..end).map(<[u8]>::to_vec).unwrap_or_default();
                    v.splice(at..at, run);
                }
                4 => {
                    let end = (at + 1 + usize::try_from(rng(st) % 16).unwrap_or(0)).min(v.len());
                    if at < end {
                        v.drain(at..end);
                    }
                }
                5 => {
                    if let Some(b) = v.first_mut() {
                        *b = u8::try_from(rng(st) % 9).unwrap_or(0);
                    }
                }
                _ => {
                    let c = SPICE[usize::try_from(rng(st) % SPICE.len() as u64).unwrap_or(0)];
                    v.insert(at.min(v.len()), c);
                }
            }
        }
        v
    }

    #[test]
    fn the_fuzz_body_holds_on_seeds_and_their_mutations() {
        let seeds = seeds();
        let cases = std::env::var("BATON_FUZZ_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(50_000u64);
        let mut st = 12;
        let mut reached = [0u64; 4];
        fn count(reached: &mut [u64; 4], r: Reached) {
            for (n, hit) in reached
                .iter_mut()
                .zip([r.decoded, r.manifest, r.valid, r.refused])
            {
                *n += u64::from(hit);
            }
        }
        for s in &seeds {
            count(&mut reached, run(s));
        }
        // The seeds alone: each manifest page decodes, the good ones pass, the bad fail.
        assert_eq!(reached[0], seeds.len() as u64, "a seed does not decode");
        for i in 0..cases {
            let seed = &seeds[usize::try_from(i % seeds.len() as u64).unwrap_or(0)];
            count(&mut reached, run(&mutate(seed, &mut st)));
        }
        // Plain junk too.
        for _ in 0..cases / 10 {
            let n = usize::try_from(rng(&mut st) % 64).unwrap_or(0);
            let junk: Vec<u8> = (0..n).map(|_| rng(&mut st) as u8).collect();
            count(&mut reached, run(&junk));
        }
        let [decoded, manifests, valid, refused] = reached;
        println!(
            "sync_messages: {} inputs, {decoded} decoded, {manifests} manifests, {valid} valid, {refused} refused",
            seeds.len() as u64 + cases + cases / 10
        );
        assert!(
            valid > 0 && refused > 0 && manifests == valid + refused,
            "the corpus misses a path"
        );
    }
}
