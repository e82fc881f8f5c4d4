//! The arbiter blocks of baton's file: what they read into `ArbiterConf` (a full block,
//! the defaults, several blocks), each mistake at its file:line:col, the checks against
//! keepalived.conf's instances and sync groups, the dump, and the man page.

use std::path::{Path, PathBuf};
use std::time::Duration;

use baton::config::baton::{
    ARBITER_DRIFT_DEFAULT, ARBITER_PREFIX_DEFAULT, ARBITER_TTL_DEFAULT, ArbiterConf, ArbiterMode,
    EtcdDown,
};
use baton::config::batonconf::{ARBITER_STATEMENTS, write_man_page};
use baton::config::{Diagnostic, load, load_all};

use super::{Files, KCONF, one_error, opts};

/// KCONF plus VI_3, and the sync group G of VI_2 and VI_3.
fn kconf_group() -> String {
    format!(
        "{KCONF}vrrp_instance VI_3 {{\n    interface lo\n    virtual_router_id 3\n    \
         priority 100\n    virtual_ipaddress {{ 10.0.0.3/24 }}\n}}\n\
         vrrp_sync_group G {{\n    group {{\n        VI_2\n        VI_3\n    }}\n}}\n"
    )
}

/// The arbiter blocks of a baton file loaded beside `kconf_group()`, and every diagnostic.
fn arbiters_of(text: &str) -> (Vec<ArbiterConf>, Vec<Diagnostic>) {
    let f = Files::new();
    let k = f.write("keepalived.conf", &kconf_group());
    let b = f.write("baton.conf", text);
    let (c, d) = load_all(&k, &opts(Some(&b)));
    (c.unwrap().baton.arbiters, d)
}

/// The one error of a baton file loaded beside `kconf_group()`: (line, col, message).
fn one_group_error(text: &str) -> (u32, u32, String) {
    let (_, d) = arbiters_of(text);
    let errs: Vec<&Diagnostic> = d.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 1, "{text}: {d:#?}");
    assert!(errs[0].file.ends_with("baton.conf"), "{d:#?}");
    (errs[0].line, errs[0].col, errs[0].message.clone())
}

const FULL: &str = "arbiter etcd {
    endpoints 10.0.9.1:2379 http://[fd00::9]:2379 https://etcd3.example:2379
    instance VI_1        # a target
    group G
    prefix /site-a/baton/
    name node-a
    lease_ttl 10
    mode only
    etcd_down keep
    clock_drift 0.5%
    stop_margin 2.5
    request_timeout 0.25
    ca_file /etc/baton/etcd-ca.pem
    cert_file /etc/baton/etcd-client.pem
    key_file /etc/baton/etcd-client.key
    user baton
    password_file /etc/baton/etcd-password
}
";

#[test]
fn a_full_block_reads_into_the_model() {
    // An http:// member with ca_file is an error: drop the scheme check's subject here.
    let text = FULL.replace("http://[fd00::9]", "[fd00::9]");
    let (a, d) = arbiters_of(&text);
    assert!(d.is_empty(), "{d:#?}");
    let expected = ArbiterConf {
        endpoints: vec![
            "10.0.9.1:2379".into(),
            "[fd00::9]:2379".into(),
            "https://etcd3.example:2379".into(),
        ],
        instances: vec!["VI_1".into()],
        groups: vec!["G".into()],
        prefix: Some("/site-a/baton/".into()),
        name: Some("node-a".into()),
        lease_ttl: Some(Duration::from_secs(10)),
        mode: ArbiterMode::Only,
        etcd_down: EtcdDown::Keep,
        clock_drift_ppm: Some(5_000),
        stop_margin: Some(Duration::from_millis(2_500)),
        request_timeout: Some(Duration::from_millis(250)),
        ca_file: Some(PathBuf::from("/etc/baton/etcd-ca.pem")),
        cert_file: Some(PathBuf::from("/etc/baton/etcd-client.pem")),
        key_file: Some(PathBuf::from("/etc/baton/etcd-client.key")),
        user: Some("baton".into()),
        password_file: Some(PathBuf::from("/etc/baton/etcd-password")),
    };
    assert_eq!(a, vec![expected]);
    assert_eq!(a[0].clock_drift(), 0.005);
    assert!(a[0].covers("VI_1") && a[0].covers("G") && !a[0].covers("VI_2"));
}

