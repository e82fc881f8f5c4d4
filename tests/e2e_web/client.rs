//! The test side of baton's HTTP server: a small HTTP/1.1 client over
//! `std::net::TcpStream`, run on a thread inside a test node's namespace, and the scrape
//! read by a strict Prometheus text-format parser (openmetrics-parser).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use openmetrics_parser::PrometheusValue;
use openmetrics_parser::prometheus::parse_prometheus;

use crate::common::netns::TestNet;

/// Every family the exporter (mehdy/keepalived-exporter, internal/collector/collector.go)
/// declares, but the one its own `--cs` check script feeds.
pub const EXPORTER: &[&str] = &[
    "keepalived_up",
    "keepalived_vrrp_state",
    "keepalived_vrrp_excluded_state",
    "keepalived_gratuitous_arp_delay_total",
    "keepalived_advertisements_received_total",
    "keepalived_advertisements_sent_total",
    "keepalived_become_master_total",
    "keepalived_release_master_total",
    "keepalived_packet_length_errors_total",
    "keepalived_advertisements_interval_errors_total",
    "keepalived_ip_ttl_errors_total",
    "keepalived_invalid_type_received_total",
    "keepalived_address_list_errors_total",
    "keepalived_authentication_invalid_total",
    "keepalived_authentication_mismatch_total",
    "keepalived_authentication_failure_total",
    "keepalived_priority_zero_received_total",
    "keepalived_priority_zero_sent_total",
    "keepalived_script_status",
    "keepalived_script_state",
];

/// Every metric the exporter's bundled Grafana dashboard
/// (grafana/dashboards/keepalived-exporter.json) queries, but
/// `keepalived_check_script_status` (the exporter's own check script).
pub const DASHBOARD: &[&str] = &[
    "keepalived_up",
    "keepalived_script_status",
    "keepalived_script_state",
    "keepalived_vrrp_state",
    "keepalived_release_master",
    "keepalived_become_master",
    "keepalived_advert_rcvd",
    "keepalived_advert_sent",
    "keepalived_pri_zero_rcvd",
    "keepalived_pri_zero_sent",
    "keepalived_packet_len_err",
    "keepalived_advert_interval_err",
    "keepalived_ip_ttl_err",
    "keepalived_addr_list_err",
    "keepalived_invalid_type_rcvd",
    "keepalived_garp_delay",
    "keepalived_invalid_authtype",
    "keepalived_authtype_mismatch",
    "keepalived_auth_failure",
];

/// An answer as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub code: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The first answer in `raw`, if its head and (by Content-Length) body are all there.
pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let code = head.split(' ').nth(1)?.parse().ok()?;
    let mut r = Response {
        code,
        head,
        body: Vec::new(),
    };
    let len: usize = r.header("content-length")?.parse().ok()?;
    let body = raw.get(end + 4..end + 4 + len)?;
    r.body = body.to_vec();
    Some(r)
}

/// Connects from inside `ns`, sends `bytes`, and reads until the server closes or
/// `limit` passes; what was read, or the connect error.
pub fn exchange(
    net: &TestNet,
    ns: &str,
    addr: SocketAddr,
    bytes: Vec<u8>,
    limit: Duration,
) -> std::io::Result<Vec<u8>> {
    net.run(ns, move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_millis(200)))?;
        s.write_all(&bytes)?;
        read_until_close(&mut s, limit)
    })
}

/// Reads until EOF (or a reset after data) or `limit`.
pub fn read_until_close(s: &mut TcpStream, limit: Duration) -> std::io::Result<Vec<u8>> {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 16384];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if !out.is_empty() => {
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// `GET path` (or another method) with `Connection: close`, from inside `ns`.
pub fn request(net: &TestNet, ns: &str, addr: SocketAddr, method: &str, path: &str) -> Response {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let raw = exchange(net, ns, addr, req.into_bytes(), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{method} {path} on {addr} in {ns}: {e}"));
    if method == "HEAD" {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("a code");
        assert_eq!(raw.len(), end + 4, "HEAD answered with a body");
        return Response {
            code,
            head,
            body: Vec::new(),
        };
    }
    parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "{method} {path}: no whole answer: {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

pub fn get(net: &TestNet, ns: &str, addr: SocketAddr, path: &str) -> Response {
    request(net, ns, addr, "GET", path)
}

/// Whether a connection from inside `ns` to `addr` is refused.
pub fn refused(net: &TestNet, ns: &str, addr: SocketAddr) -> bool {
    net.run(ns, move || {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => false,
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused,
                    "{addr}: {e}"
                );
                true
            }
        }
    })
}

/// One sample as the parser read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Family name -> (its type, its samples).
pub type Scrape = HashMap<String, (String, Vec<Series>)>;

/// The scrape read by a strict text-format parser; panics with the text if it fails.
pub fn scrape(text: &str) -> Scrape {
    let parsed = parse_prometheus(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let mut out = HashMap::new();
    for (name, fam) in &parsed.families {
        let mut samples = Vec::new();
        for s in fam.iter_samples() {
            let set = s.get_labelset().expect("labels");
            let labels = set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let value = match &s.value {
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
                PrometheusValue::Counter(c) => c.value.as_f64(),
                other => panic!("{name}: {other:?}"),
            };
            samples.push(Series { labels, value });
        }
        out.insert(name.clone(), (fam.family_type.to_string(), samples));
    }
    out
}

/// The one sample of `family` whose labels include `pairs`.
pub fn value(s: &Scrape, family: &str, pairs: &[(&str, &str)]) -> Option<f64> {
    let (_, samples) = s.get(family)?;
    let mut found = samples.iter().filter(|x| {
        pairs
            .iter()
            .all(|(k, v)| x.labels.get(*k).map(String::as_str) == Some(*v))
    });
    let one = found.next()?;
    assert!(found.next().is_none(), "{family} {pairs:?}: more than one");
    Some(one.value)
}

/// VmRSS of a process, KiB.
pub fn rss_kib(pid: i32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}
