//! lexer: stub.
use super::diag::Loc;
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub loc: Loc,
    pub quoted: bool,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tokens: Vec<Token>,
}
