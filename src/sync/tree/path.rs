//! Relative paths as they travel between nodes, and the rule for symlink targets.
//!
//! A path inside a synced directory is '/'-separated UTF-8 text. `check_rel` accepts only
//! paths that, joined onto the directory, name something strictly inside it: no absolute
//! paths, no "." or ".." components, no empty components, no NUL, bounded lengths.
//! `link_target_inside` is the symlink rule shared by the scanner (what may be sent) and
//! `Manifest::validate` (what may be received).

/// Longest accepted relative path, in bytes (Linux PATH_MAX).
pub const MAX_PATH_LEN: usize = 4096;
/// Longest accepted path component, in bytes (Linux NAME_MAX).
pub const MAX_NAME_LEN: usize = 255;

/// Why a relative path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path is absolute")]
    Absolute,
    #[error("path has a \"..\" component")]
    DotDot,
    #[error("path has an empty or \".\" component")]
    EmptyOrDot,
    #[error("path has a NUL byte")]
    Nul,
    #[error("path or one of its components is too long")]
    TooLong,
}

impl PathError {
    /// Short snake_case name for counters and logs.
    pub fn cause(&self) -> &'static str {
        match self {
            PathError::Empty => "path_empty",
            PathError::Absolute => "path_absolute",
            PathError::DotDot => "path_dotdot",
            PathError::EmptyOrDot => "path_empty_or_dot",
            PathError::Nul => "path_nul",
            PathError::TooLong => "path_too_long",
        }
    }
}

/// Checks that `path` is a valid relative path inside a synced directory.
pub fn check_rel(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.as_bytes().contains(&0) {
        return Err(PathError::Nul);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    for name in path.split('/') {
        match name {
            "" | "." => return Err(PathError::EmptyOrDot),
            ".." => return Err(PathError::DotDot),
            _ if name.len() > MAX_NAME_LEN => return Err(PathError::TooLong),
            _ => {}
        }
    }
    Ok(())
}

/// The parent of a valid relative path, or None for a top-level name.
pub fn parent(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

/// Whether a symlink at `link` (a valid relative path) with content `target` may travel.
///
/// The target must be non-empty, relative, without NUL, at most `MAX_PATH_LEN` bytes, and,
/// read lexically from the link's parent directory, never climb above the root (each ".."
/// counted against the depth reached so far). On top of that, ".." may only appear as a
/// leading run ("../../a/b", not "a/../b"): a ".." after a name would be resolved by the
/// kernel relative to wherever that name points, which, if the name is itself a symlink,
/// is not where the lexical count assumes. With ".." only at the start, every ".." is
/// applied to a real directory of the tree (the manifest's parents are all directories),
/// so the rule holds for the real resolution too, whatever other links the tree holds.
pub fn link_target_inside(link: &str, target: &str) -> bool {
    if target.is_empty()
        || target.starts_with('/')
        || target.as_bytes().contains(&0)
        || target.len() > MAX_PATH_LEN
    {
        return false;
    }
    let mut depth = parent(link).map_or(0, |p| p.split('/').count());
    let mut seen_name = false;
    for name in target.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                if seen_name || depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            _ => {
                seen_name = true;
                depth += 1;
            }
        }
    }
    true
}
