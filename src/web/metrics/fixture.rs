//! A status for the metrics tests: two instances (one MASTER with two addresses and an
//! excluded one, one BACKUP without any), a script, hooks, a linked peer and a pending
//! one, a handover and a synced directory, with names that need escaping.
#![allow(clippy::unwrap_used)]

use crate::control::{HookCount, InstanceStatus, ScriptView, Status, TransitionView};
use crate::proto::Stats;

use super::{InstanceFacts, NodeFacts};

pub(super) fn instance(name: &str, state: &str, vrid: u8, vips: &[&str]) -> InstanceStatus {
    InstanceStatus {
        name: name.into(),
        state: state.into(),
        interface: "eth0".into(),
        vrid,
        version: 3,
        priority: 150,
        effective_priority: 140,
        master: None,
        virtual_addresses: vips.iter().map(|v| v.to_string()).collect(),
        in_state_ms: 12_500,
        last_reason: "master down timer expired".into(),
        operator: None,
        stats: Stats {
            adverts_sent: 100,
            adverts_received: 7,
            became_master: 2,
            released_master: 1,
            auth_errors: 4,
            checksum_errors: 3,
            priority_zero_sent: 1,
            ..Stats::default()
        },
        excluded_addresses: Vec::new(),
        transitions: vec![TransitionView {
            from: "BACKUP".into(),
            to: state.into(),
            reason: "master down timer expired".into(),
            priority: 140,
            at_unix_ms: 1_700_000_000_000,
            ago_ms: 12_500,
        }],
    }
}

/// Two instances (one MASTER with two addresses and an excluded one, one BACKUP without
/// any), a script, hooks, a linked peer, a handover and a synced directory, with names
/// that need escaping.
pub(super) fn fixture() -> (Status, NodeFacts) {
    let mut a = instance("VI_1", "MASTER", 51, &["10.0.0.100/24", "fd00::100/64"]);
    a.excluded_addresses = vec!["192.168.9.9/32".into()];
    let mut b = instance("odd \"name\"\\\nx", "BACKUP", 52, &[]);
    b.interface = "-".into();
    b.operator = Some("demoted".into());
    let status = Status {
        router_id: "node-a".into(),
        config_file: "/etc/keepalived/keepalived.conf".into(),
        config_digest: "abc123".into(),
        pid: 1,
        uptime_ms: 60_000,
        instances: vec![a, b],
        groups: Vec::new(),
        tracks: Vec::new(),
        unknown_vrids: Vec::new(),
        link: serde_json::from_value(serde_json::json!({
            "node_id": "a",
            "peers": [{
                "address": "10.0.0.2", "node_id": "b", "link": "up", "rtt_us": 250,
                "last_heard_ms_ago": 300,
                "config": {"matches": false, "differences": [
                    {"instance": "VI_1", "field": "vrid", "ours": "51", "theirs": "52"}]},
                "status": {"baton_version": "0.1.0", "uptime_ms": 5, "instances": [
                    {"name": "VI_1", "state": "BACKUP", "effective_priority": 100,
                     "base_priority": 100, "last_reason": "x", "in_state_ms": 1}]},
                "refused": {"bad_hello": 2}
            }, {"address": "10.0.0.3", "link": "pending trust (ours)"}],
            "refused": {"not_a_peer": 5}
        }))
        .unwrap(),
        handover: vec![crate::control::HandoverView {
            target: "VI_1".into(),
            master: true,
            serving: true,
            holding_ms: None,
            waiting_for: None,
            at_most_ms: None,
            peer_waiting_ms: Some(1500),
        }],
        sync: vec![crate::sync::DirStatus {
            dir: "/opt/neuronex/data".into(),
            target: "VI_1".into(),
            role: "source".into(),
            generation: Some(7),
            peer_generation: Some(6),
            lag_ms: Some(250),
            ..Default::default()
        }],
        scripts: vec![ScriptView {
            name: "chk".into(),
            status: "up".into(),
            running: true,
            disabled: None,
            runs: 9,
            last_result: Some("exit 0".into()),
            last_duration_ms: Some(12),
            seconds: 0.108,
            consecutive: 9,
        }],
        hooks: Vec::new(),
        hook_counts: vec![HookCount {
            hook: "notify_master".into(),
            outcome: "ok".into(),
            runs: 2,
            seconds: 0.5,
        }],
        arbiter: vec![crate::control::ArbiterView {
            target: "VI_1".into(),
            mode: "vrrp".into(),
            etcd_down: "stop".into(),
            endpoint: "http://10.0.9.1:2379".into(),
            healthy: true,
            serving: true,
            token: Some(42),
            leader: Some("lb1".into()),
            leader_token: Some(42),
            lease_ttl_ms: Some(5_000),
            lease_left_ms: Some(3_400),
            phase: "leader (token 42)".into(),
        }],
    };
    let mut facts = NodeFacts::default();
    facts.instances.insert(
        "VI_1".into(),
        InstanceFacts {
            garp_delay_secs: 5.0,
            address_dev: [("fd00::100/64".to_string(), "eth1".to_string())].into(),
        },
    );
    (status, facts)
}
