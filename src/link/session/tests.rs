//! Two sessions driven against each other with virtual time: bytes from one's
//! `poll_transmit` go, after a chosen delay, into the other's `handle_bytes`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::link::codec::{Decoder, FrameType, LIMIT_TRUSTED, encode};
use crate::link::message::{CloseCode, HeartbeatAck, InstanceState, InstanceStatus, VersionRange};

const FP_A: &str = "AA:11:22:33";
const FP_B: &str = "BB:44:55:66";

fn hello(node: &str, fp: &str, min: u16, max: u16) -> Hello {
    Hello {
        versions: VersionRange { min, max },
        node_id: node.into(),
        fingerprint: fp.into(),
        baton_version: "0.1.0".into(),
        capabilities: vec![],
    }
}

fn status(state: InstanceState, prio: u8) -> Status {
    Status {
        baton_version: "0.1.0".into(),
        uptime_ms: 1,
        instances: vec![InstanceStatus {
            name: "VI_1".into(),
            state,
            effective_priority: prio,
            base_priority: 100,
            last_reason: "startup".into(),
            in_state_ms: 0,
            tracked: vec![],
            hook_running: None,
            last_hook: None,
        }],
    }
}

/// One direction of the connection: bytes in flight with their delivery time, and every
/// byte ever sent (to check what crossed).
#[derive(Default)]
struct Wire {
    in_flight: VecDeque<(Instant, Vec<u8>)>,
    sent: Vec<u8>,
    cut: bool,
}

struct Pair {
    now: Instant,
    delay: Duration,
    a: Session,
    b: Session,
    a_to_b: Wire,
    b_to_a: Wire,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

impl Pair {
    fn new(a: Hello, b: Hello, delay: Duration) -> Self {
        let now = crate::test_clock::origin();
        Pair {
            now,
            delay,
            a: Session::new(now, SessionConfig::new(a, FP_B.into())),
            b: Session::new(now, SessionConfig::new(b, FP_A.into())),
            a_to_b: Wire::default(),
            b_to_a: Wire::default(),
            a_events: Vec::new(),
            b_events: Vec::new(),
        }
    }

    fn linked_v1() -> Self {
        let mut p = Pair::new(
            hello("a", FP_A, 1, 1),
            hello("b", FP_B, 1, 1),
            Duration::ZERO,
        );
        p.a.set_trusted(true);
        p.b.set_trusted(true);
        p.settle();
        assert_eq!((p.a.phase(), p.b.phase()), (Phase::Up, Phase::Up));
        p
    }

    /// Moves outputs onto the wires and events into the logs, and delivers what is due.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for (s, wire, events) in [
                (&mut self.a, &mut self.a_to_b, &mut self.a_events),
                (&mut self.b, &mut self.b_to_a, &mut self.b_events),
            ] {
                while let Some(bytes) = s.poll_transmit() {
                    wire.sent.extend_from_slice(&bytes);
                    if !wire.cut {
                        wire.in_flight.push_back((self.now + self.delay, bytes));
                    }
                    moved = true;
                }
                while let Some(e) = s.poll_event() {
                    events.push(e);
                }
            }
            for (wire, to) in [
                (&mut self.a_to_b, &mut self.b),
                (&mut self.b_to_a, &mut self.a),
            ] {
                while wire.in_flight.front().is_some_and(|(t, _)| *t <= self.now) {
                    if let Some((_, bytes)) = wire.in_flight.pop_front() {
                        to.handle_bytes(self.now, &bytes);
                        moved = true;
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Runs virtual time forward to `until`, stopping at every deadline and delivery.
    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            self.settle();
            let next = [
                self.a.next_deadline(),
                self.b.next_deadline(),
                self.a_to_b.in_flight.front().map(|(t, _)| *t),
                self.b_to_a.in_flight.front().map(|(t, _)| *t),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = until;
        self.settle();
    }
}

fn frame_types(bytes: &[u8]) -> Vec<FrameType> {
    let mut d = Decoder::new(LIMIT_TRUSTED);
    d.push(bytes);
    std::iter::from_fn(|| d.next_frame().ok().flatten())
        .map(|f| f.kind)
        .collect()
}

fn closed(events: &[Event]) -> Option<&CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Closed(r) => Some(r),
        _ => None,
    })
}

fn statuses(events: &[Event]) -> Vec<&Status> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PeerStatus(s) => Some(&**s),
            _ => None,
        })
        .collect()
}

#[test]
fn hellos_cross_and_both_pick_the_highest_common_version() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 3),
        hello("b", FP_B, 2, 5),
        Duration::ZERO,
    );
    p.settle();
    assert_eq!((p.a.version(), p.b.version()), (Some(3), Some(3)));
    assert!(
        matches!(&p.a_events[0], Event::PeerHello { hello, version: 3 } if hello.node_id == "b")
    );
    assert!(
        matches!(&p.b_events[0], Event::PeerHello { hello, version: 3 } if hello.node_id == "a")
    );
    assert_eq!((p.a.phase(), p.b.phase()), (Phase::Pending, Phase::Pending));
}

