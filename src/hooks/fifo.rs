//! The notify FIFO: one text line per transition, keepalived's format.
//!
//! Opened read-write and non-blocking, so that a FIFO without a reader neither blocks the
//! daemon nor raises SIGPIPE; when the pipe buffer is full, lines are dropped and counted.
//! It may not run scripts (the reader script is started by the hook runner).

use std::path::Path;

use super::{Notify, Target};

/// The line keepalived writes for a transition (without the newline).
pub fn line(target: &Target, notify: Notify, priority: u8) -> String {
    todo!("{target:?} {notify:?} {priority}")
}

/// An open notify FIFO.
#[derive(Debug)]
pub struct NotifyFifo {
    _private: (),
}

impl NotifyFifo {
    /// Opens `path`, creating the FIFO (mode 0600) if it does not exist.
    pub fn open(path: &Path) -> std::io::Result<NotifyFifo> {
        todo!("{path:?}")
    }

    /// Writes one line; `false` if it was dropped (reader too slow).
    pub fn write_line(&mut self, line: &str) -> bool {
        todo!("{line}")
    }
}
