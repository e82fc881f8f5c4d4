//! The statements of the arbiter block, each read into the block being read, and the
//! forms of their values (endpoints, percentages).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use crate::config::baton::{ArbiterMode, EtcdDown};
use crate::config::build::secs_in_range;
use crate::config::lexer::Token;
use crate::config::parser::Node;

use super::super::Reader;
use super::super::link::{one_value, where_};
use super::{Arbiter, ArbiterTarget, MAX_ENDPOINTS};

/// How an endpoint is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Scheme {
    /// `HOST:PORT`: TLS when the block has `ca_file`.
    #[default]
    Bare,
    Http,
    Https,
}

/// An endpoint into its scheme and its `host:port` in lower case, or what is wrong.
fn endpoint(text: &str) -> Result<(Scheme, String), &'static str> {
    let (scheme, rest) = if let Some(rest) = text.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = text.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if text.contains("://") {
        return Err("the scheme must be http:// or https://");
    } else {
        (Scheme::Bare, text)
    };
    if rest.contains(['/', '?', '#', '@']) {
        return Err("give HOST:PORT only, without a path or user");
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let Some((v6, port)) = inner.split_once("]:") else {
            return Err("an IPv6 address in brackets needs a port: [fd00::1]:2379");
        };
        let Ok(v6) = v6.parse::<Ipv6Addr>() else {
            return Err("the address in brackets is not an IPv6 address");
        };
        (format!("[{v6}]"), port)
    } else {
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err("it needs a port: HOST:PORT");
        };
        if host.contains(':') {
            return Err("write an IPv6 address in brackets: [fd00::1]:2379");
        }
        if !good_host(host) {
            return Err("the host is neither a host name nor an IPv4 address");
        }
        (host.to_ascii_lowercase(), port)
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {
            Ok((scheme, format!("{host}:{p}")))
        }
        _ => Err("the port must be a number from 1 to 65535"),
    }
}

/// An IPv4 address, or a host name: labels of letters, digits and inner hyphens.
fn good_host(host: &str) -> bool {
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host.parse::<Ipv4Addr>().is_ok();
    }
    host.len() <= 253
        && host.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

pub(super) fn read_endpoints(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    if n.args.is_empty() {
        r.err(
            n.loc(),
            "endpoints needs the etcd members: HOST:PORT, http://HOST:PORT or \
             https://HOST:PORT",
        );
        return;
    }
    if let Some(x) = n.args.get(MAX_ENDPOINTS) {
        let msg = format!("endpoints takes at most {MAX_ENDPOINTS} members");
        r.err(&x.loc, msg);
        return;
    }
    for t in &n.args {
        let (scheme, key) = match endpoint(&t.text) {
            Ok(e) => e,
            Err(why) => {
                r.err(&t.loc, format!("endpoint '{}': {why}", t.text));
                continue;
            }
        };
        if let Some((_, _, first)) = a.endpoints_at.iter().find(|(_, k, _)| *k == key) {
            let msg = format!(
                "endpoint {key} is given twice (the first is at {})",
                where_(first, &t.loc)
            );
            r.err(&t.loc, msg);
            continue;
        }
        a.endpoints_at.push((scheme, key, t.loc.clone()));
        a.conf.endpoints.push(t.text.clone());
    }
}

fn read_target(r: &mut Reader, a: &mut Arbiter, n: &Node, group: bool) {
    let Some(t) = one_value(r, n, "a name") else {
        return;
    };
    let kind = if group { "group" } else { "instance" };
    let clash = (r.refs.arbiter_targets.iter()).find(|x| x.name == t.text);
    if let Some(first) = clash {
        let whose = if first.block == a.index {
            "in this arbiter block"
        } else {
            "of another arbiter block"
        };
        let msg = format!(
            "{kind} {} is already a target {whose} ({} {} at {})",
            t.text,
            first.kind(),
            first.name,
            where_(&first.at, &t.loc)
        );
        r.err(&t.loc, msg);
        return;
    }
    r.refs.arbiter_targets.push(ArbiterTarget {
        name: t.text.clone(),
        group,
        at: t.loc.clone(),
        block: a.index,
    });
    let list = if group {
        &mut a.conf.groups
    } else {
        &mut a.conf.instances
    };
    list.push(t.text.clone());
}

