//! batonconf: the loader of baton's own file (`/etc/baton/baton.conf`) into
//! [`BatonConf`](super::baton::BatonConf).
//!
//! The file goes through the same [`preproc`](super::preproc) (include, `@id`,
//! definitions) and [`parser`](super::parser) as keepalived.conf. Unlike keepalived.conf,
//! which baton reads leniently because keepalived defines it, this file is baton's own:
//! an unknown keyword, a bad or out-of-range value, a repeated setting or block is an
//! error at its `file:line:col`, since a typo in a safety setting must not be ignored.
//!
//! The top-level blocks are listed in [`BLOCKS`], the settings of `global` and
//! `instance` in [`SETTINGS`], the statements of `link` in [`LINK_STATEMENTS`] (its
//! reader is [`link`]'s), those of `http` in [`HTTP_STATEMENTS`] ([`http`]'s) and those
//! of `arbiter etcd` in [`ARBITER_STATEMENTS`] ([`arbiter`]'s); a new block or setting is
//! one entry there (the man page baton.conf(5), written by [`man`],
//! comes from the same tables).

pub mod arbiter;
mod block;
pub mod http;
pub mod link;
pub mod man;
mod sync;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub use arbiter::{ARBITER_STATEMENTS, ArbiterStatement, ArbiterTarget, check_arbiters};
pub use http::{HTTP_STATEMENTS, HttpStatement};
pub use link::{LINK_STATEMENTS, LinkRefs, LinkStatement, check_link};
pub use man::write_man_page;

use super::baton::{BatonConf, Settings};
use super::build::secs_in_range;
use super::diag::{Diagnostic, Loc};
use super::lexer::Token;
use super::parser::{self, Node};
use super::preproc;

/// What a loaded file refers to elsewhere, checked once keepalived.conf is loaded.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    /// Each `instance NAME` with the location of NAME.
    pub instances: Vec<(String, Loc)>,
    /// The `link` block, if there is one.
    pub link: Option<LinkRefs>,
    /// The targets of every `arbiter` block, in the order written.
    pub arbiter_targets: Vec<ArbiterTarget>,
}

/// A top-level block of the file.
pub struct Block {
    pub name: &'static str,
    /// Usage as shown in messages and the man page.
    pub usage: &'static str,
    pub doc: &'static str,
    read: fn(&mut Reader, &Node, &mut BatonConf),
}

/// The top-level blocks, in the order the man page lists them.
pub const BLOCKS: &[Block] = &[
    Block {
        name: "global",
        usage: "global { SETTING VALUE ... }",
        doc: "Settings for every instance, and for hooks that belong to no instance \
              (sync group and global notify hooks). At most one global block.",
        read: read_global,
    },
    Block {
        name: "instance",
        usage: "instance NAME { SETTING VALUE ... }",
        doc: "Settings for the vrrp_instance NAME of keepalived.conf; each overrides the \
              same setting under global. NAME must be an instance keepalived.conf defines. \
              At most one block per instance.",
        read: read_instance,
    },
    Block {
        name: "link",
        usage: "link { STATEMENT ... }",
        doc: "The link between this baton node and its peers: a TCP connection of its \
              own beside VRRP, authenticated by each node's key, over which the nodes \
              share their status and compare their configurations. Without a link \
              block there is no link: no listener, no identity, baton runs VRRP alone. \
              Its statements are listed under LINK. At most one link block.",
        read: link::read_link,
    },
    Block {
        name: "http",
        usage: "http { STATEMENT ... }",
        doc: "baton's HTTP server, read-only: Prometheus metrics at /metrics (the \
              community keepalived exporter's series and baton's own), the status as \
              JSON at /status (what baton status --json prints) and a status page at /. \
              Without an http block there is no server. Its statements are listed under \
              HTTP. At most one http block.",
        read: http::read_http,
    },
    Block {
        name: "arbiter",
        usage: "arbiter etcd { STATEMENT ... }",
        doc: "An etcd cluster that decides which node may serve the instances and sync \
              groups the block names (its targets): a node serves a target (runs its \
              MASTER hooks, holds its virtual addresses) only while it holds the \
              target's election in etcd, and stops before its lease there could have \
              expired, so two nodes do not serve at once even when they cannot hear each \
              other's adverts. Without an arbiter block, VRRP alone decides. etcd is the \
              one kind supported. Its statements are listed under ARBITER. Several \
              arbiter blocks may be given, for example one per etcd cluster; a target \
              belongs to one block at most.",
        read: arbiter::read_arbiter,
    },
];

