//! Receiving contents: each check refuses, and a refused content leaves nothing behind.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::util::sha;
use crate::sync::tree::{Incoming, ReceiveError};

fn names(incoming: &Incoming) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(incoming.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn a_checked_content_is_stored_under_its_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let incoming = Incoming::open(tmp.path().join(".data.baton-incoming")).unwrap();
    let mode = fs::metadata(incoming.dir()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let h = sha(b"hello world");
    assert!(!incoming.has(&h));
    let mut r = incoming.begin(&h, 11).unwrap();
    r.write(0, b"hello ").unwrap();
    r.write(6, b"world").unwrap();
    assert_eq!(r.written(), 11);
    r.finish().unwrap();
    assert!(incoming.has(&h));
    assert_eq!(fs::read(incoming.path(&h)).unwrap(), b"hello world");
    assert_eq!(names(&incoming), vec![h.clone()]);
    // Empty content works too.
    incoming.begin(&sha(b""), 0).unwrap().finish().unwrap();
    assert!(incoming.has(&sha(b"")));
}

#[test]
fn each_check_refuses_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let incoming = Incoming::open(tmp.path().join("in")).unwrap();
    let h = sha(b"abcdef");

    let mut r = incoming.begin(&h, 6).unwrap();
    r.write(0, b"abc").unwrap();
    let e = r.write(4, b"def").unwrap_err();
    assert!(matches!(
        e,
        ReceiveError::Offset {
            expected: 3,
            got: 4
        }
    ));
    assert_eq!(e.cause(), "offset");
    let e = r.write(3, b"defg").unwrap_err();
    assert!(matches!(e, ReceiveError::Overrun { size: 6 }));
    assert_eq!(e.cause(), "overrun");
    assert_eq!(r.written(), 3);
    let e = r.finish().unwrap_err();
    assert!(matches!(e, ReceiveError::Short { size: 6, got: 3 }));
    assert_eq!(e.cause(), "truncated");
    assert!(!incoming.has(&h));
    assert!(names(&incoming).is_empty());

    let mut r = incoming.begin(&h, 6).unwrap();
    r.write(0, b"abcdeX").unwrap();
    let e = r.finish().unwrap_err();
    assert!(
        matches!(&e, ReceiveError::BadHash { expected, got } if *expected == h && *got == sha(b"abcdeX"))
    );
    assert_eq!(e.cause(), "hash_mismatch");
    assert!(!incoming.has(&h));
    assert!(names(&incoming).is_empty());

    // Dropped unfinished: the part goes too.
    let mut r = incoming.begin(&h, 6).unwrap();
    r.write(0, b"ab").unwrap();
    drop(r);
    assert!(names(&incoming).is_empty());
}

#[test]
fn malformed_hashes_are_never_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let incoming = Incoming::open(tmp.path().join("in")).unwrap();
    assert!(incoming.begin("../../etc/passwd", 1).is_err());
    assert!(!incoming.has("../in"));
    assert!(incoming.path("../x").starts_with(incoming.dir()));
    assert!(names(&incoming).is_empty());
}

#[test]
fn retain_and_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let incoming = Incoming::open(tmp.path().join("in")).unwrap();
    for c in [b"one".as_slice(), b"two", b"three"] {
        let mut r = incoming.begin(&sha(c), c.len() as u64).unwrap();
        r.write(0, c).unwrap();
        r.finish().unwrap();
    }
    let part = incoming.begin(&sha(b"four"), 4).unwrap();
    let keep: HashSet<String> = [sha(b"two")].into_iter().collect();
    incoming.retain(&keep).unwrap();
    assert_eq!(names(&incoming), [sha(b"two")]);
    drop(part);
    incoming.clear().unwrap();
    assert!(names(&incoming).is_empty());
    // Reopening an existing store is fine.
    Incoming::open(incoming.dir().to_path_buf()).unwrap();
}
