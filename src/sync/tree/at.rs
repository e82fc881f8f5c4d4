//! Walking a tree that others may be changing, without ever following a symlink.
//!
//! The synced directory (and so the old generation after a switch) is writable by the
//! applications that use it, while baton runs as root. A path like `root/a/b` resolved
//! by the kernel follows `a` if someone just replaced it with a symlink to /etc; a scan
//! would then send /etc's files, and moving a conflict aside would move them. So every
//! access below a root goes through directory descriptors, one component at a time,
//! each opened with O_NOFOLLOW: whatever is swapped in, nothing outside is reached.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Component, Path};

use nix::fcntl::{OFlag, openat, readlinkat};
use nix::sys::stat::Mode;

fn flags(extra: OFlag) -> OFlag {
    OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | extra
}

/// Opens the directory `path` itself (its last component must not be a symlink).
pub fn open_root(path: &Path) -> io::Result<File> {
    let fd = nix::fcntl::open(
        path,
        flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY),
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// Opens the subdirectory `name` of `dir`, refusing a symlink.
pub fn open_dir(dir: &File, name: &OsStr) -> io::Result<File> {
    let fd = openat(
        dir,
        name,
        flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY),
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// Opens the file `name` of `dir` for reading, refusing a symlink. O_NONBLOCK keeps a
/// fifo swapped in since the lstat from blocking the open; it changes nothing for a
/// regular file.
pub fn open_file(dir: &File, name: &OsStr) -> io::Result<File> {
    let fd = openat(
        dir,
        name,
        flags(OFlag::O_RDONLY | OFlag::O_NONBLOCK),
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// The lstat of `name` in `dir` (through an O_PATH descriptor to the entry itself).
pub fn lstat(dir: &File, name: &OsStr) -> io::Result<Metadata> {
    let fd = openat(dir, name, flags(OFlag::O_PATH), Mode::empty())?;
    File::from(fd).metadata()
}

/// The target of the symlink `name` in `dir`.
pub fn readlink(dir: &File, name: &OsStr) -> io::Result<OsString> {
    Ok(readlinkat(dir, name)?)
}

/// The names in `dir`, sorted (so that walks are reproducible). Read through
/// /proc/self/fd, whose entry leads to the open directory itself, not to a path that
/// could be re-resolved (nix's `dir` feature, which would read the descriptor directly,
/// is not enabled in this crate).
pub fn names(dir: &File) -> io::Result<Vec<OsString>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))? {
        out.push(entry?.file_name());
    }
    out.sort();
    Ok(out)
}

/// Opens the directory holding `rel` (relative, made of plain names) under `root`, one
/// component at a time, and returns it with `rel`'s last name.
pub fn open_parent<'p>(root: &File, rel: &'p Path) -> io::Result<(File, &'p OsStr)> {
    let mut names: Vec<&OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => names.push(n),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not a plain relative path: {}", rel.display()),
                ));
            }
        }
    }
    let Some((last, dirs)) = names.split_last() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty path"));
    };
    let mut dir = root.try_clone()?;
    for name in dirs {
        dir = open_dir(&dir, name)?;
    }
    Ok((dir, last))
}

/// Opens the directory `rel` under `root` (the root itself for an empty `rel`).
pub fn open_dir_path(root: &File, rel: &Path) -> io::Result<File> {
    if rel.as_os_str().is_empty() {
        return root.try_clone();
    }
    let (parent, name) = open_parent(root, rel)?;
    open_dir(&parent, name)
}
