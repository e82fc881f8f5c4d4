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
        lines.last().unwrap().ends_with("2 errors, 0 warnings"),
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

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

const ONE_INSTANCE: &str = "vrrp_instance VI_1 {\n  interface lo\n  virtual_router_id 1\n  priority 100\n  virtual_ipaddress { 10.0.0.1/24 }\n}\n";

#[test]
fn check_reads_the_baton_file_and_reports_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let k = write(dir.path(), "keepalived.conf", ONE_INSTANCE);
    let good = write(
        dir.path(),
        "good.conf",
        "instance VI_1 {\n  notify_timeout 5\n}\n",
    );
    let o = baton(&["check", "-f", &k, "--baton-conf", &good]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert_eq!(
        out.trim_end(),
        format!("{k} and {good}: 0 errors, 0 warnings")
    );

    let bad = write(
        dir.path(),
        "bad.conf",
        "global {\n  notify_timeout soon\n}\n",
    );
    for args in [
        vec!["check", "-f", &k, "--baton-conf", &bad],
        vec!["-t", "-f", &k, "--baton-conf", &bad],
    ] {
        let o = baton(&args);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {out}");
        assert!(
            out.contains(&format!(
                "{bad}:2:18: error: notify_timeout: 'soon' is not a number of seconds"
            )),
            "{out}"
        );
        assert!(out.trim_end().ends_with("1 error, 0 warnings"), "{out}");
    }

    let missing = format!("{}/missing.conf", dir.path().display());
    let o = baton(&["check", "-f", &k, "--baton-conf", &missing]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("{missing}:1:1: error: cannot read")),
        "{out}"
    );
}

#[test]
fn dump_shows_the_baton_section_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let k = write(dir.path(), "keepalived.conf", ONE_INSTANCE);
    let b = write(
        dir.path(),
        "baton.conf",
        "global {\n  unicast_accept_any_source yes\n}\ninstance VI_1 {\n  notify_obsolete_grace 0.25\n}\n",
    );
    let o = baton(&["check", "-f", &k, "--baton-conf", &b, "--dump"]);
    let yaml = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let section = yaml.split_once("\nbaton:\n").map(|(_, s)| s).unwrap_or("");
    assert!(
        section.contains("unicast_accept_any_source: true"),
        "{yaml}"
    );
    assert!(
        section.contains("VI_1:\n      notify_obsolete_grace: 0.25"),
        "{yaml}"
    );
    // The dump, read back without --baton-conf, dumps the same.
    let y = write(dir.path(), "dump.yaml", &yaml);
    let again = baton(&["check", "-f", &y, "--dump"]);
    assert_eq!(String::from_utf8_lossy(&again.stdout), yaml);
    // Without a baton file there is no section.
    let plain = baton(&["check", "-f", &k, "--dump"]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("baton:"));
}
