//! `baton check --against-peer`: a configuration file compared with what the running
//! baton's linked peers run.

use std::path::Path;
use std::process::ExitCode;

use baton::config::{self, LoadOptions};
use baton::control::{self, Request, Response};

use super::TIMEOUT;

/// `check --against-peer`: the file must load, then the running baton tells what its
/// linked peers run, and [`baton::link::compare::against_peers`] says how they differ.
pub fn against_peer(file: &Path, opts: &LoadOptions, socket: &Path) -> ExitCode {
    use baton::link::compare::{self, PeerSummary};
    let loaded = match config::load(file, opts) {
        Ok(l) => l,
        Err(failure) => {
            eprintln!("{failure}");
            return ExitCode::FAILURE;
        }
    };
    for d in &loaded.diagnostics {
        eprintln!("{d}");
    }
    let reached = control::request(socket, &Request::PeerConfigs, TIMEOUT);
    let peers = match reached {
        Ok(Response::PeerConfigs { peers }) => peers,
        Ok(Response::Error { message }) => {
            eprintln!("baton: not compared: the running baton says: {message}");
            return ExitCode::from(compare::EXIT_NO_PEER);
        }
        Ok(_) => {
            eprintln!("baton: not compared: the running baton gave no peer configs");
            return ExitCode::from(compare::EXIT_NO_PEER);
        }
        Err(e) => {
            eprintln!("baton: not compared: {e}");
            return ExitCode::from(compare::EXIT_NO_PEER);
        }
    };
    let peers: Vec<PeerSummary> = peers
        .into_iter()
        .map(|p| PeerSummary {
            peer: match p.node_id {
                Some(id) => format!("{id} {}", p.address),
                None => p.address,
            },
            summary: p.summary,
        })
        .collect();
    let report = compare::against_peers(&loaded.config, &peers);
    if report.status == compare::EXIT_NO_PEER {
        eprint!("{}", report.text);
    } else {
        print!("{}", report.text);
    }
    ExitCode::from(report.status)
}
