//! End-to-end: baton's HTTP server (`http` block of baton.conf) on real `baton run`
//! processes in namespaces, reached from inside each node's namespace.
//!
//! - metrics on both nodes of a linked pair, read by a strict Prometheus text-format
//!   parser: every family of the keepalived exporter and every metric its bundled
//!   Grafana dashboard queries is there; `keepalived_vrrp_state` is 2 on the master and
//!   1 on the backup for the VIP; counters rise; after `baton demote` the backup's
//!   `become_master` and the old master's `release_master` count it; baton's own series
//!   show the link, the peer's config match and the last transition's reason; `/status`
//!   is `baton status --json`; `HEAD` has the head only;
//! - bad input gets its HTTP error (431, 414, 400, 405, 404, 505), a slowloris client is
//!   closed at the head deadline while another is served at once, 200 connections at
//!   once are held at 64 and the rest refused with 503, memory comes back after they
//!   close; all the while the master's adverts reach the backup on time and the backup
//!   never becomes MASTER;
//! - the server listens on 127.0.0.1 only unless told, a reload rebinds it (more
//!   addresses, IPv6, another port, none), a reload whose port is taken keeps the
//!   running server, and a node whose port is taken at start runs without one until a
//!   reload finds the port free.
//!
//! Node a is 10.0.0.1 (priority 150), b 10.0.0.2 (100); advert_int 0.1.

#[path = "e2e_web/client.rs"]
mod client;
mod common;
mod e2e;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use client::{DASHBOARD, EXPORTER, Scrape, get, refused, request, rss_kib, scrape, value};
use common::netns::wait_for;
use e2e::link::{addr, approve_each_other, link_conf};
use e2e::{Cluster, DEADLINE, Inst, conf, file_check};

