//! yaml_spans: where things are in a YAML configuration, so that problems
//! found after it parsed (by [`super::validate`]) point at their line and
//! column as they do for keepalived.conf.
//!
//! yaml_serde gives locations for syntax errors only, so this is a small
//! scanner of YAML's block style (what `baton check --dump` writes, and
//! what people edit): `key: value`, `key:` with an indented body, and `-`
//! items, indented with spaces. It fills the same [`Spans`] keys as
//! [`super::build`] does for keepalived.conf. Anything it does not follow
//! (flow style `[a, b]`, multi-line strings) only loses precision: such a
//! problem is reported at the nearest enclosing name, or at the file.
//! It reads text only and never fails.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::build::Spans;
use super::diag::Loc;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Item(usize),
}

/// One key or sequence item: its path, where it is, and its scalar value.
struct Record {
    path: Vec<Seg>,
    at: (u32, u32),
    value: Option<(String, (u32, u32))>,
}

struct Open {
    col: usize,
    seg: Seg,
    items: usize,
}

/// The locations of the named objects and their fields in `text`.
pub fn spans(text: &str, path: &Path) -> Spans {
    let file: Arc<Path> = Arc::from(path);
    let loc = |(line, col): (u32, u32)| Loc {
        file: Arc::clone(&file),
        line,
        col,
    };
    let records = scan(text);
    // The name of each item of a top-level list, by (list, index).
    let mut names: HashMap<(&str, usize), &str> = HashMap::new();
    for r in &records {
        if let ([Seg::Key(list), Seg::Item(i), Seg::Key(k)], Some((v, _))) =
            (r.path.as_slice(), &r.value)
        {
            if k == "name" {
                names.insert((list.as_str(), *i), v.as_str());
            }
        }
    }
    let mut spans = Spans::for_file(path);
    spans.from_yaml = true;
    for r in &records {
        let [Seg::Key(list), Seg::Item(i), rest @ ..] = r.path.as_slice() else {
            continue;
        };
        let prefix = match list.as_str() {
            "vrrp_scripts" => "s",
            "track_files" => "f",
            "track_processes" => "p",
            "sync_groups" => "g",
            "instances" => "i",
            _ => continue,
        };
        let Some(name) = names.get(&(list.as_str(), *i)) else {
            continue;
        };
        let base = format!("{prefix}/{name}");
        let value_at = r.value.as_ref().map(|(_, at)| *at).unwrap_or(r.at);
        let value = r.value.as_ref().map(|(v, _)| v.as_str());
        let mut set = |key: String, at: (u32, u32)| {
            spans.map.entry(key).or_insert_with(|| loc(at));
        };
        match rest {
            [Seg::Key(k)] if k == "name" => set(base, value_at),
            [Seg::Key(k)] => {
                if k == "preempt" && value == Some("false") {
                    set(format!("{base}/nopreempt"), r.at);
                }
                set(format!("{base}/{k}"), r.at);
                if r.value.is_some() {
                    set(format!("{base}/{k}="), value_at);
                }
            }
            [Seg::Key(k), Seg::Key(f)] if k == "authentication" && f == "auth_type" => {
                set(format!("{base}/auth_type="), value_at)
            }
            [Seg::Key(k), Seg::Item(j)] if k == "virtual_ipaddresses" => {
                set(format!("{base}/vip/{j}"), r.at)
            }
            [Seg::Key(k), Seg::Item(j), Seg::Key(f)]
                if k == "virtual_ipaddresses" && f == "dev" =>
            {
                set(format!("{base}/vip/{j}/dev"), value_at)
            }
            [Seg::Key(k), Seg::Item(j)] if k == "unicast_peers" => {
                set(format!("{base}/peer/{j}"), r.at)
            }
            [Seg::Key(k), Seg::Item(_)] if k == "members" => {
                if let Some(m) = value {
                    set(format!("{base}/member/{m}"), value_at);
                }
            }
            [Seg::Key(k), Seg::Item(_), Seg::Key(f)] if f == "name" => {
                let kw = match k.as_str() {
                    "track_scripts" => "track_script",
                    "track_files" => "track_file",
                    "track_processes" => "track_process",
                    "track_interfaces" => "track_interface",
                    _ => continue,
                };
                if let Some(v) = value {
                    set(format!("{base}/{kw}/{v}"), value_at);
                }
            }
            _ => {}
        }
    }
    spans
}

