//! The children register: every check and hook that baton has started and not yet reaped,
//! so that none of them outlives baton.
//!
//! Each program runs as the leader of its own process group (see [`super::exec`]). The
//! register keeps, per running leader, its pid and its start time (field 22 of
//! `/proc/PID/stat`, clock ticks since boot), in memory and — once the daemon has called
//! [`adopt_file`] — in a file under the runtime directory: a journal that gets one short
//! line appended when a child starts and one when it is reaped, compacted now and then
//! (rewriting the whole file by rename on every change cost 3.6 ms per start and reap on
//! a loaded ext4; appending costs 62 us, tests/hooks_children.rs prints it).
//!
//! - Exits baton controls (SIGTERM / SIGINT shutdown, a fatal error, a panic) end with
//!   [`kill_all`]: every registered group gets SIGKILL. While a leader is registered it
//!   has not been reaped, so its pid, and with it the group id, cannot have been reused.
//! - Exits it does not control (SIGKILL, the OOM killer) leave the file behind. The next
//!   start reads it in [`adopt_file`] and kills each recorded group whose leader still
//!   has the recorded start time, so a pid that the kernel has handed to an unrelated
//!   process since is never hit. A group whose leader has exited but whose members live
//!   on (a script that started something in the background) is killed too: the kernel
//!   does not reuse a pid while a process group of that number exists, and every member
//!   must have started no earlier than the recorded leader.
//!
//! Why a register and not the kernel: the kernel's way to make a child die with its parent
//! is `prctl(PR_SET_PDEATHSIG)`, set in the child between fork and exec, which needs
//! `pre_exec` and so `unsafe` (forbidden in this crate). A child subreaper only changes
//! who reaps orphans, and a PID namespace of its own would hide baton's children from
//! the host's tools; a helper process per child would double the processes of every
//! check run. Under systemd the unit's `KillMode=mixed` also kills what is left in the
//! service's cgroup once baton has died; the register covers every other way baton runs.
//!
//! This module may not know about instances or hooks: it only counts processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

struct Register {
    /// Leader pid -> start time in clock ticks since boot.
    live: BTreeMap<u32, u64>,
    file: Option<Journal>,
}

/// The register on disk: a journal of `+PID START` and `-PID` lines, appended to (an
/// append is one small `write`, which a kill cannot split) and compacted to the live
/// entries by write-and-rename once it has grown.
struct Journal {
    path: PathBuf,
    out: std::fs::File,
    lines: usize,
}

/// Lines after which the journal is rewritten with only the live entries.
const COMPACT_AFTER: usize = 4096;

static REGISTER: Mutex<Register> = Mutex::new(Register {
    live: BTreeMap::new(),
    file: None,
});

/// A group a previous run left behind and that [`adopt_file`] killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub pgid: u32,
    /// The processes of the group when it was killed (pid, command name).
    pub members: Vec<(u32, String)>,
}

/// What `/proc/PID/stat` says about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stat {
    comm: String,
    pgid: u32,
    start: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
/// utime stime cutime cstime priority nice threads itrealvalue starttime ...`; the
/// command name may hold spaces and parentheses, so the fields are counted from the
/// last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is the state (field 3), so field N is rest[N - 3].
    let pgid = rest.get(2)?.parse().ok()?;
    let start = rest.get(19)?.parse().ok()?;
    Some(Stat { comm, pgid, start })
}

/// The start time of a live process (`None`: gone, or not readable).
pub fn start_time(pid: u32) -> Option<u64> {
    read_stat(pid).map(|s| s.start)
}

impl Journal {
    /// Writes the live entries to a fresh file that replaces `path`, and appends to it.
    fn create(path: &Path, live: &BTreeMap<u32, u64>) -> std::io::Result<Journal> {
        let mut text = String::new();
        for (pid, start) in live {
            text.push_str(&format!("+{pid} {start}\n"));
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)?;
        let out = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(Journal {
            path: path.to_owned(),
            out,
            lines: live.len(),
        })
    }

    fn append(&mut self, line: &str) -> std::io::Result<()> {
        use std::io::Write;
        self.out.write_all(line.as_bytes())?;
        self.lines += 1;
        Ok(())
    }
}

/// Appends `line` to the journal, compacting it when it has grown.
fn record(reg: &mut Register, line: &str) {
    let Register { live, file } = reg;
    let Some(journal) = file else { return };
    let written = if journal.lines >= COMPACT_AFTER {
        Journal::create(&journal.path, live).map(|fresh| *journal = fresh)
    } else {
        journal.append(line)
    };
    if let Err(e) = written {
        tracing::warn!(file = %journal.path.display(), "cannot record running children: {e}");
    }
}

