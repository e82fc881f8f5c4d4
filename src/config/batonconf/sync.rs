//! The data sync statements of the link block: `sync_dir PATH instance|group NAME`,
//! `sync_interval` and `sync_max_file_size`, and their checks (within the file, and
//! against keepalived.conf's instances and sync groups).

use std::path::{Component, Path, PathBuf};

use crate::config::baton::{LinkConf, SyncDir};
use crate::config::build::secs_in_range;
use crate::config::diag::Diagnostic;
use crate::config::model::Config;
use crate::config::parser::Node;

use super::Reader;
use super::link::{Link, LinkRefs, one_value, where_};

pub(super) fn read_sync_dir(r: &mut Reader, l: &mut Link, n: &Node) {
    let usage = "sync_dir PATH instance NAME (or group NAME)";
    let [path, kind, name] = n.args.as_slice() else {
        let at = n.args.get(3).map_or(n.loc(), |t| &t.loc);
        r.err(
            at,
            format!("sync_dir takes a path and what it follows: {usage}"),
        );
        return;
    };
    let p = Path::new(&path.text);
    let normal = p.is_absolute()
        && !path.text.ends_with('/')
        && p.components()
            .skip(1)
            .all(|c| matches!(c, Component::Normal(_)))
        && !path.text.contains("//");
    if !normal || p.parent().is_none() {
        r.err(
            &path.loc,
            format!(
                "sync_dir: '{}' must be an absolute path to a directory, other than /, \
                 written without ., .. or a trailing /",
                path.text
            ),
        );
        return;
    }
    let (instance, group) = match kind.text.as_str() {
        "instance" => (Some(name.text.clone()), None),
        "group" => (None, Some(name.text.clone())),
        other => {
            r.err(
                &kind.loc,
                format!("sync_dir: '{other}' is neither instance nor group: {usage}"),
            );
            return;
        }
    };
    let path = PathBuf::from(&path.text);
    for (other, at, _) in &l.sync_at {
        let clash = if *other == path {
            "is given twice"
        } else if path.starts_with(other) || other.starts_with(&path) {
            "is inside another sync_dir, or holds one"
        } else {
            continue;
        };
        let msg = format!(
            "sync_dir {} {clash} ({} at {})",
            path.display(),
            other.display(),
            where_(at, n.loc())
        );
        r.err(n.loc(), msg);
        return;
    }
    l.sync_at
        .push((path.clone(), n.loc().clone(), name.loc.clone()));
    l.conf.sync_dirs.push(SyncDir {
        path,
        instance,
        group,
    });
}

pub(super) fn read_sync_interval(r: &mut Reader, l: &mut Link, n: &Node) {
    let Some(t) = one_value(r, n, "a number of seconds") else {
        return;
    };
    match secs_in_range("sync_interval", &t.text, 1.0, 86400.0) {
        Ok(d) => l.conf.sync_interval = Some(d),
        Err(msg) => r.err(&t.loc, msg),
    }
}

pub(super) fn read_sync_max_file_size(r: &mut Reader, l: &mut Link, n: &Node) {
    let Some(t) = one_value(r, n, "a number of bytes") else {
        return;
    };
    match bytes(&t.text) {
        Some(b) if b > 0 => l.conf.sync_max_file_size = Some(b),
        _ => r.err(
            &t.loc,
            format!(
                "sync_max_file_size must be a number of bytes above 0, with an optional K, \
                 M or G (got '{}')",
                t.text
            ),
        ),
    }
}

fn bytes(text: &str) -> Option<u64> {
    let (digits, mult) = match text.char_indices().last()? {
        (i, 'K' | 'k') => (&text[..i], 1u64 << 10),
        (i, 'M' | 'm') => (&text[..i], 1 << 20),
        (i, 'G' | 'g') => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// Checks within the block: the state directory may not be inside a synced directory
/// (nor hold one), or the copy would replace the node's own identity.
pub(super) fn check_dirs(r: &mut Reader, l: &Link) {
    let state = l.conf.state_dir();
    for (path, at, _) in &l.sync_at {
        if state.starts_with(path) || path.starts_with(&state) {
            let msg = format!(
                "sync_dir {} and the link's state_dir {} must not be inside one another",
                path.display(),
                state.display()
            );
            r.err(at, msg);
        }
    }
}

/// Checks against keepalived.conf: each NAME is an instance (or sync group) it defines.
pub(super) fn check_targets(
    refs: &LinkRefs,
    conf: &LinkConf,
    config: &Config,
    diags: &mut Vec<Diagnostic>,
) {
    for (i, at) in &refs.sync_targets {
        let Some(d) = conf.sync_dirs.get(*i) else {
            continue;
        };
        let missing = match (&d.instance, &d.group) {
            (Some(name), _) if !config.instances.iter().any(|x| &x.name == name) => {
                format!("vrrp_instance {name}")
            }
            (_, Some(name)) if !config.sync_groups.iter().any(|g| &g.name == name) => {
                format!("vrrp_sync_group {name}")
            }
            _ => continue,
        };
        diags.push(Diagnostic::error(
            at,
            format!(
                "sync_dir {}: keepalived.conf defines no {missing}",
                d.path.display()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(bytes("1024"), Some(1024));
        assert_eq!(bytes("2K"), Some(2048));
        assert_eq!(bytes("200M"), Some(200 << 20));
        assert_eq!(bytes("1G"), Some(1 << 30));
        assert_eq!(bytes("G"), None);
        assert_eq!(bytes("-1"), None);
        assert_eq!(bytes("99999999999999G"), None);
    }
}
