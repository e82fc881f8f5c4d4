//! keepalived's own sample configurations (in the shared folder): every
//! file parses, and exactly the problems `EXPECTED.md` lists are reported
//! (errors and warnings, by line). Missing-interface warnings are a host
//! matter and are left out, as EXPECTED.md says.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

use std::path::{Path, PathBuf};

use baton::config::{LoadOptions, Severity, load_all};

fn samples_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/keepalived-samples"
    ));
    if dir.is_dir() {
        return Some(dir);
    }
    // The worktree layout keeps the shared folder two levels up.
    let alt = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/keepalived-samples"
    ));
    alt.is_dir().then_some(alt)
}

/// (file, [(line, severity)]) as EXPECTED.md lists them.
const EXPECTED: &[(&str, &[(u32, Severity)])] = &[
    ("docker.keepalived.conf", &[]),
    (
        "etc.keepalived.conf.default",
        &[
            (15, Severity::Warning),
            (16, Severity::Warning),
            // state MASTER with priority < 255 under vrrp_strict (VI_1).
            (20, Severity::Warning),
        ],
    ),
    // MASTER with AH authentication (VI_1), at the auth_type.
    ("keepalived.conf.SSL_GET", &[(20, Severity::Warning)]),
    (
        "keepalived.conf.conditional_conf",
        &[(13, Severity::Error), (25, Severity::Error)],
    ),
    ("keepalived.conf.sample", &[]),
    ("keepalived.conf.track_interface", &[]),
    ("keepalived.conf.vrrp", &[]),
    ("keepalived.conf.vrrp.localcheck", &[]),
    (
        "keepalived.conf.vrrp.lvs_syncd",
        &[(4, Severity::Warning), (5, Severity::Warning)],
    ),
    (
        "keepalived.conf.vrrp.routes",
        &[(30, Severity::Warning), (32, Severity::Warning)],
    ),
    (
        "keepalived.conf.vrrp.rules",
        &[
            (10, Severity::Warning),
            (11, Severity::Error),
            (25, Severity::Warning),
            (26, Severity::Error),
        ],
    ),
    ("keepalived.conf.vrrp.scripts", &[]),
    ("keepalived.conf.vrrp.static_ipaddress", &[]),
    ("keepalived.conf.vrrp.sync", &[]),
];

fn reported(path: &Path) -> Vec<(u32, Severity)> {
    let opts = LoadOptions {
        config_id: Some("corpus".into()),
        check_interfaces: false,
        sys_class_net: None,
        max_lines: None,
        baton_conf: None,
    };
    let (config, diags) = load_all(path, &opts);
    assert!(config.is_some(), "{} did not parse", path.display());
    for d in &diags {
        assert_eq!(d.file, path, "diagnostic in an unexpected file: {d}");
    }
    let mut got: Vec<(u32, Severity)> = diags
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
        .filter(|d| !d.message.contains("does not exist on this host"))
        .map(|d| (d.line, d.severity))
        .collect();
    got.sort();
    got
}

#[test]
fn samples_report_exactly_the_expected_problems() {
    let Some(dir) = samples_dir() else {
        println!("note: keepalived-samples folder not found; corpus test skipped");
        return;
    };
    let listed: Vec<&str> = EXPECTED.iter().map(|(f, _)| *f).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name != "EXPECTED.md" {
            assert!(
                listed.contains(&name.as_str()),
                "sample {name} has no expectation"
            );
        }
    }
    let mut failures = Vec::new();
    for (file, want) in EXPECTED {
        let path = dir.join(file);
        let got = reported(&path);
        let mut want = want.to_vec();
        want.sort();
        if got != want {
            failures.push(format!("{file}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn samples_with_interfaces_warn_only_about_the_host() {
    let Some(dir) = samples_dir() else {
        println!("note: keepalived-samples folder not found; corpus test skipped");
        return;
    };
    // An empty fake /sys/class/net with one interface: every other name
    // is a warning, never an error.
    let sys = tempfile::tempdir().unwrap();
    std::fs::create_dir(sys.path().join("eth0")).unwrap();
    let opts = LoadOptions {
        config_id: Some("corpus".into()),
        check_interfaces: true,
        sys_class_net: Some(sys.path().to_path_buf()),
        max_lines: None,
        baton_conf: None,
    };
    let (_, diags) = load_all(&dir.join("keepalived.conf.vrrp"), &opts);
    let host: Vec<_> = diags
        .iter()
        .filter(|d| d.message.contains("does not exist on this host"))
        .collect();
    assert_eq!(host.len(), 2, "{host:?}");
    assert!(host.iter().all(|d| d.severity == Severity::Warning));
    assert_eq!((host[0].line, host[0].col), (51, 15));
}
