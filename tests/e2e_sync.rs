//! End-to-end: a directory kept in step between two linked baton nodes (issue 12).
//!
//! The pair is the handover tests' (a priority 100 serving, b 90, the service stand-in
//! in every hook), with `sync_dir <mnt>/data instance VI_1` on both. Each node runs in a
//! mount namespace of its own where its `root-a` or `root-b` is bound on `mnt`, so both
//! write the same path and the test sees each copy on the host. Copies are compared
//! with a walk of their own (std and ring): kind, bytes, link target, mode, owner and
//! mtime of every entry.

mod common;
mod e2e;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use e2e::handover::Opts;
use e2e::handover::{A, B, last_of, settle};
use e2e::now_ns;
use e2e::sync::{
    generation, noise, row, snapshot, sync_pair, sync_pair_opts, sync_pair_with, wait_row,
    wait_same,
};

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(&p, bytes).expect("write");
}

/// Two honest nodes refuse nothing of each other.
fn assert_no_refusals(p: &e2e::handover::Pair) {
    for d in [A, B] {
        let r = row(p.c.d(d));
        assert!(r["refused"].is_null(), "node {d} refused: {r:#}");
    }
}

/// Writes a file beside the copy's directory and moves it in with one rename, as a
/// careful application does: no scan sees it half written.
fn put_whole(root: &Path, rel: &str, bytes: &[u8]) {
    let tmp = root.with_file_name(format!(".{}.tmp", rel.replace('/', "_")));
    std::fs::write(&tmp, bytes).expect("write");
    let p = root.join(rel);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::rename(&tmp, &p).expect("rename in");
}

