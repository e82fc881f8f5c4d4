//! baton command line: a thin layer over the library. `check` (and
//! keepalived's `-t/--config-test`) validates a configuration; the daemon
//! work adds `run`.
//!
//! Exit codes: 0 the configuration would run (warnings allowed), 1 it has
//! errors, 2 bad command line.
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use baton::config::{self, LoadOptions};
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "baton",
    version,
    about = "VRRP failover agent, keepalived.conf compatible"
)]
struct Cli {
    /// Check the configuration and exit (keepalived's -t).
    #[arg(short = 't', long = "config-test")]
    config_test: bool,
    /// Configuration file (keepalived.conf syntax, or YAML by .yaml/.yml).
    #[arg(short = 'f', long = "use-file", value_name = "FILE")]
    use_file: Option<PathBuf>,
    /// Id for `@id` conditional lines (default: short host name).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    config_id: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a configuration: every problem as FILE:LINE:COL, then a summary.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Configuration file (keepalived.conf syntax, or YAML by .yaml/.yml).
    #[arg(short = 'f', long = "use-file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print the resolved model as YAML (diagnostics go to stderr).
    #[arg(long)]
    dump: bool,
    /// Id for `@id` conditional lines (default: short host name).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    config_id: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (file, dump, config_id) = match cli.command {
        Some(Command::Check(a)) => (
            a.file.or(cli.use_file),
            a.dump,
            a.config_id.or(cli.config_id),
        ),
        None if cli.config_test => (cli.use_file, false, cli.config_id),
        None => {
            eprintln!("baton: nothing to do; try `baton check` or `baton --help`");
            return ExitCode::from(2);
        }
    };
    let path = file.unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH));
    let opts = LoadOptions {
        config_id,
        check_interfaces: true,
        sys_class_net: None,
        max_lines: None,
    };
    match config::check(&path, &opts, dump, &mut io::stdout(), &mut io::stderr()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("baton: {e}");
            ExitCode::from(1)
        }
    }
}
