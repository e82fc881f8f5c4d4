//! batonconf: the loader of baton's own file (`/etc/baton/baton.conf`) into
//! [`BatonConf`](super::baton::BatonConf).
//!
//! The file goes through the same [`preproc`](super::preproc) (include, `@id`,
//! definitions) and [`parser`](super::parser) as keepalived.conf. Unlike keepalived.conf,
//! which baton reads leniently because keepalived defines it, this file is baton's own:
//! an unknown keyword, a bad or out-of-range value, a repeated setting or block is an
//! error at its `file:line:col`, since a typo in a safety setting must not be ignored.
//!
//! The top-level blocks are listed in [`BLOCKS`] and the settings of `global` and
//! `instance` in [`SETTINGS`]; a new block or setting is one entry there (the man page
//! baton.conf(5) is written from the same tables).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

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

const MAN_INTRO: &[&str] = &[
    "baton reads keepalived.conf unchanged (see baton-keepalived.conf(5)). What keepalived.conf has no keyword for, baton reads from a file of its own, /etc/baton/baton.conf unless --baton-conf FILE names another. The file is optional: without it, every setting has the default shown below.",
    "These settings are not in keepalived.conf because keepalived refuses any keyword it does not know (keepalived -t exits with an error), so a single baton keyword there would break a keepalived-side config check or a rollback to keepalived.",
    "The syntax is that of keepalived.conf: statements and blocks, comments after ! or #, include, @ID conditional lines and $NAME definitions. Unlike keepalived.conf, this file is baton's own and is read strictly: an unknown block or setting, a bad or out-of-range value, a setting given twice in a block, a second global block, a second block for one instance, or an instance that keepalived.conf does not define is an error at its FILE:LINE:COL. baton check reports the problems of both files; baton run does not start, and a reload keeps the running configuration.",
    "A setting under instance NAME applies to that instance and overrides the same setting under global; a setting written in neither place has its default. Hooks that belong to no instance (sync group and global notify hooks) use the global value.",
];

const MAN_EXAMPLE: &str = "global {
    notify_timeout 60
}
instance VI_1 {
    notify_timeout 5.5
    unicast_accept_any_source yes
}";

/// Write baton.conf(5) in roff (man(7) macros) from [`BLOCKS`] and [`SETTINGS`].
pub fn write_man_page(w: &mut dyn std::io::Write, version: &str) -> std::io::Result<()> {
    use super::keywords::esc;
    writeln!(
        w,
        ".TH BATON.CONF 5 \"\" \"baton {}\" \"File Formats\"",
        esc(version)
    )?;
    writeln!(w, ".nh\n.ad l")?;
    writeln!(w, ".SH NAME\nbaton.conf \\- baton's own settings")?;
    writeln!(w, ".SH SYNOPSIS\n.B /etc/baton/baton.conf")?;
    writeln!(w, ".SH DESCRIPTION")?;
    for p in MAN_INTRO {
        writeln!(w, ".PP\n{}", esc(p))?;
    }
    writeln!(w, ".SH BLOCKS")?;
    for b in BLOCKS {
        writeln!(w, ".TP\n.B {}\n{}", esc(b.usage), esc(b.doc))?;
    }
    writeln!(w, ".SH SETTINGS")?;
    writeln!(
        w,
        "Durations are in seconds, decimals allowed (0.5); booleans are yes, no, true, false, on or off."
    )?;
    for s in SETTINGS {
        let value = match s.kind {
            Kind::Secs { min, max } => format!("SECONDS ({min} to {max})"),
            Kind::Bool => "yes|no".to_string(),
        };
        writeln!(w, ".TP\n\\fB{}\\fR {}", esc(s.name), esc(&value))?;
        writeln!(w, "{} Default: {}.", esc(s.doc), esc(s.default))?;
    }
    writeln!(w, ".SH EXAMPLE\n.EX\n{}\n.EE\n.PP", esc(MAN_EXAMPLE))?;
    writeln!(
        w,
        "VI_1 gets a 5.5 second notify timeout and accepts adverts from any source; every other instance gets 60 seconds and, for unicast, adverts only from its peers; the obsolete-hook grace is 2 seconds everywhere."
    )?;
    writeln!(w, ".SH FILES")?;
    writeln!(w, ".TP\n.B /etc/baton/baton.conf")?;
    writeln!(
        w,
        "Read when it exists; shipped with every setting commented out."
    )?;
    writeln!(w, ".TP\n.B /etc/default/baton, /etc/sysconfig/baton")?;
    writeln!(
        w,
        "BATON_ARGS for the service, where --baton-conf FILE goes."
    )?;
    writeln!(w, ".SH SEE ALSO")?;
    writeln!(
        w,
        "\\fBbaton\\fR(8), \\fBbaton-keepalived.conf\\fR(5), \\fBkeepalived.conf\\fR(5)"
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn man_page_lists_every_block_and_setting_with_its_default() {
        let mut page = Vec::new();
        write_man_page(&mut page, "1.2.3").unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".TH BATON.CONF 5"), "{page}");
        for b in BLOCKS {
            assert!(page.contains(&format!(".B {}", b.usage)), "{}", b.name);
        }
        for s in SETTINGS {
            let name = s.name.replace('-', "\\-");
            assert!(page.contains(&format!("\\fB{name}\\fR")), "{}", s.name);
            assert!(
                page.contains(&format!("Default: {}.", s.default)),
                "{}",
                s.name
            );
        }
    }
}
