//! Constructs where `baton check` and `keepalived -t` (2.2.7) disagreed when both read the
//! same public keepalived.conf files (tests/keepalived_differential.sh). Each test is a
//! minimal config of our own showing one construct: baton now reports what keepalived
//! reports, at the line keepalived names, and builds the model keepalived would run.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine

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

fn run(text: &str) -> (Option<Config>, Vec<Diagnostic>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    load_all(&path, &opts())
}

/// (line, severity, message) of the warnings and errors, notes left out.
fn problems(d: &[Diagnostic]) -> Vec<(u32, Severity, String)> {
    d.iter()
        .filter(|d| d.severity != Severity::Note)
        .map(|d| (d.line, d.severity, d.message.clone()))
        .collect()
}

fn warned_at(d: &[Diagnostic], line: u32, needle: &str) -> bool {
    d.iter()
        .any(|d| d.severity == Severity::Warning && d.line == line && d.message.contains(needle))
}

const VIP: &str = " virtual_ipaddress {\n  10.0.0.1/24\n }\n";

#[test]
fn lvs_id_is_unknown_to_keepalived_2() {
    // keepalived 2.2.7: "(Line 2) Unknown keyword 'lvs_id'"; router_id replaced it.
    let text = format!(
        "global_defs {{\n lvs_id LVS_DEVEL\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    assert!(warned_at(&d, 2, "unknown keyword 'lvs_id'"), "{d:?}");
}

#[test]
fn lvs_sync_daemon_interface_in_an_instance_is_deprecated() {
    // keepalived: "(Line 4) (VI_1) Specifying lvs_sync_daemon_interface against a vrrp is
    // deprecated."
    let text = format!(
        "vrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n lvs_sync_daemon_interface e1\n{VIP}}}\n"
    );
    let (c, d) = run(&text);
    assert!(warned_at(&d, 4, "lvs_sync_daemon_interface"), "{d:?}");
    assert!(c.is_some());
}

#[test]
fn an_interface_name_over_15_characters_is_ignored() {
    // keepalived: "(Line 2) Interface name '<your_interface_name>' too long - ignoring",
    // then the instance has no interface.
    let text = format!(
        "vrrp_instance VI_1 {{\n interface <your_interface_name>\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    assert!(warned_at(&d, 2, "longer than 15 characters"), "{d:?}");
    assert!(
        d.iter()
            .any(|d| d.severity == Severity::Error && d.message.contains("has no interface")),
        "{d:?}"
    );
    // Fifteen characters is the kernel's limit and fine.
    let text = format!(
        "vrrp_instance VI_1 {{\n interface abcdefghijklmno\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    assert!(problems(&d).is_empty(), "{d:?}");
}

#[test]
fn an_instance_without_virtual_addresses_gets_a_warning() {
    // keepalived: "(VI_1) No VIP specified; at least one is sensible", also when only
    // virtual_ipaddress_excluded is given.
    let (c, d) = run(
        "vrrp_instance VI_1 {\n interface e0\n virtual_router_id 1\n virtual_ipaddress_excluded {\n  10.0.0.9\n }\n}\n",
    );
    assert!(warned_at(&d, 1, "has no virtual_ipaddress"), "{d:?}");
    assert!(
        c.is_some(),
        "a warning, not an error: the instance still runs"
    );
}

#[test]
fn an_empty_notification_email_block_gets_a_warning_at_its_brace() {
    // keepalived: "(Line 3) Warning - empty notification_email block", the line of the
    // closing brace.
    let text = format!(
        "global_defs {{\n notification_email {{\n }}\n router_id r1\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    assert!(warned_at(&d, 3, "empty notification_email"), "{d:?}");
    // A list with an address is accepted as before, with a note only.
    let text = format!(
        "global_defs {{\n notification_email {{\n  ops@example.org\n }}\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    assert!(problems(&d).is_empty(), "{d:?}");
}

#[test]
fn tracking_the_own_interface_is_dropped_with_its_weight() {
    // keepalived: "(VI_1) Ignoring track_interface e0 since own interface"; the weight
    // does not apply, the other entries stay.
    let text = format!(
        "vrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n track_interface {{\n  e0 weight -10\n  e1 weight -20\n }}\n{VIP}}}\n"
    );
    let (c, d) = run(&text);
    assert!(warned_at(&d, 5, "own interface"), "{d:?}");
    let i = &c.unwrap().instances[0];
    let names: Vec<&str> = i.track_interfaces.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["e1"]);
    assert_eq!(i.track_interfaces[0].weight, Some(-20));
}

#[test]
fn authentication_under_strict_mode_is_a_warning() {
    // keepalived: "(VI_1) Strict mode does not support authentication. Ignoring."
    let text = format!(
        "global_defs {{\n vrrp_strict\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n authentication {{\n  auth_type PASS\n  auth_pass secret\n }}\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    assert!(
        warned_at(&d, 7, "strict mode does not support authentication"),
        "{d:?}"
    );
}

#[test]
fn a_repeated_notify_keyword_keeps_the_first_script() {
    // keepalived: "(Line 5) (VI_1) notify_master script already specified - ignoring
    // /bin/b"; the same for sync groups and for plain notify.
    let text = format!(
        "vrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n notify_master /bin/a\n notify_master /bin/b\n notify /bin/x\n notify /bin/y\n{VIP}}}\nvrrp_instance VI_2 {{\n interface e0\n virtual_router_id 2\n{VIP}}}\nvrrp_sync_group G {{\n group {{\n  VI_1\n  VI_2\n }}\n notify_fault /bin/f1\n notify_fault /bin/f2\n}}\n"
    );
    let (c, d) = run(&text);
    assert!(warned_at(&d, 5, "notify_master is already set"), "{d:?}");
    assert!(warned_at(&d, 7, "notify is already set"), "{d:?}");
    assert!(warned_at(&d, 25, "notify_fault is already set"), "{d:?}");
    let c = c.unwrap();
    let i = &c.instances[0];
    assert_eq!(i.notify.master.as_ref().unwrap().raw, "/bin/a");
    assert_eq!(i.notify.any.as_ref().unwrap().raw, "/bin/x");
    assert_eq!(
        c.sync_groups[0].notify.fault.as_ref().unwrap().raw,
        "/bin/f1"
    );
}

#[test]
fn lvs_blocks_get_keepalived_s_complaints_at_the_same_lines() {
    // keepalived 2.2.7 on this block: "(Line 1) Unknown keyword '//'", "(Line 4) Unknown
    // keyword 'nat_mask'", "(Line 5) persistence_timeout invalid", "(Line 10) Unknown
    // keyword 'nb_get_retry'" (TCP_CHECK), "(Line 19) nb_get_retry is deprecated"
    // (HTTP_GET). baton still skips the block; it only reports these.
    let text = format!(
        "virtual_server 10.0.0.1 80 {{ // web\n lb_algo rr\n lb_kind DR\n nat_mask 255.255.255.0\n persistence_timeout 0\n protocol TCP\n real_server 10.0.0.2 80 {{\n  weight 1\n  TCP_CHECK {{\n   nb_get_retry 3\n   connect_timeout 3\n  }}\n }}\n real_server 10.0.0.3 80 {{\n  HTTP_GET {{\n   url {{\n    path /\n   }}\n   nb_get_retry 3\n  }}\n }}\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (c, d) = run(&text);
    let lines: Vec<u32> = problems(&d).iter().map(|p| p.0).collect();
    assert_eq!(lines, vec![1, 4, 5, 10, 19], "{d:?}");
    assert!(warned_at(&d, 10, "not a keyword of TCP_CHECK"), "{d:?}");
    assert!(warned_at(&d, 19, "deprecated"), "{d:?}");
    assert!(c.is_some(), "warnings only: the VRRP side runs");
    // What keepalived accepts stays quiet: lvs_sched/lvs_method, retry, a valid timeout.
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n lvs_sched rr\n lvs_method NAT\n persistence_timeout 2678400\n protocol TCP\n real_server 10.0.0.2 80 {{\n  TCP_CHECK {{\n   retry 3\n  }}\n }}\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    assert!(problems(&d).is_empty(), "{d:?}");
}

#[test]
fn a_forwarding_method_must_be_in_capitals() {
    // keepalived: "(Line 3) PARSER : unknown [dr] routing method for virtual server."
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind dr\n protocol TCP\n real_server 10.0.0.2 80 {{\n  weight 1\n }}\n}}\nvirtual_server 10.0.0.1 81 {{\n lvs_sched rr\n lvs_method TUN\n protocol TCP\n real_server 10.0.0.2 81 {{\n  weight 1\n }}\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    assert!(
        warned_at(&d, 3, "must be NAT, DR or TUN (got 'dr')"),
        "{d:?}"
    );
    assert_eq!(problems(&d).len(), 1, "{d:?}");
}

#[test]
fn a_sync_group_of_one_instance_gets_a_warning() {
    // keepalived: "Sync group G has only 1 virtual router(s) - this probably isn't what
    // you want"
    let text = format!(
        "vrrp_sync_group G {{\n group {{\n  VI_1\n }}\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (c, d) = run(&text);
    assert!(warned_at(&d, 1, "only one member"), "{d:?}");
    assert_eq!(c.unwrap().sync_groups[0].members, vec!["VI_1".to_string()]);
}

#[test]
fn fnat_only_lvs_keywords_are_reported() {
    // keepalived: "(Line 4) Unknown keyword 'syn_proxy'", "(Line 5) Unknown keyword
    // 'laddr_group_name'", and FNAT itself is an unknown routing method (line 3).
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_kind FNAT\n syn_proxy\n laddr_group_name L1\n protocol TCP\n real_server 10.0.0.2 80 {{\n  weight 1\n }}\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (_, d) = run(&text);
    let lines: Vec<u32> = problems(&d).iter().map(|p| p.0).collect();
    assert_eq!(lines, vec![3, 4, 5], "{d:?}");
}

#[test]
fn a_fractional_script_interval_is_a_warning() {
    // keepalived: "(Line 3) invalid number '.2'", "vrrp script interval '.2' must be
    // between 1 and 4294 - ignoring". baton keeps its sub-second extension but says so
    // as loudly as keepalived does.
    let (c, d) = run(&format!(
        "vrrp_script chk {{\n script /bin/true\n interval .2\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n track_script {{\n  chk\n }}\n{VIP}}}\n"
    ));
    assert!(warned_at(&d, 3, "baton extension"), "{d:?}");
    assert_eq!(
        c.unwrap().vrrp_scripts[0].interval,
        std::time::Duration::from_millis(200)
    );
}

/// The options every network checker takes, as lines at checker depth.
const CHECKER_OPTIONS: &str = "   connect_ip 10.0.0.2\n   connect_port 80\n   bindto 10.0.0.1\n   bind_port 40000\n   bind_if e0\n   fwmark 7\n   connect_timeout 3\n   alpha\n   retry 2\n   delay_before_retry 2\n   warmup 2\n   delay_loop 6\n   log_all_failures\n";

/// An LVS configuration with every keyword keepalived 2.2.7 accepts in each LVS block
/// (`keepalived -t` reports no unknown keyword in it; only the deprecated nb_get_retry,
/// and the BFD instance and track file it names, which are not defined here).
fn every_lvs_keyword() -> String {
    let o = CHECKER_OPTIONS;
    format!(
        "SSL {{\n password secret\n ca /etc/ssl/ca.pem\n certificate /etc/ssl/c.pem\n key /etc/ssl/k.pem\n}}\n\
virtual_server 10.0.0.1 80 {{\n lvs_sched sh\n lb_algo sh\n lvs_method NAT\n lb_kind NAT\n flag-1\n flag-2\n flag-3\n sh-port\n sh-fallback\n mh-port\n mh-fallback\n ops\n hashed\n persistence_engine sip\n persistence_timeout 300\n persistence_granularity 255.255.255.0\n protocol UDP\n ha_suspend\n smtp_alert yes\n virtualhost www.example.org\n snmp_name vs1\n alpha\n omega\n quorum 1\n hysteresis 0\n quorum_up /bin/true\n quorum_down /bin/true\n ip_family inet\n sorry_server 10.0.0.9 80\n sorry_server_inhibit\n sorry_server_lvs_method NAT\n connect_timeout 3\n retry 2\n delay_before_retry 2\n warmup 2\n delay_loop 6\n inhibit_on_failure\n weight 1\n\
 real_server 10.0.0.2 80 {{\n  weight 1\n  lvs_method NAT\n  notify_up /bin/true\n  notify_down /bin/true\n  uthreshold 100\n  lthreshold 10\n  smtp_alert no\n  virtualhost www.example.org\n  snmp_name rs1\n  alpha\n  connect_timeout 3\n  retry 2\n  delay_before_retry 2\n  warmup 2\n  delay_loop 6\n  inhibit_on_failure\n\
  HTTP_GET {{\n{o}   http_protocol 1.1\n   fast_recovery\n   virtualhost www.example.org\n   enable_sni\n   nb_get_retry 2\n\
   url {{\n    path /\n    digest 9b3a0c85a887a256d6939da88aabd8cd\n    status_code 200-299\n    virtualhost www.example.org\n    regex ok\n    regex_no_match\n    regex_options caseless\n    regex_stack 1024 4096\n    regex_min_offset 0\n    regex_max_offset 100\n   }}\n  }}\n\
  SSL_GET {{\n{o}   http_protocol 1.0C\n   fast_recovery\n   virtualhost www.example.org\n   enable_sni\n   url {{\n    path /\n   }}\n  }}\n\
  TCP_CHECK {{\n{o}  }}\n\
  SMTP_CHECK {{\n{o}   helo_name baton.example.org\n   host {{\n{o}   }}\n  }}\n\
  DNS_CHECK {{\n{o}   type A\n   name example.org\n  }}\n\
  MISC_CHECK {{\n   misc_path /bin/true\n   misc_timeout 5\n   misc_dynamic\n   user root\n   alpha\n   retry 2\n   delay_before_retry 2\n   warmup 2\n   delay_loop 6\n   log_all_failures\n  }}\n\
  BFD_CHECK {{\n   name bfd1\n   alpha\n  }}\n\
  PING_CHECK {{\n{o}  }}\n\
  UDP_CHECK {{\n{o}   payload 0a0b\n   require_reply 0a\n   min_reply_length 1\n   max_reply_length 100\n  }}\n\
  FILE_CHECK {{\n   track_file tf1\n   weight 2 reverse\n  }}\n\
 }}\n}}\n\
vrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    )
}

#[test]
fn misspelt_lvs_keywords_are_unknown_keywords_at_their_lines() {
    // keepalived 2.2.7 on this file: "(Line 3) Unknown keyword 'lb_algoo'", "(Line 6)
    // Unknown keyword 'weigth'", "(Line 8) Unknown keyword 'connetc_port'", "(Line 12)
    // Unknown keyword 'paht'", "(Line 16) Unknown keyword 'tcp_check'" and "Unexpected '{'",
    // then the lines of that block as the real_server's ("(Line 17) Unknown keyword
    // 'connect_port'") and a stray '}' (line 20); "(Line 22) Unknown keyword 'certifcate'".
    let text = format!(
        "virtual_server 10.0.0.1 80 {{\n lb_algo rr\n lb_algoo rr\n protocol TCP\n real_server 10.0.0.2 80 {{\n  weigth 1\n  TCP_CHECK {{\n   connetc_port 80\n  }}\n  HTTP_GET {{\n   url {{\n    paht /\n    path /\n   }}\n  }}\n  tcp_check {{\n   connect_port 80\n  }}\n }}\n}}\nSSL {{\n certifcate /etc/ssl/c.pem\n}}\nvrrp_instance VI_1 {{\n interface e0\n virtual_router_id 1\n{VIP}}}\n"
    );
    let (c, d) = run(&text);
    let p = problems(&d);
    let lines: Vec<u32> = p.iter().map(|p| p.0).collect();
    assert_eq!(lines, vec![3, 6, 8, 12, 16, 22], "{d:?}");
    assert!(p.iter().all(|p| p.1 == Severity::Warning), "{d:?}");
    for (line, kw) in [
        (3, "lb_algoo"),
        (6, "weigth"),
        (8, "connetc_port"),
        (12, "paht"),
        (16, "tcp_check"),
        (22, "certifcate"),
    ] {
        assert!(
            warned_at(&d, line, &format!("unknown keyword '{kw}'")),
            "{line} {kw}: {d:?}"
        );
    }
    assert!(c.is_some(), "warnings only: the VRRP side runs");
}

#[test]
fn every_keyword_keepalived_accepts_in_lvs_blocks_is_quiet_and_each_typo_of_it_is_not() {
    let text = every_lvs_keyword();
    let (_, d) = run(&text);
    let nb_get_retry = 1 + text
        .lines()
        .position(|l| l.trim_start().starts_with("nb_get_retry"))
        .unwrap() as u32;
    let p = problems(&d);
    assert_eq!(p.len(), 1, "{d:?}");
    assert!(warned_at(&d, nb_get_retry, "deprecated"), "{d:?}");

    // Every keyword of baton's table is in the file above.
    let first_words: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for b in baton::config::lvs_keywords::TABLE {
        for kw in b.keywords.iter().chain(b.blocks) {
            assert!(
                first_words.contains(kw),
                "{kw} of {} not in the file",
                b.block
            );
        }
    }

    // The same file with any one keyword inside the LVS blocks misspelt: keepalived
    // reports that line as an unknown keyword, and so does baton, once.
    let lvs_end = text
        .lines()
        .position(|l| l.starts_with("vrrp_instance"))
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate().take(lvs_end) {
        let Some(kw) = line.split_whitespace().next() else {
            continue;
        };
        if kw == "}" || !line.starts_with(' ') {
            continue;
        }
        let mut typo: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        typo[i] = line.replacen(kw, &format!("{kw}x"), 1);
        let (_, d) = run(&(typo.join("\n") + "\n"));
        let n = i as u32 + 1;
        let unknown: Vec<u32> = d
            .iter()
            .filter(|d| d.message.starts_with("unknown keyword"))
            .map(|d| d.line)
            .collect();
        assert_eq!(unknown, vec![n], "{kw}x at line {n}: {d:?}");
        assert!(
            warned_at(&d, n, &format!("unknown keyword '{kw}x'")),
            "{d:?}"
        );
    }
}