pub(super) fn read_instance(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    read_target(r, a, n, false);
}

pub(super) fn read_group(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    read_target(r, a, n, true);
}

/// The value of a statement that takes one word without blanks.
fn word<'n>(r: &mut Reader, n: &'n Node, what: &str) -> Option<&'n Token> {
    let t = one_value(r, n, what)?;
    if t.text.is_empty() || t.text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        let msg = format!(
            "{} must be {what} without blanks (got '{}')",
            n.name(),
            t.text
        );
        r.err(&t.loc, msg);
        return None;
    }
    Some(t)
}

pub(super) fn read_prefix(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    let Some(t) = word(r, n, "a key prefix") else {
        return;
    };
    if !t.text.starts_with('/') {
        let msg = format!("prefix must start with / (got '{}')", t.text);
        r.err(&t.loc, msg);
        return;
    }
    a.conf.prefix = Some(t.text.clone());
}

pub(super) fn read_name(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    if let Some(t) = word(r, n, "a name") {
        a.conf.name = Some(t.text.clone());
    }
}

pub(super) fn read_user(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    if let Some(t) = word(r, n, "a user name") {
        a.conf.user = Some(t.text.clone());
        a.value_at.insert("user", t.loc.clone());
    }
}

pub(super) fn read_lease_ttl(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    let Some(t) = one_value(r, n, "a number of seconds") else {
        return;
    };
    let digits = !t.text.is_empty() && t.text.bytes().all(|b| b.is_ascii_digit());
    match t.text.parse::<u64>() {
        Ok(s) if digits && (2..=600).contains(&s) => {
            a.conf.lease_ttl = Some(Duration::from_secs(s));
        }
        _ => r.err(
            &t.loc,
            format!(
                "lease_ttl must be a whole number of seconds from 2 to 600, as etcd leases \
                 are whole seconds (got '{}')",
                t.text
            ),
        ),
    }
}

/// The value of a statement that takes one of `choices`.
fn choice<T: Copy>(r: &mut Reader, n: &Node, choices: &[(&str, T)]) -> Option<T> {
    let names: Vec<&str> = choices.iter().map(|(s, _)| *s).collect();
    let t = one_value(r, n, &names.join(" or "))?;
    if let Some((_, v)) = choices.iter().find(|(s, _)| *s == t.text) {
        return Some(*v);
    }
    let msg = format!(
        "{}: expected {}, got '{}'",
        n.name(),
        names.join(" or "),
        t.text
    );
    r.err(&t.loc, msg);
    None
}

pub(super) fn read_mode(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    let modes = [("vrrp", ArbiterMode::Vrrp), ("only", ArbiterMode::Only)];
    if let Some(m) = choice(r, n, &modes) {
        a.conf.mode = m;
    }
}

pub(super) fn read_etcd_down(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    let choices = [("stop", EtcdDown::Stop), ("keep", EtcdDown::Keep)];
    if let Some(e) = choice(r, n, &choices) {
        a.conf.etcd_down = e;
    }
}