const VIP: &str = "10.0.0.100/24";
const HTTP: &str = "http {\n}\n";

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `/metrics` of daemon `i`, scraped from inside its namespace.
fn metrics(c: &Cluster, i: usize) -> Scrape {
    let r = get(&c.net, &c.d(i).ns, local(9165), "/metrics");
    assert_eq!(r.code, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    scrape(&r.text())
}

/// Scrapes daemon `i` until `ok` holds (the snapshot is at most a second behind).
fn wait_metrics(c: &Cluster, i: usize, what: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
    let start = Instant::now();
    loop {
        let s = metrics(c, i);
        if ok(&s) {
            return s;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{}: metrics never showed {what}\n{}",
            c.d(i).name,
            c.all_logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn vip_state(s: &Scrape) -> Option<f64> {
    value(
        s,
        "keepalived_vrrp_state",
        &[("iname", "VI_1"), ("ip_address", VIP)],
    )
}

fn counter(s: &Scrape, name: &str) -> f64 {
    value(s, name, &[("iname", "VI_1"), ("vrid", "51")]).unwrap_or(-1.0)
}

#[test]
fn metrics_on_both_nodes_follow_a_demote_and_status_is_baton_status() {
    let mut c = Cluster::new("web_metrics", 2);
    let healthy = c.path("healthy");
    std::fs::write(&healthy, "").expect("check file");
    let scripts = file_check("chk", &healthy, "0.2", "");
    let (a_addr, b_addr) = (addr(&c, 0), addr(&c, 1));
    for (i, prio) in [(0, 150), (1, 100)] {
        let mut inst = Inst::new(prio, "BACKUP");
        inst.track_scripts = vec!["chk".into()];
        let (me, peer) = if i == 0 {
            (&a_addr, &b_addr)
        } else {
            (&b_addr, &a_addr)
        };
        let name = ["a", "b"][i];
        let state = c.path(&format!("state-{name}"));
        let baton = link_conf(me, &[peer], &state, &[]) + HTTP;
        c.start_baton(name, i, &conf(name, &scripts, &[&inst]), &baton);
        if i == 0 {
            c.d(0).wait_state("VI_1", "MASTER");
        }
    }
    c.d(1).wait_state("VI_1", "BACKUP");
    approve_each_other(&c, 0, 1, &a_addr, &b_addr);

    // Both nodes: every family the exporter has and the dashboard queries.
    for (i, want, peer) in [(0, 2.0, &b_addr), (1, 1.0, &a_addr)] {
        let s = wait_metrics(&c, i, "its state and the link up", |s| {
            vip_state(s) == Some(want)
                && value(s, "baton_link_up", &[("peer", peer)]) == Some(1.0)
                && value(s, "baton_peer_config_match", &[("peer", peer)]).is_some()
        });
        for name in EXPORTER.iter().chain(DASHBOARD) {
            assert!(s.contains_key(*name), "{}: {name} missing", c.d(i).name);
        }
        assert_eq!(value(&s, "keepalived_up", &[]), Some(1.0));
        assert_eq!(
            value(&s, "keepalived_script_status", &[("name", "chk")]),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "baton_peer_config_match", &[("peer", peer)]),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "baton_instance_priority", &[("iname", "VI_1")]),
            Some(if i == 0 { 150.0 } else { 100.0 })
        );
        let intf = &s["keepalived_advertisements_sent_total"].1[0].labels;
        assert_eq!(intf.get("intf").map(String::as_str), Some("eth0"));
    }
    let a = wait_metrics(&c, 0, "b's own report of VI_1", |s| {
        value(
            s,
            "baton_peer_instance_state",
            &[("peer", &b_addr), ("iname", "VI_1")],
        ) == Some(1.0)
    });

    // Counters rise: a sends, b receives.
    let (sent, received) = (
        counter(&a, "keepalived_advertisements_sent_total"),
        counter(&metrics(&c, 1), "keepalived_advertisements_received_total"),
    );
    wait_metrics(&c, 0, "more adverts sent", |s| {
        counter(s, "keepalived_advertisements_sent_total") >= sent + 10.0
            && counter(s, "keepalived_advert_sent") >= sent + 10.0
    });
    wait_metrics(&c, 1, "more adverts received", |s| {
        counter(s, "keepalived_advertisements_received_total") >= received + 10.0
    });

    // /status is `baton status --json`, for what does not move between the two reads.
    for i in [0, 1] {
        let r = get(&c.net, &c.d(i).ns, local(9165), "/status");
        assert_eq!(
            (r.code, r.header("content-type")),
            (200, Some("application/json"))
        );
        let web: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
        let cli = c.d(i).status();
        for key in [
            "router_id",
            "config_file",
            "config_digest",
            "pid",
            "groups",
            "tracks",
        ] {
            assert_eq!(web[key], cli[key], "{key}");
        }
        assert_eq!(web["link"]["fingerprint"], cli["link"]["fingerprint"]);
        let stable = |v: &serde_json::Value| {
            let i = &v["instances"][0];
            [
                "name",
                "state",
                "interface",
                "vrid",
                "version",
                "priority",
                "effective_priority",
                "master",
                "virtual_addresses",
                "operator",
            ]
            .map(|k| i[k].clone())
        };
        assert_eq!(stable(&web), stable(&cli));
        let page = get(&c.net, &c.d(i).ns, local(9165), "/");
        assert_eq!(page.code, 200);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let head = request(&c.net, &c.d(i).ns, local(9165), "HEAD", "/metrics");
        assert_eq!(head.code, 200);
        assert!(
            head.header("content-length")
                .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 1000))
        );
    }

    // Demoted, a leaves MASTER and b takes over: both count it, under both names.
    let before_b = counter(&metrics(&c, 1), "keepalived_become_master_total");
    assert_eq!(before_b, 0.0);
    c.d(0).cli(&["demote", "VI_1"]);
    c.d(1).wait_state("VI_1", "MASTER");
    let b = wait_metrics(&c, 1, "b MASTER, counted", |s| {
        vip_state(s) == Some(2.0) && counter(s, "keepalived_become_master_total") == 1.0
    });
    assert_eq!(
        value(
            &b,
            "keepalived_become_master",
            &[("iname", "VI_1"), ("state", "MASTER")]
        ),
        Some(1.0)
    );
    let a = wait_metrics(&c, 0, "a BACKUP, its release counted", |s| {
        vip_state(s) == Some(1.0) && counter(s, "keepalived_release_master_total") == 1.0
    });
    assert_eq!(counter(&a, "keepalived_become_master_total"), 1.0);
    let why = [("iname", "VI_1"), ("from", "MASTER"), ("to", "BACKUP")];
    assert_eq!(value(&a, "baton_last_transition_info", &why), Some(1.0));
    let demoted = [("iname", "VI_1"), ("override", "demoted")];
    assert_eq!(
        value(&a, "baton_instance_operator_override", &demoted),
        Some(1.0)
    );

    // Released, a preempts back: its second MASTER, b's first release.
    c.d(0).cli(&["release", "VI_1"]);
    c.d(0).wait_state("VI_1", "MASTER");
    wait_metrics(&c, 0, "a MASTER again", |s| {
        vip_state(s) == Some(2.0) && counter(s, "keepalived_become_master_total") == 2.0
    });
    wait_metrics(&c, 1, "b's release", |s| {
        vip_state(s) == Some(1.0) && counter(s, "keepalived_release_master_total") == 1.0
    });
}

