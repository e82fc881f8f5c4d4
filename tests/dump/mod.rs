//! keepalived's dump files in tests: where the captured fixtures are, how two dumps are
//! compared line by line ([`compare`]) and how the community Prometheus exporter reads them
//! ([`exporter`], its parsing rules written again in Rust).
//!
//! The fixtures in `tests/data/keepalived-dump/` are keepalived 2.2.7's own files, captured
//! by `cargo test --test interop_dump -- --ignored capture` (see that directory's README).
#![allow(dead_code)]

pub mod compare;
pub mod exporter;

use std::path::PathBuf;

/// The fixture directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/keepalived-dump")
}

/// A fixture's text (panics with the path if it is missing).
pub fn fixture(name: &str) -> String {
    let path = fixtures().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