#[test]
fn changes_follow_the_service_and_come_back_after_failback() {
    let (p, [a, b]) = sync_pair("sync-follow", &[]);
    let c = &p.c;

    // Create: files, directories, a link, modes, an owner, a set mtime.
    write(&a, "conf/app.yaml", b"name: hub\n");
    write(&a, "conf/drivers/modbus.json", b"{\"port\": 502}\n");
    write(&a, "data/points.bin", &noise(3 << 20, 7));
    write(&a, "empty", b"");
    // Many files of odd sizes, over the credit window in all: chunks that do not line up
    // with the window.
    for n in 0..300u64 {
        write(
            &a,
            &format!("many/{:02}/{n}.rec", n % 7),
            &noise(4000 + (n as usize * 37) % 9000, n),
        );
    }
    std::os::unix::fs::symlink("conf/app.yaml", a.join("current")).expect("symlink");
    std::fs::set_permissions(
        a.join("conf/app.yaml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    std::os::unix::fs::chown(a.join("data/points.bin"), Some(1234), Some(4321)).expect("chown");
    let took = wait_same(&p, &a, &b, "first copy");
    println!(
        "first copy (3 MiB, 5 entries) reached b in {} ms",
        took.as_millis()
    );
    assert_eq!(
        std::fs::read_link(b.join("current")).expect("link on b"),
        Path::new("conf/app.yaml"),
        "the link travels as a link"
    );
    let ga = wait_row(&p, A, "a sees b in step", |r| r["in_step"] == true);
    let gb = row(c.d(B));
    assert_eq!(ga["role"], "source");
    assert_eq!(gb["role"], "copy");
    assert_eq!(ga["generation"], gb["generation"], "{ga:#} {gb:#}");
    assert_eq!(gb["files"], 304);

    // Change, rename, delete.
    write(&a, "conf/app.yaml", b"name: hub\nlevel: 2\n");
    std::fs::rename(a.join("conf/drivers"), a.join("conf/plugins")).expect("rename dir");
    std::fs::remove_file(a.join("empty")).expect("rm");
    wait_same(&p, &a, &b, "change, rename, delete");
    assert!(!b.join("empty").exists() && !b.join("conf/drivers").exists());

    // One changed file.
    write(&a, "conf/plugins/modbus.json", b"{\"port\": 1502}\n");
    let took = wait_same(&p, &a, &b, "one changed file");
    println!("one changed file reached b in {} ms", took.as_millis());

    // Failover: a's check fails, b serves and becomes the source.
    let t0 = now_ns();
    std::fs::remove_file(&p.check_file).expect("fail a's check");
    settle(&p, "failover", B, t0);
    wait_row(&p, B, "b is the source", |r| r["role"] == "source");
    let b_root = std::fs::metadata(&b).expect("b root").ino();
    let b_before = snapshot(&b);

    // A change on a's copy (its service is stopped) never reaches b, whose service runs;
    // a takes b's generation back and keeps its own change aside.
    let ga = generation(c.d(A)).expect("a's generation");
    write(&a, "conf/app.yaml", b"edited on a\n");
    wait_row(&p, B, "b heard a's newer copy", |r| {
        r["peer_generation"].as_u64().is_some_and(|g| g > ga)
    });
    wait_same(&p, &b, &a, "a takes b's generation back");
    assert_eq!(
        std::fs::metadata(&b).expect("b root").ino(),
        b_root,
        "b's copy was not replaced"
    );
    assert_eq!(
        snapshot(&b),
        b_before,
        "b's copy did not change while b served"
    );
    let ra = wait_row(&p, A, "a reports the conflict", |r| {
        r["conflicts"].as_u64() >= Some(1)
    });
    let aside = Path::new(ra["conflicts_dir"].as_str().expect("conflicts dir"));
    assert_eq!(
        std::fs::read(aside.join("conf/app.yaml")).expect("a's change kept aside"),
        b"edited on a\n"
    );

    // A change on the new master reaches a.
    write(&b, "made-on-b.txt", b"from b\n");
    wait_same(&p, &b, &a, "b's change");

    // Failback: a's check passes again, a preempts; b's change is on a and a's
    // changes flow to b from then on.
    let t1 = now_ns();
    std::fs::write(&p.check_file, "").expect("restore a's check");
    settle(&p, "failback", A, t1);
    assert_eq!(
        std::fs::read(a.join("made-on-b.txt")).expect("on a"),
        b"from b\n"
    );
    wait_row(&p, A, "a is the source again", |r| r["role"] == "source");
    write(&a, "after-failback.txt", b"from a\n");
    let took = wait_same(&p, &a, &b, "a's change after failback");
    println!(
        "a change after failback reached b in {} ms",
        took.as_millis()
    );
    assert_no_refusals(&p);
}

#[test]
fn a_master_killed_in_the_middle_of_a_transfer_leaves_the_previous_generation() {
    let (mut p, [a, b]) = sync_pair("sync-kill", &[]);
    write(&a, "conf/app.yaml", b"generation one\n");
    write(&a, "data/small.bin", &noise(200 << 10, 3));
    wait_same(&p, &a, &b, "first generation");
    let before = snapshot(&b);
    let g1 = wait_row(&p, B, "b in step", |r| r["in_step"] == true)["generation"].as_u64();

    // A large change (the file written beside the copy and moved in whole, so every
    // generation a scans has it): b is partway through it when a dies.
    put_whole(&a, "data/large.bin", &noise(400 << 20, 11));
    write(&a, "conf/app.yaml", b"generation two\n");
    wait_row(&p, B, "b receiving the large file", |r| {
        r["transfer"]["bytes_done"].as_u64().is_some_and(|n| n > 0)
    });
    let t0 = now_ns();
    p.c.dm(A).kill();

    // b takes over on the previous complete generation: every file as it was.
    p.c.d(B).wait_state("VI_1", "MASTER");
    wait_row(&p, B, "b serves", |r| r["role"] == "source");
    common::netns::wait_for(e2e::DEADLINE, "b's service started", || {
        last_of(&p.c.hooks(), "b", t0).is_some_and(|l| {
            l.phase == "start_end" && l.args.first().is_some_and(|a| a == "notify_master")
        })
    });
    assert_eq!(
        snapshot(&b),
        before,
        "b holds exactly the previous generation"
    );
    assert_eq!(generation(p.c.d(B)), g1);
    assert!(!b.join("data/large.bin").exists());
    let staged: Vec<_> = std::fs::read_dir(b.parent().expect("parent"))
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("baton-stage"))
        .collect();
    assert!(
        staged.is_empty(),
        "no stage left beside the copy: {staged:?}"
    );
}

#[test]
fn a_full_disk_keeps_the_previous_generation_usable() {
    // b's root is a 24 MiB tmpfs: a generation with a 40 MiB file cannot land there.
    let (p, [a, b]) = sync_pair_with("sync-full", &[], Some("24m"));
    write(&a, "conf/app.yaml", b"fits\n");
    write(&a, "data/some.bin", &noise(4 << 20, 9));
    wait_same(&p, &a, &b, "first generation");
    let before = snapshot(&b);
    let g1 = wait_row(&p, B, "b in step", |r| r["in_step"] == true)["generation"].as_u64();

    put_whole(&a, "data/too-large.bin", &noise(40 << 20, 5));
    write(&a, "conf/app.yaml", b"does not fit\n");
    let r = wait_row(&p, B, "b reports the full disk", |r| {
        r["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("No space") || e.contains("space"))
    });
    println!("b: {}", r["last_error"]);
    assert_eq!(
        snapshot(&b),
        before,
        "b's copy is the previous generation, whole"
    );
    assert_eq!(generation(p.c.d(B)), g1);
    assert_eq!(
        std::fs::read(b.join("conf/app.yaml")).expect("readable"),
        b"fits\n"
    );

    // Once the large file is gone on a, the next generation fits and lands.
    std::fs::remove_file(a.join("data/too-large.bin")).expect("rm");
    wait_same(&p, &a, &b, "the generation that fits");
}

/// Drops everything between namespace `ns` and `peer` (VRRP and the link alike).
fn partition(ns: &str, peer: &str, on: bool) {
    let script = if on {
        format!(
            "nft add table inet baton_test_part && \
             nft add chain inet baton_test_part i '{{ type filter hook input priority 0; }}' && \
             nft add chain inet baton_test_part o '{{ type filter hook output priority 0; }}' && \
             nft add rule inet baton_test_part i ip saddr {peer} drop && \
             nft add rule inet baton_test_part o ip daddr {peer} drop"
        )
    } else {
        "nft delete table inet baton_test_part".to_string()
    };
    let st = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", &script])
        .status()
        .expect("nft");
    assert!(st.success(), "partition {ns} {on}");
}

#[test]
fn after_a_partition_the_master_that_stays_wins_and_the_other_side_is_kept_aside() {
    let (p, [a, b]) = sync_pair("sync-part", &[]);
    let c = &p.c;
    write(&a, "conf/app.yaml", b"before\n");
    write(&a, "shared.txt", b"both\n");
    wait_same(&p, &a, &b, "in step before the partition");

    // Both sides serve and change the directory.
    let ns_b = c.net.node(B).ns.clone();
    partition(&ns_b, &p.addrs[A], true);
    c.d(B).wait_state("VI_1", "MASTER");
    wait_row(&p, B, "b serves", |r| r["role"] == "source");
    write(&a, "conf/app.yaml", b"written by a\n");
    write(&b, "conf/app.yaml", b"written by b\n");
    write(&b, "b-only.txt", b"made on b\n");
    std::fs::remove_file(b.join("shared.txt")).expect("rm on b");

    // Healed: a (priority 100) stays master, b steps down and takes a's copy; what b
    // wrote is moved aside, never lost.
    partition(&ns_b, &p.addrs[A], false);
    c.d(B).wait_state("VI_1", "BACKUP");
    wait_same(&p, &a, &b, "b takes a's copy");
    assert_eq!(
        std::fs::read(b.join("conf/app.yaml")).expect("b"),
        b"written by a\n"
    );
    assert!(!b.join("b-only.txt").exists());
    let r = wait_row(&p, B, "b reports what it moved aside", |r| {
        r["conflicts"].as_u64() >= Some(2)
    });
    let aside = Path::new(r["conflicts_dir"].as_str().expect("conflicts dir"));
    assert_eq!(
        std::fs::read(aside.join("conf/app.yaml")).expect("kept"),
        b"written by b\n"
    );
    assert_eq!(
        std::fs::read(aside.join("b-only.txt")).expect("kept"),
        b"made on b\n"
    );
    let text = c.d(B).cli(&["status"]);
    assert!(text.contains("moved aside to"), "{text}");
    // a's copy is a's: nothing of b's came over.
    assert!(!a.join("b-only.txt").exists());
    assert_eq!(std::fs::read(a.join("shared.txt")).expect("a"), b"both\n");
}

#[test]
fn a_node_that_fails_back_starts_on_the_copy_its_peer_served() {
    // a's generic notify hook records what a's copy holds when a's MASTER hooks run.
    let tmp = tempfile::tempdir().expect("tmp");
    let hook = tmp.path().join("marker.sh");
    let seen = tmp.path().join("seen");
    std::fs::write(&hook, "#!/bin/sh\nexit 0\n").expect("placeholder");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let opts = Opts {
        a_extra: vec![format!("notify {}", hook.display())],
        ..Opts::default()
    };
    let (mut p, [a, b]) = sync_pair_opts("sync-back", &[], opts);
    let mnt = p.c.path("mnt");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n[ \"$3\" = MASTER ] && cat {}/data/marker >> {} 2>&1\nexit 0\n",
            mnt.display(),
            seen.display()
        ),
    )
    .expect("hook");
    write(&a, "marker", b"from a\n");
    wait_same(&p, &a, &b, "in step");

    // a crashes; b serves and changes the data (a large change, so that it is still on
    // its way when a is back and MASTER).
    let ga = generation(p.c.d(A));
    let t0 = now_ns();
    p.c.dm(A).kill();
    p.c.d(B).wait_state("VI_1", "MASTER");
    common::netns::wait_for(e2e::DEADLINE, "b's service started", || {
        last_of(&p.c.hooks(), "b", t0).is_some_and(|l| {
            l.phase == "start_end" && l.args.first().is_some_and(|a| a == "notify_master")
        })
    });
    wait_row(&p, B, "b is the source", |r| r["role"] == "source");
    put_whole(&b, "data/large.bin", &noise(150 << 20, 13));
    write(&b, "marker", b"from b\n");
    wait_row(&p, B, "b scanned its change", |r| {
        r["files"].as_u64() == Some(2) && r["generation"].as_u64() > ga
    });

    // a comes back, preempts, and its MASTER hooks run on b's copy.
    std::fs::write(&seen, "").expect("reset");
    let t1 = now_ns();
    p.c.dm(A).restart();
    settle(&p, "failback", A, t1);
    // The generic notify runs after notify_master.
    common::netns::wait_for(e2e::DEADLINE, "a's generic notify MASTER", || {
        std::fs::metadata(&seen).is_ok_and(|m| m.len() > 0)
    });
    let seen_text = std::fs::read_to_string(&seen).expect("seen");
    assert!(
        seen_text.starts_with("from b"),
        "a's hooks saw {seen_text:?}\n{}",
        p.c.all_logs()
    );
    assert_eq!(
        snapshot(&a).get("data/large.bin").map(|n| n.kind),
        Some("file")
    );
    wait_same(&p, &a, &b, "in step after failback");
    assert_no_refusals(&p);
}

#[test]
fn a_sync_dir_added_by_a_reload_starts_in_step_and_a_bad_one_keeps_the_running_config() {
    // The pair starts with nothing to sync.
    let opts = Opts {
        own_mounts: true,
        ..Opts::default()
    };
    let p = e2e::handover::pair_with("sync-reload", "0.1", 3, true, &opts);
    let (a, b) = (
        e2e::handover::sync_root(&p.c, A).join("data"),
        e2e::handover::sync_root(&p.c, B).join("data"),
    );
    write(&a, "conf/app.yaml", b"before the reload\n");
    assert!(row(p.c.d(A)).is_null() && row(p.c.d(B)).is_null());

    // A reload with a sync_dir that is not absolute is refused: nothing changes.
    let mnt = p.c.path("mnt");
    let line = |path: &str| format!("    sync_dir {path} instance VI_1\n");
    let add = |name: &str, text: &str| {
        let f = p.c.path(&format!("{name}.baton.conf"));
        let old = std::fs::read_to_string(&f).expect("baton.conf");
        let new = old.replacen("\n}\n", &format!("\n{text}}}\n"), 1);
        std::fs::write(&f, new).expect("write baton.conf");
        old
    };
    let old_a = add("a", &line("relative/data"));
    p.c.d(A).signal(nix::sys::signal::Signal::SIGHUP);
    p.c.d(A).wait_log("relative/data");
    assert!(
        row(p.c.d(A)).is_null(),
        "a bad reload keeps the running config"
    );
    std::fs::write(p.c.path("a.baton.conf"), old_a).expect("restore");

    // Both nodes reload with the directory: the copy follows at once.
    let good = line(&format!("{}/data", mnt.display()));
    for (i, name) in [(A, "a"), (B, "b")] {
        add(name, &good);
        p.c.d(i).signal(nix::sys::signal::Signal::SIGHUP);
    }
    wait_same(&p, &a, &b, "the directory added by the reload");
    write(&a, "conf/app.yaml", b"after the reload\n");
    wait_same(&p, &a, &b, "a change after the reload");
    assert_no_refusals(&p);
}
