//! Configs compared: two real config files loaded the way `baton check` loads them,
//! summarized, compared and reported as `baton check --against-peer` reports them; and
//! the command line of `--against-peer` against no daemon and against a running baton
//! that has no link.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

mod common;
mod e2e;

use std::path::Path;
use std::process::{Command, Output};

use baton::config::{self, Config, LoadOptions};
use baton::link::compare::{self, Difference, PeerSummary};

/// One node of a unicast pair. `{..}` placeholders are filled per test.
const NODE: &str = r#"global_defs {
    router_id {ROUTER_ID}
    vrrp_version 2
{GLOBAL}}
vrrp_script chk_web {
    script "/bin/true"
    interval 1
    weight -20
}
vrrp_sync_group {GROUP} {
    group {
        VI_1
    }
}
vrrp_instance VI_1 {
    state {STATE}
    interface eth0
    virtual_router_id {VRID}
    priority {PRIORITY}
    advert_int {ADVERT}
    authentication {
        auth_type PASS
        auth_pass {PASS}
    }
    unicast_src_ip {SRC}
    unicast_peer {
        {PEER}
    }
    virtual_ipaddress {
        {VIPS}
    }
    track_script {
        chk_web {TRACK_WEIGHT}
    }
}
"#;

/// The settings of one node's file; `lb1()` and `lb2()` are a well-matched pair.
#[derive(Clone)]
struct Node {
    router_id: &'static str,
    global: &'static str,
    group: &'static str,
    state: &'static str,
    vrid: u8,
    priority: u8,
    advert: &'static str,
    pass: &'static str,
    src: &'static str,
    peer: &'static str,
    vips: &'static str,
    track_weight: &'static str,
}

fn lb1() -> Node {
    Node {
        router_id: "lb1",
        global: "",
        group: "SG_WEB",
        state: "MASTER",
        vrid: 51,
        priority: 150,
        advert: "1",
        pass: "s3cretpassword",
        src: "10.0.0.1",
        peer: "10.0.0.2",
        vips: "10.0.0.100/24\n        10.0.0.101/24 dev eth0",
        track_weight: "",
    }
}

fn lb2() -> Node {
    Node {
        router_id: "lb2",
        state: "BACKUP",
        priority: 100,
        src: "10.0.0.2",
        peer: "10.0.0.1",
        // The same addresses, written in the other order.
        vips: "10.0.0.101/24 dev eth0\n        10.0.0.100/24",
        ..lb1()
    }
}

impl Node {
    fn render(&self) -> String {
        NODE.replace("{ROUTER_ID}", self.router_id)
            .replace("{GLOBAL}", self.global)
            .replace("{GROUP}", self.group)
            .replace("{STATE}", self.state)
            .replace("{VRID}", &self.vrid.to_string())
            .replace("{PRIORITY}", &self.priority.to_string())
            .replace("{ADVERT}", self.advert)
            .replace("{PASS}", self.pass)
            .replace("{SRC}", self.src)
            .replace("{PEER}", self.peer)
            .replace("{VIPS}", self.vips)
            .replace("{TRACK_WEIGHT}", self.track_weight)
    }

    /// Written to a file and loaded as `baton check` loads it.
    fn load(&self, dir: &Path) -> Config {
        let path = dir.join(format!("{}.conf", self.router_id));
        std::fs::write(&path, self.render()).unwrap();
        match config::load(&path, &LoadOptions::default()) {
            Ok(l) => l.config,
            Err(e) => panic!("{} does not load:\n{e}", path.display()),
        }
    }
}

/// Both files loaded; the peer's summary as a running peer would send it.
fn pair(ours: &Node, theirs: &Node) -> (Config, Vec<PeerSummary>) {
    let dir = tempfile::tempdir().unwrap();
    let a = ours.load(dir.path());
    let b = theirs.load(dir.path());
    let peer = PeerSummary {
        peer: "lb2 10.0.0.2".into(),
        summary: compare::summarize(&b),
    };
    (a, vec![peer])
}

fn diffs(ours: &Node, theirs: &Node) -> Vec<Difference> {
    let (a, peers) = pair(ours, theirs);
    compare::compare(&compare::summarize(&a), &peers[0].summary)
}

fn fields(d: &[Difference]) -> Vec<(&str, &str, &str)> {
    d.iter()
        .map(|d| (d.field.as_str(), d.ours.as_str(), d.theirs.as_str()))
        .collect()
}

#[test]
fn a_matched_pair_with_different_priorities_states_and_sources_matches() {
    let (a, peers) = pair(&lb1(), &lb2());
    let report = compare::against_peers(&a, &peers);
    assert_eq!(report.text, "config: match (peer lb2 10.0.0.2)\n");
    assert_eq!(report.status, compare::EXIT_MATCH);
    // Matching is not emptiness: the summaries carry the settings compared.
    let s = compare::summarize(&a);
    let i = &s.instances[0];
    assert_eq!((i.vrid, i.version, i.advert_interval_ms), (51, 2, 1000));
    assert_eq!(
        i.virtual_addresses,
        ["10.0.0.100/24", "10.0.0.101/24 dev eth0"]
    );
    assert_eq!(i.sync_group.as_deref(), Some("SG_WEB"));
    assert_eq!(i.tracked.len(), 1);
    assert_eq!(
        (i.tracked[0].key.as_str(), i.tracked[0].weight),
        ("script:chk_web", -20)
    );
    assert_eq!(s.digest.len(), 16);
}

