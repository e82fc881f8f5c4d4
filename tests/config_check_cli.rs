//! `baton check` and keepalived's `-t` as a user runs them: output lines,
//! summary, exit codes, and the YAML dump read back.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

use std::path::Path;
use std::process::{Command, Output};

fn baton(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .expect("run baton")
}

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn check_exits_0_with_warnings_and_1_with_errors() {
    let ok = baton(&[
        "check",
        "-f",
        &data("neuronex-master.conf"),
        "--config-id",
        "x",
    ]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(
        out.contains("neuronex-master.conf:5:20: warning: vrrp_garp_interval 0"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("0 errors, 2 warnings"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("keepalived.conf");
    std::fs::write(
        &bad,
        "vrrp_instance A {\n  interface lo\n  virtual_router_id 0\n",
    )
    .unwrap();
    let b = baton(&["check", "-f", bad.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&b.stdout);
    assert_eq!(b.status.code(), Some(1), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&format!("{}:1:1: error: block 'vrrp_instance' opened here (the '{{' at line 1) is never closed", bad.display()).as_str()), "{out}");
    assert!(
        out.contains(":3:21: error: virtual_router_id must be between 1 and 255"),
        "{out}"
    );
    assert!(
        // The warning: the instance has no virtual_ipaddress.
        lines.last().unwrap().ends_with("2 errors, 1 warning"),
        "{out}"
    );
}

#[test]
fn keepalived_spellings_do_the_same() {
    let f = data("neuronex-backup.conf");
    for args in [
        vec!["-t", "-f", &f],
        vec!["--config-test", "--use-file", &f],
    ] {
        let o = baton(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{:?}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("0 errors, 2 warnings"));
    }
}

#[test]
fn dump_prints_yaml_that_checks_to_the_same_model() {
    let o = baton(&[
        "check",
        "--dump",
        "-f",
        &data("include/main.conf"),
        "-i",
        "node1",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert!(yaml.contains("name: VI_2"), "{yaml}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 errors"));
    let dir = tempfile::tempdir().unwrap();
    let y = dir.path().join("baton.yaml");
    std::fs::write(&y, &yaml).unwrap();
    let again = baton(&["check", "--dump", "-f", y.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(String::from_utf8(again.stdout).unwrap(), yaml);
}

#[test]
fn missing_default_file_is_an_error_with_its_path() {
    let o = baton(&["check", "-f", "/nonexistent/keepalived.conf"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("/nonexistent/keepalived.conf"));
}
