//! Small helpers shared by the tree modules: hex, hashing while streaming, metadata.
//!
//! Every read of file content goes through `stream`, 64 KiB at a time, so no file is
//! ever held in memory whole.

use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use ring::digest::{Context, SHA256};

/// Size of every read when hashing or copying.
pub const CHUNK: usize = 64 * 1024;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Whether `s` is a SHA-256 as manifests carry it: 64 lower-case hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads `from` to its end in 64 KiB chunks, hashing, and writing to `to` if given.
/// Returns the number of bytes and the hex SHA-256.
pub fn stream(from: &mut impl Read, mut to: Option<&mut dyn Write>) -> io::Result<(u64, String)> {
    let mut ctx = Context::new(&SHA256);
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        ctx.update(chunk);
        if let Some(w) = to.as_mut() {
            w.write_all(chunk)?;
        }
        total = total.saturating_add(n as u64);
    }
    Ok((total, hex(ctx.finish().as_ref())))
}

/// The modification time of `meta` as (seconds, nanoseconds).
pub fn mtime_of(meta: &Metadata) -> (i64, u32) {
    (meta.mtime(), u32::try_from(meta.mtime_nsec()).unwrap_or(0))
}

/// Sets the modification time of `path` without following a symlink there. The access
/// time is set to the same value, so that the result does not depend on when it ran.
pub fn set_mtime(path: &Path, secs: i64, nanos: u32) -> io::Result<()> {
    let t = TimeSpec::new(secs, i64::from(nanos));
    utimensat(AT_FDCWD, path, &t, &t, UtimensatFlags::NoFollowSymlink).map_err(io::Error::from)
}
