//! baton command line. Skeleton; the daemon work fills it in.
use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::SUCCESS
}
