//! check_rel and the symlink-target rule.

use crate::sync::tree::{PathError, check_rel, link_target_inside, parent};

#[test]
fn ordinary_paths_pass() {
    for p in ["a", "a/b", "a/b/c.txt", ".hidden", "a/...", "a b/ü"] {
        assert_eq!(check_rel(p), Ok(()), "{p}");
    }
}

#[test]
fn hostile_paths_are_refused_with_their_cause() {
    let cases = [
        ("", PathError::Empty, "path_empty"),
        ("/etc/passwd", PathError::Absolute, "path_absolute"),
        ("../x", PathError::DotDot, "path_dotdot"),
        ("a/../../x", PathError::DotDot, "path_dotdot"),
        ("a/..", PathError::DotDot, "path_dotdot"),
        ("./a", PathError::EmptyOrDot, "path_empty_or_dot"),
        ("a//b", PathError::EmptyOrDot, "path_empty_or_dot"),
        ("a/", PathError::EmptyOrDot, "path_empty_or_dot"),
        ("a\0b", PathError::Nul, "path_nul"),
    ];
    for (p, want, cause) in cases {
        assert_eq!(check_rel(p), Err(want.clone()), "{p:?}");
        assert_eq!(want.cause(), cause);
    }
}

#[test]
fn length_limits() {
    let name = "n".repeat(255);
    assert_eq!(check_rel(&name), Ok(()));
    assert_eq!(check_rel(&"n".repeat(256)), Err(PathError::TooLong));
    let long = vec![name.as_str(); 16].join("/"); // 16 * 256 - 1 = 4095 bytes
    assert_eq!(check_rel(&long), Ok(()));
    assert_eq!(check_rel(&format!("{long}/xx")), Err(PathError::TooLong));
}

#[test]
fn parent_of_paths() {
    assert_eq!(parent("a"), None);
    assert_eq!(parent("a/b"), Some("a"));
    assert_eq!(parent("a/b/c"), Some("a/b"));
}

#[test]
fn symlink_targets_stay_inside() {
    let ok = [
        ("a", "b"),
        ("a", "./b"),
        ("d/a", ".."),
        ("d/a", "../b/c"),
        ("d/e/a", "../../x"),
        ("a", "b/c/"),
    ];
    for (l, t) in ok {
        assert!(link_target_inside(l, t), "{l} -> {t}");
    }
    let refused = [
        ("a", ""),
        ("a", "/etc"),
        ("a", ".."),
        ("a", "../../etc"),
        ("d/a", "../.."),
        ("d/a", "b/../../.."),
        // Would stay inside lexically, but ".." after a name is resolved wherever the
        // name points (it may itself be a symlink to ".."), so it is refused.
        ("d/a", "b/../c"),
        ("a", "b\0"),
    ];
    for (l, t) in refused {
        assert!(!link_target_inside(l, t), "{l} -> {t}");
    }
}
