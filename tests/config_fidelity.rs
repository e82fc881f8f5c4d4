//! keepalived.conf read the way keepalived 2.2.7 reads it, for the cases
//! found in real files where baton used to differ: what keepalived runs is
//! never an error here (a warning says where baton's reading needs
//! explaining), and what keepalived reports, baton reports at the same line.
//!
//! Each expectation was taken from keepalived itself (`keepalived -t`, and
//! its configuration dump in a scratch namespace); the include matrix is
//! also checked against the installed keepalived on every run.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use baton::config::{Config, Diagnostic, LoadOptions, Severity, load_all};

fn opts() -> LoadOptions {
    LoadOptions {
        config_id: Some("node1".into()),
        check_interfaces: false,
        sys_class_net: None,
        max_lines: None,
        baton_conf: None,
    }
}

/// Write `text` as keepalived.conf in a fresh directory and load it.
fn load_text(text: &str) -> (Config, Vec<Diagnostic>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let (c, d) = load_all(&path, &opts());
    (c.expect("a model"), d)
}

/// The one diagnostic whose message contains `needle`: its severity and
/// line:col.
fn one(diags: &[Diagnostic], needle: &str) -> (Severity, u32, u32) {
    let hits: Vec<_> = diags
        .iter()
        .filter(|d| d.message.contains(needle))
        .collect();
    assert_eq!(hits.len(), 1, "want one '{needle}' in {diags:#?}");
    (hits[0].severity, hits[0].line, hits[0].col)
}

