//! Drives one link session with a script derived from the fuzz input: raw bytes in
//! arbitrary chunks, well-formed frames a peer could send (so the session reaches Up and
//! back), time moving so timers fire, our trust verdict toggled, local status and config
//! changed, end of stream. Checks that nothing panics and that the session never writes
//! a Status or ConfigSummary unless it is linked: we trust the peer, the peer's HelloAck
//! saying it trusts us has been read, and the session reported Up. Nothing may follow the
//! Close frame it writes.
//!
//! Input layout: a sequence of ops, each one byte of opcode followed by its operands (see
//! [`run`]); a truncated op ends the script.
//!
//! Without cargo-fuzz the same body runs as a normal test on a generated corpus:
//! `cargo test --manifest-path fuzz/Cargo.toml --bin link_session`.
#![cfg_attr(not(test), no_main)]

use std::time::{Duration, Instant};

use baton::link::codec::{Decoder, FrameType, LIMIT_TRUSTED, encode};
use baton::link::message::{
    Close, CloseCode, ConfigSummary, Heartbeat, HeartbeatAck, Hello, HelloAck, Status, VERSIONS,
    Verdict,
};
use baton::link::session::{Event, Session, SessionConfig};
use libfuzzer_sys::fuzz_target;

const OUR_FP: &str = "AA:11";
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

fn frame<T: serde::Serialize>(kind: FrameType, msg: &T) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(body) = serde_json::to_vec(msg) {
        let _ = encode(&mut out, kind, 0, &body);
    }
    out
}

/// What a run reached, so the test can tell a corpus that exercises the check from one
/// that never links.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reached {
    pub up: bool,
    pub status_sent: bool,
}

/// The session's observable state as the harness tracks it, independently of the
/// session's own bookkeeping.
struct Watch {
    sent: Decoder,
    /// Everything fed in, decoded on its own: once it fails the session has failed too
    /// (its limit is never higher), so it sees every frame the session acted on.
    fed: Decoder,
    /// Our latest verdict.
    trusted: bool,
    /// The peer's latest HelloAck verdict, decoded from what we fed in.
    peer_trusts_us: bool,
    /// Up reported and not yet followed by Pending or Closed.
    linked: bool,
    closed: bool,
    reached: Reached,
}

impl Watch {
    /// Drains the session after one call and checks what it wrote.
    fn after(&mut self, s: &mut Session) {
        let was_linked = self.linked;
        let mut went_up = false;
        let mut closed_now = false;
        while let Some(e) = s.poll_event() {
            match e {
                Event::Up { .. } => {
                    went_up = true;
                    self.linked = true;
                    self.reached.up = true;
                }
                Event::Pending { .. } => self.linked = false,
                Event::Closed(_) => {
                    self.linked = false;
                    closed_now = true;
                }
                _ => {}
            }
        }
        if went_up {
            assert!(self.trusted, "up without our trust");
            assert!(
                self.peer_trusts_us,
                "up without the peer's trusted HelloAck"
            );
        }
        while let Some(bytes) = s.poll_transmit() {
            assert!(!self.closed, "wrote {} bytes after its Close", bytes.len());
            self.sent.push(&bytes);
        }
        // The session's own output is always well framed.
        loop {
            let f = match self.sent.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => panic!("session wrote a bad frame: {e}"),
            };
            assert!(!self.closed, "{} after its Close", f.kind);
            match f.kind {
                FrameType::Status | FrameType::ConfigSummary => {
                    assert!(was_linked || went_up, "{} written while not linked", f.kind);
                    assert!(self.trusted, "{} written to a peer we do not trust", f.kind);
                    assert!(
                        self.peer_trusts_us,
                        "{} written before the peer said it trusts us",
                        f.kind
                    );
                    self.reached.status_sent = true;
                }
                FrameType::Close => self.closed = true,
                _ => {}
            }
        }
        if closed_now && !self.closed {
            // Closed because the peer went away: nothing more may be written either.
            self.closed = true;
        }
    }

    /// Notes the peer's verdicts in bytes about to be fed to the session.
    fn feed(&mut self, bytes: &[u8]) {
        self.fed.push(bytes);
        while let Ok(Some(f)) = self.fed.next_frame() {
            if f.kind == FrameType::HelloAck
                && let Ok(ack) = serde_json::from_slice::<HelloAck>(&f.body)
            {
                self.peer_trusts_us = ack.verdict == Verdict::Trusted;
            }
        }
    }
}