/// Sends `bytes` to a's server and returns the status code of the answer.
fn code_for(c: &Cluster, bytes: Vec<u8>) -> u16 {
    let raw = client::exchange(
        &c.net,
        &c.d(0).ns,
        local(9165),
        bytes,
        Duration::from_secs(8),
    )
    .expect("exchange");
    client::parse_response(&raw)
        .map(|r| r.code)
        .unwrap_or_else(|| panic!("no answer: {:?}", String::from_utf8_lossy(&raw)))
}

#[test]
fn bad_input_gets_http_errors_and_vrrp_keeps_its_timing() {
    let mut c = Cluster::new("web_abuse", 2);
    let a = c.start_baton("a", 0, &conf("a", "", &[&Inst::new(150, "BACKUP")]), HTTP);
    c.d(a).wait_state("VI_1", "MASTER");
    let b = c.start("b", 1, &conf("b", "", &[&Inst::new(100, "BACKUP")]));
    c.d(b).wait_state("VI_1", "BACKUP");
    metrics(&c, a);
    let pid = c.d(a).pid().as_raw();
    let rss_before = rss_kib(pid);
    let t0 = Instant::now();
    let rx0 = c.d(b).counter("VI_1", "adverts_received");

    // Each kind of bad request gets its own error.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: {}\r\n\r\n",
        "c".repeat(16 << 10)
    );
    assert_eq!(code_for(&c, big.into_bytes()), 431);
    let mut many = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for n in 0..70 {
        many.push_str(&format!("X-{n}: {n}\r\n"));
    }
    assert_eq!(code_for(&c, format!("{many}\r\n").into_bytes()), 431);
    let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "x".repeat(4000));
    assert_eq!(code_for(&c, long.into_bytes()), 414);
    for bad in [
        "GET / HTTP/1.1\r\nHost a\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        "\x16\x03\x01\x00\x05hello",
    ] {
        assert_eq!(code_for(&c, bad.as_bytes().to_vec()), 400, "{bad:?}");
    }
    let post = request(&c.net, &c.d(a).ns, local(9165), "POST", "/metrics");
    assert_eq!((post.code, post.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(get(&c.net, &c.d(a).ns, local(9165), "/nothing").code, 404);
    assert_eq!(code_for(&c, b"GET / HTTP/2.0\r\n\r\n".to_vec()), 505);

    // Slowloris: one byte a second is cut off at the head deadline (5 s), while another
    // client is served at once.
    let slow = c.net.spawn(&c.d(a).ns, move || {
        let mut s = TcpStream::connect(local(9165)).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(900)))
            .expect("timeout");
        let start = Instant::now();
        let mut got = Vec::new();
        for byte in b"GET /metrics HTTP/1.1\r\nHost: slow\r\nX-Slow: "
            .iter()
            .cycle()
            .take(30)
        {
            use std::io::{Read, Write};
            if s.write_all(&[*byte]).is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            if !got.is_empty() {
                break;
            }
        }
        (start.elapsed(), got)
    });
    std::thread::sleep(Duration::from_millis(1500));
    let asked = Instant::now();
    let r = get(&c.net, &c.d(a).ns, local(9165), "/metrics");
    let took = asked.elapsed();
    assert_eq!(r.code, 200);
    assert!(
        took < Duration::from_secs(1),
        "served in {took:?} beside a slow client"
    );
    let (lasted, got) = slow.join().expect("slow client");
    println!("slow client cut after {lasted:?}; another scrape took {took:?}");
    assert!(
        lasted >= Duration::from_secs(4) && lasted < Duration::from_secs(8),
        "slow client lasted {lasted:?}"
    );
    let got = String::from_utf8_lossy(&got).into_owned();
    assert!(got.is_empty() || got.starts_with("HTTP/1.1 408 "), "{got}");

    // 200 connections at once: 64 held, the rest refused at once; memory comes back.
    let rss_flood = [flood(&c, pid), flood(&c, pid)];
    let rss_after = rss_kib(pid);
    println!("VmRSS KiB: before {rss_before}, during floods {rss_flood:?}, after {rss_after}");
    assert!(
        rss_flood.iter().all(|&r| r < rss_before + 4096),
        "{rss_flood:?}"
    );
    assert!(rss_after < rss_before + 2048, "{rss_before} -> {rss_after}");

    // All the while: the adverts reached b on time and b never took over.
    let elapsed = t0.elapsed().as_secs_f64();
    let rx = c.d(b).counter("VI_1", "adverts_received") - rx0;
    let expected = elapsed / 0.1;
    println!("b received {rx} adverts in {elapsed:.1} s ({expected:.0} expected)");
    assert!(
        rx as f64 >= expected * 0.9 - 2.0,
        "{rx} adverts in {elapsed:.1} s"
    );
    c.assert_state(b, "VI_1", "BACKUP");
    assert_eq!(c.d(b).counter("VI_1", "became_master"), 0);
    assert!(
        !c.d(b)
            .transitions("VI_1")
            .iter()
            .any(|(_, to)| to == "MASTER")
    );
    c.assert_state(a, "VI_1", "MASTER");
}

