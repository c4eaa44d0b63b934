//! `baton-bench`: Baton's benchmark harness, outside the shipped binary. It runs a release
//! `baton` binary as real processes (one standalone, or a cluster through the end-to-end
//! tests' launcher), drives it through its REST API as a user would, reads what happened from
//! its database, and prints figures one `name: value` a line.

mod args;
mod ceiling;
mod failover;
mod figures;
mod history;
mod run;
mod schedules;
mod target;

use args::{Bench, Cli};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(cli: Cli) -> anyhow::Result<()> {
    let work = async {
        match &cli.command {
            Bench::Ceiling(args) => return ceiling::run(args).await,
            Bench::History(args) => return history::run(args).await,
            _ => {}
        }
        let baton = target::baton_binary(cli.baton.clone())?;
        match &cli.command {
            Bench::Fanout(args) => run::run(&baton, run::Shape::Fanout, args).await,
            Bench::Chain(args) => run::run(&baton, run::Shape::Chain, args).await,
            Bench::Map(args) => run::run(&baton, run::Shape::Map, args).await,
            Bench::Failover(args) => failover::run(&baton, args).await,
            Bench::Schedules(args) => schedules::run(&baton, args).await,
            Bench::Ceiling(args) => ceiling::run(args).await,
            Bench::History(args) => history::run(args).await,
        }
    };
    // On Ctrl-C or SIGTERM the work is dropped: its guards kill Baton's processes and drop
    // the bench's database.
    tokio::select! {
        result = work => result,
        _ = interrupted() => anyhow::bail!("interrupted"),
    }
}

/// Ctrl-C or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
