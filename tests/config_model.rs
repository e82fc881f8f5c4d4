//! Golden tests of the resolved model: realistic configurations under
//! tests/data/config load to the values keepalived would use, and every
//! configuration survives conf → model → YAML → model unchanged.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton::config::model::*;
use baton::config::{LoadOptions, Severity, load, load_all, yaml};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

fn opts(id: &str) -> LoadOptions {
    LoadOptions {
        config_id: Some(id.into()),
        check_interfaces: false,
        sys_class_net: None,
        max_lines: None,
        baton_conf: None,
    }
}

fn cfg(name: &str, id: &str) -> Config {
    match load(&data(name), &opts(id)) {
        Ok(l) => l.config,
        Err(e) => panic!("{name}: {e}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn neuronex_master_and_backup() {
    let m = cfg("neuronex-master.conf", "x");
    assert!(m.global.vrrp_skip_check_adv_addr);
    assert!(!m.global.vrrp_strict);
    let s = m.vrrp_script("check_ex_alived").unwrap();
    assert_eq!(s.interval, Duration::from_secs(5));
    assert_eq!(s.fall, 3);
    assert_eq!(
        s.script.as_ref().unwrap().argv,
        vec!["/etc/keepalived/check_alive.sh"]
    );
    let i = m.instance("VI_1").unwrap();
    assert_eq!(i.initial_state(), InitialState::Master);
    assert_eq!(i.effective_priority(), 100);
    assert_eq!(i.virtual_router_id, 51);
    assert_eq!(i.interface.as_deref(), Some("eth0"));
    assert_eq!(i.unicast_peers[0].address, ip("10.0.0.223"));
    assert_eq!(i.virtual_ipaddresses[0].address, ip("192.160.127.254"));
    assert_eq!(i.virtual_ipaddresses[0].prefix_len, 17);
    assert_eq!(i.authentication.as_ref().unwrap().auth_type, AuthType::Pass);
    assert_eq!(i.track_scripts[0].name, "check_ex_alived");
    assert_eq!(
        i.notify.fault.as_ref().unwrap().argv,
        vec!["/etc/keepalived/fault.sh"]
    );
    assert_eq!(
        i.notify.master.as_ref().unwrap().raw,
        "/etc/keepalived/master.sh"
    );

    let b = cfg("neuronex-backup.conf", "x");
    let i = b.instance("VI_1").unwrap();
    assert_eq!(i.initial_state(), InitialState::Backup);
    assert!(!i.preempt);
    assert_eq!(i.priority, Some(90));
    assert_eq!(i.unicast_peers[0].address, ip("10.0.0.127"));
    assert!(i.notify.backup.is_some());
}

#[test]
fn keepalived_defaults() {
    let c = cfg("ipv6-v3.conf", "x");
    let g = &c.global;
    assert_eq!(g.vrrp_version, 2);
    assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(5));
    assert_eq!(g.vrrp_garp_master_repeat, 5);
    assert_eq!(g.vrrp_mcast_group4.to_string(), "224.0.0.18");
    assert_eq!(g.vrrp_mcast_group6.to_string(), "ff02::12");
    let mut i = Instance::new("x");
    assert_eq!(i.advert_int, Duration::from_secs(1));
    assert!(i.preempt);
    assert_eq!(i.effective_priority(), 100);
    i.state = Some(InitialState::Master);
    // keepalived 2.2.7's own dump shows 255 for MASTER without priority.
    assert_eq!(i.effective_priority(), 255);
    assert_eq!(i.effective_garp_lower_prio_delay(g), Duration::from_secs(5));
    assert_eq!(i.effective_down_timer_adverts(g), 3);
    assert!(!i.effective_lower_prio_no_advert(g));
    // VRRPv2 carries whole seconds, VRRPv3 centiseconds.
    i.advert_int = Duration::from_millis(1600);
    assert_eq!(i.effective_advert_int(g), Duration::from_secs(2));
    i.version = Some(3);
    i.advert_int = Duration::from_micros(123_456);
    assert_eq!(i.effective_advert_int(g), Duration::from_millis(120));
}

#[test]
fn ipv6_v3_instance() {
    let c = cfg("ipv6-v3.conf", "x");
    let i = c.instance("V6").unwrap();
    assert!(i.is_ipv6());
    assert_eq!(i.effective_version(&c.global), 3);
    assert_eq!(i.advert_int, Duration::from_millis(250));
    assert_eq!(i.virtual_ipaddresses.len(), 2);
    assert_eq!(i.virtual_ipaddresses_excluded[0].address, ip("192.0.2.60"));
    assert_eq!(i.accept, Some(true));
    assert!(!i.preempt);
}

#[test]
fn unicast_pair_every_keyword() {
    let c = cfg("unicast-pair-a.conf", "x");
    let g = &c.global;
    assert_eq!(g.router_id.as_deref(), Some("gw-a"));
    assert!(g.enable_script_security);
    assert_eq!(g.script_user.as_ref().unwrap().user, "keepalived_script");
    assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(2));
    assert_eq!(g.vrrp_garp_master_refresh, Duration::from_secs(60));
    assert_eq!(g.vrrp_garp_master_refresh_repeat, 2);
    assert_eq!(g.vrrp_version, 3);
    assert_eq!(
        g.vrrp_notify_fifo.as_ref().unwrap().path,
        "/run/keepalived.fifo"
    );
    let fs = g.vrrp_notify_fifo_script.as_ref().unwrap();
    assert_eq!(fs.argv, vec!["/usr/local/bin/fifo-reader", "--verbose"]);
    assert_eq!(fs.run_as.as_ref().unwrap().user, "root");

    let s = c.vrrp_script("chk_proxy").unwrap();
    let cmd = s.script.as_ref().unwrap();
    assert_eq!(
        cmd.argv,
        vec![
            "/usr/local/bin/check-proxy",
            "--port",
            "8080",
            "health check"
        ]
    );
    assert_eq!(
        cmd.run_as,
        Some(RunAs {
            user: "nobody".into(),
            group: Some("nogroup".into())
        })
    );
    assert_eq!(s.interval, Duration::from_millis(100));
    assert_eq!(s.timeout, Some(Duration::from_millis(500)));
    assert_eq!(
        (s.weight, s.weight_reverse, s.rise, s.fall, s.init_fail),
        (-30, true, 2, 3, true)
    );

    let f = c.track_file("maintenance").unwrap();
    assert_eq!(f.file.as_deref(), Some("/var/run/baton/maintenance"));
    assert_eq!(f.weight, -50);
    assert_eq!(
        f.init_file,
        Some(InitFile {
            value: 0,
            overwrite: true
        })
    );

    let p = c.track_process("haproxy").unwrap();
    assert_eq!(p.process.as_deref(), Some("haproxy"));
    assert_eq!(p.params, vec!["-f", "/etc/haproxy/haproxy.cfg"]);
    assert_eq!(p.param_match, Some(ParamMatch::Partial));
    assert_eq!((p.weight, p.quorum, p.quorum_max), (20, 1, Some(4)));
    assert_eq!(p.fork_delay, Some(Duration::from_millis(500)));
    assert_eq!(p.terminate_delay, Some(Duration::from_millis(500)));
    assert!(p.full_command);

    let i = c.instance("GW").unwrap();
    assert_eq!(i.advert_int, Duration::from_millis(500));
    assert_eq!(i.preempt_delay, Some(Duration::from_secs(10)));
    assert_eq!(i.unicast_src_ip, Some(ip("10.20.0.1")));
    assert_eq!(
        i.unicast_peers,
        vec![UnicastPeer {
            address: ip("10.20.0.2"),
            min_ttl: Some(250),
            max_ttl: Some(255)
        }]
    );
    assert!(i.effective_check_unicast_src(g));
    assert_eq!(i.unicast_ttl, Some(255));
    let v0 = &i.virtual_ipaddresses[0];
    assert_eq!(
        (v0.dev.as_deref(), v0.label.as_deref()),
        (Some("ens3"), Some("ens3:vip"))
    );
    let v1 = &i.virtual_ipaddresses[1];
    assert_eq!(v1.brd, Some(ip("10.20.0.255")));
    assert_eq!(v1.scope, Some(Scope::Global));
    assert!(v1.no_track);
    assert_eq!(
        i.virtual_ipaddresses_excluded[0].address,
        ip("fd00:20::100")
    );
    assert_eq!(
        i.track_interfaces[1],
        TrackRef {
            name: "ens4".into(),
            weight: Some(-20),
            reverse: false
        }
    );
    assert_eq!(i.track_files[0].weight, Some(-60));
    assert_eq!(
        i.track_processes[0],
        TrackRef {
            name: "haproxy".into(),
            weight: Some(10),
            reverse: true
        }
    );
    assert_eq!(i.garp_master_delay, Some(Duration::from_secs(1)));
    assert_eq!(i.effective_garp_master_repeat(g), 3);
    assert_eq!(i.lower_prio_no_advert, Some(true));
    assert_eq!(i.higher_prio_send_advert, Some(true));
    let nm = i.notify.master.as_ref().unwrap();
    assert_eq!(nm.argv, vec!["/etc/baton/notify.sh", "master"]);
    assert_eq!(
        nm.run_as,
        Some(RunAs {
            user: "root".into(),
            group: Some("root".into())
        })
    );
    // Unquoted, the second word is the user (keepalived's reading).
    let nb = i.notify.backup.as_ref().unwrap();
    assert_eq!(nb.argv, vec!["/etc/baton/notify.sh"]);
    assert_eq!(
        nb.run_as,
        Some(RunAs {
            user: "backup".into(),
            group: None
        })
    );
    assert!(i.notify.stop.is_some() && i.notify.any.is_some());

    let b = cfg("unicast-pair-b.conf", "x");
    let ib = b.instance("GW").unwrap();
    assert_eq!(ib.unicast_peers[0].address, i.unicast_src_ip.unwrap());
    assert_eq!(ib.unicast_src_ip.unwrap(), i.unicast_peers[0].address);
}

