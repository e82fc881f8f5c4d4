//! Descriptor walks refuse symlinks at every component.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::util::write;
use crate::sync::tree::at;

#[test]
fn a_symlinked_directory_is_never_walked_through() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    write(&root, "real/f", b"inside");
    write(tmp.path(), "outside/secret", b"secret");
    symlink("../outside", root.join("swapped")).unwrap();
    let fd = at::open_root(&root).unwrap();

    let (dir, name) = at::open_parent(&fd, Path::new("real/f")).unwrap();
    assert_eq!(name, "f");
    assert!(at::lstat(&dir, name).unwrap().is_file());
    assert_eq!(at::names(&dir).unwrap(), ["f"]);

    assert!(at::open_parent(&fd, Path::new("swapped/secret")).is_err());
    assert!(at::open_dir_path(&fd, Path::new("swapped")).is_err());
    // The symlink itself is seen as a symlink, and opening it as a file is refused.
    assert!(
        at::lstat(&fd, "swapped".as_ref())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(at::open_file(&fd, "swapped".as_ref()).is_err());
    assert!(at::open_parent(&fd, Path::new("../root/real/f")).is_err());
    assert!(at::open_root(&root.join("swapped")).is_err());
}
