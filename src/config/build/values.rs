//! The value readers every block shares: numbers and their ranges, decimal
//! seconds, on/off flags, addresses and prefixes, notify-style and script
//! commands, `user`/`group`, FIFOs, tracked weights, and the `notify_*` lines
//! of instances and sync groups.
//!
//! A reader checks one value where it is written and reports at its token; it
//! records no spans of its own beyond what its caller asks for, and knows no
//! block's other keywords.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::lexer::Token;
use crate::config::model::*;
use crate::config::parser::Node;
use crate::config::split::split_command;

use super::B;

impl B<'_> {
    pub(super) fn int_tok(&mut self, what: &str, t: &Token, min: i64, max: i64) -> Option<i64> {
        match t.text.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Some(v),
            Ok(v) => {
                self.err(
                    &t.loc,
                    format!("{what} must be between {min} and {max} (got {v})"),
                );
                None
            }
            Err(_) => {
                self.err(
                    &t.loc,
                    format!("{what}: '{}' is not a whole number", t.text),
                );
                None
            }
        }
    }

    pub(super) fn int(&mut self, n: &Node, min: i64, max: i64) -> Option<i64> {
        self.unread(n, 1);
        self.int_first(n, min, max)
    }

    /// The first value of `n` as a number; later words are the caller's.
    fn int_first(&mut self, n: &Node, min: i64, max: i64) -> Option<i64> {
        let t = self.arg(n, 0)?;
        self.int_tok(n.name(), t, min, max)
    }

    pub(super) fn secs_tok(
        &mut self,
        what: &str,
        t: &Token,
        min: f64,
        max: f64,
    ) -> Option<Duration> {
        match secs_in_range(what, &t.text, min, max) {
            Ok(d) => Some(d),
            Err(msg) => {
                self.err(&t.loc, msg);
                None
            }
        }
    }

    pub(super) fn secs(&mut self, n: &Node, min: f64, max: f64) -> Option<Duration> {
        self.unread(n, 1);
        let t = self.arg(n, 0)?;
        self.secs_tok(n.name(), t, min, max)
    }

    /// `KEYWORD [on|off|true|false|yes|no]`: no value means on.
    pub(super) fn flag(&mut self, n: &Node) -> bool {
        self.no_block(n);
        match n.args.first() {
            None => true,
            Some(t) => match t.text.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" => true,
                "off" | "false" | "no" => false,
                _ => {
                    self.err(
                        &t.loc,
                        format!(
                            "{}: expected on|off|true|false|yes|no, got '{}'",
                            n.name(),
                            t.text
                        ),
                    );
                    true
                }
            },
        }
    }

    pub(super) fn ip_tok(&mut self, t: &Token) -> Option<IpAddr> {
        match t.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(&t.loc, format!("invalid address '{}'", t.text));
                None
            }
        }
    }

    pub(super) fn ip(&mut self, n: &Node) -> Option<IpAddr> {
        self.unread(n, 1);
        let t = self.arg(n, 0)?;
        self.ip_tok(t)
    }

    /// A host address where keepalived also takes `ADDR/anything`: it
    /// reads up to the `/` and drops the rest, so baton does too, and says so.
    pub(super) fn host_ip_tok(&mut self, what: &str, t: &Token) -> Option<IpAddr> {
        let Some((addr, suffix)) = t.text.split_once('/') else {
            return self.ip_tok(t);
        };
        match addr.parse::<IpAddr>() {
            Ok(a) => {
                self.warn(
                    &t.loc,
                    format!(
                        "{what}: the prefix /{suffix} after {a} is ignored (a unicast address is one host; keepalived ignores it too)"
                    ),
                );
                Some(a)
            }
            Err(_) => self.ip_tok(t),
        }
    }

    pub(super) fn prefix_tok(&mut self, t: &Token) -> Option<Prefix> {
        match parse_prefix(&t.text) {
            Some(p) => Some(p),
            None => {
                self.err(&t.loc, format!("invalid address '{}'", t.text));
                None
            }
        }
    }

    /// A notify-style command: `CMD [user [group]]`. The first word is the
    /// command (quote it to give arguments); the next two are the user and
    /// group, as keepalived.conf(5) writes `notify_master
    /// <STRING>|<QUOTED-STRING> [username [groupname]]`.
    pub(super) fn command(&mut self, n: &Node, args: &[Token]) -> Option<Command> {
        self.no_block(n);
        let Some(first) = args.first() else {
            self.err(n.loc(), format!("'{}' needs a command", n.name()));
            return None;
        };
        let run_as = match &args[1..] {
            [] => None,
            [u] => Some(RunAs {
                user: u.text.clone(),
                group: None,
            }),
            [u, g] => Some(RunAs {
                user: u.text.clone(),
                group: Some(g.text.clone()),
            }),
            [_, _, extra, ..] => {
                self.err(
                    &extra.loc,
                    format!(
                        "{}: unexpected '{}' after the user and group (quote a command that has arguments)",
                        n.name(),
                        extra.text
                    ),
                );
                None
            }
        };
        self.finish_command(first, first.text.clone(), run_as)
    }

    /// A `script` line of a vrrp_script: keepalived runs its first word
    /// only (a quoted word may hold a whole command line), so baton does.
    pub(super) fn script_command(&mut self, n: &Node) -> Option<Command> {
        self.no_block(n);
        let Some(first) = n.args.first() else {
            self.err(n.loc(), format!("'{}' needs a command", n.name()));
            return None;
        };
        if n.args.len() > 1 && !self.same_line_as_brace(n) {
            let rest: Vec<&str> = n.args[1..].iter().map(Token::raw).collect();
            self.warn(
                &n.args[1].loc,
                format!(
                    "'{}' after the command is ignored: keepalived runs only '{}'; quote the whole command to pass arguments",
                    rest.join(" "),
                    first.text
                ),
            );
        } else {
            self.unread(n, 1);
        }
        self.finish_command(first, first.text.clone(), None)
    }

    fn finish_command(
        &mut self,
        first: &Token,
        raw: String,
        run_as: Option<RunAs>,
    ) -> Option<Command> {
        let argv = split_command(&raw);
        if argv.is_empty() {
            self.err(&first.loc, "the command is empty");
            return None;
        }
        Some(Command { raw, argv, run_as })
    }

    pub(super) fn run_as(&mut self, n: &Node) -> Option<RunAs> {
        let user = self.arg(n, 0)?.text.clone();
        Some(RunAs {
            user,
            group: n.args.get(1).map(|t| t.text.clone()),
        })
    }

    pub(super) fn fifo(&mut self, n: &Node) -> Option<Fifo> {
        let path = self.arg(n, 0)?.text.clone();
        let run_as = n.args.get(1).map(|u| RunAs {
            user: u.text.clone(),
            group: n.args.get(2).map(|g| g.text.clone()),
        });
        Some(Fifo { path, run_as })
    }

    /// `weight N [reverse]` for a tracked object definition.
    pub(super) fn weight(&mut self, n: &Node, min: i64, max: i64) -> Option<(i32, bool)> {
        self.unread(n, 2);
        let w = self.int_first(n, min, max)? as i32;
        let reverse = match n.args.get(1) {
            None => false,
            Some(t) if t.text == "reverse" => true,
            Some(t) if t.text == "noreverse" || t.text == "no_reverse" => false,
            Some(t) => {
                self.err(
                    &t.loc,
                    format!("weight: expected 'reverse', got '{}'", t.text),
                );
                false
            }
        };
        Some((w, reverse))
    }

    pub(super) fn notify(&mut self, s: &Node, notify: &mut Notify) -> bool {
        let slot = match s.name() {
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            "notify_stop" => &mut notify.stop,
            "notify" => &mut notify.any,
            "notify_master_rx_lower_pri" => &mut notify.master_rx_lower_pri,
            "notify_deleted" => {
                notify.deleted = true;
                if !s.args.is_empty() {
                    notify.deleted_script = self.command(s, &s.args);
                }
                return true;
            }
            "notify_priority_changes" => {
                notify.priority_changes = self.flag(s);
                return true;
            }
            _ => return false,
        };
        // keepalived keeps the first script given for a state and ignores the rest.
        if slot.is_some() {
            self.warn(
                s.loc(),
                format!(
                    "{} is already set; keepalived keeps the first and ignores this one",
                    s.name()
                ),
            );
            return true;
        }
        *slot = self.command(s, &s.args);
        true
    }
}