#[test]
fn sync_group_with_routes_and_rules() {
    let c = cfg("sync-group.conf", "x");
    let g = &c.sync_groups[0];
    assert_eq!(g.members, vec!["OUTSIDE", "INSIDE"]);
    assert_eq!(g.track_scripts[0].name, "chk_fw");
    assert_eq!(
        g.notify.master.as_ref().unwrap().argv,
        vec!["/etc/baton/fw.sh", "MASTER"]
    );
    assert_eq!(c.sync_group_of("INSIDE").unwrap().name, "FW");
    assert_eq!(
        c.global.vrrp_startup_delay,
        Some(Duration::from_millis(5500))
    );
    let o = c.instance("OUTSIDE").unwrap();
    let r = &o.virtual_routes[0];
    assert_eq!(
        r.to,
        Prefix {
            address: ip("0.0.0.0"),
            len: 0
        }
    );
    assert_eq!(r.via, Some(ip("192.0.2.1")));
    assert_eq!(r.dev.as_deref(), Some("eth0"));
    let rule = &c.instance("INSIDE").unwrap().virtual_rules[0];
    assert_eq!(rule.preference, Some(100));
    assert_eq!(rule.table.as_deref(), Some("100"));
    assert_eq!(
        rule.from,
        Some(Prefix {
            address: ip("10.1.0.0"),
            len: 16
        })
    );
}

