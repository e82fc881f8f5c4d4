//! End-to-end: a hostile data sync source. One real baton (the victim, node 0, VRRP
//! BACKUP behind a real baton master on node 2, so its service is stopped and it takes
//! copies) pins the key of a crafted peer on node 1. The crafted peer is built from the
//! crate's own parts (identity, TLS config, the link `Session`, `sync::message`): it links
//! like a baton would, then offers generations whose manifests or file data are bad.
//!
//! Each refusal must be counted under its cause in `baton status` (`sync[0].refused`),
//! leave the victim's copy byte for byte as it was (nothing written outside it either),
//! keep the daemon running, and keep the link usable: after each one the same connection
//! offers again and the victim pulls again. A correct one-file generation at the end
//! shows the crafted peer does reach the receiver, so the refusals mean something.

mod common;
mod e2e;

use std::path::Path;
use std::time::{Duration, Instant};

use baton::sync::message::{self as sm, DATA, Data, MANIFEST, Msg, OFFER};
use baton::sync::tree::{Entry, Kind, Manifest};

use e2e::DEADLINE;
use e2e::sync::{noise, sha256, snapshot};
use e2e::sync_peer::*;

#[test]
fn a_hostile_source_is_refused_counted_and_the_copy_stays_whole() {
    let mut v = victim("sync_hostile");
    let outside = v.data.parent().expect("parent").to_path_buf();

    // 1. A path that climbs out.
    let entries = vec![file("../escape", b"escaped\n")];
    let o = v.refuses("../escape", &["path_dotdot"], Play::manifest(101, entries));
    assert!(o.pulled && o.want.is_none() && o.pulled_again, "{o:#?}");
    assert!(
        !outside.join("escape").exists(),
        "escape created beside the copy"
    );
    assert!(!v.c.dir.path().join("escape").exists());

    // 2. An absolute path.
    let entries = vec![file("/etc/passwd-baton-test", b"root::0:0::/:/bin/sh\n")];
    let o = v.refuses(
        "absolute path",
        &["path_absolute"],
        Play::manifest(102, entries),
    );
    assert!(o.pulled && o.want.is_none() && o.pulled_again, "{o:#?}");
    assert!(!Path::new("/etc/passwd-baton-test").exists());

    // 3. Symlinks out of the tree: climbing, and absolute.
    let entries = vec![dir_entry("sub"), link("sub/etc", "../../etc")];
    let o = v.refuses(
        "link ../../etc",
        &["symlink_outside"],
        Play::manifest(103, entries),
    );
    assert!(o.want.is_none() && o.pulled_again, "{o:#?}");
    let entries = vec![link("etc", "/etc")];
    let o = v.refuses(
        "link /etc",
        &["symlink_outside"],
        Play::manifest(104, entries),
    );
    assert!(o.want.is_none() && o.pulled_again, "{o:#?}");

    // 4. A file over sync_max_file_size (1M): refused from the manifest, nothing asked.
    let entries = vec![Entry {
        kind: Kind::File {
            size: (1 << 20) + 1,
            sha256: sha256(b"x"),
        },
        ..file("big.bin", b"")
    }];
    let o = v.refuses("too large", &["too_large"], Play::manifest(105, entries));
    assert!(o.want.is_none() && o.pulled_again, "{o:#?}");

    // 5. Half a file, then the connection ends: counted as a truncated transfer, and
    // nothing of it stays: the copy as it was, no part left in the incoming area, no
    // transfer shown, and the next connection links again.
    let before = snapshot(&v.data);
    let bytes = noise(200_000, 5);
    let half = bytes[..100_000].to_vec();
    let entries = vec![file("half.bin", &bytes)];
    let o = v.play(Play::data(106, entries, AfterWant::Close, move |w| {
        chunks(w.transfer, w.files[0], &half)
    }));
    assert!(o.error.is_none() && o.want.is_some(), "{o:#?}\n{}", v.log());
    let t0 = Instant::now();
    while !no_incoming_parts(&v.data).is_empty()
        || !e2e::sync::row(v.c.d(v.v))["transfer"].is_null()
    {
        assert!(
            t0.elapsed() < DEADLINE,
            "truncated: a part or a transfer stays: {:?} {:#}\n{}",
            no_incoming_parts(&v.data),
            e2e::sync::row(v.c.d(v.v)),
            v.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(snapshot(&v.data), before, "truncated: the copy changed");
    let refused = e2e::sync::row(v.c.d(v.v))["refused"].clone();
    assert!(refused["truncated"].as_u64() >= Some(1), "{refused:#}");
    println!("truncated: the victim said {:?}", o.seen);

    // 6. Bytes that are not the manifest's sha256.
    let bytes = noise(5000, 6);
    let entries = vec![file("bad.bin", &bytes)];
    let o = v.refuses(
        "bad bytes",
        &["hash_mismatch"],
        Play::data(107, entries, AfterWant::Abort, |w| {
            chunks(w.transfer, w.files[0], &noise(5000, 66))
        }),
    );
    assert!(o.abort.is_some() && o.pulled_again, "{o:#?}");
    assert!(no_incoming_parts(&v.data).is_empty());

    // 7. A manifest whose digest is not its entries'.
    let mut p = Play::manifest(108, vec![file("x.txt", b"x\n")]);
    p.digest = Some(Manifest::default().digest());
    let o = v.refuses("digest", &["digest_mismatch"], p);
    assert!(o.pulled && o.want.is_none() && o.pulled_again, "{o:#?}");

    // 8. Data at a wrong offset, for a file not asked for, past a file's end.
    let bytes = noise(3000, 8);
    let entries = vec![file("off.bin", &bytes)];
    let o = v.refuses(
        "offset",
        &["offset"],
        Play::data(109, entries, AfterWant::Abort, move |w| {
            let mut f = chunks(w.transfer, w.files[0], &bytes);
            if let Some((_, body)) = f.first_mut() {
                // offset 0 -> 7
                body[15] = 7;
            }
            f
        }),
    );
    assert!(o.abort.is_some() && o.pulled_again, "{o:#?}");
    let (a, b) = (noise(3000, 81), noise(3000, 82));
    let entries = vec![file("a.bin", &a), file("b.bin", &b)];
    let o = v.refuses(
        "not asked for",
        &["data_order"],
        Play::data(110, entries, AfterWant::Abort, move |w| {
            // The second file first, then an index past the manifest.
            let mut f = chunks(w.transfer, w.files[1], &b);
            f.extend(chunks(w.transfer, 999, &a));
            f
        }),
    );
    assert!(o.abort.is_some() && o.pulled_again, "{o:#?}");
    let bytes = noise(3000, 83);
    let entries = vec![file("over.bin", &bytes)];
    let o = v.refuses(
        "past the end",
        &["overrun"],
        Play::data(111, entries, AfterWant::Abort, move |w| {
            let mut long = bytes.clone();
            long.extend_from_slice(b"and more");
            chunks(w.transfer, w.files[0], &long)
        }),
    );
    assert!(o.abort.is_some() && o.pulled_again, "{o:#?}");

    // 9. Garbage in sync frames, and a directory the victim does not keep.
    let mut p = Play::manifest(112, Vec::new());
    p.garbage = vec![
        (MANIFEST, b"{not json".to_vec()),
        (OFFER, b"\x00\xff garbage".to_vec()),
        (DATA, vec![0, 0, 0, 1, 0, 0]),
        (
            sm::OFFER,
            offer_of("/elsewhere", 1, &Manifest::default(), "00")
                .encode()
                .1,
        ),
    ];
    let o = v.refuses("garbage", &["bad_json", "bad_data_frame", "unknown_dir"], p);
    assert!(o.pulled_again, "{o:#?}");
    let r = v.refused();
    assert!(r.get("bad_json").copied() >= Some(2), "{r:?}");

    // Nothing of any case outside the copy: beside it only the copy and baton's own
    // hidden areas.
    let beside: Vec<String> = std::fs::read_dir(&outside)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "data" && !n.starts_with(".data.baton-"))
        .collect();
    assert!(beside.is_empty(), "written beside the copy: {beside:?}");

    // The control: a correct one-file generation is taken, exactly.
    let bytes = b"from the crafted peer\n".to_vec();
    let entries = vec![file("hello.txt", &bytes)];
    let gen_bytes = bytes.clone();
    let o = v.play(Play::data(200, entries.clone(), AfterWant::Ack, move |w| {
        chunks(w.transfer, w.files[0], &gen_bytes)
    }));
    let ack = o.ack.clone();
    assert!(
        ack.as_ref().is_some_and(|a| a.ok),
        "the control was not taken: {o:#?}\n{}",
        v.log()
    );
    let got = snapshot(&v.data);
    assert_eq!(got.len(), 1, "{got:#?}");
    let n = got.get("hello.txt").expect("hello.txt");
    assert_eq!(
        (n.kind, n.mode, n.uid, n.gid, n.mtime, n.content.as_str()),
        ("file", 0o644, 0, 0, (MTIME, 0), sha256(&bytes).as_str())
    );
    assert_eq!(
        std::fs::read(v.data.join("hello.txt")).expect("read"),
        bytes
    );
    let row = e2e::sync::row(v.c.d(v.v));
    assert_eq!(row["generation"], 200, "{row:#}");
    println!("control: taken, row {row:#}");
    println!("refused in all: {:?}", v.refused());
    // Each refusal of a directory's transfer is logged with its cause.
    let log = v.log();
    for cause in [
        "path_dotdot",
        "path_absolute",
        "symlink_outside",
        "too_large",
        "hash_mismatch",
        "digest_mismatch",
        "offset",
        "data_order",
        "overrun",
    ] {
        assert!(
            log.contains(&format!("refused from the peer ({cause})")),
            "{cause} not logged:\n{log}"
        );
    }
    assert!(v.c.dm(v.v).is_running());
}

/// A source that sends more than WINDOW past the receiver's last credit (here 2 MiB of
/// one generation in one write, before reading any Credit) is to be refused as
/// over_window, and the generation not taken.
///
/// The victim's connection counts what it allowed (a window per Want, plus every Credit
/// it sent) against the file data it reads, and reads before it sends: the burst goes
/// past the allowance, is dropped there and never waits for the worker.
#[test]
fn a_source_past_the_window_without_credit_is_refused() {
    // File data before the victim asked for any: its window is still zero. The data rides
    // in the manifest's own TLS record, so the victim reads both at once, before its Want
    // can have opened the window; a honest source waits for the Want.
    let mut v = victim("sync_window");
    let files: Vec<Vec<u8>> = (0..4).map(|i| noise(64 << 10, 900 + i)).collect();
    let entries: Vec<Entry> = files
        .iter()
        .enumerate()
        .map(|(i, b)| file(&format!("f{i}.bin"), b))
        .collect();
    let first = files[0][..512].to_vec();
    let mut play = Play::data(300, entries, AfterWant::Abort, |_| Vec::new());
    play.early = Some(Box::new(move |transfer| {
        vec![
            Msg::Data(Data {
                transfer,
                index: 0,
                offset: 0,
                bytes: first,
            })
            .encode(),
        ]
    }));
    let o = v.refuses("over the window", &["over_window"], play);
    assert!(o.abort.is_some(), "{o:#?}");
}
