//! keepalived's dump interface, baton against the real keepalived 2.2.7 in namespaces.
//!
//! One setup for all three tests: two namespaces joined by a veth pair (`eth0`, 10.0.0.1
//! and 10.0.0.2), a second veth pair `tk0`/`tk1` inside node A for `track_interface`, and
//! the real keepalived on node B with `node-b.conf` (master of VI_BACKUP, backup of
//! VI_MASTER). Node A runs `node-a.conf` with baton or with keepalived, each with its own
//! `TMPDIR` (both write their files there, as keepalived does), until VI_MASTER is MASTER,
//! VI_BACKUP is BACKUP under node B and both vrrp_scripts are good and settled; then the
//! three dump signals are sent to the pid in the daemon's pid file.
//!
//! - `capture` (ignored; run it to refresh the fixtures) stores keepalived's three files in
//!   `tests/data/keepalived-dump/`;
//! - `keepalived_matches_the_captures`: the installed keepalived still writes what the
//!   fixtures hold (so they are current and the rules below only mask what varies);
//! - `baton_writes_what_keepalived_writes`: baton's files against the fixtures, line by
//!   line (same sections, blocks, labels and order; same values except times, descriptors,
//!   advert counts and the documented differences), what the exporter reads from them is
//!   what it reads from keepalived's, and rapid signals never leave a half-written file.
//!
//! Needs root and keepalived in PATH. Waits are polls with deadlines.

mod common;
mod dump;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use common::netns::{TestNet, wait_until};
use dump::compare::{self, Difference, Rules};
use dump::exporter;

const LIMIT: Duration = Duration::from_secs(40);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Baton,
    Keepalived,
}

/// The three files, by the signal that writes them.
#[derive(Debug, Clone, Copy)]
enum File {
    Data,
    Stats,
    Json,
}

impl File {
    fn name(self) -> &'static str {
        match self {
            File::Data => "keepalived.data",
            File::Stats => "keepalived.stats",
            File::Json => "keepalived.json",
        }
    }

    /// The number `--signum` prints for it (the same for both daemons; see dump_cli.rs).
    fn signal(self) -> i32 {
        match self {
            File::Data => libc::SIGUSR1,
            File::Stats => libc::SIGUSR2,
            File::Json => libc::SIGRTMIN() + 2,
        }
    }
}

