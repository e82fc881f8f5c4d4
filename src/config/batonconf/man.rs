//! baton.conf(5), written in roff (man(7) macros) from the loader's tables: [`BLOCKS`],
//! [`SETTINGS`], [`LINK_STATEMENTS`], [`HTTP_STATEMENTS`] and [`ARBITER_STATEMENTS`], so
//! the page lists exactly what the loader reads.

use std::io::{self, Write};

use super::{ARBITER_STATEMENTS, BLOCKS, HTTP_STATEMENTS, Kind, LINK_STATEMENTS, SETTINGS};
use crate::config::keywords::esc;

const MAN_INTRO: &[&str] = &[
    "baton reads keepalived.conf unchanged (see baton-keepalived.conf(5)). What keepalived.conf has no keyword for, baton reads from a file of its own, /etc/baton/baton.conf unless --baton-conf FILE names another. The file is optional: without it, every setting has the default shown below and there is no link.",
    "These settings are not in keepalived.conf because keepalived refuses any keyword it does not know (keepalived -t exits with an error), so a single baton keyword there would break a keepalived-side config check or a rollback to keepalived.",
    "The syntax is that of keepalived.conf: statements and blocks, comments after ! or #, include, @ID conditional lines and $NAME definitions. Unlike keepalived.conf, this file is baton's own and is read strictly: an unknown block, setting or statement, a bad or out-of-range value, a setting given twice in a block, a second global or link block, a second block for one instance, an instance or sync group that keepalived.conf does not define, an address or fingerprint listed twice in the link block, or a target named in two arbiter blocks is an error at its FILE:LINE:COL. baton check reports the problems of both files; baton run does not start, and a reload keeps the running configuration.",
    "A setting under instance NAME applies to that instance and overrides the same setting under global; a setting written in neither place has its default. Hooks that belong to no instance (sync group and global notify hooks) use the global value.",
];

const LINK_INTRO: &[&str] = &[
    "The statements of the link block. Addresses are IPv4 or IPv6 addresses of single nodes. A fingerprint FP is the SHA-256 of a node's certificate as baton identity prints it: 64 hex digits in any case, with or without colons, optionally after SHA256: or as openssl x509 -noout -fingerprint -sha256 prints it (sha256 Fingerprint=...); baton keeps and shows it as upper-case pairs joined by colons.",
    "Two nodes are linked once each trusts the other's key: by baton peer approve FP on each node, or by the other's fingerprint written here (trust, or peer ... fingerprint). Until then a connection is held as pending and learns nothing of the node's status or configuration.",
];

const MAN_EXAMPLE: &str = "global {
    notify_timeout 60
}
instance VI_1 {
    notify_timeout 5.5
    unicast_accept_any_source yes
}";

/// A pair of nodes, 192.168.10.1 (a) and 192.168.10.2 (b), with each other's keys.
const PAIR_A: &str = "link {
    listen 192.168.10.1
    peer 192.168.10.2 fingerprint 34:60:BE:31:20:1E:69:FE:DA:A0:EE:E8:B9:99:7F:5C:7C:29:99:FD:AF:E5:93:25:3C:D6:54:AF:4D:FA:D7:14
}";
const PAIR_B: &str = "link {
    listen 192.168.10.2
    peer 192.168.10.1 fingerprint A5:4D:CA:18:25:30:BB:1D:6D:13:2C:DE:D6:23:7B:2E:D9:1E:3F:72:1F:CB:19:71:17:44:94:D6:49:3C:9D:5C
}";

const HTTP_INTRO: &[&str] = &[
    "The statements of the http block. The server only reads: no request changes anything, and it never delays VRRP (it runs on a thread of its own and reads a status snapshot the daemon publishes at most every second, sooner after a change).",
    "GET /metrics answers in the Prometheus text format 0.0.4: the series of the community keepalived exporter, under its names, labels and values (keepalived_up, keepalived_vrrp_state, keepalived_advertisements_received_total, ...), the older names its bundled Grafana dashboard queries, and baton's own series (baton_...). GET /status answers the JSON that baton status --json prints; GET / the status page. HEAD works on each. A request head over 8 KiB, more than 64 header lines, a head not complete within 5 seconds, a malformed request or a method other than GET and HEAD gets an HTTP error; at most 64 connections are served at once and more are answered 503.",
    "A reload that changes the block rebinds the server; if a new address cannot be bound (the port is taken), the running server stays as it was and the log says why. At start, a server that cannot listen is logged as an error and baton runs without it: monitoring does not stop failover.",
];

const HTTP_EXAMPLE: &str = "http {
    listen 127.0.0.1
    listen 192.168.10.1
}";

