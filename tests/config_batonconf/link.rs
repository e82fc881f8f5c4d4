//! The link block of baton's file: what it reads into `LinkConf`, each mistake at its
//! file:line:col, the checks against keepalived.conf, the dump, and the fingerprint form
//! shared with `link::identity`.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use baton::config::baton::{LinkConf, LinkPeer, canonical_fingerprint};
use baton::config::{Diagnostic, load, load_all};
use baton::link::identity::Fingerprint;
use proptest::prelude::*;

use super::{Files, KCONF, one_error, opts};

/// A fingerprint as baton stores it, and the same key as users paste it.
const FP: &str = "A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:71:17:44:94:D6:49:3C:9D:5C";
const FP2: &str = "34:60:BE:31:20:1E:69:FE:DA:A0:EE:E8:B9:99:7F:5C:7C:29:99:FD:AF:E5:93:25:3C:D6:54:AF:4D:FA:D7:14";

/// KCONF's instances over unicast from 10.0.0.1 (VI_1) to 10.0.0.2.
fn kconf_unicast() -> String {
    KCONF.replacen(
        "priority 100\n",
        "priority 100\n    unicast_src_ip 10.0.0.1\n    unicast_peer { 10.0.0.2 }\n    check_unicast_src\n",
        1,
    )
}

/// The link block of a baton file loaded beside `kconf`, and every diagnostic.
fn link_of(kconf: &str, text: &str) -> (Option<LinkConf>, Vec<Diagnostic>) {
    let f = Files::new();
    let k = f.write("keepalived.conf", kconf);
    let b = f.write("baton.conf", text);
    let (c, d) = load_all(&k, &opts(Some(&b)));
    (c.unwrap().baton.link, d)
}

#[test]
fn link_block_reads_into_the_model_with_fingerprints_in_canonical_form() {
    let lower = FP.to_lowercase();
    let bare = FP2.replace(':', "");
    let text = format!(
        "link {{\n    listen 10.0.0.1\n    listen fd00::1\n    port 7500\n    peer 10.0.0.2\n    \
         peer 10.0.0.3 port 7412 fingerprint sha256 Fingerprint={lower}\n    \
         peer fd00::3 fingerprint SHA256:{bare} port 7413\n    trust {bare}\n    \
         trust SHA256 {FP}\n    state_dir /srv/baton\n    heartbeat 0.5\n    dead_after 2.5\n}}\n"
    );
    let (link, d) = link_of(KCONF, &text);
    assert!(d.is_empty(), "{d:#?}");
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let expected = LinkConf {
        listen: vec![ip("10.0.0.1"), ip("fd00::1")],
        port: Some(7500),
        peers: vec![
            LinkPeer {
                address: ip("10.0.0.2"),
                port: None,
                fingerprint: None,
            },
            LinkPeer {
                address: ip("10.0.0.3"),
                port: Some(7412),
                fingerprint: Some(FP.into()),
            },
            LinkPeer {
                address: ip("fd00::3"),
                port: Some(7413),
                fingerprint: Some(FP2.into()),
            },
        ],
        trusted: vec![FP2.into(), FP.into()],
        state_dir: Some("/srv/baton".into()),
        heartbeat: Some(Duration::from_millis(500)),
        dead_after: Some(Duration::from_millis(2500)),
        ..LinkConf::default()
    };
    assert_eq!(link, Some(expected));
}

