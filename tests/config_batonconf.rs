//! baton's own file as the loader reads it: each kind of mistake at its file:line:col,
//! instance over global, include, and how it combines with keepalived.conf and YAML; the
//! link block in `link`, the http block in `http`, the arbiter blocks in `arbiter`.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

#[path = "config_batonconf/arbiter.rs"]
mod arbiter;
#[path = "config_batonconf/http.rs"]
mod http;
#[path = "config_batonconf/link.rs"]
mod link;
#[path = "config_batonconf/sync.rs"]
mod sync;

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton::config::baton::NOTIFY_OBSOLETE_GRACE_DEFAULT;
use baton::config::{Config, Diagnostic, LoadOptions, Severity, load, load_all, yaml};

const KCONF: &str = "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 1\n    priority 100\n    virtual_ipaddress { 10.0.0.1/24 }\n}\nvrrp_instance VI_2 {\n    interface lo\n    virtual_router_id 2\n    priority 100\n    virtual_ipaddress { 10.0.0.2/24 }\n}\n";

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn opts(baton: Option<&Path>) -> LoadOptions {
    LoadOptions {
        config_id: Some("node1".into()),
        baton_conf: baton.map(Path::to_path_buf),
        ..LoadOptions::default()
    }
}

/// keepalived.conf plus a baton file with `text`: the model and every diagnostic.
fn with_baton(text: &str) -> (Files, PathBuf, Option<Config>, Vec<Diagnostic>) {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    let b = f.write("baton.conf", text);
    let (c, d) = load_all(&k, &opts(Some(&b)));
    (f, b, c, d)
}

/// The one error of a baton file: (line, col, message).
fn one_error(text: &str) -> (u32, u32, String) {
    let (_f, b, _, d) = with_baton(text);
    let errs: Vec<&Diagnostic> = d.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 1, "{d:#?}");
    assert_eq!(errs[0].file, b, "{d:#?}");
    (errs[0].line, errs[0].col, errs[0].message.clone())
}

#[test]
fn unknown_setting_and_unknown_block_are_errors_where_written() {
    let (l, c, m) = one_error("global {\n    notify_timeout 3\n    notify_timout 3\n}\n");
    assert_eq!((l, c), (3, 5), "{m}");
    assert!(m.contains("unknown setting 'notify_timout'"), "{m}");
    let (l, c, m) = one_error("global {\n}\n  vrrp_instance VI_1 {\n  }\n");
    assert_eq!((l, c), (3, 3), "{m}");
    assert!(m.contains("unknown block 'vrrp_instance'"), "{m}");
}

#[test]
fn bad_and_out_of_range_durations_are_errors_at_the_value() {
    let (l, c, m) = one_error("global {\n    notify_timeout 3s\n}\n");
    assert_eq!((l, c), (2, 20), "{m}");
    assert!(m.contains("'3s' is not a number of seconds"), "{m}");
    let (l, c, m) = one_error("instance VI_1 {\n  notify_timeout 0\n}\n");
    assert_eq!((l, c), (2, 18), "{m}");
    assert!(m.contains("between 0.1 and 86400"), "{m}");
    let (l, c, m) = one_error("global {\n  notify_obsolete_grace\n}\n");
    assert_eq!((l, c), (2, 3), "{m}");
    assert!(m.contains("needs a value"), "{m}");
}

#[test]
fn bad_boolean_is_an_error_at_the_value() {
    let (l, c, m) = one_error("global {\n unicast_accept_any_source maybe\n}\n");
    assert_eq!((l, c), (2, 28), "{m}");
    assert!(m.contains("expected yes|no|true|false|on|off"), "{m}");
}

#[test]
fn instance_keepalived_conf_does_not_define_is_an_error_at_its_name() {
    let (l, c, m) = one_error("instance VI_1 {\n}\ninstance  VI_9 {\n  notify_timeout 1\n}\n");
    assert_eq!((l, c), (3, 11), "{m}");
    assert!(m.contains("'VI_9'"), "{m}");
}

#[test]
fn duplicate_blocks_and_settings_are_errors_at_the_second() {
    let (l, c, m) = one_error("instance VI_1 {\n}\ninstance VI_1 {\n}\n");
    assert_eq!((l, c), (3, 10), "{m}");
    assert!(m.contains("second block for instance 'VI_1'"), "{m}");
    let (l, c, m) = one_error("global {\n}\nglobal {\n}\n");
    assert_eq!((l, c), (3, 1), "{m}");
    assert!(m.contains("second global block"), "{m}");
    let (l, c, m) = one_error("global {\n notify_timeout 1\n notify_timeout 2\n}\n");
    assert_eq!((l, c), (3, 2), "{m}");
    assert!(m.contains("set twice"), "{m}");
}