const ARBITER_INTRO: &[&str] = &[
    "The statements of an arbiter etcd block. Each target (an instance, or a sync group as a whole) has an election of its own in etcd: every node that may serve it is a candidate, and the candidate whose key was created first leads. A node serves a target only while it leads the target's election and its etcd lease holds; the leader's key, and so its lead, goes when it resigns or when its lease expires. This keeps the service on one node when the nodes cannot hear each other but etcd can still hear one of them.",
    "A serving node counts on its lease only for as long as the lease is sure to hold on etcd: from when it sent the last renewal that etcd answered, lease_ttl shortened by clock_drift. It stops serving stop_margin before that instant, so its leaving hooks end while the lease still holds and before another node can win the election (with etcd_down keep, a node that cannot reach etcd goes on serving instead). A node that is not serving starts only once it wins the election.",
    "The nodes that contend for a target need the same etcd cluster, prefix and mode, and each a name of its own. The times are in seconds, decimals allowed (0.5), except lease_ttl, in whole seconds.",
];

const ARBITER_EXAMPLE: &str = "arbiter etcd {
    endpoints 10.0.9.1:2379 10.0.9.2:2379 10.0.9.3:2379
    group NEURONEX
    name node-a
    lease_ttl 5
    ca_file /etc/baton/etcd-ca.pem
    cert_file /etc/baton/etcd-client.pem
    key_file /etc/baton/etcd-client.key
}";

/// The handover, as the man page tells it (docs/link-design.md has the whole design).
const HANDOVER: &[&str] = &[
    "While two baton nodes are linked, the service never runs on both: a node that becomes MASTER takes the virtual addresses at once, as VRRP says, but holds its MASTER hooks (notify_master and the generic notify for MASTER) until the other node reports over the link that its hooks for leaving MASTER (notify_backup, notify_fault, notify_stop, the generic notify) have ended. A sync group hands over as one. A stopping baton keeps the link open until it has sent that report.",
    "A peer that has crashed reports nothing: when it is silent on VRRP for the master-down interval and the link is down, or it has not answered the request within 0.2 seconds, the hooks start at once. A peer still heard on VRRP while the link is down, or one that answers but does not release, is waited for at most handover_timeout; then the hooks start with a warning. With a keepalived peer, or without a link block, no hook waits.",
    "baton status shows each held instance or group, what it waits for and for how long at most; the log says when the hooks start and why.",
];

