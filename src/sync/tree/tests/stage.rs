//! Applying manifests: the result equals the source, deletions happen, failures leave
//! the directory untouched, and unchanged files keep their inode.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};

use super::util::{chmod, file, ino, manifest, receive_all, scan, sha, snapshot, touch, write};
use crate::sync::tree::{Incoming, Kind, Manifest, Stage, StageError};

/// A parent directory holding `data` (the synced root), the incoming area and the
/// conflicts folder, as a node would have them.
pub struct Node {
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub incoming: Incoming,
    pub conflicts: PathBuf,
    pub stage: Stage,
}

impl Node {
    pub fn new() -> Node {
        Node::under(tempfile::tempdir().unwrap())
    }

    pub fn under(tmp: tempfile::TempDir) -> Node {
        let root = tmp.path().join("data");
        let incoming = Incoming::open(tmp.path().join(".data.baton-incoming")).unwrap();
        let conflicts = tmp.path().join("conflicts");
        let stage = Stage::new(&root).unwrap();
        Node {
            _tmp: tmp,
            root,
            incoming,
            conflicts,
            stage,
        }
    }

    pub fn apply(
        &self,
        new: &Manifest,
        base: Option<&Manifest>,
    ) -> Result<crate::sync::tree::Applied, StageError> {
        let current = if self.root.exists() {
            scan(&self.root)
        } else {
            Manifest::default()
        };
        self.stage
            .apply(&current, new, &self.incoming, base, &self.conflicts, "s1")
    }
}

/// A source tree with every kind of entry and metadata a manifest carries.
fn source(src: &Path) {
    let f = write(src, "a.txt", b"alpha");
    chmod(&f, 0o640);
    lchown(&f, Some(1234), Some(1235)).unwrap();
    touch(&f, 1_500_000_000, 42);
    let f = write(src, "bin/tool", b"#!/bin/sh\necho hi\n");
    lchown(&f, Some(1234), Some(0)).unwrap();
    chmod(&f, 0o4755); // after chown, which would clear set-uid
    write(src, "bin/copy-of-tool", b"#!/bin/sh\necho hi\n");
    write(src, "empty", b"");
    write(src, "big/blob", &vec![9u8; 300_000]);
    fs::create_dir_all(src.join("emptydir/inner")).unwrap();
    chmod(&src.join("emptydir"), 0o750);
    lchown(src.join("emptydir"), Some(1234), Some(1234)).unwrap();
    symlink("bin/tool", src.join("tool")).unwrap();
    symlink("../a.txt", src.join("bin/a")).unwrap();
    lchown(src.join("tool"), Some(1234), Some(1234)).unwrap();
    touch(&src.join("tool"), 1_400_000_000, 7);
    touch(&src.join("emptydir/inner"), 1_300_000_000, 999_999_999);
    touch(&src.join("bin"), 1_300_000_001, 1);
}

#[test]
fn apply_builds_exactly_the_source_tree_and_deletes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    source(&src);
    let want = scan(&src);
    let node = Node::new();
    write(&node.root, "old.txt", b"old");
    write(&node.root, "olddir/x", b"x");
    chmod(&node.root, 0o751);
    lchown(&node.root, Some(1234), Some(1236)).unwrap();
    let before = scan(&node.root);
    receive_all(&src, &want, &node.incoming);

    let applied = node.apply(&want, Some(&before)).unwrap();
    assert!(applied.conflicts.is_empty() && applied.errors.is_empty());
    assert_eq!(applied.conflicts_dir, None);
    assert_eq!(scan(&node.root), want);
    assert!(!node.root.join("old.txt").exists());
    assert!(!node.root.join("olddir").exists());
    assert!(!node.stage.stage_path().exists());
    // The root itself kept its own mode and owner.
    let m = fs::metadata(&node.root).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o751, 1234, 1236));
    // Applying the same manifest again changes nothing (and needs nothing received).
    let again = node.apply(&want, Some(&want)).unwrap();
    assert!(again.conflicts.is_empty());
    assert_eq!(scan(&node.root), want);
}

#[test]
fn apply_creates_a_missing_root() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    source(&src);
    let want = scan(&src);
    let node = Node::new();
    receive_all(&src, &want, &node.incoming);
    let applied = node.apply(&want, None).unwrap();
    assert!(applied.conflicts.is_empty());
    assert_eq!(scan(&node.root), want);
    let mode = fs::metadata(&node.root).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755);
    assert!(!node.stage.stage_path().exists());
}

