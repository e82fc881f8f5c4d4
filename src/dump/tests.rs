//! The shared formatting: keepalived's number, time, address and command forms. The
//! renderers themselves are tested against keepalived's captured files in
//! `tests/dump_format.rs`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use super::*;

#[test]
fn fmt_g_is_c_percent_g() {
    for (x, want) in [
        (1.0, "1"),
        (0.5, "0.5"),
        (0.05, "0.05"),
        (2.5, "2.5"),
        (255.0, "255"),
        (1000.0, "1000"),
        (0.0, "0"),
        (123456.0, "123456"),
        (1234567.0, "1.23457e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.0 / 3.0, "0.333333"),
    ] {
        assert_eq!(fmt_g(x), want, "{x}");
    }
}

#[test]
fn times_print_as_keepalived_prints_them() {
    let t = SystemTime::UNIX_EPOCH + Duration::new(1_796_236_089, 535_573_000);
    assert_eq!(epoch_micros(t), "1796236089.535573");
    assert_eq!(
        epoch_and_date(t),
        "1796236089.535573 (Wed Dec  2 18:28:09.535573 2026)"
    );
    let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5_000);
    assert_eq!(
        epoch_and_date(t),
        "1700000000.000005 (Tue Nov 14 22:13:20.000005 2023)"
    );
}

#[test]
fn commands_and_addresses() {
    let argv = ["/usr/bin/test", "-e", "/"].map(String::from);
    assert_eq!(quote_command(&argv), "'/usr/bin/test' '-e' '/'");
    let mut a = VirtualAddress {
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 101)),
        prefix_len: 24,
        brd: None,
        dev: None,
        scope: None,
        label: Some("eth0:1".into()),
        peer: None,
        no_track: false,
        use_vmac: false,
        flags: Vec::new(),
    };
    assert_eq!(
        address_line(&a, "eth0", true),
        "10.0.0.101/24 dev eth0 scope global label eth0:1 set"
    );
    a.label = None;
    a.dev = Some("eth1".into());
    a.scope = Some(Scope::Link);
    assert_eq!(
        address_line(&a, "eth0", false),
        "10.0.0.101/24 dev eth1 scope link"
    );
}

#[test]
fn master_down_timer_matches_keepalived() {
    // Values keepalived printed in the captures.
    let t = master_down_timer(2, 160, Duration::from_secs(1));
    assert_eq!(t.as_micros(), 3_375_000);
    let t = master_down_timer(2, 50, Duration::from_secs(1));
    assert_eq!(t.as_micros(), 3_804_687);
    let t = master_down_timer(3, 50, Duration::from_millis(500));
    assert_eq!(t.as_micros(), 1_902_343);
}

#[test]
fn signal_numbers_and_directory() {
    assert_eq!(signum("DATA"), Some(10));
    assert_eq!(signum("STATS"), Some(12));
    assert_eq!(signum("RELOAD"), Some(1));
    assert_eq!(signum("STOP"), Some(15));
    assert_eq!(signum("JSON"), Some(libc::SIGRTMIN() + 2));
    assert_eq!(signum("data"), None, "keepalived accepts upper case only");
    assert_eq!(signum("STATS_CLEAR"), None);
    assert_eq!(dump_dir(None), PathBuf::from("/tmp"));
    assert_eq!(dump_dir(Some(OsStr::new(""))), PathBuf::from("/tmp"));
    assert_eq!(
        dump_dir(Some(OsStr::new("/run/x"))),
        PathBuf::from("/run/x")
    );
}

#[test]
fn script_status_and_result() {
    let mut s = ScriptView {
        name: "chk".into(),
        argv: vec!["/usr/bin/true".into()],
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        weight: 0,
        rise: 2,
        fall: 3,
        good: None,
        init_fail: true,
        owner: None,
        tracking: Vec::new(),
    };
    assert_eq!((s.status(), s.result()), ("BAD", 0));
    s.init_fail = false;
    assert_eq!((s.status(), s.result()), ("GOOD", 4));
    s.good = Some(false);
    assert_eq!((s.status(), s.result()), ("BAD", 0));
    s.good = Some(true);
    assert_eq!((s.status(), s.result()), ("GOOD", 4));
}
