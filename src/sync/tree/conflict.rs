//! Moving local changes out of the old generation before it is removed.
//!
//! After the switch the old generation sits at the stage path. Each of its files and
//! symlinks is a local change if it differs in content from what both nodes last agreed
//! on (`base`: the same path with the same kind and content; no base means everything is
//! a local change). A local change is a conflict unless the new generation holds exactly
//! the same content at that path. Conflicts are moved into `<conflicts>/<stamp>/<path>`.
//!
//! The old generation is walked on disk rather than trusted from the scan, so that what
//! appeared or changed after the scan, or what the scan could not send (a fifo, a name
//! that is not UTF-8), is kept as a conflict too: apart from files unchanged since
//! `base`, nothing local is discarded without being moved aside. Directories are never
//! conflicts themselves; they are created in the conflicts folder as needed (mode 0700).
//! The old generation is reached only through directory descriptors (see `at`), so a
//! directory swapped for a symlink while the sweep runs never leads it outside.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::renameat;
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::at;
use super::manifest::{Kind, Manifest};
use super::util::{mtime_of, stream};

/// What the sweep moved, and what went wrong.
#[derive(Debug, Default)]
pub(crate) struct Sweep {
    /// Relative paths moved aside (non-UTF-8 names shown lossily).
    pub moved: Vec<String>,
    /// Failures; if any, the old generation must not be removed.
    pub errors: Vec<String>,
}

/// The inputs that decide what is a conflict.
pub(crate) struct Rules<'a> {
    pub current: &'a Manifest,
    pub new: &'a Manifest,
    pub base: Option<&'a Manifest>,
    /// Paths whose inode is shared with the new generation (hard-linked by the build).
    pub linked: &'a HashSet<String>,
}

impl Rules<'_> {
    /// Whether the old generation's entry `name` of `dir` (at `rel`) must be kept.
    fn is_conflict(&self, dir: &File, name: &OsStr, rel: &Path, meta: &fs::Metadata) -> bool {
        let Some(p) = rel.to_str() else {
            return true; // could not travel: only this node has it
        };
        if self.linked.contains(p) {
            return false; // the very same inode lives on in the new generation
        }
        let Some(cur) = self.current.get(p) else {
            return true; // appeared after the scan, or the scan skipped it
        };
        let unchanged_since_scan = match &cur.kind {
            Kind::File { size, .. } => {
                meta.is_file()
                    && meta.size() == *size
                    && mtime_of(meta) == (cur.mtime, cur.mtime_ns)
            }
            Kind::Symlink { target } => {
                meta.file_type().is_symlink()
                    && at::readlink(dir, name).is_ok_and(|t| t.as_os_str() == target.as_str())
            }
            Kind::Dir => false,
        };
        if !unchanged_since_scan {
            return true;
        }
        let agreed = self
            .base
            .and_then(|b| b.get(p))
            .is_some_and(|b| b.kind.same_content(&cur.kind));
        let kept = self
            .new
            .get(p)
            .is_some_and(|n| n.kind.same_content(&cur.kind));
        !agreed && !kept
    }
}

/// Moves every conflict of the old generation at `old` into `out`.
pub(crate) fn sweep(old: &Path, rules: &Rules<'_>, out: &Path) -> Sweep {
    let mut sweep = Sweep::default();
    let old_fd = match at::open_root(old) {
        Ok(fd) => fd,
        Err(e) => {
            sweep.errors.push(format!("open {}: {e}", old.display()));
            return sweep;
        }
    };
    let mut todo: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(dir) = todo.pop() {
        let listed =
            at::open_dir_path(&old_fd, &dir).and_then(|fd| at::names(&fd).map(|names| (fd, names)));
        let (dir_fd, names) = match listed {
            Ok(listed) => listed,
            Err(e) => {
                sweep
                    .errors
                    .push(format!("read {}: {e}", old.join(&dir).display()));
                continue;
            }
        };
        for name in names {
            let rel = dir.join(&name);
            let meta = match at::lstat(&dir_fd, &name) {
                Ok(m) => m,
                Err(e) => {
                    sweep
                        .errors
                        .push(format!("lstat {}: {e}", old.join(&rel).display()));
                    continue;
                }
            };
            if meta.is_dir() {
                todo.push(rel);
                continue;
            }
            if !rules.is_conflict(&dir_fd, &name, &rel, &meta) {
                continue;
            }
            let dst = out.join(&rel);
            match move_aside(&dir_fd, &name, &dst, &meta) {
                Ok(()) => sweep.moved.push(rel.to_string_lossy().into_owned()),
                Err(e) => sweep.errors.push(format!(
                    "move {} to {}: {e}",
                    old.join(&rel).display(),
                    dst.display()
                )),
            }
        }
    }
    sweep.moved.sort();
    sweep
}

/// Renames `name` of `dir` to `dst` (creating `dst`'s parents, 0700); across
/// filesystems, copies (a file's content, or a symlink's target) and then unlinks it.
fn move_aside(dir: &File, name: &OsStr, dst: &Path, meta: &fs::Metadata) -> io::Result<()> {
    let (Some(parent), Some(dst_name)) = (dst.parent(), dst.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no parent"));
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)?;
    let out_dir = File::open(parent)?;
    match renameat(dir, name, &out_dir, dst_name) {
        Err(nix::errno::Errno::EXDEV) => {}
        other => return other.map_err(io::Error::from),
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(at::readlink(dir, name)?, dst)?;
    } else if meta.is_file() {
        let mut from = at::open_file(dir, name)?;
        let mut to = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(dst)?;
        stream(&mut from, Some(&mut to))?;
        to.sync_all()?;
    } else {
        return Err(io::Error::other(
            "special file cannot be moved to another filesystem",
        ));
    }
    unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).map_err(io::Error::from)
}
