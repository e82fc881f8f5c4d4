//! Building a new generation in the stage directory (the part of `Stage::apply` before
//! the switch).
//!
//! Entries are created in manifest order, so every directory exists before its contents.
//! A file's content comes, in order of preference, from (1) a hard link to the same path
//! of the current tree when content and metadata are already what the new entry says,
//! (2) a rename of the received content out of the incoming area (once per content), or
//! (3) a copy, hashed on the way and checked against the entry, from a file already
//! staged with that content, the incoming area, or any file of the current tree with
//! that content. A file linked in (1) is not touched at all (its inode is shared with the
//! current generation); every other file is created here and so may be changed freely.
//! Directories get their mode and times last, once nothing more is created inside them.
//! The current tree is only read through directory descriptors (see `at`), so a
//! directory of it swapped for a symlink cannot make the build read from elsewhere.

use std::collections::{HashMap, HashSet};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt, lchown};
use std::path::{Path, PathBuf};

use nix::fcntl::{AT_FDCWD, AtFlags};

use super::at;
use super::incoming::Incoming;
use super::manifest::{Entry, Kind, Manifest};
use super::stage::StageError;
use super::util::{mtime_of, set_mtime, stream};

/// Wraps an io::Error with what was being done, and to which path.
pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StageError {
    let path = path.to_path_buf();
    move |error| StageError::Io { op, path, error }
}

/// The state of one build: what it used, so that a failed build can be undone.
pub(crate) struct Build<'a> {
    /// The current root, opened; None when there is no current tree.
    pub root: Option<File>,
    pub stage: &'a Path,
    pub current: &'a Manifest,
    pub incoming: &'a Incoming,
    /// Contents renamed out of the incoming area: (staged path, sha256).
    pub moved_in: Vec<(PathBuf, String)>,
    /// The hashes in `moved_in`, for a quick "already used" check.
    used: HashSet<String>,
    /// Paths hard-linked from the current tree (same inode in both generations).
    pub linked: HashSet<String>,
    /// The first staged file holding each content, a copy source for later entries.
    placed: HashMap<String, PathBuf>,
    /// Paths of the current tree holding each content.
    by_hash: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Build<'a> {
    pub fn new(
        root: Option<File>,
        stage: &'a Path,
        current: &'a Manifest,
        incoming: &'a Incoming,
    ) -> Build<'a> {
        let mut by_hash: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in &current.entries {
            if let Kind::File { sha256, .. } = &e.kind {
                by_hash.entry(sha256).or_default().push(&e.path);
            }
        }
        Build {
            root,
            stage,
            current,
            incoming,
            moved_in: Vec::new(),
            used: HashSet::new(),
            linked: HashSet::new(),
            placed: HashMap::new(),
            by_hash,
        }
    }

    /// Creates the whole of `new` under the stage directory (which must not exist).
    pub fn run(
        &mut self,
        new: &Manifest,
        root_meta: Option<&fs::Metadata>,
    ) -> Result<(), StageError> {
        DirBuilder::new()
            .mode(0o700)
            .create(self.stage)
            .map_err(io_err("create stage", self.stage))?;
        for e in &new.entries {
            let dst = self.stage.join(&e.path);
            match &e.kind {
                Kind::Dir => DirBuilder::new()
                    .mode(0o700)
                    .create(&dst)
                    .map_err(io_err("create directory", &dst))?,
                Kind::Symlink { target } => {
                    std::os::unix::fs::symlink(target, &dst)
                        .map_err(io_err("create symlink", &dst))?;
                    lchown(&dst, Some(e.uid), Some(e.gid)).map_err(io_err("chown", &dst))?;
                    set_mtime(&dst, e.mtime, e.mtime_ns).map_err(io_err("set mtime", &dst))?;
                }
                Kind::File { size, sha256 } => self.file(e, *size, sha256, &dst)?,
            }
        }
        for e in new.entries.iter().rev() {
            if e.kind == Kind::Dir {
                let dst = self.stage.join(&e.path);
                set_meta(&dst, e.uid, e.gid, e.mode)?;
                set_mtime(&dst, e.mtime, e.mtime_ns).map_err(io_err("set mtime", &dst))?;
            }
        }
        // The root is not in the manifest: it keeps the current root's owner and mode.
        match root_meta {
            Some(m) => set_meta(self.stage, m.uid(), m.gid(), m.mode() & 0o7777)?,
            None => fs::set_permissions(self.stage, fs::Permissions::from_mode(0o755))
                .map_err(io_err("chmod", self.stage))?,
        }
        // Everything written is on disk before the switch: one syncfs covers the files,
        // their metadata and every directory of the stage.
        let fd = File::open(self.stage).map_err(io_err("open stage", self.stage))?;
        nix::unistd::syncfs(&fd)
            .map_err(io::Error::from)
            .map_err(io_err("syncfs", self.stage))?;
        Ok(())
    }

    /// Places the file entry `e` at `dst`.
    fn file(&mut self, e: &Entry, size: u64, sha256: &str, dst: &Path) -> Result<(), StageError> {
        if self.link_unchanged(e, size, dst) {
            self.linked.insert(e.path.clone());
            self.placed
                .entry(sha256.to_owned())
                .or_insert_with(|| dst.to_path_buf());
            return Ok(());
        }
        if !self.used.contains(sha256) && self.incoming.has(sha256) {
            let src = self.incoming.path(sha256);
            // On failure (another filesystem, say) a copy below may still work.
            if fs::rename(&src, dst).is_ok() {
                self.moved_in.push((dst.to_path_buf(), sha256.to_owned()));
                self.used.insert(sha256.to_owned());
                return self.finish(e, sha256, dst);
            }
        }
        // Copy sources: our own files by path, the current tree's through `at`.
        let mut ours: Vec<PathBuf> = Vec::new();
        if let Some(p) = self.placed.get(sha256) {
            ours.push(p.clone());
        }
        if self.incoming.has(sha256) {
            ours.push(self.incoming.path(sha256));
        }
        let opened = ours.iter().map(|p| open_nofollow(p));
        let tree = self.by_hash.get(sha256).into_iter().flatten();
        let opened = opened.chain(tree.map(|p| self.open_current(p)));
        for from in opened {
            let Ok(from) = from else { continue };
            if copy_checked(from, dst, size, sha256)? {
                return self.finish(e, sha256, dst);
            }
        }
        Err(StageError::Missing {
            path: e.path.clone(),
        })
    }

    /// Hard-links the current tree's file at the same path if it is already exactly `e`
    /// (per the current manifest and per a fresh lstat). Returns whether it did.
    fn link_unchanged(&self, e: &Entry, size: u64, dst: &Path) -> bool {
        let Some(cur) = self.current.get(&e.path) else {
            return false;
        };
        if cur.kind != e.kind
            || (cur.mode, cur.uid, cur.gid) != (e.mode, e.uid, e.gid)
            || (cur.mtime, cur.mtime_ns) != (e.mtime, e.mtime_ns)
        {
            return false;
        }
        let Some(root) = &self.root else {
            return false;
        };
        let Ok((dir, name)) = at::open_parent(root, Path::new(&e.path)) else {
            return false;
        };
        let matches = |m: &fs::Metadata| {
            m.is_file()
                && m.size() == size
                && mtime_of(m) == (e.mtime, e.mtime_ns)
                && (m.mode() & 0o7777, m.uid(), m.gid()) == (e.mode, e.uid, e.gid)
        };
        if !at::lstat(&dir, name).is_ok_and(|m| matches(&m)) {
            return false;
        }
        // linkat without AT_SYMLINK_FOLLOW links the entry itself, never a symlink's target.
        if nix::unistd::linkat(&dir, name, AT_FDCWD, dst, AtFlags::empty()).is_err() {
            return false;
        }
        // The link names whatever was at `src` when linked: check that it is still it.
        if fs::symlink_metadata(dst).is_ok_and(|m| matches(&m)) {
            return true;
        }
        let _ = fs::remove_file(dst);
        false
    }

    /// Gives a file created by this build its owner, mode and mtime.
    fn finish(&mut self, e: &Entry, sha256: &str, dst: &Path) -> Result<(), StageError> {
        set_meta(dst, e.uid, e.gid, e.mode)?;
        set_mtime(dst, e.mtime, e.mtime_ns).map_err(io_err("set mtime", dst))?;
        self.placed
            .entry(sha256.to_owned())
            .or_insert_with(|| dst.to_path_buf());
        Ok(())
    }

    /// Opens the current tree's file at `rel` for reading, through `at`.
    fn open_current(&self, rel: &str) -> io::Result<File> {
        let Some(root) = &self.root else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let (dir, name) = at::open_parent(root, Path::new(rel))?;
        at::open_file(&dir, name)
    }

    /// Puts the contents renamed out of the incoming area back (best effort), so that a
    /// failed build does not cost a transfer.
    pub fn undo(&mut self) {
        for (staged, sha256) in self.moved_in.drain(..) {
            let _ = fs::rename(&staged, self.incoming.path(&sha256));
        }
    }
}

