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

#[test]
fn an_included_file_that_is_found_is_read() {
    let dir = include_dir();
    for variant in VARIANTS {
        let path = include_conf(dir.path(), variant, "{real,nosuch}.conf");
        let (c, _) = load_all(&path, &opts());
        let names: Vec<_> = c
            .unwrap()
            .vrrp_scripts
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec!["real"], "{variant}");
    }
}
