//! Data sync: directories kept in step between linked nodes (`sync_dir` in baton's file).
//!
//! The node whose service for the directory's instance or sync group runs is the source;
//! a linked node whose service is stopped holds a copy. Changes travel soon after they
//! are made (inotify, coalesced), and a full compare runs on link-up and on a timer.
//!
//! - [`tree`]: the filesystem side: manifests (path, kind, size, SHA-256, mode, owner,
//!   mtime), the cheap re-scan, checks of a peer's manifest, the content-addressed
//!   incoming area, and the new generation built beside the directory and switched in
//!   with one `renameat2(RENAME_EXCHANGE)`;
//! - [`message`]: the link frames 32 to 39 that carry offers, manifests, file contents,
//!   credit and acknowledgements;
//! - [`state`]: what a node keeps across restarts (the generation both nodes last agreed
//!   on) and what `baton status` shows;
//! - `worker`: the thread that does the scanning, reading and writing, so that neither
//!   the engine (VRRP) nor the link's connections ever wait on a disk.

pub mod message;
pub mod state;
pub mod tree;
mod worker;

pub use state::DirStatus;
pub use worker::{DirSetup, Outbox, SyncHandle, SyncIn, SyncSetup};
