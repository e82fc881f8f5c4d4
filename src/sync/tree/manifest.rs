//! The manifest: a sorted list of everything a synced directory holds, and its checks.
//!
//! A manifest describes a tree without its root: one entry per directory, regular file
//! and symlink, with permission bits, owner and modification time. Entries are sorted by
//! path (plain `str` order, which puts every directory before its contents) and unique.
//! `validate` is the gate for a manifest received from the peer: once it passes, every
//! path can be joined onto a local directory without leaving it, every parent is a real
//! directory of the manifest (so nothing is ever written through a symlink), and every
//! symlink target stays inside the tree (see `link_target_inside`).

use std::collections::HashSet;

use ring::digest::{Context, SHA256};

use super::incoming::Incoming;
use super::path::{PathError, check_rel, link_target_inside, parent};
use super::util::{hex, is_sha256};

/// One directory, file or symlink of a tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub path: String,
    #[serde(flatten)]
    pub kind: Kind,
    /// Permission bits only (st_mode & 0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time, whole seconds.
    pub mtime: i64,
    /// Modification time, nanoseconds part.
    pub mtime_ns: u32,
}

/// What an entry is, with what defines its content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// A regular file; `sha256` is 64 lower-case hex digits.
    File {
        size: u64,
        sha256: String,
    },
    Dir,
    Symlink {
        target: String,
    },
}

impl Kind {
    /// Same kind and same content (size and hash, or target); metadata is not compared.
    pub fn same_content(&self, other: &Kind) -> bool {
        self == other
    }
}

/// A whole tree: entries sorted by path, unique; the root itself is not an entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub entries: Vec<Entry>,
}

/// Why a manifest from the peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("bad path {path:?}: {error}")]
    Path { path: String, error: PathError },
    #[error("entries out of order at {path:?}")]
    Unsorted { path: String },
    #[error("duplicate entry {path:?}")]
    Duplicate { path: String },
    #[error("{path:?} has no parent directory entry")]
    NoParent { path: String },
    #[error("symlink {path:?} points outside the directory ({target:?})")]
    SymlinkOutside { path: String, target: String },
    #[error("file {path:?} is {size} bytes, over the limit of {limit}")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("file {path:?} has a malformed sha256")]
    BadHash { path: String },
    #[error("{path:?} has mode bits outside 0o7777")]
    BadMode { path: String },
    #[error("{entries} entries, over the limit of {limit}")]
    TooMany { entries: usize, limit: usize },
}

impl ManifestError {
    /// Short snake_case name for counters and logs.
    pub fn cause(&self) -> &'static str {
        match self {
            ManifestError::Path { error, .. } => error.cause(),
            ManifestError::Unsorted { .. } => "unsorted",
            ManifestError::Duplicate { .. } => "duplicate",
            ManifestError::NoParent { .. } => "no_parent",
            ManifestError::SymlinkOutside { .. } => "symlink_outside",
            ManifestError::TooLarge { .. } => "too_large",
            ManifestError::BadHash { .. } => "bad_hash",
            ManifestError::BadMode { .. } => "bad_mode",
            ManifestError::TooMany { .. } => "too_many",
        }
    }
}

/// Feeds a length-prefixed byte string to the digest, so that no two different
/// sequences of fields encode to the same bytes.
fn put(ctx: &mut Context, bytes: &[u8]) {
    ctx.update(&(bytes.len() as u64).to_le_bytes());
    ctx.update(bytes);
}

impl Manifest {
    /// SHA-256 (hex) over a canonical encoding of every entry (path, kind, size, hash or
    /// target, mode, uid, gid, mtime, mtime_ns). Equal manifests have equal digests and,
    /// the encoding being unambiguous, different manifests have different ones.
    pub fn digest(&self) -> String {
        let mut ctx = Context::new(&SHA256);
        ctx.update(b"baton-manifest-v1\0");
        ctx.update(&(self.entries.len() as u64).to_le_bytes());
        for e in &self.entries {
            put(&mut ctx, e.path.as_bytes());
            match &e.kind {
                Kind::File { size, sha256 } => {
                    ctx.update(b"f");
                    ctx.update(&size.to_le_bytes());
                    put(&mut ctx, sha256.as_bytes());
                }
                Kind::Dir => ctx.update(b"d"),
                Kind::Symlink { target } => {
                    ctx.update(b"l");
                    put(&mut ctx, target.as_bytes());
                }
            }
            ctx.update(&e.mode.to_le_bytes());
            ctx.update(&e.uid.to_le_bytes());
            ctx.update(&e.gid.to_le_bytes());
            ctx.update(&e.mtime.to_le_bytes());
            ctx.update(&e.mtime_ns.to_le_bytes());
        }
        hex(ctx.finish().as_ref())
    }

