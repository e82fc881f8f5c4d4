//! The `arbiter etcd { ... }` blocks of baton's file: the etcd cluster that decides which
//! node may serve each target (an instance or a sync group), its lease and its TLS and
//! authentication. Read as strictly as the rest of the file; the statements are the
//! entries of [`ARBITER_STATEMENTS`], from which the man page is written. That each target
//! is an instance or sync group of keepalived.conf is checked by [`check_arbiters`] once
//! both files are loaded.

mod statements;

use std::collections::HashMap;

use crate::config::baton::{ArbiterConf, BatonConf};
use crate::config::diag::{Diagnostic, Loc};
use crate::config::model::Config;
use crate::config::parser::Node;

use super::Reader;
use super::block::{Block, read_statements, row};
use statements::Scheme;

/// One statement of the arbiter block.
pub struct ArbiterStatement {
    pub name: &'static str,
    /// Usage as shown in messages and the man page.
    pub usage: &'static str,
    /// The default, as the man page shows it.
    pub default: &'static str,
    /// Whether it may be given more than once.
    pub repeatable: bool,
    pub doc: &'static str,
    read: fn(&mut Reader, &mut Arbiter, &Node),
}

row!(ArbiterStatement);

/// The arbiter kinds baton knows (the word after `arbiter`).
pub const ARBITER_KINDS: &[&str] = &["etcd"];
/// The most endpoints one block may list.
pub const MAX_ENDPOINTS: usize = 16;

