//! The `link` block of baton's file: where the baton-to-baton link listens, which nodes it
//! links with, which keys it trusts and its timers. Read as strictly as the rest of the
//! file. The statements are the entries of [`LINK_STATEMENTS`] (the man page is written
//! from it); what needs keepalived.conf (the listen addresses it implies) is checked by
//! [`check_link`] once both files are loaded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::baton::{
    BatonConf, LINK_DEAD_AFTER_DEFAULT, LinkConf, LinkPeer, canonical_fingerprint,
};
use crate::config::build::secs_in_range;
use crate::config::diag::{Diagnostic, Loc};
use crate::config::lexer::Token;
use crate::config::model::Config;
use crate::config::parser::Node;

use super::block::{Block, read_statements, row};

use super::{Reader, Refs};

/// One statement of the link block.
pub struct LinkStatement {
    pub name: &'static str,
    /// Usage as shown in messages and the man page.
    pub usage: &'static str,
    /// The default, as the man page shows it.
    pub default: &'static str,
    /// Whether it may be given more than once.
    pub repeatable: bool,
    pub doc: &'static str,
    read: fn(&mut Reader, &mut Link, &Node),
}

row!(LinkStatement);

/// The statements of `link { ... }`, in the order the man page lists them.
pub const LINK_STATEMENTS: &[LinkStatement] = &[
    LinkStatement {
        name: "listen",
        usage: "listen ADDRESS",
        default: "the unicast_src_ip addresses of the instances in keepalived.conf",
        repeatable: true,
        doc: "An address of this node, IPv4 or IPv6, on which the link accepts \
              connections from its peers. Give one listen per address. Without listen, \
              baton listens on the unicast_src_ip of each of keepalived.conf's instances \
              (the mcast_src_ip of an instance without one); if no instance has either, \
              listen is required.",
        read: read_listen,
    },
    LinkStatement {
        name: "port",
        usage: "port N",
        default: "7411",
        repeatable: false,
        doc: "TCP port, 1 to 65535, the link listens on and dials peers on when their \
              peer statement gives no port. VRRP has no ports, so this is the one port \
              a firewall between the nodes must let through for the link.",
        read: read_port,
    },
    LinkStatement {
        name: "peer",
        usage: "peer ADDRESS [port N] [fingerprint FP]",
        default: "the unicast_peer addresses of the instances; for multicast instances, \
                  the sources of adverts for their VRIDs",
        repeatable: true,
        doc: "A baton node to link with: baton dials ADDRESS (on port N, or the link's \
              port) and accepts connections from the listed addresses only. With \
              fingerprint, the peer is pinned: it must present exactly that key, and is \
              trusted without baton peer approve; a different key is refused. Without \
              fingerprint, a key not yet trusted waits as pending until baton peer approve \
              (or a trust statement) trusts it. Each address may be listed once, and none \
              may be an address this node listens on.",
        read: read_peer,
    },
    LinkStatement {
        name: "trust",
        usage: "trust FP",
        default: "none (keys are trusted with baton peer approve)",
        repeatable: true,
        doc: "A key trusted without approval, from any peer address: for deployments \
              that write each node's fingerprint into the other's file instead of \
              approving by hand. Give one trust per fingerprint. A key trusted here stays \
              trusted until it is removed from this file and baton reloads; baton peer \
              revoke cannot remove it.",
        read: read_trust,
    },
    LinkStatement {
        name: "state_dir",
        usage: "state_dir PATH",
        default: "/var/lib/baton",
        repeatable: false,
        doc: "Absolute path of the directory where the node keeps its identity (a key \
              and a self-signed certificate, made on the first start with the link) and \
              the keys approved with baton peer approve. baton makes it with mode 0700 \
              and its files with mode 0600. Keep it across upgrades and reinstalls: a new \
              identity has a new fingerprint, which every peer must trust again.",
        read: read_state_dir,
    },
    LinkStatement {
        name: "heartbeat",
        usage: "heartbeat SECONDS",
        default: "1",
        repeatable: false,
        doc: "Interval, 0.1 to 60 seconds, of the heartbeat each side sends on a quiet \
              link; it also measures the round-trip time baton status shows.",
        read: read_heartbeat,
    },
    LinkStatement {
        name: "dead_after",
        usage: "dead_after SECONDS",
        default: "3",
        repeatable: false,
        doc: "Silence, longer than heartbeat and at most 600 seconds, after which a peer \
              counts as gone and baton status shows its link down. VRRP never waits on \
              the link, so this changes what baton reports, not when a backup takes over.",
        read: read_dead_after,
    },
    LinkStatement {
        name: "sync_dir",
        usage: "sync_dir PATH instance NAME | sync_dir PATH group NAME",
        default: "none",
        repeatable: true,
        doc: "A directory kept in step with the linked peers, such as a service's \
              configuration and data (/opt/neuronex/data). The node whose service for the \
              vrrp_instance (or vrrp_sync_group) NAME runs is the source: a change there \
              reaches the peers within about a second. A peer whose service is stopped \
              holds a copy, replaced only as a whole: each new generation is built beside \
              the directory and switched in with one atomic rename, never while the \
              peer's own service runs. Files, directories, symbolic links (as links), \
              permissions, owners and modification times follow; so do deletions. A file \
              changed on the copy's node and replaced by the source's generation is moved \
              aside under state_dir/sync/, never lost. PATH must be absolute; both nodes \
              must write the same PATH. Give one sync_dir per directory.",
        read: super::sync::read_sync_dir,
    },
    LinkStatement {
        name: "sync_interval",
        usage: "sync_interval SECONDS",
        default: "60",
        repeatable: false,
        doc: "Interval, 1 to 86400 seconds, of the full compare of every sync_dir \
              between the nodes, on top of the changes inotify reports as they happen: \
              what inotify misses (a lost event, a tree over fs.inotify.max_user_watches) \
              is found at the next compare.",
        read: super::sync::read_sync_interval,
    },
    LinkStatement {
        name: "sync_max_file_size",
        usage: "sync_max_file_size BYTES",
        default: "1073741824 (1 GiB)",
        repeatable: false,
        doc: "The largest file, in bytes (a suffix K, M or G multiplies by 1024s), a \
              peer may send into a sync_dir. A generation with a larger file is refused \
              as a whole and the copy keeps the previous one.",
        read: super::sync::read_sync_max_file_size,
    },
];

