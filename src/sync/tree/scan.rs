//! Scanning a directory into a manifest, cheaply enough to repeat often.
//!
//! The scan never follows symlinks (lstat only; a symlink is recorded with its target)
//! and never loads a file whole (contents stream through SHA-256 in 64 KiB reads). A
//! `Scanner` remembers, per relative path, the hash of each file with the (device,
//! inode, size, mtime, ctime) it had; a later scan re-hashes only files whose tuple
//! changed, so an unchanged tree costs a walk and one lstat per entry.
//!
//! A remembered hash is trusted only if the file's ctime was at least `RACY_WINDOW`
//! older than the moment it was hashed. File timestamps are coarse (a kernel tick, or a
//! second or two on some filesystems), so a file rewritten with the same size in the same
//! tick as its previous change would keep the very same stamp; hashing a file that
//! recently changed therefore does not make its hash trusted, and the next scan hashes it
//! again (by then its ctime is old enough, or it changed and the stamp shows it). After a
//! switch every file's ctime is fresh (links made and removed), so the first scan after
//! it re-reads the tree.
//!
//! What cannot travel is skipped and reported in `Scan::skipped` with a reason: sockets,
//! fifos, devices, names that are not UTF-8 or fail `check_rel`, symlinks whose target
//! fails `link_target_inside`, and unreadable entries. A file that vanishes or changes
//! while it is hashed is skipped with "changed while scanning": the caller rescans later.
//! Every entry the scan emits has a parent directory entry (a skipped directory takes its
//! contents with it), so the manifest passes `Manifest::validate`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::at;
use super::manifest::{Entry, Kind, Manifest};
use super::path::{check_rel, link_target_inside};
use super::util::{mtime_of, stream};

/// The reason given for a file that changed or vanished while it was being scanned.
pub const CHANGED: &str = "changed while scanning";

/// How much older than the moment of hashing a file's ctime must be for its hash to be
/// reused by later scans: two seconds covers the coarsest timestamps (FAT's 2 s).
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What identifies a file version well enough to trust a remembered hash.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    /// Whether the last change is at least `window` older than `at`.
    fn settled(&self, at: SystemTime, window: Duration) -> bool {
        let (secs, nanos) = self.ctime;
        let (Ok(secs), Ok(nanos)) = (u64::try_from(secs), u32::try_from(nanos)) else {
            return true; // before 1970: certainly not a change made just now
        };
        let ctime = UNIX_EPOCH + Duration::new(secs, nanos);
        ctime.checked_add(window).is_some_and(|t| t < at)
    }

    fn of(m: &Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// A hash remembered for a path, and whether it may be reused (see the module doc).
#[derive(Debug, Clone)]
struct Known {
    stamp: Stamp,
    sha256: String,
    trusted: bool,
}

/// Scans directories, remembering file hashes between scans.
#[derive(Debug)]
pub struct Scanner {
    cache: HashMap<String, Known>,
    window: Duration,
    /// For the next scan only: what files should hold (size, mtime, hash), see
    /// [`Scanner::expect`].
    expected: HashMap<String, (u64, (i64, i64), String)>,
}

impl Default for Scanner {
    fn default() -> Scanner {
        Scanner {
            cache: HashMap::new(),
            window: RACY_WINDOW,
            expected: HashMap::new(),
        }
    }
}

/// The result of one scan.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub manifest: Manifest,
    /// (relative path, reason) of what was left out; non-UTF-8 names are shown lossily.
    pub skipped: Vec<(String, String)>,
    /// Bytes read through the hasher in this scan (0 for an unchanged tree).
    pub hashed_bytes: u64,
}

/// How hashing one file went.
enum Hashed {
    Done(Known),
    Skip(String),
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// A scanner that trusts a hash however recent the file's change (tests only: they
    /// create trees and scan them at once, and change sizes rather than rely on time).
    #[cfg(test)]
    pub(crate) fn trusting() -> Scanner {
        Scanner {
            window: Duration::ZERO,
            ..Scanner::default()
        }
    }

