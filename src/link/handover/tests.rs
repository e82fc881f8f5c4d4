//! Every case of issue 11's list, on two machines in virtual time whose messages cross a
//! direct pipe (no delay unless a test holds them back). The two-node model with real
//! sessions and random schedules is in `model.rs`.

use std::time::{Duration, Instant};

use super::*;

const MDI: Duration = Duration::from_millis(360);
const MS: Duration = Duration::from_millis(1);

fn machine(target: &str, expect_link: bool) -> Handover {
    Handover::new(HandoverConfig::new(target, MDI, expect_link))
}

/// Node `a` (index 0) and node `b` (index 1), their outputs, and the pipe between them.
struct Duo {
    now: Instant,
    m: [Handover; 2],
    out: [Vec<Output>; 2],
    linked: bool,
    /// Messages are delivered only on `deliver()`, so a test can act while they fly.
    in_flight: Vec<(usize, Output)>,
}

const A: usize = 0;
const B: usize = 1;

impl Duo {
    fn linked() -> Self {
        let now = crate::test_clock::origin();
        let mut d = Duo {
            now,
            m: [machine("VI_1", true), machine("VI_1", true)],
            out: [Vec::new(), Vec::new()],
            linked: true,
            in_flight: Vec::new(),
        };
        d.m[A].link_up(now, true);
        d.m[B].link_up(now, true);
        d.drain();
        d
    }

    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            let next = self.m.iter().filter_map(Handover::next_deadline).min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    for m in &mut self.m {
                        m.handle_timeout(self.now);
                    }
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    /// Moves outputs into the logs and messages into flight.
    fn drain(&mut self) {
        for i in [A, B] {
            while let Some(o) = self.m[i].poll() {
                if self.linked
                    && matches!(
                        o,
                        Output::SendReleaseRequest { .. }
                            | Output::SendReleased { .. }
                            | Output::SendHolding { .. }
                    )
                {
                    self.in_flight.push((i, o.clone()));
                }
                self.out[i].push(o);
            }
        }
    }

    /// Delivers everything in flight (and what the answers send), as the link would.
    fn deliver(&mut self) {
        self.drain();
        while !self.in_flight.is_empty() {
            for (from, o) in std::mem::take(&mut self.in_flight) {
                let to = 1 - from;
                match o {
                    Output::SendReleaseRequest { generation, .. } => {
                        self.m[to].peer_release_request(self.now, generation)
                    }
                    Output::SendReleased {
                        generation,
                        stopping,
                        ..
                    } => self.m[to].peer_released(self.now, generation, stopping),
                    Output::SendHolding { generation, .. } => {
                        self.m[to].peer_holding(self.now, generation)
                    }
                    _ => {}
                }
            }
            self.drain();
        }
    }

    fn act(&mut self, i: usize, f: impl FnOnce(&mut Handover, Instant)) {
        f(&mut self.m[i], self.now);
        self.drain();
    }

    fn starts(&self, i: usize) -> Vec<(u64, StartReason)> {
        starts(&self.out[i])
    }

    fn cut(&mut self) {
        self.linked = false;
        self.in_flight.clear();
        let now = self.now;
        self.act(A, |m, _| m.link_down(now));
        self.act(B, |m, _| m.link_down(now));
    }
}

fn starts(out: &[Output]) -> Vec<(u64, StartReason)> {
    out.iter()
        .filter_map(|o| match o {
            Output::StartMasterHooks {
                generation, why, ..
            } => Some((*generation, *why)),
            _ => None,
        })
        .collect()
}

/// `a` is master and serving, as after it started with no peer master.
fn a_serving() -> Duo {
    let mut d = Duo::linked();
    d.act(A, Handover::entered_master);
    d.deliver();
    assert_eq!(d.starts(A), [(1, StartReason::Released)]);
    assert!(d.m[A].serving());
    d
}

