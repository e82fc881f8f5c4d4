use proptest::prelude::*;

use super::*;

fn complete(text: &str) -> (Request<'_>, usize) {
    match parse(text.as_bytes()) {
        Parse::Complete { request, len } => (request, len),
        other => panic!("{text:?}: {other:?}"),
    }
}

fn rejected(bytes: &[u8]) -> u16 {
    match parse(bytes) {
        Parse::Reject(r) => r.code(),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
    }
}

#[test]
fn a_scrape_and_a_browser_request_parse() {
    let scrape = "GET /metrics HTTP/1.1\r\nHost: 10.0.0.1:9165\r\nUser-Agent: Prometheus/2.53.0\r\nAccept: text/plain;version=0.0.4;q=1\r\nAccept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n";
    let (r, len) = complete(scrape);
    assert_eq!(len, scrape.len());
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.path, "/metrics");
    assert!(r.keep_alive);
    let (r, _) = complete("HEAD /?refresh=1 HTTP/1.1\r\nhost: x\r\nConnection: Close\r\n\r\n");
    assert_eq!((r.method, r.path, r.keep_alive), (Method::Head, "/", false));
    // HTTP/1.0: closes unless asked otherwise; Host not required; bare LF accepted.
    let (r, _) = complete("GET /status HTTP/1.0\n\n");
    assert_eq!((r.path, r.keep_alive), ("/status", false));
    let (r, _) = complete("GET /status HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert!(r.keep_alive);
    let (r, _) = complete("GET http://10.0.0.1:9165/metrics HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.path, "/metrics");
    let (r, _) = complete("GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.path, "/metrics");
}

#[test]
fn what_follows_the_head_is_left_for_the_next_request() {
    let two = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /status HTTP/1.1\r\nHost: a\r\n\r\n";
    let (r, len) = complete(two);
    assert_eq!(r.path, "/");
    let (r, _) = complete(&two[len..]);
    assert_eq!(r.path, "/status");
}

#[test]
fn an_unfinished_head_asks_for_more_at_every_length() {
    let head = "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
    for n in 0..head.len() {
        assert_eq!(parse(&head.as_bytes()[..n]), Parse::Partial, "{n}");
    }
}

#[test]
fn malformed_heads_get_400() {
    for bad in [
        "GET\r\n\r\n",
        "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET metrics HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nName : value\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "hello\r\n\r\n",
    ] {
        assert_eq!(rejected(bad.as_bytes()), 400, "{bad:?}");
    }
    // A TLS handshake is refused at once, without waiting for a line.
    assert_eq!(
        rejected(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        400
    );
    // A lone CR is refused as soon as the byte after it shows.
    assert_eq!(rejected(b"GET / HTTP/1.1\rX"), 400);
}

#[test]
fn other_methods_get_405_and_other_versions_505() {
    for m in [
        "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "get",
    ] {
        let text = format!("{m} /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n");
        assert_eq!(rejected(text.as_bytes()), 405, "{m}");
    }
    assert_eq!(rejected(b"GET / HTTP/2.0\r\n\r\n"), 505);
    assert_eq!(rejected(b"GET / HTTP/0.9\r\n\r\n"), 505);
    assert_eq!(rejected(b"GET / HTTX/1.1\r\n\r\n"), 400);
}

#[test]
fn oversized_heads_are_refused_as_soon_as_they_show() {
    // A long target: 414 once the request line passes its limit, before its end.
    let long = format!("GET /{} HTTP/1.1", "a".repeat(REQUEST_LINE_MAX));
    assert_eq!(rejected(long.as_bytes()), 414);
    let exact = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(2000));
    assert!(exact.find("\r\n").unwrap() < REQUEST_LINE_MAX);
    complete(&exact);
    // 65 header lines: 431 at the 65th, the head not finished.
    let mut many = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
    for i in 0..HEADERS_MAX {
        many.push_str(&format!("X-{i}: 1\r\n"));
    }
    assert_eq!(rejected(many.as_bytes()), 431);
    // One huge header: 431 once 8 KiB have come without the end of the head.
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: {}",
        "c".repeat(HEAD_MAX)
    );
    assert_eq!(rejected(&huge.as_bytes()[..HEAD_MAX]), 431);
    assert_eq!(parse(&huge.as_bytes()[..HEAD_MAX - 1]), Parse::Partial);
    // A head of exactly the limit passes, one byte more does not.
    let fill = |n: usize| {
        let base = "GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n".len();
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(n - base)
        )
    };
    assert_eq!(fill(HEAD_MAX).len(), HEAD_MAX);
    complete(&fill(HEAD_MAX));
    assert_eq!(rejected(fill(HEAD_MAX + 1).as_bytes()), 431);
}

#[test]
fn reject_codes_and_texts() {
    for (r, code) in [
        (Reject::BadRequest("x"), 400),
        (Reject::MethodNotAllowed, 405),
        (Reject::UriTooLong, 414),
        (Reject::HeadTooLarge, 431),
        (Reject::VersionNotSupported, 505),
    ] {
        assert_eq!(r.code(), code);
        assert!(!r.text().is_empty());
    }
}

proptest! {
    /// Any bytes: an answer, never a panic, and a complete head within the limit.
    #[test]
    fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Parse::Complete { len, .. } = parse(&bytes) {
            prop_assert!(len <= bytes.len() && len <= HEAD_MAX);
        }
    }

    /// A valid head cut anywhere and mutated in one byte still gets an answer.
    #[test]
    fn mutated_heads_parse_without_panic(at in 0usize..60, byte in any::<u8>(), cut in 0usize..60) {
        let mut head = b"GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n".to_vec();
        if let Some(b) = head.get_mut(at) {
            *b = byte;
        }
        head.truncate(cut.max(1));
        let _ = parse(&head);
    }
}
