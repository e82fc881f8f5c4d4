//! One test per validation message: each checks the severity, the line and
//! the column of the token the message points at.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

use std::path::PathBuf;

use baton::config::{Diagnostic, LoadOptions, Severity, load, load_all};

struct Case {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn write(files: &[(&str, &str)]) -> Case {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
    }
    let path = dir.path().join(files[0].0);
    Case { _dir: dir, path }
}

fn opts() -> LoadOptions {
    LoadOptions {
        config_id: Some("node1".into()),
        check_interfaces: false,
        sys_class_net: None,
        max_lines: None,
        baton_conf: None,
    }
}

fn diags_of(text: &str) -> Vec<Diagnostic> {
    let c = write(&[("keepalived.conf", text)]);
    load_all(&c.path, &opts()).1
}

/// The one diagnostic of `sev` whose message contains `needle`.
fn find(diags: &[Diagnostic], sev: Severity, needle: &str) -> (u32, u32) {
    let hits: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == sev && d.message.contains(needle))
        .collect();
    assert_eq!(hits.len(), 1, "want one {sev} '{needle}' in {diags:#?}");
    (hits[0].line, hits[0].col)
}

fn problems(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
        .map(ToString::to_string)
        .collect()
}

const OK_INSTANCE: &str = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.1/24
    }
}
";

#[test]
fn a_clean_config_has_no_problems() {
    assert!(problems(&diags_of(OK_INSTANCE)).is_empty());
}

#[test]
fn vrid_out_of_range_points_at_the_value() {
    let d = diags_of("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 256\n}\n");
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "virtual_router_id must be between 1 and 255"
        ),
        (3, 20)
    );
}

#[test]
fn vrid_missing_points_at_the_instance_name() {
    let d = diags_of("vrrp_instance VI_1 {\n interface eth0\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "has no virtual_router_id"),
        (1, 15)
    );
}

#[test]
fn priority_out_of_range() {
    let d = diags_of("vrrp_instance A {\n interface e\n virtual_router_id 1\n priority 0\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "priority must be between 1 and 255"),
        (4, 11)
    );
    let d = diags_of("vrrp_instance A {\n interface e\n virtual_router_id 1\n priority 300\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "priority must be between 1 and 255"),
        (4, 11)
    );
}

#[test]
fn advert_int_ranges_depend_on_the_version() {
    let d = diags_of(
        "vrrp_instance A {\n interface e\n virtual_router_id 1\n advert_int 0.5\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n",
    );
    assert_eq!(find(&d, Severity::Error, "VRRPv2 advert_int"), (4, 13));
    let d = diags_of(
        "vrrp_instance A {\n interface e\n virtual_router_id 1\n version 3\n advert_int 0.5\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n",
    );
    assert!(problems(&d).is_empty(), "{d:?}");
    let d = diags_of(
        "vrrp_instance A {\n interface e\n virtual_router_id 1\n version 3\n advert_int 41\n}\n",
    );
    assert_eq!(find(&d, Severity::Error, "VRRPv3 advert_int"), (5, 13));
    let d = diags_of("vrrp_instance A {\n interface e\n virtual_router_id 1\n advert_int x\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "not a number of seconds"),
        (4, 13)
    );
}

#[test]
fn weights_out_of_range() {
    let d = diags_of("vrrp_script s {\n script /bin/true\n weight 254\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "weight must be between -253 and 253"),
        (3, 9)
    );
    let d = diags_of(&OK_INSTANCE.replace(
        " interface eth0\n",
        " interface eth0\n track_interface {\n  eth1 weight -300\n }\n",
    ));
    assert_eq!(
        find(&d, Severity::Error, "weight must be between -253 and 253"),
        (4, 15)
    );
}

#[test]
fn instance_without_interface() {
    let d = diags_of("vrrp_instance VI_9 {\n virtual_router_id 9\n}\n");
    assert_eq!(find(&d, Severity::Error, "has no interface"), (1, 15));
    // Unicast with a source address may omit it.
    let d = diags_of(
        "vrrp_instance U {\n virtual_router_id 9\n unicast_src_ip 10.0.0.1\n unicast_peer {\n  10.0.0.2\n }\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n",
    );
    assert!(problems(&d).is_empty(), "{d:?}");
}

