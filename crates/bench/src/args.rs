//! The command line, as clap reads it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Measures a release `baton` binary, run as real processes, and prints figures one
/// `name: value` a line.
#[derive(Debug, Parser)]
#[command(name = "baton-bench", version)]
pub struct Cli {
    /// The `baton` binary to measure (default: `baton` next to this executable).
    #[arg(long, global = true)]
    pub baton: Option<PathBuf>,
    /// What to measure.
    #[command(subcommand)]
    pub command: Bench,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// One task, then N in parallel, then one; with the spawn ceiling for the same slots.
    Fanout(RunArgs),
    /// N tasks one after the other.
    Chain(RunArgs),
    /// One task mapped over a list of N items (`map:`), then the fan-out of N on a fresh
    /// server: the two rates side by side.
    Map(RunArgs),
    /// On a cluster: SIGKILL a master, then a worker, and time until their work is taken
    /// over (an instance adopted, a task re-dispatched), over `--kills` rounds.
    Failover(FailoverArgs),
    /// The same `bash -c true` commands as the shell fan-out through a plain pool of
    /// processes, without Baton: the machine's spawn ceiling.
    Ceiling(CeilingArgs),
    /// N workflows whose cron schedules all fire at second 0 of each minute: how late their
    /// instances are created, and how many fires created none.
    Schedules(SchedulesArgs),
    /// Fills a store with a long history and times the store's queries behind the history
    /// pages (the instance list under each filter, a deep page, one instance) and the
    /// retention purge. Needs no `baton` binary.
    History(HistoryArgs),
}

/// `baton-bench history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Workflow instances to write.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(i64).range(100..=100_000_000))]
    pub instances: i64,
    /// Task instances (each with one attempt) per workflow instance.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub tasks_per_instance: i64,
    /// A PostgreSQL server (postgres://user@host:port/db): the bench creates a database of
    /// its own there and drops it at the end. Default: SQLite in a temporary directory.
    #[arg(long)]
    pub database: Option<String>,
    /// Times each query is run.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub samples: u64,
}

/// What each task of a fan-out or chain runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// `true` run by bash: includes process start-up.
    Shell,
    /// The built-in no-op: the engine's own cost.
    Noop,
}

impl Executor {
    /// Its name as printed.
    pub fn name(self) -> &'static str {
        match self {
            Executor::Shell => "shell",
            Executor::Noop => "noop",
        }
    }
}

/// Where Baton runs: one standalone process, or a cluster of processes.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Metadata store URL; default: SQLite in a temporary directory. A PostgreSQL server
    /// (postgres://user@host:port/db) gets a database of the bench's own, dropped at the end.
    #[arg(long)]
    pub database: Option<String>,
    /// Run on a cluster of real processes (an api, 2 masters, 2 workers) instead of one
    /// standalone. Needs `--database postgres://…`.
    #[arg(long)]
    pub cluster: bool,
    /// The cluster's registry: `db` or `etcd://host:port`.
    #[arg(long, default_value = "db")]
    pub registry: String,
    /// The cluster members' session timeout.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub session_timeout: Duration,
    /// The cluster members' heartbeat interval.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub heartbeat_interval: Duration,
    /// The masters' dispatch strategy: random, round_robin, lowest_load (default:
    /// lowest_load; failover: round_robin, so that every instance has tasks on both workers).
    #[arg(long)]
    pub strategy: Option<String>,
    /// Worker slots (per worker; default: 8 per core).
    #[arg(long)]
    pub slots: Option<usize>,
    /// Keep the logs (they are kept anyway when the bench fails) and print where.
    #[arg(long)]
    pub keep_logs: bool,
}

/// `fanout` and `chain`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// How many tasks (fan-out: the width; chain: the length; map: the items, at most 100000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub tasks: u32,
    /// What each task runs.
    #[arg(long, default_value = "shell")]
    pub executor: Executor,
    #[command(flatten)]
    pub target: Target,
}

/// `failover`.
#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// How many rounds (each kills a master, then a worker).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub kills: u32,
    #[command(flatten)]
    pub target: Target,
}

/// `ceiling`.
#[derive(Debug, Args)]
pub struct CeilingArgs {
    /// How many `bash -c true` to run.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub tasks: u32,
    /// How many run at once (default: 8 per core, as the fan-out's slots).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub slots: Option<u32>,
}

/// `schedules`.
#[derive(Debug, Args)]
pub struct SchedulesArgs {
    /// How many scheduled workflows.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub schedules: u32,
    /// How many minute boundaries to measure after all are applied.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub minutes: u32,
    #[command(flatten)]
    pub target: Target,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    baton_core::duration::parse(text)
}
