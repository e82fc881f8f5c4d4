//! track_file: the integer in a file, re-read whenever the file changes.
//!
//! Changes are seen through inotify on the file's directory (so creating, replacing by
//! rename and deleting the file are all noticed), with a slow poll as a safety net and
//! as the only mechanism when inotify is unavailable.
//!
//! Reading rules follow keepalived: the first 127 bytes are read and parsed like C's
//! `strtol(s, NULL, 0)` — leading white space, an optional sign, then a decimal number,
//! or hexadecimal after `0x`, or octal after a leading `0`; whatever follows is ignored.
//! A missing, unreadable or empty file, or one that does not start with a number, reads
//! as 0. A number that does not fit in `i32::MIN..=i32::MAX + 1` is logged and ignored
//! (the previous value stays). Weights and limits (±253, FAULT below -253) are applied by
//! the instance, not here.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::TrackEvent;
use crate::proto::TrackStatus;

/// How often the file is re-read even without an inotify event.
pub const SAFETY_POLL: Duration = Duration::from_secs(5);
/// How often the file is re-read when inotify cannot be used.
pub const FALLBACK_POLL: Duration = Duration::from_millis(500);

/// One `track_file` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub name: String,
    pub path: PathBuf,
    /// `init_file [VALUE]`: write VALUE (keepalived's default is 0) at start if the file
    /// does not exist.
    pub init_file: Option<i64>,
    /// `init_file VALUE overwrite`: write VALUE at start even if the file exists.
    pub init_overwrite: bool,
}

/// The value of a track file's contents under keepalived's rules; `None`: out of range,
/// keep the previous value.
pub fn parse_value(contents: &[u8]) -> Option<i64> {
    let s = &contents[..contents.len().min(127)];
    let mut i = 0;
    // C isspace: space, \t, \n, \v, \f, \r.
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let (radix, start) = if s.len() > i + 2
        && s[i] == b'0'
        && (s[i + 1] | 0x20) == b'x'
        && (s[i + 2] as char).is_ascii_hexdigit()
    {
        (16, i + 2)
    } else if i < s.len() && s[i] == b'0' {
        (8, i)
    } else {
        (10, i)
    };
    let mut value: i64 = 0;
    for &b in &s[start..] {
        let Some(d) = (b as char).to_digit(radix) else {
            break;
        };
        value = value
            .checked_mul(i64::from(radix))?
            .checked_add(i64::from(d))?;
    }
    let value = if negative { -value } else { value };
    if value < i64::from(i32::MIN) || value > i64::from(i32::MAX) + 1 {
        return None;
    }
    Some(value)
}

/// Reads the file under keepalived's rules (missing or unreadable: 0).
pub fn read_value(path: &Path) -> Option<i64> {
    let mut buf = [0u8; 127];
    let Ok(mut f) = std::fs::File::open(path) else {
        return Some(0);
    };
    let mut len = 0;
    while len < buf.len() {
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(_) => break,
        }
    }
    parse_value(&buf[..len])
}

/// `init_file`: create (or overwrite) the file with the initial value.
fn init_file(spec: &FileSpec) {
    let Some(v) = spec.init_file else {
        return;
    };
    if spec.init_overwrite || !spec.path.exists() {
        if let Err(e) = std::fs::write(&spec.path, format!("{v}\n")) {
            tracing::error!(file = %spec.path.display(), "track_file init_file: {e}");
        }
    }
}

/// Watches the file's directory with inotify on a small thread of its own (tokio's
/// `AsyncFd` would need `unsafe` to register the descriptor) and sends `()` for every
/// event about the file. The thread ends within [`WATCH_TICK_MS`] once the receiver is gone.
fn watch_dir(path: &Path) -> Option<UnboundedReceiver<()>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name()?.to_owned();
    let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
    let flags = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MODIFY;
    ino.add_watch(&dir, flags).ok()?;
    let (tx, rx) = unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("baton-track-file".into())
        .spawn(move || {
            while !tx.is_closed() {
                let mut fds = [PollFd::new(ino.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::from(WATCH_TICK_MS)) {
                    Ok(0) | Err(nix::Error::EINTR) => continue,
                    Ok(_) => {}
                    Err(_) => return,
                }
                match ino.read_events() {
                    Ok(events) => {
                        if events
                            .iter()
                            .any(|e| e.name.as_deref() == Some(name.as_os_str()))
                        {
                            let _ = tx.send(());
                        }
                    }
                    Err(nix::Error::EAGAIN) => {}
                    Err(_) => return,
                }
            }
        });
    spawned.ok().map(|_| rx)
}

/// How long the watcher thread waits in `poll` before checking whether it is still needed.
const WATCH_TICK_MS: u16 = 500;

/// Waits for the next inotify event; never returns without a watcher.
async fn next_change(watch: &mut Option<UnboundedReceiver<()>>) {
    match watch {
        Some(rx) => {
            if rx.recv().await.is_none() {
                *watch = None;
            }
        }
        None => std::future::pending().await,
    }
}

/// The life of one track file: runs until the task is aborted.
pub(crate) async fn run(spec: FileSpec, events: UnboundedSender<TrackEvent>) {
    let key = format!("file:{}", spec.name);
    init_file(&spec);
    let mut watch = watch_dir(&spec.path);
    let poll_every = if watch.is_some() {
        SAFETY_POLL
    } else {
        tracing::warn!(file = %spec.path.display(), "track_file: no inotify watch, polling every {FALLBACK_POLL:?}");
        FALLBACK_POLL
    };
    let mut current = read_value(&spec.path).unwrap_or(0);
    let _ = events.send(TrackEvent {
        key: key.clone(),
        status: TrackStatus::Value(current),
    });
    loop {
        tokio::select! {
            _ = next_change(&mut watch) => {}
            _ = tokio::time::sleep(poll_every) => {}
        }
        match read_value(&spec.path) {
            Some(v) if v != current => {
                current = v;
                tracing::info!(file = %spec.path.display(), value = v, "track_file changed");
                let _ = events.send(TrackEvent {
                    key: key.clone(),
                    status: TrackStatus::Value(v),
                });
            }
            Some(_) => {}
            None => {
                tracing::warn!(file = %spec.path.display(), "track_file: number out of range, ignored")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_value;

    #[test]
    fn strtol_rules() {
        assert_eq!(parse_value(b"42\n"), Some(42));
        assert_eq!(parse_value(b"  -7 apples"), Some(-7));
        assert_eq!(parse_value(b"+3"), Some(3));
        assert_eq!(parse_value(b"0x1f"), Some(31));
        assert_eq!(parse_value(b"010"), Some(8));
        assert_eq!(parse_value(b"0x"), Some(0));
        assert_eq!(parse_value(b""), Some(0));
        assert_eq!(parse_value(b"abc"), Some(0));
        assert_eq!(parse_value(b"2147483648"), Some(2_147_483_648));
        assert_eq!(parse_value(b"2147483649"), None);
        assert_eq!(parse_value(b"-2147483649"), None);
        assert_eq!(parse_value(b"99999999999999999999999"), None);
    }
}