    /// Drops every remembered hash: the next scan re-hashes everything.
    pub fn forget(&mut self) {
        self.cache.clear();
        self.expected.clear();
    }

    /// Tells the next scan what a generation just switched in holds: a file whose size
    /// and mtime are the manifest's is taken to hold its hash without being read, and
    /// that hash is trusted from then on. Without this the first scan after a switch
    /// re-reads the whole tree (every ctime is fresh). It is for the copy's node, whose
    /// service is stopped and whose files were hashed as they arrived: only a rewrite of
    /// the same size and mtime within one ctime tick of the scan would go unseen.
    pub fn expect(&mut self, manifest: &Manifest) {
        self.cache.clear();
        self.expected = (manifest.entries.iter())
            .filter_map(|e| match &e.kind {
                Kind::File { size, sha256 } => Some((
                    e.path.clone(),
                    (*size, (e.mtime, i64::from(e.mtime_ns)), sha256.clone()),
                )),
                _ => None,
            })
            .collect();
    }

    /// Scans `root`, which must exist and be a directory (not a symlink to one).
    pub fn scan(&mut self, root: &Path) -> io::Result<Scan> {
        let meta = fs::symlink_metadata(root)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        // Everything below the root is reached through descriptors (see `at`).
        let root_fd = at::open_root(root)?;
        let mut scan = Scan::default();
        let mut seen: HashMap<String, Known> = HashMap::new();
        // Directories still to read, by relative path ("" for the root).
        let mut todo: Vec<String> = vec![String::new()];
        while let Some(rel_dir) = todo.pop() {
            let listed = at::open_dir_path(&root_fd, Path::new(&rel_dir))
                .and_then(|fd| at::names(&fd).map(|names| (fd, names)));
            let (dir_fd, names) = match listed {
                Ok(listed) => listed,
                // The root itself must be readable; anything below is skipped.
                Err(e) if rel_dir.is_empty() => return Err(e),
                Err(e) => {
                    // Drop the directory entry itself: its contents are unknown, and an
                    // empty directory in the manifest would delete them on the peer.
                    scan.manifest.entries.retain(|x| x.path != rel_dir);
                    scan.skipped.push((rel_dir, open_reason(&e)));
                    continue;
                }
            };
            for name in names {
                let shown = String::from_utf8_lossy(name.as_bytes()).into_owned();
                let rel_shown = join(&rel_dir, &shown);
                let Some(name) = name.to_str() else {
                    scan.skipped.push((rel_shown, "name is not UTF-8".into()));
                    continue;
                };
                let rel = join(&rel_dir, name);
                if let Err(e) = check_rel(&rel) {
                    scan.skipped.push((rel, e.to_string()));
                    continue;
                }
                let meta = match at::lstat(&dir_fd, name.as_ref()) {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        scan.skipped.push((rel, CHANGED.into()));
                        continue;
                    }
                    Err(e) => {
                        scan.skipped.push((rel, e.to_string()));
                        continue;
                    }
                };
                let ft = meta.file_type();
                let kind = if ft.is_dir() {
                    todo.push(rel.clone());
                    Kind::Dir
                } else if ft.is_symlink() {
                    match symlink_kind(&dir_fd, name.as_ref(), &rel) {
                        Ok(kind) => kind,
                        Err(reason) => {
                            scan.skipped.push((rel, reason));
                            continue;
                        }
                    }
                } else if ft.is_file() {
                    match self.hash(&dir_fd, name.as_ref(), &rel, &meta, &mut scan.hashed_bytes) {
                        Hashed::Done(known) => {
                            let sha256 = known.sha256.clone();
                            seen.insert(rel.clone(), known);
                            Kind::File {
                                size: meta.size(),
                                sha256,
                            }
                        }
                        Hashed::Skip(reason) => {
                            scan.skipped.push((rel, reason));
                            continue;
                        }
                    }
                } else {
                    scan.skipped.push((rel, special_reason(&meta).into()));
                    continue;
                };
                let (mtime, mtime_ns) = mtime_of(&meta);
                scan.manifest.entries.push(Entry {
                    path: rel,
                    kind,
                    mode: meta.mode() & 0o7777,
                    uid: meta.uid(),
                    gid: meta.gid(),
                    mtime,
                    mtime_ns,
                });
            }
        }
        // A directory's contents are listed only after it is read, so a directory that
        // failed to read had nothing below it listed: dropping its own entry sufficed.
        scan.manifest.entries.sort_by(|a, b| a.path.cmp(&b.path));
        // Entries for paths gone (or skipped) leave the cache.
        self.cache = seen;
        self.expected.clear();
        Ok(scan)
    }

    /// The hash of the regular file `name` of `dir`, from the cache if its stamp is
    /// unchanged.
    fn hash(
        &self,
        dir: &File,
        name: &OsStr,
        rel: &str,
        meta: &Metadata,
        hashed: &mut u64,
    ) -> Hashed {
        let stamp = Stamp::of(meta);
        // (No let-chains: the crate declares Rust 1.85.)
        if let Some(known) = self.cache.get(rel) {
            if known.trusted && known.stamp == stamp {
                return Hashed::Done(known.clone());
            }
        }
        if let Some((size, mtime, sha256)) = self.expected.get(rel) {
            if *size == stamp.size && *mtime == stamp.mtime {
                return Hashed::Done(Known {
                    stamp,
                    sha256: sha256.clone(),
                    trusted: true,
                });
            }
        }
        // Taken before reading: a change after this instant gets a later ctime.
        let hashed_at = SystemTime::now();
        let mut file = match at::open_file(dir, name) {
            Ok(f) => f,
            Err(e) => return Hashed::Skip(open_reason(&e)),
        };
        let result = hash_open(&mut file, &stamp, hashed);
        match result {
            Ok(Some(sha256)) => Hashed::Done(Known {
                trusted: stamp.settled(hashed_at, self.window),
                stamp,
                sha256,
            }),
            Ok(None) => Hashed::Skip(CHANGED.into()),
            Err(e) => Hashed::Skip(e.to_string()),
        }
    }
}