#[test]
fn instance_settings_override_global_ones() {
    let (_f, _, c, d) = with_baton(
        "! comments as in keepalived.conf\nglobal {\n    notify_timeout 12.5\n    unicast_accept_any_source yes\n}\ninstance VI_1 {\n    notify_timeout 0.5   # decimals\n    unicast_accept_any_source off\n}\n",
    );
    assert!(d.is_empty(), "{d:#?}");
    let b = c.unwrap().baton;
    assert_eq!(b.notify_timeout(Some("VI_1")), Duration::from_millis(500));
    assert_eq!(
        b.notify_timeout(Some("VI_2")),
        Duration::from_millis(12_500)
    );
    assert_eq!(b.notify_timeout(None), Duration::from_millis(12_500));
    assert!(!b.unicast_accept_any_source("VI_1"));
    assert!(b.unicast_accept_any_source("VI_2"));
    assert_eq!(
        b.notify_obsolete_grace(Some("VI_1")),
        NOTIFY_OBSOLETE_GRACE_DEFAULT
    );
}

#[test]
fn include_and_conditional_lines_work_as_in_keepalived_conf() {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    f.write("site.inc", "instance VI_2 {\n    notify_timeout 7\n}\n");
    let b = f.write(
        "baton.conf",
        "include site.inc\n@node1 global { notify_timeout 3 }\n@node2 global { notify_timeout 4 }\n",
    );
    let loaded = load(&k, &opts(Some(&b))).unwrap();
    let bc = &loaded.config.baton;
    assert_eq!(bc.notify_timeout(Some("VI_2")), Duration::from_secs(7));
    assert_eq!(bc.notify_timeout(Some("VI_1")), Duration::from_secs(3));
}

#[test]
fn both_files_diagnostics_come_keepalived_conf_first_and_any_error_fails_the_load() {
    let f = Files::new();
    let k = f.write(
        "keepalived.conf",
        &KCONF.replace(
            "priority 100\n    virtual_ipaddress { 10.0.0.2/24 }",
            "priority 999\n    virtual_ipaddress { 10.0.0.2/24 }",
        ),
    );
    let b = f.write("baton.conf", "global {\n notify_timeout x\n}\n");
    let failure = load(&k, &opts(Some(&b))).unwrap_err();
    let files: Vec<&Path> = failure
        .diagnostics
        .iter()
        .map(|d| d.file.as_path())
        .collect();
    assert_eq!(files, [k.as_path(), b.as_path()], "{failure}");
    assert!(
        failure
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Error)
    );
    // A good keepalived.conf with a bad baton file does not load either.
    let k2 = f.write("good.conf", KCONF);
    assert!(load(&k2, &opts(Some(&b))).is_err());
    assert!(load(&k2, &opts(None)).is_ok());
}

#[test]
fn no_file_means_defaults_and_a_missing_file_is_an_error() {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    let c = load(&k, &opts(None)).unwrap().config;
    assert!(c.baton.is_empty());
    let missing = f.dir.path().join("nope.conf");
    let failure = load(&k, &opts(Some(&missing))).unwrap_err();
    let d = &failure.diagnostics[0];
    assert_eq!((d.file.as_path(), d.line, d.col), (missing.as_path(), 1, 1));
    assert!(d.message.starts_with("cannot read"), "{}", d.message);
}

#[test]
fn with_yaml_the_baton_file_given_replaces_the_yaml_section() {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    let b = f.write("baton.conf", "global {\n notify_timeout 9\n}\n");
    let c = load(&k, &opts(Some(&b))).unwrap().config;
    let y = f.write("dump.yaml", &yaml::to_string(&c).unwrap());
    assert!(std::fs::read_to_string(&y).unwrap().contains("baton:"));
    // Without --baton-conf the YAML's own section is used ...
    let from_yaml = load(&y, &opts(None)).unwrap().config;
    assert_eq!(from_yaml, c);
    // ... and a file given replaces it.
    let b2 = f.write("other.conf", "instance VI_1 {\n notify_timeout 4\n}\n");
    let replaced = load(&y, &opts(Some(&b2))).unwrap().config.baton;
    assert_eq!(
        replaced.notify_timeout(Some("VI_1")),
        Duration::from_secs(4)
    );
    assert_eq!(
        replaced.notify_timeout(Some("VI_2")),
        Duration::from_secs(30)
    );
}