#[test]
fn a_minimal_block_has_the_defaults() {
    let (a, d) = arbiters_of("arbiter etcd {\n endpoints etcd:2379\n instance VI_1\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    let a = &a[0];
    assert_eq!(a.endpoints, ["etcd:2379"]);
    assert_eq!(a.instances, ["VI_1"]);
    assert!(a.groups.is_empty());
    assert_eq!((a.prefix(), ARBITER_PREFIX_DEFAULT), ("/baton/", "/baton/"));
    assert_eq!(a.name, None);
    assert_eq!(a.lease_ttl(), ARBITER_TTL_DEFAULT);
    assert_eq!(a.lease_ttl(), Duration::from_secs(5));
    assert_eq!((a.mode, a.etcd_down), (ArbiterMode::Vrrp, EtcdDown::Stop));
    assert_eq!(a.clock_drift_ppm, None);
    assert_eq!(ARBITER_DRIFT_DEFAULT, 10_000);
    assert_eq!(a.clock_drift(), 0.01);
    assert_eq!(a.stop_margin(), Duration::from_secs(1));
    assert_eq!(a.request_timeout(), Duration::from_secs(1));
    assert_eq!(
        (&a.ca_file, &a.cert_file, &a.key_file),
        (&None, &None, &None)
    );
    assert_eq!((&a.user, &a.password_file), (&None, &None));
    // The margins default to a quarter of a short TTL.
    let (a, d) = arbiters_of("arbiter etcd {\n endpoints e:1\n group G\n lease_ttl 2\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(a[0].stop_margin(), Duration::from_millis(500));
    assert_eq!(a[0].request_timeout(), Duration::from_millis(500));
    // No block: no arbiter.
    let (a, d) = arbiters_of("global {\n notify_timeout 3\n}\n");
    assert!(d.is_empty() && a.is_empty(), "{d:#?}");
}

#[test]
fn several_blocks_are_kept_in_order() {
    let (a, d) = arbiters_of(
        "arbiter etcd {\n endpoints 10.0.9.1:2379\n instance VI_1\n}\n\
         arbiter etcd {\n endpoints 10.1.9.1:2379 10.1.9.2:2379\n group G\n prefix /b/\n}\n",
    );
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(a.len(), 2);
    assert_eq!(
        (a[0].instances.as_slice(), a[0].prefix()),
        (&["VI_1".to_string()][..], "/baton/")
    );
    assert_eq!(a[1].groups, ["G"]);
    assert_eq!(a[1].endpoints, ["10.1.9.1:2379", "10.1.9.2:2379"]);
    assert_eq!(a[1].prefix(), "/b/");
}

#[test]
fn block_mistakes_are_errors_where_written() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            "arbiter consul {\n}\n",
            (1, 9),
            "unknown arbiter kind 'consul' (supported: etcd)",
        ),
        (
            "arbiter {\n}\n",
            (1, 1),
            "arbiter needs its kind: arbiter etcd { STATEMENT ... }",
        ),
        ("arbiter etcd x {\n}\n", (1, 14), "arbiter takes one kind"),
        ("arbiter etcd\n", (1, 1), "'arbiter' needs a block"),
        (
            "arbiter etcd {\n instance VI_1\n}\n",
            (1, 1),
            "arbiter etcd needs endpoints",
        ),
        (
            "arbiter etcd {\n endpoints e:1\n}\n",
            (1, 1),
            "arbiter etcd names no target: add instance NAME or group NAME",
        ),
        (
            "arbiter etcd {\n endpoints a:1\n instance VI_1\n}\n\
             arbiter etcd {\n endpoints b:1\n instance  VI_1\n}\n",
            (7, 12),
            "instance VI_1 is already a target of another arbiter block (instance VI_1 at line 3)",
        ),
        (
            "arbiter etcd {\n endpoints a:1\n instance VI_1\n}\n\
             arbiter etcd {\n endpoints b:1\n group VI_1\n}\n",
            (7, 8),
            "group VI_1 is already a target of another arbiter block (instance VI_1 at line 3)",
        ),
    ];
    for (text, at, want) in cases {
        let (l, c, m) = one_error(text);
        assert!(m.contains(want), "{text:?}: {m}");
        assert_eq!((l, c), *at, "{text:?}: {m}");
    }
}

