//! Feeds arbitrary bytes to the link's frame decoder and to a session, checking neither
//! panics and that a session whose peer is not trusted never sends it a Status.
//!
//! Input layout: byte 0 picks the mode (bit 0: the peer is trusted; bit 1: a valid peer
//! Hello goes first), byte 1 the chunk size, then the stream. The decoder alone takes the
//! stream in chunks of that size; the session reads it as repeated `u16 milliseconds |
//! chunk`, so virtual time moves (and timers fire) between chunks.
#![no_main]

use std::time::{Duration, Instant};

use baton::link::codec::{Decoder, FrameType, LIMIT_BEFORE_TRUST, LIMIT_TRUSTED, encode};
use baton::link::message::{Hello, Status, VERSIONS};
use baton::link::session::{Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

const PEER_FP: &str = "BB:44";

fn hello(fp: &str) -> Hello {
    Hello {
        versions: VERSIONS,
        node_id: "fuzz".into(),
        fingerprint: fp.into(),
        baton_version: "0".into(),
        capabilities: vec![],
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, chunk, rest @ ..] = data else {
        return;
    };
    let trusted = mode & 1 != 0;
    let chunk = usize::from(*chunk).max(1);

    let mut d = Decoder::new(if trusted {
        LIMIT_TRUSTED
    } else {
        LIMIT_BEFORE_TRUST
    });
    for piece in rest.chunks(chunk) {
        d.push(piece);
        while let Ok(Some(_)) = d.next_frame() {}
    }
    let _ = d.finish();

    let mut now = Instant::now();
    let mut s = Session::new(now, SessionConfig::new(hello("AA:11"), PEER_FP.into()));
    s.set_local_status(Status::default());
    if mode & 2 != 0 {
        let body = format!(
            r#"{{"versions":{{"min":1,"max":1}},"node_id":"p","fingerprint":"{PEER_FP}","baton_version":"0"}}"#
        );
        let mut frame = Vec::new();
        let _ = encode(&mut frame, FrameType::Hello, 0, body.as_bytes());
        s.handle_bytes(now, &frame);
    }
    s.set_trusted(trusted);
    let mut out = Vec::new();
    let mut input = rest;
    while let [a, b, tail @ ..] = input {
        now += Duration::from_millis(u64::from(u16::from_be_bytes([*a, *b])));
        let (piece, tail) = tail.split_at(chunk.min(tail.len()));
        s.handle_bytes(now, piece);
        s.handle_timeout(now);
        while let Some(bytes) = s.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        while s.poll_event().is_some() {}
        input = tail;
    }
    s.handle_eof();
    if !trusted {
        let mut sent = Decoder::new(LIMIT_TRUSTED);
        sent.push(&out);
        while let Ok(Some(f)) = sent.next_frame() {
            assert_ne!(
                f.kind,
                FrameType::Status,
                "status sent to an untrusted peer"
            );
        }
    }
});
