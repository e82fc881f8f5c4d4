//! Tests of the identity files, the fingerprint and the node id.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn first_start_makes_private_files_and_later_starts_load_the_same_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let (made, origin) = Identity::load_or_create(&dir).unwrap();
    assert_eq!(origin, Origin::Created);
    assert_eq!(mode(&dir), 0o700);
    for name in [KEY_FILE, CERT_FILE, NODE_ID_FILE] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "no temporary file left: {names:?}");

    let (again, origin) = Identity::load_or_create(&dir).unwrap();
    assert_eq!(origin, Origin::Loaded);
    assert_eq!(again.fingerprint(), made.fingerprint());
    assert_eq!(again.node_id(), made.node_id());
    assert_eq!(
        Identity::load(&dir).unwrap().fingerprint(),
        made.fingerprint()
    );

    let other = Identity::load_or_create(&tmp.path().join("other"))
        .unwrap()
        .0;
    assert_ne!(other.fingerprint(), made.fingerprint());
    assert_ne!(other.node_id(), made.node_id());
}

#[test]
fn fingerprint_is_what_openssl_prints_for_the_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let id = Identity::load_or_create(tmp.path()).unwrap().0;
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(id.cert_path())
        .output()
        .expect("openssl is installed");
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let value = printed.trim().split_once('=').unwrap().1;
    assert_eq!(id.fingerprint().to_string(), value);
    assert_eq!(value.parse::<Fingerprint>().unwrap(), id.fingerprint());
    assert_eq!(
        printed.trim().parse::<Fingerprint>().unwrap(),
        id.fingerprint()
    );
}

#[test]
fn a_key_or_directory_others_can_reach_is_refused_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    Identity::load_or_create(&dir).unwrap();
    let key = dir.join(KEY_FILE);
    for bad in [0o640, 0o604, 0o620, 0o644] {
        chmod(&key, bad);
        let err = Identity::load_or_create(&dir).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: ", key.display())), "{err}");
        assert!(err.contains("group or others"), "{err}");
        assert!(err.contains(&format!("{bad:04o}")), "{err}");
    }
    chmod(&key, 0o600);
    chmod(&dir.join(CERT_FILE), 0o664);
    let err = Identity::load(&dir).unwrap_err().to_string();
    assert!(err.contains(CERT_FILE) && err.contains("written"), "{err}");
    chmod(&dir.join(CERT_FILE), 0o644);
    Identity::load(&dir).unwrap();

    chmod(&dir, 0o770);
    let err = Identity::load_or_create(&dir).unwrap_err().to_string();
    assert!(
        err.contains("state directory") && err.contains("0770"),
        "{err}"
    );
}

#[test]
fn half_an_identity_or_a_mismatched_pair_is_an_error_and_nothing_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    Identity::load_or_create(&a).unwrap();
    Identity::load_or_create(&b).unwrap();

    fs::copy(b.join(CERT_FILE), a.join(CERT_FILE)).unwrap();
    let err = Identity::load_or_create(&a).unwrap_err().to_string();
    assert!(
        err.contains(KEY_FILE) && err.contains("cannot be used with"),
        "{err}"
    );

    fs::remove_file(a.join(CERT_FILE)).unwrap();
    let key_before = fs::read(a.join(KEY_FILE)).unwrap();
    let err = Identity::load_or_create(&a).unwrap_err().to_string();
    assert!(err.contains(CERT_FILE) && err.contains("missing"), "{err}");
    assert_eq!(fs::read(a.join(KEY_FILE)).unwrap(), key_before);

    fs::remove_file(b.join(KEY_FILE)).unwrap();
    let err = Identity::load_or_create(&b).unwrap_err().to_string();
    assert!(err.contains(KEY_FILE) && err.contains("missing"), "{err}");

    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let err = Identity::load(&empty).unwrap_err().to_string();
    assert!(err.contains(KEY_FILE), "{err}");
    assert_eq!(
        fs::read_dir(&empty).unwrap().count(),
        0,
        "load never makes one"
    );
}

#[test]
fn garbage_in_the_files_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    Identity::load_or_create(dir).unwrap();
    let cases: [(&str, &[u8]); 4] = [
        (KEY_FILE, b"not a key\n"),
        (
            KEY_FILE,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ),
        (CERT_FILE, b"\xff\xfe\x00garbage"),
        (NODE_ID_FILE, b"xyz\n"),
    ];
    for (name, junk) in cases {
        let good = fs::read(dir.join(name)).unwrap();
        write_private_file(dir, name, junk).unwrap();
        let err = Identity::load_or_create(dir).unwrap_err().to_string();
        assert!(
            err.starts_with(&dir.join(name).display().to_string()),
            "{name}: {err}"
        );
        write_private_file(dir, name, &good).unwrap();
    }
    Identity::load(dir).unwrap();
}

#[test]
fn fingerprints_parse_in_any_case_with_or_without_colons_and_prefixes() {
    let fp = Fingerprint::from_bytes(core::array::from_fn(|i| (i * 8 + 3) as u8));
    let shown = fp.to_string();
    assert_eq!(shown.len(), 95);
    assert!(shown.starts_with("03:0B:13:1B:"), "{shown}");
    let bare = shown.replace(':', "");
    for text in [
        shown.clone(),
        shown.to_lowercase(),
        bare.clone(),
        bare.to_lowercase(),
        format!("SHA256 {shown}"),
        format!("sha256 Fingerprint={shown}"),
        format!("  sha256:{bare}\n"),
    ] {
        assert_eq!(text.parse::<Fingerprint>(), Ok(fp), "{text}");
    }
    assert_eq!(
        bare[1..].parse::<Fingerprint>(),
        Err(FingerprintError::Length(63))
    );
    assert_eq!(
        format!("{bare}0").parse::<Fingerprint>(),
        Err(FingerprintError::Length(65))
    );
    assert_eq!(
        bare.replacen('0', "g", 1).parse::<Fingerprint>(),
        Err(FingerprintError::Character('g'))
    );
    assert!("".parse::<Fingerprint>().is_err());
    assert!("sha256 ☃".parse::<Fingerprint>().is_err());
    let json = serde_json::to_string(&fp).unwrap();
    assert_eq!(json, format!("\"{shown}\""));
    assert_eq!(serde_json::from_str::<Fingerprint>(&json).unwrap(), fp);
}

#[test]
fn node_ids_are_sixteen_hex_digits() {
    let id = NodeId::from_u64(0x00ab_cdef_0123_4567);
    assert_eq!(id.to_string(), "00abcdef01234567");
    assert_eq!("00ABCDEF01234567".parse::<NodeId>(), Ok(id));
    for bad in [
        "",
        "abc",
        "+0abcdef01234567",
        "00abcdef012345678",
        "00abcdef0123456g",
    ] {
        assert_eq!(bad.parse::<NodeId>(), Err(NodeIdError), "{bad}");
    }
}