#[test]
fn statement_mistakes_are_errors_where_written() {
    let head = "arbiter etcd {\n endpoints 10.0.9.1:2379\n instance VI_1\n";
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            " endpointz x\n",
            (4, 2),
            "unknown statement 'endpointz' in arbiter etcd (known: endpoints, instance, group, \
             prefix, name, lease_ttl, mode, etcd_down, clock_drift, stop_margin, \
             request_timeout, ca_file, cert_file, key_file, user, password_file)",
        ),
        (
            " mode { only }\n",
            (4, 2),
            "mode takes a value, not a block: mode vrrp|only",
        ),
        (" mode\n", (4, 2), "mode needs vrrp or only"),
        (" mode vrrp only\n", (4, 12), "mode takes one value"),
        (
            " mode active\n",
            (4, 7),
            "mode: expected vrrp or only, got 'active'",
        ),
        (
            " etcd_down maybe\n",
            (4, 12),
            "etcd_down: expected stop or keep, got 'maybe'",
        ),
        (
            " endpoints 10.0.9.2:2379\n",
            (4, 2),
            "endpoints is set twice in this arbiter block (the first is at line 2)",
        ),
        (
            " lease_ttl 5\n lease_ttl 6\n",
            (5, 2),
            "lease_ttl is set twice",
        ),
        (
            " instance VI_1\n",
            (4, 11),
            "instance VI_1 is already a target in this arbiter block (instance VI_1 at line 3)",
        ),
        (" instance\n", (4, 2), "instance needs a name"),
        (" group G H\n", (4, 10), "group takes one value"),
        (
            " lease_ttl 1\n",
            (4, 12),
            "lease_ttl must be a whole number of seconds from 2 to 600, as etcd leases are \
             whole seconds (got '1')",
        ),
        (" lease_ttl 601\n", (4, 12), "(got '601')"),
        (" lease_ttl 5.5\n", (4, 12), "(got '5.5')"),
        (
            " clock_drift 11%\n",
            (4, 14),
            "clock_drift must be a percentage from 0% to 10%, at most 4 decimals, as in 0.5% \
             (got '11%')",
        ),
        (" clock_drift 1\n", (4, 14), "(got '1')"),
        (" clock_drift 0.00001%\n", (4, 14), "at most 4 decimals"),
        (
            " stop_margin 2.5\n",
            (4, 14),
            "stop_margin (2.5 s) must be below half of lease_ttl (5 s, the default)",
        ),
        (
            " lease_ttl 4\n stop_margin 2\n",
            (5, 14),
            "stop_margin (2 s) must be below half of lease_ttl (4 s)",
        ),
        (
            " stop_margin -1\n",
            (4, 14),
            "stop_margin: '-1' is not a number of seconds",
        ),
        (
            " request_timeout 0.01\n",
            (4, 18),
            "request_timeout must be between 0.05 and 300 seconds (got 0.01)",
        ),
        (
            " request_timeout 2.5\n",
            (4, 18),
            "request_timeout (2.5 s) must be below half of lease_ttl (5 s, the default)",
        ),
        (
            " prefix baton/\n",
            (4, 9),
            "prefix must start with / (got 'baton/')",
        ),
        (
            " prefix \"/a b/\"\n",
            (4, 9),
            "prefix must be a key prefix without blanks (got '/a b/')",
        ),
        (
            " name \"node a\"\n",
            (4, 7),
            "name must be a name without blanks",
        ),
        (
            " ca_file etcd-ca.pem\n",
            (4, 10),
            "ca_file must be an absolute path (got 'etcd-ca.pem')",
        ),
        (
            " key_file ./k\n",
            (4, 11),
            "key_file must be an absolute path",
        ),
        (
            " password_file pw\n",
            (4, 16),
            "password_file must be an absolute path",
        ),
        (
            " ca_file /ca\n cert_file /c\n",
            (5, 12),
            "cert_file needs key_file in the same block: a client certificate needs its key",
        ),
        (
            " ca_file /ca\n key_file /k\n",
            (5, 11),
            "key_file needs cert_file in the same block",
        ),
        (
            " cert_file /c\n key_file /k\n",
            (4, 12),
            "cert_file needs ca_file in the same block: TLS is on only with ca_file",
        ),
        (
            " user baton\n",
            (4, 7),
            "user needs password_file in the same block",
        ),
        (
            " password_file /pw\n",
            (4, 16),
            "password_file needs user in the same block",
        ),
    ];
    for (body, at, want) in cases {
        let text = format!("{head}{body}}}\n");
        let (l, c, m) = one_error(&text);
        assert!(m.contains(want), "{text}: {m}");
        assert_eq!((l, c), *at, "{text}: {m}");
    }
}

