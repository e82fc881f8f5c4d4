//! The data sync frames over a session pair: they cross, unread, only while up and only
//! when both speak version 3; a version 2 peer gets none, and sending it one is refused.

use super::handover::linked;
use super::*;

#[test]
fn sync_frames_cross_between_version_3_peers_with_their_bodies_untouched() {
    let mut p = linked(3, 3);
    assert!(p.a.speaks_sync() && p.b.speaks_sync());
    let body = [0u8, 1, 2, 255];
    assert!(p.a.send_sync(37, &body));
    assert!(p.a.send_sync(33, b"{}"));
    assert!(!p.a.send_sync(40, b"{}"), "a held number is not sent");
    p.settle();
    let got: Vec<(u16, Vec<u8>)> = std::iter::from_fn(|| p.b.poll_sync())
        .map(|f| (f.kind.number(), f.body))
        .collect();
    assert_eq!(got, [(37, body.to_vec()), (33, b"{}".to_vec())]);
    assert!(closed(&p.b_events).is_none());
}

#[test]
fn a_version_2_peer_gets_no_sync_frames_and_one_sent_to_it_closes() {
    let mut p = linked(3, 2);
    assert!(!p.a.speaks_sync() && !p.b.speaks_sync());
    assert!(!p.a.send_sync(33, b"{}"), "not sent to a version 2 peer");
    // A peer that sends one anyway, against the agreed version, is refused.
    let mut f = Vec::new();
    encode(&mut f, FrameType::Sync(33), 0, b"{}").unwrap();
    p.b.handle_bytes(p.now, &f);
    p.settle();
    assert!(
        matches!(closed(&p.b_events), Some(CloseReason::UnknownType(33))),
        "{:?}",
        p.b_events
    );
}

#[test]
fn sync_frames_before_the_link_is_up_are_not_allowed() {
    let mut p = Pair::new(
        hello("a", FP_A, 1, 3),
        hello("b", FP_B, 1, 3),
        Duration::ZERO,
    );
    p.settle();
    assert!(!p.a.send_sync(33, b"{}"), "pending: not sent");
    let mut f = Vec::new();
    encode(&mut f, FrameType::Sync(33), 0, b"{}").unwrap();
    p.b.handle_bytes(p.now, &f);
    p.settle();
    assert!(
        matches!(closed(&p.b_events), Some(CloseReason::NotAllowed { .. })),
        "{:?}",
        p.b_events
    );
}