#[test]
fn an_empty_link_block_takes_the_defaults_and_no_block_means_no_link() {
    let (link, d) = link_of(&kconf_unicast(), "link {\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    let link = link.unwrap();
    assert_eq!(link, LinkConf::default());
    assert_eq!(link.port(), 7411);
    assert_eq!(link.state_dir(), Path::new("/var/lib/baton"));
    assert_eq!(link.heartbeat(), Duration::from_secs(1));
    assert_eq!(link.dead_after(), Duration::from_secs(3));
    let (link, d) = link_of(KCONF, "global {\n notify_timeout 3\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(link, None);
}

#[test]
fn link_block_mistakes_are_errors_where_written() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            "link {\n  listen 10.0.0.1\n  lisen 10.0.0.2\n}\n",
            (3, 3),
            "unknown statement 'lisen' in link",
        ),
        (
            "link {\n  listen 10.0.0.300\n}\n",
            (2, 10),
            "'10.0.0.300' is not an IPv4 or IPv6 address",
        ),
        ("link {\n  listen fe80::1%eth0\n}\n", (2, 10), "has a zone"),
        (
            "link {\n  listen 0.0.0.0\n}\n",
            (2, 10),
            "not the address of one node",
        ),
        ("link {\n  listen\n}\n", (2, 3), "listen needs an address"),
        (
            "link {\n  listen 10.0.0.1 10.0.0.2\n}\n",
            (2, 19),
            "listen takes one value",
        ),
        (
            "link {\n listen 10.0.0.1\n  port 65536\n}\n",
            (3, 8),
            "port must be a number from 1 to 65535 (got '65536')",
        ),
        (
            "link {\n listen 10.0.0.1\n  port 0\n}\n",
            (3, 8),
            "from 1 to 65535",
        ),
        (
            "link {\n listen 10.0.0.1\n port 1\n port 2\n}\n",
            (4, 2),
            "port is set twice in the link block (the first is at line 3)",
        ),
        (
            "link {\n listen 10.0.0.1\n peer\n}\n",
            (3, 2),
            "peer needs an address",
        ),
        (
            "link {\n listen 10.0.0.1\n peer 10.0.0.2 prot 7412\n}\n",
            (3, 16),
            "unknown option 'prot' of peer (known: port, fingerprint)",
        ),
        (
            "link {\n listen 10.0.0.1\n peer 10.0.0.2 port\n}\n",
            (3, 16),
            "peer port needs a port number",
        ),
        (
            "link {\n listen 10.0.0.1\n peer 10.0.0.2 port 1 port 2\n}\n",
            (3, 23),
            "port is given twice for this peer",
        ),
        (
            "link {\n listen 10.0.0.1\n peer 10.0.0.2 fingerprint\n}\n",
            (3, 16),
            "peer fingerprint needs a fingerprint",
        ),
        (
            "link {\n listen 10.0.0.1\n peer 10.0.0.2 fingerprint AB:CD\n}\n",
            (3, 28),
            "64 hex digits (32 bytes, colons optional), this has 4",
        ),
        (
            "link {\n listen 10.0.0.1\n trust XY\n}\n",
            (3, 8),
            "'X' is not a hex digit",
        ),
        (
            "link {\n listen 10.0.0.1\n trust\n}\n",
            (3, 2),
            "trust needs a fingerprint",
        ),
        (
            "link {\n listen 10.0.0.1\n state_dir var/lib/baton\n}\n",
            (3, 12),
            "state_dir must be an absolute path",
        ),
        (
            "link {\n listen 10.0.0.1\n heartbeat 0.05\n}\n",
            (3, 12),
            "heartbeat must be between 0.1 and 60 seconds",
        ),
        (
            "link {\n listen 10.0.0.1\n dead_after 601\n}\n",
            (3, 13),
            "dead_after must be between 0.1 and 600 seconds",
        ),
        (
            "link {\n listen 10.0.0.1\n heartbeat 2\n dead_after 2\n}\n",
            (4, 13),
            "dead_after (2 s) must be longer than heartbeat (2 s)",
        ),
        (
            "link {\n listen 10.0.0.1\n heartbeat 5\n}\n",
            (3, 12),
            "dead_after (3 s) must be longer than heartbeat (5 s); dead_after is 3 s unless set",
        ),
        (
            "link {\n listen 10.0.0.1\n heartbeat { 1 }\n}\n",
            (3, 2),
            "heartbeat takes a value, not a block",
        ),
        (
            "link {\n listen 10.0.0.1\n}\nlink {\n}\n",
            (4, 1),
            "a second link block (the first is at line 1)",
        ),
        (
            "link 1 {\n listen 10.0.0.1\n}\n",
            (1, 6),
            "link takes no name",
        ),
        ("link 10.0.0.1\n", (1, 1), "'link' needs a block"),
    ];
    for (text, at, msg) in cases {
        let (l, c, m) = one_error(text);
        assert_eq!((l, c), *at, "{text}: {m}");
        assert!(m.contains(msg), "{text}: {m}");
    }
}