/// The kind of value a setting takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Decimal seconds within `[min, max]`.
    Secs { min: f64, max: f64 },
    /// yes|no|true|false|on|off.
    Bool,
}

/// A value read for a setting.
enum Value {
    Secs(Duration),
    Bool(bool),
}

/// A setting of `global` and `instance` blocks.
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    /// The default, as the man page shows it.
    pub default: &'static str,
    pub doc: &'static str,
    /// Whether it is already set in `s` (for the repeated-setting error).
    is_set: fn(&Settings) -> bool,
    store: fn(&mut Settings, Value),
}

pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "notify_timeout",
        kind: Kind::Secs {
            min: 0.1,
            max: 86400.0,
        },
        default: "30",
        doc: "Seconds a notify hook may run before baton kills its process group.",
        is_set: |s| s.notify_timeout.is_some(),
        store: |s, v| {
            if let Value::Secs(d) = v {
                s.notify_timeout = Some(d);
            }
        },
    },
    Setting {
        name: "notify_obsolete_grace",
        kind: Kind::Secs {
            min: 0.0,
            max: 3600.0,
        },
        default: "2",
        doc: "Seconds a still-running hook may go on once a newer transition of its \
              instance has made it obsolete, before baton kills its process group and \
              runs the next hook.",
        is_set: |s| s.notify_obsolete_grace.is_some(),
        store: |s, v| {
            if let Value::Secs(d) = v {
                s.notify_obsolete_grace = Some(d);
            }
        },
    },
    Setting {
        name: "handover_timeout",
        kind: Kind::Secs {
            min: 0.0,
            max: 3600.0,
        },
        default: "10",
        doc: "With a link block: the longest a node that has become MASTER holds its \
              MASTER hooks while its linked peer's service may still be running (its \
              leaving hooks have not ended, or the link is down while the peer is still \
              heard on VRRP). Past it the hooks start anyway. Set it above the time the \
              service takes to stop; 0 never holds. A sync group uses the longest of its \
              instances' values.",
        is_set: |s| s.handover_timeout.is_some(),
        store: |s, v| {
            if let Value::Secs(d) = v {
                s.handover_timeout = Some(d);
            }
        },
    },
    Setting {
        name: "unicast_accept_any_source",
        kind: Kind::Bool,
        default: "no",
        doc: "For unicast instances: accept adverts from addresses not listed in \
              unicast_peer (keepalived's behaviour without vrrp_check_unicast_src). \
              baton's default is to accept adverts only from the listed peers.",
        is_set: |s| s.unicast_accept_any_source.is_some(),
        store: |s, v| {
            if let Value::Bool(b) = v {
                s.unicast_accept_any_source = Some(b);
            }
        },
    },
];

/// Reads baton's file: the settings, what they refer to, and every problem found.
pub fn load(
    path: &Path,
    config_id: &str,
    max_lines: usize,
    diags: &mut Vec<Diagnostic>,
) -> (BatonConf, Refs) {
    let lines = preproc::expand(path, config_id, max_lines, diags);
    let tree = parser::parse_owned(lines, diags);
    read(&tree, diags)
}

/// The parsed tree into settings.
pub fn read(tree: &[Node], diags: &mut Vec<Diagnostic>) -> (BatonConf, Refs) {
    let mut r = Reader {
        diags,
        refs: Refs::default(),
        global_at: None,
        instance_at: BTreeMap::new(),
        link_at: None,
        http_at: None,
    };
    let mut conf = BatonConf::default();
    for n in tree {
        match BLOCKS.iter().find(|b| b.name == n.name()) {
            Some(b) if n.is_block() => (b.read)(&mut r, n, &mut conf),
            Some(b) => r.err(n.loc(), format!("'{}' needs a block: {}", b.name, b.usage)),
            None => r.err(
                n.loc(),
                format!(
                    "unknown block '{}' in baton's file (known: {})",
                    n.name(),
                    BLOCKS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
                ),
            ),
        }
    }
    let refs = r.refs;
    (conf, refs)
}

/// An error for each `instance NAME` that keepalived.conf does not define.
pub fn check_refs(refs: &Refs, known: &dyn Fn(&str) -> bool, diags: &mut Vec<Diagnostic>) {
    for (name, loc) in &refs.instances {
        if !known(name) {
            diags.push(Diagnostic::error(
                loc,
                format!("instance '{name}': keepalived.conf has no vrrp_instance of that name"),
            ));
        }
    }
}