/// Sends signal number `signo` (real-time ones included, which nix's `Signal` lacks) with
/// the shell's `kill`.
fn send(pid: Pid, signo: i32) {
    let ok = Command::new("sh")
        .args(["-c", &format!("kill -{signo} {pid}")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{signo} {pid} failed");
}

/// One daemon in a namespace, in its own process group (killed on drop).
struct Daemon {
    kind: Kind,
    child: Option<Child>,
    pid_file: PathBuf,
    tmpdir: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(kind: Kind, ns: &str, dir: &Path, tag: &str, conf: &str) -> Daemon {
        let conf_path = dir.join(format!("{tag}.conf"));
        fs::write(&conf_path, conf).expect("write config");
        let tmpdir = dir.join(format!("{tag}-tmp"));
        fs::create_dir_all(&tmpdir).expect("tmpdir");
        let log = dir.join(format!("{tag}.log"));
        let pid_file = dir.join(format!("{tag}.pid"));
        let out = fs::File::create(&log).expect("log");
        let err = out.try_clone().expect("dup log");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        match kind {
            Kind::Baton => {
                cmd.arg(env!("CARGO_BIN_EXE_baton"))
                    .args(["run", "-D", "-f"])
                    .arg(&conf_path)
                    .arg("--socket")
                    .arg(dir.join(format!("{tag}.sock")))
                    .arg("-p")
                    .arg(&pid_file);
            }
            Kind::Keepalived => {
                cmd.args(["keepalived", "-n", "-l", "-D", "--vrrp", "-f"])
                    .arg(&conf_path)
                    .arg("-p")
                    .arg(&pid_file)
                    .arg("-r")
                    .arg(dir.join(format!("{tag}.vrrp.pid")))
                    .arg("-c")
                    .arg(dir.join(format!("{tag}.checkers.pid")))
                    .args(["-i", tag]);
            }
        }
        use std::os::unix::process::CommandExt as _;
        cmd.env("TMPDIR", &tmpdir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd.spawn().expect("spawn daemon");
        Daemon {
            kind,
            child: Some(child),
            pid_file,
            tmpdir,
            log,
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> Option<Pid> {
        let text = fs::read_to_string(&self.pid_file).ok()?;
        text.trim().parse().ok().map(Pid::from_raw)
    }

    /// Started far enough to take signals: baton logs "baton started" once its handlers
    /// are in place; keepalived's VRRP process logs its first state.
    fn ready(&self) -> bool {
        let marker = match self.kind {
            Kind::Baton => "baton started",
            Kind::Keepalived => "Entering BACKUP STATE",
        };
        self.pid().is_some() && self.log_text().contains(marker)
    }

    /// Sends `file`'s signal and returns the file once it is complete: baton renames a
    /// finished file into place; keepalived writes in place, so its size must hold still.
    fn dump(&self, file: File) -> String {
        let path = self.tmpdir.join(file.name());
        let _ = fs::remove_file(&path);
        send(self.pid().expect("pid file"), file.signal());
        let start = Instant::now();
        let mut last: Option<u64> = None;
        loop {
            let size = fs::metadata(&path).ok().map(|m| m.len());
            match (size, self.kind) {
                (Some(n), Kind::Baton) if n > 0 => break,
                (Some(n), Kind::Keepalived) if n > 0 && last == Some(n) => break,
                _ => {}
            }
            last = size;
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {} after its signal\n{}",
                file.name(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        fs::read_to_string(&path).expect("read dump")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let group = Pid::from_raw(i32::try_from(c.id()).unwrap_or(0));
            let _ = kill(group, Signal::SIGTERM);
            let start = Instant::now();
            while c.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(5)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = killpg(group, Signal::SIGKILL);
            let _ = c.wait();
        }
    }
}

/// The namespaces, node B's keepalived, and a directory for both nodes' files.
struct Setup {
    net: TestNet,
    dir: tempfile::TempDir,
    peer: Daemon,
}

fn setup(test: &str) -> Setup {
    assert!(
        Command::new("keepalived").arg("--version").output().is_ok(),
        "keepalived is not installed"
    );
    let net = TestNet::pair(test);
    let a = net.node(0).ns.clone();
    net.ip(
        &a,
        &["link", "add", "tk0", "type", "veth", "peer", "name", "tk1"],
    );
    net.ip(&a, &["link", "set", "tk0", "up"]);
    net.ip(&a, &["link", "set", "tk1", "up"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let b = net.node(1).ns.clone();
    let peer = Daemon::start(
        Kind::Keepalived,
        &b,
        dir.path(),
        "b",
        &dump::fixture("node-b.conf"),
    );
    // Node B must hold VI_BACKUP before node A starts, or A would take it first.
    wait_until(
        LIMIT,
        "node B master of VI_BACKUP",
        || {
            peer.log_text()
                .contains("(VI_BACKUP) Entering MASTER STATE")
        },
        || peer.log_text(),
    );
    Setup { net, dir, peer }
}

/// The lines of one block (`VRRP Instance = X`) of a `.data` file.
fn block<'a>(lines: &'a [compare::Line], header: &str) -> Vec<&'a compare::Line> {
    lines.iter().filter(|l| l.block == header).collect()
}

fn has(lines: &[&compare::Line], label: &str, value: &str) -> bool {
    lines.iter().any(|l| l.label == label && l.value == value)
}

/// The state the fixtures were taken in.
fn settled(data: &str) -> bool {
    let lines = compare::parse_data(data);
    let master = block(&lines, "VRRP Instance = VI_MASTER");
    let backup = block(&lines, "VRRP Instance = VI_BACKUP");
    let ok = block(&lines, "VRRP Script = chk_ok");
    let args = block(&lines, "VRRP Script = chk_args");
    has(&master, "State", "MASTER")
        && has(&master, "Effective priority", "160")
        && has(&backup, "State", "BACKUP")
        && has(&backup, "Master router", "10.0.0.2")
        && [&master, &backup]
            .iter()
            .all(|b| has(b, "Number of track scripts init", "0"))
        && has(&ok, "Status", "GOOD")
        && has(&args, "Status", "GOOD")
        && has(&args, "Result", "4")
}

/// Runs `kind` on node A until settled; returns it with its three files.
fn run_node_a(s: &Setup, kind: Kind) -> (Daemon, [String; 3]) {
    let a = s.net.node(0).ns.clone();
    let d = Daemon::start(kind, &a, s.dir.path(), "a", &dump::fixture("node-a.conf"));
    wait_until(LIMIT, "node A started", || d.ready(), || d.log_text());
    let data = std::cell::RefCell::new(String::new());
    wait_until(
        LIMIT,
        "node A settled (VI_MASTER master, VI_BACKUP backup, scripts good)",
        || {
            let text = d.dump(File::Data);
            let done = settled(&text);
            *data.borrow_mut() = text;
            done
        },
        || {
            format!(
                "{}\n--- node A log ---\n{}\n--- node B log ---\n{}",
                data.borrow(),
                d.log_text(),
                s.peer.log_text()
            )
        },
    );
    let data = data.into_inner();
    let stats = d.dump(File::Stats);
    let json = d.dump(File::Json);
    (d, [data, stats, json])
}

#[test]
#[ignore = "rewrites tests/data/keepalived-dump from the installed keepalived"]
fn capture() {
    let s = setup("dump-capture");
    let (_d, files) = run_node_a(&s, Kind::Keepalived);
    for (file, text) in [File::Data, File::Stats, File::Json].iter().zip(&files) {
        let path = dump::fixtures().join(file.name());
        fs::write(&path, text).expect("write fixture");
        eprintln!("wrote {}", path.display());
    }
}

/// What changes between two runs of keepalived: the times, and what a MASTER shows as
/// its master-down timer (it depends on the adverts heard before it took over).
const VARYING: &[(&str, &str)] = &[
    ("", "Last transition"),
    ("", "Read timeout"),
    ("VRRP Instance = VI_MASTER", "Master down timer"),
];

/// keepalived against itself: only the run-dependent values may differ.
const KEEPALIVED_RULES: Rules = Rules {
    omitted_sections: &["Interfaces"],
    globals: None,
    varying: VARYING,
    differences: &[],
};

/// What baton leaves out, what varies, and the values baton fills differently.
pub const BATON_RULES: Rules = Rules {
    omitted_sections: &["VRRP Sockpool", "Interfaces"],
    globals: Some(&[
        "Network namespace",
        "Router ID",
        "Default interface",
        "Num adverts before down",
        "Script security",
        "Default script uid:gid",
    ]),
    varying: &[
        ("", "Last transition"),
        ("", "Read timeout"),
        ("", "fd_in"),
        ("VRRP Instance = VI_MASTER", "Master down timer"),
    ],
    differences: &[
        Difference {
            block: "VRRP Instance = VI_BACKUP",
            label: "Check unicast src",
            baton: "yes",
            keepalived: "no",
            why: "baton takes unicast adverts only from unicast_peer unless its own file \
                  sets unicast_accept_any_source",
        },
        Difference {
            block: "VRRP Script = chk_ok",
            label: "Timeout",
            baton: "1 sec",
            keepalived: "0 sec",
            why: "baton keeps the timeout in force (the interval when none is set)",
        },
        Difference {
            block: "VRRP Script = chk_args",
            label: "Weight",
            baton: "-5",
            keepalived: "0",
            why: "baton keeps the weight each instance tracks the script with, not the \
                  script's own",
        },
    ],
};

#[test]
fn keepalived_matches_the_captures() {
    let s = setup("dump-ka");
    let (_d, [data, stats, json]) = run_node_a(&s, Kind::Keepalived);
    let mut problems =
        compare::compare_data(&data, &dump::fixture("keepalived.data"), &KEEPALIVED_RULES);
    problems.extend(compare::compare_stats(
        &stats,
        &dump::fixture("keepalived.stats"),
    ));
    let (ours, theirs) = (
        compare::mask_json(&json, compare::JSON_VARYING),
        compare::mask_json(&dump::fixture("keepalived.json"), compare::JSON_VARYING),
    );
    if ours != theirs {
        problems.push(format!("json:\n{ours}\nfixture:\n{theirs}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn baton_writes_what_keepalived_writes() {
    let s = setup("dump-baton");
    let (d, [data, stats, json]) = run_node_a(&s, Kind::Baton);
    let mut problems =
        compare::compare_data(&data, &dump::fixture("keepalived.data"), &BATON_RULES);
    problems.extend(compare::compare_stats(
        &stats,
        &dump::fixture("keepalived.stats"),
    ));
    let (ours, theirs) = (
        compare::mask_json(&json, compare::JSON_VARYING),
        compare::mask_json(&dump::fixture("keepalived.json"), compare::JSON_VARYING),
    );
    if ours != theirs {
        problems.push(format!("json:\n{ours}\nfixture:\n{theirs}"));
    }
    assert!(
        problems.is_empty(),
        "{}\n--- baton's keepalived.data ---\n{data}",
        problems.join("\n")
    );

    // The exporter reads the same from baton's files as from keepalived's (bar the
    // advert counts), through the text files and through the JSON file.
    let seen = |data: &str, stats: &str| {
        let vrrps = exporter::join(
            exporter::parse_data(data).expect("exporter parses .data"),
            exporter::parse_stats(stats).expect("exporter parses .stats"),
        )
        .expect("exporter joins .data and .stats");
        exporter::series(&vrrps, &exporter::parse_scripts(data), false)
    };
    let want = seen(
        &dump::fixture("keepalived.data"),
        &dump::fixture("keepalived.stats"),
    );
    assert_eq!(seen(&data, &stats), want);
    let from_json = exporter::parse_json(&json).expect("exporter decodes .json");
    let want_json = exporter::parse_json(&dump::fixture("keepalived.json")).expect("fixture");
    assert_eq!(
        exporter::series(&from_json, &[], false),
        exporter::series(&want_json, &[], false)
    );
    let counts = exporter::parse_stats(&stats).expect("stats");
    assert!(counts["VI_MASTER"].advert_sent > 0, "{stats}");
    assert!(counts["VI_BACKUP"].advert_rcvd > 0, "{stats}");
    assert_eq!(counts["VI_BACKUP"].advert_sent, 0, "{stats}");

    // Signals in quick succession while a reader polls: every read is a whole file, and
    // no temporary file stays behind.
    let path = d.tmpdir.join(File::Json.name());
    let pid = d.pid().expect("pid");
    let sending = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let reader = {
        let (path, sending) = (path.clone(), sending.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while sending.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(text) = fs::read_to_string(&path) {
                    exporter::parse_json(&text)
                        .unwrap_or_else(|e| panic!("a partial file was read ({e}): {text:?}"));
                    reads += 1;
                }
            }
            reads
        })
    };
    for _ in 0..100 {
        send(pid, File::Json.signal());
    }
    sending.store(false, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.join().expect("reader");
    assert!(reads > 0, "the reader never saw the file");
    let temporaries = || -> Vec<String> {
        fs::read_dir(&d.tmpdir)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_until(
        Duration::from_secs(5),
        "no temporary files left",
        || temporaries().is_empty(),
        || format!("{:?}", temporaries()),
    );
    assert!(
        d.pid().is_some_and(|p| kill(p, None).is_ok()),
        "baton died\n{}",
        d.log_text()
    );
    // And VRRP went on meanwhile: the master still advertises, still MASTER.
    let sent = |text: &str| {
        exporter::parse_stats(text)
            .ok()
            .and_then(|s| s.get("VI_MASTER").map(|c| c.advert_sent))
            .unwrap_or(0)
    };
    let before = sent(&stats);
    wait_until(
        LIMIT,
        "VI_MASTER advertising after the signals",
        || sent(&d.dump(File::Stats)) > before + 2,
        || d.log_text(),
    );
    assert!(settled(&d.dump(File::Data)), "{}", d.log_text());
}