#[test]
fn includes_conditionals_definitions_and_sequences() {
    for (id, prio, router) in [("node1", 150, "node1"), ("node2", 100, "node2")] {
        let c = cfg("include/main.conf", id);
        assert_eq!(c.global.router_id.as_deref(), Some(router));
        let names: Vec<&str> = c.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["VI_1", "VI_2"]);
        for (n, i) in c.instances.iter().enumerate() {
            let n = n + 1;
            assert_eq!(i.priority, Some(prio));
            assert_eq!(i.virtual_router_id as usize, n);
            let addrs: Vec<String> = i
                .virtual_ipaddresses
                .iter()
                .map(|a| a.address.to_string())
                .collect();
            assert_eq!(
                addrs,
                (1..=3).map(|h| format!("10.0.{n}.{h}")).collect::<Vec<_>>()
            );
            assert_eq!(i.track_scripts[0].name, format!("chk_{n}"));
        }
        // ${_PWD} is the directory of the file that uses it.
        let s = c.vrrp_script("chk_2").unwrap().script.as_ref().unwrap();
        assert_eq!(s.argv[0], data("include/conf.d/check.sh").to_string_lossy());
        assert_eq!(s.argv[1], "2");
        // @^node2 lines are kept everywhere but on node2.
        assert_eq!(c.vrrp_script("only_not_node2").is_some(), id != "node2");
    }
}