/// Runs one script. Opcodes (low 4 bits of the op byte; the high bits are operands):
/// 0 raw chunk (`len` byte, bytes); 1 peer Hello; 2 HelloAck (bit 4: trusted);
/// 3 heartbeat (`seq` byte); 4 heartbeat echo (`seq` byte); 5 Status; 6 ConfigSummary;
/// 7 unknown type (`type` byte); 8 Close; 9 time (`u16` ms); 10 our verdict (bit 4);
/// 11 local status (`prio` byte); 12 local config (`digest` byte); 13 end of stream;
/// 14 timeout now; 15 a valid frame split (`at` byte) across two reads.
pub fn run(data: &[u8]) -> Reached {
    let mut now = Instant::now();
    let mut s = Session::new(now, SessionConfig::new(hello(OUR_FP), PEER_FP.into()));
    let mut w = Watch {
        sent: Decoder::new(LIMIT_TRUSTED),
        fed: Decoder::new(LIMIT_TRUSTED),
        trusted: false,
        peer_trusts_us: false,
        linked: false,
        closed: false,
        reached: Reached::default(),
    };
    let ack = |verdict| {
        frame(
            FrameType::HelloAck,
            &HelloAck {
                version: VERSIONS.max,
                verdict,
            },
        )
    };
    w.after(&mut s);
    let mut input = data;
    while let [op, rest @ ..] = input {
        let flag = op & 0x10 != 0;
        let (bytes, rest): (Vec<u8>, &[u8]) = match (op & 0x0f, rest) {
            (0, [len, rest @ ..]) => {
                let (chunk, rest) = rest.split_at(usize::from(*len).min(rest.len()));
                (chunk.to_vec(), rest)
            }
            (1, rest) => (frame(FrameType::Hello, &hello(PEER_FP)), rest),
            (2, rest) => (
                ack(if flag {
                    Verdict::Trusted
                } else {
                    Verdict::Pending
                }),
                rest,
            ),
            (3, [seq, rest @ ..]) => (
                frame(
                    FrameType::Heartbeat,
                    &Heartbeat {
                        seq: u64::from(*seq),
                        sent_at_us: 0,
                    },
                ),
                rest,
            ),
            (4, [seq, rest @ ..]) => (
                frame(
                    FrameType::HeartbeatAck,
                    &HeartbeatAck {
                        seq: u64::from(*seq),
                        sent_at_us: 0,
                    },
                ),
                rest,
            ),
            (5, rest) => (frame(FrameType::Status, &Status::default()), rest),
            (6, rest) => (
                frame(FrameType::ConfigSummary, &ConfigSummary::default()),
                rest,
            ),
            (7, [kind, rest @ ..]) => {
                let mut f = Vec::new();
                let _ = encode(&mut f, FrameType::from(u16::from(*kind)), 0, b"{}");
                (f, rest)
            }
            (8, rest) => (
                frame(
                    FrameType::Close,
                    &Close {
                        code: CloseCode::Shutdown,
                        detail: String::new(),
                    },
                ),
                rest,
            ),
            (9, [a, b, rest @ ..]) => {
                now += Duration::from_millis(u64::from(u16::from_be_bytes([*a, *b])));
                s.handle_timeout(now);
                w.after(&mut s);
                input = rest;
                continue;
            }
            (10, rest) => {
                w.trusted = flag;
                s.set_trusted(flag);
                // A revocation closes; either way the verdict holds from here on.
                w.after(&mut s);
                input = rest;
                continue;
            }
            (11, [prio, rest @ ..]) => {
                let status = Status {
                    uptime_ms: u64::from(*prio),
                    ..Status::default()
                };
                s.set_local_status(status);
                w.after(&mut s);
                input = rest;
                continue;
            }
            (12, [digest, rest @ ..]) => {
                s.set_local_config(ConfigSummary {
                    digest: digest.to_string(),
                    instances: vec![],
                });
                w.after(&mut s);
                input = rest;
                continue;
            }
            (13, rest) => {
                s.handle_eof();
                w.after(&mut s);
                input = rest;
                continue;
            }
            (14, rest) => {
                s.handle_timeout(now);
                w.after(&mut s);
                input = rest;
                continue;
            }
            (15, [at, rest @ ..]) => {
                let f = if flag {
                    ack(Verdict::Trusted)
                } else {
                    frame(FrameType::Hello, &hello(PEER_FP))
                };
                let (a, b) = f.split_at(usize::from(*at).min(f.len()));
                w.feed(&f);
                s.handle_bytes(now, a);
                w.after(&mut s);
                s.handle_bytes(now, b);
                w.after(&mut s);
                input = rest;
                continue;
            }
            _ => break,
        };
        w.feed(&bytes);
        s.handle_bytes(now, &bytes);
        w.after(&mut s);
        input = rest;
    }
    s.handle_eof();
    w.after(&mut s);
    w.reached
}

