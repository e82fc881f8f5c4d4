//! The sans-IO state machine of one link connection, after TLS is up.
//!
//! No sockets, no clock: the driver passes `now` in, feeds the bytes it read to
//! [`Session::handle_bytes`], then drains [`Session::poll_transmit`] (one buffer to write
//! in one write) and [`Session::poll_event`], and sleeps until
//! [`Session::next_deadline`] or the next read. A spurious wake-up is harmless.
//!
//! Phases: awaiting hello → pending trust → up → closed. Each side sends Hello at once.
//! Once the peer's Hello is read (its fingerprint must be the one TLS saw, and the two
//! version ranges must overlap), the caller looks the fingerprint up and calls
//! [`Session::set_trusted`]; each side tells the other its verdict in a HelloAck. While
//! pending only hellos, heartbeats and Close cross: no Status or ConfigSummary is sent,
//! and one received closes the connection. The link is up when we trust the peer *and*
//! we have read the peer's HelloAck saying it trusts us: in TLS 1.3 the client finishes
//! its handshake before the server has judged the client's certificate, so nothing but a
//! message read from the peer proves the peer accepted us.
//!
//! Every refusal closes the session with a [`CloseReason`] whose [`CloseReason::cause`]
//! the driver counts; a Close frame tells the peer why. Nothing here panics on input.
//!
//! Handover frames (version 2 on, see [`super::handover`]) cross only while up and only
//! when the agreed version has them: [`Session::send_release_request`] and
//! [`Session::send_released`] send nothing otherwise (the peer then hands over as if
//! unlinked), and from a version 1 peer such a frame is an unknown type. What arrives
//! comes out of [`Session::poll_handover`], apart from the events: the link driver keeps
//! the events for its own bookkeeping, the engine's handover wants these.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{
    self, Decoder, Frame, FrameTooLarge, FrameType, LIMIT_BEFORE_TRUST, LIMIT_TRUSTED, encode,
};
use super::message::{
    Close, ConfigSummary, HANDOVER_VERSION, Heartbeat, Hello, HelloAck, Holding, ReleaseRequest,
    Released, SYNC_IN_USE, SYNC_VERSION, Status, Verdict,
};

mod close;
mod receive;
pub use close::CloseReason;

pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
pub const DEAD_AFTER: Duration = Duration::from_secs(3);
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// Heartbeats awaiting their echo that we remember; older ones are forgotten, and an echo
/// of a forgotten one is refused like any echo of a heartbeat never sent.
const OUTSTANDING_HEARTBEATS: usize = 8;
/// Characters of explanation in a Close frame we send.
const MAX_CLOSE_DETAIL: usize = 256;
/// Handover messages received and not yet taken; a peer that floods them loses the
/// oldest, which a newer request or release supersedes anyway.
const MAX_HANDOVER_QUEUE: usize = 256;

/// What one session is told when it starts.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our Hello, sent at once; its `versions` are the ones we speak.
    pub hello: Hello,
    /// The peer's certificate fingerprint as TLS saw it.
    pub peer_fingerprint: String,
    pub heartbeat_interval: Duration,
    pub dead_after: Duration,
    pub hello_timeout: Duration,
}

