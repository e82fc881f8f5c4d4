//! Scanning real trees: what is recorded, what is skipped, and what is re-hashed.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;

use nix::sys::stat::Mode;

use super::util::{chmod, sha, touch, write};
use crate::sync::tree::{Kind, Manifest, Scanner};

/// The scan recorded `name` as a file of exactly these bytes.
fn assert_holds(manifest: &Manifest, name: &str, bytes: &[u8]) {
    let kind = manifest.get(name).map(|e| e.kind.clone());
    let size = bytes.len() as u64;
    let sha256 = sha(bytes);
    assert_eq!(kind, Some(Kind::File { size, sha256 }), "{name}");
}

#[test]
fn records_files_dirs_and_symlinks_and_skips_what_cannot_travel() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    let a = write(&root, "a.txt", b"hello");
    chmod(&a, 0o640);
    touch(&a, 1_600_000_000, 123_456_789);
    std::os::unix::fs::lchown(&a, Some(1234), Some(1235)).unwrap();
    write(&root, "sub/deep/b.bin", &[7u8; 200_000]);
    symlink("sub/deep/b.bin", root.join("link")).unwrap();
    symlink("../a.txt", root.join("sub/up")).unwrap();
    symlink("/etc/passwd", root.join("abs")).unwrap();
    symlink("../../outside", root.join("sub/esc")).unwrap();
    nix::unistd::mkfifo(&root.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
    fs::write(root.join(OsStr::from_bytes(b"bad\xffname")), b"x").unwrap();

    let s = Scanner::new().scan(&root).unwrap();
    let paths: Vec<&str> = s.manifest.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "a.txt",
            "link",
            "sub",
            "sub/deep",
            "sub/deep/b.bin",
            "sub/up"
        ]
    );
    assert_eq!(s.manifest.validate(u64::MAX, usize::MAX), Ok(()));
    let a = s.manifest.get("a.txt").unwrap();
    assert_eq!(
        a.kind,
        Kind::File {
            size: 5,
            sha256: sha(b"hello")
        }
    );
    assert_eq!((a.mode, a.uid, a.gid), (0o640, 1234, 1235));
    assert_eq!((a.mtime, a.mtime_ns), (1_600_000_000, 123_456_789));
    assert_eq!(
        s.manifest.get("link").unwrap().kind,
        Kind::Symlink {
            target: "sub/deep/b.bin".into()
        }
    );
    assert_eq!(s.manifest.get("sub").unwrap().kind, Kind::Dir);
    assert_eq!(s.hashed_bytes, 200_005);

    let mut skipped: Vec<&str> = s.skipped.iter().map(|(p, _)| p.as_str()).collect();
    skipped.sort();
    assert_eq!(skipped, ["abs", "bad\u{fffd}name", "fifo", "sub/esc"]);
    let reason = |p: &str| s.skipped.iter().find(|(q, _)| q == p).unwrap().1.clone();
    assert_eq!(reason("fifo"), "fifo");
    assert!(reason("bad\u{fffd}name").contains("UTF-8"));
    assert!(reason("abs").contains("leaves the directory"));
}

#[test]
fn unchanged_tree_hashes_nothing_and_a_change_rehashes_just_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "one", &[1u8; 100_000]);
    write(root, "d/two", &[2u8; 50_000]);
    write(root, "d/three", b"three");
    // Trusting: these files changed just now, which a real scanner does not trust yet
    // (see the racy tests below).
    let mut scanner = Scanner::trusting();
    let first = scanner.scan(root).unwrap();
    assert_eq!(first.hashed_bytes, 150_005);

    let second = scanner.scan(root).unwrap();
    assert_eq!(second.hashed_bytes, 0);
    assert_eq!(second.manifest, first.manifest);

    write(root, "d/two", &[3u8; 40_000]);
    let third = scanner.scan(root).unwrap();
    assert_eq!(third.hashed_bytes, 40_000);
    assert_holds(&third.manifest, "d/two", &[3u8; 40_000]);

    // A removed file leaves the manifest; forget() makes everything hash again.
    fs::remove_file(root.join("one")).unwrap();
    let fourth = scanner.scan(root).unwrap();
    assert!(fourth.manifest.get("one").is_none());
    assert_eq!(fourth.hashed_bytes, 0);
    scanner.forget();
    assert_eq!(scanner.scan(root).unwrap().hashed_bytes, 40_005);
}

#[test]
fn a_new_file_under_an_old_name_is_rehashed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let p = write(root, "f", b"aaaa");
    let mut scanner = Scanner::trusting();
    scanner.scan(root).unwrap();
    // Replace by rename (new inode), keeping size and mtime identical.
    let meta = fs::metadata(&p).unwrap();
    let q = write(tmp.path(), "g", b"bbbb");
    use std::os::unix::fs::MetadataExt;
    touch(&q, meta.mtime(), meta.mtime_nsec() as u32);
    fs::rename(&q, &p).unwrap();
    let s = scanner.scan(root).unwrap();
    assert_eq!(s.hashed_bytes, 4);
    assert_holds(&s.manifest, "f", b"bbbb");
}

#[test]
fn root_must_be_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut scanner = Scanner::new();
    assert!(scanner.scan(&tmp.path().join("missing")).is_err());
    let f = write(tmp.path(), "file", b"x");
    assert!(scanner.scan(&f).is_err());
    symlink(tmp.path(), tmp.path().join("ln")).unwrap();
    assert!(scanner.scan(&tmp.path().join("ln")).is_err());
    assert!(scanner.scan(tmp.path()).is_ok());
}

#[test]
fn a_rewrite_within_the_same_timestamp_is_still_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let p = write(root, "f", b"aaaa");
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(&p).unwrap();
    let mut scanner = Scanner::new();
    assert_eq!(scanner.scan(root).unwrap().hashed_bytes, 4);
    // Same inode, same size, mtime put back: only the (coarse) ctime could tell, and it
    // may well not have moved. The first hash was not trusted, so this one re-reads.
    fs::write(&p, b"bbbb").unwrap();
    touch(&p, meta.mtime(), meta.mtime_nsec() as u32);
    let s = scanner.scan(root).unwrap();
    assert_eq!(s.hashed_bytes, 4);
    assert_holds(&s.manifest, "f", b"bbbb");
}

#[test]
fn a_settled_tree_is_hashed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "f", b"settled");
    std::thread::sleep(crate::sync::tree::RACY_WINDOW + std::time::Duration::from_millis(200));
    let mut scanner = Scanner::new();
    assert_eq!(scanner.scan(root).unwrap().hashed_bytes, 7);
    assert_eq!(scanner.scan(root).unwrap().hashed_bytes, 0);
}
