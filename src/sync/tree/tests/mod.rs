//! Tests of the tree modules on real files in temporary directories.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod at;
mod conflicts;
mod disk;
mod incoming;
mod manifest;
mod path;
mod scan;
mod stage;
mod util;
