//! preproc: files into logical lines of tokens, doing what keepalived does
//! before parsing: `include` (and the strict variants `includer`,
//! `includem`, `includew`, `includeb`, `includea`) with globs and brace
//! expressions relative to the including file; `@id` / `@^id` conditional
//! lines; `$NAME=value` definitions (multi-line ones too) and their use as
//! `$NAME` or `${NAME}`; `~SEQ(...)`, `~SEQx(...)` and `~LST(...)`.
//!
//! Every expansion is bounded (nesting depth, sequence length, total
//! lines) so hostile input is an error, never a hang.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diag::{Diagnostic, Loc, Severity};
use super::include::{Checks, checks_of, resolve};
use super::lexer::{Line, Origin, strip_comment, tokenize};

const MAX_DEPTH: usize = 32;
const MAX_SEQ: i64 = 100_000;
/// Default bound on logical lines after expansion.
pub const MAX_LINES: usize = 1_000_000;

/// Read `path` and everything it includes into logical lines.
pub fn expand(
    path: &Path,
    config_id: &str,
    max_lines: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Line> {
    let mut p = Pre {
        config_id: config_id.to_string(),
        defs: HashMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
        diags,
        rand: 0x2545_f491,
        too_big: false,
        max_lines,
    };
    let top = Loc {
        file: std::sync::Arc::from(path),
        line: 1,
        col: 1,
    };
    p.file(path, &top, Strict::Required);
    p.out
}

/// How a file came to be read: the top-level file must be readable; an
/// included one is judged by its include's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strict {
    Required,
    Included(Checks),
}

struct Pre<'a> {
    config_id: String,
    defs: HashMap<String, Vec<String>>,
    /// Canonical paths of the files being read (include cycle check).
    stack: Vec<PathBuf>,
    out: Vec<Line>,
    diags: &'a mut Vec<Diagnostic>,
    rand: u64,
    too_big: bool,
    max_lines: usize,
}

/// A line of text with where it came from.
struct Src<'s> {
    text: &'s str,
    origin: Origin,
}