#[test]
fn an_address_or_fingerprint_listed_twice_is_an_error_at_the_second_naming_the_first() {
    let (l, c, m) = one_error("link {\n listen 10.0.0.1\n listen ::1\n listen 0::1\n}\n");
    assert_eq!((l, c), (4, 9), "{m}");
    assert!(
        m.contains("listen ::1 is given twice (the first is at line 3)"),
        "{m}"
    );
    let (l, c, m) = one_error(
        "link {\n listen 10.0.0.1\n peer 10.0.0.2\n peer 10.0.0.3\n peer 10.0.0.2 port 7412\n}\n",
    );
    assert_eq!((l, c), (5, 7), "{m}");
    assert!(
        m.contains("peer 10.0.0.2 is listed twice (the first is at line 3)"),
        "{m}"
    );
    let bare = FP.replace(':', "").to_lowercase();
    let (l, c, m) = one_error(&format!(
        "link {{\n listen 10.0.0.1\n trust {FP}\n trust {bare}\n}}\n"
    ));
    assert_eq!((l, c), (4, 8), "{m}");
    assert!(
        m.contains(&format!(
            "fingerprint {FP} is trusted twice (the first is at line 3)"
        )),
        "{m}"
    );
    // A pinned peer whose key is also trusted is fine.
    let (link, d) = link_of(
        KCONF,
        &format!("link {{\n listen 10.0.0.1\n peer 10.0.0.2 fingerprint {FP}\n trust {FP}\n}}\n"),
    );
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(link.unwrap().trusted, [FP]);
}

#[test]
fn the_first_of_a_pair_in_another_file_is_named_by_its_whole_place() {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    let inc = f.write("peers.inc", "peer 10.0.0.2\n");
    let b = f.write(
        "baton.conf",
        "link {\n listen 10.0.0.1\n include peers.inc\n peer 10.0.0.2\n}\n",
    );
    let (_, d) = load_all(&k, &opts(Some(&b)));
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        (d[0].file.as_path(), d[0].line, d[0].col),
        (b.as_path(), 4, 7)
    );
    let first = format!("{}:1:6", inc.display());
    assert!(
        d[0].message.contains(&format!("(the first is at {first})")),
        "{}",
        d[0].message
    );
}

#[test]
fn a_peer_that_is_a_listen_address_is_an_error_at_the_peer() {
    let (l, c, m) = one_error("link {\n  peer 10.0.0.7\n  listen 10.0.0.7\n}\n");
    assert_eq!((l, c), (2, 8), "{m}");
    assert!(
        m.contains("peer 10.0.0.7 is also a listen address of this node (at line 3)"),
        "{m}"
    );
}