/// Every key and item of the block-style parts of `text`.
fn scan(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let body = raw.trim_end();
        let mut col = body.len() - body.trim_start_matches(' ').len();
        let mut rest = &body[col..];
        if rest.is_empty() || rest.starts_with('#') || rest.starts_with("---") {
            continue;
        }
        // `- ` items, possibly several on one line (`- - a`).
        while rest == "-" || rest.starts_with("- ") {
            while stack
                .last()
                .is_some_and(|o| o.col > col || (o.col == col && matches!(o.seg, Seg::Item(_))))
            {
                stack.pop();
            }
            let n = match stack.last_mut() {
                Some(parent) => {
                    parent.items += 1;
                    parent.items - 1
                }
                None => 0,
            };
            stack.push(Open {
                col,
                seg: Seg::Item(n),
                items: 0,
            });
            let after = rest[1..].trim_start_matches(' ');
            let at = (line, col as u32 + 1);
            col += rest.len() - after.len();
            rest = after;
            if rest.is_empty() || key_of(rest).is_none() {
                out.push(Record {
                    path: path_of(&stack),
                    at,
                    value: scalar(rest).map(|v| (v, (line, col as u32 + 1))),
                });
                rest = "";
            } else {
                out.push(Record {
                    path: path_of(&stack),
                    at,
                    value: None,
                });
            }
        }
        let Some((key, value_off)) = key_of(rest) else {
            continue;
        };
        while stack.last().is_some_and(|o| o.col >= col) {
            stack.pop();
        }
        stack.push(Open {
            col,
            seg: Seg::Key(key.to_string()),
            items: 0,
        });
        let value = value_off.and_then(|off| {
            let v = &rest[off..];
            let lead = v.len() - v.trim_start().len();
            let at = (line, (col + off + lead) as u32 + 1);
            scalar(v).map(|s| (s, at))
        });
        out.push(Record {
            path: path_of(&stack),
            at: (line, col as u32 + 1),
            value,
        });
    }
    out
}

fn path_of(stack: &[Open]) -> Vec<Seg> {
    stack.iter().map(|o| o.seg.clone()).collect()
}

/// `key: value` or `key:`: the key and the byte offset of the value.
fn key_of(s: &str) -> Option<(&str, Option<usize>)> {
    let end = s
        .find(": ")
        .or_else(|| s.ends_with(':').then(|| s.len() - 1))?;
    let key = &s[..end];
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    plain.then_some((key, (end + 1 < s.len()).then_some(end + 1)))
}

/// A plain or quoted scalar, without a trailing comment; `None` for
/// nothing or a flow collection.
fn scalar(s: &str) -> Option<String> {
    let s = s.trim();
    let s = match s.find(" #") {
        Some(i) if !s.starts_with(['\'', '"']) => s[..i].trim_end(),
        _ => s,
    };
    if s.is_empty() || s.starts_with(['[', '{', '|', '>']) {
        return None;
    }
    let unquoted = s
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|r| r.strip_suffix('"')))
        .unwrap_or(s);
    Some(unquoted.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_fields_and_items_are_located() {
        let text = "instances:\n- name: A\n  priority: 0\n  virtual_ipaddresses:\n  - address: 10.0.0.1\n    dev: eth9\n  unicast_peers:\n  - address: 10.0.0.2\nsync_groups:\n  - name: G\n    members:\n    - A\n    - 'B'\n";
        let s = spans(text, Path::new("c.yaml"));
        let at = |k: &str| {
            let l = s.map.get(k).unwrap_or_else(|| panic!("{k} in {:?}", s.map));
            (l.line, l.col)
        };
        assert_eq!(at("i/A"), (2, 9));
        assert_eq!(at("i/A/priority"), (3, 3));
        assert_eq!(at("i/A/priority="), (3, 13));
        assert_eq!(at("i/A/vip/0"), (5, 3));
        assert_eq!(at("i/A/vip/0/dev"), (6, 10));
        assert_eq!(at("i/A/peer/0"), (8, 3));
        assert_eq!(at("g/G"), (10, 11));
        assert_eq!(at("g/G/member/B"), (13, 7));
    }
}
