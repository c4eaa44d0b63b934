//! The `baton` command line: server roles (`standalone`, `run`) and client commands
//! (`workflow`, `instance`, `logs`) that talk to a running server's REST API.
//!
//! Exit codes: 0 success, 1 a workflow failed or the server refused, 2 bad input.

mod alerting;
mod args;
mod client;
mod commands;
mod config;
mod contexts;
mod embedded;
mod exit;
mod format;
mod role_metrics;
mod roles;
mod run;
mod standalone;

use clap::Parser;
use std::process::ExitCode;

pub use exit::Exit;

/// Parses the command line, runs the command, and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(commands::dispatch(cli));
    // Do not wait for background tasks (log tails, reporters) to notice.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(e),
    }
}

fn init_tracing(cli: &args::Cli) {
    use tracing_subscriber::EnvFilter;
    let default = if cli.command.is_server() {
        "info"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_env("BATON_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!("{default},sqlx=warn,h2=warn,tower=warn,hyper=warn"))
    });
    // Colour only for a person at a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