/// Opens 200 connections to a's server at once: checks 64 are held and the others get
/// 503 (or are closed) at once, that a new client is refused while they hold, and that
/// the server serves again once they close. Returns a's VmRSS while they were open.
fn flood(c: &Cluster, pid: i32) -> u64 {
    let (held, refused_now) = c.net.run(&c.d(0).ns, move || {
        use std::io::Read;
        let socks: Vec<TcpStream> = (0..200)
            .map(|_| TcpStream::connect(local(9165)).expect("connect"))
            .collect();
        // The refusals are written at accept: poll until the 136 have come (or 3 s, well
        // before the held ones' 5 s head deadline).
        let mut open: Vec<TcpStream> = socks;
        let mut refused = 0;
        let start = Instant::now();
        while refused < 136 && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(100));
            let mut still = Vec::new();
            for mut s in open {
                s.set_nonblocking(true).expect("nonblocking");
                let mut buf = [0u8; 512];
                match s.read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => still.push(s),
                    Ok(0) | Err(_) => refused += 1,
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buf[..n]);
                        assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
                        refused += 1;
                    }
                }
            }
            open = still;
        }
        let held = open;
        (held, refused)
    });
    let rss = rss_kib(pid);
    println!("flood: {} held, {refused_now} refused", held.len());
    assert_eq!(held.len(), 64);
    assert_eq!(refused_now, 136);
    let busy = get(&c.net, &c.d(0).ns, local(9165), "/metrics");
    assert_eq!((busy.code, busy.header("retry-after")), (503, Some("1")));
    drop(held);
    wait_for(DEADLINE, "served again after the flood", || {
        get(&c.net, &c.d(0).ns, local(9165), "/metrics").code == 200
    });
    rss
}

/// Holds `addr` in namespace `ns` until the returned sender is dropped.
fn hold_port(c: &Cluster, ns: &str, addr: SocketAddr) -> std::sync::mpsc::Sender<()> {
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let (stop, stop_rx) = std::sync::mpsc::channel::<()>();
    c.net.spawn(ns, move || {
        let l = TcpListener::bind(addr).expect("hold the port");
        let _ = ready_tx.send(());
        let _ = stop_rx.recv();
        drop(l);
    });
    ready.recv().expect("port held");
    stop
}

