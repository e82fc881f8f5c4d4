//! Golden tests of the lexer and parser: the tokens (with line:col) and the
//! statement tree of realistic files, compared with files under
//! tests/data/config/golden. Run with `BLESS=1` to rewrite them after an
//! intended change, and review the diff.
#![allow(clippy::unwrap_used)] // unwrap in tests is fine (COMMON.md)

use std::fmt::Write as _;
use std::path::Path;

use baton::config::parser::{Node, parse};
use baton::config::preproc::{MAX_LINES, expand};

fn tokens(path: &Path) -> String {
    let mut d = Vec::new();
    let lines = expand(path, "node1", MAX_LINES, &mut d);
    assert!(d.is_empty(), "{d:?}");
    let mut out = String::new();
    for l in &lines {
        for (i, t) in l.tokens.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let q = if t.quoted { "\"" } else { "" };
            write!(out, "{}:{}:{q}{}{q}", t.loc.line, t.loc.col, t.text).unwrap();
        }
        out.push('\n');
    }
    out
}

fn tree(nodes: &[Node], depth: usize, out: &mut String) {
    for n in nodes {
        write!(out, "{}{}", "  ".repeat(depth), n.name()).unwrap();
        for a in &n.args {
            write!(out, " {}", a.text).unwrap();
        }
        match &n.children {
            Some(c) => {
                out.push_str(" {\n");
                tree(c, depth + 1, out);
                writeln!(out, "{}}}", "  ".repeat(depth)).unwrap();
            }
            None => out.push('\n'),
        }
    }
}

fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config/golden")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(got, want, "{name} differs; BLESS=1 rewrites it");
}

#[test]
fn lexer_and_parser_golden() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config");
    for (file, stem) in [
        ("unicast-pair-a.conf", "unicast-pair-a"),
        ("sync-group.conf", "sync-group"),
    ] {
        let path = data.join(file);
        golden(&format!("{stem}.tokens"), &tokens(&path));
        let mut d = Vec::new();
        let lines = expand(&path, "node1", MAX_LINES, &mut d);
        let nodes = parse(&lines, &mut d);
        assert!(d.is_empty(), "{d:?}");
        let mut out = String::new();
        tree(&nodes, 0, &mut out);
        golden(&format!("{stem}.tree"), &out);
    }
}