/// What the checks against keepalived.conf need to know about the link block.
#[derive(Debug, Clone)]
pub struct LinkRefs {
    /// Where the block starts.
    pub at: Loc,
    /// Each peer address with where it is written.
    pub peers: Vec<(IpAddr, Loc)>,
    /// Whether a `listen` statement is written, good or not (a bad one has its own
    /// error; "no listen address" would only confuse).
    pub listen_written: bool,
    /// Each sync_dir: its index in `sync_dirs` and where its NAME is written.
    pub sync_targets: Vec<(usize, Loc)>,
}

/// The block being read, with where each thing was first given.
#[derive(Default)]
pub(super) struct Link {
    pub(super) conf: LinkConf,
    /// Single-value statements given so far.
    set_at: HashMap<&'static str, Loc>,
    listen_at: HashMap<IpAddr, Loc>,
    peers_at: Vec<(IpAddr, Loc)>,
    trust_at: HashMap<String, Loc>,
    /// The values of `heartbeat` and `dead_after`, for the check of one against the other
    /// at the block's end.
    heartbeat_at: Option<Loc>,
    dead_after_at: Option<Loc>,
    pub(super) sync_at: Vec<(PathBuf, Loc, Loc)>,
}

/// `link { ... }` into `conf.link`.
pub(super) fn read_link(r: &mut Reader, n: &Node, conf: &mut BatonConf) {
    if let Some(a) = n.args.first() {
        r.err(&a.loc, "link takes no name");
    }
    if let Some(first) = &r.link_at {
        let msg = format!(
            "a second link block (the first is at {})",
            where_(first, n.loc())
        );
        r.err(n.loc(), msg);
        return;
    }
    r.link_at = Some(n.loc().clone());
    let mut l = Link::default();
    let how = Block {
        inside: "link",
        this: "the link block",
        table: LINK_STATEMENTS,
        set_at: |l: &mut Link| &mut l.set_at,
        reader: |st: &LinkStatement| st.read,
    };
    read_statements(r, n, &how, &mut l);
    check_timers(r, &l);
    for (addr, loc) in &l.peers_at {
        if let Some(first) = l.listen_at.get(addr) {
            let msg = format!(
                "peer {addr} is also a listen address of this node (at {}); a node does not \
                 link to itself",
                where_(first, loc)
            );
            r.err(loc, msg);
        }
    }
    super::sync::check_dirs(r, &l);
    r.refs.link = Some(LinkRefs {
        at: n.loc().clone(),
        peers: l.peers_at,
        listen_written: n.body().iter().any(|s| s.name() == "listen"),
        sync_targets: (l.sync_at.iter().enumerate())
            .map(|(i, (_, _, name))| (i, name.clone()))
            .collect(),
    });
    conf.link = Some(l.conf);
}