    /// Number of File entries.
    pub fn files(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.kind, Kind::File { .. }))
            .count()
    }

    /// Sum of File sizes (saturating).
    pub fn bytes(&self) -> u64 {
        self.entries.iter().fold(0u64, |n, e| match e.kind {
            Kind::File { size, .. } => n.saturating_add(size),
            _ => n,
        })
    }

    /// The entry at `path` (binary search: the manifest must be sorted).
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// Checks a manifest from an untrusted peer; see the module doc for what passing means.
    pub fn validate(&self, max_file_size: u64, max_entries: usize) -> Result<(), ManifestError> {
        if self.entries.len() > max_entries {
            return Err(ManifestError::TooMany {
                entries: self.entries.len(),
                limit: max_entries,
            });
        }
        for (i, e) in self.entries.iter().enumerate() {
            let path = || e.path.clone();
            check_rel(&e.path).map_err(|error| ManifestError::Path {
                path: path(),
                error,
            })?;
            // Everything before `i` is already known to be sorted and unique.
            let before = &self.entries[..i];
            if let Some(prev) = before.last() {
                match prev.path.as_str().cmp(e.path.as_str()) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        return Err(ManifestError::Duplicate { path: path() });
                    }
                    std::cmp::Ordering::Greater => {
                        return Err(ManifestError::Unsorted { path: path() });
                    }
                }
            }
            if let Some(dir) = parent(&e.path) {
                let is_dir = before
                    .binary_search_by(|p| p.path.as_str().cmp(dir))
                    .ok()
                    .and_then(|j| before.get(j))
                    .is_some_and(|p| p.kind == Kind::Dir);
                if !is_dir {
                    return Err(ManifestError::NoParent { path: path() });
                }
            }
            if e.mode > 0o7777 {
                return Err(ManifestError::BadMode { path: path() });
            }
            match &e.kind {
                Kind::File { size, sha256 } => {
                    if *size > max_file_size {
                        return Err(ManifestError::TooLarge {
                            path: path(),
                            size: *size,
                            limit: max_file_size,
                        });
                    }
                    if !is_sha256(sha256) {
                        return Err(ManifestError::BadHash { path: path() });
                    }
                }
                Kind::Dir => {}
                Kind::Symlink { target } => {
                    if !link_target_inside(&e.path, target) {
                        return Err(ManifestError::SymlinkOutside {
                            path: path(),
                            target: target.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Indices (into `remote.entries`) of File entries whose content is available neither
/// from `local` (a File entry with the same sha256 and size) nor from `incoming`. These
/// are what must be transferred. A content wanted at several paths is listed once, at
/// its first entry: one transfer serves them all (the stage copies it to the others).
pub fn needed(local: &Manifest, remote: &Manifest, incoming: &Incoming) -> Vec<u32> {
    let have: HashSet<(&str, u64)> = local
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::File { size, sha256 } => Some((sha256.as_str(), *size)),
            _ => None,
        })
        .collect();
    let mut listed: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for (i, e) in remote.entries.iter().enumerate() {
        let Kind::File { size, sha256 } = &e.kind else {
            continue;
        };
        if have.contains(&(sha256.as_str(), *size))
            || listed.contains(sha256.as_str())
            || incoming.has(sha256)
        {
            continue;
        }
        // A manifest has far fewer than 2^32 entries (validate bounds them); an index
        // that does not fit is simply not listed rather than wrapped.
        if let Ok(i) = u32::try_from(i) {
            listed.insert(sha256.as_str());
            out.push(i);
        }
    }
    out
}