#[test]
fn each_differing_setting_is_reported_with_both_values() {
    let other = Node {
        vrid: 52,
        advert: "2",
        pass: "otherpass",
        vips: "10.0.0.100/24\n        10.0.0.102/24",
        group: "SG_OTHER",
        track_weight: "weight -30",
        ..lb2()
    };
    let d = diffs(&lb1(), &other);
    let f = fields(&d);
    assert_eq!(
        f.iter().map(|x| x.0).collect::<Vec<_>>(),
        [
            "vrid",
            "advert_int",
            "virtual_addresses",
            "authentication",
            "sync_group",
            "track script:chk_web"
        ],
        "{d:#?}"
    );
    assert_eq!(f[0], ("vrid", "51", "52"));
    assert_eq!(f[1], ("advert_int", "1s", "2s"));
    assert_eq!(
        f[2],
        (
            "virtual_addresses",
            "10.0.0.100/24 [10.0.0.101/24 dev eth0]",
            "10.0.0.100/24 10.0.0.102/24"
        )
    );
    assert!(f[3].1.starts_with("PASS sha256:") && f[3].2.starts_with("PASS sha256:"));
    assert_ne!(f[3].1, f[3].2);
    assert_eq!(f[4], ("sync_group", "SG_WEB", "SG_OTHER"));
    assert_eq!(f[5], ("track script:chk_web", "weight -20", "weight -30"));

    let (a, peers) = pair(&lb1(), &other);
    let report = compare::against_peers(&a, &peers);
    assert_eq!(report.status, compare::EXIT_DIFFERENT);
    let lines: Vec<&str> = report.text.lines().collect();
    assert_eq!(lines[0], "config: 6 differences (peer lb2 10.0.0.2)");
    assert_eq!(lines[1], "VI_1 vrid: this file 51, peer 52");
    assert_eq!(lines[2], "VI_1 advert_int: this file 1s, peer 2s");
    assert_eq!(lines[5], "VI_1 sync_group: this file SG_WEB, peer SG_OTHER");
    assert_eq!(lines.len(), 7, "{}", report.text);
}

#[test]
fn checksum_mode_and_a_check_that_faults_are_compared() {
    let other = Node {
        global: "    v3_checksum_as_v2\n",
        ..lb2()
    };
    // The checksum mode only exists for VRRPv3: with v2 on both sides it is no difference.
    assert_eq!(diffs(&lb1(), &other), vec![]);
    let v3 = |n: Node, global: &'static str| Node { global, ..n };
    let ours = v3(lb1(), "    vrrp_version 3\n");
    let theirs = v3(lb2(), "    vrrp_version 3\n    v3_checksum_as_v2\n");
    assert_eq!(
        fields(&diffs(&ours, &theirs)),
        [("checksum", "rfc", "v3_checksum_as_v2")]
    );
    // A check whose failure means FAULT on one side only (weight 0): the sides would
    // fail over differently.
    let zero = Node {
        track_weight: "weight 0",
        ..lb2()
    };
    assert_eq!(
        fields(&diffs(&lb1(), &zero)),
        [("track script:chk_web", "weight -20", "weight 0 (fault)")]
    );
}

#[test]
fn a_broken_unicast_pairing_is_reported_crosswise() {
    // lb2 lists 10.0.0.3 instead of lb1's source; lb1 does list lb2's.
    let wrong = Node {
        peer: "10.0.0.3",
        ..lb2()
    };
    assert_eq!(
        fields(&diffs(&lb1(), &wrong)),
        [(
            "unicast_peer",
            "source 10.0.0.1",
            "unicast_peer 10.0.0.3 (no 10.0.0.1)"
        )]
    );
    // And the other way round, seen from lb2: its own list lacks lb1's source.
    assert_eq!(
        fields(&diffs(&wrong, &lb1())),
        [(
            "unicast_peer",
            "unicast_peer 10.0.0.3 (no 10.0.0.1)",
            "source 10.0.0.1"
        )]
    );
}

#[test]
fn an_instance_only_one_side_has_is_a_difference() {
    let dir = tempfile::tempdir().unwrap();
    let a = lb1().load(dir.path());
    let mut b = a.clone();
    b.instances[0].name = "VI_2".into();
    let d = compare::compare(&compare::summarize(&a), &compare::summarize(&b));
    assert_eq!(
        fields(&d),
        [("instance", "present", "-"), ("instance", "-", "present")]
    );
    assert_eq!(
        (d[0].instance.as_str(), d[1].instance.as_str()),
        ("VI_1", "VI_2")
    );
}

