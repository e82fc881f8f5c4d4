//! lvs: the few checks baton makes inside the LVS blocks it otherwise skips
//! (`virtual_server` and the top-level `SSL`). baton does not run keepalived's
//! checker, but a file it calls clean should also be clean for keepalived, so
//! the constructs that keepalived 2.2.7 reports in real configurations are
//! reported here too, at the same line: a keyword the block does not take
//! (the table is in `lvs_keywords`), and a few values. Other values are left
//! alone: baton does not read the checker settings and must not guess at them.

use super::diag::Diagnostic;
use super::lvs_keywords::{self, Known};
use super::parser::Node;

/// The longest persistence_timeout keepalived accepts, in seconds (31 days).
const PERSISTENCE_TIMEOUT_MAX: u64 = 2_678_400;

/// Checkers in which keepalived still reads nb_get_retry (as a deprecated
/// spelling of retry); in the others it is an unknown keyword.
const NB_GET_RETRY_DEPRECATED_IN: &[&str] = &["HTTP_GET", "SSL_GET"];

/// Add the problems keepalived would report in the LVS block `n` to `diags`.
pub fn check(n: &Node, diags: &mut Vec<Diagnostic>) {
    walk(n, diags);
}

fn walk(block: &Node, diags: &mut Vec<Diagnostic>) {
    for s in block.body() {
        if special(block, s, diags) {
            continue;
        }
        match lvs_keywords::lookup(block.name(), s.name()) {
            // keepalived does not skip the block of a keyword it does not know: it
            // reports each line inside it too, so one warning at the head says it.
            Known::Unknown => diags.push(Diagnostic::warning(
                s.loc(),
                format!("unknown keyword '{}'", s.name()),
            )),
            Known::Block | Known::NotChecked if s.is_block() => walk(s, diags),
            _ => {}
        }
    }
}

/// The constructs with a message of their own; true when `s` got one, so that
/// it is not also reported as an unknown keyword.
fn special(block: &Node, s: &Node, diags: &mut Vec<Diagnostic>) -> bool {
    let name = s.name();
    if name.starts_with("//") {
        diags.push(Diagnostic::warning(
            s.loc(),
            "'//' does not start a comment in keepalived.conf (use # or !); keepalived reports an unknown keyword",
        ));
        return true;
    }
    match (block.name(), name) {
        ("virtual_server", "nat_mask") => diags.push(Diagnostic::warning(
            s.loc(),
            "nat_mask is no longer a keepalived keyword; keepalived reports it as unknown",
        )),
        // Written for the FNAT variant of LVS, which keepalived does not support.
        ("virtual_server", "syn_proxy" | "laddr_group_name") => diags.push(Diagnostic::warning(
            s.loc(),
            format!(
                "{name} belongs to an FNAT build of LVS, not to keepalived; keepalived reports it as unknown"
            ),
        )),
        ("virtual_server", "persistence_timeout") => {
            persistence_timeout(s, diags);
            return true;
        }
        ("virtual_server", "lb_kind" | "lvs_method") => {
            forwarding_method(s, diags);
            return true;
        }
        (checker, "nb_get_retry") if NB_GET_RETRY_DEPRECATED_IN.contains(&checker) => {
            diags.push(Diagnostic::warning(
                s.loc(),
                "nb_get_retry is deprecated in keepalived; it wants retry",
            ))
        }
        (_, "nb_get_retry") => diags.push(Diagnostic::warning(
            s.loc(),
            format!(
                "nb_get_retry is not a keyword of {} in keepalived (use retry); keepalived reports it as unknown",
                block.name()
            ),
        )),
        _ => return false,
    }
    true
}

/// keepalived knows the forwarding methods in capitals only.
fn forwarding_method(s: &Node, diags: &mut Vec<Diagnostic>) {
    if let Some(t) = s.args.first() {
        if !["NAT", "DR", "TUN"].contains(&t.text.as_str()) {
            diags.push(Diagnostic::warning(
                &t.loc,
                format!(
                    "{} must be NAT, DR or TUN (got '{}'); keepalived ignores it and uses NAT",
                    s.name(),
                    t.text
                ),
            ));
        }
    }
}

fn persistence_timeout(s: &Node, diags: &mut Vec<Diagnostic>) {
    let Some(t) = s.args.first() else {
        return;
    };
    let ok = t
        .text
        .parse::<u64>()
        .is_ok_and(|v| (1..=PERSISTENCE_TIMEOUT_MAX).contains(&v));
    if !ok {
        diags.push(Diagnostic::warning(
            &t.loc,
            format!(
                "persistence_timeout must be between 1 and {PERSISTENCE_TIMEOUT_MAX} seconds (got '{}'); keepalived rejects it",
                t.text
            ),
        ));
    }
}