#[test]
fn preemption_back_waits_for_the_old_masters_stop() {
    // b serves; a comes back with a higher priority and preempts it.
    let mut d = Duo::linked();
    d.act(B, Handover::entered_master);
    d.deliver();
    d.advance(Duration::from_secs(60));
    d.act(A, Handover::entered_master);
    d.deliver();
    assert!(d.starts(A).is_empty(), "held while b still serves");
    assert_eq!(
        d.m[A].hold().map(|h| h.for_what),
        Some(WaitingFor::PeerRelease)
    );
    assert!(d.m[B].peer_waiting_since().is_some());
    // b hears a's advert a moment later and stops its service (1 s).
    d.advance(3 * MS);
    d.act(B, Handover::left_master);
    d.deliver();
    d.advance(Duration::from_secs(1));
    assert!(d.starts(A).is_empty(), "b's stop hook is still running");
    d.act(B, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(d.starts(A), [(1, StartReason::Released)]);
    let waited = d.out[A].iter().find_map(|o| match o {
        Output::StartMasterHooks { waited, .. } => Some(*waited),
        _ => None,
    });
    assert_eq!(waited, Some(Duration::from_millis(1003)));
    assert!(d.m[B].peer_waiting_since().is_none());
}

#[test]
fn promote_with_the_old_master_already_leaving_answers_when_its_hooks_end() {
    let mut d = a_serving();
    // `baton promote` on b: a hears b's higher priority and leaves before b's request
    // arrives; the request finds a's stop hook running.
    d.act(B, Handover::entered_master);
    d.act(A, Handover::left_master);
    d.deliver();
    assert!(d.starts(B).is_empty());
    d.advance(Duration::from_millis(700));
    d.act(A, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(d.starts(B), [(1, StartReason::Released)]);
}

#[test]
fn demote_whose_stop_has_ended_is_answered_at_once() {
    let mut d = a_serving();
    // `baton demote` on a: it leaves first; its hooks end before b takes over.
    d.act(A, Handover::left_master);
    d.act(A, Handover::leaving_hooks_done);
    d.advance(MDI);
    d.act(B, Handover::entered_master);
    d.deliver();
    assert_eq!(d.starts(B), [(1, StartReason::Released)]);
    let released: Vec<_> = d.out[A]
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::SendReleased {
                    generation: 1,
                    stopping: false,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(released.len(), 1);
}

#[test]
fn failed_check_the_request_waits_while_the_old_master_still_serves() {
    let mut d = a_serving();
    // a's check fails: its lower-priority advert makes b (preempt) master at once, while a
    // is still MASTER until it reads b's advert.
    d.act(B, Handover::entered_master);
    d.deliver();
    assert!(d.m[A].peer_waiting_since().is_some() && d.starts(B).is_empty());
    d.advance(2 * MS);
    d.act(A, Handover::left_master);
    d.deliver();
    assert!(d.starts(B).is_empty());
    d.advance(Duration::from_secs(1));
    d.act(A, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(d.starts(B), [(1, StartReason::Released)]);
}

#[test]
fn planned_stop_releases_for_good_once_the_service_is_down() {
    let mut d = a_serving();
    d.act(A, Handover::stop);
    d.act(A, Handover::left_master);
    assert!(!d.m[A].released_for_good(), "stop hook still running");
    // a's priority-0 advert: b takes over at once; its request meets a's stop hook.
    d.act(B, Handover::peer_heard_on_vrrp);
    d.act(B, Handover::entered_master);
    d.deliver();
    assert!(d.starts(B).is_empty());
    d.advance(Duration::from_secs(1));
    d.act(A, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(d.starts(B), [(1, StartReason::PeerStopping)]);
    assert!(d.m[A].released_for_good());
    // One release, for good; then a closes the link and b keeps serving.
    let sent: Vec<_> = d.out[A]
        .iter()
        .filter(|o| matches!(o, Output::SendReleased { .. }))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    d.cut();
    assert!(d.m[B].serving());
}

#[test]
fn planned_stop_whose_release_came_first_lets_the_next_master_start_at_once() {
    // a has no stop hook: its release for good is sent before b has even entered MASTER,
    // and the link closes; b then starts without waiting for a silence on VRRP.
    let mut d = a_serving();
    d.act(A, Handover::stop);
    d.act(A, Handover::left_master);
    d.act(A, Handover::leaving_hooks_done);
    d.act(B, Handover::peer_heard_on_vrrp);
    d.deliver();
    d.cut();
    d.act(B, Handover::entered_master);
    assert_eq!(d.starts(B), [(1, StartReason::PeerStopping)]);
}

#[test]
fn a_link_cut_mid_handover_is_taken_as_the_peers_crash() {
    let mut d = a_serving();
    d.act(B, Handover::peer_heard_on_vrrp);
    d.advance(Duration::from_secs(1));
    d.act(B, Handover::entered_master);
    d.act(A, Handover::left_master);
    d.deliver();
    assert!(d.starts(B).is_empty());
    // The link breaks while a stops; a is silent on VRRP (it is BACKUP) since 1 s.
    d.cut();
    assert_eq!(d.starts(B), [(1, StartReason::PeerGone)]);
}

#[test]
fn with_the_link_down_a_peer_still_advertising_is_waited_for() {
    let mut d = a_serving();
    d.cut();
    d.act(B, Handover::peer_heard_on_vrrp);
    d.act(B, Handover::entered_master);
    let hold = d.m[B].hold().unwrap();
    assert_eq!(hold.for_what, WaitingFor::LinkDown);
    assert_eq!(hold.until, d.now + MDI);
    let waiting = d.out[B]
        .iter()
        .filter(|o| matches!(o, Output::Waiting { .. }));
    assert_eq!(waiting.count(), 1);
    // a keeps advertising (both MASTER): each advert moves the end of the hold, up to
    // handover_timeout.
    for _ in 0..200 {
        d.advance(Duration::from_millis(100));
        d.act(B, Handover::peer_heard_on_vrrp);
    }
    assert_eq!(d.starts(B), [(1, StartReason::TimedOut { link_up: false })]);
    let waited = d.out[B].iter().find_map(|o| match o {
        Output::StartMasterHooks { waited, .. } => Some(*waited),
        _ => None,
    });
    assert_eq!(waited, Some(HANDOVER_TIMEOUT_DEFAULT));
    // Had a fallen silent, b would have started a master-down interval after its last
    // advert.
    let mut d = a_serving();
    d.cut();
    d.act(B, Handover::peer_heard_on_vrrp);
    d.act(B, Handover::entered_master);
    d.advance(MDI - MS);
    assert!(d.starts(B).is_empty());
    d.advance(MS);
    assert_eq!(d.starts(B), [(1, StartReason::PeerGone)]);
}

#[test]
fn the_peer_crashing_while_it_stops_releases_nothing_and_costs_nothing() {
    let mut d = a_serving();
    d.act(B, Handover::peer_heard_on_vrrp);
    d.act(A, Handover::stop);
    d.act(A, Handover::left_master);
    d.act(B, Handover::entered_master);
    d.deliver();
    // a dies in its stop hook: the link closes, and a has been silent on VRRP since its
    // priority-0 advert.
    d.advance(MDI);
    d.cut();
    assert_eq!(d.starts(B), [(1, StartReason::PeerGone)]);
}

#[test]
fn both_entering_master_at_once_wait_for_vrrp_to_pick_one() {
    let mut d = Duo::linked();
    d.act(A, Handover::entered_master);
    d.act(B, Handover::entered_master);
    d.deliver();
    for i in [A, B] {
        assert!(d.starts(i).is_empty());
        assert_eq!(
            d.m[i].hold().map(|h| h.for_what),
            Some(WaitingFor::BothMaster)
        );
    }
    // VRRP settles: a has the lower priority and becomes BACKUP; it never started, so it
    // releases at once, before its own notify_backup has even run.
    d.advance(Duration::from_millis(100));
    d.act(A, Handover::left_master);
    d.deliver();
    assert_eq!(d.starts(B), [(1, StartReason::Released)]);
    assert!(d.starts(A).is_empty() && !d.m[A].serving());
    // a's request is answered only once b's service is down.
    assert!(d.m[B].peer_waiting_since().is_some());
    d.act(A, Handover::leaving_hooks_done);
    assert!(d.starts(A).is_empty());
}

#[test]
fn with_no_link_at_all_master_hooks_start_at_once_as_today() {
    let now = crate::test_clock::origin();
    for mut m in [machine("VI_1", false), machine("G1", true)] {
        // Not linked (a keepalived peer), or expected but never heard on VRRP either.
        m.entered_master(now);
        assert_eq!(m.next_deadline(), None);
        let why = if m.target() == "G1" {
            StartReason::PeerGone
        } else {
            StartReason::NoPeer
        };
        assert_eq!(
            starts(&std::iter::from_fn(|| m.poll()).collect::<Vec<_>>()),
            [(1, why)]
        );
    }
    // A keepalived peer heard on VRRP changes nothing.
    let mut m = machine("VI_1", false);
    m.peer_heard_on_vrrp(now);
    m.entered_master(now);
    let out: Vec<_> = std::iter::from_fn(|| m.poll()).collect();
    assert_eq!(starts(&out), [(1, StartReason::NoPeer)]);
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::SendReleaseRequest { .. }))
    );
    // A baton peer that speaks link version 1: as unlinked.
    let mut m = machine("VI_1", true);
    m.link_up(now, false);
    m.peer_heard_on_vrrp(now);
    m.entered_master(now);
    let out: Vec<_> = std::iter::from_fn(|| m.poll()).collect();
    assert_eq!(starts(&out), [(1, StartReason::NoPeer)]);
}

#[test]
fn a_stale_release_for_an_older_mastership_is_ignored() {
    let mut d = a_serving();
    d.act(B, Handover::entered_master);
    d.deliver();
    // b's first mastership ends before a's answer; b enters MASTER again.
    d.act(B, Handover::left_master);
    d.act(B, Handover::entered_master);
    // a's answer to the first request arrives only now.
    d.act(B, |m, now| m.peer_released(now, 1, false));
    assert!(
        d.starts(B).is_empty(),
        "release of generation 1 started generation 2"
    );
    d.act(B, |m, now| m.peer_released(now, 3, false));
    assert!(d.starts(B).is_empty());
    d.act(A, Handover::left_master);
    d.act(A, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(d.starts(B), [(2, StartReason::Released)]);
}

#[test]
fn a_peer_that_never_answers_is_waited_for_no_longer_than_handover_timeout() {
    let mut d = a_serving();
    d.act(B, Handover::entered_master);
    d.deliver();
    assert_eq!(
        d.m[B].next_deadline(),
        Some(d.now + HANDOVER_TIMEOUT_DEFAULT)
    );
    // a keeps serving (its stop hook hangs, or VRRP left both MASTER).
    d.advance(HANDOVER_TIMEOUT_DEFAULT - MS);
    assert!(d.starts(B).is_empty());
    d.advance(MS);
    assert_eq!(d.starts(B), [(1, StartReason::TimedOut { link_up: true })]);
    assert_eq!(d.m[B].next_deadline(), None);
    // Shorter when configured so, also for a hold already running.
    let mut d = a_serving();
    d.act(B, Handover::entered_master);
    d.deliver();
    let (now, mdi) = (d.now, MDI);
    d.act(B, |m, _| m.set_times(now, Duration::from_secs(2), mdi));
    d.advance(Duration::from_secs(2));
    assert_eq!(d.starts(B), [(1, StartReason::TimedOut { link_up: true })]);
}

#[test]
fn a_link_that_comes_back_during_a_hold_asks_again() {
    let mut d = a_serving();
    d.cut();
    d.act(B, Handover::peer_heard_on_vrrp);
    d.act(B, Handover::entered_master);
    assert!(d.starts(B).is_empty());
    d.linked = true;
    let now = d.now;
    d.act(A, |m, _| m.link_up(now, true));
    d.act(B, |m, _| m.link_up(now, true));
    let asks = d.out[B]
        .iter()
        .filter(|o| matches!(o, Output::SendReleaseRequest { generation: 1, .. }))
        .count();
    assert_eq!(asks, 1);
    d.act(A, Handover::left_master);
    d.act(A, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(d.starts(B), [(1, StartReason::Released)]);
}

#[test]
fn leaving_hooks_are_matched_in_order_so_a_no_op_stop_cannot_release_a_real_one() {
    // a: held mastership 1 ends unstarted (its notify_backup queued), mastership 2 starts
    // and ends; the first notify_backup ending must not release mastership 2's service.
    let mut d = Duo::linked();
    d.act(B, Handover::entered_master);
    d.deliver();
    d.act(A, Handover::entered_master);
    d.deliver();
    d.act(A, Handover::left_master);
    d.act(B, Handover::left_master);
    d.act(B, Handover::leaving_hooks_done);
    d.act(A, Handover::entered_master);
    d.deliver();
    assert_eq!(d.starts(A), [(2, StartReason::Released)]);
    d.act(A, Handover::left_master);
    d.act(B, Handover::entered_master);
    d.deliver();
    d.act(A, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(
        d.starts(B),
        [(1, StartReason::Released)],
        "b's first start only"
    );
    assert!(d.m[A].serving());
    d.act(A, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(d.starts(B).len(), 2);
}

#[test]
fn a_host_that_crashed_on_an_up_link_is_given_up_once_silent_and_unanswered() {
    let mut d = a_serving();
    // a's host dies: its last advert, then nothing; its link still looks up (the dead
    // time is seconds away) but carries nothing any more.
    d.act(B, Handover::peer_heard_on_vrrp);
    d.linked = false;
    d.advance(MDI);
    d.act(B, Handover::entered_master);
    assert!(
        d.starts(B).is_empty(),
        "a live peer answers within the window"
    );
    d.advance(ANSWER_WINDOW - MS);
    assert!(d.starts(B).is_empty());
    d.advance(MS);
    assert_eq!(d.starts(B), [(1, StartReason::PeerSilent)]);
}

#[test]
fn a_peer_silent_on_vrrp_that_answers_is_waited_for() {
    let mut d = a_serving();
    d.act(B, Handover::peer_heard_on_vrrp);
    // a leaves MASTER without a priority 0 advert; its stop runs on past b's takeover.
    d.act(A, Handover::left_master);
    d.advance(MDI);
    d.act(B, Handover::entered_master);
    d.deliver();
    assert!(
        d.out[A]
            .iter()
            .any(|o| matches!(o, Output::SendHolding { generation: 1, .. })),
        "a says it got the request: {:?}",
        d.out[A]
    );
    d.advance(Duration::from_millis(800));
    assert!(d.starts(B).is_empty(), "a is alive and still stopping");
    d.act(A, Handover::leaving_hooks_done);
    d.deliver();
    assert_eq!(d.starts(B), [(1, StartReason::Released)]);
}
