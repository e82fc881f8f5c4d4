//! Random token streams and random bytes never panic or hang the loader.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

use std::path::Path;

use baton::config::{LoadOptions, load_all};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "{",
    "}",
    "vrrp_instance",
    "VI_1",
    "vrrp_script",
    "chk",
    "vrrp_sync_group",
    "group",
    "global_defs",
    "interface",
    "eth0",
    "virtual_router_id",
    "51",
    "0",
    "300",
    "-1",
    "priority",
    "advert_int",
    "0.1",
    "state",
    "MASTER",
    "BACKUP",
    "virtual_ipaddress",
    "10.0.0.1/24",
    "fd00::1/64",
    "192.168.1./24",
    "unicast_peer",
    "unicast_src_ip",
    "track_script",
    "track_interface",
    "weight",
    "reverse",
    "script",
    "\"/bin/true a\"",
    "\"unterminated",
    "include",
    "includea",
    "*.conf",
    "{a,b}",
    "@node1",
    "@^node1",
    "$X=1",
    "$X",
    "${X}",
    "$Y= \\",
    "\\",
    "~SEQ(I,1,3)",
    "~SEQ(I,0,0,5)",
    "~LST(I,a,b)",
    "~LST({A,B},{1,2})",
    "${I}",
    "#",
    "!",
    "authentication",
    "auth_type",
    "AH",
    "PASS",
    "notify_master",
    "virtual_routes",
    "virtual_rules",
    "from",
    "to",
    "table",
    "via",
    "gw",
    "or",
    "blackhole",
    "\n",
    "\n",
    "\n",
    "$R=$R$R",
    "$R",
    "nopreempt",
    "version",
    "3",
    "track_file",
    "file",
    "vrrp_track_process",
];

fn load_text(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("keepalived.conf");
    std::fs::write(&p, bytes).unwrap();
    let opts = LoadOptions {
        config_id: Some("node1".into()),
        check_interfaces: false,
        ..LoadOptions::default()
    };
    let (_, diags) = load_all(&p, &opts);
    for d in diags {
        // Every diagnostic names a real position.
        assert!(d.line >= 1 && d.col >= 1, "{d}");
        let _ = d.to_string();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_token_streams_never_panic(idx in proptest::collection::vec(0..WORDS.len(), 0..120)) {
        let text: Vec<&str> = idx.iter().map(|&i| WORDS[i]).collect();
        load_text(text.join(" ").as_bytes());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        load_text(&bytes);
    }
}

#[test]
fn self_referencing_definition_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.conf");
    std::fs::write(&p, "$A=x $A\n$A\n$B= \\\n$B \\\nz\n$B\n").unwrap();
    let (_, d) = load_all(&p, &LoadOptions::default());
    assert!(d.iter().any(|d| d.is_error()), "{d:?}");
    assert!(Path::new(&d[0].file).ends_with("k.conf"));
}

#[test]
fn huge_sequences_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.conf");
    std::fs::write(
        &p,
        "~SEQ(A,0,99999) ~SEQ(B,0,99999) vrrp_script s${A}_${B} { script /bin/true }\n",
    )
    .unwrap();
    let opts = LoadOptions {
        max_lines: Some(10_000),
        ..LoadOptions::default()
    };
    let (_, d) = load_all(&p, &opts);
    assert!(
        d.iter().any(|d| d.message.contains("too many lines")),
        "{:?}",
        d.first()
    );
}