#[test]
fn a_peer_with_only_newer_versions_is_refused_with_a_reason() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 1),
        hello("b", FP_B, 2, 3),
        Duration::ZERO,
    );
    p.settle();
    let reason = closed(&p.a_events).unwrap();
    assert_eq!(reason.cause(), "version");
    assert!(
        reason.to_string().contains("only newer link versions 2-3"),
        "{reason}"
    );
    assert_eq!(p.a.phase(), Phase::Closed);
    assert_eq!(frame_types(&p.a_to_b.sent).last(), Some(&FrameType::Close));
    // The newer side refuses the older one too (each side judges the other's Hello).
    assert_eq!(closed(&p.b_events).unwrap().cause(), "version");
}

#[test]
fn pending_until_both_trust_and_no_status_crosses_before() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 1),
        hello("b", FP_B, 1, 1),
        Duration::ZERO,
    );
    p.a.set_local_status(status(InstanceState::Master, 100));
    p.b.set_local_status(status(InstanceState::Backup, 90));
    p.a.set_trusted(true);
    p.b.set_trusted(false);
    p.run_for(Duration::from_secs(10));
    // Heartbeats keep a pending connection alive, but neither side is up.
    assert_eq!((p.a.phase(), p.b.phase()), (Phase::Pending, Phase::Pending));
    for sent in [&p.a_to_b.sent, &p.b_to_a.sent] {
        let types = frame_types(sent);
        assert!(types.contains(&FrameType::Heartbeat));
        assert!(!types.contains(&FrameType::Status), "{types:?}");
        assert!(!types.contains(&FrameType::ConfigSummary));
    }
    assert!(statuses(&p.a_events).is_empty() && statuses(&p.b_events).is_empty());
    assert!(p.a_events.contains(&Event::Pending {
        ours: Verdict::Trusted,
        theirs: Verdict::Pending
    }));
    assert!(p.b_events.contains(&Event::Pending {
        ours: Verdict::Pending,
        theirs: Verdict::Trusted
    }));

    p.b.set_trusted(true);
    p.settle();
    assert_eq!((p.a.phase(), p.b.phase()), (Phase::Up, Phase::Up));
    assert_eq!(
        statuses(&p.b_events)[0].instances[0].state,
        InstanceState::Master
    );
    assert_eq!(statuses(&p.a_events)[0].instances[0].effective_priority, 90);
}

#[test]
fn trusting_the_peer_is_not_enough_to_be_up_until_its_verdict_is_read() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 1),
        hello("b", FP_B, 1, 1),
        Duration::from_millis(50),
    );
    p.a.set_trusted(true);
    p.b.set_trusted(true);
    p.run_for(Duration::from_millis(60));
    // Each has read the other's Hello but not yet its HelloAck (sent after the Hello
    // arrived, so it lands at 100 ms).
    assert_eq!((p.a.phase(), p.b.phase()), (Phase::Pending, Phase::Pending));
    p.run_for(Duration::from_millis(50));
    assert_eq!((p.a.phase(), p.b.phase()), (Phase::Up, Phase::Up));
}

#[test]
fn status_crosses_on_change_at_once_and_again_with_every_heartbeat() {
    let mut p = Pair::linked_v1();
    p.a.set_local_status(status(InstanceState::Backup, 100));
    p.settle();
    assert_eq!(statuses(&p.b_events).len(), 1);
    p.a.set_local_status(status(InstanceState::Master, 100));
    p.settle();
    assert_eq!(
        statuses(&p.b_events).last().unwrap().instances[0].state,
        InstanceState::Master
    );
    let before = statuses(&p.b_events).len();
    p.run_for(Duration::from_millis(5500));
    assert_eq!(statuses(&p.b_events).len() - before, 5);
}

#[test]
fn a_refreshed_status_waits_for_the_heartbeat_and_is_sent_once_with_it() {
    let mut p = Pair::linked_v1();
    p.a.set_local_status(status(InstanceState::Backup, 100));
    p.settle();
    let before = statuses(&p.b_events).len();
    let mut aged = status(InstanceState::Backup, 100);
    aged.uptime_ms += 700;
    p.a.refresh_local_status(aged);
    p.settle();
    assert_eq!(
        statuses(&p.b_events).len(),
        before,
        "refresh is not a change"
    );
    p.run_for(Duration::from_millis(1100));
    let got = statuses(&p.b_events);
    assert_eq!(got.len(), before + 1, "one status per heartbeat, not two");
    assert_eq!(
        got.last().unwrap().uptime_ms,
        status(InstanceState::Backup, 100).uptime_ms + 700
    );
}