struct Reader<'d> {
    diags: &'d mut Vec<Diagnostic>,
    refs: Refs,
    global_at: Option<Loc>,
    instance_at: BTreeMap<String, Loc>,
    link_at: Option<Loc>,
    http_at: Option<Loc>,
}

impl Reader<'_> {
    fn err(&mut self, loc: &Loc, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(loc, msg));
    }

    /// The statements of a `global` or `instance` block into `s`.
    fn settings(&mut self, block: &Node, s: &mut Settings) {
        for n in block.body() {
            let Some(setting) = SETTINGS.iter().find(|k| k.name == n.name()) else {
                let known: Vec<&str> = SETTINGS.iter().map(|k| k.name).collect();
                self.err(
                    n.loc(),
                    format!(
                        "unknown setting '{}' in {} (known: {})",
                        n.name(),
                        block.name(),
                        known.join(", ")
                    ),
                );
                continue;
            };
            if n.is_block() {
                self.err(n.loc(), format!("{} takes a value, not a block", n.name()));
                continue;
            }
            let Some(value) = self.value(n, setting) else {
                continue;
            };
            if (setting.is_set)(s) {
                self.err(n.loc(), format!("{} is set twice in this block", n.name()));
                continue;
            }
            (setting.store)(s, value);
        }
    }

    /// The one argument of a setting statement, checked against its kind.
    fn value(&mut self, n: &Node, setting: &Setting) -> Option<Value> {
        let (t, extra) = match n.args.as_slice() {
            [] => {
                let what = match setting.kind {
                    Kind::Secs { .. } => "a number of seconds",
                    Kind::Bool => "yes or no",
                };
                self.err(n.loc(), format!("{} needs a value ({what})", n.name()));
                return None;
            }
            [t, rest @ ..] => (t, rest.first()),
        };
        if let Some(x) = extra {
            self.err(&x.loc, format!("{} takes one value", n.name()));
            return None;
        }
        match setting.kind {
            Kind::Secs { min, max } => self.secs(n.name(), t, min, max).map(Value::Secs),
            Kind::Bool => self.boolean(n.name(), t).map(Value::Bool),
        }
    }

    fn secs(&mut self, what: &str, t: &Token, min: f64, max: f64) -> Option<Duration> {
        match secs_in_range(what, &t.text, min, max) {
            Ok(d) => Some(d),
            Err(msg) => {
                self.err(&t.loc, msg);
                None
            }
        }
    }

    fn boolean(&mut self, what: &str, t: &Token) -> Option<bool> {
        match t.text.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Some(true),
            "no" | "false" | "off" => Some(false),
            _ => {
                self.err(
                    &t.loc,
                    format!(
                        "{what}: expected yes|no|true|false|on|off, got '{}'",
                        t.text
                    ),
                );
                None
            }
        }
    }
}

fn read_global(r: &mut Reader, n: &Node, conf: &mut BatonConf) {
    if let Some(a) = n.args.first() {
        r.err(&a.loc, "global takes no name");
    }
    if let Some(first) = r.global_at.clone() {
        r.err(
            n.loc(),
            format!(
                "a second global block (the first is at line {})",
                first.line
            ),
        );
        return;
    }
    r.global_at = Some(n.loc().clone());
    let mut s = Settings::default();
    r.settings(n, &mut s);
    conf.global = s;
}

fn read_instance(r: &mut Reader, n: &Node, conf: &mut BatonConf) {
    let name = match n.args.as_slice() {
        [] => {
            r.err(n.loc(), "instance needs the name of a vrrp_instance");
            return;
        }
        [name, rest @ ..] => {
            if let Some(x) = rest.first() {
                r.err(&x.loc, "instance takes one name");
            }
            name
        }
    };
    if let Some(first) = r.instance_at.get(&name.text) {
        let msg = format!(
            "a second block for instance '{}' (the first is at {first})",
            name.text
        );
        r.err(&name.loc, msg);
        return;
    }
    r.instance_at.insert(name.text.clone(), name.loc.clone());
    r.refs.instances.push((name.text.clone(), name.loc.clone()));
    let mut s = Settings::default();
    r.settings(n, &mut s);
    conf.instances.insert(name.text.clone(), s);
}