impl SessionConfig {
    pub fn new(hello: Hello, peer_fingerprint: String) -> Self {
        SessionConfig {
            hello,
            peer_fingerprint,
            heartbeat_interval: HEARTBEAT_INTERVAL,
            dead_after: DEAD_AFTER,
            hello_timeout: HELLO_TIMEOUT,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    AwaitingHello,
    Pending,
    Up,
    Closed,
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's Hello was read and a version agreed: look its fingerprint up and call
    /// [`Session::set_trusted`].
    PeerHello {
        hello: Hello,
        version: u16,
    },
    /// Not linked yet: who has still to approve (ours: we have not trusted the peer;
    /// theirs: the peer has not said it trusts us). Sent on every change.
    Pending {
        ours: Verdict,
        theirs: Verdict,
    },
    Up {
        version: u16,
    },
    PeerStatus(Box<Status>),
    PeerConfig(Box<ConfigSummary>),
    Closed(CloseReason),
}

/// A handover message from the peer, for the target's [`super::handover::Handover`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandoverMsg {
    ReleaseRequest(ReleaseRequest),
    Released(Released),
    Holding(Holding),
}

pub struct Session {
    config: SessionConfig,
    phase: Phase,
    decoder: Decoder,
    outbox: Vec<u8>,
    events: VecDeque<Event>,
    handover: VecDeque<HandoverMsg>,
    /// Data sync frames received, for the driver to hand to the sync worker. The driver
    /// takes them after every read, so this holds at most one read's worth.
    sync: VecDeque<Frame>,
    /// Heartbeat offsets are measured from here, on our clock only.
    origin: Instant,
    version: Option<u16>,
    peer_hello: Option<Hello>,
    ours: Option<Verdict>,
    ours_sent: Option<Verdict>,
    theirs: Verdict,
    last_pending: Option<(Verdict, Verdict)>,
    local_status: Option<Status>,
    /// Shared with the driver's copy: the summary of many instances is large, and it
    /// changes only on reload.
    local_config: Option<Arc<ConfigSummary>>,
    next_seq: u64,
    outstanding: VecDeque<(u64, u64, Instant)>,
    peer_seq: u64,
    rtt: Option<Duration>,
    last_heard: Option<Instant>,
    hello_deadline: Option<Instant>,
    dead_deadline: Option<Instant>,
    heartbeat_at: Option<Instant>,
}

impl Session {
    /// Starts a session on a connection whose TLS handshake has just finished; our Hello
    /// is the first thing [`Session::poll_transmit`] returns.
    pub fn new(now: Instant, config: SessionConfig) -> Self {
        let mut s = Session {
            phase: Phase::AwaitingHello,
            decoder: Decoder::new(LIMIT_BEFORE_TRUST),
            outbox: Vec::new(),
            events: VecDeque::new(),
            handover: VecDeque::new(),
            sync: VecDeque::new(),
            origin: now,
            version: None,
            peer_hello: None,
            ours: None,
            ours_sent: None,
            theirs: Verdict::Pending,
            last_pending: None,
            local_status: None,
            local_config: None,
            next_seq: 1,
            outstanding: VecDeque::new(),
            peer_seq: 0,
            rtt: None,
            last_heard: None,
            hello_deadline: Some(now + config.hello_timeout),
            dead_deadline: None,
            heartbeat_at: Some(now + config.heartbeat_interval),
            config,
        };
        let hello = s.config.hello.clone();
        s.send(FrameType::Hello, &hello);
        s
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The version agreed with the peer, once its Hello is read.
    pub fn version(&self) -> Option<u16> {
        self.version
    }

    pub fn peer_hello(&self) -> Option<&Hello> {
        self.peer_hello.as_ref()
    }

    /// The round trip of the last echoed heartbeat.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// Up, with a version that has the handover frames: the peer answers release
    /// requests. Up with a version 1 peer is, for the handover, no link at all.
    pub fn speaks_handover(&self) -> bool {
        self.phase == Phase::Up && self.version.is_some_and(|v| v >= HANDOVER_VERSION)
    }

    /// Up, with a version that has the data sync frames.
    pub fn speaks_sync(&self) -> bool {
        self.phase == Phase::Up && self.version.is_some_and(|v| v >= SYNC_VERSION)
    }

    /// Bytes the driver read from the connection.
    pub fn handle_bytes(&mut self, now: Instant, bytes: &[u8]) {
        if self.phase == Phase::Closed {
            return;
        }
        self.decoder.push(bytes);
        while self.phase != Phase::Closed {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.handle_frame(now, frame),
                Ok(None) => break,
                Err(e) => self.close(CloseReason::Frame(e)),
            }
        }
    }

