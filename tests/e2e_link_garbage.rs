//! End-to-end: bad input on the link's port. Plain garbage from a peer's address and
//! from an address that is no peer, and well-encrypted but bad frames from a client with
//! a key nobody approved (built on baton's own identity, TLS configs and codec): each is
//! refused, counted in `baton status`, and its connection closed; the linked pair stays
//! linked and VRRP goes on at its interval (the backup's advert counter keeps growing,
//! nobody changes state).
//!
//! Node a is 10.0.0.1 (master, the target), b 10.0.0.2 (backup, a's peer), node 2
//! (10.0.0.3) a stranger that runs no baton.

mod common;
mod e2e;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use baton::link::codec::{FrameType, LIMIT_BEFORE_TRUST, encode};
use baton::link::identity::Identity;
use baton::link::message::{Hello, VERSIONS};
use baton::link::tls::{client_config, server_name};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use e2e::link::{LINK_PORT, approve_each_other, refused_total, start_linked, wait_until};
use e2e::{Cluster, DEADLINE, Inst};

const A: &str = "10.0.0.1";
const B: &str = "10.0.0.2";

/// Runs `count` plain-TCP clients from `ns` that each write garbage to a's link port and
/// then wait for a to close the connection; how many were closed within 10 s.
fn raw_garbage(c: &Cluster, ns: &str, count: u32) -> u32 {
    // A server that closes at once makes the write fail (EPIPE): ignore SIGPIPE so the
    // loop goes on; a connection counts as closed when `cat` ends (EOF or reset) before
    // `timeout` kills it (status 124).
    let script = format!(
        "trap '' PIPE; n=0; for i in $(seq {count}); do \
           exec 3<>/dev/tcp/{A}/{LINK_PORT} || continue; \
           printf 'GET / HTTP/1.0\\r\\n\\r\\n\\x00\\xff\\xff\\xff\\xff' >&3 2>/dev/null; \
           timeout 10 cat <&3 >/dev/null 2>&1; [ $? -ne 124 ] && n=$((n+1)); exec 3<&-; \
         done; echo $n"
    );
    let out = c.net.exec(ns, "bash", &["-c", &script]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("garbage client: {out:?}"))
}

/// What a client with its own (unapproved) key sends after the TLS handshake.
#[derive(Debug, Clone, Copy)]
enum Attack {
    /// A frame whose length is over the limit for an untrusted peer.
    Oversized,
    /// A frame type no version defines, in place of the Hello.
    UnknownType,
    /// The same after the Hello: the agreed version does not have it either.
    UnknownTypeAfterHello,
    /// A Hello whose body is not JSON.
    BadJson,
    /// Half a frame, then the end of the stream.
    Truncated,
}

fn hello(id: &Identity) -> Vec<u8> {
    let h = Hello {
        versions: VERSIONS,
        node_id: id.node_id().to_string(),
        fingerprint: id.fingerprint().to_string(),
        baton_version: "0.0.0-test".into(),
        capabilities: Vec::new(),
    };
    let mut out = Vec::new();
    let body = serde_json::to_vec(&h).expect("hello json");
    encode(&mut out, FrameType::Hello, 0, &body).expect("encode hello");
    out
}