/// Decimal seconds (`1`, `0.1`, `2.71828`) to microsecond resolution.
/// `text` as seconds within `[min, max]`, or the message that says why not (shared by
/// keepalived.conf's builder and baton's own file, so both word it alike).
pub fn secs_in_range(what: &str, text: &str, min: f64, max: f64) -> Result<Duration, String> {
    match parse_secs(text) {
        Some(d) if d.as_secs_f64() >= min && d.as_secs_f64() <= max => Ok(d),
        Some(_) => Err(format!(
            "{what} must be between {min} and {max} seconds (got {text})"
        )),
        None => Err(format!("{what}: '{text}' is not a number of seconds")),
    }
}

pub fn parse_secs(s: &str) -> Option<Duration> {
    if s.is_empty() || s.starts_with(['-', '+']) {
        return None;
    }
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros: u64 = 0;
    for (i, c) in frac.chars().take(6).enumerate() {
        micros += u64::from(c.to_digit(10)?) * 10u64.pow(5 - i as u32);
    }
    secs.checked_mul(1_000_000)?
        .checked_add(micros)
        .map(Duration::from_micros)
}

/// `ADDR[/LEN]`; without a length, the full host length.
pub fn parse_prefix(s: &str) -> Option<Prefix> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let address: IpAddr = a.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some(Prefix { address, len })
}
