//! check: what `baton check` (and keepalived's `-t`) prints and returns.
//!
//! Every diagnostic as `FILE:LINE:COL: severity: message`, then a summary
//! line; with baton's own file, the diagnostics of both files (keepalived.conf's
//! first) and one summary naming both. With `dump`, the resolved model goes to `out` as YAML and the
//! diagnostics to `err` so the YAML can be redirected into a file.

use std::io::{self, Write};
use std::path::Path;

use super::diag::{Diagnostic, Loc};
use super::{LoadOptions, load_all, summary, yaml};

/// Where the first `arbiter` block of baton's own file starts.
fn arbiter_block(file: &Path) -> Loc {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let (line, col) = (text.lines().enumerate())
        .find_map(|(n, l)| {
            let col = l.len() - l.trim_start().len();
            l.trim_start()
                .starts_with("arbiter")
                .then_some((n + 1, col + 1))
        })
        .unwrap_or((1, 1));
    Loc {
        file: std::sync::Arc::from(file),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// Run the check. Returns whether the configuration would run as written
/// (no errors; warnings allowed).
pub fn check(
    path: &Path,
    opts: &LoadOptions,
    dump: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<bool> {
    let (config, mut diags) = load_all(path, opts);
    // The file is right, but this binary could not run it.
    let arbiters = config
        .as_ref()
        .is_some_and(|c| !c.baton.arbiters.is_empty());
    if arbiters && !cfg!(feature = "etcd") {
        if let Some(file) = &opts.baton_conf {
            diags.push(Diagnostic::error(
                &arbiter_block(file),
                "this baton was built without etcd support (cargo feature `etcd`), so \
                 the arbiter etcd block cannot run; the deb and rpm packages have it",
            ));
        }
    }
    let ok = config.is_some() && !diags.iter().any(|d| d.is_error());
    {
        let report: &mut dyn Write = if dump { &mut *err } else { &mut *out };
        for d in &diags {
            writeln!(report, "{d}")?;
        }
        match &opts.baton_conf {
            Some(b) => writeln!(
                report,
                "{} and {}: {}",
                path.display(),
                b.display(),
                summary(&diags)
            )?,
            None => writeln!(report, "{}: {}", path.display(), summary(&diags))?,
        }
    }
    if dump && ok {
        if let Some(c) = &config {
            match yaml::to_string(c) {
                Ok(text) => out.write_all(text.as_bytes())?,
                Err(e) => {
                    writeln!(err, "cannot write YAML: {e}")?;
                    return Ok(false);
                }
            }
        }
    }
    Ok(ok)
}
