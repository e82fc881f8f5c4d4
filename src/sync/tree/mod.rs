//! The filesystem side of directory replication.
//!
//! - `path`: relative paths as they travel, and the symlink-target rule.
//! - `manifest`: what a tree holds (`Manifest`), its digest, and `validate`, the gate for
//!   a manifest from the peer; `needed` says which contents must be transferred.
//! - `scan`: a directory into a manifest, re-hashing only what changed since last time.
//! - `incoming`: received contents stored by hash, each checked before it is kept.
//! - `stage`: the new generation built beside the directory and switched in with one
//!   renameat2(RENAME_EXCHANGE); local changes are moved into a conflicts folder.
//!
//! No networking, threads or async here: plain blocking filesystem calls.

mod at;
mod build;
mod conflict;
pub mod incoming;
pub mod manifest;
pub mod path;
pub mod scan;
pub mod stage;
mod util;

pub use incoming::*;
pub use manifest::*;
pub use path::*;
pub use scan::*;
pub use stage::*;

/// Opens the regular file `rel` under `root` for reading, one component at a time and
/// following no symlink anywhere below `root` (a directory swapped for a link since the
/// scan cannot make the source read outside its tree).
pub fn open_inside(root: &std::path::Path, rel: &str) -> std::io::Result<std::fs::File> {
    let root = at::open_root(root)?;
    let (dir, name) = at::open_parent(&root, std::path::Path::new(rel))?;
    at::open_file(&dir, name)
}

#[cfg(test)]
mod tests;
