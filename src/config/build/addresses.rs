//! Address, route and rule lines: `virtual_ipaddress`(`_excluded`),
//! `virtual_routes`, `virtual_rules` in instances, and the `static_ipaddress`,
//! `static_routes`, `static_rules` blocks.
//!
//! Each line becomes one model entry or a diagnostic; checks across lines and
//! instances, such as mixed address families, are validation's.

use std::net::IpAddr;

use crate::config::lexer::Token;
use crate::config::model::*;
use crate::config::parser::Node;

use super::{B, parse_prefix};

impl B<'_> {
    /// Lines of `virtual_ipaddress`-like blocks.
    pub(super) fn addresses(&mut self, n: &Node, base: &str) -> Vec<VirtualAddress> {
        self.expect_block(n);
        let mut out = Vec::new();
        for e in n.body() {
            let Some(p) = self.prefix_tok(&e.keyword) else {
                continue;
            };
            self.spans.set(format!("{base}/{}", out.len()), e.loc());
            let mut a = VirtualAddress::new(p.address, p.len);
            let mut it = e.args.iter();
            while let Some(t) = it.next() {
                let word = t.text.as_str();
                match word {
                    "no_track" => a.no_track = true,
                    "use_vmac" => a.use_vmac = true,
                    "home" | "-nodad" | "nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" => {
                        a.flags.push(word.to_string())
                    }
                    "brd" | "broadcast" | "dev" | "scope" | "label" | "peer" | "preferred_lft"
                    | "track_group" => {
                        let Some(val) = it.next() else {
                            self.err(&t.loc, format!("'{word}' needs a value"));
                            continue;
                        };
                        match word {
                            "brd" | "broadcast" => {
                                if val.text == "+" || val.text == "-" {
                                    a.flags.push(format!("brd {}", val.text));
                                } else {
                                    a.brd = self.ip_tok(val);
                                }
                            }
                            "dev" => {
                                self.spans
                                    .set(format!("{base}/{}/dev", out.len()), &val.loc);
                                a.dev = Some(val.text.clone());
                            }
                            "scope" => a.scope = self.scope(val),
                            "label" => a.label = Some(val.text.clone()),
                            "peer" => {
                                a.peer = parse_prefix(&val.text).map(|p| p.address);
                                if a.peer.is_none() {
                                    self.err(&val.loc, format!("invalid address '{}'", val.text));
                                }
                            }
                            _ => a.flags.push(format!("{word} {}", val.text)),
                        }
                    }
                    _ => self.ignored_word(e, t, "address option"),
                }
            }
            out.push(a);
        }
        out
    }

    fn scope(&mut self, t: &Token) -> Option<Scope> {
        match t.text.as_str() {
            "global" | "0" => Some(Scope::Global),
            "site" | "200" => Some(Scope::Site),
            "link" | "253" => Some(Scope::Link),
            "host" | "254" => Some(Scope::Host),
            "nowhere" | "255" => Some(Scope::Nowhere),
            other => {
                self.err(&t.loc, format!("unknown scope '{other}'"));
                None
            }
        }
    }

    pub(super) fn routes(&mut self, n: &Node) -> Vec<Route> {
        self.expect_block(n);
        let mut out = Vec::new();
        for e in n.body() {
            let words: Vec<&Token> = std::iter::once(&e.keyword).chain(e.args.iter()).collect();
            let mut r = Route {
                route_type: RouteType::Unicast,
                to: Prefix {
                    address: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    len: 0,
                },
                src: None,
                via: None,
                or_via: None,
                dev: None,
                scope: None,
                table: None,
                metric: None,
                no_track: false,
                options: Vec::new(),
            };
            let mut have_to = false;
            let mut default_to = false;
            // The family word of `via inet6 X`, when written.
            let mut via_family: Option<bool> = None;
            let mut ok = true;
            let mut i = 0;
            while i < words.len() {
                let t = words[i];
                let w = t.text.as_str();
                i += 1;
                let value = |i: &mut usize| -> Option<&Token> {
                    let v = words.get(*i).copied();
                    *i += 1;
                    v
                };
                match w {
                    "blackhole" | "unreachable" | "prohibit" | "throw" => {
                        r.route_type = match w {
                            "blackhole" => RouteType::Blackhole,
                            "unreachable" => RouteType::Unreachable,
                            "prohibit" => RouteType::Prohibit,
                            _ => RouteType::Throw,
                        };
                    }
                    // The default route: its family is the gateway's
                    // (keepalived makes `default via inet6 X` ::/0).
                    "default" | "any" | "all" if !have_to => {
                        have_to = true;
                        default_to = true;
                    }
                    "no_track" => r.no_track = true,
                    "onlink" | "pervasive" => r.options.push(w.to_string()),
                    "src" | "via" | "gw" | "or" | "to" | "dev" | "oif" | "scope" | "table"
                    | "metric" | "priority" | "preference" => {
                        let Some(v) = value(&mut i) else {
                            self.err(&t.loc, format!("'{w}' needs a value"));
                            ok = false;
                            break;
                        };
                        match w {
                            "src" => r.src = self.ip_tok(v),
                            "via" | "gw" => {
                                if w == "gw" {
                                    self.warn(&t.loc, "'gw' for routes is deprecated; use 'via'");
                                }
                                let v = if v.text == "inet" || v.text == "inet6" {
                                    via_family = Some(v.text == "inet6");
                                    match value(&mut i) {
                                        Some(x) => x,
                                        None => continue,
                                    }
                                } else {
                                    v
                                };
                                r.via = self.ip_tok(v);
                            }
                            "or" => {
                                self.warn(&t.loc, "'or' for routes is deprecated; use 'nexthop'");
                                r.or_via = self.ip_tok(v);
                            }
                            "to" if matches!(v.text.as_str(), "default" | "any" | "all") => {
                                have_to = true;
                                default_to = true;
                            }
                            "to" => match self.prefix_tok(v) {
                                Some(p) => {
                                    r.to = p;
                                    have_to = true;
                                }
                                None => ok = false,
                            },
                            "dev" | "oif" => r.dev = Some(v.text.clone()),
                            "scope" => r.scope = self.scope(v),
                            "table" => r.table = Some(v.text.clone()),
                            _ => {
                                r.metric =
                                    self.int_tok(w, v, 0, i64::from(u32::MAX)).map(|x| x as u32)
                            }
                        }
                    }
                    _ if !have_to && parse_prefix(w).is_some()
                        || (!have_to && w.contains(['.', ':']) && !w.contains('=')) =>
                    {
                        match self.prefix_tok(t) {
                            Some(p) => {
                                r.to = p;
                                have_to = true;
                            }
                            None => ok = false,
                        }
                    }
                    _ => {
                        // Other ip-route options take one value; keep both.
                        match value(&mut i) {
                            Some(v) => r.options.push(format!("{w} {}", v.text)),
                            None => r.options.push(w.to_string()),
                        }
                    }
                }
            }
            let mut families = [r.via, r.or_via, r.src]
                .into_iter()
                .flatten()
                .map(|a| a.is_ipv6())
                .chain(via_family)
                .chain((have_to && !default_to).then_some(r.to.address.is_ipv6()));
            if let Some(first) = families.next() {
                if ok && families.any(|f| f != first) {
                    // keepalived logs this and runs without the route.
                    self.warn(
                        e.loc(),
                        "route mixes IPv4 and IPv6 addresses; it is ignored, as keepalived ignores it",
                    );
                    continue;
                }
            }
            if default_to {
                let v6 = [r.via, r.or_via, r.src].into_iter().flatten().next();
                if let Some(IpAddr::V6(_)) = v6 {
                    r.to.address = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
                }
            }
            if !have_to && ok {
                self.err(e.loc(), "route has no destination");
                ok = false;
            }
            if ok {
                out.push(r);
            }
        }
        out
    }

    pub(super) fn rules(&mut self, n: &Node) -> Vec<Rule> {
        self.expect_block(n);
        let mut out = Vec::new();
        for e in n.body() {
            let words: Vec<&Token> = std::iter::once(&e.keyword).chain(e.args.iter()).collect();
            let mut r = Rule {
                from: None,
                to: None,
                table: None,
                preference: None,
                iif: None,
                oif: None,
                fwmark: None,
                no_track: false,
                options: Vec::new(),
            };
            let mut ok = true;
            let mut i = 0;
            while i < words.len() {
                let t = words[i];
                let w = t.text.as_str();
                i += 1;
                match w {
                    "no_track" => r.no_track = true,
                    "not" | "l3mdev" | "blackhole" | "prohibit" | "unreachable" | "inet"
                    | "inet6" => r.options.push(w.to_string()),
                    _ => {
                        let Some(v) = words.get(i).copied() else {
                            self.err(&t.loc, format!("'{w}' needs a value"));
                            ok = false;
                            break;
                        };
                        i += 1;
                        match w {
                            "from" | "to" => match parse_prefix(&v.text) {
                                Some(p) if w == "from" => r.from = Some(p),
                                Some(p) => r.to = Some(p),
                                None if v.text == "all" => {}
                                None => {
                                    self.err(&v.loc, format!("invalid address '{}'", v.text));
                                    ok = false;
                                }
                            },
                            "table" | "lookup" => r.table = Some(v.text.clone()),
                            "preference" | "priority" | "pref" => {
                                r.preference =
                                    self.int_tok(w, v, 0, i64::from(u32::MAX)).map(|x| x as u32)
                            }
                            "iif" => r.iif = Some(v.text.clone()),
                            "oif" => r.oif = Some(v.text.clone()),
                            "fwmark" => r.fwmark = Some(v.text.clone()),
                            _ => r.options.push(format!("{w} {}", v.text)),
                        }
                    }
                }
            }
            if ok {
                if r.preference.is_none() {
                    self.warn(
                        e.loc(),
                        "rule has no preference; the kernel-assigned one may differ between hosts",
                    );
                }
                out.push(r);
            }
        }
        out
    }
}
