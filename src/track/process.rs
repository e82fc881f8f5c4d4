//! vrrp_track_process: count the running processes that match, Up while the count is
//! within `quorum..=quorum_max`, with fork/terminate delays against bounces.
//!
//! keepalived listens to the kernel's process connector; baton scans /proc every
//! [`POLL_INTERVAL`] instead (one read of `/proc/PID/stat` per process, plus `cmdline`
//! only when parameters or `full_command` need it), so a change is seen within that time
//! plus the configured delay. Zombies never count.
//!
//! Matching follows keepalived: without parameters, `param_match` or `full_command`, the
//! process name (`comm`, which the kernel cuts to 15 bytes, so a longer `process` never
//! matches; a warning is logged) must equal `process` exactly — no regular expressions,
//! `ssh` does not match `sshd`. Otherwise argv[0] from `/proc/PID/cmdline` must equal
//! `process` exactly, and the parameters are compared per [`ParamMatch`]
//! (`full_command` alone accepts any parameters).

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::TrackEvent;
use crate::proto::TrackStatus;

/// How often /proc is scanned.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The kernel keeps this many bytes of a process name (TASK_COMM_LEN - 1).
const COMM_LEN: usize = 15;

/// keepalived's `param_match`. (Parameters given without `param_match` mean `Exact`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamMatch {
    /// Exactly the configured parameters; `param_match` without parameters means "no
    /// parameters at all".
    #[default]
    Exact,
    /// `param_match partial`: the configured n parameters come first, exactly; more may
    /// follow.
    Partial,
    /// `param_match initial`: like `Partial`, but the last configured parameter may be a
    /// prefix of the actual one.
    Initial,
}

/// One `vrrp_track_process` block. (`delay` sets both delays; the config layer expands it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub name: String,
    /// The process name, or argv[0] when the command line is used.
    pub process: String,
    /// Parameters after the process name.
    pub params: Vec<String>,
    /// `Some` when `param_match` was given.
    pub param_match: Option<ParamMatch>,
    pub full_command: bool,
    /// Minimum number of matching processes for Up (keepalived's default is 1).
    pub quorum: u32,
    /// Maximum number for Up; `None`: no maximum.
    pub quorum_max: Option<u32>,
    /// Count must stay in quorum this long before Up is reported.
    pub fork_delay: Duration,
    /// Count must stay out of quorum this long before Down is reported.
    pub terminate_delay: Duration,
}

/// `comm` and the state letter from the contents of /proc/PID/stat.
fn parse_stat(stat: &[u8]) -> Option<(&[u8], u8)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?;
    let state = *stat.get(close + 2)?;
    Some((comm, state))
}

/// Whether the spec needs the command line (otherwise the name alone decides).
fn uses_cmdline(spec: &ProcessSpec) -> bool {
    spec.full_command || !spec.params.is_empty() || spec.param_match.is_some()
}

/// Whether one process matches the spec, given its `comm` and (read only when needed)
/// its raw `/proc/PID/cmdline`: arguments each followed by a NUL byte.
pub fn matches(spec: &ProcessSpec, comm: &[u8], cmdline: impl FnOnce() -> Option<Vec<u8>>) -> bool {
    if !uses_cmdline(spec) {
        return comm == spec.process.as_bytes();
    }
    let Some(raw) = cmdline() else { return false };
    let (argv0, rest) = match raw.iter().position(|&b| b == 0) {
        Some(i) => (&raw[..i], &raw[i + 1..]),
        None => (&raw[..], &[][..]),
    };
    if argv0 != spec.process.as_bytes() {
        return false;
    }
    let mode = match spec.param_match {
        Some(m) => m,
        // full_command alone: argv[0] decides, any parameters.
        None if spec.params.is_empty() => return true,
        None => ParamMatch::Exact,
    };
    let mut want = Vec::new();
    for p in &spec.params {
        want.extend_from_slice(p.as_bytes());
        want.push(0);
    }
    match mode {
        ParamMatch::Exact => rest == want.as_slice(),
        ParamMatch::Partial => rest.starts_with(&want),
        // Without the final NUL, the last configured parameter may be a prefix.
        ParamMatch::Initial => rest.starts_with(&want[..want.len().saturating_sub(1)]),
    }
}

/// Counts the processes in /proc that match `spec` (zombies excluded).
pub fn count_matching(spec: &ProcessSpec) -> u32 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut n = 0u32;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str() else { continue };
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // The process may vanish between readdir and read: then it simply does not count.
        let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((comm, state)) = parse_stat(&stat) else {
            continue;
        };
        if state == b'Z' || state == b'X' {
            continue;
        }
        if matches(spec, comm, || {
            std::fs::read(format!("/proc/{pid}/cmdline")).ok()
        }) {
            n = n.saturating_add(1);
        }
    }
    n
}

/// Whether `count` satisfies the quorum.
pub fn in_quorum(spec: &ProcessSpec, count: u32) -> bool {
    count >= spec.quorum && spec.quorum_max.is_none_or(|max| count <= max)
}

/// The fork/terminate delay logic, pure so it can be tested with a virtual clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debounce {
    up: bool,
    /// The opposite state was first seen then; reported once it has lasted the delay.
    pending_since: Option<Instant>,
}

