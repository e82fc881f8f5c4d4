//! yaml: the model's YAML form (what `baton check --dump` prints and what
//! `-f file.yaml` reads back to the identical model).

use std::path::Path;

use super::build::Spans;
use super::diag::{Diagnostic, Loc};
use super::model::Config;

/// Read a YAML configuration; a syntax or shape error comes back with the
/// location yaml_serde gives.
pub fn read(path: &Path) -> Result<Config, Diagnostic> {
    read_with_spans(path).map(|(c, _)| c)
}

/// [`read`], with where each object and field is in the text (for the
/// checks after parsing).
pub fn read_with_spans(path: &Path) -> Result<(Config, Spans), Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::error(
            &Loc {
                file: std::sync::Arc::from(path),
                line: 1,
                col: 1,
            },
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let config = from_str(&text, path)?;
    Ok((config, super::yaml_spans::spans(&text, path)))
}

/// Parse YAML text (`path` only names it in diagnostics).
pub fn from_str(text: &str, path: &Path) -> Result<Config, Diagnostic> {
    yaml_serde::from_str::<Config>(text).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line() as u32, l.column() as u32))
            .unwrap_or((1, 1));
        Diagnostic::error(
            &Loc {
                file: std::sync::Arc::from(path),
                line: line.max(1),
                col: col.max(1),
            },
            e.to_string(),
        )
    })
}

/// The YAML form of a model.
pub fn to_string(c: &Config) -> Result<String, String> {
    yaml_serde::to_string(c).map_err(|e| e.to_string())
}