#[test]
fn endpoint_mistakes_are_errors_at_the_endpoint() {
    let head = "arbiter etcd {\n instance VI_1\n";
    let many: Vec<String> = (1..=17).map(|i| format!("e{i}:1")).collect();
    let many = format!(" endpoints {}\n", many.join(" "));
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            " endpoints\n",
            (3, 2),
            "endpoints needs the etcd members: HOST:PORT, http://HOST:PORT or https://HOST:PORT",
        ),
        (&many, (3, 99), "endpoints takes at most 16 members"),
        (
            " endpoints 10.0.9.1\n",
            (3, 12),
            "endpoint '10.0.9.1': it needs a port: HOST:PORT",
        ),
        (
            " endpoints a:1 10.0.9.1:2379 10.0.9.1:2379\n",
            (3, 30),
            "endpoint 10.0.9.1:2379 is given twice (the first is at line 3)",
        ),
        (
            " endpoints a:1 A:1\n",
            (3, 16),
            "endpoint a:1 is given twice",
        ),
        (
            " endpoints fd00::1:2379\n",
            (3, 12),
            "write an IPv6 address in brackets: [fd00::1]:2379",
        ),
        (
            " endpoints [fd00::x]:2379\n",
            (3, 12),
            "is not an IPv6 address",
        ),
        (
            " endpoints 10.0.0.300:2379\n",
            (3, 12),
            "neither a host name nor an IPv4 address",
        ),
        (
            " endpoints unix://e:1\n",
            (3, 12),
            "the scheme must be http:// or https://",
        ),
        (" endpoints http://e:1/v3\n", (3, 12), "without a path"),
        (
            " endpoints e:0\n",
            (3, 12),
            "endpoint 'e:0': the port must be a number from 1 to 65535",
        ),
        (
            " endpoints https://e:2379\n",
            (3, 12),
            "endpoint https://e:2379 is https://, but TLS needs ca_file",
        ),
        (
            " endpoints e:1 http://f:2379\n ca_file /ca\n",
            (3, 16),
            "endpoint http://f:2379 is plain http://, but ca_file turns TLS on",
        ),
    ];
    for (body, at, want) in cases {
        let text = format!("{head}{body}}}\n");
        let (l, c, m) = one_error(&text);
        assert!(m.contains(want), "{text}: {m}");
        assert_eq!((l, c), *at, "{text}: {m}");
    }
}

#[test]
fn targets_are_checked_against_keepalived_conf() {
    let head = "arbiter etcd {\n endpoints e:1\n";
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            " instance VI_9\n",
            (3, 11),
            "instance VI_9: keepalived.conf defines no vrrp_instance VI_9",
        ),
        (
            " group G9\n",
            (3, 8),
            "group G9: keepalived.conf defines no vrrp_sync_group G9",
        ),
        (
            " instance VI_1\n instance VI_3\n",
            (4, 11),
            "instance VI_3 is a member of vrrp_sync_group G, whose instances change state \
             together: make the group the target (group G)",
        ),
    ];
    for (body, at, want) in cases {
        let text = format!("{head}{body}}}\n");
        let (l, c, m) = one_group_error(&text);
        assert!(m.contains(want), "{text}: {m}");
        assert_eq!((l, c), *at, "{text}: {m}");
    }
}

#[test]
fn check_dump_reads_back_to_the_same_model() {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    let b = f.write(
        "baton.conf",
        &FULL.replace(" group G\n", " instance VI_2\n"),
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["check", "-f"])
        .args([&k, Path::new("--baton-conf"), &b, Path::new("--dump")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The http:// member beside ca_file is the one error.
    assert_ne!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("is plain http://"), "{stderr}");
    let b = f.write(
        "baton.conf",
        &FULL
            .replace(" group G\n", " instance VI_2\n")
            .replace("http://[fd00::9]", "[fd00::9]"),
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["check", "-f"])
        .args([&k, Path::new("--baton-conf"), &b, Path::new("--dump")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    if !cfg!(feature = "etcd") {
        // The file is right, but this binary cannot run it: check says so.
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("built without etcd support"), "{stderr}");
        return;
    }
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert!(
        yaml.contains("\nbaton:\n  arbiters:\n  - endpoints:\n"),
        "{yaml}"
    );
    let c = load(&k, &opts(Some(&b))).unwrap().config;
    assert_eq!(c.baton.arbiters.len(), 1);
    let y = f.write("dump.yaml", &yaml);
    assert_eq!(load(&y, &opts(None)).unwrap().config, c);
}

#[test]
fn the_man_page_has_an_arbiter_section_with_every_statement() {
    let mut page = Vec::new();
    write_man_page(&mut page, "1.2.3").unwrap();
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains(".B arbiter etcd { STATEMENT ... }"), "{page}");
    let start = page.find(".SH ARBITER").unwrap();
    let end = start + page[start..].find("\n.SH ").unwrap();
    let section = &page[start..end];
    for s in ARBITER_STATEMENTS {
        let head = format!("\\fB{}\\fR", s.name.replace('-', "\\-"));
        assert!(section.contains(&head), "{}: {section}", s.name);
        assert!(s.doc.len() > 40, "{}", s.name);
    }
    assert!(section.contains("sends no VRRP adverts"), "{section}");
}
