//! The link's invariants, checked on every event a session reports and after every step,
//! and what the link part of the schedules exercised.

use std::collections::BTreeMap;
use std::time::Instant;

use baton::link::message::{HANDOVER_VERSION, InstanceStatus, Status};
use baton::link::session::{Event, HEARTBEAT_INTERVAL, HandoverMsg};
use baton::proto::{InstanceConfig, InstanceId, Node};

use super::{BACKOFF_MIN, DELAY_CAP, LinkSim, Payload};

/// What the link part of the schedules exercised (`BATON_SIM_STATS=1` prints it).
#[derive(Debug, Default, Clone)]
pub struct LinkCoverage {
    pub linked_schedules: u64,
    pub untrusted_schedules: u64,
    pub connections: u64,
    pub failed_dials: u64,
    pub ups: u64,
    pub peer_statuses: u64,
    pub relink_checks: u64,
    pub status_checks: u64,
    pub partitions: u64,
    pub stalls: u64,
    pub closes: BTreeMap<&'static str, u64>,
}

impl LinkCoverage {
    pub fn add(&mut self, o: &LinkCoverage) {
        self.linked_schedules += o.linked_schedules;
        self.untrusted_schedules += o.untrusted_schedules;
        self.connections += o.connections;
        self.failed_dials += o.failed_dials;
        self.ups += o.ups;
        self.peer_statuses += o.peer_statuses;
        self.relink_checks += o.relink_checks;
        self.status_checks += o.status_checks;
        self.partitions += o.partitions;
        self.stalls += o.stalls;
        for (k, v) in &o.closes {
            *self.closes.entry(k).or_default() += v;
        }
    }
}

impl LinkSim {
    /// Reads side `s`'s events and checks each against what the pair may do.
    pub(super) fn check_events(&mut self, now: Instant, p: usize, s: usize) -> Result<(), String> {
        let mut closed = None;
        loop {
            let pair = &mut self.pairs[p];
            let Some((conn, sess)) = pair.sides[s].sess.as_mut() else {
                break;
            };
            let conn = *conn;
            let Some(event) = sess.poll_event() else {
                break;
            };
            let node = pair.nodes[s];
            if let Some(inbox) = self.hand_inbox.as_mut() {
                match &event {
                    Event::Up { version } => {
                        inbox.push_back((now, node, HandIn::Up(*version >= HANDOVER_VERSION)))
                    }
                    Event::Closed(_) => {
                        // What arrived before the close comes first.
                        while let Some(msg) = sess.poll_handover() {
                            inbox.push_back((now, node, HandIn::Msg(msg)));
                        }
                        inbox.push_back((now, node, HandIn::Down))
                    }
                    _ => {}
                }
            }
            let side = &mut pair.sides[s];
            let who = (pair.nodes[s], pair.nodes[1 - s]);
            match event {
                Event::Up { .. } => {
                    if !pair.trusted {
                        return Err(format!("link {who:?}: up with the untrusted node"));
                    }
                    side.up = true;
                    side.up_since = Some(now);
                    self.cov.ups += 1;
                    if s == 0 {
                        pair.backoff = BACKOFF_MIN;
                    }
                }
                Event::Pending { .. } => side.up = false,
                Event::PeerStatus(status) => {
                    if !side.up || !pair.trusted {
                        return Err(format!(
                            "link {who:?}: peer status while {} (trusted pair: {})",
                            if side.up { "up" } else { "not up" },
                            pair.trusted
                        ));
                    }
                    self.cov.peer_statuses += 1;
                    side.got = Some(*status);
                    side.verified = false;
                }
                Event::PeerConfig(_) if !side.up || !pair.trusted => {
                    return Err(format!("link {who:?}: peer config while not up"));
                }
                Event::Closed(reason) => {
                    *self.cov.closes.entry(reason.cause()).or_default() += 1;
                    closed = Some((conn, reason));
                    break;
                }
                _ => {}
            }
            self.take_handover(now, p, s);
        }
        self.take_handover(now, p, s);
        if let Some((conn, reason)) = closed {
            self.log(now, format_args!("pair {p} side {s} closed: {reason}"));
            self.drain(now, p, s);
            let pair = &mut self.pairs[p];
            pair.sides[s].sess = None;
            pair.sides[s].up = false;
            // The stream ends after what was written; the other side reads end of stream.
            let dir = &mut pair.dirs[s];
            let at = dir.last.map_or(now, |l| l.max(now));
            dir.last = Some(at);
            dir.q.push_back((at, conn, Payload::Eof));
            if s == 0 && self.alive[pair.nodes[0]] && pair.dial_at.is_none() {
                self.retry(now, p);
            }
        }
        Ok(())
    }