/// A peer silent for `dead_after` is gone, so it must be longer than `heartbeat`; the
/// error goes where the one written is, at `dead_after` if both are.
fn check_timers(r: &mut Reader, l: &Link) {
    let (beat, dead) = (l.conf.heartbeat(), l.conf.dead_after());
    if dead > beat {
        return;
    }
    let msg = format!(
        "dead_after ({} s) must be longer than heartbeat ({} s)",
        dead.as_secs_f64(),
        beat.as_secs_f64()
    );
    match (&l.dead_after_at, &l.heartbeat_at) {
        (Some(at), _) => r.err(at, msg),
        (None, Some(at)) => r.err(
            at,
            format!(
                "{msg}; dead_after is {} s unless set: raise it too",
                LINK_DEAD_AFTER_DEFAULT.as_secs_f64()
            ),
        ),
        (None, None) => {}
    }
}

/// The checks that need keepalived.conf: without `listen`, the link listens on the
/// instances' source addresses, so there must be one, and no peer may be one of them.
/// An instance's source is its `unicast_src_ip`, else its `mcast_src_ip`, as the link's
/// driver takes it: `baton check` must not refuse what `baton run` would run.
pub fn check_link(refs: &Refs, config: &Config, diags: &mut Vec<Diagnostic>) {
    let (Some(refs), Some(conf)) = (&refs.link, &config.baton.link) else {
        return;
    };
    super::sync::check_targets(refs, conf, config, diags);
    if !conf.listen.is_empty() || refs.listen_written {
        return;
    }
    let own: Vec<(IpAddr, &str, &str)> = config
        .instances
        .iter()
        .filter_map(|i| {
            let (src, kw) = match (i.unicast_src_ip, i.mcast_src_ip) {
                (Some(a), _) => (a, "unicast_src_ip"),
                (None, Some(a)) => (a, "mcast_src_ip"),
                (None, None) => return None,
            };
            Some((src, kw, i.name.as_str()))
        })
        .collect();
    if own.is_empty() {
        diags.push(Diagnostic::error(
            &refs.at,
            "link: no listen address: add `listen ADDRESS` (without it baton listens on the \
             instances' unicast_src_ip, and no vrrp_instance has one, nor an mcast_src_ip)",
        ));
        return;
    }
    for (addr, loc) in &refs.peers {
        if let Some((_, kw, name)) = own.iter().find(|(a, _, _)| a == addr) {
            diags.push(Diagnostic::error(
                loc,
                format!(
                    "peer {addr} is this node's own address: it is the {kw} of \
                     vrrp_instance {name}, where the link listens without `listen`"
                ),
            ));
        }
    }
}