    /// The peer closed its side of the connection.
    pub fn handle_eof(&mut self) {
        match self.decoder.finish() {
            Ok(()) => self.close(CloseReason::Eof),
            Err(e) => self.close(CloseReason::Frame(e)),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.hello_deadline.is_some_and(|t| t <= now) {
            return self.close(CloseReason::HelloTimeout);
        }
        if self.dead_deadline.is_some_and(|t| t <= now) {
            let silent = self.last_heard.map_or(Duration::ZERO, |t| now - t);
            return self.close(CloseReason::PeerDead(silent));
        }
        if self.heartbeat_at.is_some_and(|t| t <= now) {
            self.heartbeat_at = Some(now + self.config.heartbeat_interval);
            self.send_heartbeat(now);
            if self.phase == Phase::Up
                && let Some(status) = self.local_status.clone()
            {
                self.send(FrameType::Status, &status);
            }
        }
    }

    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.hello_deadline, self.dead_deadline, self.heartbeat_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Everything to write, as one buffer (several frames when several are due).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.outbox.is_empty()).then(|| std::mem::take(&mut self.outbox))
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The caller's verdict on the peer's fingerprint; may come before the peer's Hello
    /// (TLS already showed the fingerprint). `false` holds the peer as pending; `false`
    /// after `true` is a revocation and closes the session.
    pub fn set_trusted(&mut self, trusted: bool) {
        if self.phase == Phase::Closed {
            return;
        }
        if !trusted && self.ours == Some(Verdict::Trusted) {
            return self.close(CloseReason::Revoked);
        }
        let verdict = if trusted {
            self.decoder.set_limit(LIMIT_TRUSTED);
            Verdict::Trusted
        } else {
            Verdict::Pending
        };
        self.ours = Some(verdict);
        self.after_verdicts();
    }

    /// Our latest status: sent at once when it changed and the link is up, and again
    /// with every heartbeat (so the driver should refresh the ages in it as they grow).
    pub fn set_local_status(&mut self, status: Status) {
        if self.local_status.as_ref() == Some(&status) {
            return;
        }
        if self.phase == Phase::Up {
            self.send(FrameType::Status, &status);
        }
        self.local_status = Some(status);
    }

    /// Our status with only its ages moved on: kept for the next heartbeat, which carries
    /// it, rather than sent at once as a change is.
    pub fn refresh_local_status(&mut self, status: Status) {
        self.local_status = Some(status);
    }

    /// Our config summary: sent when the link comes up and whenever it changes.
    pub fn set_local_config(&mut self, summary: impl Into<Arc<ConfigSummary>>) {
        let summary = summary.into();
        if (self.local_config.as_ref()).is_some_and(|c| Arc::ptr_eq(c, &summary) || **c == *summary)
        {
            return;
        }
        if self.phase == Phase::Up {
            self.send(FrameType::ConfigSummary, &*summary);
        }
        self.local_config = Some(summary);
    }

    /// Asks the peer to release `target` (we entered MASTER, mastership `generation`).
    /// `false`: not sent, because the link is not up or the peer speaks no handover.
    /// Nothing is queued for later: on the next connection the handover asks again.
    pub fn send_release_request(&mut self, target: &str, generation: u64) -> bool {
        if !self.speaks_handover() {
            return false;
        }
        let msg = ReleaseRequest {
            target: target.to_string(),
            generation,
        };
        self.send(FrameType::ReleaseRequest, &msg);
        true
    }

    /// Tells the peer our service for `target` is not running (answering its request of
    /// `generation`), or with `stopping` that we shut down and will not serve it again.
    /// `false`: not sent (link not up, or a peer without handover). A release that cannot
    /// be delivered is lost, not queued: the peer then waits until its own rule lets it
    /// start (link down and our VRRP silent, or its `handover_timeout`), and a peer that
    /// reconnects while still holding asks again and gets a fresh answer.
    pub fn send_released(&mut self, target: &str, generation: u64, stopping: bool) -> bool {
        if !self.speaks_handover() {
            return false;
        }
        let msg = Released {
            target: target.to_string(),
            generation,
            stopping,
        };
        self.send(FrameType::Released, &msg);
        true
    }

    /// Tells the peer its request of `generation` arrived and `target` cannot be released
    /// yet. `false`: not sent (link not up, or a peer without handover).
    pub fn send_holding(&mut self, target: &str, generation: u64) -> bool {
        if !self.speaks_handover() {
            return false;
        }
        let msg = Holding {
            target: target.to_string(),
            generation,
        };
        self.send(FrameType::Holding, &msg);
        true
    }

    /// The next handover message the peer sent.
    #[must_use]
    pub fn poll_handover(&mut self) -> Option<HandoverMsg> {
        self.handover.pop_front()
    }