fn roundtrip(path: &Path, id: &str) {
    let (config, _) = load_all(path, &opts(id));
    let config = config.unwrap();
    let text = yaml::to_string(&config).unwrap();
    let back = yaml::from_str(&text, Path::new("x.yaml")).unwrap();
    assert_eq!(config, back, "{}", path.display());
    // And through a .yaml file with load().
    let dir = tempfile::tempdir().unwrap();
    let y = dir.path().join("baton.yaml");
    std::fs::write(&y, &text).unwrap();
    let (again, _) = load_all(&y, &opts(id));
    assert_eq!(Some(config), again);
}

#[test]
fn conf_to_yaml_and_back_is_identical() {
    for name in [
        "neuronex-master.conf",
        "neuronex-backup.conf",
        "unicast-pair-a.conf",
        "unicast-pair-b.conf",
        "sync-group.conf",
        "ipv6-v3.conf",
        "include/main.conf",
    ] {
        roundtrip(&data(name), "node1");
    }
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/keepalived-samples");
    let samples = if samples.is_dir() {
        samples
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/keepalived-samples")
    };
    if let Ok(rd) = std::fs::read_dir(&samples) {
        for e in rd {
            let p = e.unwrap().path();
            if p.file_name().unwrap() != "EXPECTED.md" {
                roundtrip(&p, "corpus");
            }
        }
    }
}

#[test]
fn yaml_errors_have_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let y = dir.path().join("bad.yml");
    std::fs::write(&y, "instances:\n  - name: A\n    virtual_router_id: 300\n").unwrap();
    let err = load(&y, &opts("x")).unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(d.severity, Severity::Error);
    assert_eq!(d.line, 3, "{d}");
    // Semantic checks apply to YAML too.
    std::fs::write(
        &y,
        "instances:\n  - name: A\n    virtual_router_id: 0\n    advert_int: 1\n    preempt: true\n",
    )
    .unwrap();
    let err = load(&y, &opts("x")).unwrap_err();
    assert!(err.to_string().contains("has no interface"), "{err}");
}

#[test]
fn hand_written_yaml_takes_keepalived_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let y = dir.path().join("baton.yaml");
    std::fs::write(
        &y,
        "instances:\n  - name: VI_1\n    interface: eth0\n    virtual_router_id: 51\n    virtual_ipaddresses:\n      - address: 10.0.0.1\n        prefix_len: 24\n",
    )
    .unwrap();
    let c = load(&y, &opts("x")).unwrap().config;
    let i = &c.instances[0];
    assert_eq!(i.advert_int, Duration::from_secs(1));
    assert!(i.preempt);
    assert_eq!(i.effective_priority(), 100);
    assert_eq!(c.global.vrrp_garp_master_repeat, 5);
    // A missing name is an error, not a silent empty one.
    std::fs::write(
        &y,
        "instances:\n  - interface: eth0\n    virtual_router_id: 1\n",
    )
    .unwrap();
    assert!(
        load(&y, &opts("x"))
            .unwrap_err()
            .to_string()
            .contains("needs a name")
    );
}
