//! The Prometheus text exposition format, version 0.0.4, written by hand: a family's
//! `# HELP` and `# TYPE` lines once, then its samples, one per line, each label value
//! escaped (`\` `"` and newline), each value a decimal number.
//!
//! The format is small enough that a client library would add more to the binary than
//! it saves in code (see docs/benchmark.md, "Metrics and status page"). What a library
//! would guarantee is guaranteed here instead: a family's samples stay together (the
//! writer takes a whole family at a time), its header is written once, and a label set
//! written twice in one family is dropped (Prometheus refuses a whole scrape with a
//! duplicate series, so a duplicate must never reach it).
//!
//! The text comes out in pieces of about [`PIECE`] bytes, each a run of whole lines: a
//! node with hundreds of instances has a scrape of several hundred KiB, and pieces below
//! the allocator's threshold for mapping a block of its own are taken from and given back
//! to the heap like any other, so scraping again and again reuses the same memory
//! instead of mapping and unmapping (or, once the threshold adapts, fragmenting) a large
//! block each time.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};

/// The metric type in `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(u64::from(v))
    }
}

impl From<u8> for Value {
    fn from(v: u8) -> Value {
        Value::Int(u64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(u64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

/// Milliseconds as seconds, the unit Prometheus wants.
pub fn secs(ms: u64) -> Value {
    Value::Float(ms as f64 / 1000.0)
}

/// The size a piece of the text grows to before the next one starts.
pub const PIECE: usize = 60 * 1024;

/// The text of a scrape, family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Full pieces.
    done: Vec<String>,
    out: String,
    /// Families written so far, so none is written twice.
    families: HashSet<&'static str>,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition {
            done: Vec::new(),
            out: String::with_capacity(PIECE + 4096),
            families: HashSet::new(),
        }
    }

    /// Starts a new piece once this one is full (between lines only).
    fn cut(&mut self) {
        if self.out.len() >= PIECE {
            let full = std::mem::replace(&mut self.out, String::with_capacity(PIECE + 4096));
            self.done.push(full);
        }
    }

    /// Starts a family: its header, then `f` writes its samples. A family given twice
    /// gets its header the first time only (callers give each once; this keeps the
    /// output valid if one does not).
    pub fn family(
        &mut self,
        name: &'static str,
        kind: Kind,
        help: &str,
        f: impl FnOnce(&mut Family<'_>),
    ) {
        if self.families.insert(name) {
            let kind = match kind {
                Kind::Gauge => "gauge",
                Kind::Counter => "counter",
            };
            let _ = writeln!(self.out, "# HELP {name} {}", EscHelp(help));
            let _ = writeln!(self.out, "# TYPE {name} {kind}");
        }
        let mut fam = Family {
            name,
            exp: self,
            seen: HashSet::new(),
        };
        f(&mut fam);
    }

    /// The text, in pieces of whole lines.
    pub fn finish(mut self) -> Vec<String> {
        if !self.out.is_empty() || self.done.is_empty() {
            self.out.shrink_to_fit();
            self.done.push(self.out);
        }
        self.done
    }
}

/// The samples of one family.
pub struct Family<'a> {
    name: &'static str,
    exp: &'a mut Exposition,
    /// Hashes of the label sets written (64 bits: a false "seen" among the few thousand
    /// series of a node is out of reach in practice).
    seen: HashSet<u64>,
}

impl Family<'_> {
    /// One sample: `name{label="value",...} value`. Label names are the caller's
    /// constants; values come from the status and are escaped.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) {
        let mut h = DefaultHasher::new();
        labels.hash(&mut h);
        if !self.seen.insert(h.finish()) {
            return;
        }
        self.exp.cut();
        let out = &mut self.exp.out;
        out.push_str(self.name);
        if !labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{k}=\"{}\"", EscLabel(v));
            }
            out.push('}');
        }
        out.push(' ');
        match value.into() {
            Value::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Float(x) if x.is_nan() => out.push_str("NaN"),
            Value::Float(x) if x.is_infinite() => {
                out.push_str(if x > 0.0 { "+Inf" } else { "-Inf" })
            }
            Value::Float(x) => {
                let _ = write!(out, "{x}");
            }
        }
        out.push('\n');
    }
}

/// A label value: `\` as `\\`, `"` as `\"`, a newline as `\n`.
struct EscLabel<'a>(&'a str);

impl std::fmt::Display for EscLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A HELP text: `\` as `\\`, a newline as `\n`.
struct EscHelp<'a>(&'a str);

impl std::fmt::Display for EscHelp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_once_samples_escaped_duplicates_dropped() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "Things.\nWith a \\ too", |f| {
            f.sample(&[("a", "q\"u\\o\nte")], 3u64);
            f.sample(&[("a", "q\"u\\o\nte")], 4u64);
            f.sample(&[("a", "b")], 1.5);
        });
        e.family("x_total", Kind::Counter, "again", |f| f.sample(&[], 0u64));
        e.family("y", Kind::Gauge, "y", |f| {
            f.sample(&[], f64::NAN);
            f.sample(&[("k", "1")], f64::INFINITY);
            f.sample(&[("k", "2")], 2.0);
        });
        assert_eq!(
            e.finish().concat(),
            "# HELP x_total Things.\\nWith a \\\\ too\n# TYPE x_total counter\n\
             x_total{a=\"q\\\"u\\\\o\\nte\"} 3\nx_total{a=\"b\"} 1.5\nx_total 0\n\
             # HELP y y\n# TYPE y gauge\ny NaN\ny{k=\"1\"} +Inf\ny{k=\"2\"} 2\n"
        );
    }

    #[test]
    fn long_text_comes_in_pieces_of_whole_lines() {
        let mut e = Exposition::new();
        let names: Vec<String> = (0..5000).map(|n| format!("instance_{n}")).collect();
        e.family("z", Kind::Gauge, "z", |f| {
            for n in &names {
                f.sample(&[("iname", n)], 1u64);
            }
        });
        let pieces = e.finish();
        assert!(pieces.len() > 1, "{}", pieces.len());
        for p in &pieces {
            assert!(p.ends_with('\n') && p.len() < PIECE + 4096, "{}", p.len());
        }
        assert_eq!(pieces.concat().lines().count(), 5002);
    }
}
