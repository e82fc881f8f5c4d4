//! Tracked objects: the `vrrp_script`, `track_file` and `vrrp_track_process`
//! definitions, and the `track_interface|script|file|process` lists that refer
//! to them from instances and sync groups.
//!
//! Whether a list names a defined object is checked in validation, not here.

use crate::config::model::*;
use crate::config::parser::Node;

use super::{B, key};

impl B<'_> {
    pub(super) fn vrrp_script(&mut self, n: &Node) -> Option<VrrpScript> {
        let name = self.block_name(n)?;
        let mut v = VrrpScript::new(&name);
        let base = key(&["s", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        self.spans
            .set(format!("{base}}}"), n.close.as_ref().unwrap_or(n.loc()));
        let mut user = None;
        for s in n.body() {
            self.spans.set(format!("{base}/{}", s.name()), s.loc());
            match s.name() {
                "script" => v.script = self.script_command(s),
                "interval" | "timeout" => {
                    if let Some(d) = self.secs(s, 0.000001, 86400.0) {
                        if d.subsec_micros() != 0 {
                            // baton's extension, but a keepalived reading the
                            // same file reports it and ignores the value: a
                            // warning, since the file no longer passes `keepalived -t`.
                            self.warn(
                                &s.args[0].loc,
                                format!(
                                    "fractional {} is a baton extension; keepalived 2.2 needs whole seconds and ignores it",
                                    s.name()
                                ),
                            );
                        }
                        if s.name() == "interval" {
                            v.interval = d;
                        } else {
                            v.timeout = Some(d);
                        }
                    }
                }
                "weight" => {
                    if let Some((w, r)) = self.weight(s, -253, 253) {
                        v.weight = w;
                        v.weight_reverse = r;
                    }
                }
                "rise" => {
                    if let Some(x) = self.int(s, 1, i64::from(u32::MAX)) {
                        v.rise = x as u32;
                    }
                }
                "fall" => {
                    if let Some(x) = self.int(s, 1, i64::from(u32::MAX)) {
                        v.fall = x as u32;
                    }
                }
                "user" => user = self.run_as(s),
                "init_fail" => {
                    self.no_block(s);
                    v.init_fail = true;
                }
                _ => self.unknown(s),
            }
        }
        if let (Some(u), Some(cmd)) = (user, v.script.as_mut()) {
            cmd.run_as = Some(u);
        }
        Some(v)
    }

    pub(super) fn track_file(&mut self, n: &Node) -> Option<TrackFile> {
        let name = self.block_name(n)?;
        let mut v = TrackFile::new(&name);
        let base = key(&["f", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        self.spans
            .set(format!("{base}}}"), n.close.as_ref().unwrap_or(n.loc()));
        for s in n.body() {
            match s.name() {
                "file" => v.file = self.string(s),
                "weight" => {
                    if let Some((w, r)) = self.weight(s, -2_147_483_647, 2_147_483_647) {
                        v.weight = w;
                        v.weight_reverse = r;
                    }
                }
                "init_file" => {
                    let mut init = InitFile {
                        value: 0,
                        overwrite: false,
                    };
                    for t in &s.args {
                        if t.text == "overwrite" {
                            init.overwrite = true;
                        } else if let Some(x) =
                            self.int_tok("init_file", t, i64::from(i32::MIN), i64::from(i32::MAX))
                        {
                            init.value = x;
                        }
                    }
                    v.init_file = Some(init);
                }
                _ => self.unknown(s),
            }
        }
        Some(v)
    }

    pub(super) fn track_process(&mut self, n: &Node) -> Option<TrackProcess> {
        let name = self.block_name(n)?;
        let mut v = TrackProcess::new(&name);
        let base = key(&["p", &name]);
        self.spans.set(base.clone(), &n.args[0].loc);
        self.spans
            .set(format!("{base}}}"), n.close.as_ref().unwrap_or(n.loc()));
        for s in n.body() {
            match s.name() {
                "process" => {
                    if let Some(t) = self.arg(s, 0) {
                        v.process = Some(t.text.clone());
                        v.params = s.args[1..].iter().map(|t| t.text.clone()).collect();
                    }
                }
                "param_match" => {
                    v.param_match = match s.args.first().map(|t| t.text.as_str()) {
                        None => Some(ParamMatch::Exact),
                        Some("partial") => Some(ParamMatch::Partial),
                        Some("initial") => Some(ParamMatch::Initial),
                        Some(other) => {
                            self.err(
                                &s.args[0].loc,
                                format!("param_match: expected partial or initial, got '{other}'"),
                            );
                            None
                        }
                    }
                }
                "weight" => {
                    if let Some((w, r)) = self.weight(s, -254, 254) {
                        v.weight = w;
                        v.weight_reverse = r;
                    }
                }
                "quorum" => {
                    if let Some(x) = self.int(s, 1, 65535) {
                        v.quorum = x as u32;
                    }
                }
                "quorum_max" => v.quorum_max = self.int(s, 0, 65535).map(|x| x as u32),
                "fork_delay" => v.fork_delay = self.secs(s, 0.0, 3600.0),
                "terminate_delay" => v.terminate_delay = self.secs(s, 0.0, 3600.0),
                "delay" => {
                    let d = self.secs(s, 0.0, 3600.0);
                    v.fork_delay = d;
                    v.terminate_delay = d;
                }
                "full_command" => {
                    self.no_block(s);
                    v.full_command = true;
                }
                _ => self.unknown(s),
            }
        }
        Some(v)
    }

    /// Entries of `track_interface|script|file|process { NAME [weight N [reverse]] }`.
    pub(super) fn track_refs(&mut self, n: &Node, base: &str, min: i64, max: i64) -> Vec<TrackRef> {
        self.expect_block(n);
        let mut out = Vec::new();
        for e in n.body() {
            let mut r = TrackRef {
                name: e.name().to_string(),
                weight: None,
                reverse: false,
            };
            self.spans
                .set(format!("{base}/{}/{}", n.name(), e.name()), e.loc());
            let mut it = e.args.iter();
            let mut dropped = false;
            while let Some(t) = it.next() {
                match t.text.as_str() {
                    "weight" => match it.next() {
                        Some(w) => r.weight = self.int_tok("weight", w, min, max).map(|x| x as i32),
                        None => self.err(&t.loc, "weight needs a value"),
                    },
                    "reverse" => r.reverse = true,
                    "noreverse" | "no_reverse" => r.reverse = false,
                    // keepalived logs the word and drops the whole entry:
                    // the object is then not tracked at all.
                    other if !dropped => {
                        dropped = true;
                        self.warn(
                            &t.loc,
                            format!(
                                "{}: unknown option '{other}' after '{}'; {} is not tracked, as in keepalived",
                                n.name(),
                                e.name(),
                                e.name()
                            ),
                        );
                    }
                    _ => {}
                }
            }
            if !dropped {
                out.push(r);
            }
        }
        out
    }
}
