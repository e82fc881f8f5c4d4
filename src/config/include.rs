//! include: the files an `include` line names, and what baton says about
//! the parts that are missing or unusable.
//!
//! What counts as a problem, and which problems stop the configuration,
//! follows what keepalived 2.2.7 was seen to do (`keepalived -t` on small
//! files, each variant against each case):
//!
//! - a brace expression is expanded first; each alternative with a glob
//!   character is matched, each plain one names its file whether or not it
//!   exists;
//! - a plain file that does not exist is always reported, for every
//!   variant, at the include's line; it stops the configuration for
//!   `includem`, `includew` and `includea` when the pattern has no braces,
//!   and for `includeb` and `includea` when it has;
//! - a pattern that names nothing at all (only globs, none matching) is
//!   reported and stops the configuration only for `includew` and
//!   `includea`; plain `include conf.d/*.conf` with an empty directory is
//!   normal and silent;
//! - a named file that is a directory, not a regular file, executable, or
//!   unreadable is skipped with a report; that stops the configuration
//!   for every strict variant, `includer` included.
//!
//! Nothing here reads the files' contents: [`super::preproc`] does.

use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, Loc, Severity};
use super::preproc::expand_braces;

/// Which problems of an include stop the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Any strict variant: an unusable file (directory, executable,
    /// unreadable) is an error.
    pub strict: bool,
    /// A missing plain file, in a pattern without braces, is an error.
    pub missing: bool,
    /// A pattern that names no file at all is reported, as an error.
    pub wildcard: bool,
    /// A missing file named by a brace alternative is an error.
    pub brace: bool,
}

/// The checks of an include keyword, or `None` for any other word.
pub fn checks_of(word: &str) -> Option<Checks> {
    let c = |strict, missing, wildcard, brace| {
        Some(Checks {
            strict,
            missing,
            wildcard,
            brace,
        })
    };
    match word {
        "include" => c(false, false, false, false),
        "includer" => c(true, false, false, false),
        "includem" => c(true, true, false, false),
        "includew" => c(true, true, true, false),
        "includeb" => c(true, false, false, true),
        "includea" => c(true, true, true, true),
        _ => None,
    }
}

impl Checks {
    fn severity(self, stops: bool) -> Severity {
        if stops {
            Severity::Error
        } else {
            Severity::Warning
        }
    }

    /// How bad a file that exists but cannot be used is.
    pub fn unusable(self) -> Severity {
        self.severity(self.strict)
    }
}

/// The files `pattern` (as written at `at`; `full` is it resolved against
/// the including file's directory) names, in order, with every problem
/// reported. Only regular, non-executable files are returned.
pub fn resolve(
    pattern: &str,
    full: &str,
    checks: Checks,
    at: &Loc,
    diags: &mut Vec<Diagnostic>,
) -> Vec<PathBuf> {
    let alternatives = expand_braces(full);
    let braced = alternatives.len() > 1 || alternatives.first().is_some_and(|a| a != full);
    let mut named: Vec<PathBuf> = Vec::new();
    let mut missing: Vec<PathBuf> = Vec::new();
    for alt in &alternatives {
        if alt.contains(['*', '?', '[']) {
            match glob::glob(alt) {
                Ok(paths) => {
                    let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                    found.sort();
                    named.extend(found);
                }
                Err(e) => diags.push(Diagnostic::error(at, format!("bad include pattern: {e}"))),
            }
        } else {
            let path = PathBuf::from(alt);
            // A dangling symlink exists as a name: it is reported below as
            // unusable, not as missing.
            if path.symlink_metadata().is_ok() {
                named.push(path);
            } else {
                missing.push(path);
            }
        }
    }

    if named.is_empty() && missing.is_empty() {
        if checks.wildcard {
            diags.push(Diagnostic::error(
                at,
                format!("include: no file matches {pattern}"),
            ));
        }
        return named;
    }
    if !missing.is_empty() {
        let stops = if braced { checks.brace } else { checks.missing };
        let msg = if named.is_empty() && !braced {
            format!("include: {pattern} does not exist")
        } else if named.is_empty() {
            format!("include: none of the files {pattern} names exists")
        } else {
            let list: Vec<String> = missing.iter().map(|p| shown(p)).collect();
            format!(
                "include: some files {pattern} names do not exist: {}",
                list.join(", ")
            )
        };
        diags.push(Diagnostic::new(at, checks.severity(stops), msg));
    }

    let mut usable = Vec::with_capacity(named.len());
    for path in named {
        match unusable(&path) {
            None => usable.push(path),
            Some(why) => diags.push(Diagnostic::new(
                at,
                checks.unusable(),
                format!("include: {} {why}; skipped", shown(&path)),
            )),
        }
    }
    usable
}

/// Why `path` cannot be read as a configuration file, if it cannot.
fn unusable(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Err(e) => Some(format!("cannot be read ({e})")),
        Ok(m) if m.is_dir() => Some("is a directory".into()),
        Ok(m) if !m.is_file() => Some("is not a regular file".into()),
        // keepalived refuses executable configuration files, so a file
        // that it would never read is not read here either.
        Ok(m) if m.permissions().mode() & 0o111 != 0 => Some("is executable".into()),
        Ok(_) => None,
    }
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}