/// The statements of `arbiter etcd { ... }`, in the order the man page lists them.
pub const ARBITER_STATEMENTS: &[ArbiterStatement] = &[
    ArbiterStatement {
        name: "endpoints",
        usage: "endpoints ENDPOINT ...",
        default: "none (required)",
        repeatable: false,
        doc: "The members of the etcd cluster, 1 to 16 on one line, each as HOST:PORT, \
              http://HOST:PORT or https://HOST:PORT, where HOST is a host name, an IPv4 \
              address or an IPv6 address in brackets ([fd00::1]:2379). baton asks one \
              member at a time and moves on to the next when one fails or does not answer \
              within request_timeout. HOST:PORT means TLS with ca_file and plain HTTP \
              without; an https:// member needs ca_file, and an http:// member cannot be \
              used with it. List every member: etcd answers while a majority of its \
              members are up, so a full list lets baton reach it whichever members are \
              down.",
        read: statements::read_endpoints,
    },
    ArbiterStatement {
        name: "instance",
        usage: "instance NAME",
        default: "none",
        repeatable: true,
        doc: "A vrrp_instance of keepalived.conf that this block arbitrates (a target). \
              NAME must be an instance keepalived.conf defines and not a member of a \
              vrrp_sync_group: the instances of a group change state together, so the \
              group is the target (group NAME). Give one instance line per target. A block \
              needs at least one instance or group line, and a target may be named in one \
              arbiter block only.",
        read: statements::read_instance,
    },
    ArbiterStatement {
        name: "group",
        usage: "group NAME",
        default: "none",
        repeatable: true,
        doc: "A vrrp_sync_group of keepalived.conf that this block arbitrates as one \
              target: its instances are served together, by the node that holds the \
              group's election. Give one group line per group.",
        read: statements::read_group,
    },
    ArbiterStatement {
        name: "prefix",
        usage: "prefix PREFIX",
        default: "/baton/",
        repeatable: false,
        doc: "The start of every key this block writes in etcd: the election for a target \
              is held under PREFIX, the target's name and a /. It must start with / and \
              contain no blanks; ending it with / keeps the keys readable. The nodes that \
              contend for a target must use the same prefix; pairs of nodes that share one \
              etcd and use the same target names need prefixes of their own.",
        read: statements::read_prefix,
    },
    ArbiterStatement {
        name: "name",
        usage: "name NAME",
        default: "the host name",
        repeatable: false,
        doc: "This node's name in the elections: the value of its key in etcd, which every \
              node shows as the name of the leader. Each node needs a name of its own. No \
              blanks.",
        read: statements::read_name,
    },
    ArbiterStatement {
        name: "lease_ttl",
        usage: "lease_ttl SECONDS",
        default: "5",
        repeatable: false,
        doc: "The time to live of this node's etcd lease, 2 to 600 whole seconds (etcd \
              leases have whole seconds). baton renews the lease while etcd answers; the \
              keys of a node that stops renewing (it crashed, or is cut off from etcd) go \
              when the lease expires, and another node can win the election. A shorter TTL \
              means a faster takeover when a node is lost, and a node cut off from etcd \
              stops serving sooner.",
        read: statements::read_lease_ttl,
    },
    ArbiterStatement {
        name: "mode",
        usage: "mode vrrp|only",
        default: "vrrp",
        repeatable: false,
        doc: "How the targets are elected. vrrp: VRRP elects as usual, and the VRRP master \
              serves a target only while it also holds the target's etcd election. only: \
              the etcd election alone decides; baton sends no VRRP adverts for the targets, \
              and the node that holds the election serves them.",
        read: statements::read_mode,
    },
    ArbiterStatement {
        name: "etcd_down",
        usage: "etcd_down stop|keep",
        default: "stop",
        repeatable: false,
        doc: "What a node that is serving does when it can no longer trust its lease: \
              etcd does not answer, or has lost its majority. stop: it stops serving \
              stop_margin before the lease could have expired, so the service never runs \
              on two nodes, even when this node alone is cut off from etcd. keep: it goes \
              on serving while etcd cannot be reached, so an outage of etcd does not stop \
              the service; but if only this node is cut off, another node can win the \
              election and both serve. Either way, a node that is not serving never starts \
              without winning the election.",
        read: statements::read_etcd_down,
    },
    ArbiterStatement {
        name: "clock_drift",
        usage: "clock_drift PERCENT",
        default: "1%",
        repeatable: false,
        doc: "The largest difference, 0% to 10% (decimals allowed, as in 0.5%), between \
              the rate of any clock involved (this node's, the etcd members') and real \
              time. baton counts on its lease for lease_ttl * (1 - drift) / (1 + drift) from \
              the moment it sent the renewal, by its own clock, so that a clock running \
              fast or slow cannot make it serve past its lease. It bounds rates, not \
              offsets: the clocks need not show the same time.",
        read: statements::read_clock_drift,
    },
    ArbiterStatement {
        name: "stop_margin",
        usage: "stop_margin SECONDS",
        default: "a quarter of lease_ttl, at most 1",
        repeatable: false,
        doc: "How long before its lease could expire a serving node that has not been \
              able to renew it stops serving: the time its leaving hooks have to stop the \
              service while the lease still holds. Decimal seconds, below half of \
              lease_ttl. Set it above the time the service takes to stop.",
        read: statements::read_stop_margin,
    },
    ArbiterStatement {
        name: "request_timeout",
        usage: "request_timeout SECONDS",
        default: "a quarter of lease_ttl, at most 1",
        repeatable: false,
        doc: "How long baton waits for an etcd member to answer a request before it counts \
              the request as failed and tries the next endpoint. Decimal seconds, from \
              0.05 and below half of lease_ttl.",
        read: statements::read_request_timeout,
    },
    ArbiterStatement {
        name: "ca_file",
        usage: "ca_file PATH",
        default: "none (plain HTTP)",
        repeatable: false,
        doc: "Absolute path of a PEM file with the certificate of the CA that signs the \
              etcd members' certificates. With ca_file baton talks to etcd over TLS and \
              checks each member's certificate against it; without it, over plain HTTP.",
        read: statements::read_path,
    },
    ArbiterStatement {
        name: "cert_file",
        usage: "cert_file PATH",
        default: "none",
        repeatable: false,
        doc: "Absolute path of this node's TLS client certificate (PEM), for an etcd that \
              asks for client certificates. Needs key_file and ca_file.",
        read: statements::read_path,
    },
    ArbiterStatement {
        name: "key_file",
        usage: "key_file PATH",
        default: "none",
        repeatable: false,
        doc: "Absolute path of the private key (PEM) of cert_file. Needs cert_file. Keep \
              the file readable by root only.",
        read: statements::read_path,
    },
    ArbiterStatement {
        name: "user",
        usage: "user NAME",
        default: "none (no authentication)",
        repeatable: false,
        doc: "The etcd user baton authenticates as, for an etcd with authentication \
              enabled. The user needs to read and write the keys under prefix. Needs \
              password_file.",
        read: statements::read_user,
    },
    ArbiterStatement {
        name: "password_file",
        usage: "password_file PATH",
        default: "none",
        repeatable: false,
        doc: "Absolute path of a file whose first line is the password of user. Needs \
              user. Keep the file readable by root only.",
        read: statements::read_path,
    },
];

/// One target of an arbiter block, for the checks against keepalived.conf and between
/// blocks.
#[derive(Debug, Clone)]
pub struct ArbiterTarget {
    pub name: String,
    /// `group NAME` rather than `instance NAME`.
    pub group: bool,
    /// Where NAME is written.
    pub at: Loc,
    /// Its block: the index in `BatonConf::arbiters`.
    pub block: usize,
}

impl ArbiterTarget {
    fn kind(&self) -> &'static str {
        if self.group { "group" } else { "instance" }
    }
}

/// The block being read, with where each thing was given.
#[derive(Default)]
pub(super) struct Arbiter {
    conf: ArbiterConf,
    at: Loc,
    /// Its index in `BatonConf::arbiters`.
    index: usize,
    /// Statements given (the location of the statement), for repeats and requirements.
    set_at: HashMap<&'static str, Loc>,
    /// Where the value of each single-value statement kept is written.
    value_at: HashMap<&'static str, Loc>,
    /// Each endpoint kept (as `conf.endpoints`): its scheme, its host and port (lower case),
    /// where it is.
    endpoints_at: Vec<(Scheme, String, Loc)>,
}

