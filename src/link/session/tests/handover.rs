//! The handover frames over a session pair: they cross only while up and only when both
//! speak version 2; a version 1 peer gets the common subset.

use super::*;
use crate::link::message::{ReleaseRequest, Released};

/// Two sessions up with each other, speaking at most `a_max` and `b_max`.
pub(super) fn linked(a_max: u16, b_max: u16) -> Pair {
    let mut p = Pair::new(
        hello("a", FP_A, 1, a_max),
        hello("b", FP_B, 1, b_max),
        Duration::ZERO,
    );
    p.a.set_trusted(true);
    p.b.set_trusted(true);
    p.settle();
    assert_eq!((p.a.phase(), p.b.phase()), (Phase::Up, Phase::Up));
    p
}

fn drain(s: &mut Session) -> Vec<HandoverMsg> {
    std::iter::from_fn(|| s.poll_handover()).collect()
}

#[test]
fn request_and_release_cross_between_version_2_peers() {
    let mut p = linked(2, 2);
    assert!(p.a.speaks_handover() && p.b.speaks_handover());
    assert!(p.b.send_release_request("VI_1", 4));
    p.settle();
    assert_eq!(
        drain(&mut p.a),
        [HandoverMsg::ReleaseRequest(ReleaseRequest {
            target: "VI_1".into(),
            generation: 4
        })]
    );
    assert!(p.a.send_released("VI_1", 4, false));
    assert!(p.a.send_released("G1", 0, true));
    p.settle();
    assert_eq!(
        drain(&mut p.b),
        [
            HandoverMsg::Released(Released {
                target: "VI_1".into(),
                generation: 4,
                stopping: false
            }),
            HandoverMsg::Released(Released {
                target: "G1".into(),
                generation: 0,
                stopping: true
            }),
        ]
    );
    // Handover messages are not link events: the driver's bookkeeping never sees them.
    assert!(closed(&p.a_events).is_none() && closed(&p.b_events).is_none());
    let types = frame_types(&p.a_to_b.sent);
    assert_eq!(
        types.iter().filter(|t| **t == FrameType::Released).count(),
        2
    );
}

#[test]
fn a_version_1_peer_gets_no_handover_frames() {
    let mut p = linked(2, 1);
    assert_eq!(p.a.version(), Some(1));
    assert!(!p.a.speaks_handover());
    assert!(!p.a.send_release_request("VI_1", 1));
    assert!(!p.a.send_released("VI_1", 1, true));
    p.run_for(Duration::from_secs(3));
    let types = frame_types(&p.a_to_b.sent);
    assert!(!types.contains(&FrameType::ReleaseRequest), "{types:?}");
    assert!(!types.contains(&FrameType::Released), "{types:?}");
    // The old peer stayed linked: it saw nothing it does not know.
    assert_eq!((p.a.phase(), p.b.phase()), (Phase::Up, Phase::Up));
    assert!(closed(&p.b_events).is_none());
}

#[test]
fn nothing_is_sent_or_queued_before_the_link_is_up() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 2),
        hello("b", FP_B, 1, 2),
        Duration::ZERO,
    );
    p.a.set_trusted(true);
    p.settle();
    assert_eq!(p.a.phase(), Phase::Pending);
    assert!(!p.a.send_release_request("VI_1", 1));
    p.b.set_trusted(true);
    p.settle();
    assert_eq!(p.b.phase(), Phase::Up);
    let types = frame_types(&p.a_to_b.sent);
    assert!(!types.contains(&FrameType::ReleaseRequest), "{types:?}");
    assert!(drain(&mut p.b).is_empty());
}

fn v2_hello() -> Vec<u8> {
    json_frame(FrameType::Hello, &hello("evil", FP_B, 1, 2))
}

fn release(target: &str) -> Vec<u8> {
    json_frame(
        FrameType::Released,
        &Released {
            target: target.into(),
            generation: 1,
            stopping: false,
        },
    )
}

#[test]
fn handover_frames_out_of_place_close_with_their_reason() {
    // From a peer that agreed on version 1 they are unknown types, as before version 2.
    let (now, mut s) = fresh();
    let reason = refusal(&mut s, now, &[peer_hello(), release("VI_1")]);
    assert_eq!(reason, CloseReason::UnknownType(17));

    // Version 2 but not yet up: not allowed, like a status.
    let now = crate::test_clock::origin();
    let config = SessionConfig::new(hello("a", FP_A, 1, 2), FP_B.into());
    let mut s = Session::new(now, config.clone());
    let _ = s.poll_transmit();
    let reason = refusal(&mut s, now, &[v2_hello(), release("VI_1")]);
    assert_eq!(reason.cause(), "not_allowed");

    // Up, but a body that is not a release.
    let mut s = Session::new(now, config);
    s.handle_bytes(now, &v2_hello());
    let ack = HelloAck {
        version: 2,
        verdict: Verdict::Trusted,
    };
    s.handle_bytes(now, &json_frame(FrameType::HelloAck, &ack));
    s.set_trusted(true);
    assert!(s.speaks_handover());
    let _ = s.poll_transmit();
    let bad = frame(FrameType::ReleaseRequest, br#"{"target":7}"#);
    assert_eq!(refusal(&mut s, now, &[bad]).cause(), "bad_body");
}
