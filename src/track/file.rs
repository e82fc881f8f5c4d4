//! track_file: the integer in a file, read whenever the file changes (inotify on the
//! parent directory, with a slow poll as a safety net).
//!
//! Reading rules follow keepalived: leading white space is skipped and the leading
//! decimal integer is used; an empty file, a file without a leading number, or a
//! missing / unreadable file reads as 0.

use std::path::PathBuf;

/// One `track_file` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub name: String,
    pub path: PathBuf,
    /// `init_file [VALUE]`: write VALUE at start if the file does not exist.
    pub init_file: Option<i64>,
    /// `init_file VALUE overwrite`: write VALUE at start even if it exists.
    pub init_overwrite: bool,
}

/// The value of a track file's contents under keepalived's rules.
pub fn parse_value(contents: &str) -> i64 {
    todo!("{contents}")
}
