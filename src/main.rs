//! baton's command line: `run`, `check`, `status`, operator commands, the link's
//! `identity` and `peer` (handlers in [`cli`]), and keepalived's
//! own flags so that `baton -f /etc/keepalived/keepalived.conf -n -l -D` works as a drop-in.
//!
//! Exit codes: 0 success; 1 the config has errors or the daemon failed; 2 usage errors
//! (clap); 3 the control socket could not be reached. `check --against-peer`: 1 the file
//! differs from a linked peer's running config, 3 also when the daemon has no linked peer.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod cli;
mod demo;

use baton::config::{self, LoadOptions};
use baton::control::{self, Request};
use baton::daemon;
use cli::{SocketArg, baton_conf, fail};

const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

/// VRRP failover agent: reads keepalived.conf, holds virtual addresses, runs notify hooks.
#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true,
    // `-v` / `--version` is keepalived's flag, answered the way keepalived's probes expect.
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    keepalived: KeepalivedFlags,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the VRRP daemon in the foreground.
    Run(RunArgs),
    /// Check a configuration and report every problem with FILE:LINE:COL.
    Check(CheckArgs),
    /// Show the state of every instance of a running baton, and of its peers beside it.
    Status {
        #[command(flatten)]
        socket: SocketArg,
        /// Print the raw JSON status.
        #[arg(long)]
        json: bool,
    },
    /// Make an instance master now and keep it there until `release`.
    Promote(OperatorArgs),
    /// Make an instance step down and stay backup until `release`.
    Demote(OperatorArgs),
    /// Undo `promote` or `demote`.
    Release(OperatorArgs),
    /// Ask a running baton to re-read its configuration (same as SIGHUP).
    Reload {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Print this node's link identity (its fingerprint, for the other node to approve).
    ///
    /// The first line is `SHA256 AB:CD:...`, the same digits `openssl x509 -noout
    /// -fingerprint -sha256 -in STATE_DIR/identity.crt` prints; then the node id, the state
    /// directory and the addresses the link listens on. Asked of the running baton; when
    /// none answers, or with --state-dir, read from the state directory.
    Identity(cli::link::IdentityArgs),
    /// List the link's peers, approve a peer's key, or revoke it.
    Peer {
        #[command(subcommand)]
        command: cli::link::PeerCommand,
    },
    /// Show failover on this machine: builds network namespaces, runs baton nodes in them,
    /// kills the master, fails a check, brings it back, and prints a timeline (as root).
    Demo(DemoArgs),
    /// Write the man page and shell completions (for packaging).
    #[command(hide = true)]
    Generate {
        /// Directory for baton.8, baton-SUBCOMMAND.8, baton-keepalived.conf.5 and baton.conf.5.
        #[arg(long)]
        man: Option<PathBuf>,
        /// Directory for baton.bash, _baton and baton.fish.
        #[arg(long)]
        completions: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Configuration file (keepalived.conf syntax, or YAML from `check --dump`).
    #[arg(short = 'f', long = "use-file", default_value = DEFAULT_CONFIG)]
    file: PathBuf,
    /// Write the process id here.
    #[arg(short = 'p', long = "pid")]
    pid_file: Option<PathBuf>,
    /// Control socket path.
    #[arg(long, default_value = control::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Identity for `@id` conditional lines (default: the short host name).
    #[arg(short = 'i', long)]
    config_id: Option<String>,
    /// baton's own settings (default /etc/baton/baton.conf, read only if it exists).
    #[arg(long = "baton-conf", value_name = "FILE")]
    baton_conf: Option<PathBuf>,
    /// More detailed logs (keepalived's -D).
    #[arg(short = 'D', long = "log-detail")]
    log_detail: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Configuration file (keepalived.conf syntax, or YAML).
    #[arg(short = 'f', long = "use-file", default_value = DEFAULT_CONFIG)]
    file: PathBuf,
    /// Print the resolved configuration as YAML.
    #[arg(long)]
    dump: bool,
    /// Identity for `@id` conditional lines (default: the short host name).
    #[arg(short = 'i', long)]
    config_id: Option<String>,
    /// baton's own settings (default /etc/baton/baton.conf, read only if it exists).
    #[arg(long = "baton-conf", value_name = "FILE")]
    baton_conf: Option<PathBuf>,
    /// Compare the file with the config each linked peer of the running baton runs
    /// (exit 0: match, 1: a difference, 3: no daemon or no linked peer).
    #[arg(long = "against-peer", conflicts_with = "dump")]
    against_peer: bool,
    /// Control socket of the running baton, for --against-peer.
    #[arg(long, default_value = control::DEFAULT_SOCKET, requires = "against_peer")]
    socket: PathBuf,
}

#[derive(Debug, Args)]
struct OperatorArgs {
    /// The vrrp_instance name.
    instance: String,
    #[command(flatten)]
    socket: SocketArg,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Advertisement interval of the demo nodes, in seconds.
    #[arg(long, default_value_t = 0.1)]
    advert_int: f64,
}

/// keepalived's command line, accepted as is so existing units and scripts keep working.
#[derive(Debug, Args)]
struct KeepalivedFlags {
    /// Configuration file.
    #[arg(short = 'f', long = "use-file")]
    file: Option<PathBuf>,
    /// Check the configuration and exit (0: it would run, 1: it has errors).
    #[arg(short = 't', long = "config-test")]
    config_test: bool,
    /// Stay in the foreground (baton always does).
    #[arg(short = 'n', long = "dont-fork")]
    dont_fork: bool,
    /// Log to the console (baton logs to stderr, which journald captures).
    #[arg(short = 'l', long = "log-console")]
    log_console: bool,
    /// Detailed logs.
    #[arg(short = 'D', long = "log-detail")]
    log_detail: bool,
    /// Process id file.
    #[arg(short = 'p', long = "pid")]
    pid_file: Option<PathBuf>,
    /// VRRP process id file (baton runs one process; written like --pid).
    #[arg(short = 'r', long = "vrrp_pid")]
    vrrp_pid_file: Option<PathBuf>,
    /// Run only the VRRP side (baton has no other).
    #[arg(short = 'P', long = "vrrp")]
    vrrp_only: bool,
    /// Identity for `@id` conditional lines.
    #[arg(short = 'i', long = "config-id")]
    config_id: Option<String>,
    /// baton's own settings (default /etc/baton/baton.conf, read only if it exists).
    #[arg(long = "baton-conf", value_name = "FILE")]
    baton_conf: Option<PathBuf>,
    /// Syslog facility (accepted, ignored: baton logs to stderr / journald).
    #[arg(short = 'S', long = "log-facility")]
    log_facility: Option<String>,
    /// Write the log to this file instead of stderr.
    #[arg(short = 'g', long = "log-file")]
    log_file: Option<PathBuf>,
    /// Print the version: `baton VERSION` on stdout; on stderr keepalived's form,
    /// `Keepalived v2.2.7 (baton VERSION)` first, for tools that probe keepalived.
    #[arg(short = 'v', short_alias = 'V', long = "version")]
    version: bool,
    /// Print the number of the signal for SIGFUNC, as keepalived does: STOP, RELOAD,
    /// DATA (writes /tmp/keepalived.data), STATS (/tmp/keepalived.stats), JSON
    /// (/tmp/keepalived.json).
    #[arg(long = "signum", value_name = "SIGFUNC")]
    signum: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => run(args),
        Some(Command::Check(args)) => check(args),
        Some(Command::Status { socket, json }) => cli::status(&socket.socket, json),
        Some(Command::Promote(a)) => cli::operator(
            &a.socket.socket,
            Request::Promote {
                instance: a.instance,
            },
        ),
        Some(Command::Demote(a)) => cli::operator(
            &a.socket.socket,
            Request::Demote {
                instance: a.instance,
            },
        ),
        Some(Command::Release(a)) => cli::operator(
            &a.socket.socket,
            Request::Release {
                instance: a.instance,
            },
        ),
        Some(Command::Reload { socket }) => cli::operator(&socket.socket, Request::Reload),
        Some(Command::Identity(args)) => cli::link::identity(args),
        Some(Command::Peer { command }) => cli::link::peer(command),
        Some(Command::Demo(args)) => demo(args),
        Some(Command::Generate { man, completions }) => generate(man, completions),
        None => keepalived_style(cli.keepalived),
    }
}