#[test]
fn without_listen_the_instances_unicast_src_ip_is_where_the_link_listens() {
    // No listen, no unicast_src_ip: nowhere to listen.
    let (l, c, m) = one_error("global {\n}\n  link {\n  peer 10.0.0.2\n}\n");
    assert_eq!((l, c), (3, 3), "{m}");
    assert_eq!(
        m,
        "link: no listen address: add `listen ADDRESS` (without it baton listens on the \
         instances' unicast_src_ip, and no vrrp_instance has one, nor an mcast_src_ip)"
    );
    // An mcast_src_ip is where a multicast instance's link listens.
    let mcast = KCONF.replacen(
        "priority 100\n",
        "priority 100\n    mcast_src_ip 10.0.0.9\n",
        1,
    );
    let (link, d) = link_of(&mcast, "link {\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    assert!(link.is_some());
    // An instance's unicast_src_ip is enough ...
    let (link, d) = link_of(&kconf_unicast(), "link {\n  peer 10.0.0.2\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    assert!(link.unwrap().listen.is_empty());
    // ... and a peer may not be one of them.
    let f = Files::new();
    let k = f.write("keepalived.conf", &kconf_unicast());
    let b = f.write(
        "baton.conf",
        "link {\n  peer 10.0.0.2\n  peer 10.0.0.1\n}\n",
    );
    let (_, d) = load_all(&k, &opts(Some(&b)));
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        (d[0].file.as_path(), d[0].line, d[0].col),
        (b.as_path(), 3, 8)
    );
    assert!(d[0].is_error());
    assert!(
        d[0].message.contains("peer 10.0.0.1 is this node's own address: it is the unicast_src_ip of vrrp_instance VI_1"),
        "{}",
        d[0].message
    );
}

#[test]
fn check_dump_shows_the_link_block_and_the_dump_reads_back_to_the_same_model() {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    let b = f.write(
        "baton.conf",
        &format!(
            "link {{\n listen 10.0.0.1\n peer 10.0.0.2 port 7412 fingerprint {}\n trust {FP2}\n heartbeat 0.25\n}}\n",
            FP.to_lowercase()
        ),
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["check", "-f"])
        .args([&k, Path::new("--baton-conf"), &b, Path::new("--dump")])
        .output()
        .unwrap();
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let section = yaml
        .split_once("\nbaton:\n  link:\n")
        .map(|(_, s)| s)
        .unwrap_or("");
    for line in [
        "    listen:\n    - 10.0.0.1\n",
        "    peers:\n    - address: 10.0.0.2\n      port: 7412\n",
        &format!("      fingerprint: {FP}\n"),
        &format!("    trusted:\n    - {FP2}\n"),
        "    heartbeat: 0.25\n",
    ] {
        assert!(section.contains(line), "{line:?} not in\n{yaml}");
    }
    let c = load(&k, &opts(Some(&b))).unwrap().config;
    let y = f.write("dump.yaml", &yaml);
    assert_eq!(load(&y, &opts(None)).unwrap().config, c);
}

#[test]
fn config_and_link_identity_agree_on_the_canonical_fingerprint() {
    let inputs = [
        FP.to_string(),
        FP.to_lowercase(),
        FP.replace(':', ""),
        format!("SHA256:{}", FP.replace(':', "")),
        format!("sha256 Fingerprint={FP}"),
        format!("SHA256 {}", FP.to_lowercase()),
        format!("  {FP2}  "),
    ];
    for text in &inputs {
        let ours = canonical_fingerprint(text).unwrap();
        let theirs = text.parse::<Fingerprint>().unwrap().to_string();
        assert_eq!(ours, theirs, "{text}");
    }
    for bad in [
        "",
        "AB:CD",
        "ZZ",
        &FP[..FP.len() - 1],
        &format!("{FP}00"),
        "sha256",
    ] {
        assert!(canonical_fingerprint(bad).is_err(), "{bad}");
        assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
    }
}

const WORDS: &[&str] = &[
    "link",
    "{",
    "}",
    "\n",
    "listen",
    "port",
    "peer",
    "trust",
    "fingerprint",
    "state_dir",
    "heartbeat",
    "dead_after",
    "10.0.0.1",
    "10.0.0.2",
    "fd00::1",
    "fe80::1%lo",
    "::",
    "0",
    "7411",
    "65536",
    "-1",
    "0.05",
    "3",
    "600.5",
    "/var/lib/baton",
    "rel/dir",
    "sha256",
    "SHA256",
    "Fingerprint=",
    FP,
    FP2,
    "ab:cd",
    "SHA256:",
    "\"quoted word\"",
    "include",
    "global",
    "instance",
    "VI_1",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Whatever is written in a link block, the loader reports it and never panics.
    #[test]
    fn random_link_blocks_never_panic(idx in proptest::collection::vec(0..WORDS.len(), 0..80)) {
        let words: Vec<&str> = idx.iter().map(|&i| WORDS[i]).collect();
        let text = format!("link {{\n{}\n}}\n", words.join(" "));
        let f = Files::new();
        let k = f.write("keepalived.conf", &kconf_unicast());
        let b = f.write("baton.conf", &text);
        let (_, diags) = load_all(&k, &opts(Some(&b)));
        for d in diags {
            prop_assert!(d.line >= 1 && d.col >= 1, "{}", d);
        }
    }
}
