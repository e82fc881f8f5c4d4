//! `baton identity` and `baton peer ...` as a user runs them: the fingerprint against
//! openssl's, plain failures, and exit codes. Where a running baton is needed, a
//! stand-in listens on a real control socket in a temporary directory and answers with
//! the daemon's own response types, recording what the command sent; a real baton
//! without a link (in a network namespace) checks the answers a node gives today.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

mod common;
mod e2e;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::JoinHandle;

use baton::control::{IdentityView, PeerListEntry, Request, Response, Status};
use baton::link::identity::Identity;

fn baton(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .expect("run baton")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// What `openssl x509 -noout -fingerprint -sha256` prints after `=`.
fn openssl_fingerprint(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    line.trim_end()
        .split_once('=')
        .map(|(_, fp)| fp.to_string())
        .unwrap_or_else(|| panic!("openssl printed {line:?}"))
}

#[test]
fn offline_identity_is_the_fingerprint_openssl_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let (_id, _) = Identity::load_or_create(&dir).unwrap();

    let out = baton(&["identity", "--state-dir", s(&dir)]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let expected = openssl_fingerprint(&dir.join("identity.crt"));
    assert_eq!(expected.len(), 95, "{expected}");
    assert_eq!(lines[0], format!("SHA256 {expected}"), "{stdout}");
    // Offline there is no router_id to name the node by.
    assert_eq!(lines[1], "node id    -", "{stdout}");
    assert_eq!(
        lines[2],
        format!("state dir  {}", dir.display()),
        "{stdout}"
    );

    let out = baton(&["identity", "--state-dir", s(&dir), "--json"]);
    let view: IdentityView = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view.fingerprint, expected);
    assert_eq!(view.node_id, "");
    assert!(view.listen.is_empty());
}

#[test]
fn no_identity_yet_fails_plainly_and_makes_none() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in [tmp.path().to_path_buf(), tmp.path().join("missing")] {
        let out = baton(&["identity", "--state-dir", s(&dir)]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stdout), "");
        assert_eq!(
            text(&out.stderr),
            format!(
                "baton: no identity in {} yet: it is made when baton starts with a link block\n",
                dir.display()
            )
        );
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn a_half_identity_is_reported_with_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    Identity::load_or_create(&dir).unwrap();
    std::fs::remove_file(dir.join("identity.crt")).unwrap();
    let out = baton(&["identity", "--state-dir", s(&dir)]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("baton: "), "{err}");
    assert!(err.contains("identity.crt"), "{err}");
    assert!(!dir.join("identity.crt").exists());
}

#[test]
fn peer_commands_exit_3_when_no_baton_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("baton.sock");
    let fp = "ab".repeat(32);
    for args in [
        vec!["peer", "approve", &fp, "--socket", s(&sock)],
        vec!["peer", "revoke", &fp, "--socket", s(&sock)],
        vec!["peer", "list", "--socket", s(&sock)],
    ] {
        let out = baton(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with(&format!("baton: cannot reach baton at {}", sock.display())),
            "{err}"
        );
    }
}

#[test]
fn a_fingerprint_that_is_none_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("baton.sock");
    let out = baton(&["peer", "approve", "AB:CD", "--socket", s(&sock)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("a fingerprint is 64 hex digits"),
        "{}",
        text(&out.stderr)
    );
}

/// A control socket that answers each connection with the next of `answers` and hands
/// back the requests it got.
struct StandIn {
    socket: PathBuf,
    thread: Option<JoinHandle<Vec<Request>>>,
    _dir: tempfile::TempDir,
}

impl StandIn {
    fn new(answers: Vec<Response>) -> StandIn {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("baton.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            for answer in answers {
                let (stream, _) = listener.accept().unwrap();
                let mut line = String::new();
                BufReader::new(&stream).read_line(&mut line).unwrap();
                got.push(serde_json::from_str(&line).unwrap());
                let mut reply = serde_json::to_vec(&answer).unwrap();
                reply.push(b'\n');
                (&stream).write_all(&reply).unwrap();
            }
            got
        });
        StandIn {
            socket,
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn path(&self) -> &str {
        s(&self.socket)
    }

    fn requests(mut self) -> Vec<Request> {
        self.thread.take().unwrap().join().unwrap()
    }
}

const FP: &str = "9C:13:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:8D";

