//! What the server answers, as values: [`respond`] maps a path and the latest status
//! snapshot to an [`Answer`], [`reject`] a refused request, and [`head`] writes the
//! status line and headers of either. No I/O; the driver only moves the bytes.
//!
//! Three pages: `/metrics` (Prometheus text), `/status` (the JSON `baton status --json`
//! prints) and `/` (the status page). Before the engine's first snapshot every one is
//! 503. Every answer has a Content-Length; none may be cached.

use std::fmt::Write as _;

use crate::control::Status;

use super::metrics::{self, NodeFacts};
use super::request::Reject;

/// The pages, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Page {
    Metrics,
    Status,
    Index,
}

impl Page {
    pub fn of(path: &str) -> Option<Page> {
        match path {
            "/metrics" => Some(Page::Metrics),
            "/status" => Some(Page::Status),
            "/" => Some(Page::Index),
            _ => None,
        }
    }
}

/// An answer, before its head is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: u16,
    pub content_type: &'static str,
    /// The body, in pieces written one after the other.
    pub body: Vec<Vec<u8>>,
}

impl Answer {
    /// The body's length, for Content-Length.
    pub fn len(&self) -> usize {
        self.body.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body in one piece.
    pub fn bytes(&self) -> Vec<u8> {
        self.body.concat()
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

fn text(code: u16, line: &str) -> Answer {
    Answer {
        code,
        content_type: TEXT,
        body: vec![format!("{line}\n").into_bytes()],
    }
}

/// The answer for a GET (or HEAD) of `path`. `status`: the latest snapshot, `None`
/// until the engine has published one.
pub fn respond(path: &str, status: Option<&Status>, facts: &NodeFacts) -> Answer {
    let Some(page) = Page::of(path) else {
        return text(404, "not found: try /, /metrics or /status");
    };
    let Some(status) = status else {
        return text(503, "baton is starting: no status yet");
    };
    render(page, status, facts)
}

/// A page for a snapshot (what the driver keeps until the next snapshot).
pub fn render(page: Page, status: &Status, facts: &NodeFacts) -> Answer {
    match page {
        Page::Metrics => Answer {
            code: 200,
            content_type: metrics::CONTENT_TYPE,
            body: (metrics::render_pieces(status, facts).into_iter())
                .map(String::into_bytes)
                .collect(),
        },
        // As `baton status --json` prints it: pretty, with a final newline.
        Page::Status => match serde_json::to_vec_pretty(status) {
            Ok(mut body) => {
                body.push(b'\n');
                Answer {
                    code: 200,
                    content_type: "application/json",
                    body: vec![body],
                }
            }
            Err(e) => text(500, &format!("status could not be written: {e}")),
        },
        Page::Index => Answer {
            code: 200,
            content_type: "text/html; charset=utf-8",
            body: vec![super::page::render(status).into_bytes()],
        },
    }
}

/// The answer to a refused request head.
pub fn reject(r: Reject) -> Answer {
    text(r.code(), r.text())
}

/// The answer when the head did not arrive in time.
pub fn timeout() -> Answer {
    text(408, "the request head did not arrive in time")
}

/// The answer when every connection slot is taken.
pub fn busy() -> Answer {
    text(503, "too many connections; try again")
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// The status line and headers for `answer`. `close`: the connection ends after it.
pub fn head(answer: &Answer, close: bool) -> String {
    let mut h = String::with_capacity(256);
    let _ = write!(
        h,
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        answer.code,
        reason(answer.code),
        answer.content_type,
        answer.len()
    );
    match answer.code {
        405 => h.push_str("Allow: GET, HEAD\r\n"),
        503 => h.push_str("Retry-After: 1\r\n"),
        _ => {}
    }
    h.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    h
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn status() -> Status {
        serde_json::from_str(
            r#"{"router_id":"a","config_file":"/x","config_digest":"0","pid":1,"uptime_ms":0,"instances":[],"groups":[],"tracks":[]}"#,
        )
        .unwrap()
    }

    #[test]
    fn pages_by_path_503_before_the_first_snapshot_404_elsewhere() {
        let st = status();
        let f = NodeFacts::default();
        let m = respond("/metrics", Some(&st), &f);
        assert_eq!((m.code, m.content_type), (200, metrics::CONTENT_TYPE));
        assert!(
            String::from_utf8(m.bytes())
                .unwrap()
                .contains("keepalived_up 1\n")
        );
        let s = respond("/status", Some(&st), &f);
        assert_eq!((s.code, s.content_type), (200, "application/json"));
        let back: Status = serde_json::from_slice(&s.bytes()).unwrap();
        assert_eq!(back, st);
        assert!(s.bytes().ends_with(b"}\n"));
        let p = respond("/", Some(&st), &f);
        assert_eq!(p.code, 200);
        assert!(p.content_type.starts_with("text/html"));
        for path in ["/metrics", "/status", "/"] {
            assert_eq!(respond(path, None, &f).code, 503, "{path}");
        }
        for path in ["/metrics/", "/Metrics", "/status.json", "/index.html", ""] {
            assert_eq!(respond(path, Some(&st), &f).code, 404, "{path}");
        }
    }

    #[test]
    fn heads_carry_length_and_connection() {
        let a = text(200, "hi");
        assert_eq!(
            head(&a, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\
             Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
             Connection: keep-alive\r\n\r\n"
        );
        let h = head(&reject(Reject::MethodNotAllowed), true);
        assert!(h.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{h}");
        assert!(h.contains("\r\nAllow: GET, HEAD\r\n"), "{h}");
        assert!(h.ends_with("\r\nConnection: close\r\n\r\n"), "{h}");
        let h = head(&busy(), true);
        assert!(
            h.starts_with("HTTP/1.1 503 Service Unavailable\r\n") && h.contains("Retry-After: 1")
        );
        assert!(head(&timeout(), true).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
        assert!(head(&reject(Reject::HeadTooLarge), true).starts_with("HTTP/1.1 431 "));
        assert!(head(&reject(Reject::UriTooLong), true).starts_with("HTTP/1.1 414 "));
    }
}
