//! parser: logical lines into a tree of statements and blocks.
//!
//! A statement is `keyword [args]`; it is a block when `{` follows on the
//! same line or alone at the start of the next. Statements after a `{` on
//! the same line belong to the block (`virtual_ipaddress { 10.0.0.1/24 }`).
//! A `}` without a block is an error at the `}`; a block never closed is an
//! error at the line that opened it. Nothing here knows keyword meanings.

use std::collections::VecDeque;

use super::diag::{Diagnostic, Loc};
use super::lexer::{Line, Token};

/// One statement, with its block if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub keyword: Token,
    pub args: Vec<Token>,
    /// `Some` for a block (possibly empty).
    pub children: Option<Vec<Node>>,
    /// Where the closing `}` of a block was.
    pub close: Option<Loc>,
}

impl Node {
    pub fn loc(&self) -> &Loc {
        &self.keyword.loc
    }
    pub fn name(&self) -> &str {
        &self.keyword.text
    }
    pub fn is_block(&self) -> bool {
        self.children.is_some()
    }
    /// Children, or nothing for a plain statement.
    pub fn body(&self) -> &[Node] {
        self.children.as_deref().unwrap_or(&[])
    }
}

/// Deepest block nesting accepted. Real configurations nest four or five deep
/// (virtual_server > real_server > HTTP_GET > url); the builder and the tree's drop
/// recurse per level, so an unbounded depth (a definition that expands to thousands of
/// `{`) would overflow the stack instead of being reported.
pub const MAX_NESTING: usize = 32;

struct Open {
    node: Node,
    /// Where its `{` was, for the unclosed-block error.
    brace: Loc,
}

/// Parse lines into top-level nodes, reporting brace problems.
pub fn parse(lines: &[Line], diags: &mut Vec<Diagnostic>) -> Vec<Node> {
    parse_owned(lines.to_vec(), diags)
}

/// [`parse`], consuming the lines.
///
/// The lines are consumed as they are parsed: tokens move into the tree
/// instead of being copied, so the token list and the tree never both exist
/// in full (for a large file that was the loader's peak memory).
pub fn parse_owned(lines: Vec<Line>, diags: &mut Vec<Diagnostic>) -> Vec<Node> {
    let mut top: Vec<Node> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut lines = lines.into_iter().peekable();
    let mut toks: VecDeque<Token> = VecDeque::new();
    // Braces opened beyond MAX_NESTING: everything up to their `}` is skipped, and only
    // the braces are counted so that the blocks around them still close where written.
    let mut too_deep = 0usize;
    loop {
        let Some(t) = toks.pop_front() else {
            match lines.next() {
                Some(line) => {
                    toks = VecDeque::from(line.tokens);
                    continue;
                }
                None => break,
            }
        };
        if too_deep > 0 {
            if t.is_punct('{') {
                too_deep += 1;
            } else if t.is_punct('}') {
                too_deep -= 1;
            }
            continue;
        }
        if t.is_punct('}') {
            close(&mut stack, &mut top, &t, diags);
            continue;
        }
        if t.is_punct('{') && stack.len() >= MAX_NESTING {
            too_deep = 1;
            diags.push(too_deep_error(&t.loc));
            continue;
        }
        if t.is_punct('{') {
            // A `{` with no keyword before it (an anonymous block).
            diags.push(Diagnostic::error(&t.loc, "'{' without a keyword before it"));
            let brace = t.loc.clone();
            stack.push(Open {
                node: Node {
                    keyword: t,
                    args: Vec::new(),
                    children: Some(Vec::new()),
                    close: None,
                },
                brace,
            });
            continue;
        }
        let keyword = t;
        let mut args = Vec::new();
        while toks
            .front()
            .is_some_and(|t| !t.is_punct('{') && !t.is_punct('}'))
        {
            args.extend(toks.pop_front());
        }
        let mut brace = None;
        if toks.front().is_some_and(|t| t.is_punct('{')) {
            brace = toks.pop_front().map(|t| t.loc);
        } else if toks.is_empty()
            && lines
                .peek()
                .is_some_and(|l| l.tokens.first().is_some_and(|t| t.is_punct('{')))
        {
            // `{` alone at the start of the next line opens this block;
            // whatever follows it on that line is inside.
            if let Some(line) = lines.next() {
                toks = VecDeque::from(line.tokens);
                brace = toks.pop_front().map(|t| t.loc);
            }
        }
        let node = Node {
            keyword,
            args,
            children: brace.as_ref().map(|_| Vec::new()),
            close: None,
        };
        match brace {
            Some(_) if stack.len() >= MAX_NESTING => {
                too_deep = 1;
                diags.push(too_deep_error(node.loc()));
            }
            Some(b) => stack.push(Open { node, brace: b }),
            None => push(&mut stack, &mut top, node),
        }
    }
    while let Some(open) = stack.pop() {
        let n = &open.node;
        diags.push(Diagnostic::error(
            n.loc(),
            format!(
                "block '{}' opened here (the '{{' at line {}) is never closed",
                n.name(),
                open.brace.line
            ),
        ));
        push(&mut stack, &mut top, open.node);
    }
    top
}

fn too_deep_error(at: &Loc) -> Diagnostic {
    Diagnostic::error(
        at,
        format!(
            "blocks nest more than {MAX_NESTING} deep: this block and what it holds are ignored"
        ),
    )
}

fn push(stack: &mut [Open], top: &mut Vec<Node>, node: Node) {
    match stack.last_mut() {
        Some(open) => {
            if let Some(c) = open.node.children.as_mut() {
                c.push(node);
            }
        }
        None => top.push(node),
    }
}

fn close(stack: &mut Vec<Open>, top: &mut Vec<Node>, t: &Token, diags: &mut Vec<Diagnostic>) {
    match stack.pop() {
        Some(mut open) => {
            open.node.close = Some(t.loc.clone());
            push(stack, top, open.node)
        }
        None => diags.push(Diagnostic::error(&t.loc, "'}' without a matching '{'")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::lexer::{Origin, tokenize};
    use std::path::Path;
    use std::sync::Arc;

    fn lines(src: &str) -> Vec<Line> {
        let file: Arc<Path> = Arc::from(Path::new("t.conf"));
        let mut d = Vec::new();
        src.lines()
            .enumerate()
            .map(|(i, l)| Line {
                tokens: tokenize(
                    l,
                    &Origin {
                        file: file.clone(),
                        line: i as u32 + 1,
                        col: 1,
                    },
                    &mut d,
                ),
            })
            .filter(|l| !l.tokens.is_empty())
            .collect()
    }

    /// A compact rendering of the tree: `kw(args){children}`.
    fn show(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| {
                let mut s = n.name().to_string();
                for a in &n.args {
                    s.push(' ');
                    s.push_str(&a.text);
                }
                if let Some(c) = &n.children {
                    s.push_str(&format!("{{{}}}", show(c)));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn golden_trees() {
        let mut d = Vec::new();
        let t = parse_owned(
            lines("a 1 {\n b\n c { x y }\n}\nd\n{\n e\n}\nf { g } h"),
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(show(&t), "a 1{b;c{x y}};d{e};f{g};h");
        let t = parse_owned(lines("vi {\n{ q }\n}"), &mut d);
        assert_eq!(show(&t), "vi{{{q}}");
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn unclosed_block_points_at_its_opening_line() {
        let mut d = Vec::new();
        parse_owned(lines("x {\n  y {\n  }\n"), &mut d);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].col), (1, 1));
        let mut d = Vec::new();
        parse_owned(lines("x\n}\n"), &mut d);
        assert_eq!((d[0].line, d[0].col), (2, 1));
    }
}