    /// Sends a data sync frame whose body the sync worker encoded. `false`: not sent (the
    /// link is not up, the peer speaks no sync, or the body is over the frame limit).
    pub fn send_sync(&mut self, kind: u16, body: &[u8]) -> bool {
        if !self.speaks_sync() || !SYNC_IN_USE.contains(&kind) {
            return false;
        }
        encode(&mut self.outbox, FrameType::Sync(kind), 0, body).is_ok()
    }

    /// The next data sync frame the peer sent; its body is unread.
    #[must_use]
    pub fn poll_sync(&mut self) -> Option<Frame> {
        self.sync.pop_front()
    }

    /// Ends the session on our side, telling the peer why.
    pub fn shutdown(&mut self) {
        self.close(CloseReason::Shutdown);
    }

    fn send_heartbeat(&mut self, now: Instant) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let micros = now.saturating_duration_since(self.origin).as_micros();
        let sent_at_us = u64::try_from(micros).unwrap_or(u64::MAX);
        if self.outstanding.len() == OUTSTANDING_HEARTBEATS {
            self.outstanding.pop_front();
        }
        self.outstanding.push_back((seq, sent_at_us, now));
        self.send(FrameType::Heartbeat, &Heartbeat { seq, sent_at_us });
    }

    /// After either side's verdict changed: tell the peer ours, and move between pending
    /// and up.
    fn after_verdicts(&mut self) {
        let Some(version) = self.version else {
            return;
        };
        if self.phase == Phase::Closed {
            return;
        }
        if let Some(ours) = self.ours
            && self.ours_sent != Some(ours)
        {
            self.ours_sent = Some(ours);
            self.send(
                FrameType::HelloAck,
                &HelloAck {
                    version,
                    verdict: ours,
                },
            );
        }
        let ours = self.ours.unwrap_or(Verdict::Pending);
        let linked = ours == Verdict::Trusted && self.theirs == Verdict::Trusted;
        if linked && self.phase == Phase::Pending {
            self.phase = Phase::Up;
            self.last_pending = None;
            self.events.push_back(Event::Up { version });
            if let Some(summary) = self.local_config.clone() {
                self.send(FrameType::ConfigSummary, &*summary);
            }
            if let Some(status) = self.local_status.clone() {
                self.send(FrameType::Status, &status);
            }
        } else if !linked {
            self.phase = Phase::Pending;
            let pair = (ours, self.theirs);
            if self.last_pending != Some(pair) {
                self.last_pending = Some(pair);
                self.events.push_back(Event::Pending {
                    ours,
                    theirs: self.theirs,
                });
            }
        }
    }

    fn parse<T: DeserializeOwned>(&mut self, frame: &Frame) -> Option<T> {
        match serde_json::from_slice(&frame.body) {
            Ok(v) => Some(v),
            Err(e) => {
                self.close(CloseReason::BadBody {
                    kind: frame.kind,
                    error: e.to_string(),
                });
                None
            }
        }
    }

    fn send<T: Serialize>(&mut self, kind: FrameType, msg: &T) {
        let result = serde_json::to_vec(msg)
            .map_err(|e| e.to_string())
            .and_then(|body| {
                codec::encode(&mut self.outbox, kind, 0, &body)
                    .map_err(|e: FrameTooLarge| e.to_string())
            });
        if let Err(e) = result {
            self.close(CloseReason::Outgoing(format!("{kind}: {e}")));
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.hello_deadline = None;
        self.dead_deadline = None;
        self.heartbeat_at = None;
        if let Some(code) = reason.code() {
            // The detail may quote the peer; cut it so the frame stays far below the
            // limit a peer applies before trust.
            let close = Close {
                code,
                detail: reason.to_string().chars().take(MAX_CLOSE_DETAIL).collect(),
            };
            // Best effort: if even this failed, the peer learns from the connection ending.
            if let Ok(body) = serde_json::to_vec(&close) {
                let _ = codec::encode(&mut self.outbox, FrameType::Close, 0, &body);
            }
        }
        self.events.push_back(Event::Closed(reason));
    }
}

#[cfg(test)]
mod tests;
