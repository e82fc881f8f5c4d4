//! What each frame read from the peer does: the dispatch by phase and type, and the
//! handling of hellos, verdicts and heartbeats. A frame the phase or the agreed version
//! does not allow closes the session.

use std::time::Instant;

use super::{CloseReason, Event, HandoverMsg, MAX_HANDOVER_QUEUE, Phase, Session};
use crate::link::codec::{Frame, FrameType};
use crate::link::message::{
    Close, ConfigSummary, HANDOVER_VERSION, Heartbeat, HeartbeatAck, Hello, HelloAck, Holding,
    ReleaseRequest, Released, SYNC_VERSION, Status, negotiate,
};

/// Fingerprints compare by their hex digits alone, in any case, with or without colons.
fn same_fingerprint(a: &str, b: &str) -> bool {
    let digits = |s: &str| {
        s.chars()
            .filter(char::is_ascii_hexdigit)
            .map(|c| c.to_ascii_uppercase())
            .collect::<String>()
    };
    let (a, b) = (digits(a), digits(b));
    !a.is_empty() && a == b
}

impl Session {
    pub(super) fn handle_frame(&mut self, now: Instant, frame: Frame) {
        self.last_heard = Some(now);
        if self.phase != Phase::AwaitingHello {
            self.dead_deadline = Some(now + self.config.dead_after);
        }
        match (self.phase, frame.kind) {
            (_, FrameType::Close) => {
                if let Some(close) = self.parse::<Close>(&frame) {
                    self.close(CloseReason::PeerClosed(close));
                }
            }
            (Phase::AwaitingHello, FrameType::Hello) => self.handle_hello(now, &frame),
            (Phase::AwaitingHello, FrameType::Unknown(n)) => {
                self.close(CloseReason::UnknownTypeBeforeHello(n))
            }
            (Phase::AwaitingHello, kind) => self.close(CloseReason::ExpectedHello(kind)),
            (_, FrameType::Hello) => self.close(CloseReason::DuplicateHello),
            (_, FrameType::Unknown(n)) => self.close(CloseReason::UnknownType(n)),
            (_, kind @ (FrameType::ReleaseRequest | FrameType::Released | FrameType::Holding))
                if self.version.is_some_and(|v| v < HANDOVER_VERSION) =>
            {
                self.close(CloseReason::UnknownType(kind.number()))
            }
            (_, FrameType::Sync(n)) if self.version.is_some_and(|v| v < SYNC_VERSION) => {
                self.close(CloseReason::UnknownType(n))
            }
            (Phase::Up, FrameType::Sync(_)) => self.sync.push_back(frame),
            (_, FrameType::HelloAck) => {
                if let Some(ack) = self.parse::<HelloAck>(&frame) {
                    self.handle_ack(ack);
                }
            }
            (_, FrameType::Heartbeat) => {
                if let Some(hb) = self.parse::<Heartbeat>(&frame) {
                    self.handle_heartbeat(hb);
                }
            }
            (_, FrameType::HeartbeatAck) => {
                if let Some(ack) = self.parse::<HeartbeatAck>(&frame) {
                    self.handle_heartbeat_ack(now, ack);
                }
            }
            (Phase::Up, FrameType::Status) => {
                if let Some(status) = self.parse::<Status>(&frame) {
                    self.events.push_back(Event::PeerStatus(Box::new(status)));
                }
            }
            (Phase::Up, FrameType::ConfigSummary) => {
                if let Some(summary) = self.parse::<ConfigSummary>(&frame) {
                    self.events.push_back(Event::PeerConfig(Box::new(summary)));
                }
            }
            (Phase::Up, FrameType::ReleaseRequest) => {
                if let Some(req) = self.parse::<ReleaseRequest>(&frame) {
                    self.push_handover(HandoverMsg::ReleaseRequest(req));
                }
            }
            (Phase::Up, FrameType::Released) => {
                if let Some(rel) = self.parse::<Released>(&frame) {
                    self.push_handover(HandoverMsg::Released(rel));
                }
            }
            (Phase::Up, FrameType::Holding) => {
                if let Some(h) = self.parse::<Holding>(&frame) {
                    self.push_handover(HandoverMsg::Holding(h));
                }
            }
            (phase, kind) => self.close(CloseReason::NotAllowed { kind, phase }),
        }
    }

    fn handle_hello(&mut self, now: Instant, frame: &Frame) {
        let Some(hello) = self.parse::<Hello>(frame) else {
            return;
        };
        if !same_fingerprint(&hello.fingerprint, &self.config.peer_fingerprint) {
            return self.close(CloseReason::FingerprintMismatch {
                tls: self.config.peer_fingerprint.clone(),
                hello: hello.fingerprint,
            });
        }
        let version = match negotiate(self.config.hello.versions, hello.versions) {
            Ok(v) => v,
            Err(e) => return self.close(CloseReason::Version(e)),
        };
        self.version = Some(version);
        self.phase = Phase::Pending;
        self.hello_deadline = None;
        self.dead_deadline = Some(now + self.config.dead_after);
        self.peer_hello = Some(hello.clone());
        self.events.push_back(Event::PeerHello { hello, version });
        self.after_verdicts();
    }

    fn handle_ack(&mut self, ack: HelloAck) {
        let ours = self.version.unwrap_or_default();
        if ack.version != ours {
            return self.close(CloseReason::AckVersion {
                ours,
                theirs: ack.version,
            });
        }
        self.theirs = ack.verdict;
        self.after_verdicts();
    }

    fn handle_heartbeat(&mut self, hb: Heartbeat) {
        if hb.seq <= self.peer_seq {
            return self.close(CloseReason::HeartbeatReplay {
                seq: hb.seq,
                last: self.peer_seq,
            });
        }
        self.peer_seq = hb.seq;
        let echo = HeartbeatAck {
            seq: hb.seq,
            sent_at_us: hb.sent_at_us,
        };
        self.send(FrameType::HeartbeatAck, &echo);
    }

    fn handle_heartbeat_ack(&mut self, now: Instant, ack: HeartbeatAck) {
        let found = self
            .outstanding
            .iter()
            .position(|&(seq, at, _)| seq == ack.seq && at == ack.sent_at_us);
        let Some(i) = found else {
            return self.close(CloseReason::BadHeartbeatAck { seq: ack.seq });
        };
        if let Some((_, _, sent)) = self.outstanding.get(i) {
            self.rtt = Some(now.saturating_duration_since(*sent));
        }
        // Echoes come in order: anything older will never be echoed now.
        self.outstanding.drain(..=i);
    }

    fn push_handover(&mut self, msg: HandoverMsg) {
        if self.handover.len() == MAX_HANDOVER_QUEUE {
            self.handover.pop_front();
        }
        self.handover.push_back(msg);
    }
}
