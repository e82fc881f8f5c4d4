//! Manifest digest, lookups, validate on hostile manifests, serde shape and `needed`.

use super::util::{dir, file, link, manifest, sha};
use crate::sync::tree::{Entry, Incoming, Kind, Manifest, ManifestError, PathError, needed};

fn sample() -> Manifest {
    manifest(vec![
        dir("d"),
        file("d/x", b"x"),
        file("a", b"hello"),
        link("l", "d/x"),
    ])
}

fn refused(m: &Manifest) -> ManifestError {
    m.validate(1000, 100).unwrap_err()
}

#[test]
fn counts_lookup_and_digest() {
    let m = sample();
    assert_eq!(m.validate(1000, 100), Ok(()));
    assert_eq!(m.files(), 2);
    assert_eq!(m.bytes(), 6);
    assert_eq!(m.get("d/x").unwrap().path, "d/x");
    assert!(m.get("d/y").is_none());
    assert_eq!(m.digest(), sample().digest());
    assert_eq!(m.digest().len(), 64);
    // Any field change changes the digest, metadata included.
    let mut other = sample();
    other.entries[0].mtime_ns += 1;
    assert_ne!(m.digest(), other.digest());
    let mut other = sample();
    other.entries[3].uid = 1234;
    assert_ne!(m.digest(), other.digest());
    assert_ne!(Manifest::default().digest(), m.digest());
}

#[test]
fn serde_shape_is_flat_with_a_type_tag() {
    let e = file("a", b"hello");
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["type"], "file");
    assert_eq!(json["size"], 5);
    assert_eq!(json["sha256"], sha(b"hello"));
    let back: Entry = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
    let m = sample();
    let text = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), m);
}

#[test]
fn hostile_paths_are_refused() {
    for (p, want) in [
        ("../x", PathError::DotDot),
        ("/etc/passwd", PathError::Absolute),
        ("a/../../x", PathError::DotDot),
    ] {
        let m = Manifest {
            entries: vec![file(p, b"x")],
        };
        let e = refused(&m);
        assert_eq!(e.cause(), want.cause());
        assert_eq!(
            e,
            ManifestError::Path {
                path: p.into(),
                error: want
            }
        );
    }
}

#[test]
fn symlinks_leaving_the_root_are_refused() {
    for (l, t) in [("a", "../../etc"), ("a", "/etc"), ("a", "..")] {
        let m = manifest(vec![link(l, t)]);
        assert_eq!(refused(&m).cause(), "symlink_outside", "{l} -> {t}");
    }
    let m = manifest(vec![dir("d"), link("d/a", "../../etc")]);
    assert_eq!(refused(&m).cause(), "symlink_outside");
    let m = manifest(vec![dir("d"), link("d/a", "../b")]);
    assert_eq!(m.validate(1000, 100), Ok(()));
}

#[test]
fn nothing_under_a_symlink_or_a_missing_dir() {
    // "link/x" would be written through the symlink "link".
    let m = manifest(vec![link("link", "d"), dir("d"), file("link/x", b"x")]);
    assert_eq!(
        refused(&m),
        ManifestError::NoParent {
            path: "link/x".into()
        }
    );
    let m = manifest(vec![file("f", b""), file("f/x", b"x")]);
    assert_eq!(refused(&m).cause(), "no_parent");
    let m = manifest(vec![file("nodir/x", b"x")]);
    assert_eq!(refused(&m).cause(), "no_parent");
}

#[test]
fn size_hash_mode_and_count_limits() {
    let m = manifest(vec![file("big", &[0; 1001])]);
    assert_eq!(
        refused(&m),
        ManifestError::TooLarge {
            path: "big".into(),
            size: 1001,
            limit: 1000
        }
    );
    for bad in ["", "00", &"A".repeat(64), &"g".repeat(64), &"0".repeat(65)] {
        let mut e = file("f", b"");
        e.kind = Kind::File {
            size: 0,
            sha256: bad.to_string(),
        };
        assert_eq!(refused(&manifest(vec![e])).cause(), "bad_hash", "{bad:?}");
    }
    let mut e = file("f", b"");
    e.mode = 0o10644;
    assert_eq!(refused(&manifest(vec![e])).cause(), "bad_mode");
    let m = manifest((0..101).map(|i| file(&format!("f{i:03}"), b"")).collect());
    assert_eq!(
        refused(&m),
        ManifestError::TooMany {
            entries: 101,
            limit: 100
        }
    );
}

#[test]
fn order_is_checked() {
    let m = Manifest {
        entries: vec![file("b", b""), file("a", b"")],
    };
    assert_eq!(refused(&m), ManifestError::Unsorted { path: "a".into() });
    let m = Manifest {
        entries: vec![file("a", b""), file("a", b"")],
    };
    assert_eq!(refused(&m), ManifestError::Duplicate { path: "a".into() });
    // A directory sorts before its contents, and "a-b" between "a" and "a/x".
    let m = manifest(vec![dir("a"), file("a/x", b""), file("a-b", b"")]);
    assert_eq!(m.entries[1].path, "a-b");
    assert_eq!(m.validate(1000, 100), Ok(()));
}

#[test]
fn needed_lists_each_missing_content_once() {
    let tmp = tempfile::tempdir().unwrap();
    let incoming = Incoming::open(tmp.path().join("in")).unwrap();
    let local = manifest(vec![file("have", b"local")]);
    let remote = manifest(vec![
        file("a", b"local"),   // available locally, at another path
        file("b", b"new"),     // must be sent
        file("c", b"new"),     // same content again: sent once
        file("d", b"arrived"), // already received
        dir("e"),
    ]);
    let mut r = incoming.begin(&sha(b"arrived"), 7).unwrap();
    r.write(0, b"arrived").unwrap();
    r.finish().unwrap();
    let idx = needed(&local, &remote, &incoming);
    assert_eq!(idx, vec![1]);
    assert_eq!(remote.entries[1].path, "b");
}
