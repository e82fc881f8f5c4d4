//! The incoming area: received file contents, stored by their SHA-256.
//!
//! The caller picks the directory (a hidden sibling of the synced directory, on the
//! same filesystem, so that the stage can rename contents in rather than copy them).
//! A content is received into `dir/.part-<sha256>` and becomes `dir/<sha256>` only once
//! its size and hash have been checked (then renamed). So, within one run of the process,
//! `dir/<sha256>` always holds exactly that content; a part that fails a check, or a
//! `Receiving` dropped unfinished, leaves nothing behind. Contents are not synced one by
//! one (that made a 10,000-file transfer wait on 20,000 fsyncs): the switch's `syncfs`
//! puts them on disk before the exchange, and the caller empties the area when it starts,
//! since after a crash a content may not have reached the disk whole.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};

use super::util::{hex, is_sha256};

/// Prefix of a content being received.
const PART: &str = ".part-";

/// The store of received contents.
#[derive(Debug, Clone)]
pub struct Incoming {
    dir: PathBuf,
}

/// Why receiving a content failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    #[error("data at offset {got}, expected {expected}")]
    Offset { expected: u64, got: u64 },
    #[error("more data than the announced {size} bytes")]
    Overrun { size: u64 },
    #[error("received {got} of {size} bytes")]
    Short { size: u64, got: u64 },
    #[error("content hashes to {got}, expected {expected}")]
    BadHash { expected: String, got: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ReceiveError {
    /// Short snake_case name for counters and logs.
    pub fn cause(&self) -> &'static str {
        match self {
            ReceiveError::Offset { .. } => "offset",
            ReceiveError::Overrun { .. } => "overrun",
            ReceiveError::Short { .. } => "truncated",
            ReceiveError::BadHash { .. } => "hash_mismatch",
            ReceiveError::Io(_) => "io",
        }
    }
}

fn invalid_hash(sha256: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a sha256: {sha256:?}"),
    )
}

impl Incoming {
    /// Opens (creating if needed, with its parents) the store at `dir`, mode 0700.
    pub fn open(dir: PathBuf) -> io::Result<Incoming> {
        fs::create_dir_all(&dir)?;
        let meta = fs::symlink_metadata(&dir)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ));
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        Ok(Incoming { dir })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the content `sha256` has been received (a malformed hash never has).
    pub fn has(&self, sha256: &str) -> bool {
        is_sha256(sha256) && fs::symlink_metadata(self.dir.join(sha256)).is_ok_and(|m| m.is_file())
    }

    /// Where the content `sha256` is (or would be) stored. For a malformed hash this is
    /// a name that no content is ever stored under, so it is never joined unchecked.
    pub fn path(&self, sha256: &str) -> PathBuf {
        if is_sha256(sha256) {
            self.dir.join(sha256)
        } else {
            self.dir.join(".invalid")
        }
    }

    /// Starts receiving the content `sha256` of `size` bytes, into a fresh part file
    /// (mode 0600; a previous part of the same content is truncated).
    pub fn begin(&self, sha256: &str, size: u64) -> io::Result<Receiving> {
        if !is_sha256(sha256) {
            return Err(invalid_hash(sha256));
        }
        let part = self.dir.join(format!("{PART}{sha256}"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&part)?;
        Ok(Receiving {
            file: Some(file),
            hasher: Context::new(&SHA256),
            size,
            written: 0,
            sha256: sha256.to_owned(),
            part,
            dir: self.dir.clone(),
        })
    }

    /// Removes everything in the store (after a successful switch, or on a fresh start).
    pub fn clear(&self) -> io::Result<()> {
        self.remove_where(|_| true)
    }

    /// Removes stored contents (and parts) whose hash is not in `keep`.
    pub fn retain(&self, keep: &HashSet<String>) -> io::Result<()> {
        self.remove_where(|name| {
            let hash = name.strip_prefix(PART).unwrap_or(name);
            !keep.contains(hash)
        })
    }

    fn remove_where(&self, remove: impl Fn(&str) -> bool) -> io::Result<()> {
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            // A name that is not UTF-8 was never ours: remove it with the rest.
            let doomed = name.to_str().is_none_or(&remove);
            if !doomed {
                continue;
            }
            let path = entry.path();
            let result = if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match result {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

/// A content being received; see `Incoming::begin`.
pub struct Receiving {
    /// None once finished (so that Drop knows not to remove the part).
    file: Option<File>,
    hasher: Context,
    size: u64,
    written: u64,
    sha256: String,
    part: PathBuf,
    dir: PathBuf,
}

impl std::fmt::Debug for Receiving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiving")
            .field("sha256", &self.sha256)
            .field("size", &self.size)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl Receiving {
    /// Appends `data` at `offset`, which must be the number of bytes written so far.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), ReceiveError> {
        if offset != self.written {
            return Err(ReceiveError::Offset {
                expected: self.written,
                got: offset,
            });
        }
        let end = self.written.saturating_add(data.len() as u64);
        if end > self.size {
            return Err(ReceiveError::Overrun { size: self.size });
        }
        let Some(file) = self.file.as_mut() else {
            return Err(ReceiveError::Io(io::Error::other("already finished")));
        };
        file.write_all(data)?;
        self.hasher.update(data);
        self.written = end;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Checks size and hash, makes the content durable and moves it to `dir/<sha256>`.
    /// On any failure the part is removed.
    pub fn finish(mut self) -> Result<(), ReceiveError> {
        let Some(file) = self.file.take() else {
            return Err(ReceiveError::Io(io::Error::other("already finished")));
        };
        let result = self.complete(file);
        if result.is_err() {
            let _ = fs::remove_file(&self.part);
        }
        result
    }

    fn complete(&mut self, file: File) -> Result<(), ReceiveError> {
        if self.written != self.size {
            return Err(ReceiveError::Short {
                size: self.size,
                got: self.written,
            });
        }
        let hasher = std::mem::replace(&mut self.hasher, Context::new(&SHA256));
        let got = hex(hasher.finish().as_ref());
        if got != self.sha256 {
            return Err(ReceiveError::BadHash {
                expected: self.sha256.clone(),
                got,
            });
        }
        drop(file);
        fs::rename(&self.part, self.dir.join(&self.sha256))?;
        Ok(())
    }
}

impl Drop for Receiving {
    fn drop(&mut self) {
        // Unfinished: the part would never be completed (begin truncates), so drop it.
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.part);
        }
    }
}
