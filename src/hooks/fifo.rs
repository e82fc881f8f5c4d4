//! The notify FIFO: one text line per transition, in keepalived's format.
//!
//! Like keepalived, baton creates the FIFO (mode 0644) if it is missing and removes it on
//! close if it created it, and opens it read-write and non-blocking: holding a read end
//! itself means a FIFO without a reader neither blocks the daemon, nor fails the open, nor
//! raises SIGPIPE. When the pipe buffer is full (no reader, or a slow one), lines are
//! dropped and counted. A path that exists but is not a FIFO owned by us is refused.
//! This file may not run scripts (the reader script is started by the hook runner).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;

use super::{Notify, Target};

/// The line keepalived writes for a transition (without the newline):
/// `INSTANCE "VI_1" MASTER 100`, `GROUP "G1" BACKUP 0`.
pub fn line(target: &Target, notify: Notify, priority: u8) -> String {
    match target {
        Target::Instance(name) => format!("INSTANCE \"{name}\" {} {priority}", notify.as_str()),
        Target::Group(name) => format!("GROUP \"{name}\" {} 0", notify.as_str()),
    }
}

/// The line keepalived 2.2.7 writes (with `notify_priority_changes`) when the effective
/// priority of an instance in MASTER or BACKUP changes: `INSTANCE "VI_1" MASTER_PRIORITY
/// 80`, `INSTANCE "VI_1" BACKUP_PRIORITY 100`. No notify script runs for it.
pub fn priority_line(instance: &str, master: bool, priority: u8) -> String {
    let state = if master { "MASTER" } else { "BACKUP" };
    format!("INSTANCE \"{instance}\" {state}_PRIORITY {priority}")
}

/// Why a FIFO could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FifoError {
    #[error("cannot create notify FIFO {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("cannot open notify FIFO {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a FIFO owned by uid {uid}; not using it")]
    NotOurFifo { path: PathBuf, uid: u32 },
}

/// An open notify FIFO.
#[derive(Debug)]
pub struct NotifyFifo {
    path: PathBuf,
    file: File,
    created: bool,
    drops: u64,
}

impl NotifyFifo {
    /// Opens `path`, creating the FIFO if it does not exist.
    pub fn open(path: &Path) -> Result<NotifyFifo, FifoError> {
        let created = match nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o644)) {
            Ok(()) => true,
            Err(nix::Error::EEXIST) => false,
            Err(source) => {
                return Err(FifoError::Create {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path);
        let file = match opened {
            Ok(f) => f,
            Err(source) => {
                if created {
                    let _ = std::fs::remove_file(path);
                }
                return Err(FifoError::Open {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let uid = nix::unistd::getuid().as_raw();
        let ours = file
            .metadata()
            .map(|m| m.file_type().is_fifo() && m.uid() == uid)
            .unwrap_or(false);
        if !ours {
            return Err(FifoError::NotOurFifo {
                path: path.to_owned(),
                uid,
            });
        }
        Ok(NotifyFifo {
            path: path.to_owned(),
            file,
            created,
            drops: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one line (a newline is added); `false` if it was dropped because the pipe
    /// is full. A line this short is written whole or not at all (PIPE_BUF).
    pub fn write_line(&mut self, line: &str) -> bool {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        match self.file.write(&buf) {
            Ok(n) if n == buf.len() => true,
            _ => {
                self.drops += 1;
                false
            }
        }
    }

    /// Lines dropped so far.
    pub fn drops(&self) -> u64 {
        self.drops
    }
}

impl Drop for NotifyFifo {
    fn drop(&mut self) {
        // Unlink first so a reader that reopens in a loop cannot find it again.
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