#[test]
fn the_password_never_leaves_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let a = lb1().load(dir.path());
    let json = serde_json::to_string(&compare::summarize(&a)).unwrap();
    assert!(json.contains("PASS sha256:"), "{json}");
    // Not the password, nor the eight bytes of it that go on the wire.
    assert!(!json.contains("s3cret"), "{json}");
    // Bytes after the eighth never reach the wire, so they make no difference.
    let longer = Node {
        pass: "s3cretpaXXXX",
        ..lb2()
    };
    assert_eq!(diffs(&lb1(), &longer), vec![]);
}

fn baton(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn against_peer_without_a_daemon_exits_3_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lb1.conf");
    std::fs::write(&file, lb1().render()).unwrap();
    let sock = dir.path().join("none.sock");
    let out = baton(&[
        "check",
        "-f",
        file.to_str().unwrap(),
        "--against-peer",
        "--socket",
        sock.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("not compared: cannot reach baton at"), "{err}");
    assert!(out.stdout.is_empty());

    // A file with errors stops before any daemon is asked: exit 1, with file:line:col.
    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        lb1()
            .render()
            .replace("virtual_router_id 51", "virtual_router_id 0"),
    )
    .unwrap();
    let out = baton(&[
        "check",
        "-f",
        bad.to_str().unwrap(),
        "--against-peer",
        "--socket",
        sock.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.conf:18:23: error: virtual_router_id"),
        "{err}"
    );
    assert!(!err.contains("not compared"), "{err}");
}

#[test]
fn against_peer_arguments_are_checked() {
    // --socket belongs to --against-peer; --dump prints a file, it compares none.
    let f = ["check", "-f", "/nonexistent.conf"];
    let out = baton(&[&f[..], &["--socket", "/x.sock"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--against-peer"));
    let out = baton(&[&f[..], &["--against-peer", "--dump"]].concat());
    assert_eq!(out.status.code(), Some(2));
    let help = baton(&["check", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--against-peer"));
}

#[test]
fn against_peer_at_a_baton_without_a_link_exits_3() {
    let mut c = e2e::Cluster::new("lcmp_nolink", 1);
    let a = e2e::Inst::new(150, "BACKUP");
    let conf = e2e::conf("a", "", &[&a]);
    let i = c.start("a", 0, &conf);
    c.d(i).wait_state("VI_1", "MASTER");
    let file = c.path("a.conf");
    let out = baton(&[
        "check",
        "-f",
        file.to_str().unwrap(),
        "--against-peer",
        "--socket",
        c.d(i).socket.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("not compared"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_summary_of_a_thousand_instances_fits_in_one_trusted_frame() {
    // 1,000 instances, each with what makes a summary long: addresses, a route, auth,
    // unicast peers, a tracked script. The link refuses a frame over its trusted limit,
    // so a config this size must still be comparable.
    let mut text = String::from(
        "global_defs {\n    vrrp_version 2\n}\nvrrp_script chk_web {\n    script \"/bin/true\"\n    weight -20\n}\n",
    );
    for n in 0..1000u32 {
        let (hi, lo) = (n / 250, n % 250 + 1);
        text.push_str(&format!(
            "vrrp_instance VI_{n} {{\n    interface eth0\n    virtual_router_id {}\n    priority 100\n    authentication {{\n        auth_type PASS\n        auth_pass pw{n}\n    }}\n    unicast_src_ip 10.1.{hi}.{lo}\n    unicast_peer {{\n        10.2.{hi}.{lo}\n        10.3.{hi}.{lo}\n    }}\n    virtual_ipaddress {{\n        10.10.{hi}.{lo}/24 dev eth0\n        10.11.{hi}.{lo}/24\n    }}\n    virtual_routes {{\n        10.20.{hi}.0/24 via 10.1.{hi}.254\n    }}\n    track_script {{\n        chk_web\n    }}\n}}\n",
            n % 255 + 1
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.conf");
    std::fs::write(&path, text).unwrap();
    let config = config::load(&path, &LoadOptions::default()).unwrap().config;
    let start = std::time::Instant::now();
    let summary = compare::summarize(&config);
    let summarized = start.elapsed();
    let json = serde_json::to_vec(&summary).unwrap();
    let start = std::time::Instant::now();
    // The peer: the same, with its own source and ours among its peers.
    let mut theirs = summary.clone();
    for i in &mut theirs.instances {
        let ours = i.unicast_source.take().unwrap();
        i.unicast_source = Some(i.unicast_peers[0].clone());
        i.unicast_peers[0] = ours;
        i.unicast_peers.sort();
    }
    let d = compare::compare(&summary, &theirs);
    let compared = start.elapsed();
    println!(
        "1000 instances: summary {} bytes of JSON (limit {}), summarize {summarized:?}, compare {compared:?}",
        json.len(),
        baton::link::codec::LIMIT_TRUSTED
    );
    assert_eq!(summary.instances.len(), 1000);
    assert!(d.is_empty());
    assert!(json.len() < baton::link::codec::LIMIT_TRUSTED as usize);
}