fn errors(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const INSTANCE_HEAD: &str = "vrrp_instance A {
    interface eth1
    virtual_router_id 5
    priority 100
    virtual_ipaddress {
        10.9.9.1/24
    }
";

// ---- include and its strict variants ------------------------------------

/// A directory with one good file and every kind of bad one.
fn include_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("real.conf"),
        "vrrp_script real {\n script /bin/true\n}\n",
    )
    .unwrap();
    std::fs::create_dir(d.join("adir")).unwrap();
    std::os::unix::fs::symlink(d.join("gone"), d.join("dangling.conf")).unwrap();
    std::fs::write(
        d.join("exec.conf"),
        "vrrp_script exec {\n script /bin/true\n}\n",
    )
    .unwrap();
    std::fs::set_permissions(d.join("exec.conf"), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

const VARIANTS: [&str; 6] = [
    "include", "includer", "includem", "includew", "includeb", "includea",
];

/// Per pattern, per variant (in [`VARIANTS`] order): `.` nothing said,
/// `w` a warning, `E` an error — what keepalived 2.2.7 does (a log line
/// and exit 0 is `w`, exit 6 is `E`), and the gist of the message.
const INCLUDE_MATRIX: &[(&str, &str, &str)] = &[
    ("nosuch.conf", "wwEEwE", "nosuch.conf does not exist"),
    ("*.nomatch", "...E.E", "no file matches *.nomatch"),
    ("{real,nosuch}.conf", "wwwwEE", "do not exist: "),
    ("{nosuch1,nosuch2}.conf", "wwwwEE", "none of the files"),
    ("{nosuch1,*.nomatch}.conf", "wwwwEE", "none of the files"),
    (
        "{a*,b*}.nomatch",
        "...E.E",
        "no file matches {a*,b*}.nomatch",
    ),
    ("adir", "wEEEEE", "adir is a directory; skipped"),
    ("dangling.conf", "wEEEEE", "dangling.conf cannot be read"),
    ("exec.conf", "wEEEEE", "exec.conf is executable; skipped"),
    ("real.conf", "......", ""),
];

fn include_conf(dir: &Path, variant: &str, pattern: &str) -> PathBuf {
    let path = dir.join("keepalived.conf");
    std::fs::write(
        &path,
        format!("global_defs {{\n    router_id x\n}}\n{variant} {pattern}\n"),
    )
    .unwrap();
    path
}

#[test]
fn every_include_variant_reports_what_keepalived_reports_at_the_include_line() {
    let dir = include_dir();
    for (pattern, expect, gist) in INCLUDE_MATRIX {
        for (variant, want) in VARIANTS.iter().zip(expect.chars()) {
            let path = include_conf(dir.path(), variant, pattern);
            let diags = load_all(&path, &opts()).1;
            let said: Vec<_> = diags
                .iter()
                .filter(|d| d.message.starts_with("include:"))
                .collect();
            let case = format!("{variant} {pattern}: {diags:#?}");
            match want {
                '.' => assert!(said.is_empty(), "{case}"),
                sev => {
                    assert_eq!(said.len(), 1, "{case}");
                    let d = said[0];
                    let severity = if sev == 'E' {
                        Severity::Error
                    } else {
                        Severity::Warning
                    };
                    assert_eq!(d.severity, severity, "{case}");
                    // At the include's line, at the pattern.
                    assert_eq!((d.line, d.col), (4, variant.len() as u32 + 2), "{case}");
                    assert!(d.message.contains(gist), "{case}");
                }
            }
            // Whatever is missing, the file that is there is read.
            if pattern.contains("real") {
                let names: Vec<_> = load_all(&path, &opts())
                    .0
                    .unwrap()
                    .vrrp_scripts
                    .into_iter()
                    .map(|s| s.name)
                    .collect();
                assert_eq!(names, vec!["real"], "{case}");
            }
        }
    }
}

#[test]
fn the_include_matrix_is_what_the_installed_keepalived_does() {
    let dir = include_dir();
    for (pattern, expect, _) in INCLUDE_MATRIX {
        for (variant, want) in VARIANTS.iter().zip(expect.chars()) {
            let path = include_conf(dir.path(), variant, pattern);
            let out = Command::new("keepalived")
                .arg("-t")
                .arg("-f")
                .arg(&path)
                .arg("-l")
                .output()
                .expect("keepalived is installed");
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let spoke = text.contains("Line 4)");
            let failed = out.status.code() != Some(0);
            let got = match (spoke, failed) {
                (_, true) => 'E',
                (true, false) => 'w',
                (false, false) => '.',
            };
            assert_eq!(got, want, "keepalived on {variant} {pattern}: {text}");
        }
    }
}

// ---- the same vrrp_script twice -------------------------------------------

#[test]
fn a_vrrp_script_defined_twice_keeps_the_first_definition_with_a_warning() {
    let text = format!(
        "vrrp_script chk {{
    script \"/bin/true first\"
    interval 3
    weight 10
}}
vrrp_script chk {{
    script \"/bin/false second\"
    interval 7
    weight -20
}}
{INSTANCE_HEAD}    track_script {{
        chk
    }}
}}
"
    );
    let (c, d) = load_text(&text);
    assert!(errors(&d).is_empty(), "{d:#?}");
    assert_eq!(
        one(&d, "vrrp_script 'chk' is defined again"),
        (Severity::Warning, 6, 13)
    );
    assert!(one_msg(&d, "defined again").contains("at line 1 is used"));
    assert_eq!(c.vrrp_scripts.len(), 1);
    let s = &c.vrrp_scripts[0];
    assert_eq!(s.script.as_ref().unwrap().argv, vec!["/bin/true", "first"]);
    assert_eq!((s.interval.as_secs(), s.weight), (3, 10));
}

fn one_msg(diags: &[Diagnostic], needle: &str) -> String {
    one(diags, needle);
    diags
        .iter()
        .find(|d| d.message.contains(needle))
        .map(|d| d.message.clone())
        .unwrap()
}

// ---- unicast addresses written with a prefix ------------------------------

#[test]
fn unicast_addresses_with_a_prefix_use_the_address_and_warn() {
    let text = format!(
        "{INSTANCE_HEAD}    unicast_src_ip 192.168.0.90/24
    unicast_peer {{
        192.168.0.91/24
        192.168.0.92/16 min_ttl 1
        192.168.0.93
    }}
}}
"
    );
    let (c, d) = load_text(&text);
    assert!(errors(&d).is_empty(), "{d:#?}");
    let i = &c.instances[0];
    assert_eq!(i.unicast_src_ip, Some(ip("192.168.0.90")));
    let peers: Vec<_> = i.unicast_peers.iter().map(|p| p.address).collect();
    assert_eq!(
        peers,
        vec![ip("192.168.0.91"), ip("192.168.0.92"), ip("192.168.0.93")]
    );
    assert_eq!(i.unicast_peers[1].min_ttl, Some(1));
    let warned: Vec<_> = d
        .iter()
        .filter(|d| d.message.contains("prefix"))
        .map(|d| (d.severity, d.line, d.col))
        .collect();
    assert_eq!(
        warned,
        vec![
            (Severity::Warning, 8, 20),
            (Severity::Warning, 10, 9),
            (Severity::Warning, 11, 9),
        ]
    );
    assert!(one_msg(&d, "unicast_src_ip: the prefix /24").contains("192.168.0.90"));

    // What comes before the '/' must still be an address.
    let text = format!("{INSTANCE_HEAD}    unicast_src_ip 192.168.0.300/24\n}}\n");
    let (_, d) = load_text(&text);
    assert_eq!(one(&d, "invalid address"), (Severity::Error, 8, 20));
}

