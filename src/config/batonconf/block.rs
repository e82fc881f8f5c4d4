//! The statement loop the `link`, `http` and `arbiter` blocks share: each block has a
//! table of statements (name, usage, whether it may repeat, its reader), and every
//! statement of the block is checked against it the same way.

use std::collections::HashMap;

use crate::config::diag::Loc;
use crate::config::parser::Node;

use super::Reader;
use super::link::where_;

/// A row's reader: one statement into the block's state.
pub(super) type ReadFn<B> = fn(&mut Reader, &mut B, &Node);

/// What the loop needs of one row of a block's statement table.
pub(super) trait Row: 'static {
    fn name(&self) -> &'static str;
    fn usage(&self) -> &'static str;
    fn repeatable(&self) -> bool;
}

/// How the loop speaks of a block in its messages, and where the block keeps its state.
pub(super) struct Block<'a, T: 'static, B> {
    /// "unknown statement 'x' in {inside}".
    pub inside: &'a str,
    /// "x is set twice in {this} (the first is at …)".
    pub this: &'a str,
    pub table: &'static [T],
    /// Where the first of each statement was (single-value ones are refused twice).
    pub set_at: fn(&mut B) -> &mut HashMap<&'static str, Loc>,
    pub reader: fn(&T) -> ReadFn<B>,
}

/// Reads every statement of `n` into `b`: an unknown name, a block where a value belongs
/// and a second single-value statement are errors; the rest go to their row's reader.
pub(super) fn read_statements<T: Row, B>(r: &mut Reader, n: &Node, how: &Block<T, B>, b: &mut B) {
    for s in n.body() {
        let Some(st) = how.table.iter().find(|k| k.name() == s.name()) else {
            let known: Vec<&str> = how.table.iter().map(|k| k.name()).collect();
            let msg = format!(
                "unknown statement '{}' in {} (known: {})",
                s.name(),
                how.inside,
                known.join(", ")
            );
            r.err(s.loc(), msg);
            continue;
        };
        if s.is_block() {
            let msg = format!("{} takes a value, not a block: {}", st.name(), st.usage());
            r.err(s.loc(), msg);
            continue;
        }
        let set_at = (how.set_at)(b);
        if let Some(first) = set_at.get(st.name()).filter(|_| !st.repeatable()) {
            let msg = format!(
                "{} is set twice in {} (the first is at {})",
                st.name(),
                how.this,
                where_(first, s.loc())
            );
            r.err(s.loc(), msg);
            continue;
        }
        set_at.entry(st.name()).or_insert_with(|| s.loc().clone());
        ((how.reader)(st))(r, b, s);
    }
}

/// `impl Row` for a statement table's row type with the usual fields.
macro_rules! row {
    ($t:ty) => {
        impl super::block::Row for $t {
            fn name(&self) -> &'static str {
                self.name
            }
            fn usage(&self) -> &'static str {
                self.usage
            }
            fn repeatable(&self) -> bool {
                self.repeatable
            }
        }
    };
}
pub(super) use row;