impl Debounce {
    pub fn new(up: bool) -> Debounce {
        Debounce {
            up,
            pending_since: None,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Feeds one observation; returns the new state if it changed.
    pub fn observe(
        &mut self,
        now: Instant,
        ok: bool,
        fork_delay: Duration,
        terminate_delay: Duration,
    ) -> Option<bool> {
        if ok == self.up {
            self.pending_since = None;
            return None;
        }
        let delay = if ok { fork_delay } else { terminate_delay };
        let since = *self.pending_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= delay {
            self.up = ok;
            self.pending_since = None;
            Some(ok)
        } else {
            None
        }
    }

    /// When the pending change (if any) would be due.
    pub fn due(&self, fork_delay: Duration, terminate_delay: Duration) -> Option<Instant> {
        let delay = if self.up { terminate_delay } else { fork_delay };
        self.pending_since.map(|s| s + delay)
    }
}

fn status_of(up: bool) -> TrackStatus {
    if up {
        TrackStatus::Up
    } else {
        TrackStatus::Down
    }
}

/// The life of one tracked process: runs until the task is aborted.
pub(crate) async fn run(spec: ProcessSpec, events: UnboundedSender<TrackEvent>) {
    let key = format!("process:{}", spec.name);
    if !uses_cmdline(&spec) && spec.process.len() > COMM_LEN {
        tracing::warn!(
            process = %spec.name,
            "process name {:?} is longer than the kernel keeps ({COMM_LEN} bytes) and can never match; use full_command",
            spec.process
        );
    }
    let scan = |spec: &ProcessSpec| {
        let spec = spec.clone();
        // /proc reads are fast but blocking; keep them off the engine's thread.
        tokio::task::spawn_blocking(move || count_matching(&spec))
    };
    let first = scan(&spec).await.unwrap_or(0);
    let mut state = Debounce::new(in_quorum(&spec, first));
    let _ = events.send(TrackEvent {
        key: key.clone(),
        status: status_of(state.is_up()),
    });
    loop {
        let mut wake = Instant::now() + POLL_INTERVAL;
        if let Some(due) = state.due(spec.fork_delay, spec.terminate_delay) {
            wake = wake.min(due);
        }
        tokio::time::sleep_until(wake).await;
        let count = scan(&spec).await.unwrap_or(0);
        let ok = in_quorum(&spec, count);
        if let Some(up) = state.observe(Instant::now(), ok, spec.fork_delay, spec.terminate_delay) {
            tracing::info!(process = %spec.name, count, up, "vrrp_track_process changed state");
            let _ = events.send(TrackEvent {
                key: key.clone(),
                status: status_of(up),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process: &str, params: &[&str], pm: Option<ParamMatch>) -> ProcessSpec {
        ProcessSpec {
            name: "t".into(),
            process: process.into(),
            params: params.iter().map(|s| s.to_string()).collect(),
            param_match: pm,
            full_command: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
        }
    }

    fn cmdline(a: &[&str]) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        for x in a {
            v.extend_from_slice(x.as_bytes());
            v.push(0);
        }
        Some(v)
    }

    #[test]
    fn name_match_is_exact_not_prefix() {
        let s = spec("ssh", &[], None);
        assert!(matches(&s, b"ssh", || None));
        assert!(!matches(&s, b"sshd", || None));
    }

    #[test]
    fn param_matching() {
        let a = || cmdline(&["/usr/sbin/nginx", "-c", "/etc/nginx.conf"]);
        let m = |p: &str, params: &[&str], pm| matches(&spec(p, params, pm), b"nginx", a);
        assert!(m("/usr/sbin/nginx", &["-c", "/etc/nginx.conf"], None));
        assert!(
            !m("nginx", &["-c", "/etc/nginx.conf"], None),
            "argv[0] is exact"
        );
        assert!(!m("/usr/sbin/nginx", &["-c"], None));
        assert!(m("/usr/sbin/nginx", &["-c"], Some(ParamMatch::Partial)));
        assert!(!m(
            "/usr/sbin/nginx",
            &["-c", "/etc/ng"],
            Some(ParamMatch::Partial)
        ));
        assert!(m(
            "/usr/sbin/nginx",
            &["-c", "/etc/ng"],
            Some(ParamMatch::Initial)
        ));
        assert!(
            !m("/usr/sbin/nginx", &[], Some(ParamMatch::Exact)),
            "no parameters wanted"
        );
        let mut full = spec("/usr/sbin/nginx", &[], None);
        full.full_command = true;
        assert!(matches(&full, b"nginx", a));
    }

    #[test]
    fn quorum_bounds() {
        let mut s = spec("x", &[], None);
        s.quorum = 2;
        s.quorum_max = Some(3);
        assert!(!in_quorum(&s, 1));
        assert!(in_quorum(&s, 2));
        assert!(in_quorum(&s, 3));
        assert!(!in_quorum(&s, 4));
    }

    #[test]
    fn delays_hold_back_changes() {
        let t0 = Instant::now();
        let (fork, term) = (Duration::from_secs(1), Duration::from_secs(2));
        let mut d = Debounce::new(true);
        assert_eq!(d.observe(t0, false, fork, term), None);
        // Back in quorum before the delay: no bounce.
        assert_eq!(
            d.observe(t0 + Duration::from_millis(500), true, fork, term),
            None
        );
        assert_eq!(
            d.observe(t0 + Duration::from_secs(1), false, fork, term),
            None
        );
        assert_eq!(d.due(fork, term), Some(t0 + Duration::from_secs(3)));
        assert_eq!(
            d.observe(t0 + Duration::from_secs(3), false, fork, term),
            Some(false)
        );
        assert_eq!(
            d.observe(t0 + Duration::from_secs(3), true, fork, term),
            None
        );
        assert_eq!(
            d.observe(t0 + Duration::from_secs(4), true, fork, term),
            Some(true)
        );
    }
}
