//! Data sync helpers: a pair whose nodes each see their own directory at one path, and
//! an independent view of a tree (walked with std, hashed with ring) to compare copies.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::handover::{A, B, Opts, Pair, pair_with, sync_root};
use super::{DEADLINE, Daemon};

/// One entry of a tree as a user would compare two copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    /// SHA-256 of a file's bytes, a link's target.
    pub content: String,
}

/// Every entry under `root` (not `root` itself), by relative path.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        let ft = m.file_type();
        let (kind, content) = if ft.is_symlink() {
            let t = std::fs::read_link(&p).unwrap_or_default();
            ("link", t.to_string_lossy().into_owned())
        } else if ft.is_dir() {
            ("dir", String::new())
        } else {
            ("file", sha256(&std::fs::read(&p).unwrap_or_default()))
        };
        out.insert(
            rel,
            Node {
                kind,
                mode: if ft.is_symlink() {
                    0
                } else {
                    m.mode() & 0o7777
                },
                uid: m.uid(),
                gid: m.gid(),
                mtime: if ft.is_dir() {
                    (0, 0)
                } else {
                    (m.mtime(), m.mtime_nsec())
                },
                content,
            },
        );
        if ft.is_dir() {
            walk(root, &p, out);
        }
    }
}

/// Bytes that do not compress or repeat (xorshift), unique to `seed`, so a wrong offset
/// shows and no two seeds give a content the other already holds.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A linked pair (a serving) with `sync_dir <mnt>/data instance VI_1` and a compare
/// every 2 s; each node's `data` lives in its own `root-*` (created empty).
pub fn sync_pair(test: &str, extra: &[&str]) -> (Pair, [PathBuf; 2]) {
    sync_pair_with(test, extra, None)
}

/// [`sync_pair`] with b's root on a tmpfs of `small_b` (e.g. "16m").
pub fn sync_pair_with(
    test: &str,
    extra: &[&str],
    small_b: Option<&'static str>,
) -> (Pair, [PathBuf; 2]) {
    sync_pair_opts(
        test,
        extra,
        Opts {
            small_b,
            ..Opts::default()
        },
    )
}

/// [`sync_pair`] with more of [`Opts`].
pub fn sync_pair_opts(test: &str, extra: &[&str], opts: Opts) -> (Pair, [PathBuf; 2]) {
    let mut link = vec![
        "sync_dir {mnt}/data instance VI_1".to_string(),
        "sync_interval 2".to_string(),
    ];
    link.extend(extra.iter().map(|s| s.to_string()));
    let opts = Opts {
        link,
        own_mounts: true,
        ..opts
    };
    let p = pair_with(test, "0.1", 3, true, &opts);
    let data = [
        sync_root(&p.c, A).join("data"),
        sync_root(&p.c, B).join("data"),
    ];
    (p, data)
}

/// The daemon's row for its one synced directory.
pub fn row(d: &Daemon) -> Value {
    d.status()
        .get("sync")
        .and_then(|s| s.get(0))
        .cloned()
        .unwrap_or(Value::Null)
}

pub fn generation(d: &Daemon) -> Option<u64> {
    row(d).get("generation").and_then(Value::as_u64)
}

/// Waits until `to`'s copy equals `from`'s, entry for entry; how long it took.
pub fn wait_same(p: &Pair, from: &Path, to: &Path, what: &str) -> Duration {
    let t0 = Instant::now();
    loop {
        let (a, b) = (snapshot(from), snapshot(to));
        if a == b {
            return t0.elapsed();
        }
        if t0.elapsed() > DEADLINE {
            let diff: Vec<String> = a
                .keys()
                .chain(b.keys())
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| format!("{k}: {:?} vs {:?}", a.get(k), b.get(k)))
                .collect();
            panic!(
                "{what}: copies still differ after {DEADLINE:?}:\n{}\n{}",
                diff.join("\n"),
                p.c.all_logs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `cond` holds of `d`'s sync row.
pub fn wait_row(p: &Pair, d: usize, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let r = row(p.c.d(d));
        if cond(&r) {
            return r;
        }
        assert!(
            t0.elapsed() < DEADLINE,
            "timed out waiting for {what}; last row {r:#}\n{}",
            p.c.all_logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
