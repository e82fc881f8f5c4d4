//! Tests of the trust store: approval, configured fingerprints, revocation, pending peers
//! and the trusted file.

use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn fp(n: u8) -> Fingerprint {
    Fingerprint::from_bytes([n; 32])
}

fn addr(n: u8) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, n))
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn approving_a_pending_peer_trusts_it_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = crate::test_clock::origin();
    let mut store = TrustStore::load(dir.path(), []).unwrap();
    let node = NodeId::from_u64(0x1234);
    assert_eq!(store.observe(fp(1), addr(1), None, t0), Trust::Pending);
    let later = t0 + Duration::from_secs(5);
    assert_eq!(
        store.observe(fp(1), addr(2), Some(node), later),
        Trust::Pending
    );
    let seen = store.get(&fp(1)).unwrap().sighting.unwrap();
    assert_eq!((seen.first_seen, seen.last_seen), (t0, later));
    assert_eq!((seen.address, seen.node_id), (addr(2), Some(node)));
    assert!(
        !dir.path().join(TRUSTED_FILE).exists(),
        "pending is memory only"
    );

    let outcome = store.approve(fp(1), at(1_796_169_600)).unwrap();
    assert_eq!(outcome, Approved::Now { was_pending: true });
    assert_eq!(store.trust(&fp(1)), Trust::Approved);
    assert_eq!(store.pending().count(), 0);
    assert_eq!(store.approve(fp(1), at(1)).unwrap(), Approved::Already);
    // Before it ever connected: allowed, so each side can be told the other's value.
    assert_eq!(
        store.approve(fp(2), at(7)).unwrap(),
        Approved::Now { was_pending: false }
    );

    let file = dir.path().join(TRUSTED_FILE);
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    let text = fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!("{} 0000000000001234 1796169600\n", fp(1))),
        "{text}"
    );
    assert!(text.contains(&format!("{} - 7\n", fp(2))), "{text}");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );

    let again = TrustStore::load(dir.path(), []).unwrap();
    assert_eq!(again.trust(&fp(1)), Trust::Approved);
    assert_eq!(again.trust(&fp(2)), Trust::Approved);
    assert_eq!(again.trust(&fp(3)), Trust::Unknown);
    let approval = again.get(&fp(1)).unwrap().approval.unwrap();
    assert_eq!(
        approval,
        Approval {
            node_id: Some(node),
            approved_at: at(1_796_169_600)
        }
    );
}

#[test]
fn fingerprints_from_batons_file_are_trusted_but_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = TrustStore::load(dir.path(), [fp(9)]).unwrap();
    let t0 = crate::test_clock::origin();
    assert_eq!(store.observe(fp(9), addr(9), None, t0), Trust::Configured);
    assert_eq!(store.approve(fp(9), at(1)).unwrap(), Approved::Configured);
    assert_eq!(store.revoke(&fp(9)).unwrap(), Revoked::ConfiguredOnly);
    assert!(store.is_trusted(&fp(9)));
    store.approve(fp(1), at(1)).unwrap();
    let text = fs::read_to_string(dir.path().join(TRUSTED_FILE)).unwrap();
    assert!(!text.contains(&fp(9).to_string()), "{text}");

    // Dropped from baton's file on reload: the peer is pending again.
    store.set_configured([]);
    assert_eq!(store.trust(&fp(9)), Trust::Pending);
    assert_eq!(
        TrustStore::load(dir.path(), []).unwrap().trust(&fp(9)),
        Trust::Unknown
    );
}