/// `arbiter KIND { ... }` into `conf.arbiters`.
pub(super) fn read_arbiter(r: &mut Reader, n: &Node, conf: &mut BatonConf) {
    let usage = "arbiter etcd { STATEMENT ... }";
    match n.args.as_slice() {
        [] => {
            r.err(n.loc(), format!("arbiter needs its kind: {usage}"));
            return;
        }
        [kind, rest @ ..] => {
            if !ARBITER_KINDS.contains(&kind.text.as_str()) {
                let msg = format!(
                    "unknown arbiter kind '{}' (supported: {})",
                    kind.text,
                    ARBITER_KINDS.join(", ")
                );
                r.err(&kind.loc, msg);
                return;
            }
            if let Some(x) = rest.first() {
                r.err(&x.loc, format!("arbiter takes one kind: {usage}"));
                return;
            }
        }
    }
    let mut a = Arbiter {
        at: n.loc().clone(),
        index: conf.arbiters.len(),
        ..Arbiter::default()
    };
    let how = Block {
        inside: "arbiter etcd",
        this: "this arbiter block",
        table: ARBITER_STATEMENTS,
        set_at: |a: &mut Arbiter| &mut a.set_at,
        reader: |st: &ArbiterStatement| st.read,
    };
    read_statements(r, n, &how, &mut a);
    check_block(r, &a);
    conf.arbiters.push(a.conf);
}

/// The checks of one statement against another, at the end of the block.
fn check_block(r: &mut Reader, a: &Arbiter) {
    if !a.set_at.contains_key("endpoints") {
        r.err(
            &a.at,
            "arbiter etcd needs endpoints: endpoints HOST:PORT ... (the etcd members)",
        );
    }
    if !a.set_at.contains_key("instance") && !a.set_at.contains_key("group") {
        r.err(
            &a.at,
            "arbiter etcd names no target: add instance NAME or group NAME",
        );
    }
    let ttl = a.conf.lease_ttl();
    let default = if a.conf.lease_ttl.is_some() {
        ""
    } else {
        ", the default"
    };
    for (what, set) in [
        ("stop_margin", a.conf.stop_margin),
        ("request_timeout", a.conf.request_timeout),
    ] {
        let (Some(d), Some(at)) = (set, a.value_at.get(what)) else {
            continue;
        };
        if d * 2 >= ttl {
            let msg = format!(
                "{what} ({} s) must be below half of lease_ttl ({} s{default})",
                d.as_secs_f64(),
                ttl.as_secs()
            );
            r.err(at, msg);
        }
    }
    let needs = [
        (
            "cert_file",
            "key_file",
            "a client certificate needs its key",
        ),
        (
            "key_file",
            "cert_file",
            "a client key needs its certificate",
        ),
        ("cert_file", "ca_file", "TLS is on only with ca_file"),
        ("user", "password_file", "user needs its password"),
        ("password_file", "user", "a password needs its user"),
    ];
    for (have, need, why) in needs {
        if let (Some(at), None) = (a.value_at.get(have), a.value_at.get(need)) {
            r.err(at, format!("{have} needs {need} in the same block: {why}"));
        }
    }
    let tls = a.conf.ca_file.is_some();
    for ((scheme, _, at), text) in a.endpoints_at.iter().zip(&a.conf.endpoints) {
        let msg = match (scheme, tls) {
            (Scheme::Http, true) => {
                "is plain http://, but ca_file turns TLS on: write \
                                     https:// or HOST:PORT"
            }
            (Scheme::Https, false) => {
                "is https://, but TLS needs ca_file (the CA of the \
                                       etcd members' certificates)"
            }
            _ => continue,
        };
        r.err(at, format!("endpoint {text} {msg}"));
    }
}

/// The checks against keepalived.conf: each target is an instance or sync group it
/// defines, and an instance target is not a member of a sync group.
pub fn check_arbiters(refs: &super::Refs, config: &Config, diags: &mut Vec<Diagnostic>) {
    for t in &refs.arbiter_targets {
        let name = &t.name;
        let msg = if t.group {
            if config.sync_groups.iter().any(|g| &g.name == name) {
                continue;
            }
            format!("group {name}: keepalived.conf defines no vrrp_sync_group {name}")
        } else if config.instance(name).is_none() {
            format!("instance {name}: keepalived.conf defines no vrrp_instance {name}")
        } else if let Some(g) = (config.sync_groups.iter()).find(|g| g.members.contains(name)) {
            format!(
                "instance {name} is a member of vrrp_sync_group {}, whose instances change \
                 state together: make the group the target (group {})",
                g.name, g.name
            )
        } else {
            continue;
        };
        diags.push(Diagnostic::error(&t.at, msg));
    }
}