// ---- default routes -------------------------------------------------------

#[test]
fn a_default_route_takes_its_family_from_the_gateway() {
    let text = format!(
        "{INSTANCE_HEAD}    virtual_routes {{
        default via inet6 2001:db8::1 dev eth1
        default via 192.168.0.1 dev eth1
        to default via inet6 2001:db8::2 dev eth1
        any via 192.168.0.2 dev eth1
        all via inet 192.168.0.3 dev eth1
        default dev eth1
    }}
}}
"
    );
    let (c, d) = load_text(&text);
    assert!(errors(&d).is_empty(), "{d:#?}");
    let got: Vec<String> = c.instances[0]
        .virtual_routes
        .iter()
        .map(|r| {
            format!(
                "{}/{} via {:?} options {:?}",
                r.to.address, r.to.len, r.via, r.options
            )
        })
        .collect();
    let none: Vec<String> = Vec::new();
    assert_eq!(
        got,
        vec![
            format!("::/0 via Some(2001:db8::1) options {none:?}"),
            format!("0.0.0.0/0 via Some(192.168.0.1) options {none:?}"),
            format!("::/0 via Some(2001:db8::2) options {none:?}"),
            format!("0.0.0.0/0 via Some(192.168.0.2) options {none:?}"),
            format!("0.0.0.0/0 via Some(192.168.0.3) options {none:?}"),
            format!("0.0.0.0/0 via None options {none:?}"),
        ]
    );
}

// ---- blocks written on one line -------------------------------------------

