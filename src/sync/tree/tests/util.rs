//! Helpers for the tree tests: building trees, filling the incoming area, snapshots.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::sync::tree::util::{hex, set_mtime};
use crate::sync::tree::{Entry, Incoming, Kind, Manifest, Scanner};

/// Writes `content` at `root/rel`, creating parent directories.
pub fn write(root: &Path, rel: &str, content: &[u8]) -> PathBuf {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    p
}

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub fn touch(path: &Path, secs: i64, nanos: u32) {
    set_mtime(path, secs, nanos).unwrap();
}

pub fn sha(content: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, content).as_ref())
}

pub fn file(path: &str, content: &[u8]) -> Entry {
    Entry {
        path: path.into(),
        kind: Kind::File {
            size: content.len() as u64,
            sha256: sha(content),
        },
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 1_600_000_000,
        mtime_ns: 0,
    }
}

pub fn dir(path: &str) -> Entry {
    Entry {
        kind: Kind::Dir,
        mode: 0o755,
        ..file(path, b"")
    }
}

pub fn link(path: &str, target: &str) -> Entry {
    Entry {
        kind: Kind::Symlink {
            target: target.into(),
        },
        mode: 0o777,
        ..file(path, b"")
    }
}

pub fn manifest(mut entries: Vec<Entry>) -> Manifest {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Manifest { entries }
}

pub fn scan(root: &Path) -> Manifest {
    let s = Scanner::new().scan(root).unwrap();
    assert!(s.skipped.is_empty(), "unexpected skips: {:?}", s.skipped);
    s.manifest
}

/// Receives every file content of `m` (read from `src`) into `incoming`, in 7-byte writes
/// so that offsets are exercised.
pub fn receive_all(src: &Path, m: &Manifest, incoming: &Incoming) {
    for e in &m.entries {
        if let Kind::File { size, sha256 } = &e.kind {
            if incoming.has(sha256) {
                continue;
            }
            let data = fs::read(src.join(&e.path)).unwrap();
            let mut r = incoming.begin(sha256, *size).unwrap();
            for (i, chunk) in data.chunks(7).enumerate() {
                r.write(i as u64 * 7, chunk).unwrap();
            }
            r.finish().unwrap();
        }
    }
}

/// Everything observable about a tree (not ctime or atime), for "unchanged" checks.
#[derive(Debug, PartialEq, Eq)]
pub struct Node {
    pub rel: PathBuf,
    pub kind: &'static str,
    pub content: Vec<u8>,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub ino: u64,
}

pub fn snapshot(root: &Path) -> Vec<Node> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let abs = root.join(&rel);
        let m = fs::symlink_metadata(&abs).unwrap();
        let (kind, content) = if m.is_dir() {
            for e in fs::read_dir(&abs).unwrap() {
                todo.push(rel.join(e.unwrap().file_name()));
            }
            ("dir", Vec::new())
        } else if m.file_type().is_symlink() {
            let t = fs::read_link(&abs).unwrap();
            ("link", t.into_os_string().into_encoded_bytes())
        } else if m.is_file() {
            ("file", fs::read(&abs).unwrap())
        } else {
            ("other", Vec::new())
        };
        out.push(Node {
            rel,
            kind,
            content,
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ino: m.ino(),
        });
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

pub fn ino(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}
