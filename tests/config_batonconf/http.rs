//! The http block of baton's file: what it reads into `HttpConf` (defaults 127.0.0.1 and
//! 9165, IPv6 addresses, wildcards), each mistake at its file:line:col, and the dump.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use baton::config::baton::{HTTP_PORT_DEFAULT, HttpConf};
use baton::config::{Diagnostic, load, load_all};

use super::{Files, KCONF, one_error, opts};

fn http_of(text: &str) -> (Option<HttpConf>, Vec<Diagnostic>) {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    let b = f.write("baton.conf", text);
    let (c, d) = load_all(&k, &opts(Some(&b)));
    (c.unwrap().baton.http, d)
}

fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn no_block_no_server_and_an_empty_block_listens_on_localhost_9165() {
    let (none, d) = http_of("global {\n notify_timeout 3\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(none, None);
    let (empty, d) = http_of("http {\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    let empty = empty.unwrap();
    assert_eq!(empty.port(), HTTP_PORT_DEFAULT);
    assert_eq!(empty.port(), 9165);
    assert_eq!(empty.sockets(), vec![sock("127.0.0.1:9165")]);
}

#[test]
fn listen_is_repeatable_takes_ipv6_and_wildcards_and_port_applies_to_each() {
    let (h, d) = http_of(
        "http {\n    listen 10.0.0.1   # the node's own address\n    listen fd00::1\n    listen ::1\n    port 9200\n}\n",
    );
    assert!(d.is_empty(), "{d:#?}");
    let h = h.unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(h.listen, vec![ip("10.0.0.1"), ip("fd00::1"), ip("::1")]);
    assert_eq!(
        h.sockets(),
        vec![
            sock("10.0.0.1:9200"),
            sock("[fd00::1]:9200"),
            sock("[::1]:9200")
        ]
    );
    let (h, d) = http_of("http {\n listen 0.0.0.0\n listen ::\n}\n");
    assert!(d.is_empty(), "{d:#?}");
    assert_eq!(
        h.unwrap().sockets(),
        vec![sock("0.0.0.0:9165"), sock("[::]:9165")]
    );
}

#[test]
fn http_mistakes_are_errors_where_written() {
    let cases: &[(&str, (u32, u32), &str)] = &[
        (
            "http {\n listen 10.0.0.300\n}\n",
            (2, 9),
            "'10.0.0.300' is not an IPv4 or IPv6 address",
        ),
        ("http {\n listen fe80::1%eth0\n}\n", (2, 9), "has a zone"),
        ("http {\n listen 224.0.0.18\n}\n", (2, 9), "multicast"),
        (
            "http {\n listen 10.0.0.1\n  listen 10.0.0.1\n}\n",
            (3, 10),
            "listen 10.0.0.1 is given twice (listen 10.0.0.1 at line 2)",
        ),
        (
            "http {\n listen 0.0.0.0\n listen 127.0.0.1\n}\n",
            (3, 9),
            "overlaps a wildcard address of its family",
        ),
        ("http {\n listen\n}\n", (2, 2), "listen needs an address"),
        (
            "http {\n listen 10.0.0.1 10.0.0.2\n}\n",
            (2, 18),
            "listen takes one value",
        ),
        (
            "http {\n port 0\n}\n",
            (2, 7),
            "port must be a number from 1 to 65535 (got '0')",
        ),
        (
            "http {\n port 65536\n}\n",
            (2, 7),
            "port must be a number from 1 to 65535",
        ),
        (
            "http {\n port 9165\n port 9166\n}\n",
            (3, 2),
            "port is set twice in the http block (the first is at line 2)",
        ),
        (
            "http {\n address 10.0.0.1\n}\n",
            (2, 2),
            "unknown statement 'address' in http (known: listen, port)",
        ),
        (
            "http {\n listen { 10.0.0.1 }\n}\n",
            (2, 2),
            "listen takes a value, not a block",
        ),
        ("http web {\n}\n", (1, 6), "http takes no name"),
        (
            "http {\n}\nhttp {\n}\n",
            (3, 1),
            "a second http block (the first is at line 1)",
        ),
        ("http 9165\n", (1, 1), "'http' needs a block"),
    ];
    for (text, at, want) in cases {
        let (l, c, m) = one_error(text);
        assert_eq!((l, c), *at, "{text:?}: {m}");
        assert!(m.contains(want), "{text:?}: {m}");
    }
}

#[test]
fn check_dump_shows_the_http_block_and_the_dump_reads_back_to_the_same_model() {
    let f = Files::new();
    let k = f.write("keepalived.conf", KCONF);
    let b = f.write("baton.conf", "http {\n listen ::1\n port 9300\n}\n");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["check", "-f"])
        .args([&k, Path::new("--baton-conf"), &b, Path::new("--dump")])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert!(
        yaml.contains("\nbaton:\n  http:\n    listen:\n    - ::1\n    port: 9300\n"),
        "{yaml}"
    );
    let c = load(&k, &opts(Some(&b))).unwrap().config;
    let y = f.write("dump.yaml", &yaml);
    assert_eq!(load(&y, &opts(None)).unwrap().config, c);
}