/// Write baton.conf(5).
pub fn write_man_page(w: &mut dyn Write, version: &str) -> io::Result<()> {
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
        "The settings of global and instance blocks. Durations are in seconds, decimals allowed (0.5); booleans are yes, no, true, false, on or off."
    )?;
    for s in SETTINGS {
        let value = match s.kind {
            Kind::Secs { min, max } => format!("SECONDS ({min} to {max})"),
            Kind::Bool => "yes|no".to_string(),
        };
        writeln!(w, ".TP\n\\fB{}\\fR {}", esc(s.name), esc(&value))?;
        writeln!(w, "{} Default: {}.", esc(s.doc), esc(s.default))?;
    }
    writeln!(w, ".SH LINK")?;
    for (i, p) in LINK_INTRO.iter().enumerate() {
        if i > 0 {
            writeln!(w, ".PP")?;
        }
        writeln!(w, "{}", esc(p))?;
    }
    for s in LINK_STATEMENTS {
        let (name, args) = s.usage.split_once(' ').unwrap_or((s.usage, ""));
        writeln!(w, ".TP\n\\fB{}\\fR {}", esc(name), esc(args))?;
        let once = if s.repeatable {
            "Repeatable."
        } else {
            "At most once."
        };
        writeln!(w, "{} {once} Default: {}.", esc(s.doc), esc(s.default))?;
    }
    writeln!(w, ".SH HTTP")?;
    for (i, p) in HTTP_INTRO.iter().enumerate() {
        if i > 0 {
            writeln!(w, ".PP")?;
        }
        writeln!(w, "{}", esc(p))?;
    }
    for s in HTTP_STATEMENTS {
        let (name, args) = s.usage.split_once(' ').unwrap_or((s.usage, ""));
        writeln!(w, ".TP\n\\fB{}\\fR {}", esc(name), esc(args))?;
        let once = if s.repeatable {
            "Repeatable."
        } else {
            "At most once."
        };
        writeln!(w, "{} {once} Default: {}.", esc(s.doc), esc(s.default))?;
    }
    writeln!(w, ".SH ARBITER")?;
    for (i, p) in ARBITER_INTRO.iter().enumerate() {
        if i > 0 {
            writeln!(w, ".PP")?;
        }
        writeln!(w, "{}", esc(p))?;
    }
    for s in ARBITER_STATEMENTS {
        let (name, args) = s.usage.split_once(' ').unwrap_or((s.usage, ""));
        writeln!(w, ".TP\n\\fB{}\\fR {}", esc(name), esc(args))?;
        let once = if s.repeatable {
            "Repeatable."
        } else {
            "At most once."
        };
        writeln!(w, "{} {once} Default: {}.", esc(s.doc), esc(s.default))?;
    }
    writeln!(w, ".SH HANDOVER")?;
    for (i, p) in HANDOVER.iter().enumerate() {
        if i > 0 {
            writeln!(w, ".PP")?;
        }
        writeln!(w, "{}", esc(p))?;
    }
    writeln!(w, ".SH EXAMPLES")?;
    writeln!(w, ".EX\n{}\n.EE\n.PP", esc(MAN_EXAMPLE))?;
    writeln!(
        w,
        "VI_1 gets a 5.5 second notify timeout and accepts adverts from any source; every other instance gets 60 seconds and, for unicast, adverts only from its peers; the obsolete-hook grace is 2 seconds everywhere."
    )?;
    writeln!(
        w,
        ".PP\nA pair of nodes linked on 192.168.10.1 (node a) and 192.168.10.2 (node b). On node a:"
    )?;
    writeln!(w, ".EX\n{}\n.EE", esc(PAIR_A))?;
    writeln!(w, ".PP\nOn node b:\n.EX\n{}\n.EE\n.PP", esc(PAIR_B))?;
    writeln!(
        w,
        "Each file pins the other node's fingerprint, which baton identity prints on that node (a node makes its identity when it first starts with a link block). Each node then trusts the other without an approval step, and refuses another key from that address. Without the fingerprints, the nodes connect and wait as pending until baton peer approve FP is run on each. The port is the default, 7411; if keepalived.conf's instances have unicast_src_ip 192.168.10.1 and 192.168.10.2, the listen lines may be left out."
    )?;
    writeln!(
        w,
        ".PP\nThe HTTP server on this host and on the node's address 192.168.10.1, port 9165:"
    )?;
    writeln!(w, ".EX\n{}\n.EE", esc(HTTP_EXAMPLE))?;
    writeln!(
        w,
        ".PP\nPrometheus then scrapes http://192.168.10.1:9165/metrics, where a scrape job for the keepalived exporter already points."
    )?;
    writeln!(
        w,
        ".PP\nThe sync group NEURONEX served only by the node that holds its election in a three-member etcd cluster, over TLS with a client certificate:"
    )?;
    writeln!(w, ".EX\n{}\n.EE", esc(ARBITER_EXAMPLE))?;
    writeln!(
        w,
        ".PP\nThe other node writes the same block with its own name. If node-a is cut off from etcd, it stops its service about 4 seconds after its last renewal, before its lease expires on etcd (about 5 seconds after it); then node-b can win the election and take the group over."
    )?;
    writeln!(w, ".SH FILES")?;
    writeln!(w, ".TP\n.B /etc/baton/baton.conf")?;
    writeln!(
        w,
        "Read when it exists; shipped with every setting commented out."
    )?;
    writeln!(w, ".TP\n.B /var/lib/baton")?;
    writeln!(
        w,
        "The link's state directory: the node's identity and the keys approved with baton peer approve."
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

    fn page() -> String {
        let mut page = Vec::new();
        write_man_page(&mut page, "1.2.3").unwrap();
        String::from_utf8(page).unwrap()
    }

    #[test]
    fn man_page_lists_every_block_and_setting_with_its_default() {
        let page = page();
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

    #[test]
    fn man_page_lists_every_link_statement_with_its_default() {
        let page = page();
        let link = &page[page.find(".SH LINK").unwrap()..page.find(".SH EXAMPLES").unwrap()];
        for s in LINK_STATEMENTS {
            let head = format!("\\fB{}\\fR", s.name);
            assert!(link.contains(&head), "{}", s.name);
            assert!(
                link.contains(&format!("Default: {}.", esc(s.default))),
                "{}",
                s.name
            );
        }
        assert!(
            page.contains("peer 192.168.10.2 fingerprint 34:60:BE"),
            "{page}"
        );
    }

    #[test]
    fn man_page_lists_every_http_statement_with_its_default() {
        let page = page();
        let http = &page[page.find(".SH HTTP").unwrap()..page.find(".SH ARBITER").unwrap()];
        for s in HTTP_STATEMENTS {
            assert!(http.contains(&format!("\\fB{}\\fR", s.name)), "{}", s.name);
            assert!(
                http.contains(&format!("Default: {}.", esc(s.default))),
                "{}",
                s.name
            );
        }
        assert!(page.contains("listen 192.168.10.1\n}"), "{page}");
    }

    #[test]
    fn man_page_lists_every_arbiter_statement_with_its_default() {
        let page = page();
        let at = page.find(".SH ARBITER").unwrap();
        let arbiter = &page[at..page.find(".SH HANDOVER").unwrap()];
        for s in ARBITER_STATEMENTS {
            assert!(
                arbiter.contains(&format!("\\fB{}\\fR", esc(s.name))),
                "{}",
                s.name
            );
            assert!(
                arbiter.contains(&format!("Default: {}.", esc(s.default))),
                "{}",
                s.name
            );
        }
        assert!(page.contains(".B arbiter etcd { STATEMENT ... }"), "{page}");
        assert!(page.contains("group NEURONEX\n"), "{page}");
    }
}