#[test]
fn config_summary_crosses_when_up_and_on_change_only() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 1),
        hello("b", FP_B, 1, 1),
        Duration::ZERO,
    );
    let summary = |digest: &str| ConfigSummary {
        digest: digest.into(),
        instances: vec![],
    };
    p.a.set_local_config(summary("one"));
    p.a.set_trusted(true);
    p.b.set_trusted(true);
    p.run_for(Duration::from_secs(3));
    p.a.set_local_config(summary("two"));
    p.run_for(Duration::from_secs(1));
    let got: Vec<_> = p
        .b_events
        .iter()
        .filter_map(|e| match e {
            Event::PeerConfig(c) => Some(c.digest.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(got, ["one", "two"]);
}

#[test]
fn a_silent_peer_is_dead_after_three_seconds() {
    let mut p = Pair::linked_v1();
    p.run_for(Duration::from_millis(2500));
    p.a_to_b.cut = true;
    p.b_to_a.cut = true;
    let last = p.a.last_heard().unwrap();
    p.run_for(Duration::from_secs(10));
    assert_eq!(
        closed(&p.a_events),
        Some(&CloseReason::PeerDead(DEAD_AFTER))
    );
    assert_eq!(
        closed(&p.b_events),
        Some(&CloseReason::PeerDead(DEAD_AFTER))
    );
    assert_eq!(p.a.last_heard(), Some(last));
    assert_eq!(p.a.next_deadline(), None);
}

#[test]
fn no_hello_within_five_seconds_closes() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 1),
        hello("b", FP_B, 1, 1),
        Duration::ZERO,
    );
    p.b_to_a.cut = true;
    p.run_for(Duration::from_millis(4999));
    assert_eq!(p.a.phase(), Phase::AwaitingHello);
    p.run_for(Duration::from_millis(1));
    assert_eq!(closed(&p.a_events), Some(&CloseReason::HelloTimeout));
}

#[test]
fn heartbeat_round_trip_is_measured_on_virtual_time() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 1),
        hello("b", FP_B, 1, 1),
        Duration::from_millis(40),
    );
    p.a.set_trusted(true);
    p.b.set_trusted(true);
    p.run_for(Duration::from_millis(1500));
    println!("rtt with 40 ms each way: {:?}", p.a.rtt());
    assert_eq!(p.a.rtt(), Some(Duration::from_millis(80)));
    assert_eq!(p.b.rtt(), Some(Duration::from_millis(80)));
}

#[test]
fn revoking_a_linked_peer_closes_both_sides() {
    let mut p = Pair::linked_v1();
    p.a.set_trusted(false);
    p.settle();
    assert_eq!(closed(&p.a_events), Some(&CloseReason::Revoked));
    match closed(&p.b_events) {
        Some(CloseReason::PeerClosed(c)) => assert_eq!(c.code, CloseCode::Revoked),
        other => panic!("{other:?}"),
    }
}

// Bad input, fed straight to one session as a hostile peer would write it.

fn fresh() -> (Instant, Session) {
    let now = crate::test_clock::origin();
    let mut s = Session::new(now, SessionConfig::new(hello("a", FP_A, 1, 1), FP_B.into()));
    let _ = s.poll_transmit();
    (now, s)
}

fn frame(kind: FrameType, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&mut out, kind, 0, body).unwrap();
    out
}

fn json_frame<T: Serialize>(kind: FrameType, msg: &T) -> Vec<u8> {
    frame(kind, &serde_json::to_vec(msg).unwrap())
}

fn peer_hello() -> Vec<u8> {
    json_frame(FrameType::Hello, &hello("evil", FP_B, 1, 1))
}

fn heartbeat(seq: u64) -> Vec<u8> {
    json_frame(FrameType::Heartbeat, &Heartbeat { seq, sent_at_us: 0 })
}

/// Feeds the chunks and returns why the session closed, checking it told the peer.
fn refusal(s: &mut Session, now: Instant, chunks: &[Vec<u8>]) -> CloseReason {
    for c in chunks {
        s.handle_bytes(now, c);
    }
    let out = s.poll_transmit().unwrap_or_default();
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    let reason = closed(&events).cloned().expect("closed");
    assert_eq!(
        frame_types(&out).last(),
        Some(&FrameType::Close),
        "{reason}"
    );
    assert_eq!(s.phase(), Phase::Closed);
    reason
}

