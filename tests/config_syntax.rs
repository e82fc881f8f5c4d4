//! Grammar corners as keepalived reads them: brace placement, one-line
//! blocks, comments, quotes, case, includes relative to the including
//! file, conditionals, definitions, ~SEQ and ~LST.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

use std::path::PathBuf;

use baton::config::model::Config;
use baton::config::{Diagnostic, LoadOptions, Severity, load_all};

fn run(files: &[(&str, &str)], id: &str) -> (Config, Vec<Diagnostic>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let path: PathBuf = dir.path().join(files[0].0);
    let opts = LoadOptions {
        config_id: Some(id.into()),
        ..LoadOptions::default()
    };
    let (c, d) = load_all(&path, &opts);
    (c.unwrap(), d, dir)
}

fn problems(d: &[Diagnostic]) -> Vec<String> {
    d.iter()
        .filter(|d| d.severity >= Severity::Warning)
        .map(ToString::to_string)
        .collect()
}

#[test]
fn brace_on_next_line_one_line_blocks_and_comments() {
    let text = r#"
vrrp_instance VI_1
{
    interface eth0   # trailing comment
    virtual_router_id 7 ! bang comment
    virtual_ipaddress { 10.0.0.1/24 10.0.0.9 }
    track_script { chk }
    notify_master "/bin/echo # not a comment ! nor this"
}
vrrp_script chk { script "/bin/true" }
"#;
    let (c, d, _t) = run(&[("k.conf", text)], "x");
    // A one-line block holds one statement: the second address reads as
    // an option of the first, which keepalived logs and ignores: a
    // warning at its column.
    let p = problems(&d);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains(
            "k.conf:6:37: warning: '10.0.0.9' is read as an option of 10.0.0.1/24 and ignored"
        ),
        "{p:?}"
    );
    let i = &c.instances[0];
    assert_eq!(i.virtual_router_id, 7);
    assert_eq!(i.virtual_ipaddresses.len(), 1);
    assert_eq!(
        i.notify.master.as_ref().unwrap().argv,
        vec!["/bin/echo", "#", "not", "a", "comment", "!", "nor", "this"]
    );
    assert_eq!(c.vrrp_scripts[0].name, "chk");
}

#[test]
fn keywords_are_case_sensitive() {
    let (c, d, _t) = run(&[("k.conf", "VRRP_INSTANCE X {\n interface e\n}\n")], "x");
    assert!(c.instances.is_empty());
    assert_eq!(problems(&d).len(), 1);
    assert!(problems(&d)[0].contains(":1:1: warning: unknown keyword 'VRRP_INSTANCE'"));
}

#[test]
fn include_is_relative_to_the_including_file() {
    let (c, d, _t) = run(
        &[
            ("etc/keepalived.conf", "include sub/a.conf\n"),
            ("etc/sub/a.conf", "include b/c.conf\n"),
            (
                "etc/sub/b/c.conf",
                "vrrp_script deep { script /bin/true }\n",
            ),
        ],
        "x",
    );
    assert!(problems(&d).is_empty(), "{:?}", problems(&d));
    assert_eq!(c.vrrp_scripts[0].name, "deep");
}

#[test]
fn include_globs_and_brace_checks() {
    let files = [
        ("k.conf", "includeb {one,two,three}.inc\ninclude *.inc\n"),
        ("one.inc", "vrrp_script one { script /bin/true }\n"),
        ("two.inc", "vrrp_script two { script /bin/true }\n"),
    ];
    let (c, d, _t) = run(&files, "x");
    // three.inc is missing: includeb says so; the glob then re-includes
    // one and two, whose second definitions are ignored (keepalived keeps
    // the first of two vrrp_scripts of one name).
    let errs: Vec<_> = d.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].message.contains("do not exist: "), "{errs:?}");
    assert!(errs[0].message.ends_with("three.inc"), "{errs:?}");
    assert_eq!((errs[0].line, errs[0].col), (1, 10));
    assert_eq!(
        d.iter()
            .filter(|w| w.severity == Severity::Warning && w.message.contains("is defined again"))
            .count(),
        2
    );
    assert_eq!(c.vrrp_scripts.len(), 2);
}

#[test]
fn conditionals_select_by_config_id() {
    let text = "global_defs {\n@a router_id A\n@b router_id B\n@^a vrrp_version 3\n}\n";
    let (c, _, _t) = run(&[("k.conf", text)], "a");
    assert_eq!(c.global.router_id.as_deref(), Some("A"));
    assert_eq!(c.global.vrrp_version, 2);
    let (c, _, _t) = run(&[("k.conf", text)], "c");
    assert_eq!(c.global.router_id, None);
    assert_eq!(c.global.vrrp_version, 3);
}

#[test]
fn definitions_substitute_recursively_at_use_time() {
    let text = "$BASE=10.2.${SUB}\n$SUB=0\n$EMPTY=\n$H=${_HASH}x\nvrrp_instance I {\n interface e\n virtual_router_id 1\n virtual_ipaddress {\n  ${BASE}.100/32\n  $UNDEFINED_STAYS\n }\n notify \"/bin/n ${H} ${EMPTY} $EMPTY\"\n}\n$SUB=10\nvrrp_script s { script \"/bin/echo ${BASE}\" }\n";
    let (c, d, _t) = run(&[("k.conf", text)], "x");
    let i = &c.instances[0];
    assert_eq!(i.virtual_ipaddresses[0].address.to_string(), "10.2.0.100");
    // $UNDEFINED_STAYS is left as written, so it is an invalid address.
    assert!(
        d.iter()
            .any(|d| d.message.contains("'$UNDEFINED_STAYS'") && d.line == 10)
    );
    // `$EMPTY` right before a quote is not followed by whitespace: kept.
    assert_eq!(i.notify.any.as_ref().unwrap().raw, "/bin/n #x  $EMPTY");
    assert_eq!(
        c.vrrp_scripts[0].script.as_ref().unwrap().argv,
        vec!["/bin/echo", "10.2.10"]
    );
}

#[test]
fn seq_and_lst_expand_lines() {
    let text = "~SEQx(S, 0x90, 0x10, 0xc0) vrrp_script s${S} { script /bin/true }\n~LST({A, B}, {x,1},{y,2}) vrrp_script ${A}${B} { script /bin/true }\n~LST(I, 1, 2) ~SEQ(J, 2) vrrp_script n${I}${J} { script /bin/true }\n";
    let (c, d, _t) = run(&[("k.conf", text)], "x");
    assert!(problems(&d).is_empty(), "{:?}", problems(&d));
    let names: Vec<&str> = c.vrrp_scripts.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "s90", "sa0", "sb0", "sc0", "x1", "y2", "n11", "n12", "n21", "n22"
        ]
    );
}

#[test]
fn multi_line_definitions_nest() {
    let text = "$PEER= \\\n    unicast_peer { \\\n        10.0.0.${P} \\\n    }\n$INST= \\\nvrrp_instance I${N} { \\\n    interface e \\\n    virtual_router_id ${N} \\\n    unicast_src_ip 10.0.0.9 \\\n    $PEER \\\n    virtual_ipaddress { \\\n        10.0.1.${N} \\\n    } \\\n}\n$P=5\n~SEQ(N, 1, 2) $INST\n";
    let (c, d, _t) = run(&[("k.conf", text)], "x");
    assert!(problems(&d).is_empty(), "{:?}", problems(&d));
    assert_eq!(c.instances.len(), 2);
    assert_eq!(c.instances[1].virtual_router_id, 2);
    assert_eq!(
        c.instances[1].unicast_peers[0].address.to_string(),
        "10.0.0.5"
    );
}
