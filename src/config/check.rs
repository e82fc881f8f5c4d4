//! check: what `baton check` (and keepalived's `-t`) prints and returns.
//!
//! Every diagnostic as `FILE:LINE:COL: severity: message`, then a summary
//! line; with baton's own file, the diagnostics of both files (keepalived.conf's
//! first) and one summary naming both. With `dump`, the resolved model goes to `out` as YAML and the
//! diagnostics to `err` so the YAML can be redirected into a file.

use std::io::{self, Write};
use std::path::Path;

use super::{LoadOptions, load_all, summary, yaml};

/// Run the check. Returns whether the configuration would run as written
/// (no errors; warnings allowed).
pub fn check(
    path: &Path,
    opts: &LoadOptions,
    dump: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<bool> {
    let (config, diags) = load_all(path, opts);
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