#[test]
fn mixed_address_families() {
    let d = diags_of(&OK_INSTANCE.replace("10.0.0.1/24\n", "10.0.0.1/24\n        fd00::1/64\n"));
    assert_eq!(find(&d, Severity::Error, "mixed families"), (6, 9));
    let d = diags_of(
        "vrrp_instance U {\n interface e\n virtual_router_id 9\n unicast_src_ip 10.0.0.1\n unicast_peer {\n  fd00::2\n }\n}\n",
    );
    assert_eq!(
        find(&d, Severity::Error, "unicast_peer fd00::2 is IPv6"),
        (6, 3)
    );
}

#[test]
fn unicast_without_peers() {
    let d = diags_of(&OK_INSTANCE.replace(
        " interface eth0\n",
        " interface eth0\n unicast_peer {\n }\n",
    ));
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "unicast_peer lists no peers: vrrp_instance"
        ),
        (3, 2)
    );
    assert!(
        !d.iter().any(|x| x.severity == Severity::Error),
        "keepalived runs it by multicast, so it loads: {d:?}"
    );
    let d = diags_of(&OK_INSTANCE.replace(
        " interface eth0\n",
        " interface eth0\n unicast_peer {\n }\n unicast_fault_no_peer\n",
    ));
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "with unicast_fault_no_peer it stays in FAULT"
        ),
        (3, 2)
    );
    let d = diags_of(&OK_INSTANCE.replace(
        " interface eth0\n",
        " interface eth0\n unicast_src_ip 10.0.0.9\n",
    ));
    assert_eq!(
        find(&d, Severity::Warning, "unicast_src_ip without unicast_peer"),
        (3, 2)
    );
}

#[test]
fn duplicate_instance_names() {
    let text = format!("{OK_INSTANCE}{}", OK_INSTANCE.replace("51", "52"));
    let d = diags_of(&text);
    assert_eq!(
        find(&d, Severity::Error, "duplicate vrrp_instance 'VI_1'"),
        (8, 15)
    );
}

#[test]
fn same_vrid_twice_on_one_interface_and_family() {
    let second = OK_INSTANCE
        .replace("VI_1", "VI_2")
        .replace("10.0.0.1", "10.0.0.2");
    let d = diags_of(&format!("{OK_INSTANCE}{second}"));
    assert_eq!(
        find(
            &d,
            Severity::Error,
            "virtual_router_id 51 is already used by vrrp_instance VI_1"
        ),
        (10, 23)
    );
    // Another interface, or another family, is fine.
    let other_if = second.replace("eth0", "eth1");
    assert!(problems(&diags_of(&format!("{OK_INSTANCE}{other_if}"))).is_empty());
    let v6 = second.replace("10.0.0.2/24", "fd00::2/64");
    assert!(problems(&diags_of(&format!("{OK_INSTANCE}{v6}"))).is_empty());
}

#[test]
fn undefined_track_script_and_sync_group_member() {
    let d = diags_of(&OK_INSTANCE.replace(
        " interface eth0\n",
        " interface eth0\n track_script {\n   nope\n }\n",
    ));
    assert_eq!(
        find(&d, Severity::Error, "no vrrp_script named 'nope'"),
        (4, 4)
    );
    let d = diags_of(&format!(
        "vrrp_sync_group G {{\n group {{\n  VI_1\n  VI_X\n }}\n}}\n{OK_INSTANCE}"
    ));
    assert_eq!(
        find(&d, Severity::Error, "no vrrp_instance named 'VI_X'"),
        (4, 3)
    );
}

#[test]
fn script_without_command_is_reported_at_its_closing_brace() {
    let d = diags_of("vrrp_script chk {\n interval 1\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "vrrp_script chk has no script"),
        (3, 1)
    );
}