    /// Hands the handover messages side `s` received to the handover driver.
    fn take_handover(&mut self, now: Instant, p: usize, s: usize) {
        let node = self.pairs[p].nodes[s];
        if let (Some(inbox), Some((_, sess))) = (
            self.hand_inbox.as_mut(),
            self.pairs[p].sides[s].sess.as_mut(),
        ) {
            while let Some(msg) = sess.poll_handover() {
                inbox.push_back((now, node, HandIn::Msg(msg)));
            }
        }
    }

    /// While both sides are up, each has the other's latest status once a heartbeat and
    /// the largest delay have passed since it changed (or since the pair came up or the
    /// stream last stalled).
    pub(super) fn check_statuses(&mut self, now: Instant) -> Result<(), String> {
        for pair in &mut self.pairs {
            if !pair.trusted || pair.partitioned {
                continue;
            }
            let (Some(a), Some(b)) = (pair.sides[0].up_since, pair.sides[1].up_since) else {
                continue;
            };
            if !pair.sides[0].up || !pair.sides[1].up {
                continue;
            }
            for s in 0..2 {
                let Some((sent, set_at)) = &self.status[pair.nodes[s]] else {
                    continue;
                };
                if pair.sides[1 - s].verified {
                    continue;
                }
                let since = a.max(b).max(*set_at).max(pair.disturbed);
                if now < since + HEARTBEAT_INTERVAL + DELAY_CAP {
                    continue;
                }
                self.cov.status_checks += 1;
                if pair.sides[1 - s].got.as_ref() != Some(sent) {
                    return Err(format!(
                        "link {:?}: node {} has not got node {}'s status {:?} of {:?} ago",
                        pair.nodes,
                        pair.nodes[1 - s],
                        pair.nodes[s],
                        sent.instances
                            .iter()
                            .map(|i| (i.state, i.effective_priority))
                            .collect::<Vec<_>>(),
                        now - *set_at
                    ));
                }
                pair.sides[1 - s].verified = true;
            }
        }
        Ok(())
    }
}

/// What a session tells the handover driver of its node.
#[derive(Debug)]
pub enum HandIn {
    /// Up; whether it speaks the handover (agreed version >= 2).
    Up(bool),
    Down,
    Msg(HandoverMsg),
}

/// What the handover driver sends on a session.
#[derive(Debug, Clone)]
pub enum HandOut {
    ReleaseRequest(u64),
    Released(u64, bool),
    Holding(u64),
}

impl LinkSim {
    /// Sends a handover message from node `n` to its peer (the first pair it is in: the
    /// handover runs with two nodes); lost when no session speaks it, as in the driver.
    pub fn send_handover(
        &mut self,
        now: Instant,
        n: usize,
        target: &str,
        msg: HandOut,
    ) -> Result<(), String> {
        let Some(p) = (0..self.pairs.len()).find(|p| self.pairs[*p].nodes.contains(&n)) else {
            return Ok(());
        };
        let s = usize::from(self.pairs[p].nodes[1] == n);
        if let Some((_, sess)) = self.pairs[p].sides[s].sess.as_mut() {
            let _ = match msg {
                HandOut::ReleaseRequest(g) => sess.send_release_request(target, g),
                HandOut::Released(g, stopping) => sess.send_released(target, g, stopping),
                HandOut::Holding(g) => sess.send_holding(target, g),
            };
        }
        self.drain(now, p, s);
        self.check_events(now, p, s)?;
        self.next = self.compute_next();
        Ok(())
    }
}

/// One node's status from its proto node: per instance state and priorities.
pub fn status_of(node: &Node, cfgs: &[InstanceConfig]) -> Status {
    Status {
        baton_version: "sim".into(),
        uptime_ms: 0,
        instances: (0..node.len())
            .map(|i| InstanceStatus {
                name: cfgs.get(i).map_or_else(String::new, |c| c.name.clone()),
                state: node.state(InstanceId(i)).into(),
                effective_priority: node.effective_priority(InstanceId(i)),
                base_priority: cfgs.get(i).map_or(0, |c| c.priority),
                last_reason: String::new(),
                in_state_ms: 0,
                tracked: vec![],
                hook_running: None,
                last_hook: None,
            })
            .collect(),
    }
}