/// A percentage from 0% to 10%, at most four decimals, in parts per million.
fn percent_ppm(text: &str) -> Option<u32> {
    let number = text.strip_suffix('%')?;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 4 {
        return None;
    }
    if number.ends_with('.') {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let frac: u32 = format!("{frac:0<4}").parse().ok()?;
    let ppm = whole.checked_mul(10_000)?.checked_add(frac)?;
    (ppm <= 100_000).then_some(ppm)
}

pub(super) fn read_clock_drift(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    let Some(t) = one_value(r, n, "a percentage") else {
        return;
    };
    match percent_ppm(&t.text) {
        Some(ppm) => a.conf.clock_drift_ppm = Some(ppm),
        None => r.err(
            &t.loc,
            format!(
                "clock_drift must be a percentage from 0% to 10%, at most 4 decimals, as in \
                 0.5% (got '{}')",
                t.text
            ),
        ),
    }
}

/// Decimal seconds from `min` to 300 (the most below half of the largest TTL); where the
/// value is written goes under `key`, for the check against the TTL.
fn secs(
    r: &mut Reader,
    a: &mut Arbiter,
    n: &Node,
    key: &'static str,
    min: f64,
) -> Option<Duration> {
    let t = one_value(r, n, "a number of seconds")?;
    match secs_in_range(key, &t.text, min, 300.0) {
        Ok(d) => {
            a.value_at.insert(key, t.loc.clone());
            Some(d)
        }
        Err(msg) => {
            r.err(&t.loc, msg);
            None
        }
    }
}

pub(super) fn read_stop_margin(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    if let Some(d) = secs(r, a, n, "stop_margin", 0.0) {
        a.conf.stop_margin = Some(d);
    }
}

pub(super) fn read_request_timeout(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    if let Some(d) = secs(r, a, n, "request_timeout", 0.05) {
        a.conf.request_timeout = Some(d);
    }
}

/// `ca_file`, `cert_file`, `key_file` and `password_file`: an absolute path.
pub(super) fn read_path(r: &mut Reader, a: &mut Arbiter, n: &Node) {
    let Some(t) = one_value(r, n, "an absolute path") else {
        return;
    };
    let path = PathBuf::from(&t.text);
    if !path.is_absolute() {
        let msg = format!("{} must be an absolute path (got '{}')", n.name(), t.text);
        r.err(&t.loc, msg);
        return;
    }
    let (key, slot) = match n.name() {
        "ca_file" => ("ca_file", &mut a.conf.ca_file),
        "cert_file" => ("cert_file", &mut a.conf.cert_file),
        "key_file" => ("key_file", &mut a.conf.key_file),
        "password_file" => ("password_file", &mut a.conf.password_file),
        _ => return,
    };
    *slot = Some(path);
    a.value_at.insert(key, t.loc.clone());
}

#[cfg(test)]
mod tests {
    use super::{Scheme, endpoint, percent_ppm};

    #[test]
    fn percentages_read_into_parts_per_million() {
        assert_eq!(percent_ppm("1%"), Some(10_000));
        assert_eq!(percent_ppm("0%"), Some(0));
        assert_eq!(percent_ppm("0.5%"), Some(5_000));
        assert_eq!(percent_ppm("0.0001%"), Some(1));
        assert_eq!(percent_ppm("10%"), Some(100_000));
        for bad in [
            "10.0001%",
            "1",
            "%",
            ".5%",
            "1.%",
            "1.00001%",
            "-1%",
            "99999999999%",
        ] {
            assert_eq!(percent_ppm(bad), None, "{bad}");
        }
    }

    #[test]
    fn endpoints_take_host_port_with_an_optional_scheme() {
        let ok = |t: &str| endpoint(t).unwrap_or((Scheme::Bare, format!("error: {t}")));
        assert_eq!(ok("10.0.9.1:2379"), (Scheme::Bare, "10.0.9.1:2379".into()));
        assert_eq!(ok("http://Etcd1:2379"), (Scheme::Http, "etcd1:2379".into()));
        assert_eq!(
            ok("https://[fd00::1]:2379"),
            (Scheme::Https, "[fd00::1]:2379".into())
        );
        for bad in [
            "10.0.9.1",
            "fd00::1:2379",
            "10.0.0.300:2379",
            "etcd:0",
            "etcd:+1",
            "unix://etcd:2379",
            "https://etcd:2379/v3",
            "-etcd:2379",
            ":2379",
            "[fd00::1]",
        ] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }
}
