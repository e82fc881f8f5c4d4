//! config: keepalived.conf (or its YAML form) into a validated, typed model.
//!
//! Pipeline: [`lexer`] (lines of tokens with file:line:col) → [`preproc`]
//! (include, whose files and checks are [`include`]'s, `@id` conditionals,
//! `$NAME` definitions, `~SEQ`/`~LST`) → [`parser`] (a tree of keyword blocks) →
//! [`build`] (the typed [`model`]) → [`validate`] (cross-checks). baton's own file goes
//! through the same lexer, preprocessor and parser into [`batonconf`], then its instance
//! names are checked against keepalived.conf's, and its link block against the instances'
//! unicast addresses. Every stage records problems as
//! [`Diagnostic`]s and keeps going, so one run reports everything.
//!
//! This module depends on nothing else in the crate and does no async I/O;
//! it reads files with `std::fs` and `/sys/class/net` for the interface check.

pub mod baton;
pub mod batonconf;
pub mod build;
pub mod check;
pub mod diag;
pub mod include;
pub mod keywords;
pub mod lexer;
pub mod lvs;
pub mod lvs_keywords;
pub mod model;
pub mod parser;
pub mod preproc;
pub mod split;
pub mod validate;
pub mod yaml;
pub mod yaml_spans;

use std::path::{Path, PathBuf};

pub use check::check;
pub use diag::{Diagnostic, Loc, Severity, summary};
pub use model::Config;

/// The default configuration path, as keepalived's.
pub const DEFAULT_PATH: &str = "/etc/keepalived/keepalived.conf";

/// How to load a configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The `@id` conditional id; `None`: the short host name.
    pub config_id: Option<String>,
    /// Warn about interfaces missing from this host (`/sys/class/net`).
    pub check_interfaces: bool,
    /// Where to look for interfaces (tests point it elsewhere);
    /// `None`: `/sys/class/net`.
    pub sys_class_net: Option<PathBuf>,
    /// Most logical lines the expansion may produce (`None`: 1,000,000,
    /// enough for keepalived's 65,024-instance `~SEQ` example).
    pub max_lines: Option<usize>,
    /// baton's own file (`baton.conf`, see [`baton`]); `None`: no file, every baton
    /// setting at its default. With a YAML configuration, a file given here replaces
    /// the YAML's `baton:` section.
    pub baton_conf: Option<PathBuf>,
}

impl LoadOptions {
    /// The id used for `@id` lines.
    pub fn effective_config_id(&self) -> String {
        match &self.config_id {
            Some(id) => id.clone(),
            None => short_hostname(),
        }
    }
}

fn short_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    name.trim().split('.').next().unwrap_or("").to_string()
}

/// A configuration that can run, with the warnings and notes found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Warnings and notes (never errors), in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// A configuration that cannot run: every diagnostic found, errors included.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render(.diagnostics))]
pub struct LoadFailure {
    pub diagnostics: Vec<Diagnostic>,
}

fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out.push_str(&summary(diags));
    out
}

/// Whether `path` is read as YAML (by extension `.yaml` / `.yml`).
pub fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

/// Load, resolve and validate a configuration file (keepalived.conf syntax,
/// or YAML by extension). On success the model and its warnings; on failure
/// every diagnostic, errors and warnings alike, in file order.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Loaded, LoadFailure> {
    let (config, diagnostics) = load_all(path, opts);
    match config {
        Some(config) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(Loaded {
            config,
            diagnostics,
        }),
        _ => Err(LoadFailure { diagnostics }),
    }
}

/// Like [`load`] but always returns what could be built plus everything
/// found; `baton check --dump` uses it to show a model even with warnings.
pub fn load_all(path: &Path, opts: &LoadOptions) -> (Option<Config>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let (config, spans) = if is_yaml(path) {
        match yaml::read_with_spans(path) {
            Ok((c, spans)) => (Some(c), spans),
            Err(d) => {
                diags.push(d);
                (None, build::Spans::for_file(path))
            }
        }
    } else {
        let lines = preproc::expand(
            path,
            &opts.effective_config_id(),
            opts.max_lines.unwrap_or(preproc::MAX_LINES),
            &mut diags,
        );
        let tree = parser::parse_owned(lines, &mut diags);
        let (config, mut spans) = build::build(&tree, &mut diags);
        spans.file = Loc {
            file: std::sync::Arc::from(path),
            line: 1,
            col: 1,
        };
        (Some(config), spans)
    };
    if let Some(c) = &config {
        validate::validate(c, &spans, opts, &mut diags);
    }
    let mut config = config;
    if let Some(file) = &opts.baton_conf {
        let (baton, refs) = batonconf::load(
            file,
            &opts.effective_config_id(),
            opts.max_lines.unwrap_or(preproc::MAX_LINES),
            &mut diags,
        );
        if let Some(c) = config.as_mut() {
            batonconf::check_refs(&refs, &|name| c.instance(name).is_some(), &mut diags);
            c.baton = baton;
            batonconf::check_link(&refs, c, &mut diags);
            batonconf::check_arbiters(&refs, c, &mut diags);
        }
    }
    if let Some(c) = &config {
        // Needs baton's own file, which may turn the note off.
        validate::unicast_source_note(c, &spans, &mut diags);
    }
    sort_diagnostics(&mut diags);
    (config, diags)
}

/// File order: files in the order they first appear, then line and column.
fn sort_diagnostics(diags: &mut [Diagnostic]) {
    let mut order: Vec<PathBuf> = Vec::new();
    for d in diags.iter() {
        if !order.contains(&d.file) {
            order.push(d.file.clone());
        }
    }
    let rank = |f: &PathBuf| order.iter().position(|o| o == f).unwrap_or(usize::MAX);
    diags.sort_by_key(|d| (rank(&d.file), d.line, d.col));
}