/// Records a leader that has just been started (not yet reaped).
pub fn register(pid: u32) {
    if pid == 0 {
        return;
    }
    // A child that already exited is a zombie until reaped and still has its stat.
    let start = start_time(pid).unwrap_or(0);
    if let Ok(mut reg) = REGISTER.lock() {
        reg.live.insert(pid, start);
        record(&mut reg, &format!("+{pid} {start}\n"));
    }
}

/// Forgets a leader that has been reaped, or whose group has been killed.
pub fn unregister(pid: u32) {
    if let Ok(mut reg) = REGISTER.lock() {
        if reg.live.remove(&pid).is_some() {
            record(&mut reg, &format!("-{pid}\n"));
        }
    }
}

/// How many children are registered now.
pub fn count() -> usize {
    REGISTER.lock().map(|r| r.live.len()).unwrap_or(0)
}

/// SIGKILLs the process group of every registered child. For exit paths: safe to call
/// from a panic hook (it never waits for a lock another thread holds).
pub fn kill_all() {
    let Ok(reg) = REGISTER.try_lock() else {
        return;
    };
    for &pid in reg.live.keys() {
        if let Ok(raw) = i32::try_from(pid) {
            if raw > 1 {
                let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
            }
        }
    }
}

/// Reads `path` as a previous run left it, kills the groups it lists that are still
/// there (see the module docs for why a reused pid is never hit), and from now on keeps
/// the register in `path`. Returns what was killed, for the log.
pub fn adopt_file(path: &Path) -> Vec<Reaped> {
    let reaped = match std::fs::read_to_string(path) {
        Ok(text) => reap_leftovers(&text),
        Err(_) => Vec::new(),
    };
    if let Ok(mut reg) = REGISTER.lock() {
        match Journal::create(path, &reg.live) {
            Ok(j) => reg.file = Some(j),
            Err(e) => {
                tracing::warn!(file = %path.display(), "cannot record running children: {e}")
            }
        }
    }
    reaped
}

/// Every process now in group `pgid`, with its stat.
fn group_members(pgid: u32) -> Vec<(u32, Stat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_stat(pid).map(|s| (pid, s)))
        .filter(|(_, s)| s.pgid == pgid)
        .collect()
}

/// Replays a journal: the entries still live at its end. Lines that do not parse (a
/// file that is not ours, or damaged) are skipped.
fn replay(text: &str) -> BTreeMap<u32, u64> {
    let mut live = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('+') {
            let mut words = rest.split_whitespace();
            if let (Some(Ok(pid)), Some(Ok(start))) = (
                words.next().map(str::parse::<u32>),
                words.next().map(str::parse::<u64>),
            ) {
                live.insert(pid, start);
            }
        } else if let Some(Ok(pid)) = line.strip_prefix('-').map(|p| p.trim().parse::<u32>()) {
            live.remove(&pid);
        }
    }
    live
}

fn reap_leftovers(text: &str) -> Vec<Reaped> {
    let mut reaped = Vec::new();
    for (pgid, start) in replay(text) {
        let own = u32::try_from(nix::unistd::getpgrp().as_raw()).unwrap_or(0);
        if pgid <= 1 || pgid == std::process::id() || pgid == own {
            continue;
        }
        let members = group_members(pgid);
        if members.is_empty() {
            continue;
        }
        let leader_matches = members
            .iter()
            .any(|(pid, s)| *pid == pgid && s.start == start);
        let leader_gone = !members.iter().any(|(pid, _)| *pid == pgid);
        let all_younger = members.iter().all(|(_, s)| s.start >= start);
        if !(leader_matches || (leader_gone && all_younger)) {
            continue;
        }
        let Ok(raw) = i32::try_from(pgid) else {
            continue;
        };
        if killpg(Pid::from_raw(raw), Signal::SIGKILL).is_ok() {
            reaped.push(Reaped {
                pgid,
                members: members.into_iter().map(|(p, s)| (p, s.comm)).collect(),
            });
        }
    }
    reaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 10 0 0 0 0 0 0 0 20 0 1 0 987654 1 2";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                comm: "a (b) c".into(),
                pgid: 4242,
                start: 987654
            })
        );
        assert_eq!(parse_stat("12 (x) S 1"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn own_stat_is_readable() {
        let me = std::process::id();
        assert!(start_time(me).is_some_and(|t| t > 0));
    }

    #[test]
    fn leftover_lines_that_do_not_parse_or_match_nothing_are_skipped() {
        // pid 1 and our own group are never touched; garbage lines are ignored.
        let text = format!(
            "+1 0\n+{} 0\nnot a line\n\n+99999999 5\n",
            std::process::id()
        );
        assert!(reap_leftovers(&text).is_empty());
    }

    #[test]
    fn journal_replays_to_the_entries_not_yet_removed() {
        let text = "+10 5\n+11 6\n-10\n+12 7\n-99\n+13\n-x\n+14 8";
        let live: Vec<(u32, u64)> = replay(text).into_iter().collect();
        assert_eq!(live, [(11, 6), (12, 7), (14, 8)]);
    }
}
