//! parser: logical lines into a tree of statements and blocks.
//!
//! A statement is `keyword [args]`; it is a block when `{` follows on the
//! same line or alone at the start of the next. Statements after a `{` on
//! the same line belong to the block (`virtual_ipaddress { 10.0.0.1/24 }`).
//! A `}` without a block is an error at the `}`; a block never closed is an
//! error at the line that opened it. Nothing here knows keyword meanings.

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

struct Open {
    node: Node,
    /// Where its `{` was, for the unclosed-block error.
    brace: Loc,
}

/// Parse lines into top-level nodes, reporting brace problems.
pub fn parse(lines: &[Line], diags: &mut Vec<Diagnostic>) -> Vec<Node> {
    let mut top: Vec<Node> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut li = 0;
    let mut toks: &[Token] = &[];
    let mut i = 0;
    loop {
        if i >= toks.len() {
            if li >= lines.len() {
                break;
            }
            toks = &lines[li].tokens;
            li += 1;
            i = 0;
            continue;
        }
        let t = &toks[i];
        if t.is_punct('}') {
            close(&mut stack, &mut top, t, diags);
            i += 1;
            continue;
        }
        if t.is_punct('{') {
            // A `{` with no keyword before it (an anonymous block).
            diags.push(Diagnostic::error(&t.loc, "'{' without a keyword before it"));
            stack.push(Open {
                node: Node {
                    keyword: t.clone(),
                    args: Vec::new(),
                    children: Some(Vec::new()),
                    close: None,
                },
                brace: t.loc.clone(),
            });
            i += 1;
            continue;
        }
        let keyword = t.clone();
        let mut args = Vec::new();
        i += 1;
        while i < toks.len() && !toks[i].is_punct('{') && !toks[i].is_punct('}') {
            args.push(toks[i].clone());
            i += 1;
        }
        let mut brace = None;
        if i < toks.len() && toks[i].is_punct('{') {
            brace = Some(toks[i].loc.clone());
            i += 1;
        } else if i == toks.len()
            && li < lines.len()
            && lines[li].tokens.first().is_some_and(|t| t.is_punct('{'))
        {
            // `{` alone at the start of the next line opens this block;
            // whatever follows it on that line is inside.
            toks = &lines[li].tokens;
            li += 1;
            brace = Some(toks[0].loc.clone());
            i = 1;
        }
        let node = Node {
            keyword,
            args,
            children: brace.as_ref().map(|_| Vec::new()),
            close: None,
        };
        match brace {
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
        let t = parse(
            &lines("a 1 {\n b\n c { x y }\n}\nd\n{\n e\n}\nf { g } h"),
            &mut d,
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(show(&t), "a 1{b;c{x y}};d{e};f{g};h");
        let t = parse(&lines("vi {\n{ q }\n}"), &mut d);
        assert_eq!(show(&t), "vi{{{q}}");
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn unclosed_block_points_at_its_opening_line() {
        let mut d = Vec::new();
        parse(&lines("x {\n  y {\n  }\n"), &mut d);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].col), (1, 1));
        let mut d = Vec::new();
        parse(&lines("x\n}\n"), &mut d);
        assert_eq!((d[0].line, d[0].col), (2, 1));
    }
}
