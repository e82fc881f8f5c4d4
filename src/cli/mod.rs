//! The command handlers that talk to a running baton over its control socket, and the
//! link's commands (`identity`, `peer`). `main.rs` keeps the argument definitions of the
//! other commands and the dispatch.
//!
//! Exit codes of every command here: 0 done, 1 the daemon refused (its message on stderr)
//! or the local files were not usable, 3 the control socket could not be reached.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use baton::config;
use baton::control::{self, Request, Response};

pub mod check;
pub mod link;

/// How long a command waits for the daemon's answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Exit code when the control socket cannot be reached.
const UNREACHABLE: u8 = 3;

#[derive(Debug, Args)]
pub struct SocketArg {
    /// Control socket of the running baton.
    #[arg(long, default_value = control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

/// The baton file to read: the one given, or the default when it exists. A missing default
/// means no file (every setting at its default, as before the file existed); a missing
/// file given on the command line is left to the loader, which reports it as an error.
pub fn baton_conf(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        let default = PathBuf::from(config::baton::DEFAULT_BATON_CONF);
        default.exists().then_some(default)
    })
}

pub fn status(socket: &Path, json: bool) -> ExitCode {
    match control::request(socket, &Request::Status, TIMEOUT) {
        Ok(Response::Status(s)) if json => print_json(&s),
        Ok(Response::Status(s)) => {
            print!("{}", control::render(&s));
            ExitCode::SUCCESS
        }
        Ok(other) => answer(other),
        Err(e) => unreachable(&e),
    }
}

/// A request whose answer is a message: promote, demote, release, reload, peer approve
/// and revoke.
pub fn operator(socket: &Path, req: Request) -> ExitCode {
    match control::request(socket, &req, TIMEOUT) {
        Ok(resp) => answer(resp),
        Err(e) => unreachable(&e),
    }
}

/// The daemon's message: on stdout when it did what was asked, on stderr when it refused.
fn answer(resp: Response) -> ExitCode {
    match resp {
        Response::Ok { message } => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Response::Error { message } => {
            eprintln!("baton: {message}");
            ExitCode::FAILURE
        }
        // An answer of another kind than the request's: a daemon of another version.
        Response::Status(_)
        | Response::Identity(_)
        | Response::Peers { .. }
        | Response::PeerConfigs { .. } => {
            eprintln!("baton: the daemon answered with something else than was asked");
            ExitCode::FAILURE
        }
    }
}

fn unreachable(e: &control::ClientError) -> ExitCode {
    eprintln!("baton: {e}");
    ExitCode::from(UNREACHABLE)
}

fn print_json(value: &impl serde::Serialize) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

pub fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("baton: {e}");
    ExitCode::FAILURE
}
