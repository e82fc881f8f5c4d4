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

/// Found by `random_token_streams_never_panic`: a definition that doubles itself and
/// holds a `{` expanded into thousands of nested blocks, and the builder's recursion
/// overflowed the stack. Nesting is now bounded in the parser and reported where it
/// passes the bound; the blocks around it still close where written.
#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("nested.conf");
    let depth = 10_000;
    let text = format!(
        "{}{}vrrp_instance AFTER {{\n}}\n",
        "vrrp_instance A {\n".repeat(depth),
        "}\n".repeat(depth)
    );
    std::fs::write(&nested, text).unwrap();
    let doubling = dir.path().join("doubling.conf");
    std::fs::write(&doubling, "$R=$R$R $R { \n virtual_routes $R=$R$R").unwrap();
    // A small stack, as a tokio worker or test thread has, makes an overflow certain.
    let diags = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let _ = load_all(&doubling, &LoadOptions::default());
            load_all(&nested, &LoadOptions::default()).1
        })
        .unwrap()
        .join()
        .expect("loading must not overflow the stack");
    let deep: Vec<_> = diags
        .iter()
        .filter(|d| d.message.contains("nest more than"))
        .collect();
    assert_eq!(deep.len(), 1, "{diags:?}");
    assert_eq!((deep[0].line, deep[0].col), (33, 1));
    assert!(
        !diags.iter().any(|d| d.message.contains("never closed")
            || d.message.contains("without a matching")),
        "the skipped blocks' braces must still balance: {diags:?}"
    );
}