fn keepalived_style(k: KeepalivedFlags) -> ExitCode {
    if k.version {
        return version();
    }
    if let Some(name) = &k.signum {
        return signum(name);
    }
    let file = k.file.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    if k.config_test {
        return check(CheckArgs {
            file,
            dump: false,
            config_id: k.config_id,
            baton_conf: k.baton_conf,
            against_peer: false,
            socket: PathBuf::from(control::DEFAULT_SOCKET),
        });
    }
    run(RunArgs {
        file,
        pid_file: k.pid_file.or(k.vrrp_pid_file),
        socket: PathBuf::from(control::DEFAULT_SOCKET),
        config_id: k.config_id,
        baton_conf: k.baton_conf,
        log_detail: k.log_detail,
    })
}

/// `-v` / `--version`. People and packaging checks read stdout's `baton VERSION`. Tools
/// written for keepalived read stderr, where keepalived writes its banner: the community
/// Prometheus exporter takes the second word of the first stderr line, minus its first
/// character, as the version (it uses `--signum` from 1.3.8 and reads the scripts' state
/// from 1.4.0), and with `-ka.json` wants `--enable-json` somewhere in the output. baton
/// answers as 2.2.7 because that is the keepalived whose dump formats it writes.
fn version() -> ExitCode {
    let v = env!("CARGO_PKG_VERSION");
    let ka = baton::dump::KEEPALIVED_VERSION;
    println!("baton {v}");
    eprintln!(
        "Keepalived v{ka} (baton {v})\n\n\
         baton {v}, a VRRP failover agent, answers as the VRRP side of keepalived {ka}.\n\
         Dump files, as keepalived built with --enable-json writes them, in $TMPDIR or /tmp:\n\
         SIGUSR1 keepalived.data, SIGUSR2 keepalived.stats, signal {} keepalived.json.",
        baton::dump::json_signal()
    );
    ExitCode::SUCCESS
}