#[test]
fn revoke_removes_the_approval_and_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = crate::test_clock::origin();
    let mut store = TrustStore::load(dir.path(), [fp(3)]).unwrap();
    store.observe(fp(1), addr(1), None, t0);
    store.approve(fp(1), at(1)).unwrap();
    store.approve(fp(2), at(2)).unwrap();
    store.set_configured([fp(3), fp(2)]);
    store.observe(fp(4), addr(4), None, t0);

    let revoked = store.revoke(&fp(1)).unwrap();
    assert_eq!(revoked, Revoked::Approval);
    assert!(revoked.ends_trust());
    assert_eq!(store.trust(&fp(1)), Trust::Unknown);
    assert_eq!(
        store.revoke(&fp(2)).unwrap(),
        Revoked::ApprovalButConfigured
    );
    assert!(store.is_trusted(&fp(2)));
    assert_eq!(store.revoke(&fp(4)).unwrap(), Revoked::Pending);
    assert_eq!(store.revoke(&fp(4)).unwrap(), Revoked::Unknown);
    assert_eq!(store.revoke(&fp(1)).unwrap(), Revoked::Unknown);

    let again = TrustStore::load(dir.path(), []).unwrap();
    assert!(again.list().is_empty(), "{:?}", again.list());
}

#[test]
fn pending_peers_are_capped_and_the_one_seen_longest_ago_goes() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = crate::test_clock::origin();
    let mut store = TrustStore::load(dir.path(), []).unwrap();
    store.approve(fp(200), at(1)).unwrap();
    store.observe(fp(200), addr(200), None, t0);
    for n in 0..PENDING_MAX as u8 {
        store.observe(fp(n), addr(n), None, t0 + Duration::from_secs(n.into()));
    }
    // fp(0) shows up again, so fp(1) is now the one seen longest ago.
    store.observe(fp(0), addr(0), None, t0 + Duration::from_secs(100));
    store.observe(fp(99), addr(99), None, t0 + Duration::from_secs(101));
    assert_eq!(store.pending().count(), PENDING_MAX);
    assert_eq!(store.trust(&fp(1)), Trust::Unknown);
    assert_eq!(store.trust(&fp(0)), Trust::Pending);
    assert_eq!(store.trust(&fp(99)), Trust::Pending);
    assert!(
        store.get(&fp(200)).unwrap().sighting.is_some(),
        "trusted ones are kept"
    );
    assert_eq!(store.list().len(), PENDING_MAX + 1);
}

#[test]
fn a_bad_trusted_file_is_an_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(TRUSTED_FILE);
    let good = format!("{} - 5", fp(1));
    let cases = [
        (
            format!("# comment\n\n{good}\nnonsense\n"),
            ":4: expected a fingerprint",
        ),
        (format!("{}0 - 5\n", fp(1)), ":1: \""),
        (format!("{} xyz 5\n", fp(1)), ":1: \"xyz\": a node id"),
        (
            format!("{} - soon\n", fp(1)),
            ":1: \"soon\": the approval time",
        ),
        (format!("{good}\n{good}\n"), ":2: "),
        (format!("{good}\n\u{0}\u{ff}"), ":2: "),
    ];
    for (text, expected) in cases {
        fs::write(&file, &text).unwrap();
        let err = TrustStore::load(dir.path(), []).unwrap_err().to_string();
        let want = format!("{}{expected}", file.display());
        assert!(err.starts_with(&want), "{text:?}: {err}");
    }
    fs::write(&file, b"\xff\xfe\n").unwrap();
    let err = TrustStore::load(dir.path(), []).unwrap_err().to_string();
    assert!(err.ends_with(":1: not UTF-8 text"), "{err}");

    fs::write(
        &file,
        format!("{good} extra-field-of-a-later-baton # note\n"),
    )
    .unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666)).unwrap();
    let err = TrustStore::load(dir.path(), []).unwrap_err().to_string();
    assert!(err.contains("written by group or others"), "{err}");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(TrustStore::load(dir.path(), []).unwrap().is_trusted(&fp(1)));
}

#[test]
fn a_failed_write_leaves_the_store_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let mut store = TrustStore::load(&dir, []).unwrap();
    // The state directory's place is taken by a file, so nothing can be written.
    fs::write(&dir, b"").unwrap();
    assert!(store.approve(fp(1), at(1)).is_err());
    assert_eq!(store.trust(&fp(1)), Trust::Unknown);
    fs::remove_file(&dir).unwrap();
    store.approve(fp(1), at(1)).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    fs::write(&dir, b"").unwrap();
    assert!(store.revoke(&fp(1)).is_err());
    assert_eq!(store.trust(&fp(1)), Trust::Approved);
}