/// "line N" for a place in the same file as `here`, else the whole `file:line:col`.
pub(super) fn where_(first: &Loc, here: &Loc) -> String {
    if first.file == here.file {
        format!("line {}", first.line)
    } else {
        first.to_string()
    }
}

/// The one value of a single-value statement.
pub(super) fn one_value<'n>(r: &mut Reader, n: &'n Node, what: &str) -> Option<&'n Token> {
    match n.args.as_slice() {
        [] => {
            r.err(n.loc(), format!("{} needs {what}", n.name()));
            None
        }
        [t] => Some(t),
        [_, extra, ..] => {
            r.err(&extra.loc, format!("{} takes one value", n.name()));
            None
        }
    }
}

fn address(r: &mut Reader, what: &str, t: &Token) -> Option<IpAddr> {
    match t.text.parse::<IpAddr>() {
        Ok(a) if a.is_unspecified() || a.is_multicast() => {
            r.err(
                &t.loc,
                format!("{what}: {a} is not the address of one node"),
            );
            None
        }
        Ok(a) => Some(a),
        Err(_) if t.text.contains('%') => {
            r.err(
                &t.loc,
                format!(
                    "{what}: '{}' has a zone (%...): the link takes no link-local address \
                     with a zone; give a global or unique-local one",
                    t.text
                ),
            );
            None
        }
        Err(_) => {
            r.err(
                &t.loc,
                format!("{what}: '{}' is not an IPv4 or IPv6 address", t.text),
            );
            None
        }
    }
}

fn port(r: &mut Reader, what: &str, t: &Token) -> Option<u16> {
    match t.text.parse::<u16>() {
        Ok(p) if p > 0 => Some(p),
        _ => {
            r.err(
                &t.loc,
                format!("{what} must be a number from 1 to 65535 (got '{}')", t.text),
            );
            None
        }
    }
}

/// A fingerprint at the start of `toks` (after `keyword` at `at`): one word, or two when
/// pasted as `SHA256 AB:CD:...` or `sha256 Fingerprint=AB:CD:...`. Returns it (if good)
/// and how many words it took.
fn fingerprint(r: &mut Reader, keyword: &str, at: &Loc, toks: &[Token]) -> (Option<String>, usize) {
    let Some(first) = toks.first() else {
        r.err(
            at,
            format!("{keyword} needs a fingerprint (64 hex digits, as baton identity prints it)"),
        );
        return (None, 0);
    };
    let (text, used) = match toks.get(1) {
        Some(next)
            if first.text.eq_ignore_ascii_case("sha256")
                && !PEER_OPTIONS.contains(&next.text.as_str()) =>
        {
            (format!("{} {}", first.text, next.text), 2)
        }
        _ => (first.text.clone(), 1),
    };
    match canonical_fingerprint(&text) {
        Ok(fp) => (Some(fp), used),
        Err(msg) => {
            r.err(&first.loc, format!("{keyword}: {msg}"));
            (None, used)
        }
    }
}

const PEER_OPTIONS: &[&str] = &["port", "fingerprint"];

fn read_listen(r: &mut Reader, l: &mut Link, n: &Node) {
    let Some(t) = one_value(r, n, "an address") else {
        return;
    };
    let Some(addr) = address(r, "listen", t) else {
        return;
    };
    if let Some(first) = l.listen_at.get(&addr) {
        let msg = format!(
            "listen {addr} is given twice (the first is at {})",
            where_(first, &t.loc)
        );
        r.err(&t.loc, msg);
        return;
    }
    l.listen_at.insert(addr, t.loc.clone());
    l.conf.listen.push(addr);
}

fn read_port(r: &mut Reader, l: &mut Link, n: &Node) {
    if let Some(t) = one_value(r, n, "a port number") {
        l.conf.port = port(r, "port", t);
    }
}

