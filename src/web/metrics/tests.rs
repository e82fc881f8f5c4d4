#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};

use openmetrics_parser::PrometheusValue;
use openmetrics_parser::prometheus::parse_prometheus;

use super::fixture::fixture;
use super::*;

/// Every family the exporter (mehdy/keepalived-exporter, internal/collector/collector.go)
/// declares, but its own per-address check script (`keepalived_exporter_check_script_status`,
/// which it runs itself when given `--cs`).
pub(crate) const EXPORTER: &[&str] = &[
    "keepalived_up",
    "keepalived_vrrp_state",
    "keepalived_vrrp_excluded_state",
    "keepalived_gratuitous_arp_delay_total",
    "keepalived_advertisements_received_total",
    "keepalived_advertisements_sent_total",
    "keepalived_become_master_total",
    "keepalived_release_master_total",
    "keepalived_packet_length_errors_total",
    "keepalived_advertisements_interval_errors_total",
    "keepalived_ip_ttl_errors_total",
    "keepalived_invalid_type_received_total",
    "keepalived_address_list_errors_total",
    "keepalived_authentication_invalid_total",
    "keepalived_authentication_mismatch_total",
    "keepalived_authentication_failure_total",
    "keepalived_priority_zero_received_total",
    "keepalived_priority_zero_sent_total",
    "keepalived_script_status",
    "keepalived_script_state",
];

/// Every metric the exporter's bundled dashboard (grafana/dashboards/keepalived-exporter.json)
/// queries, but `keepalived_check_script_status` (the exporter's own check script).
pub(crate) const DASHBOARD: &[&str] = &[
    "keepalived_up",
    "keepalived_script_status",
    "keepalived_script_state",
    "keepalived_vrrp_state",
    "keepalived_release_master",
    "keepalived_become_master",
    "keepalived_advert_rcvd",
    "keepalived_advert_sent",
    "keepalived_pri_zero_rcvd",
    "keepalived_pri_zero_sent",
    "keepalived_packet_len_err",
    "keepalived_advert_interval_err",
    "keepalived_ip_ttl_err",
    "keepalived_addr_list_err",
    "keepalived_invalid_type_rcvd",
    "keepalived_garp_delay",
    "keepalived_invalid_authtype",
    "keepalived_authtype_mismatch",
    "keepalived_auth_failure",
];

