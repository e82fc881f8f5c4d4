//! On a small tmpfs: a full disk during the build (the switch never happens and the root
//! is untouched), and conflicts moved to another filesystem.

use std::process::Command;

use super::stage::Node;
use std::fs;

use super::util::{file, receive_all, scan, snapshot, write};

/// A small tmpfs, unmounted on drop. None (with a note) where mounting is not allowed.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("note: cannot mount a tmpfs here (not root?); full-disk test skipped");
            return None;
        }
        Some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_leaves_root_unchanged_and_no_stage() {
    let Some(fs) = Tmpfs::mount("1m") else {
        return;
    };
    let tmp = tempfile::tempdir_in(fs.dir.path()).unwrap();
    let node = Node::under(tmp);
    let big = vec![5u8; 600 * 1024];
    write(&node.root, "big", &big);
    write(&node.root, "small", b"small");
    let current = scan(&node.root);
    let before = snapshot(&node.root);
    // "big" stays (a hard link, no space needed); "big2" must be a copy of it: no room.
    let mut new = current.clone();
    let mut copy = file("big2", &big);
    copy.mode = 0o600;
    new.entries.insert(1, copy);
    assert_eq!(new.validate(u64::MAX, usize::MAX), Ok(()));
    let e = node
        .stage
        .apply(
            &current,
            &new,
            &node.incoming,
            Some(&current),
            &node.conflicts,
            "s1",
        )
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("No space left"), "{text}");
    assert_eq!(snapshot(&node.root), before);
    assert!(!node.stage.stage_path().exists());
}

#[test]
fn conflicts_on_another_filesystem_are_copied_then_removed() {
    let Some(other) = Tmpfs::mount("4m") else {
        return;
    };
    let mut node = Node::new();
    node.conflicts = other.dir.path().join("conflicts");
    write(&node.root, "mine.txt", b"local");
    std::os::unix::fs::symlink("mine.txt", node.root.join("ln")).unwrap();
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "theirs.txt", b"remote");
    let new = scan(src.path());
    receive_all(src.path(), &new, &node.incoming);
    let applied = node.apply(&new, None).unwrap();
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    assert_eq!(applied.conflicts, ["ln", "mine.txt"]);
    let out = node.conflicts.join("s1");
    assert_eq!(fs::read(out.join("mine.txt")).unwrap(), b"local");
    assert_eq!(
        fs::read_link(out.join("ln")).unwrap().to_str(),
        Some("mine.txt")
    );
    assert_eq!(scan(&node.root), new);
    assert!(!node.stage.stage_path().exists());
}
