//! Local changes: moved aside when the new generation differs, otherwise left alone.

use std::fs;
use std::os::unix::fs::symlink;

use super::stage::Node;
use super::util::{dir, file, link, manifest, receive_all, scan, write};
use crate::sync::tree::Scanner;

#[test]
fn local_changes_that_differ_are_moved_aside_and_the_rest_replaced() {
    let node = Node::new();
    // What both nodes last agreed on.
    let base = manifest(vec![
        file("changed.txt", b"base"),
        file("untouched.txt", b"base-u"),
        file("agreed.txt", b"base-a"),
        dir("d"),
        file("d/converged.txt", b"base-c"),
    ]);
    // The local tree since then: one file changed, one left alone, one new file, a new
    // symlink, a file changed to exactly what the master has too.
    write(&node.root, "changed.txt", b"local edit");
    write(&node.root, "untouched.txt", b"base-u");
    write(&node.root, "agreed.txt", b"base-a");
    write(&node.root, "d/converged.txt", b"same as master");
    write(&node.root, "d/new-local.txt", b"mine");
    symlink("../agreed.txt", node.root.join("d/mylink")).unwrap();
    let current = scan(&node.root);

    // The master's new tree.
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "changed.txt", b"remote edit");
    write(src.path(), "untouched.txt", b"remote-u");
    write(src.path(), "d/converged.txt", b"same as master");
    let new = scan(src.path());
    receive_all(src.path(), &new, &node.incoming);

    let applied = node
        .stage
        .apply(
            &current,
            &new,
            &node.incoming,
            Some(&base),
            &node.conflicts,
            "s1",
        )
        .unwrap();
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    assert_eq!(
        applied.conflicts,
        ["changed.txt", "d/mylink", "d/new-local.txt"]
    );
    let out = node.conflicts.join("s1");
    assert_eq!(applied.conflicts_dir.as_deref(), Some(out.as_path()));
    assert_eq!(fs::read(out.join("changed.txt")).unwrap(), b"local edit");
    assert_eq!(fs::read(out.join("d/new-local.txt")).unwrap(), b"mine");
    assert_eq!(
        fs::read_link(out.join("d/mylink")).unwrap().to_str(),
        Some("../agreed.txt")
    );
    // agreed.txt was unchanged since base and is gone from the master: simply deleted.
    assert!(!out.join("agreed.txt").exists());
    assert!(!out.join("untouched.txt").exists());
    assert!(!out.join("d/converged.txt").exists());
    // The root now is exactly the master's tree.
    assert_eq!(scan(&node.root), new);
    assert_eq!(
        fs::read(node.root.join("untouched.txt")).unwrap(),
        b"remote-u"
    );
}

#[test]
fn never_synced_means_every_differing_local_file_is_kept() {
    let node = Node::new();
    write(&node.root, "a", b"local a");
    write(&node.root, "b", b"same b");
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "a", b"remote a");
    write(src.path(), "b", b"same b");
    let new = scan(src.path());
    receive_all(src.path(), &new, &node.incoming);
    let applied = node.apply(&new, None).unwrap();
    assert_eq!(applied.conflicts, ["a"]);
    assert_eq!(fs::read(node.conflicts.join("s1/a")).unwrap(), b"local a");
}

#[test]
fn what_appeared_after_the_scan_is_kept_too() {
    let node = Node::new();
    write(&node.root, "f", b"f");
    let current = scan(&node.root);
    // Written after the scan, and a fifo the scan could never send.
    write(&node.root, "late.txt", b"late");
    nix::unistd::mkfifo(
        &node.root.join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let applied = node
        .stage
        .apply(
            &current,
            &current,
            &node.incoming,
            Some(&current),
            &node.conflicts,
            "s1",
        )
        .unwrap();
    assert_eq!(applied.conflicts, ["late.txt", "pipe"]);
    assert_eq!(
        fs::read(node.conflicts.join("s1/late.txt")).unwrap(),
        b"late"
    );
    let s = Scanner::new().scan(&node.root).unwrap();
    assert_eq!(s.manifest, current);
}

#[test]
fn directories_are_never_conflicts() {
    let node = Node::new();
    fs::create_dir_all(node.root.join("localdir/sub")).unwrap();
    let new = manifest(vec![link("l", "x")]);
    let applied = node.apply(&new, None).unwrap();
    assert!(applied.conflicts.is_empty());
    assert_eq!(applied.conflicts_dir, None);
    assert!(!node.conflicts.exists());
    assert_eq!(scan(&node.root).entries.len(), 1);
}
