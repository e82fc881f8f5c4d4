//! build: the statement tree into the typed [`Config`], checking each value
//! where it is written (numbers, ranges, addresses, states) and recording
//! the location of what later cross-checks ([`super::validate`]) point at.
//!
//! Unknown keywords are warnings and the build goes on, as keepalived does;
//! blocks baton does not implement (LVS, BFD, ...) are skipped with a note.
//!
//! This file owns the entry ([`build`]), the top-level dispatch and duplicate
//! checks, [`Spans`], the builder state and its reporting helpers. Each kind of
//! block is read in its own file: `global.rs` (`global_defs`), `instance.rs`
//! (`vrrp_instance`), `groups.rs` (`vrrp_sync_group`), `track.rs` (`vrrp_script`,
//! `track_file`, `vrrp_track_process` and the `track_*` lists), `addresses.rs`
//! (addresses, routes and rules, in instances and `static_*`); `values.rs` reads
//! the values they share. Those files add to the model only what their block
//! says; none of them checks across blocks (that is [`super::validate`]'s).

mod addresses;
mod global;
mod groups;
mod instance;
mod track;
mod values;

pub use global::IGNORED_GLOBAL;
pub use instance::IGNORED_INSTANCE;
pub use values::{parse_prefix, parse_secs, secs_in_range};

use std::collections::HashMap;
use std::path::Path;

use super::diag::{Diagnostic, Loc};
use super::lexer::Token;
use super::model::*;
use super::parser::Node;

/// Locations of things in the source, keyed by a path such as
/// `i/VI_1/virtual_router_id` (the keyword) or `i/VI_1/virtual_router_id=`
/// (its value). For YAML input [`super::yaml_spans`] fills the same keys
/// from the text.
#[derive(Debug, Clone, Default)]
pub struct Spans {
    pub file: Loc,
    pub map: HashMap<String, Loc>,
    /// The input was YAML: no keyword was range-checked at its token, so
    /// validation repeats those checks.
    pub from_yaml: bool,
}

impl Spans {
    pub fn for_file(path: &Path) -> Self {
        Spans {
            file: Loc {
                file: std::sync::Arc::from(path),
                line: 1,
                col: 1,
            },
            map: HashMap::new(),
            from_yaml: false,
        }
    }