fuzz_target!(|data: &[u8]| {
    run(data);
});

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64, so the corpus is the same on every run.
    fn rng(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Scripts biased toward the ops that link a session (half start with Hello, our trust
    /// and the peer's in a random order), with junk, time and toggles mixed in.
    fn script(seed: u64) -> Vec<u8> {
        let mut st = seed;
        let mut out = Vec::new();
        if rng(&mut st).is_multiple_of(2) {
            let mut link = [1u8, 0x1a, 0x12];
            for i in (1..link.len()).rev() {
                let j = usize::try_from(rng(&mut st) % (i as u64 + 1)).unwrap_or(0);
                link.swap(i, j);
            }
            out.extend_from_slice(&link);
        }
        // Junk, unknown types, Close and end of stream end a session: rarer than the rest.
        const OPS: [u8; 24] = [
            0, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9, 9, 9, 10, 10, 11, 11, 12, 12, 13, 14, 15, 15,
        ];
        let len = 1 + rng(&mut st) % 40;
        for _ in 0..len {
            let r = rng(&mut st);
            let pick = OPS[usize::try_from(r % 24).unwrap_or(0)];
            let op = pick | if r & 0x100 != 0 { 0x10 } else { 0 };
            out.push(op);
            let operand = u8::try_from((r >> 16) % 256).unwrap_or(0);
            match pick {
                0 => {
                    let n = operand % 24;
                    out.push(n);
                    out.extend((0..n).map(|i| u8::try_from(rng(&mut st) % 256).unwrap_or(i)));
                }
                3 | 4 | 7 | 11 | 12 | 15 => out.push(operand),
                9 => out.extend_from_slice(&[operand % 16, operand]),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn the_fuzz_body_holds_on_a_generated_corpus() {
        let hand: Vec<Vec<u8>> = vec![
            vec![],
            // Hello, both trust: up, then status and config, then the peer pends again.
            vec![1, 0x1a, 0x12, 11, 7, 12, 3, 3, 2, 2, 11, 8, 9, 0x0b, 0xb8],
            // Up, then an unknown type closes; nothing more is written.
            vec![1, 0x1a, 0x12, 7, 40, 11, 9, 9, 0x27, 0x10],
            // Pending forever while heartbeats flow; status set but never sent.
            vec![11, 1, 1, 0x12, 9, 0x13, 0x88, 3, 1, 9, 0x13, 0x88],
            // A frame split across reads, then revoked while up.
            vec![15, 5, 0x1f, 9, 0x1a, 11, 3, 0x0a],
        ];
        let cases = std::env::var("BATON_FUZZ_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_000u64);
        let mut up = 0;
        let mut status = 0;
        for data in hand.iter().cloned().chain((0..cases).map(script)) {
            let r = run(&data);
            up += u64::from(r.up);
            status += u64::from(r.status_sent);
        }
        println!(
            "link_session: {} inputs, {up} linked, {status} wrote a status or config",
            hand.len() as u64 + cases
        );
        assert!(up > 0 && status > 0, "the corpus never links a session");
    }
}