#[test]
fn unbalanced_braces_point_at_the_opening_line() {
    let d = diags_of("global_defs {\n router_id a\n\nvrrp_instance X {\n}\n");
    assert_eq!(find(&d, Severity::Error, "never closed"), (1, 1));
    let d = diags_of(&format!("{OK_INSTANCE}}}\n"));
    assert_eq!(
        find(&d, Severity::Error, "'}' without a matching '{'"),
        (8, 1)
    );
}

#[test]
fn unterminated_quote() {
    let d = diags_of("vrrp_script chk {\n script \"/bin/check\n}\n");
    assert_eq!(
        find(&d, Severity::Error, "unterminated quoted string"),
        (2, 9)
    );
}

#[test]
fn missing_include_is_an_error_only_for_strict_variants() {
    let d = diags_of(&format!("include missing.conf\n{OK_INSTANCE}"));
    assert_eq!(find(&d, Severity::Warning, "does not exist"), (1, 9));
    assert!(!d.iter().any(|d| d.severity == Severity::Error));
    let d = diags_of(&format!("includea missing.conf\n{OK_INSTANCE}"));
    assert_eq!(find(&d, Severity::Error, "does not exist"), (1, 10));
    let d = diags_of(&format!("includer missing-*.conf\n{OK_INSTANCE}"));
    assert!(problems(&d).is_empty(), "{d:?}");
}

#[test]
fn include_cycle_is_an_error_not_a_hang() {
    let c = write(&[
        ("a.conf", "include b.conf\n"),
        ("b.conf", "\n\ninclude a.conf\n"),
    ]);
    let d = load_all(&c.path, &opts()).1;
    let hit = d
        .iter()
        .find(|d| d.message.contains("include cycle"))
        .expect("cycle reported");
    assert_eq!(hit.file, c.path.parent().unwrap().join("b.conf"));
    assert_eq!((hit.line, hit.col), (3, 9));
}

#[test]
fn nopreempt_and_preempt_delay_with_state_master() {
    let text = OK_INSTANCE.replace(
        " interface eth0\n",
        " interface eth0\n state MASTER\n nopreempt\n preempt_delay 5\n",
    );
    let d = diags_of(&text);
    assert_eq!(
        find(&d, Severity::Warning, "nopreempt has no effect"),
        (4, 2)
    );
    assert_eq!(
        find(&d, Severity::Warning, "preempt_delay has no effect"),
        (5, 2)
    );
}

#[test]
fn authentication_under_v3_is_ignored_with_a_warning() {
    let text = OK_INSTANCE.replace(
        " interface eth0\n",
        " interface eth0\n version 3\n authentication {\n  auth_type PASS\n  auth_pass x\n }\n",
    );
    let d = diags_of(&text);
    assert_eq!(
        find(
            &d,
            Severity::Warning,
            "authentication is ignored under VRRPv3"
        ),
        (4, 2)
    );
}

#[test]
fn only_master_and_backup_states() {
    let d = diags_of(&OK_INSTANCE.replace(" interface eth0\n", " interface eth0\n state FAULT\n"));
    assert_eq!(
        find(&d, Severity::Error, "state must be MASTER or BACKUP"),
        (3, 8)
    );
}

#[test]
fn unknown_keywords_warn_and_parsing_goes_on() {
    let text = format!(
        "frobnicate 1\n{}",
        OK_INSTANCE.replace(" interface eth0\n", " interface eth0\n  bogus_kw x\n")
    );
    let c = write(&[("keepalived.conf", &text)]);
    let loaded = load(&c.path, &opts()).expect("warnings only");
    assert_eq!(loaded.config.instances[0].virtual_router_id, 51);
    let d = &loaded.diagnostics;
    assert_eq!(
        find(d, Severity::Warning, "unknown keyword 'frobnicate'"),
        (1, 1)
    );
    assert_eq!(
        find(d, Severity::Warning, "unknown keyword 'bogus_kw'"),
        (4, 3)
    );
}