#[test]
fn a_block_on_one_line_is_one_line_its_first_keyword_takes_the_rest() {
    let text = "global_defs { router_id r1 vrrp_version 3 }
vrrp_script chk { script \"/bin/true\" interval 3 weight 10 }
vrrp_script other {
    script /bin/true
}
vrrp_instance A { interface eth1
    virtual_router_id 5
    priority 100
    authentication { auth_type PASS auth_pass secret1 }
    virtual_ipaddress { 10.9.9.1/24 10.9.9.2/24 }
    track_script { chk other }
    unicast_peer { 192.168.0.91 192.168.0.92 }
}
";
    let (c, d) = load_text(text);
    assert!(errors(&d).is_empty(), "{d:#?}");

    // router_id takes 'vrrp_version 3'; the version stays 2.
    assert_eq!(c.global.router_id.as_deref(), Some("r1"));
    assert_eq!(c.global.vrrp_version, 2);
    assert_eq!(
        one(&d, "'vrrp_version 3' after 'router_id' is ignored"),
        (Severity::Warning, 1, 28)
    );
    assert!(one_msg(&d, "after 'router_id'").contains("block written on one line"));

    // script takes the rest; interval and weight keep their defaults.
    let s = &c.vrrp_scripts[0];
    assert_eq!(s.script.as_ref().unwrap().argv, vec!["/bin/true"]);
    assert_eq!((s.interval.as_secs(), s.weight), (1, 0));
    assert_eq!(
        one(&d, "'interval 3 weight 10' after 'script' is ignored"),
        (Severity::Warning, 2, 38)
    );

    // auth_type takes 'auth_pass secret1': PASS without a password, which
    // keepalived runs without authentication.
    // The statement after the instance's `{` on its line is read.
    let i = &c.instances[0];
    assert_eq!(i.interface.as_deref(), Some("eth1"));
    assert!(i.authentication.is_none(), "{:?}", i.authentication);
    assert_eq!(
        one(&d, "'auth_pass secret1' after 'auth_type' is ignored"),
        (Severity::Warning, 9, 37)
    );
    assert_eq!(
        one(&d, "auth_type PASS without auth_pass"),
        (Severity::Warning, 9, 5)
    );

    // The second address is an unknown option of the first.
    let vips: Vec<_> = i.virtual_ipaddresses.iter().map(|a| a.address).collect();
    assert_eq!(vips, vec![ip("10.9.9.1")]);
    assert_eq!(
        one(&d, "'10.9.9.2/24' is read as an option of 10.9.9.1/24"),
        (Severity::Warning, 10, 37)
    );

    // 'other' is an unknown option of chk: keepalived then tracks neither.
    assert!(i.track_scripts.is_empty(), "{:?}", i.track_scripts);
    assert_eq!(
        one(&d, "unknown option 'other' after 'chk'"),
        (Severity::Warning, 11, 24)
    );

    // Likewise the second peer.
    let peers: Vec<_> = i.unicast_peers.iter().map(|p| p.address).collect();
    assert_eq!(peers, vec![ip("192.168.0.91")]);
    assert_eq!(
        one(&d, "'192.168.0.92' is read as an option of 192.168.0.91"),
        (Severity::Warning, 12, 33)
    );
}

#[test]
fn an_unquoted_script_runs_its_first_word_only_as_in_keepalived() {
    let (c, d) = load_text("vrrp_script chk {\n    script /bin/echo a b\n}\n");
    assert_eq!(
        c.vrrp_scripts[0].script.as_ref().unwrap().argv,
        vec!["/bin/echo"]
    );
    assert_eq!(
        one(&d, "'a b' after the command is ignored"),
        (Severity::Warning, 2, 22)
    );
    assert!(one_msg(&d, "after the command").contains("quote the whole command"));
    let (c, d) = load_text("vrrp_script chk {\n    script \"/bin/echo a b\"\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(
        c.vrrp_scripts[0].script.as_ref().unwrap().argv,
        vec!["/bin/echo", "a", "b"]
    );
}

// ---- YAML: problems found after parsing -----------------------------------

#[test]
fn problems_found_in_a_yaml_file_after_it_parsed_point_at_their_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.yaml");
    std::fs::write(
        &path,
        "instances:
- name: A
  interface: eth1
  virtual_router_id: 5
  priority: 0
  virtual_ipaddresses:
  - address: 10.9.9.1
    prefix_len: 24
  - address: 2001:db8::1
    prefix_len: 64
  track_scripts:
  - name: nosuch
sync_groups:
  - name: G
    members:
    - A
    - B
",
    )
    .unwrap();
    let (c, d) = load_all(&path, &opts());
    assert!(c.is_some());
    let got: Vec<_> = d
        .iter()
        .map(|d| (d.severity, d.line, d.col, d.message.as_str()))
        .collect();
    let want = [
        (Severity::Error, 5, 13, "priority must be between 1 and 255"),
        (
            Severity::Error,
            9,
            3,
            "virtual_ipaddress 2001:db8::1 is IPv6",
        ),
        (Severity::Error, 12, 11, "no vrrp_script named 'nosuch'"),
        (Severity::Error, 17, 7, "no vrrp_instance named 'B'"),
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0, g.1, g.2), (w.0, w.1, w.2), "{g:?}");
        assert!(g.3.contains(w.3), "{g:?}");
    }
}

#[test]
fn a_route_mixing_families_is_skipped_with_a_warning_as_keepalived_does() {
    let text = format!(
        "{INSTANCE_HEAD}    virtual_routes {{
        10.1.0.0/16 via inet6 2001:db8::3 dev eth1
        default via inet 2001:db8::2 dev eth1
        10.2.0.0/16 via 192.168.0.1 dev eth1
    }}
}}
"
    );
    let (c, d) = load_text(&text);
    assert!(errors(&d).is_empty(), "{d:#?}");
    let mixed: Vec<_> = d
        .iter()
        .filter(|d| d.message.contains("mixes IPv4 and IPv6"))
        .map(|d| (d.severity, d.line, d.col))
        .collect();
    assert_eq!(
        mixed,
        vec![(Severity::Warning, 9, 9), (Severity::Warning, 10, 9)]
    );
    let kept: Vec<_> = c.instances[0]
        .virtual_routes
        .iter()
        .map(|r| (r.to.address, r.to.len))
        .collect();
    assert_eq!(kept, vec![(ip("10.2.0.0"), 16)]);
}