/// One TLS connection to a from the current namespace with `id`'s key, sending `attack`;
/// whether a closed the connection within 10 s.
async fn tls_attack(id_dir: PathBuf, attack: Attack) -> bool {
    let (id, _) = Identity::load_or_create(&id_dir).expect("client identity");
    let (config, _) = client_config(&id, None).expect("client config");
    let a: IpAddr = IpAddr::V4(A.parse::<Ipv4Addr>().expect("addr"));
    let tcp = tokio::net::TcpStream::connect((a, LINK_PORT))
        .await
        .expect("connect to a");
    let Ok(mut tls) = tokio_rustls::TlsConnector::from(config)
        .connect(server_name(a), tcp)
        .await
    else {
        // Refused in the handshake: closed, which is what is asked.
        return true;
    };
    let mut bytes = match attack {
        Attack::BadJson | Attack::UnknownType => Vec::new(),
        _ => hello(&id),
    };
    match attack {
        Attack::Oversized => {
            bytes.extend_from_slice(&(LIMIT_BEFORE_TRUST + 1000).to_be_bytes());
            bytes.extend_from_slice(&[0, 3, 0, 0]);
            bytes.extend_from_slice(&[b'x'; 256]);
        }
        Attack::UnknownType | Attack::UnknownTypeAfterHello => {
            encode(&mut bytes, FrameType::Unknown(999), 0, b"{}").expect("encode");
        }
        Attack::BadJson => {
            encode(&mut bytes, FrameType::Hello, 0, b"{not json").expect("encode");
        }
        Attack::Truncated => {
            bytes.extend_from_slice(&100u32.to_be_bytes());
            bytes.extend_from_slice(&[0, 3, 0, 0, b'{']);
        }
    }
    if tls.write_all(&bytes).await.is_err() {
        return true;
    }
    let _ = tls.flush().await;
    if matches!(attack, Attack::Truncated) {
        let _ = tls.shutdown().await;
    }
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[test]
fn garbage_and_strangers_are_refused_counted_closed_and_vrrp_keeps_its_interval() {
    let mut c = Cluster::new("link_garbage", 3);
    let a = start_linked(&mut c, "a", 0, &Inst::new(150, "BACKUP"), &[1], &[]);
    let b = start_linked(&mut c, "b", 1, &Inst::new(100, "BACKUP"), &[0], &[]);
    c.d(a).wait_state("VI_1", "MASTER");
    c.d(b).wait_state("VI_1", "BACKUP");
    approve_each_other(&c, a, b, A, B);
    let a_trans = c.d(a).transitions("VI_1");
    let b_trans = c.d(b).transitions("VI_1");
    let adverts0 = c.d(b).counter("VI_1", "adverts_received");
    let t0 = Instant::now();

    // Plain garbage from the peer's own address: refused and closed, counted on b's row.
    let b_ns = c.net.node(1).ns.clone();
    let on_b_row = |c: &Cluster| {
        let row = c.d(a).peer_row(B).unwrap_or_default();
        refused_total(&json!({"peers": [row]}))
    };
    let no_peer = |c: &Cluster| refused_total(&json!({"refused": c.d(a).link_view()["refused"]}));
    let row0 = on_b_row(&c);
    assert_eq!(raw_garbage(&c, &b_ns, 20), 20, "connections left open");
    wait_until(
        DEADLINE,
        "20 refusals on b's row",
        || on_b_row(&c) >= row0 + 20,
        || format!("{:#}", c.d(a).link_view()),
    );

    // From an address that is no peer: refused before TLS, counted as no peer's.
    let stranger = c.net.node(2).ns.clone();
    let top0 = no_peer(&c);
    assert_eq!(
        raw_garbage(&c, &stranger, 5),
        5,
        "stranger's connections left open"
    );
    wait_until(
        DEADLINE,
        "5 refusals of the stranger",
        || no_peer(&c) >= top0 + 5,
        || format!("{:#}", c.d(a).link_view()),
    );

    // Bad frames inside TLS from b's address with a key of its own.
    let id_dir = c.path("rogue-identity");
    for attack in [
        Attack::Oversized,
        Attack::UnknownType,
        Attack::UnknownTypeAfterHello,
        Attack::BadJson,
        Attack::Truncated,
    ] {
        let before = refused_total(&c.d(a).link_view());
        let dir = id_dir.clone();
        let closed = c
            .net
            .run_async(&b_ns, move || async move { tls_attack(dir, attack).await });
        assert!(closed, "{attack:?}: a kept the connection open");
        wait_until(
            DEADLINE,
            &format!("{attack:?} counted"),
            || refused_total(&c.d(a).link_view()) > before,
            || format!("{:#}", c.d(a).link_view()),
        );
    }
    // Logged once per peer and cause, however many connections.
    let log = c.d(a).log_text();
    let lines = |who: &str, cause: &str| {
        log.lines()
            .filter(|l| l.contains(who) && l.contains(cause))
            .count()
    };
    assert_eq!(lines("10.0.0.2", "handshake"), 1, "{log}");
    assert_eq!(lines("10.0.0.3", "peer"), 1, "{log}");
    eprintln!("a's refusals: {:#}", c.d(a).link_view()["refused"]);
    eprintln!("b's row on a: {:#}", c.d(a).peer_row(B).expect("row"));

    // Through all of it: still linked, nobody moved, adverts at their interval.
    c.d(b).hear_adverts("VI_1", 10);
    let rate =
        (c.d(b).counter("VI_1", "adverts_received") - adverts0) as f64 / t0.elapsed().as_secs_f64();
    eprintln!("FIGURE adverts received by b during the garbage: {rate:.1}/s (advert_int 0.1)");
    // The rogue key came from b's address: b's row must still show b, linked.
    let fb = c.d(b).fingerprint();
    let row = c.d(a).peer_row(B).expect("b's row");
    assert_eq!(row["link"], "up", "{row:#}\n{}", c.all_logs());
    assert_eq!(row["fingerprint"], fb.as_str(), "{row:#}");
    assert_eq!(
        c.d(a).peer_reports(B, "VI_1").as_deref(),
        Some("BACKUP"),
        "{row:#}"
    );
    assert_eq!(
        c.d(b).link_state(A).as_deref(),
        Some("up"),
        "{}",
        c.all_logs()
    );
    assert_eq!(c.d(a).transitions("VI_1"), a_trans, "{}", c.all_logs());
    assert_eq!(c.d(b).transitions("VI_1"), b_trans, "{}", c.all_logs());
    assert!(
        c.dm(a).is_running() && c.dm(b).is_running(),
        "a daemon died"
    );
}