/// Owner then mode (chown clears set-id bits, so chmod comes second). Not for symlinks.
fn set_meta(path: &Path, uid: u32, gid: u32, mode: u32) -> Result<(), StageError> {
    lchown(path, Some(uid), Some(gid)).map_err(io_err("chown", path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", path))
}

/// Opens one of our own files (staged or incoming) for reading.
fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
}

/// Copies `from` to a new file `dst`, hashing on the way (the build's `syncfs` puts it
/// on disk before the switch). Returns false
/// (and leaves no `dst`) if `from` does not hold exactly `size` bytes hashing to
/// `sha256`; errors writing `dst` (a full disk) are errors.
fn copy_checked(mut from: File, dst: &Path, size: u64, sha256: &str) -> Result<bool, StageError> {
    if !from
        .metadata()
        .is_ok_and(|m| m.is_file() && m.size() == size)
    {
        return Ok(false);
    }
    let mut to = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dst)
        .map_err(io_err("create file", dst))?;
    let copied = stream(&mut from, Some(&mut to));
    match copied {
        Ok((n, got)) if n == size && got == sha256 => Ok(true),
        Ok(_) => {
            drop(to);
            fs::remove_file(dst).map_err(io_err("remove bad copy", dst))?;
            Ok(false)
        }
        Err(error) => {
            let _ = fs::remove_file(dst);
            Err(StageError::Io {
                op: "copy",
                path: dst.to_path_buf(),
                error,
            })
        }
    }
}
