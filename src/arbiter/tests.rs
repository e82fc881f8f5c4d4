use std::time::{Duration, Instant};

use super::*;

const TTL: Duration = Duration::from_secs(3);

fn config(etcd_down: EtcdDown) -> ArbiterConfig {
    ArbiterConfig {
        target: "VI_1".into(),
        election: "/baton/VI_1/".into(),
        name: "a".into(),
        ttl: TTL,
        drift: 0.01,
        margin: Duration::from_millis(500),
        request_timeout: Duration::from_millis(700),
        etcd_down,
    }
}

/// A machine and its clock; every step checks that the next timer is not in the past.
struct T {
    m: Arbiter,
    now: Instant,
}

impl T {
    fn new(etcd_down: EtcdDown) -> T {
        T {
            m: Arbiter::new(config(etcd_down)),
            now: Instant::now(),
        }
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        self.m.handle(self.now, input);
        let out: Vec<Output> = std::iter::from_fn(|| self.m.poll()).collect();
        if let Some(t) = self.m.next_deadline() {
            assert!(t > self.now, "a timer in the past: {:?}", self.now - t);
        }
        out
    }

    fn advance(&mut self, by: Duration) -> Vec<Output> {
        self.now += by;
        self.input(Input::Timer)
    }

    /// Runs the clock to the next timer.
    fn tick(&mut self) -> Vec<Output> {
        let t = self.m.next_deadline().expect("a timer");
        self.now = t;
        self.input(Input::Timer)
    }

    fn reply(&mut self, id: RequestId, reply: Reply) -> Vec<Output> {
        self.input(Input::Reply { id, reply })
    }

    /// Started and granted lease 0x10.
    fn granted(etcd_down: EtcdDown) -> T {
        let mut t = T::new(etcd_down);
        let out = t.input(Input::Timer);
        assert!(out.contains(&Output::Command(Command::Watch {
            election: "/baton/VI_1/".into()
        })));
        let id = grant_id(&out);
        let out = t.reply(
            id,
            Reply::Granted {
                lease: 0x10,
                ttl: TTL,
            },
        );
        assert!(
            matches!(out[..], [Output::Healthy { healthy: true, .. }]),
            "{out:?}"
        );
        t
    }

    /// Granted, wants to serve, and its key leads.
    fn serving(etcd_down: EtcdDown) -> T {
        let mut t = T::granted(etcd_down);
        let out = t.input(Input::Want(true));
        let id = campaign_id(&out);
        let out = t.reply(id, campaigned(7, Some(leader("/baton/VI_1/10", 7)), 7));
        assert_eq!(out, vec![Output::Serving(true)]);
        assert_eq!(t.m.token(), Some(7));
        t
    }
}

fn leader(key: &str, revision: i64) -> Leader {
    Leader {
        key: key.into(),
        name: "x".into(),
        revision,
    }
}

fn campaigned(revision: i64, leader: Option<Leader>, read: i64) -> Reply {
    Reply::Campaigned {
        revision,
        leader,
        read,
    }
}