fn read_peer(r: &mut Reader, l: &mut Link, n: &Node) {
    let Some((a, rest)) = n.args.split_first() else {
        r.err(
            n.loc(),
            "peer needs an address: peer ADDRESS [port N] [fingerprint FP]",
        );
        return;
    };
    // Every problem of the statement is reported, then nothing of it is kept.
    let address = address(r, "peer", a);
    let mut ok = address.is_some();
    let (mut peer_port, mut pinned) = (None, None);
    let mut seen: Vec<&str> = Vec::new();
    let mut i = 0;
    while let Some(opt) = rest.get(i) {
        let name = opt.text.as_str();
        if !PEER_OPTIONS.contains(&name) {
            r.err(
                &opt.loc,
                format!("unknown option '{name}' of peer (known: port, fingerprint)"),
            );
            return;
        }
        if seen.contains(&name) {
            r.err(&opt.loc, format!("{name} is given twice for this peer"));
            return;
        }
        seen.push(name);
        let values = rest.get(i + 1..).unwrap_or(&[]);
        let used = if name == "port" {
            let Some(v) = values.first() else {
                r.err(&opt.loc, "peer port needs a port number");
                return;
            };
            peer_port = port(r, "peer port", v);
            ok &= peer_port.is_some();
            1
        } else {
            let (fp, used) = fingerprint(r, "peer fingerprint", &opt.loc, values);
            if used == 0 {
                return;
            }
            ok &= fp.is_some();
            pinned = fp;
            used
        };
        i += 1 + used;
    }
    let (Some(addr), true) = (address, ok) else {
        return;
    };
    if let Some((_, first)) = l.peers_at.iter().find(|(p, _)| *p == addr) {
        let msg = format!(
            "peer {addr} is listed twice (the first is at {})",
            where_(first, &a.loc)
        );
        r.err(&a.loc, msg);
        return;
    }
    l.peers_at.push((addr, a.loc.clone()));
    l.conf.peers.push(LinkPeer {
        address: addr,
        port: peer_port,
        fingerprint: pinned,
    });
}

fn read_trust(r: &mut Reader, l: &mut Link, n: &Node) {
    let (fp, used) = fingerprint(r, "trust", n.loc(), &n.args);
    if let Some(extra) = n.args.get(used.max(1)) {
        r.err(
            &extra.loc,
            "trust takes one fingerprint; write one trust per fingerprint",
        );
        return;
    }
    let (Some(fp), Some(t)) = (fp, n.args.first()) else {
        return;
    };
    if let Some(first) = l.trust_at.get(&fp) {
        let msg = format!(
            "fingerprint {fp} is trusted twice (the first is at {})",
            where_(first, &t.loc)
        );
        r.err(&t.loc, msg);
        return;
    }
    l.trust_at.insert(fp.clone(), t.loc.clone());
    l.conf.trusted.push(fp);
}

fn read_state_dir(r: &mut Reader, l: &mut Link, n: &Node) {
    let Some(t) = one_value(r, n, "an absolute path") else {
        return;
    };
    let path = PathBuf::from(&t.text);
    if !path.is_absolute() {
        r.err(
            &t.loc,
            format!("state_dir must be an absolute path (got '{}')", t.text),
        );
        return;
    }
    l.conf.state_dir = Some(path);
}

fn secs(r: &mut Reader, n: &Node, max: f64) -> Option<(Duration, Loc)> {
    let t = one_value(r, n, "a number of seconds")?;
    match secs_in_range(n.name(), &t.text, 0.1, max) {
        Ok(d) => Some((d, t.loc.clone())),
        Err(msg) => {
            r.err(&t.loc, msg);
            None
        }
    }
}

fn read_heartbeat(r: &mut Reader, l: &mut Link, n: &Node) {
    if let Some((d, at)) = secs(r, n, 60.0) {
        l.conf.heartbeat = Some(d);
        l.heartbeat_at = Some(at);
    }
}

fn read_dead_after(r: &mut Reader, l: &mut Link, n: &Node) {
    if let Some((d, at)) = secs(r, n, 600.0) {
        l.conf.dead_after = Some(d);
        l.dead_after_at = Some(at);
    }
}