impl Pre<'_> {
    fn file(&mut self, path: &Path, from: &Loc, strict: Strict) {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                let msg = format!("cannot read {}: {e}", path.display());
                let severity = match strict {
                    Strict::Required => Severity::Error,
                    Strict::Included(checks) => checks.unusable(),
                };
                self.diags.push(Diagnostic::new(from, severity, msg));
                return;
            }
        };
        let canon = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canon) {
            self.diags.push(Diagnostic::error(
                from,
                format!("include cycle: {} is already being read", path.display()),
            ));
            return;
        }
        if self.stack.len() >= MAX_DEPTH {
            self.diags
                .push(Diagnostic::error(from, "includes nested too deeply"));
            return;
        }
        self.stack.push(canon);
        let text = String::from_utf8_lossy(&data);
        let file: Arc<Path> = Arc::from(path);
        let mut lines = text.lines().enumerate();
        while let Some((idx, raw)) = lines.next() {
            if self.too_big {
                break;
            }
            let lineno = idx as u32 + 1;
            let origin = Origin {
                file: file.clone(),
                line: lineno,
                col: 1,
            };
            if let Some(name) = multiline_def_start(raw) {
                // Collect continuation lines: each ends in a backslash,
                // the last one does not. Blank and comment lines inside
                // do not end the definition.
                let mut body = Vec::new();
                for (_, cont) in lines.by_ref() {
                    let stripped = strip_comment(cont).trim_end();
                    if stripped.trim().is_empty() {
                        continue;
                    }
                    if let Some(b) = stripped.strip_suffix('\\') {
                        body.push(b.trim_end().to_string());
                    } else {
                        body.push(stripped.to_string());
                        break;
                    }
                }
                self.defs.insert(name, body);
                continue;
            }
            self.line(Src { text: raw, origin }, 0);
        }
        self.stack.pop();
    }

    fn emit(&mut self, line: Line) {
        if self.out.len() >= self.max_lines {
            if !self.too_big {
                self.too_big = true;
                self.diags.push(Diagnostic::error(
                    &line.tokens[0].loc,
                    "configuration expands to too many lines",
                ));
            }
            return;
        }
        self.out.push(line);
    }

    fn line(&mut self, src: Src<'_>, depth: usize) {
        if self.too_big {
            return;
        }
        let loc0 = src.origin.loc(0);
        if depth > MAX_DEPTH {
            self.diags.push(Diagnostic::error(
                &loc0,
                "definitions or sequences nest too deeply (a definition that uses itself?)",
            ));
            return;
        }
        let body = strip_comment(src.text).trim_end();
        let indent = body.len() - body.trim_start().len();
        let body = body.trim_start();
        if body.is_empty() {
            return;
        }
        let col = src.origin.col + body_chars(src.text, indent);
        let origin = Origin {
            col,
            ..src.origin.clone()
        };

        // include comes first: keepalived detects it before conditionals
        // and substitution.
        let first = body.split_whitespace().next().unwrap_or("");
        if let Some(checks) = checks_of(first) {
            // The pattern is the rest of the line as written (braces are
            // part of it, not block delimiters); quotes are removed.
            let rest = &body[first.len()..];
            let pattern = rest.trim();
            let at = origin.loc(body[..body.len() - rest.trim_start().len()].chars().count());
            let pattern = pattern
                .strip_prefix('"')
                .and_then(|p| p.strip_suffix('"'))
                .unwrap_or(pattern);
            if pattern.is_empty() {
                self.diags.push(Diagnostic::error(
                    &origin.loc(0),
                    "include needs a file name",
                ));
            } else {
                self.include(pattern, &at, checks, &origin);
            }
            return;
        }

        if let Some(rest) = body.strip_prefix('@') {
            let (neg, rest) = match rest.strip_prefix('^') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let id_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let id = &rest[..id_len];
            if (id == self.config_id) == neg {
                return;
            }
            let after = &rest[id_len..];
            let skip = body.len() - after.len();
            let o = Origin {
                col: origin.col + body[..skip].chars().count() as u32,
                ..origin.clone()
            };
            self.line(
                Src {
                    text: after,
                    origin: o,
                },
                depth + 1,
            );
            return;
        }

        if let Some((name, value)) = single_def(body) {
            self.defs.insert(name, vec![value.trim().to_string()]);
            return;
        }

        if body.starts_with("~SEQ") || body.starts_with("~LST") {
            self.sequence(body, &origin, depth);
            return;
        }

        // A line that is just a multi-line definition's name: its lines are
        // processed one by one, each getting conditionals, sequences and
        // substitution at that point, as keepalived does.
        if let Some(lines) = self.multiline_use(body) {
            for l in lines {
                self.line(
                    Src {
                        text: &l,
                        origin: origin.clone(),
                    },
                    depth + 1,
                );
            }
            return;
        }

        if body.contains('$') {
            let expanded = self.substitute(body, &origin);
            if expanded != body {
                for piece in expanded.split('\n') {
                    self.line(
                        Src {
                            text: piece,
                            origin: origin.clone(),
                        },
                        depth + 1,
                    );
                }
                return;
            }
        }

        let tokens = tokenize(body, &origin, self.diags);
        if !tokens.is_empty() {
            self.emit(Line { tokens });
        }
    }

    fn multiline_use(&self, body: &str) -> Option<Vec<String>> {
        let rest = body.strip_prefix('$')?;
        let name = rest
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .unwrap_or(rest);
        let def = self.defs.get(name)?;
        (def.len() > 1).then(|| def.clone())
    }

    fn include(&mut self, pattern: &str, at: &Loc, checks: Checks, origin: &Origin) {
        let base = origin
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let full = if Path::new(pattern).is_absolute() {
            pattern.to_string()
        } else {
            base.join(pattern).to_string_lossy().into_owned()
        };
        for path in resolve(pattern, &full, checks, at, self.diags) {
            self.file(&path, at, Strict::Included(checks));
        }
    }

    fn sequence(&mut self, body: &str, origin: &Origin, depth: usize) {
        let loc = origin.loc(0);
        let (kind, after_kw) = if let Some(r) = body.strip_prefix("~SEQx(") {
            ("x", r)
        } else if let Some(r) = body.strip_prefix("~SEQ(") {
            ("d", r)
        } else if let Some(r) = body.strip_prefix("~LST(") {
            ("l", r)
        } else {
            self.diags
                .push(Diagnostic::error(&loc, "expected ~SEQ(, ~SEQx( or ~LST("));
            return;
        };
        let Some(close) = matching_paren(after_kw) else {
            self.diags.push(Diagnostic::error(
                &loc,
                "unterminated ~SEQ/~LST specification",
            ));
            return;
        };
        let spec = &after_kw[..close];
        let rest = &after_kw[close + 1..];
        let consumed = body.len() - rest.len();
        let rest_origin = Origin {
            col: origin.col + body[..consumed].chars().count() as u32,
            ..origin.clone()
        };
        let spec = self.substitute(spec, origin);
        let assignments: Vec<Vec<(String, String)>> = if kind == "l" {
            match parse_lst(&spec) {
                Some(a) => a,
                None => {
                    self.diags
                        .push(Diagnostic::error(&loc, "invalid ~LST specification"));
                    return;
                }
            }
        } else {
            match parse_seq(&spec, kind == "x") {
                Ok(a) => a,
                Err(m) => {
                    self.diags.push(Diagnostic::error(&loc, m));
                    return;
                }
            }
        };
        for set in assignments {
            for (k, v) in set {
                self.defs.insert(k, vec![v]);
            }
            self.line(
                Src {
                    text: rest,
                    origin: rest_origin.clone(),
                },
                depth + 1,
            );
            if self.too_big {
                return;
            }
        }
    }

    /// Replace `${NAME}` and `$NAME` (followed by whitespace or the end)
    /// for defined names, repeatedly. Undefined names stay as written.
    fn substitute(&mut self, text: &str, origin: &Origin) -> String {
        let mut cur = text.to_string();
        for _ in 0..MAX_DEPTH {
            let next = self.substitute_once(&cur, origin);
            if next == cur {
                return cur;
            }
            if next.len() > 1 << 20 {
                self.diags.push(Diagnostic::error(
                    &origin.loc(0),
                    "definition expands to more than 1 MiB",
                ));
                return cur;
            }
            cur = next;
        }
        self.diags.push(Diagnostic::error(
            &origin.loc(0),
            "definition expansion does not end (a definition that uses itself?)",
        ));
        cur
    }

    fn substitute_once(&mut self, text: &str, origin: &Origin) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(inner) = after.strip_prefix('{') {
                if let Some(end) = inner.find('}') {
                    let spec = &inner[..end];
                    if let Some(val) = self.lookup(spec, origin) {
                        out.push_str(&val);
                        rest = &inner[end + 1..];
                        continue;
                    }
                }
            } else {
                let n = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                let name = &after[..n];
                let followed_ok = after[n..].chars().next().is_none_or(char::is_whitespace);
                if !name.is_empty() && followed_ok {
                    if let Some(val) = self.lookup(name, origin) {
                        out.push_str(&val);
                        rest = &after[n..];
                        continue;
                    }
                }
            }
            out.push('$');
            rest = after;
        }
        out.push_str(rest);
        out
    }

    fn lookup(&mut self, spec: &str, origin: &Origin) -> Option<String> {
        let mut words = spec.split_whitespace();
        let name = words.next()?;
        match name {
            "_PWD" => Some(
                origin
                    .file
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            "_INSTANCE" => Some(self.config_id.clone()),
            "_HASH" => Some("#".into()),
            "_BANG" => Some("!".into()),
            "_RANDOM" => {
                let min: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let max: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(32767);
                // A fixed-seed generator: a checked configuration and the
                // one that runs resolve the same way.
                self.rand = self
                    .rand
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let span = max.saturating_sub(min).saturating_add(1);
                Some((min + (self.rand >> 33) % span.max(1)).to_string())
            }
            _ if spec.contains(char::is_whitespace) => None,
            _ => self.defs.get(name).map(|v| v.join("\n")),
        }
    }
}

