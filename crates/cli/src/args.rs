//! The command line, as clap reads it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Baton: a DAG workflow and job scheduler.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run api, master and worker in one process on an embedded SQLite store.
    Standalone(StandaloneArgs),
    /// Run one workflow file to the end on a throwaway embedded instance.
    Run(RunArgs),
    /// Measure the engine: a fan-out or a chain of tasks on an embedded instance.
    Bench(BenchArgs),
    /// Apply, list, show and start workflow definitions.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// List, show, stop and wait for workflow instances.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Print a task instance's log.
    Logs(LogsArgs),
}

impl Command {
    /// Server roles log at info by default; client commands only warn.
    pub fn is_server(&self) -> bool {
        matches!(self, Command::Standalone(_))
    }
}

/// Options shared by the commands that start an embedded node.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// Worker slots: attempts that run at once (default: 2 × cores).
    #[arg(long, env = "BATON_SLOTS")]
    pub slots: Option<usize>,
    /// Cap on each attempt's log, in bytes.
    #[arg(long, env = "BATON_LOG_MAX_BYTES", default_value_t = 64 << 20)]
    pub log_max_bytes: u64,
    /// Time between SIGTERM and SIGKILL when a task is killed (e.g. 5s).
    #[arg(long, env = "BATON_KILL_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub kill_grace: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct StandaloneArgs {
    /// Address of the REST API.
    #[arg(long, env = "BATON_LISTEN", default_value = "127.0.0.1:12345")]
    pub listen: SocketAddr,
    /// Address of the internal gRPC server (master and worker). Keep it stable across
    /// restarts: history names workers by it, and old logs are read through it.
    #[arg(long, env = "BATON_GRPC_LISTEN", default_value = "127.0.0.1:12346")]
    pub grpc_listen: SocketAddr,
    /// Where the SQLite database, the logs and work directories live.
    #[arg(long, env = "BATON_DATA_DIR", default_value = "./baton-data")]
    pub data_dir: PathBuf,
    /// Metadata store URL (sqlite://PATH or postgres://…); default: SQLite in the data dir.
    #[arg(long, env = "BATON_DATABASE")]
    pub database: Option<String>,
    /// Workflow files or directories of them to apply at start (repeatable).
    #[arg(long = "apply", value_name = "PATH")]
    pub apply: Vec<PathBuf>,
    /// How long a graceful stop waits for running tasks before killing them.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: std::time::Duration,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow file.
    pub file: PathBuf,
    /// A start-time param, NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Also print each task's output when it ends.
    #[arg(long)]
    pub logs: bool,
    #[command(flatten)]
    pub node: NodeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchShape {
    /// One task, then N in parallel, then one.
    Fanout,
    /// N tasks one after the other.
    Chain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchExecutor {
    /// `true` run by bash: includes process start-up.
    Shell,
    /// The built-in no-op: the engine's own cost.
    Noop,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The workload.
    pub shape: BenchShape,
    /// How many tasks (fan-out: the width; chain: the length).
    #[arg(long, default_value_t = 1000)]
    pub tasks: usize,
    /// What each task runs.
    #[arg(long, default_value = "shell")]
    pub executor: BenchExecutor,
    /// Metadata store URL; default: SQLite in a temporary directory.
    #[arg(long)]
    pub database: Option<String>,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// Where the client commands find the server.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of a running Baton.
    #[arg(
        long,
        env = "BATON_SERVER",
        default_value = "http://127.0.0.1:12345",
        global = true
    )]
    pub server: String,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Create a workflow, or a new version of it when the file changed.
    Apply {
        /// Workflow files or directories of them.
        #[arg(short = 'f', long = "file", required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List workflows.
    List {
        /// Only this project.
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a workflow's definition.
    Show {
        name: String,
        #[arg(long, default_value = "default")]
        project: String,
        /// A version other than the latest.
        #[arg(long)]
        version: Option<i64>,
        /// Print the stored definition as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Start an instance; prints its id.
    Start {
        name: String,
        #[arg(long, default_value = "default")]
        project: String,
        /// A start-time param, NAME=VALUE (repeatable).
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Wait for the instance to end (exit code as `baton run`).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// List instances, newest first.
    List {
        /// Only instances of this workflow.
        #[arg(long)]
        workflow: Option<String>,
        /// Only this project.
        #[arg(long)]
        project: Option<String>,
        /// Only in this state (submitted, running, stopping, stopped, succeeded, failed).
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Only instances with a smaller id (the next page).
        #[arg(long)]
        before: Option<i64>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show an instance and every task instance.
    Show {
        id: i64,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Stop an instance: kill its running tasks.
    Stop {
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Block until an instance ends; exit 0 only if it succeeded.
    Wait {
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The task instance id (see `baton instance show`).
    pub task_instance: i64,
    /// Which attempt (default: the current one).
    #[arg(long)]
    pub attempt: Option<i64>,
    /// Keep printing as the task writes, until the attempt ends.
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    baton_core::duration::parse(text)
}