#[test]
fn a_missing_content_leaves_root_unchanged() {
    let node = Node::new();
    write(&node.root, "keep", b"keep me");
    write(&node.root, "d/other", b"other");
    let before = snapshot(&node.root);
    // "a" can be renamed in from incoming; "z" has no source anywhere.
    let mut r = node.incoming.begin(&sha(b"arrived"), 7).unwrap();
    r.write(0, b"arrived").unwrap();
    r.finish().unwrap();
    let new = manifest(vec![file("a", b"arrived"), file("z", b"nowhere")]);
    let e = node.apply(&new, None).unwrap_err();
    assert!(
        matches!(&e, StageError::Missing { path } if path == "z"),
        "{e}"
    );
    assert_eq!(snapshot(&node.root), before);
    assert!(!node.stage.stage_path().exists());
    // The received content is back in the incoming area for the next attempt.
    assert!(node.incoming.has(&sha(b"arrived")));
}

#[test]
fn an_invalid_manifest_is_refused_before_anything_is_written() {
    let node = Node::new();
    write(&node.root, "keep", b"keep me");
    let before = snapshot(&node.root);
    let new = Manifest {
        entries: vec![file("../escape", b"x")],
    };
    let e = node.apply(&new, None).unwrap_err();
    assert!(matches!(e, StageError::Invalid(_)), "{e}");
    assert!(!node.stage.stage_path().exists());
    assert_eq!(snapshot(&node.root), before);
    assert!(!node.root.parent().unwrap().join("escape").exists());
    // A stamp that is not one path component is refused too.
    let current = scan(&node.root);
    let e = node
        .stage
        .apply(
            &current,
            &current,
            &node.incoming,
            None,
            &node.conflicts,
            "a/b",
        )
        .unwrap_err();
    assert!(matches!(e, StageError::BadRoot(_)), "{e}");
    // So is a conflicts folder inside the directory (it would be synced, and swept).
    let inside = node.root.join("conflicts");
    let e = node
        .stage
        .apply(&current, &current, &node.incoming, None, &inside, "s1")
        .unwrap_err();
    assert!(matches!(e, StageError::BadRoot(_)), "{e}");
    assert_eq!(snapshot(&node.root), before);
}

#[test]
fn a_leftover_stage_is_removed() {
    let node = Node::new();
    write(node.stage.stage_path(), "junk/x", b"junk");
    write(&node.root, "f", b"f");
    let current = scan(&node.root);
    node.apply(&current, Some(&current)).unwrap();
    assert!(!node.stage.stage_path().exists());
    assert_eq!(fs::read(node.root.join("f")).unwrap(), b"f");
    write(node.stage.stage_path(), "junk/x", b"junk");
    node.stage.clean().unwrap();
    assert!(!node.stage.stage_path().exists());
    node.stage.clean().unwrap();
}

#[test]
fn stage_paths() {
    let s = Stage::new(Path::new("/opt/neuronex/data")).unwrap();
    assert_eq!(s.stage_path(), Path::new("/opt/neuronex/.data.baton-stage"));
    assert!(Stage::new(Path::new("relative/data")).is_err());
    assert!(Stage::new(Path::new("/")).is_err());
}

#[test]
fn unchanged_files_keep_their_inode_and_old_inodes_are_never_written() {
    let node = Node::new();
    write(&node.root, "same", b"same");
    write(&node.root, "changed", b"old content");
    write(&node.root, "chmodded", b"mode only");
    let before = scan(&node.root);
    let same_ino = ino(&node.root.join("same"));
    let changed_ino = ino(&node.root.join("changed"));
    let chmodded_ino = ino(&node.root.join("chmodded"));
    let mut held = fs::File::open(node.root.join("changed")).unwrap();
    let held_mode = fs::File::open(node.root.join("chmodded")).unwrap();

    let mut new = before.clone();
    for e in &mut new.entries {
        match e.path.as_str() {
            "changed" => {
                e.kind = Kind::File {
                    size: 11,
                    sha256: sha(b"new content"),
                }
            }
            "chmodded" => e.mode = 0o600,
            _ => {}
        }
    }
    let mut r = node.incoming.begin(&sha(b"new content"), 11).unwrap();
    r.write(0, b"new content").unwrap();
    r.finish().unwrap();

    node.apply(&new, Some(&before)).unwrap();
    assert_eq!(scan(&node.root), new);
    assert_eq!(ino(&node.root.join("same")), same_ino);
    assert_ne!(ino(&node.root.join("changed")), changed_ino);
    assert_ne!(ino(&node.root.join("chmodded")), chmodded_ino);
    assert_eq!(fs::read(node.root.join("changed")).unwrap(), b"new content");
    // The old inodes still hold the old content and mode.
    let mut old = String::new();
    held.read_to_string(&mut old).unwrap();
    assert_eq!(old, "old content");
    assert_eq!(held_mode.metadata().unwrap().mode() & 0o7777, 0o644);
    // Incoming content was consumed by a rename.
    assert!(!node.incoming.has(&sha(b"new content")));
}