    /// The location of `key`, else of the first fallback found, else the file.
    pub fn at(&self, keys: &[&str]) -> &Loc {
        keys.iter()
            .find_map(|k| self.map.get(*k))
            .unwrap_or(&self.file)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Record the first location of `key` (a name, a block).
    fn set(&mut self, key: String, loc: &Loc) {
        self.map.entry(key).or_insert_with(|| loc.clone());
    }

    /// Record the latest location of `key`: for a keyword written twice
    /// the model keeps the last value, so checks point there.
    fn set_last(&mut self, key: String, loc: &Loc) {
        self.map.insert(key, loc.clone());
    }

    pub fn into_diags(self) -> Vec<Diagnostic> {
        Vec::new()
    }
}

/// Blocks keepalived knows that baton skips whole (one note each).
const SKIPPED_BLOCKS: &[&str] = &[
    "virtual_server",
    "virtual_server_group",
    "real_server",
    "bfd_instance",
    "SSL",
    "linkbeat_interfaces",
    "interface_up_down_delays",
    "garp_group",
    "track_group",
];

/// Build the model, reporting problems; returns the spans for validation.
pub fn build(tree: &[Node], diags: &mut Vec<Diagnostic>) -> (Config, Spans) {
    let mut one_line = Default::default();
    one_line_statements(tree, &mut one_line);
    let mut b = B {
        diags,
        spans: Spans::default(),
        one_line,
    };
    if let Some(first) = tree.first() {
        b.spans.file = Loc {
            file: first.loc().file.clone(),
            line: 1,
            col: 1,
        };
    }
    let mut c = Config::default();
    // Names seen per kind, for the duplicate check without quadratic scans.
    let mut names: std::collections::HashSet<(&'static str, String)> = Default::default();
    let mut fresh = |kind: &'static str, name: &str| names.insert((kind, name.to_string()));
    for n in tree {
        match n.name() {
            "global_defs" => b.global(n, &mut c.global),
            "vrrp_script" => {
                if let Some(s) = b.vrrp_script(n) {
                    if !fresh("vrrp_script", &s.name) {
                        b.script_again(n, &s.name);
                    } else {
                        c.vrrp_scripts.push(s);
                    }
                }
            }
            "track_file" | "vrrp_track_file" => {
                if let Some(s) = b.track_file(n) {
                    if !fresh("track_file", &s.name) {
                        b.dup(n, "track_file", &s.name);
                    } else {
                        c.track_files.push(s);
                    }
                }
            }
            "vrrp_track_process" => {
                if let Some(s) = b.track_process(n) {
                    if !fresh("vrrp_track_process", &s.name) {
                        b.dup(n, "vrrp_track_process", &s.name);
                    } else {
                        c.track_processes.push(s);
                    }
                }
            }
            "vrrp_sync_group" => {
                if let Some(g) = b.sync_group(n) {
                    if !fresh("vrrp_sync_group", &g.name) {
                        b.dup(n, "vrrp_sync_group", &g.name);
                    } else {
                        c.sync_groups.push(g);
                    }
                }
            }
            "vrrp_instance" => {
                if let Some(i) = b.instance(n) {
                    if !fresh("vrrp_instance", &i.name) {
                        b.dup(n, "vrrp_instance", &i.name);
                    } else {
                        c.instances.push(i);
                    }
                }
            }
            "static_ipaddress" => {
                let list = b.addresses(n, "static_ipaddress");
                c.static_addresses.extend(list);
            }
            "static_routes" => {
                let list = b.routes(n);
                c.static_routes.extend(list);
            }
            "static_rules" => {
                let list = b.rules(n);
                c.static_rules.extend(list);
            }
            name if SKIPPED_BLOCKS.contains(&name) => b.skip(n),
            name if IGNORED_GLOBAL.contains(&name) => b.ignored(n),
            _ => b.unknown(n),
        }
    }
    (c, b.spans)
}

struct B<'d> {
    diags: &'d mut Vec<Diagnostic>,
    spans: Spans,
    /// Statements written on the same line as their block's keyword
    /// (`authentication { auth_type PASS ... }`), to explain dropped words.
    one_line: std::collections::HashSet<Loc>,
}

fn one_line_statements(nodes: &[Node], out: &mut std::collections::HashSet<Loc>) {
    for n in nodes {
        for c in n.body() {
            if c.loc().line == n.loc().line && c.loc().file == n.loc().file {
                out.insert(c.loc().clone());
            }
        }
        one_line_statements(n.body(), out);
    }
}

fn key(parts: &[&str]) -> String {
    parts.join("/")
}

impl B<'_> {
    fn err(&mut self, loc: &Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(loc, msg));
    }
    fn warn(&mut self, loc: &Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(loc, msg));
    }
    fn note(&mut self, loc: &Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::note(loc, msg));
    }

    fn unknown(&mut self, n: &Node) {
        self.warn(n.loc(), format!("unknown keyword '{}'", n.name()));
    }

    fn skip(&mut self, n: &Node) {
        if matches!(n.name(), "virtual_server" | "SSL") {
            super::lvs::check(n, self.diags);
        }
        self.note(
            n.loc(),
            format!(
                "'{}' is not part of baton (VRRP only); block skipped",
                n.name()
            ),
        );
    }

    fn ignored(&mut self, n: &Node) {
        self.note(
            n.loc(),
            format!("'{}' is accepted and ignored by baton", n.name()),
        );
    }

    fn dup(&mut self, n: &Node, what: &str, name: &str) {
        let loc = n.args.first().map(|t| &t.loc).unwrap_or(n.loc()).clone();
        self.err(&loc, format!("duplicate {what} '{name}'"));
    }

    /// A second `vrrp_script` of the same name: keepalived runs with it,
    /// and every lookup by name finds the first, so baton keeps the first.
    fn script_again(&mut self, n: &Node, name: &str) {
        let loc = n.args.first().map(|t| &t.loc).unwrap_or(n.loc()).clone();
        let first = self.spans.at(&[&key(&["s", name])]);
        let first = if first.file == loc.file {
            format!("line {}", first.line)
        } else {
            format!("{}:{}", first.file.display(), first.line)
        };
        self.warn(
            &loc,
            format!(
                "vrrp_script '{name}' is defined again; the definition at {first} is used and this one is ignored, as keepalived does"
            ),
        );
    }

    /// An unknown word on an address line, which keepalived logs and skips.
    /// An address there is most often the next line of a block written on
    /// one line, which keepalived never reads as an address.
    fn ignored_word(&mut self, line: &Node, t: &Token, what: &str) {
        let msg = if parse_prefix(t.text.split('/').next().unwrap_or("")).is_some() {
            format!(
                "'{}' is read as an option of {} and ignored, as keepalived does: it takes one address per line, and a block written on one line is one line",
                t.text,
                line.name()
            )
        } else {
            format!(
                "unknown {what} '{}' ignored (keepalived ignores it too)",
                t.text
            )
        };
        self.warn(&t.loc, msg);
    }

    fn expect_block(&mut self, n: &Node) {
        if !n.is_block() {
            self.err(n.loc(), format!("'{}' needs a {{ ... }} block", n.name()));
        }
    }

    fn no_block(&mut self, n: &Node) {
        if n.is_block() {
            self.warn(
                n.loc(),
                format!("'{}' does not take a block; block ignored", n.name()),
            );
        }
    }

    /// The block's name (first argument), or an error.
    fn block_name(&mut self, n: &Node) -> Option<String> {
        self.expect_block(n);
        match n.args.first() {
            Some(t) => Some(t.text.clone()),
            None => {
                self.err(n.loc(), format!("'{}' needs a name", n.name()));
                None
            }
        }
    }

    fn arg<'n>(&mut self, n: &'n Node, i: usize) -> Option<&'n Token> {
        self.no_block(n);
        let t = n.args.get(i);
        if t.is_none() {
            self.err(n.loc(), format!("'{}' needs a value", n.name()));
        }
        t
    }

    fn string(&mut self, n: &Node) -> Option<String> {
        let v = self.arg(n, 0).map(|t| t.text.clone());
        self.unread(n, 1);
        v
    }

    /// Words after what keepalived reads of a line: it takes the values it
    /// needs and drops the rest without a word. They are usually a block
    /// written on one line (`authentication { auth_type PASS auth_pass x }`
    /// is one line to keepalived, so `auth_pass x` is part of `auth_type`).
    fn unread(&mut self, n: &Node, used: usize) {
        let Some(first) = n.args.get(used) else {
            return;
        };
        let rest: Vec<&str> = n.args[used..].iter().map(Token::raw).collect();
        let rest = rest.join(" ");
        let why = if self.same_line_as_brace(n) {
            "keepalived reads a block written on one line as a single line, so the first keyword takes the rest; put each keyword on its own line"
        } else {
            "keepalived ignores it too"
        };
        self.warn(
            &first.loc,
            format!("'{rest}' after '{}' is ignored: {why}", n.name()),
        );
    }

    /// Whether `n` was written after a `{` on its own line (the first
    /// statement of a one-line block).
    fn same_line_as_brace(&self, n: &Node) -> bool {
        self.one_line.contains(n.loc())
    }
}
