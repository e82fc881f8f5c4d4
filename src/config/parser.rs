//! parser: stub.
use super::diag::Diagnostic;
use super::lexer::{Line, Token};
#[derive(Debug, Clone)]
pub struct Node {
    pub keyword: Token,
    pub args: Vec<Token>,
    pub children: Option<Vec<Node>>,
}
pub fn parse(_lines: &[Line], _diags: &mut Vec<Diagnostic>) -> Vec<Node> {
    Vec::new()
}