fn grant_id(out: &[Output]) -> RequestId {
    out.iter()
        .find_map(|o| match o {
            Output::Command(Command::Grant { id, .. }) => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no grant in {out:?}"))
}

fn campaign_id(out: &[Output]) -> RequestId {
    out.iter()
        .find_map(|o| match o {
            Output::Command(Command::Campaign { id, key, lease, .. }) => {
                assert_eq!((key.as_str(), *lease), ("/baton/VI_1/10", 0x10));
                Some(*id)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no campaign in {out:?}"))
}

fn keepalive_id(out: &[Output]) -> Option<RequestId> {
    out.iter().find_map(|o| match o {
        Output::Command(Command::KeepAlive { id, .. }) => Some(*id),
        _ => None,
    })
}

#[test]
fn the_bound_is_below_the_ttl_by_the_drift_and_the_margin() {
    let s = Instant::now();
    let d = deadline(s, Duration::from_secs(10), 0.01, Duration::from_secs(1));
    // 10 s · 0.99 / 1.01 = 9.802 s, less the margin.
    let got = (d - s).as_millis();
    assert!((8801..=8803).contains(&got), "{got}");
    // A silly drift is clamped, never a panic.
    let _ = deadline(s, Duration::from_secs(1), f64::NAN, Duration::from_secs(5));
    assert_eq!(
        deadline(s, Duration::from_secs(1), 0.0, Duration::from_secs(5)),
        s
    );
}

#[test]
fn keep_alives_go_every_third_of_the_ttl_and_move_the_bound() {
    let mut t = T::granted(EtcdDown::Stop);
    let (granted_at, first) = (t.now, t.m.deadline().expect("a deadline"));
    let out = t.tick();
    assert_eq!(t.now - granted_at, TTL / 3);
    let id = keepalive_id(&out).expect("a keep-alive");
    t.advance(Duration::from_millis(20));
    let out = t.reply(id, Reply::KeptAlive { ttl: TTL });
    assert!(out.is_empty(), "{out:?}");
    assert!(t.m.deadline().expect("a deadline") > first);
    assert!(t.m.healthy());
}

#[test]
fn elected_only_while_wanted_and_the_key_leads() {
    let mut t = T::granted(EtcdDown::Stop);
    let out = t.input(Input::Want(true));
    let id = campaign_id(&out);
    // Someone else leads: a candidate, not serving.
    let out = t.reply(id, campaigned(9, Some(leader("/baton/VI_1/20", 4)), 9));
    assert!(out.is_empty(), "{out:?}");
    assert!(!t.m.serving());
    assert!(t.m.phase_text(t.now).contains("waiting"));
    // The leader resigns: this key leads now.
    let out = t.input(Input::LeaderChanged {
        leader: Some(leader("/baton/VI_1/10", 9)),
        read: 11,
    });
    assert_eq!(out, vec![Output::Serving(true)]);
    // A report older than the one taken changes nothing.
    let out = t.input(Input::LeaderChanged {
        leader: Some(leader("/baton/VI_1/20", 4)),
        read: 10,
    });
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(t.m.token(), Some(9));
    // Not wanted any more: serving ends, and the key goes.
    let out = t.input(Input::Want(false));
    assert_eq!(out[0], Output::Serving(false));
    assert!(
        matches!(&out[1], Output::Command(Command::Resign { key, .. }) if key == "/baton/VI_1/10")
    );
}

#[test]
fn out_of_touch_serving_stops_before_the_lease_can_expire() {
    let mut t = T::serving(EtcdDown::Stop);
    let granted_at = t.now;
    // No keep-alive is ever answered.
    let mut stopped = None;
    while stopped.is_none() {
        let out = t.tick();
        assert!(t.now < granted_at + TTL, "still serving at the TTL");
        if out.contains(&Output::Serving(false)) {
            stopped = Some(t.now);
            assert!(
                out.iter()
                    .any(|o| matches!(o, Output::Healthy { healthy: false, .. }))
            );
        }
    }
    let at = stopped.expect("stopped") - granted_at;
    // 3 s · 0.99/1.01 − 0.5 s.
    assert!(
        at <= Duration::from_millis(2441) && at >= Duration::from_millis(2400),
        "{at:?}"
    );
    assert!(!t.m.serving());
    // Timed-out requests moved the driver along.
    assert!(t.m.phase_text(t.now).contains("out of touch"));
}

#[test]
fn etcd_down_keep_lets_a_serving_node_go_on_but_never_starts_one() {
    let mut t = T::serving(EtcdDown::Keep);
    let end = t.now + TTL * 2;
    while t.now < end {
        let out = t.tick();
        assert!(!out.contains(&Output::Serving(false)), "{out:?}");
    }
    assert!(t.m.serving() && t.m.healthy());
    assert!(t.m.phase_text(t.now).contains("keep"));
    // A node that was not serving is out of touch as usual.
    let mut t = T::granted(EtcdDown::Keep);
    let end = t.now + TTL * 2;
    let mut unhealthy = false;
    while t.now < end {
        let out = t.tick();
        unhealthy |= out
            .iter()
            .any(|o| matches!(o, Output::Healthy { healthy: false, .. }));
    }
    assert!(unhealthy && !t.m.healthy());
    let out = t.input(Input::Want(true));
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Command(Command::Campaign { .. })))
    );
}

#[test]
fn a_lease_gone_on_etcd_stops_serving_and_asks_for_another() {
    let mut t = T::serving(EtcdDown::Keep);
    let out = t.tick();
    let id = keepalive_id(&out).expect("a keep-alive");
    let out = t.reply(
        id,
        Reply::KeptAlive {
            ttl: Duration::ZERO,
        },
    );
    assert!(out.contains(&Output::Serving(false)), "{out:?}");
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Healthy { healthy: false, .. }))
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Command(Command::Grant { .. })))
    );
    assert_eq!(t.m.token(), None);
}

#[test]
fn a_request_unanswered_moves_to_the_next_endpoint_and_is_asked_again() {
    let mut t = T::new(EtcdDown::Stop);
    let out = t.input(Input::Timer);
    let first = grant_id(&out);
    let out = t.advance(Duration::from_millis(700));
    assert!(
        out.contains(&Output::Command(Command::NextEndpoint)),
        "{out:?}"
    );
    let again = grant_id(&out);
    assert_ne!(first, again);
    // The late answer to the first is ignored.
    let out = t.reply(first, Reply::Granted { lease: 1, ttl: TTL });
    assert!(out.is_empty() && t.m.lease().is_none());
}

#[test]
fn a_failed_campaign_is_asked_again_and_a_key_that_went_is_noticed() {
    let mut t = T::granted(EtcdDown::Stop);
    let out = t.input(Input::Want(true));
    let id = campaign_id(&out);
    let out = t.input(Input::Failed {
        id,
        error: "transport".into(),
    });
    assert!(out.is_empty());
    let out = t.tick();
    let id = campaign_id(&out);
    let out = t.reply(id, campaigned(5, Some(leader("/baton/VI_1/10", 5)), 5));
    assert_eq!(out, vec![Output::Serving(true)]);
    // The election shows nobody (the key was deleted behind this node's back).
    let out = t.input(Input::LeaderChanged {
        leader: None,
        read: 8,
    });
    assert_eq!(out[0], Output::Serving(false));
    campaign_id(&out);
}

#[test]
fn stop_resigns_then_revokes() {
    let mut t = T::serving(EtcdDown::Stop);
    let out = t.input(Input::Stop);
    assert_eq!(out[0], Output::Serving(false));
    let id = out
        .iter()
        .find_map(|o| match o {
            Output::Command(Command::Resign { id, .. }) => Some(*id),
            _ => None,
        })
        .expect("a resignation");
    let out = t.reply(id, Reply::Resigned);
    assert!(out.contains(&Output::Command(Command::Unwatch)), "{out:?}");
    let id = out
        .iter()
        .find_map(|o| match o {
            Output::Command(Command::Revoke { id, lease }) if *lease == 0x10 => Some(*id),
            _ => None,
        })
        .expect("a revocation");
    t.reply(id, Reply::Revoked);
    assert_eq!(t.m.phase_text(t.now), "stopped");
    assert_eq!(t.m.next_deadline(), None);
}
