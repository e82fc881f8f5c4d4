//! lexer: one logical keepalived.conf line into tokens, each with its
//! file:line:col.
//!
//! keepalived's configuration is line oriented: a line is split on
//! whitespace, `{` and `}` are always tokens of their own (outside quotes),
//! double quotes group text (with shell-like backslash escapes inside them)
//! and are removed, and `#` or `!` outside double quotes starts a comment.
//! Single quotes are left in the text: they only mean something to the
//! command splitter ([`super::split`]).

use std::path::Path;
use std::sync::Arc;

use super::diag::{Diagnostic, Loc};

/// One word of a configuration line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word with quotes removed and escapes resolved.
    pub text: String,
    /// The source text of the word as written, when it differs from `text`
    /// (only a quoted word can); see [`Token::raw`]. Not stored otherwise:
    /// a second copy of every word doubled the loader's peak memory.
    pub raw_if_quoted: Option<String>,
    pub loc: Loc,
    /// Whether any part of the word was in double quotes.
    pub quoted: bool,
}

impl Token {
    /// The source text of the word as written.
    pub fn raw(&self) -> &str {
        self.raw_if_quoted.as_deref().unwrap_or(&self.text)
    }

    /// A `{` or `}` written outside quotes.
    pub fn is_punct(&self, c: char) -> bool {
        !self.quoted && self.text.len() == 1 && self.text.starts_with(c)
    }
}

/// The tokens of one logical line (never empty once produced by preproc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tokens: Vec<Token>,
}

/// Where a line's text came from, to give tokens their location.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: Arc<Path>,
    pub line: u32,
    /// Column of the first char of the text given to [`tokenize`] (1-based).
    pub col: u32,
}

impl Origin {
    pub fn loc(&self, offset_chars: usize) -> Loc {
        Loc {
            file: Arc::clone(&self.file),
            line: self.line,
            col: self.col.saturating_add(offset_chars as u32),
        }
    }
}

/// The text before a comment: `#` or `!` outside double quotes.
pub fn strip_comment(s: &str) -> &str {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '#' | '!' if !in_quote => return &s[..i],
            _ => {}
        }
    }
    s
}

/// Split a comment-free line into tokens. An unterminated double quote is
/// reported at the quote and the word runs to the end of the line.
pub fn tokenize(text: &str, origin: &Origin, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '{' || c == '}' {
            tokens.push(Token {
                text: c.to_string(),
                raw_if_quoted: None,
                loc: origin.loc(i),
                quoted: false,
            });
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        let mut quoted = false;
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() || c == '{' || c == '}' {
                break;
            }
            if c == '"' {
                quoted = true;
                let open = i;
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        '"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        '\\' if i + 1 < chars.len() => {
                            i = unescape(&chars, i + 1, &mut text);
                        }
                        ch => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                if !closed {
                    diags.push(Diagnostic::error(
                        &origin.loc(open),
                        "unterminated quoted string",
                    ));
                }
                continue;
            }
            text.push(c);
            i += 1;
        }
        tokens.push(Token {
            text,
            raw_if_quoted: quoted.then(|| chars[start..i].iter().collect()),
            loc: origin.loc(start),
            quoted,
        });
    }
    tokens
}

/// Resolve the escape whose letter is at `chars[i]`, push it, and return
/// the index after it.
fn unescape(chars: &[char], i: usize, out: &mut String) -> usize {
    let c = chars[i];
    let simple = match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'E' | 'e' => Some('\u{1b}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        _ => None,
    };
    if let Some(s) = simple {
        out.push(s);
        return i + 1;
    }
    match c {
        '0'..='7' => {
            let mut v: u32 = 0;
            let mut j = i;
            while j < chars.len() && j < i + 3 && ('0'..='7').contains(&chars[j]) {
                v = v * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            out.push(char::from_u32(v & 0xff).unwrap_or('?'));
            j
        }
        'x' => {
            let mut v: u32 = 0;
            let mut j = i + 1;
            while j < chars.len() && j < i + 3 && chars[j].is_ascii_hexdigit() {
                v = v * 16 + chars[j].to_digit(16).unwrap_or(0);
                j += 1;
            }
            if j == i + 1 {
                out.push('x');
            } else {
                out.push(char::from_u32(v).unwrap_or('?'));
            }
            j
        }
        'c' if i + 1 < chars.len() => {
            let ctl = (chars[i + 1] as u32) & 0x1f;
            out.push(char::from_u32(ctl).unwrap_or('?'));
            i + 2
        }
        other => {
            out.push(other);
            i + 1
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(String, u32, bool)> {
        let origin = Origin {
            file: Arc::from(Path::new("t.conf")),
            line: 1,
            col: 1,
        };
        let mut d = Vec::new();
        tokenize(strip_comment(s), &origin, &mut d)
            .into_iter()
            .map(|t| (t.text, t.loc.col, t.quoted))
            .collect()
    }

    #[test]
    fn golden_words_braces_quotes_comments() {
        assert_eq!(
            toks(r#"virtual_ipaddress {10.0.0.1/24} # c"#),
            vec![
                ("virtual_ipaddress".into(), 1, false),
                ("{".into(), 19, false),
                ("10.0.0.1/24".into(), 20, false),
                ("}".into(), 31, false),
            ]
        );
        assert_eq!(
            toks(r#"script "/bin/x 'a b' # not a comment" ! comment"#),
            vec![
                ("script".into(), 1, false),
                ("/bin/x 'a b' # not a comment".into(), 8, true),
            ]
        );
        assert_eq!(
            toks(r#"abcd" efg h jkl "mnop"#),
            vec![("abcd efg h jkl mnop".into(), 1, true)]
        );
        assert_eq!(
            toks(r#"x "a\tb\"c\\\x41\101""#)[1].0,
            "a\tb\"c\\AA".to_string()
        );
    }

    #[test]
    fn unterminated_quote_is_reported_at_the_quote() {
        let origin = Origin {
            file: Arc::from(Path::new("t.conf")),
            line: 3,
            col: 5,
        };
        let mut d = Vec::new();
        let t = tokenize(r#"script "/bin/x"#, &origin, &mut d);
        assert_eq!(t[1].text, "/bin/x");
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].col), (3, 12));
    }
}
