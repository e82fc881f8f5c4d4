//! The demo's link: the two hosts approve each other's key, then each shows both in its
//! `baton status`, and the link comes back by itself after a restart.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use baton::control::{self, Request, Response};

use super::{Lab, status};

/// baton's own file for a demo host: a link to the other host, its identity kept in the
/// demo's directory.
pub fn baton_conf(
    dir: &Path,
    name: &str,
    me: &str,
    peer: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(format!("{name}.baton.conf"));
    let state = dir.join(format!("{name}.state"));
    fs::write(
        &path,
        format!(
            "link {{\n    listen {me}\n    peer {peer}\n    state_dir {}\n}}\n",
            state.display()
        ),
    )?;
    Ok(path)
}

fn ask(lab: &Lab, i: usize, req: &Request) -> anyhow::Result<Response> {
    control::request(&lab.nodes[i].socket, req, Duration::from_secs(2))
        .with_context(|| format!("asking {}", lab.nodes[i].name))
}

/// Each host approves the other's fingerprint, as an operator would after comparing
/// `baton identity` on both.
pub fn approve_each_other(lab: &Lab) -> anyhow::Result<()> {
    let mut fingerprints = Vec::new();
    for i in 0..2 {
        match ask(lab, i, &Request::Identity)? {
            Response::Identity(id) => fingerprints.push(id.fingerprint),
            other => bail!("{}: no identity: {other:?}", lab.nodes[i].name),
        }
    }
    for i in 0..2 {
        let fingerprint = fingerprints[1 - i].clone();
        println!(
            "  {}: baton peer approve {}…",
            lab.nodes[i].name,
            fingerprint.get(..23).unwrap_or(&fingerprint)
        );
        if let Response::Error { message } = ask(lab, i, &Request::PeerApprove { fingerprint })? {
            bail!("{}: approve refused: {message}", lab.nodes[i].name);
        }
    }
    Ok(())
}

/// Waits until both hosts show the other `up`, with its own report of its instances.
pub fn wait_linked(lab: &Lab, patience: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        let linked = (0..2).all(|i| {
            status(lab, i).is_some_and(|s| {
                s.link
                    .peers
                    .iter()
                    .any(|p| p.link == "up" && p.status.is_some() && p.config.is_some())
            })
        });
        if linked {
            return Ok(start.elapsed());
        }
        if start.elapsed() > patience {
            bail!("the two hosts did not link within {patience:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `baton status` of host `i`, indented.
pub fn show_status(lab: &Lab, i: usize) {
    if let Some(s) = status(lab, i) {
        for line in control::render(&s).lines() {
            println!("    {line}");
        }
    }
}