#[test]
fn unimplemented_blocks_are_skipped_with_one_note() {
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n  real_server 10.0.0.2 80 {{\n    weight 1\n  }}\n}}\n{OK_INSTANCE}"
    );
    let d = diags_of(&text);
    let notes: Vec<_> = d.iter().filter(|d| d.severity == Severity::Note).collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!((notes[0].line, notes[0].col), (1, 1));
    assert!(problems(&d).is_empty());
}

#[test]
fn missing_host_interface_is_a_warning() {
    let sys = tempfile::tempdir().unwrap();
    std::fs::create_dir(sys.path().join("lo")).unwrap();
    let c = write(&[("keepalived.conf", OK_INSTANCE)]);
    let o = LoadOptions {
        check_interfaces: true,
        sys_class_net: Some(sys.path().to_path_buf()),
        ..opts()
    };
    let loaded = load(&c.path, &o).expect("a warning does not stop it");
    assert_eq!(
        find(
            &loaded.diagnostics,
            Severity::Warning,
            "interface eth0 does not exist"
        ),
        (2, 15)
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let text = "vrrp_instance A {\n virtual_router_id 0\n priority 999\n state UP\n}\n";
    let c = write(&[("keepalived.conf", text)]);
    let err = load(&c.path, &opts()).unwrap_err();
    let lines: Vec<u32> = err.diagnostics.iter().map(|d| d.line).collect();
    assert!(err.diagnostics.len() >= 3, "{err}");
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    let first = err.diagnostics.iter().find(|d| d.line == 2).unwrap();
    let shown = first.to_string();
    assert!(
        shown.starts_with(&format!("{}:2:20: error: ", c.path.display())),
        "{shown}"
    );
    // The one warning: the instance has no virtual_ipaddress.
    assert!(err.to_string().ends_with("4 errors, 1 warning"), "{err}");
}

#[test]
fn sub_second_script_interval_is_accepted_with_a_warning() {
    let c = write(&[(
        "keepalived.conf",
        "vrrp_script chk {\n script /bin/true\n interval 0.1\n}\n",
    )]);
    let loaded = load(&c.path, &opts()).expect("accepted");
    assert_eq!(
        loaded.config.vrrp_scripts[0].interval,
        std::time::Duration::from_millis(100)
    );
    assert_eq!(
        find(&loaded.diagnostics, Severity::Warning, "baton extension"),
        (3, 11)
    );
}

#[test]
fn a_keyword_written_twice_is_checked_where_its_last_value_is() {
    let d = diags_of(&OK_INSTANCE.replace(
        " interface eth0\n",
        " interface eth0\n state MASTER\n nopreempt\n nopreempt\n",
    ));
    assert_eq!(
        find(&d, Severity::Warning, "nopreempt has no effect"),
        (5, 2)
    );
}

#[test]
fn use_vmac_checks_its_mac_and_name_and_says_when_unicast_implies_xmit_base() {
    let with = |extra: &str| {
        diags_of(&OK_INSTANCE.replace(
            "    interface eth0\n",
            &format!("    interface eth0\n{extra}"),
        ))
    };
    assert!(problems(&with("    use_vmac\n")).is_empty());
    assert!(problems(&with("    use_vmac vmac51 02:00:00:00:00:33\n")).is_empty());
    assert!(
        problems(&with("    use_vmac 02:00:00:00:01\n")).is_empty(),
        "five octets"
    );
    assert_eq!(
        find(
            &with("    use_vmac vm zz:00:00:00:00:33\n"),
            Severity::Error,
            "is not a MAC address"
        ),
        (3, 5)
    );
    assert_eq!(
        find(
            &with("    use_vmac a_very_long_vmac_name\n"),
            Severity::Error,
            "cannot be an interface name"
        ),
        (3, 5)
    );
    let d = with(
        "    use_vmac\n    unicast_src_ip 10.0.0.2\n    unicast_peer {\n        10.0.0.3\n    }\n",
    );
    assert_eq!(
        find(&d, Severity::Warning, "vmac_xmit_base is implied"),
        (3, 5)
    );
}
