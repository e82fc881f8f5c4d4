//! The `http` block of baton's file: where baton's read-only HTTP server (`/metrics`,
//! `/status`, the status page) listens. Read as strictly as the rest of the file; the
//! statements are the entries of [`HTTP_STATEMENTS`], from which the man page is written.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::config::baton::{BatonConf, HttpConf};
use crate::config::diag::Loc;
use crate::config::parser::Node;

use super::Reader;
use super::block::{Block, read_statements, row};
use super::link::{one_value, where_};

/// One statement of the http block.
pub struct HttpStatement {
    pub name: &'static str,
    /// Usage as shown in messages and the man page.
    pub usage: &'static str,
    /// The default, as the man page shows it.
    pub default: &'static str,
    /// Whether it may be given more than once.
    pub repeatable: bool,
    pub doc: &'static str,
    read: fn(&mut Reader, &mut Http, &Node),
}

row!(HttpStatement);

/// The statements of `http { ... }`, in the order the man page lists them.
pub const HTTP_STATEMENTS: &[HttpStatement] = &[
    HttpStatement {
        name: "listen",
        usage: "listen ADDRESS",
        default: "127.0.0.1",
        repeatable: true,
        doc: "An address, IPv4 or IPv6, the HTTP server accepts connections on. Give one \
              listen per address; 0.0.0.0 is every IPv4 address of the node and :: every \
              IPv6 one (IPv6 only: write both for both). Without listen, only this host \
              can connect. A wildcard address may not be listed with another address of \
              its family. An address not on the node yet is accepted; the server answers \
              on it once it is there.",
        read: read_listen,
    },
    HttpStatement {
        name: "port",
        usage: "port N",
        default: "9165",
        repeatable: false,
        doc: "TCP port, 1 to 65535. The default is the community keepalived exporter's, \
              so a Prometheus scrape job written for it finds baton unchanged (stop the \
              exporter first: both cannot listen on one port).",
        read: read_port,
    },
];

/// The block being read, with where each thing was first given.
#[derive(Default)]
pub(super) struct Http {
    conf: HttpConf,
    set_at: HashMap<&'static str, Loc>,
    listen_at: Vec<(IpAddr, Loc)>,
}

/// `http { ... }` into `conf.http`.
pub(super) fn read_http(r: &mut Reader, n: &Node, conf: &mut BatonConf) {
    if let Some(a) = n.args.first() {
        r.err(&a.loc, "http takes no name");
    }
    if let Some(first) = &r.http_at {
        let msg = format!(
            "a second http block (the first is at {})",
            where_(first, n.loc())
        );
        r.err(n.loc(), msg);
        return;
    }
    r.http_at = Some(n.loc().clone());
    let mut h = Http::default();
    let how = Block {
        inside: "http",
        this: "the http block",
        table: HTTP_STATEMENTS,
        set_at: |h: &mut Http| &mut h.set_at,
        reader: |st: &HttpStatement| st.read,
    };
    read_statements(r, n, &how, &mut h);
    conf.http = Some(h.conf);
}

fn read_listen(r: &mut Reader, h: &mut Http, n: &Node) {
    let Some(t) = one_value(r, n, "an address") else {
        return;
    };
    let addr = match t.text.parse::<IpAddr>() {
        Ok(a) if a.is_multicast() => {
            r.err(
                &t.loc,
                format!("listen: {a} is a multicast address, not one to listen on"),
            );
            return;
        }
        Ok(a) => a,
        Err(_) if t.text.contains('%') => {
            r.err(
                &t.loc,
                format!(
                    "listen: '{}' has a zone (%...): give an address without one",
                    t.text
                ),
            );
            return;
        }
        Err(_) => {
            r.err(
                &t.loc,
                format!("listen: '{}' is not an IPv4 or IPv6 address", t.text),
            );
            return;
        }
    };
    for (other, at) in &h.listen_at {
        let clash = if *other == addr {
            "is given twice"
        } else if other.is_ipv4() == addr.is_ipv4()
            && (other.is_unspecified() || addr.is_unspecified())
        {
            "overlaps a wildcard address of its family"
        } else {
            continue;
        };
        let msg = format!(
            "listen {addr} {clash} (listen {other} at {})",
            where_(at, &t.loc)
        );
        r.err(&t.loc, msg);
        return;
    }
    h.listen_at.push((addr, t.loc.clone()));
    h.conf.listen.push(addr);
}

fn read_port(r: &mut Reader, h: &mut Http, n: &Node) {
    let Some(t) = one_value(r, n, "a port number") else {
        return;
    };
    match t.text.parse::<u16>() {
        Ok(p) if p > 0 => h.conf.port = Some(p),
        _ => r.err(
            &t.loc,
            format!("port must be a number from 1 to 65535 (got '{}')", t.text),
        ),
    }
}