fn reload(c: &Cluster, i: usize, baton: &str, what: &str) {
    let path = c.d(i).baton_conf.clone().expect("a baton file");
    let marker = c.d(i).log_text().len();
    std::fs::write(&path, baton).expect("rewrite baton.conf");
    c.d(i).signal(Signal::SIGHUP);
    wait_for(DEADLINE, what, || {
        c.d(i).log_text()[marker..].contains(what)
    });
}

fn served(c: &Cluster, ns: &str, at: SocketAddr) -> bool {
    !refused(&c.net, ns, at) && get(&c.net, ns, at, "/metrics").code == 200
}

#[test]
fn listens_on_localhost_unless_told_and_a_reload_rebinds_or_keeps_it() {
    let mut c = Cluster::new("web_listen", 2);
    let (ns_a, ns_b) = (c.net.node(0).ns.clone(), c.net.node(1).ns.clone());
    let a = c.start_baton("a", 0, &conf("a", "", &[&Inst::new(150, "BACKUP")]), HTTP);
    c.d(a).wait_state("VI_1", "MASTER");
    // b's port is taken when it starts: it runs, without a server, and says so.
    let held = hold_port(&c, &ns_b, local(9165));
    let b = c.start_baton("b", 1, &conf("b", "", &[&Inst::new(100, "BACKUP")]), HTTP);
    c.d(b).wait_log("baton runs without its HTTP server");
    c.d(b).wait_state("VI_1", "BACKUP");
    let a_v4 = SocketAddr::from((c.net.node(0).v4, 9165));
    let a_v6 = SocketAddr::from((c.net.node(0).v6, 9165));

    // By default: this host only.
    wait_for(DEADLINE, "a serving on 127.0.0.1", || {
        served(&c, &ns_a, local(9165))
    });
    assert!(
        refused(&c.net, &ns_a, a_v4),
        "listening on the node's address"
    );
    assert!(
        refused(&c.net, &ns_b, a_v4),
        "reachable from the other node"
    );

    // More addresses, IPv6 among them: reachable from b; 127.0.0.1 stays.
    let more = "http {\n    listen 127.0.0.1\n    listen 10.0.0.1\n    listen fd00::1\n}\n";
    reload(&c, a, more, "http: now serving on");
    assert!(served(&c, &ns_b, a_v4));
    assert!(served(&c, &ns_b, a_v6));
    assert!(served(&c, &ns_a, local(9165)));

    // Another port: the old one closes.
    reload(
        &c,
        a,
        "http {\n    port 9200\n}\n",
        "http: now serving on 127.0.0.1:9200",
    );
    assert!(served(&c, &ns_a, local(9200)));
    assert!(refused(&c.net, &ns_a, local(9165)));
    assert!(refused(&c.net, &ns_b, a_v4));

    // A port someone else holds: the running server stays as it was.
    let taken = hold_port(&c, &ns_a, local(9300));
    reload(
        &c,
        a,
        "http {\n    port 9300\n}\n",
        "http settings not applied",
    );
    assert!(
        c.d(a)
            .log_text()
            .contains("the server stays on 127.0.0.1:9200")
    );
    assert!(served(&c, &ns_a, local(9200)));
    drop(taken);

    // No block: no server; the block back: served again.
    reload(&c, a, "", "the server is stopped");
    wait_for(DEADLINE, "9200 closed", || {
        refused(&c.net, &ns_a, local(9200))
    });
    reload(&c, a, HTTP, "http: serving");
    assert!(served(&c, &ns_a, local(9165)));

    // b: once the port is free, a reload starts its server.
    drop(held);
    wait_for(DEADLINE, "b's port free", || {
        refused(&c.net, &ns_b, local(9165))
    });
    reload(&c, b, HTTP, "http: serving");
    assert!(served(&c, &ns_b, local(9165)));

    // None of it moved VRRP.
    c.assert_state(a, "VI_1", "MASTER");
    c.assert_state(b, "VI_1", "BACKUP");
    assert_eq!(c.d(b).counter("VI_1", "became_master"), 0);
}