#[test]
fn approve_and_revoke_send_the_canonical_fingerprint_and_print_the_answer() {
    let daemon = StandIn::new(vec![
        Response::Ok {
            message: "approved 9C:13:...:8D".into(),
        },
        Response::Error {
            message: "9C:13:...:8D is trusted in baton's file; edit it and reload".into(),
        },
    ]);
    // As a user pastes it from openssl: prefix, lower case.
    let pasted = format!("sha256 Fingerprint={}", FP.to_lowercase());
    let out = baton(&["peer", "approve", &pasted, "--socket", daemon.path()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "approved 9C:13:...:8D\n");
    let out = baton(&[
        "peer",
        "revoke",
        &FP.replace(':', ""),
        "--socket",
        daemon.path(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "baton: 9C:13:...:8D is trusted in baton's file; edit it and reload\n"
    );
    assert_eq!(
        daemon.requests(),
        vec![
            Request::PeerApprove {
                fingerprint: FP.into()
            },
            Request::PeerRevoke {
                fingerprint: FP.into()
            },
        ]
    );
}

#[test]
fn identity_and_peer_list_come_from_the_running_baton() {
    let view = IdentityView {
        fingerprint: FP.into(),
        node_id: "0a1b2c3d4e5f6071".into(),
        state_dir: "/var/lib/baton".into(),
        listen: vec!["10.0.0.1:7411".into()],
    };
    let pending = PeerListEntry {
        fingerprint: FP.into(),
        trust: "pending".into(),
        node_id: Some("5e3a9c0d11f2b477".into()),
        address: Some("10.0.0.2".into()),
        last_seen_ms_ago: Some(1_500),
        approved_at: None,
        linked: false,
    };
    let daemon = StandIn::new(vec![
        Response::Identity(view.clone()),
        Response::Peers {
            peers: vec![pending.clone()],
        },
        Response::Peers {
            peers: vec![pending.clone()],
        },
    ]);
    let out = baton(&["identity", "--socket", daemon.path()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!(
            "SHA256 {FP}\nnode id    0a1b2c3d4e5f6071\nstate dir  /var/lib/baton\nlisten     10.0.0.1:7411\n"
        )
    );
    let out = baton(&["peer", "list", "--socket", daemon.path()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!(
            "TRUST    NODE              ADDRESS   LAST SEEN  LINKED  FINGERPRINT\n\
             pending  5e3a9c0d11f2b477  10.0.0.2  1.5s ago   no      {FP}\n"
        )
    );
    let out = baton(&["peer", "list", "--json", "--socket", daemon.path()]);
    let listed: Vec<PeerListEntry> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed, vec![pending]);
    assert_eq!(
        daemon.requests(),
        vec![Request::Identity, Request::Peers, Request::Peers]
    );
}

#[test]
fn a_running_baton_without_a_link_says_so() {
    let daemon = StandIn::new(vec![Response::Error {
        message: "this node has no link (no link block in baton's file)".into(),
    }]);
    let out = baton(&["identity", "--socket", daemon.path()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "baton: this node has no link (no link block in baton's file)\n"
    );
}

#[test]
fn status_shows_the_peers_beside_this_node() {
    let stats = serde_json::to_value(baton::proto::Stats::default()).unwrap();
    let status: Status = serde_json::from_value(serde_json::json!({
        "router_id": "lb1", "config_file": "/etc/keepalived/keepalived.conf",
        "config_digest": "abc", "pid": 42, "uptime_ms": 5000,
        "instances": [{
            "name": "VI_1", "state": "MASTER", "interface": "eth0", "vrid": 51,
            "version": 3, "priority": 150, "effective_priority": 150, "master": "self",
            "virtual_addresses": ["10.0.0.100/24"], "in_state_ms": 3000,
            "last_reason": "x", "operator": null, "stats": stats
        }],
        "groups": [], "tracks": [],
        "link": {
            "fingerprint": FP, "node_id": "0a1b2c3d4e5f6071", "listen": ["10.0.0.1:7411"],
            "peers": [{
                "address": "10.0.0.2", "node_id": "5e3a9c0d11f2b477", "link": "up",
                "link_since_ms_ago": 61000, "rtt_us": 1500, "last_heard_ms_ago": 200,
                "status": {"baton_version": "0.1.0", "uptime_ms": 1, "instances": [{
                    "name": "VI_1", "state": "BACKUP", "effective_priority": 100,
                    "base_priority": 100, "last_reason": "x", "in_state_ms": 1}]},
                "config": {"matches": false, "differences": [{"instance": "VI_1",
                    "field": "advert_interval", "ours": "1s", "theirs": "2s"}]}
            }, {
                "address": "10.0.0.3", "link": "vrrp only",
                "vrrp": [{"instance": "VI_1", "vrid": 51, "priority": 50,
                    "last_advert_ms_ago": 800}]
            }]
        }
    }))
    .unwrap();
    let daemon = StandIn::new(vec![Response::Status(Box::new(status))]);
    let out = baton(&["status", "--socket", daemon.path()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().skip(3).collect();
    assert_eq!(
        lines,
        vec![
            format!("link: node 0a1b2c3d4e5f6071  listen 10.0.0.1:7411  SHA256 {FP}").as_str(),
            "PEER      NODE              LINK         RTT    LAST HEARD",
            "10.0.0.2  5e3a9c0d11f2b477  up for 1m1s  1.5ms  200ms ago",
            "10.0.0.3  -                 VRRP only    -      800ms ago",
            "INSTANCE  THIS NODE   10.0.0.2    10.0.0.3",
            "VI_1      MASTER 150  BACKUP 100  advert prio 50 (800ms ago)",
            "config: differs from peer 10.0.0.2:",
            "  VI_1 advert_interval: ours 1s, peer 2s",
            "config: not compared with peer 10.0.0.3 (VRRP only: no link)",
        ],
        "{stdout}"
    );
}

#[test]
fn a_node_without_a_link_answers_plainly() {
    use e2e::{Cluster, Inst, conf};
    let mut c = Cluster::new("cli_link_nolink", 1);
    let a = Inst::new(150, "BACKUP").hooks(&c, "a");
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    let sock = c.d(0).socket.clone();

    let out = baton(&["status", "--socket", s(&sock)]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.lines().any(|l| l.starts_with("VI_1 ")), "{stdout}");
    assert!(
        !stdout.contains("link:") && !stdout.contains("PEER") && !stdout.contains("config:"),
        "{stdout}"
    );

    // The daemon refuses; the command does not go looking in the state directory.
    let out = baton(&["identity", "--socket", s(&sock)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert!(
        err.starts_with("baton: ") && err.contains("no link"),
        "{err}"
    );

    let out = baton(&["peer", "approve", FP, "--socket", s(&sock)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no link"),
        "{}",
        text(&out.stderr)
    );
}