#[test]
fn bad_input_closes_with_its_reason() {
    let status = json_frame(FrameType::Status, &status(InstanceState::Master, 1));
    let bogus_ack = json_frame(
        FrameType::HeartbeatAck,
        &HeartbeatAck {
            seq: 9,
            sent_at_us: 0,
        },
    );
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("oversized", vec![b"GET / HTTP/1.1\r\n\r\n".to_vec()]),
        ("oversized", vec![frame(FrameType::Hello, &[b' '; 5000])]),
        ("garbage", vec![vec![0, 0, 0, 1, 0]]),
        ("bad_body", vec![frame(FrameType::Hello, b"{not json")]),
        (
            "unknown_type_before_hello",
            vec![frame(FrameType::Unknown(99), b"{}")],
        ),
        ("expected_hello", vec![heartbeat(1)]),
        (
            "unknown_type",
            vec![peer_hello(), frame(FrameType::Unknown(99), b"{}")],
        ),
        ("duplicate_hello", vec![peer_hello(), peer_hello()]),
        (
            "heartbeat_replay",
            vec![peer_hello(), heartbeat(1), heartbeat(1)],
        ),
        (
            "heartbeat_replay",
            vec![peer_hello(), heartbeat(2), heartbeat(1)],
        ),
        ("bad_heartbeat_ack", vec![peer_hello(), bogus_ack]),
        ("not_allowed", vec![peer_hello(), status]),
        (
            "fingerprint_mismatch",
            vec![json_frame(FrameType::Hello, &hello("x", "CC:00", 1, 1))],
        ),
        (
            "ack_version",
            vec![
                peer_hello(),
                json_frame(
                    FrameType::HelloAck,
                    &HelloAck {
                        version: 2,
                        verdict: Verdict::Trusted,
                    },
                ),
            ],
        ),
    ];
    for (cause, chunks) in cases {
        let (now, mut s) = fresh();
        assert_eq!(refusal(&mut s, now, &chunks).cause(), cause, "{chunks:?}");
    }
}

#[test]
fn a_truncated_frame_at_end_of_stream_is_counted() {
    let (now, mut s) = fresh();
    let hb = peer_hello();
    s.handle_bytes(now, &hb[..hb.len() - 3]);
    s.handle_eof();
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(closed(&events).unwrap().cause(), "truncated");
}

#[test]
fn an_unknown_type_after_hello_is_refused_pending_or_up() {
    // 16 is held for the handover: a peer that speaks only version 1 has agreed not to
    // send it, so it closes the connection like any other unknown number.
    for n in [16, 40, 0xffff] {
        let (now, mut s) = fresh();
        let chunks = [peer_hello(), frame(FrameType::Unknown(n), b"{}")];
        let reason = refusal(&mut s, now, &chunks);
        assert_eq!(reason, CloseReason::UnknownType(n));
        assert_eq!(reason.cause(), "unknown_type");

        let (now, mut s) = trusted_session();
        let _ = s.poll_transmit();
        let reason = refusal(&mut s, now, &[frame(FrameType::Unknown(n), b"{}")]);
        assert_eq!(reason.cause(), "unknown_type");
    }
}

#[test]
fn the_frame_limit_rises_with_trust() {
    let mut big = serde_json::to_vec(&Heartbeat {
        seq: 1,
        sent_at_us: 0,
    })
    .unwrap();
    big.resize(100_000, b' ');
    let (now, mut s) = fresh();
    s.handle_bytes(now, &peer_hello());
    s.set_trusted(true);
    s.handle_bytes(now, &frame(FrameType::Heartbeat, &big));
    assert_eq!(s.phase(), Phase::Pending);
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(closed(&events).is_none(), "{events:?}");

    let (now, mut s) = fresh();
    let chunks = [peer_hello(), frame(FrameType::Heartbeat, &big)];
    assert_eq!(refusal(&mut s, now, &chunks).cause(), "oversized");
}

fn trusted_session() -> (Instant, Session) {
    let (now, mut s) = fresh();
    s.handle_bytes(now, &peer_hello());
    s.handle_bytes(
        now,
        &json_frame(
            FrameType::HelloAck,
            &HelloAck {
                version: 1,
                verdict: Verdict::Trusted,
            },
        ),
    );
    s.set_trusted(true);
    assert_eq!(s.phase(), Phase::Up);
    (now, s)
}

proptest! {
    #[test]
    fn arbitrary_chunks_never_panic_a_session(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..12),
        steps in proptest::collection::vec(0u64..4000, 0..12),
        trusted in any::<bool>(),
        prefix_hello in any::<bool>(),
    ) {
        let (mut now, mut s) = if trusted { trusted_session() } else { fresh() };
        if prefix_hello && !trusted {
            s.handle_bytes(now, &peer_hello());
        }
        s.set_local_status(status(InstanceState::Master, 100));
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            s.handle_bytes(now, c);
            now += Duration::from_millis(steps.get(i).copied().unwrap_or(0));
            s.handle_timeout(now);
            while let Some(b) = s.poll_transmit() { out.extend(b); }
            while s.poll_event().is_some() {}
        }
        s.handle_eof();
        if !trusted {
            prop_assert!(!frame_types(&out).contains(&FrameType::Status));
        }
    }
}

mod handover;
mod sync;
