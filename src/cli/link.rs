//! `baton identity` and `baton peer list|approve|revoke`: the link's trust, which a user
//! sets up by hand on each node (compare the fingerprints, approve each other).
//!
//! `identity` asks the running baton, and reads the state directory itself when no baton
//! answers (before the first start with a link block there is nothing to read: it says so
//! and never makes an identity, which would be a key no peer has approved).

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use baton::config::{self, LoadOptions, batonconf, preproc};
use baton::control::{self, ClientError, IdentityView, Request, Response};
use baton::link::identity::{self, Fingerprint, Identity, IdentityError};

use super::{SocketArg, TIMEOUT, answer, baton_conf, operator, print_json, unreachable};

#[derive(Debug, Args)]
pub struct IdentityArgs {
    #[command(flatten)]
    socket: SocketArg,
    /// Read the identity from this state directory instead of asking the running baton.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// baton's own file, whose link block names the state directory, for when no baton
    /// answers (default /etc/baton/baton.conf, read only if it exists; no file or no
    /// state_dir in it: /var/lib/baton).
    #[arg(long = "baton-conf", value_name = "FILE")]
    baton_conf: Option<PathBuf>,
    /// Print the identity as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Show the pending and trusted peers.
    ///
    /// One line per peer: trust (approved, configured in baton's file, or pending), node
    /// id, address, when last seen, whether linked, and the whole fingerprint.
    List {
        #[command(flatten)]
        socket: SocketArg,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Trust a peer's key.
    ///
    /// The trust is kept in the state directory, so it survives a restart. Each node
    /// approves the other; until both have, the pair is not linked.
    Approve(FingerprintArgs),
    /// End the trust in a key and drop its connection.
    Revoke(FingerprintArgs),
}

#[derive(Debug, Args)]
pub struct FingerprintArgs {
    /// The peer's fingerprint, as `baton identity` prints it on that node (any case,
    /// colons optional).
    #[arg(value_parser = parse_fingerprint)]
    fingerprint: Fingerprint,
    #[command(flatten)]
    socket: SocketArg,
}

fn parse_fingerprint(text: &str) -> Result<Fingerprint, String> {
    text.parse()
        .map_err(|e: identity::FingerprintError| e.to_string())
}

pub fn identity(args: IdentityArgs) -> ExitCode {
    if let Some(dir) = &args.state_dir {
        return offline(dir, args.json);
    }
    let socket = &args.socket.socket;
    match control::request(socket, &Request::Identity, TIMEOUT) {
        Ok(Response::Identity(view)) => print_identity(&view, args.json),
        Ok(other) => answer(other),
        // No socket, or one left behind by a baton that is gone. A socket that refuses
        // us (permissions) is a running baton: say so rather than read stale files.
        Err(ClientError::Connect { source, .. })
            if matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            eprintln!(
                "baton: no baton answers at {}; reading the state directory",
                socket.display()
            );
            offline(&configured_state_dir(args.baton_conf), args.json)
        }
        Err(e) => unreachable(&e),
    }
}

pub fn peer(command: PeerCommand) -> ExitCode {
    match command {
        PeerCommand::List { socket, json } => {
            match control::request(&socket.socket, &Request::Peers, TIMEOUT) {
                Ok(Response::Peers { peers }) if json => print_json(&peers),
                Ok(Response::Peers { peers }) => {
                    print!("{}", control::render_peer_list(&peers));
                    ExitCode::SUCCESS
                }
                Ok(other) => answer(other),
                Err(e) => unreachable(&e),
            }
        }
        // The canonical form goes to the daemon, whatever form the user pasted.
        PeerCommand::Approve(a) => operator(
            &a.socket.socket,
            Request::PeerApprove {
                fingerprint: a.fingerprint.to_string(),
            },
        ),
        PeerCommand::Revoke(a) => operator(
            &a.socket.socket,
            Request::PeerRevoke {
                fingerprint: a.fingerprint.to_string(),
            },
        ),
    }
}

fn print_identity(view: &IdentityView, json: bool) -> ExitCode {
    if json {
        return print_json(view);
    }
    print!("{}", control::render_identity(view));
    ExitCode::SUCCESS
}

/// The state directory the daemon would use: the link block's, when baton's file loads.
fn configured_state_dir(given: Option<PathBuf>) -> PathBuf {
    let default = PathBuf::from(identity::DEFAULT_STATE_DIR);
    let Some(path) = baton_conf(given) else {
        return default;
    };
    let mut diags = Vec::new();
    let (conf, _) = batonconf::load(
        &path,
        &LoadOptions::default().effective_config_id(),
        preproc::MAX_LINES,
        &mut diags,
    );
    if diags.iter().any(config::Diagnostic::is_error) {
        eprintln!(
            "baton: {} has errors (see `baton check`); looking in {}",
            path.display(),
            default.display()
        );
        return default;
    }
    conf.link.map_or(default, |l| l.state_dir())
}

fn offline(dir: &Path, json: bool) -> ExitCode {
    if !has_identity(dir) {
        eprintln!(
            "baton: no identity in {} yet: it is made when baton starts with a link block",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    match Identity::load(dir) {
        Ok(id) => print_identity(
            &IdentityView {
                fingerprint: id.fingerprint().to_string(),
                // A running node names itself by its router_id, which only
                // keepalived.conf knows; the key alone does not say it.
                node_id: String::new(),
                state_dir: dir.display().to_string(),
                listen: Vec::new(),
            },
            json,
        ),
        Err(e @ IdentityError::Io { .. }) if is_permission(&e) => {
            eprintln!("baton: {e} (the state directory is root's: run `baton identity` as root)");
            ExitCode::FAILURE
        }
        Err(e) => super::fail(&e),
    }
}

/// Whether the key or the certificate is there: both missing is "not made yet"; one
/// missing, or either unreadable, is for [`Identity::load`] to explain.
fn has_identity(dir: &Path) -> bool {
    [identity::KEY_FILE, identity::CERT_FILE].iter().any(|f| {
        !matches!(dir.join(f).symlink_metadata(), Err(e) if e.kind() == io::ErrorKind::NotFound)
    })
}

fn is_permission(e: &IdentityError) -> bool {
    matches!(e, IdentityError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied)
}