/// One sample as the parser read it.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The scrape read by a strict text-format parser: family name -> (type, samples).
fn scrape(text: &str) -> HashMap<String, (String, Vec<Series>)> {
    let parsed = parse_prometheus(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let mut out = HashMap::new();
    for (name, fam) in &parsed.families {
        let mut samples = Vec::new();
        for s in fam.iter_samples() {
            let set = s.get_labelset().unwrap();
            let labels = set
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>();
            let value = match &s.value {
                PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
                PrometheusValue::Counter(c) => c.value.as_f64(),
                other => panic!("{name}: {other:?}"),
            };
            samples.push(Series { labels, value });
        }
        out.insert(name.clone(), (fam.family_type.to_string(), samples));
    }
    out
}

fn find<'a>(s: &'a [Series], pairs: &[(&str, &str)]) -> Vec<&'a Series> {
    s.iter()
        .filter(|x| {
            pairs
                .iter()
                .all(|(k, v)| x.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

#[test]
fn every_exporter_and_dashboard_family_is_there_with_its_type() {
    let (st, facts) = fixture();
    let text = render(&st, &facts);
    let s = scrape(&text);
    for name in EXPORTER.iter().chain(DASHBOARD) {
        let (kind, samples) = s
            .get(*name)
            .unwrap_or_else(|| panic!("{name} missing\n{text}"));
        let want =
            if name.ends_with("_state") || name.ends_with("_status") || *name == "keepalived_up" {
                "gauge"
            } else {
                "counter"
            };
        assert_eq!(kind, want, "{name}");
        assert!(!samples.is_empty() || name.contains("excluded"), "{name}");
    }
}

#[test]
fn states_are_encoded_per_address_as_the_exporter_does() {
    let (st, facts) = fixture();
    let s = scrape(&render(&st, &facts));
    let state = &s["keepalived_vrrp_state"].1;
    assert_eq!(state.len(), 3, "{state:?}");
    let v4 = find(state, &[("iname", "VI_1"), ("ip_address", "10.0.0.100/24")]);
    assert_eq!(v4.len(), 1);
    assert_eq!((v4[0].value, v4[0].labels["intf"].as_str()), (2.0, "eth0"));
    assert_eq!(v4[0].labels["vrid"], "51");
    // An address with its own dev is labelled with it.
    let v6 = find(state, &[("ip_address", "fd00::100/64")]);
    assert_eq!((v6[0].value, v6[0].labels["intf"].as_str()), (2.0, "eth1"));
    // No address: one series with an empty one; an unknown interface is empty too.
    let b = find(state, &[("iname", "odd \"name\"\\\nx")]);
    assert_eq!(b.len(), 1, "{state:?}");
    assert_eq!((b[0].value, b[0].labels["ip_address"].as_str()), (1.0, ""));
    assert_eq!(b[0].labels["intf"], "");
    let ex = &s["keepalived_vrrp_excluded_state"].1;
    assert_eq!(ex.len(), 1);
    assert_eq!(
        (ex[0].value, ex[0].labels["ip_address"].as_str()),
        (2.0, "192.168.9.9/32")
    );
    for (word, n) in [
        ("INIT", 0),
        ("BACKUP", 1),
        ("MASTER", 2),
        ("FAULT", 3),
        ("STOP", 0),
    ] {
        assert_eq!(state_value(word), n, "{word}");
    }
}

#[test]
fn counters_carry_baton_stats_and_what_baton_cannot_tell_is_zero() {
    let (st, facts) = fixture();
    let s = scrape(&render(&st, &facts));
    let one = |name: &str| {
        let f = &s[name].1;
        let x = find(f, &[("iname", "VI_1"), ("intf", "eth0"), ("vrid", "51")]);
        assert_eq!(x.len(), 1, "{name}: {f:?}");
        assert_eq!(
            x[0].labels.len(),
            if name.ends_with("_total") { 3 } else { 4 },
            "{name}"
        );
        x[0].value
    };
    assert_eq!(one("keepalived_advertisements_sent_total"), 100.0);
    assert_eq!(one("keepalived_advertisements_received_total"), 7.0);
    assert_eq!(one("keepalived_become_master_total"), 2.0);
    assert_eq!(one("keepalived_release_master_total"), 1.0);
    assert_eq!(one("keepalived_authentication_failure_total"), 4.0);
    assert_eq!(one("keepalived_authentication_invalid_total"), 0.0);
    assert_eq!(one("keepalived_authentication_mismatch_total"), 0.0);
    assert_eq!(one("keepalived_priority_zero_sent_total"), 1.0);
    assert_eq!(one("keepalived_gratuitous_arp_delay_total"), 5.0);
    assert_eq!(one("keepalived_advert_sent"), 100.0);
    assert_eq!(one("keepalived_garp_delay"), 5.0);
    let legacy = find(&s["keepalived_auth_failure"].1, &[("iname", "VI_1")]);
    assert_eq!(legacy[0].labels["state"], "MASTER");
    let scripts = &s["keepalived_script_status"].1;
    assert_eq!(
        (scripts[0].labels["name"].as_str(), scripts[0].value),
        ("chk", 1.0)
    );
    assert_eq!(s["keepalived_script_state"].1[0].value, 1.0);
    assert_eq!(s["keepalived_up"].1[0].value, 1.0);
}

#[test]
fn baton_series_show_priorities_transitions_hooks_link_handover_and_sync() {
    let (st, facts) = fixture();
    let s = scrape(&render(&st, &facts));
    let get = |name: &str, pairs: &[(&str, &str)]| {
        let f = &s.get(name).unwrap_or_else(|| panic!("{name} missing")).1;
        let x = find(f, pairs);
        assert_eq!(x.len(), 1, "{name} {pairs:?}: {f:?}");
        x[0].value
    };
    assert_eq!(get("baton_instance_priority", &[("iname", "VI_1")]), 150.0);
    assert_eq!(
        get("baton_instance_effective_priority", &[("iname", "VI_1")]),
        140.0
    );
    assert_eq!(
        get("baton_instance_state_seconds", &[("iname", "VI_1")]),
        12.5
    );
    let why = [
        ("iname", "VI_1"),
        ("from", "BACKUP"),
        ("to", "MASTER"),
        ("reason", "master down timer expired"),
    ];
    assert_eq!(get("baton_last_transition_info", &why), 1.0);
    assert_eq!(
        get(
            "baton_last_transition_timestamp_seconds",
            &[("iname", "VI_1")]
        ),
        1.7e9
    );
    assert_eq!(
        get(
            "baton_instance_operator_override",
            &[("override", "demoted")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "baton_packet_errors_total",
            &[("iname", "VI_1"), ("kind", "checksum")]
        ),
        3.0
    );
    assert_eq!(
        get(
            "baton_hook_runs_total",
            &[("hook", "notify_master"), ("outcome", "ok")]
        ),
        2.0
    );
    assert_eq!(
        get("baton_hook_seconds_total", &[("hook", "notify_master")]),
        0.5
    );
    assert_eq!(get("baton_script_seconds_total", &[("name", "chk")]), 0.108);
    assert_eq!(
        get("baton_script_last_duration_seconds", &[("name", "chk")]),
        0.012
    );
    let b = [("peer", "10.0.0.2"), ("node_id", "b")];
    assert_eq!(get("baton_link_up", &b), 1.0);
    assert_eq!(get("baton_link_rtt_seconds", &b), 0.00025);
    assert_eq!(get("baton_peer_config_match", &b), 0.0);
    assert_eq!(get("baton_peer_config_differences", &b), 1.0);
    assert_eq!(
        get(
            "baton_peer_instance_state",
            &[("peer", "10.0.0.2"), ("iname", "VI_1")]
        ),
        1.0
    );
    let c = [("peer", "10.0.0.3"), ("node_id", "")];
    assert_eq!(get("baton_link_up", &c), 0.0);
    let pending = [c[0], ("state", "pending trust (ours)")];
    assert_eq!(get("baton_link_state", &pending), 1.0);
    assert_eq!(get("baton_link_state", &[c[0], ("state", "up")]), 0.0);
    assert_eq!(s["baton_link_state"].1.len(), 2 * LINK_STATE_COUNT);
    assert!(
        !s.contains_key("baton_peer_config_match")
            || find(&s["baton_peer_config_match"].1, &c).is_empty()
    );
    assert_eq!(
        get(
            "baton_link_refused_total",
            &[("peer", ""), ("cause", "not_a_peer")]
        ),
        5.0
    );
    assert_eq!(
        get(
            "baton_link_refused_total",
            &[("peer", "10.0.0.2"), ("cause", "bad_hello")]
        ),
        2.0
    );
    assert_eq!(
        get("baton_handover_peer_waiting_seconds", &[("target", "VI_1")]),
        1.5
    );
    assert_eq!(
        get("baton_handover_holding_seconds", &[("target", "VI_1")]),
        0.0
    );
    let t = [("target", "VI_1")];
    assert_eq!(get("baton_arbiter_serving", &t), 1.0);
    assert_eq!(get("baton_arbiter_healthy", &t), 1.0);
    assert_eq!(get("baton_arbiter_lease_safe_seconds", &t), 3.4);
    assert_eq!(get("baton_arbiter_fencing_token", &t), 42.0);
    let d = [("dir", "/opt/neuronex/data"), ("target", "VI_1")];
    assert_eq!(get("baton_sync_lag_seconds", &d), 0.25);
    assert_eq!(get("baton_sync_generation", &d), 7.0);
    assert_eq!(get("baton_sync_peer_generation", &d), 6.0);
    assert_eq!(get("baton_sync_role", &[d[0], ("role", "source")]), 1.0);
    assert_eq!(
        get(
            "baton_info",
            &[("router_id", "node-a"), ("config_digest", "abc123")]
        ),
        1.0
    );
}

const LINK_STATE_COUNT: usize = 8;

#[test]
fn one_header_per_family_samples_together_no_duplicate_series() {
    let (st, facts) = fixture();
    let text = render(&st, &facts);
    let mut typed: Vec<&str> = Vec::new();
    let mut current = "";
    let mut seen_lines = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(!typed.contains(&name), "{name} typed twice");
            typed.push(name);
            current = name;
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(name, current, "sample {line:?} outside its family");
            let series = line.rsplit_once(' ').unwrap().0;
            assert!(seen_lines.insert(series.to_string()), "duplicate {series}");
        }
    }
    assert_eq!(text.matches("# HELP ").count(), typed.len());
    // Names and label names as Prometheus allows them.
    let valid = |n: &str| {
        n.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    for name in &typed {
        assert!(valid(name), "{name}");
    }
}

#[test]
fn label_values_are_escaped_and_read_back() {
    let (st, facts) = fixture();
    let text = render(&st, &facts);
    assert!(
        text.contains("iname=\"odd \\\"name\\\"\\\\\\nx\""),
        "{text}"
    );
    let s = scrape(&text);
    let p = find(
        &s["baton_instance_priority"].1,
        &[("iname", "odd \"name\"\\\nx")],
    );
    assert_eq!(p.len(), 1);
}

#[test]
fn no_instances_still_says_up_and_stays_parseable() {
    let (mut st, _) = fixture();
    st.instances.clear();
    st.scripts.clear();
    st.link = Default::default();
    st.handover.clear();
    st.sync.clear();
    st.hook_counts.clear();
    let s = scrape(&render(&st, &NodeFacts::default()));
    assert_eq!(s["keepalived_up"].1.len(), 1);
}

#[test]
fn two_hundred_instances_give_one_series_each_in_one_valid_text() {
    let (mut st, facts) = fixture();
    let one = st.instances[0].clone();
    st.instances = (0..200)
        .map(|n| {
            let mut i = one.clone();
            i.name = format!("VI_{n}");
            i.vrid = (n % 250) as u8 + 1;
            i
        })
        .collect();
    let start = std::time::Instant::now();
    let text = render(&st, &facts);
    println!(
        "200 instances: {} bytes in {:?}",
        text.len(),
        start.elapsed()
    );
    let s = scrape(&text);
    assert_eq!(s["keepalived_vrrp_state"].1.len(), 400);
    assert_eq!(s["keepalived_advertisements_sent_total"].1.len(), 200);
}