/// `--signum=NAME`: the number on stdout, or keepalived's complaint and exit status 1.
fn signum(name: &str) -> ExitCode {
    match baton::dump::signum(name) {
        Some(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("Unknown sigfunc {name}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(detail: bool) {
    let default = if detail { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn run(args: RunArgs) -> ExitCode {
    init_logging(args.log_detail);
    let opts = daemon::Options {
        config: args.file,
        load: LoadOptions {
            config_id: args.config_id,
            baton_conf: baton_conf(args.baton_conf),
            ..LoadOptions::default()
        },
        socket: args.socket,
        pid_file: args.pid_file,
    };
    match daemon::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(daemon::StartError::Config(failure)) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
        Err(daemon::StartError::Other(e)) => {
            eprintln!("baton: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(args: CheckArgs) -> ExitCode {
    let opts = LoadOptions {
        config_id: args.config_id,
        check_interfaces: true,
        baton_conf: baton_conf(args.baton_conf),
        ..LoadOptions::default()
    };
    if args.against_peer {
        return cli::check::against_peer(&args.file, &opts, &args.socket);
    }
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    match config::check(&args.file, &opts, args.dump, &mut out, &mut err) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => fail(&e),
    }
}

fn demo(args: DemoArgs) -> ExitCode {
    match demo::run(args.advert_int) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baton demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// baton(8) from the same definitions as `--help`, baton-keepalived.conf(5) from the keyword
/// table, baton.conf(5) from baton's own settings table,
/// and completions for three shells.
fn generate(man: Option<PathBuf>, completions: Option<PathBuf>) -> ExitCode {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let result = (|| -> std::io::Result<()> {
        if let Some(dir) = man {
            std::fs::create_dir_all(&dir)?;
            // baton.8 plus baton-run.8, baton-check.8, ... which baton.8 refers to.
            // No `help` subcommand in the pages (`--help` is documented on each).
            let mut cmd = Cli::command().name("baton").disable_help_subcommand(true);
            cmd.build();
            let mut pending = vec![cmd];
            while let Some(c) = pending.pop() {
                pending.extend(c.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
                clap_mangen::Man::new(c).section("8").generate_to(&dir)?;
            }
            let mut page = Vec::new();
            config::keywords::write_man_page(&mut page, env!("CARGO_PKG_VERSION"))?;
            std::fs::write(dir.join("baton-keepalived.conf.5"), page)?;
            let mut page = Vec::new();
            config::batonconf::write_man_page(&mut page, env!("CARGO_PKG_VERSION"))?;
            std::fs::write(dir.join("baton.conf.5"), page)?;
        }
        if let Some(dir) = completions {
            std::fs::create_dir_all(&dir)?;
            for (shell, file) in [
                (Shell::Bash, "baton.bash"),
                (Shell::Zsh, "_baton"),
                (Shell::Fish, "baton.fish"),
            ] {
                let mut out = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "baton", &mut out);
                std::fs::write(dir.join(file), out)?;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}