/// Column offset (in chars) of byte `indent` of `text`.
fn body_chars(text: &str, indent: usize) -> u32 {
    text.get(..indent).map_or(0, |t| t.chars().count()) as u32
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$NAME=value` on one line.
fn single_def(body: &str) -> Option<(String, String)> {
    let rest = body.strip_prefix('$')?;
    let eq = rest.find('=')?;
    let name = &rest[..eq];
    is_name(name).then(|| (name.to_string(), rest[eq + 1..].to_string()))
}

/// `$NAME= \` (nothing but a backslash after the `=`) starts a multi-line
/// definition.
fn multiline_def_start(raw: &str) -> Option<String> {
    let body = strip_comment(raw).trim();
    let (name, value) = single_def(body)?;
    (value.trim() == "\\").then_some(name)
}

/// Index of the `)` closing an already opened parenthesis.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None => s.parse().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// `VAR, [start,] [step,] end` into one assignment per value.
fn parse_seq(spec: &str, hex: bool) -> Result<Vec<Vec<(String, String)>>, String> {
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    let var = parts.first().copied().unwrap_or("");
    if !is_name(var) {
        return Err(format!("~SEQ: invalid variable name '{var}'"));
    }
    let nums: Option<Vec<i64>> = parts[1..].iter().map(|p| parse_int(p)).collect();
    let nums = nums.ok_or("~SEQ: values must be integers")?;
    let (start, step, end) = match nums.as_slice() {
        [end] => (if *end >= 0 { 1 } else { -1 }, None, *end),
        [start, end] => (*start, None, *end),
        [start, step, end] => (*start, Some(*step), *end),
        _ => return Err("~SEQ takes a variable and 1 to 3 numbers".into()),
    };
    let step = step.unwrap_or(if end >= start { 1 } else { -1 });
    if step == 0 {
        return Err("~SEQ: step must not be 0".into());
    }
    let count = if (step > 0 && end < start) || (step < 0 && end > start) {
        0
    } else {
        // i128: `end - start` of two i64s cannot overflow there.
        (i128::from(end) - i128::from(start)) / i128::from(step) + 1
    };
    if count > i128::from(MAX_SEQ) {
        return Err(format!("~SEQ: {count} values is more than {MAX_SEQ}"));
    }
    let count = count as i64;
    Ok((0..count)
        .map(|i| {
            let v = start + i * step;
            let s = if hex { format!("{v:x}") } else { v.to_string() };
            vec![(var.to_string(), s)]
        })
        .collect())
}

/// `VAR, v1, v2` or `{A, B}, {a1, b1}, {a2, b2}`.
fn parse_lst(spec: &str) -> Option<Vec<Vec<(String, String)>>> {
    let items = split_top(spec)?;
    let (vars, values) = items.split_first()?;
    let vars: Vec<String> = unbrace(vars)
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    if vars.iter().any(|v| !is_name(v)) || values.is_empty() {
        return None;
    }
    values
        .iter()
        .map(|v| {
            let vals: Vec<String> = unbrace(v)
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
            (vals.len() == vars.len()).then(|| vars.iter().cloned().zip(vals).collect())
        })
        .collect()
}

fn unbrace(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(s)
}

/// Split on commas outside braces.
fn split_top(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.checked_sub(1)?,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    Some(out)
}

/// csh-style brace expansion: `a{b,c{d,e}}f` → abf, acdf, acef.
pub fn expand_braces(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(s, &mut out, 0);
    out
}

fn expand_into(s: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 16 || out.len() > 4096 {
        out.push(s.to_string());
        return;
    }
    let Some(open) = s.find('{') else {
        out.push(s.to_string());
        return;
    };
    let mut level = 0usize;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, c) in s[open..].char_indices() {
        let i = i + open;
        match c {
            '{' => level += 1,
            '}' => {
                level -= 1;
                if level == 0 {
                    close = Some(i);
                    break;
                }
            }
            ',' if level == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        out.push(s.to_string());
        return;
    };
    let (pre, post) = (&s[..open], &s[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    for w in bounds.windows(2) {
        let alt = &s[w[0] + 1..w[1]];
        expand_into(&format!("{pre}{alt}{post}"), out, depth + 1);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_like_csh() {
        assert_eq!(
            expand_braces("/a/{foo/{,cat,dog},bar}"),
            vec!["/a/foo/", "/a/foo/cat", "/a/foo/dog", "/a/bar"]
        );
        assert_eq!(expand_braces("plain"), vec!["plain"]);
    }

    #[test]
    fn seq_and_lst_values() {
        let v = parse_seq("S, 0x90, 0x10, 0xc0", true).unwrap();
        let got: Vec<&str> = v.iter().map(|a| a[0].1.as_str()).collect();
        assert_eq!(got, vec!["90", "a0", "b0", "c0"]);
        let v = parse_seq("S, 3", false).unwrap();
        assert_eq!(v.len(), 3);
        let l = parse_lst("{IP, IP1}, {10,1},{20,4}").unwrap();
        assert_eq!(
            l[1],
            vec![("IP".into(), "20".into()), ("IP1".into(), "4".into())]
        );
        assert!(parse_seq("S, 0, 0, 10", false).is_err());
        assert!(parse_seq("S, -9223372036854775807, 9223372036854775807", false).is_err());
    }
}