/// Hashes an opened file; None if it is not the file `stamp` describes, before or after.
fn hash_open(file: &mut File, stamp: &Stamp, hashed: &mut u64) -> io::Result<Option<String>> {
    let same = |m: &Metadata| {
        m.is_file()
            && m.dev() == stamp.dev
            && m.ino() == stamp.ino
            && m.size() == stamp.size
            && (m.mtime(), m.mtime_nsec()) == stamp.mtime
    };
    if !same(&file.metadata()?) {
        return Ok(None);
    }
    let (n, sha256) = stream(file, None)?;
    *hashed = hashed.saturating_add(n);
    if n != stamp.size || !same(&file.metadata()?) {
        return Ok(None);
    }
    Ok(Some(sha256))
}

/// Why opening a file or directory failed, as a skip reason.
fn open_reason(e: &io::Error) -> String {
    // ENOENT: gone since the lstat; ELOOP or ENOTDIR: replaced (by a symlink, say).
    let replaced = [nix::libc::ELOOP, nix::libc::ENOTDIR];
    if e.kind() == io::ErrorKind::NotFound
        || e.raw_os_error().is_some_and(|n| replaced.contains(&n))
    {
        CHANGED.into()
    } else {
        e.to_string()
    }
}

/// The Kind of the symlink `name` of `dir`, or why it cannot travel.
fn symlink_kind(dir: &File, name: &OsStr, rel: &str) -> Result<Kind, String> {
    let target = match at::readlink(dir, name) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(CHANGED.into()),
        Err(e) => return Err(e.to_string()),
    };
    let Some(target) = target.to_str() else {
        return Err("symlink target is not UTF-8".into());
    };
    if !link_target_inside(rel, target) {
        return Err(format!("symlink target {target:?} leaves the directory"));
    }
    Ok(Kind::Symlink {
        target: target.to_owned(),
    })
}

/// The skip reason for a special file.
fn special_reason(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let ft = meta.file_type();
    if ft.is_socket() {
        "socket"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else {
        "not a regular file, directory or symlink"
    }
}

/// `dir/name`, or `name` at the root.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}
