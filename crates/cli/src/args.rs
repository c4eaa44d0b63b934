//! The command line, as clap reads it.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Baton: a DAG workflow and job scheduler.
#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    about = "Baton: a DAG workflow and job scheduler (standalone or as a cluster)"
)]
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
    /// Apply, list, show, export and start workflow definitions.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// List, show, stop, wait for, pause, resume, recover and rerun workflow instances.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Print a task instance's log.
    Logs(LogsArgs),
    /// Run the REST API of a cluster.
    Api(ApiArgs),
    /// Run a master of a cluster (run two or three).
    Master(MasterArgs),
    /// Run a worker of a cluster.
    Worker(WorkerArgs),
    /// The members of a cluster and what they run.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Act on one task instance.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Task groups: pools with a cluster-wide limit of tasks running at once.
    #[command(subcommand)]
    Taskgroup(TaskGroupCommand),
    /// Ended history: remove old instances by hand (retention does it when configured).
    #[command(subcommand)]
    History(HistoryCommand),
    /// Run a workflow over a date range: one instance per fire time (or day), as one backfill.
    Backfill(BackfillArgs),
    /// Workflow schedules: list, preview fire times, set, delete, put online or offline.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Alerting events (tasks past their timeout), oldest first; `--follow` waits for more.
    Events(EventsArgs),
    /// Log in to a server (prompts for the password); the session is stored as a context.
    Login(crate::commands::access::LoginArgs),
    /// End the session on a server and forget it.
    Logout {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Who you are on the server, and your roles.
    Whoami {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The servers you are logged in to: list, use.
    #[command(subcommand)]
    Context(crate::commands::access::ContextCommand),
    /// Users (global admins): create, list, disable, passwd.
    #[command(subcommand)]
    User(crate::commands::access::UserCommand),
    /// Your API tokens: create, list, revoke.
    #[command(subcommand)]
    Token(crate::commands::access::TokenCommand),
    /// Projects and their members.
    #[command(subcommand)]
    Project(crate::commands::access::ProjectCommand),
    /// The audit log (global admins).
    #[command(subcommand)]
    Audit(crate::commands::access::AuditCommand),
    /// A project's data sources (databases for sql tasks): create, list, show, test, delete.
    #[command(subcommand)]
    Datasource(DatasourceCommand),
    /// A project's secrets for http tasks (set, list, delete), and the key that seals
    /// secrets at rest.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Alerts: a project's channels and rules, and the history of their deliveries.
    #[command(subcommand)]
    Alert(AlertCommand),
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Channels: where alerts go (create, list, show, test, delete).
    #[command(subcommand)]
    Channel(AlertChannelCommand),
    /// Rules: which events go to which channel (create, list, delete).
    #[command(subcommand)]
    Rule(AlertRuleCommand),
    /// Each delivery of a project's alerts with its attempts and their errors, newest first.
    History {
        #[arg(long)]
        project: Option<String>,
        /// Only deliveries of this workflow's events.
        #[arg(long)]
        workflow: Option<String>,
        /// At most this many (default 50).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print the JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertChannelCommand {
    /// Create a channel. Its secret (a webhook URL with its token, a PagerDuty routing key,
    /// an SMTP password) comes from stdin (--secret-stdin) or a file (--secret-file), is kept
    /// sealed, and is never shown again.
    Create(Box<AlertChannelCreate>),
    /// A project's channels.
    List {
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// One channel (never its secret).
    Show {
        name: String,
        #[arg(long)]
        project: Option<String>,
        /// Print the JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Send a test message now: exit 0 when the channel took it, 1 with what failed.
    Test {
        name: String,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a channel and its sealed secret.
    Delete {
        name: String,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `baton alert channel create`.
#[derive(Debug, Args)]
pub struct AlertChannelCreate {
    pub name: String,
    /// webhook, slack, feishu, dingtalk, wecom, pagerduty, email or script.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: String,
    /// webhook: the URL when it holds no token; pagerduty: another Events API endpoint.
    #[arg(long)]
    pub url: Option<String>,
    /// webhook: the JSON body with {{title}}, {{text}}, {{kind}}, {{project}}, {{workflow}},
    /// {{instance}}, {{task}}, {{link}}, {{message}}, {{at}} (filled in as JSON strings).
    #[arg(long)]
    pub template: Option<String>,
    /// email: the SMTP server's host.
    #[arg(long)]
    pub smtp_host: Option<String>,
    /// email: its port (default 587 with starttls, 465 with tls, 25 with none).
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// email: starttls (default), tls or none.
    #[arg(long)]
    pub smtp_tls: Option<String>,
    /// email: the SMTP user (its password is the secret).
    #[arg(long)]
    pub username: Option<String>,
    /// email: the sender's address.
    #[arg(long)]
    pub from: Option<String>,
    /// email: a recipient (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub to: Vec<String>,
    /// script: a file name in the server's --alert-script-dir.
    #[arg(long)]
    pub script: Option<String>,
    /// How long a send may take (e.g. 5s; default 10s, at most 1m).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Read the secret from standard input (its first line).
    #[arg(long, conflicts_with = "secret_file")]
    pub secret_stdin: bool,
    /// Read the secret from this file (its first line).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    #[arg(long)]
    pub project: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum AlertRuleCommand {
    /// Send these events of a project (or of one workflow) to a channel.
    Create {
        /// Comma-separated: instance_failed, instance_succeeded, instance_stopped, task_failed,
        /// task_retrying, task_timeout, task_failover, instance_adopted, schedule_misfired.
        #[arg(long)]
        on: String,
        /// The channel's name.
        #[arg(long)]
        channel: String,
        /// Only this workflow's events.
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A project's rules (the workflow files' `alerts:` are in their definitions).
    List {
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a rule by its id.
    Delete {
        id: i64,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Where the logs of ended attempts are archived, so that they outlive their worker.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArchiveArgs {
    /// The log archive: s3://BUCKET/PREFIX (S3, or an S3-compatible store with
    /// AWS_ENDPOINT_URL; keys from the AWS_… variables or ~/.aws/credentials, never here),
    /// file:///DIRECTORY, or `none`. Workers ship ended attempts' logs there; the API reads
    /// them there once their worker is gone. Overrides `[logs] archive` of the config file.
    #[arg(long = "log-archive", env = "BATON_LOG_ARCHIVE", value_name = "URL")]
    pub url: Option<String>,
}

/// Alert delivery from this server: where its links point, which hosts its channels may
/// reach although they are loopback or link-local, and which scripts it may run.
#[derive(Debug, Clone, Default, Args)]
pub struct AlertArgs {
    /// The API's base URL as people reach it (e.g. https://baton.example.com), for the
    /// instance links in alerts.
    #[arg(long, env = "BATON_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Hosts alert channels may reach although they are (or resolve to) loopback or
    /// link-local addresses, which are refused by default; comma-separated or repeated.
    #[arg(
        long = "alert-allow-host",
        env = "BATON_ALERT_ALLOW_HOSTS",
        value_delimiter = ','
    )]
    pub alert_allow_hosts: Vec<String>,
    /// The directory of the scripts `script` channels may run (by file name); without it,
    /// script channels fail.
    #[arg(long, env = "BATON_ALERT_SCRIPT_DIR", value_name = "DIR")]
    pub alert_script_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Prints a new random secret key (32 bytes, base64), to save in a file of mode 0600 and
    /// give with --secret-key-file.
    Key,
    /// Set a project secret (create it or replace its value). The value is read from
    /// standard input, never from the command line; it is kept sealed and never shown again.
    /// An http task uses it in its headers and body as ${secret.NAME}.
    Set {
        name: String,
        /// The project (default `default`).
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A project's secrets: names and times, never values.
    List {
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a project secret.
    Delete {
        name: String,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DatasourceCommand {
    /// Create a data source. Its password is read from stdin (--password-stdin) or taken out
    /// of the URL, kept sealed, and never shown again.
    Create {
        name: String,
        /// postgresql, mysql (MariaDB too) or sqlite.
        #[arg(long = "type", value_name = "TYPE")]
        kind: String,
        /// postgres://USER@HOST[:PORT]/DB, mysql://USER@HOST[:PORT]/DB or sqlite:///PATH.
        #[arg(long)]
        url: String,
        /// Read the password from standard input (its first line).
        #[arg(long)]
        password_stdin: bool,
        /// The project (default `default`).
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A project's data sources.
    List {
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// One data source (never its password).
    Show {
        name: String,
        #[arg(long)]
        project: Option<String>,
        /// Print the JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Connect and run SELECT 1: exit 0 when it answered, 1 with what failed.
    Test {
        name: String,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a data source and its sealed password.
    Delete {
        name: String,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// The key that seals secrets at rest (data source passwords), and previous keys during a
/// rotation (flags win over `BATON_…` variables, which win over the config file).
#[derive(Debug, Clone, Default, Args)]
pub struct SecretKeyArgs {
    /// A file holding the secret key (`baton secret key` makes one; mode 0600). New secrets
    /// are sealed with it.
    #[arg(long, env = "BATON_SECRET_KEY_FILE", value_name = "FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// A file holding a previous secret key (repeatable): secrets sealed with it still open,
    /// and the api seals them again with the current key at its start.
    #[arg(
        long = "previous-secret-key-file",
        env = "BATON_PREVIOUS_SECRET_KEY_FILES",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub previous_secret_key_files: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Every schedule with its next fire.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The next fire times of a workflow's schedule, or of a cron expression (no server needed).
    Preview {
        /// A workflow name, or a cron expression such as '0 0 2 * * *'.
        target: String,
        /// How many fire times.
        #[arg(long, default_value_t = 10)]
        count: usize,
        /// Time zone of a cron expression (IANA name; default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// Fires after this time (RFC 3339 or YYYY-MM-DD; default now).
        #[arg(long)]
        after: Option<String>,
        /// The workflow's project.
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Create or replace a workflow's schedule (a new version of the workflow, as if its
    /// file's `schedule:` block said so). Fields not given take their defaults.
    #[command(group(clap::ArgGroup::new("when").required(true).args(["cron", "fixed_rate", "fixed_delay"])))]
    Set {
        name: String,
        /// A cron expression, e.g. '0 0 2 * * *' (seconds optional).
        #[arg(long)]
        cron: Option<String>,
        /// Or fire every interval (e.g. 30s).
        #[arg(long)]
        fixed_rate: Option<String>,
        /// Or fire the interval after each instance ends.
        #[arg(long)]
        fixed_delay: Option<String>,
        /// IANA zone of the cron expression (default: the workflow's, else UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// No fire before (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        start: Option<String>,
        /// No fire after.
        #[arg(long)]
        end: Option<String>,
        /// Fires missed while no master ran: skip | fire_once | fire_all.
        #[arg(long)]
        misfire: Option<String>,
        /// With fire_all, at most this many catch-up instances.
        #[arg(long)]
        max_catchup: Option<u32>,
        /// A fire while an earlier instance runs: allow | skip | queue | replace.
        #[arg(long)]
        concurrency: Option<String>,
        /// Priority of the instances it fires: highest | high | medium | low | lowest
        /// (default: the workflow's).
        #[arg(long)]
        priority: Option<String>,
        /// Store it offline (it does not fire until `schedule online`).
        #[arg(long)]
        offline: bool,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Remove a workflow's schedule (a new version of the workflow without it).
    Delete {
        name: String,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Put a workflow's schedule online (it fires from now on).
    Online {
        name: String,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Put a workflow's schedule offline (it stops firing).
    Offline {
        name: String,
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Settings every cluster role takes (flags win over `BATON_…` variables, which win over the
/// `--config` file).
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// A TOML config file.
    #[arg(long, env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// The metadata store: postgres://… (sqlite://… for one host). A flag is visible to every
    /// user of the host (`ps`): give a URL with a password with --database-file or
    /// BATON_DATABASE instead.
    #[arg(long, env = "BATON_DATABASE")]
    pub database: Option<String>,
    /// A file holding the metadata store's URL (one line; readable by its owner only, or its
    /// group too), so that its password is in neither argv nor the environment.
    #[arg(long, env = "BATON_DATABASE_FILE", value_name = "FILE")]
    pub database_file: Option<PathBuf>,
    /// `db` (the metadata store) or `etcd://host:port[,host:port]`.
    #[arg(long, env = "BATON_REGISTRY")]
    pub registry: Option<String>,
    /// How often to heartbeat (default 1s).
    #[arg(long, env = "BATON_HEARTBEAT_INTERVAL", value_parser = parse_duration)]
    pub heartbeat_interval: Option<std::time::Duration>,
    /// A member silent this long is dead (default 10s).
    #[arg(long, env = "BATON_SESSION_TIMEOUT", value_parser = parse_duration)]
    pub session_timeout: Option<std::time::Duration>,
    /// When this member cannot renew its session: stop its work, or wait.
    #[arg(long, env = "BATON_REGISTRY_DISCONNECT")]
    pub registry_disconnect: Option<crate::config::Disconnect>,
    /// A file holding the cluster secret, the same on every member (`baton cluster secret`
    /// makes one). The secret itself may instead be in BATON_CLUSTER_SECRET; it is never a flag.
    #[arg(long, env = "BATON_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// Mutual TLS on the cluster's gRPC: this member's certificate (PEM), signed by the
    /// cluster CA and naming the host the others reach it by. Give all three TLS files or none.
    #[arg(long, env = "BATON_CLUSTER_TLS_CERT", requires_all = ["cluster_tls_key", "cluster_ca"])]
    pub cluster_tls_cert: Option<PathBuf>,
    /// This member's private key (PEM), for `--cluster-tls-cert`.
    #[arg(long, env = "BATON_CLUSTER_TLS_KEY", requires_all = ["cluster_tls_cert", "cluster_ca"])]
    pub cluster_tls_key: Option<PathBuf>,
    /// The cluster CA's certificate (PEM): only members it signed are spoken to or answered.
    #[arg(long, env = "BATON_CLUSTER_CA", requires_all = ["cluster_tls_cert", "cluster_tls_key"])]
    pub cluster_ca: Option<PathBuf>,
}

/// The HTTP listener of `api` and `standalone`: TLS and the limits on what clients hold
/// (flags win over `BATON_…` variables, which win over the `[api]` section of `--config`).
#[derive(Debug, Clone, Default, Args)]
pub struct HttpArgs {
    /// The listener's certificate chain (PEM, the server's certificate first): it then
    /// speaks https only. Give --tls-key with it.
    #[arg(long, env = "BATON_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "BATON_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// A connection that has not sent a request's headers this long after it opened (or
    /// after its last answer) is closed; also bounds the TLS handshake (default 30s).
    #[arg(long, env = "BATON_HEADER_READ_TIMEOUT", value_parser = parse_duration)]
    pub header_read_timeout: Option<std::time::Duration>,
    /// A request whose body has not arrived and been answered this long after its headers
    /// is answered 408 (default 60s; the event stream is not timed).
    #[arg(long, env = "BATON_REQUEST_TIMEOUT", value_parser = parse_duration)]
    pub request_timeout: Option<std::time::Duration>,
    /// Open connections at most; more wait to be accepted (default 512).
    #[arg(long, env = "BATON_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,
    /// Requests answered at once at most; more are answered 503 at once (default 128;
    /// `GET /health` and the event stream are not counted).
    #[arg(long, env = "BATON_MAX_REQUESTS")]
    pub max_requests: Option<u32>,
    /// Browsers reach this listener over https through a proxy that ends TLS: mark the
    /// session cookie `Secure` (it always is with --tls-cert).
    #[arg(long, env = "BATON_BEHIND_TLS_PROXY")]
    pub behind_tls_proxy: bool,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Address of the REST API (default 127.0.0.1:12345).
    #[arg(long, env = "BATON_API_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// A name (or `host:port`) the API is reached by besides loopback names, e.g. the host's
    /// DNS name; requests whose `Host` or `Origin` names anything else are refused.
    #[arg(
        long = "public-host",
        env = "BATON_PUBLIC_HOSTS",
        value_delimiter = ','
    )]
    pub public_hosts: Vec<String>,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub secrets: SecretKeyArgs,
    #[command(flatten)]
    pub alerts: AlertArgs,
    #[command(flatten)]
    pub log_archive: LogArchiveArgs,
}

#[derive(Debug, Args)]
pub struct MasterArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub secrets: SecretKeyArgs,
    #[command(flatten)]
    pub alerts: AlertArgs,
    /// Address of the master's gRPC server (default 127.0.0.1:5680).
    #[arg(long, env = "BATON_MASTER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve `GET /metrics` (Prometheus), `GET /health` and `GET /health/ready` on this
    /// address (off by default). No authentication: bind it to a private address.
    #[arg(long, env = "BATON_MASTER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// host:port workers use to reach this master (default: the listen address). It is also
    /// the master's id: keep it stable across restarts.
    #[arg(long, env = "BATON_MASTER_ADVERTISE")]
    pub advertise: Option<String>,
    /// How a worker of a group is chosen: random, round_robin, lowest_load (default).
    #[arg(long, env = "BATON_DISPATCH_STRATEGY")]
    pub strategy: Option<String>,
    /// A dispatch not acknowledged within this goes to another worker (default 5s).
    #[arg(long, env = "BATON_DISPATCH_TIMEOUT", value_parser = parse_duration)]
    pub dispatch_timeout: Option<std::time::Duration>,
    /// How long lifecycle events are kept (default 30d); older ones are removed.
    #[arg(long, env = "BATON_EVENT_RETENTION", value_parser = parse_retention)]
    pub event_retention: Option<std::time::Duration>,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// How long ended workflow instances are kept.
#[derive(Debug, Clone, Default, Args)]
pub struct RetentionArgs {
    /// Ended instances older than this (e.g. 90d) are removed with their tasks, attempts and
    /// events, in the background (default: kept for ever).
    #[arg(long, env = "BATON_INSTANCE_RETENTION", value_parser = parse_retention)]
    pub instance_retention: Option<std::time::Duration>,
    /// A project's own instance retention, `PROJECT=PERIOD` (e.g. `sales=7d`); repeat it, or
    /// separate with commas.
    #[arg(long, env = "BATON_PROJECT_RETENTION", value_delimiter = ',', value_parser = parse_project_retention)]
    pub project_retention: Vec<(String, std::time::Duration)>,
}

impl RetentionArgs {
    /// How long a standalone's worker keeps logs: as long as the longest instance retention,
    /// when every project has one (a default); else for ever.
    pub fn log_retention(&self) -> Option<std::time::Duration> {
        let longest_project = self.project_retention.iter().map(|(_, keep)| *keep).max();
        self.instance_retention
            .map(|keep| longest_project.map_or(keep, |p| p.max(keep)))
    }

    /// The master's instance retention: these flags, else the config file's.
    pub fn instance_retention(
        &self,
        file_default: Option<std::time::Duration>,
        file_projects: &std::collections::BTreeMap<String, std::time::Duration>,
    ) -> baton_master::InstanceRetention {
        let projects = if self.project_retention.is_empty() {
            file_projects.clone()
        } else {
            self.project_retention.iter().cloned().collect()
        };
        baton_master::InstanceRetention {
            default: self.instance_retention.or(file_default),
            projects,
        }
    }
}

/// `PROJECT=PERIOD`: a project's own instance retention.
pub fn parse_project_retention(text: &str) -> Result<(String, std::time::Duration), String> {
    let (project, period) = text.split_once('=').ok_or_else(|| {
        format!("`{text}` is not a project's retention: write PROJECT=PERIOD (e.g. sales=7d)")
    })?;
    let project = project.trim();
    if project.is_empty() {
        return Err(format!(
            "`{text}` names no project: write PROJECT=PERIOD (e.g. sales=7d)"
        ));
    }
    Ok((project.to_string(), parse_retention(period.trim())?))
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Address of the worker's gRPC server (default 127.0.0.1:5690).
    #[arg(long, env = "BATON_WORKER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve `GET /metrics` (Prometheus), `GET /health` and `GET /health/ready` on this
    /// address (off by default). No authentication: bind it to a private address.
    #[arg(long, env = "BATON_WORKER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// host:port masters use to reach this worker (default: the listen address); also its id.
    #[arg(long, env = "BATON_WORKER_ADVERTISE")]
    pub advertise: Option<String>,
    /// The worker group (default: default).
    #[arg(long, env = "BATON_WORKER_GROUP")]
    pub group: Option<String>,
    /// Attempts that run at once (default: 2 × cores).
    #[arg(long, env = "BATON_SLOTS")]
    pub slots: Option<usize>,
    /// Logs and work directories (default ./baton-worker).
    #[arg(long, env = "BATON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Masters to heartbeat through (with the db registry), comma-separated host:port.
    #[arg(long, env = "BATON_MASTERS", value_delimiter = ',')]
    pub masters: Option<Vec<String>>,
    /// Cap on each attempt's log, in bytes (default 64 MiB).
    #[arg(long, env = "BATON_LOG_MAX_BYTES")]
    pub log_max_bytes: Option<u64>,
    /// Logs of workflow instances last written longer ago than this (e.g. 90d: match the
    /// masters' --instance-retention) are removed (default: kept).
    #[arg(long, env = "BATON_LOG_RETENTION", value_parser = parse_retention)]
    pub log_retention: Option<std::time::Duration>,
    /// Time between SIGTERM and SIGKILL when a task is killed (default 5s).
    #[arg(long, env = "BATON_KILL_GRACE", value_parser = parse_duration)]
    pub kill_grace: Option<std::time::Duration>,
    /// On SIGTERM, how long running tasks may finish (default 30s).
    #[arg(long, env = "BATON_SHUTDOWN_GRACE", value_parser = parse_duration)]
    pub shutdown_grace: Option<std::time::Duration>,
    /// Environment variables of the worker that tasks also see, comma-separated, beyond PATH,
    /// HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TMPDIR and TERM.
    #[arg(long, env = "BATON_TASK_ENV_PASS", value_delimiter = ',')]
    pub task_env_pass: Option<Vec<String>>,
    #[command(flatten)]
    pub http: HttpTaskArgs,
    #[command(flatten)]
    pub log_archive: LogArchiveArgs,
}

/// Where http tasks may send requests.
#[derive(Debug, Clone, Default, Args)]
pub struct HttpTaskArgs {
    /// Hosts http tasks may reach although they are (or resolve to) loopback or link-local
    /// addresses, which are refused by default; comma-separated or repeated.
    #[arg(
        long = "http-allow-host",
        env = "BATON_HTTP_ALLOW_HOSTS",
        value_delimiter = ','
    )]
    pub allow_hosts: Vec<String>,
    /// Hosts http tasks may never reach; comma-separated or repeated.
    #[arg(
        long = "http-deny-host",
        env = "BATON_HTTP_DENY_HOSTS",
        value_delimiter = ','
    )]
    pub deny_hosts: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Prints a new random cluster secret, to save in a file (mode 0600) that every member
    /// reads with --cluster-secret-file.
    Secret,
    /// Every member with its address, role, version, state, heartbeat and load, and which
    /// master owns which running instances.
    Status {
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

impl Command {
    /// Server roles log at info by default; client commands only warn.
    pub fn is_server(&self) -> bool {
        matches!(
            self,
            Command::Standalone(_) | Command::Api(_) | Command::Master(_) | Command::Worker(_)
        )
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
    /// How long lifecycle events are kept (older ones are removed in the background).
    #[arg(long, env = "BATON_EVENT_RETENTION", default_value = "30d", value_parser = parse_retention)]
    pub event_retention: std::time::Duration,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Environment variables of this process that tasks also see, comma-separated, beyond
    /// PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TZ, TMPDIR and TERM.
    #[arg(long, env = "BATON_TASK_ENV_PASS", value_delimiter = ',')]
    pub task_env_pass: Vec<String>,
    #[command(flatten)]
    pub http: HttpTaskArgs,
}

#[derive(Debug, Args)]
pub struct StandaloneArgs {
    /// Address of the REST API.
    #[arg(long, env = "BATON_LISTEN", default_value = "127.0.0.1:12345")]
    pub listen: SocketAddr,
    /// A name (or `host:port`) the API is reached by besides loopback names, e.g. the host's
    /// DNS name; requests whose `Host` or `Origin` names anything else are refused.
    #[arg(
        long = "public-host",
        env = "BATON_PUBLIC_HOSTS",
        value_delimiter = ','
    )]
    pub public_hosts: Vec<String>,
    /// Address of the internal gRPC server (master and worker). Keep it stable across
    /// restarts: history names workers by it, and old logs are read through it.
    #[arg(long, env = "BATON_GRPC_LISTEN", default_value = "127.0.0.1:12346")]
    pub grpc_listen: SocketAddr,
    /// Where the SQLite database, the logs and work directories live.
    #[arg(long, env = "BATON_DATA_DIR", default_value = "./baton-data")]
    pub data_dir: PathBuf,
    /// Metadata store URL (sqlite://PATH or postgres://…); default: SQLite in the data dir.
    /// A flag is visible to every user of the host (`ps`): give a URL with a password with
    /// --database-file or BATON_DATABASE instead.
    #[arg(long, env = "BATON_DATABASE")]
    pub database: Option<String>,
    /// A file holding the metadata store's URL (one line; readable by its owner only, or its
    /// group too).
    #[arg(long, env = "BATON_DATABASE_FILE", value_name = "FILE")]
    pub database_file: Option<PathBuf>,
    /// Workflow files or directories of them to apply at start (repeatable).
    #[arg(long = "apply", value_name = "PATH")]
    pub apply: Vec<PathBuf>,
    /// How long a graceful stop waits for running tasks before killing them.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: std::time::Duration,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Default: DATA_DIR/secret.key, made at the first start.
    #[command(flatten)]
    pub secrets: SecretKeyArgs,
    #[command(flatten)]
    pub alerts: AlertArgs,
    /// Default: file://DATA_DIR/log-archive.
    #[command(flatten)]
    pub log_archive: LogArchiveArgs,
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

/// Where the client commands find the server.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of a running Baton.
    /// (Default: the current context's server, see `baton context`, else
    /// http://127.0.0.1:12345.)
    #[arg(long = "server", env = "BATON_SERVER", global = true)]
    pub server_flag: Option<String>,
    /// A CA certificate (PEM) to trust for an https server, besides the system's: for a
    /// server with a private or self-signed certificate. `baton login` keeps it in the
    /// server's context. (Default: the context's, else the system's CAs only.)
    #[arg(
        long = "ca-cert",
        env = "BATON_CA_CERT",
        global = true,
        value_name = "FILE"
    )]
    pub ca_cert: Option<PathBuf>,
}

impl ServerArgs {
    /// The server's base URL.
    pub fn url(&self) -> String {
        crate::contexts::server_url(self.server_flag.as_deref())
    }

    /// A client of the server, sending the token and trusting the CA kept for it.
    pub fn client(&self) -> anyhow::Result<crate::client::Client> {
        crate::client::Client::new(&self.url(), self.ca_cert.as_deref())
    }
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
    /// Every version of a workflow.
    Versions {
        name: String,
        #[arg(long, default_value = "default")]
        project: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print a version as a workflow file (it applies back unchanged).
    Export {
        name: String,
        #[arg(long, default_value = "default")]
        project: String,
        /// A version other than the latest.
        #[arg(long)]
        version: Option<i64>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Start an instance; prints its id (with --dry-run: what would run, starting nothing).
    Start(StartArgs),
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
        /// Only instances submitted at or after this time (RFC 3339, or a date: its UTC midnight).
        #[arg(long, value_parser = parse_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only instances submitted before this time (RFC 3339, or a date: its UTC midnight).
        #[arg(long, value_parser = parse_time)]
        until: Option<chrono::DateTime<chrono::Utc>>,
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
    /// List the items of a mapped task (`map:`) of an instance, in list order.
    Items {
        id: i64,
        /// The mapped task.
        task: String,
        /// Only items in this state (e.g. failed).
        #[arg(long)]
        state: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Items after this index (the next page).
        #[arg(long)]
        after: Option<i64>,
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
    /// Run a failed or stopped instance on: only what failed, was killed or did not run.
    Recover {
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Pause an instance: running tasks finish, nothing new starts.
    Pause {
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Resume a paused instance.
    Resume {
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Run the whole instance again, as a new instance (same version and params).
    Rerun {
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackfillArgs {
    #[command(subcommand)]
    pub command: Option<BackfillCommand>,
    /// The workflow.
    pub name: Option<String>,
    /// First date (YYYY-MM-DD), inclusive.
    #[arg(long)]
    pub from: Option<String>,
    /// Last date, inclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Exactly these dates (comma-separated), instead of a range.
    #[arg(long, value_delimiter = ',')]
    pub dates: Vec<String>,
    /// Instances at once (default: one after the other).
    #[arg(long, default_value_t = 1)]
    pub parallel: i64,
    /// Newest date first.
    #[arg(long)]
    pub reverse: bool,
    /// The workflow's project.
    #[arg(long, default_value = "default")]
    pub project: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum BackfillCommand {
    /// Every backfill.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// A backfill's progress: done, failed, running, waiting.
    Show {
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Stop a backfill: no new instance starts; running ones are stopped.
    Stop {
        id: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Remove instances that ended before a time, with their task instances, attempts and
    /// events (global admins).
    Purge {
        /// Remove what ended before this: a date (its UTC midnight) or an RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        before: chrono::DateTime<chrono::Utc>,
        /// Only this project's instances (default: every project's).
        #[arg(long)]
        project: Option<String>,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskGroupCommand {
    /// Create a task group (or change its slots).
    Create {
        name: String,
        /// Tasks of the group running at once, cluster-wide.
        #[arg(long)]
        slots: i64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Every task group with its use.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Mark a failed task of a failed or stopped instance as succeeded (then `instance recover`).
    MarkSuccess {
        task_instance: i64,
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

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events since then: a duration back from now (30m, 2h), an RFC 3339 time or a
    /// date (YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events of this kind (task_timeout).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only events of this workflow instance.
    #[arg(long)]
    pub instance: Option<i64>,
    /// At most this many of the newest (before following).
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Keep printing new events as they are recorded.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// One JSON object a line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// A retention period: at least an hour (shorter would remove what a live view still reads),
/// at most 100 years.
pub fn parse_retention(text: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(text)?;
    let (min, max) = (3600, 100 * 365 * 24 * 3600);
    if d.as_secs() < min || d.as_secs() > max {
        return Err(format!(
            "`{text}` is not a retention period: give between 1h and 100y (e.g. 30d)"
        ));
    }
    Ok(d)
}

/// A point in time: RFC 3339 (`2026-11-01T08:00:00Z`, `…+02:00`) or a date (`2026-11-01`,
/// meaning its midnight UTC).
pub fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!("`{text}` is not a time: give a date (2026-11-01) or RFC 3339 (2026-11-01T08:00:00Z)")
        })
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    baton_core::duration::parse(text)
}

/// The worker's client for http tasks: the flags' hosts, else the config file's.
pub fn http_client(
    args: &HttpTaskArgs,
    allow: &[String],
    deny: &[String],
) -> baton_worker::HttpClient {
    let pick = |flags: &[String], file: &[String]| {
        if flags.is_empty() {
            file.to_vec()
        } else {
            flags.to_vec()
        }
    };
    baton_worker::HttpClient::new(baton_worker::HttpPolicy {
        allow_hosts: pick(&args.allow_hosts, allow),
        deny_hosts: pick(&args.deny_hosts, deny),
    })
}

/// `baton workflow start`: the params, where to start, the overrides of this one instance.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    pub name: String,
    #[arg(long, default_value = "default")]
    pub project: String,
    /// A start-time param, NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Wait for the instance to end (exit code as `baton run`).
    #[arg(long, conflicts_with = "dry_run")]
    pub wait: bool,
    /// Run only from this task (the others count as done).
    #[arg(long)]
    pub from_task: Option<String>,
    /// With --from-task: self, downstream (default) or upstream.
    #[arg(long, requires = "from_task")]
    pub scope: Option<String>,
    /// For this instance, in place of the workflow's: end or continue.
    #[arg(long, value_parser = clap::builder::ValueParser::new(str::parse::<baton_core::FailureStrategy>))]
    pub failure_strategy: Option<baton_core::FailureStrategy>,
    /// For this instance, in place of the workflow's: highest, high, medium, low, lowest.
    #[arg(long, value_parser = clap::builder::ValueParser::new(str::parse::<baton_core::Priority>))]
    pub priority: Option<baton_core::Priority>,
    /// For this instance, the worker group of every task a worker runs.
    #[arg(long)]
    pub worker_group: Option<String>,
    /// Show what would run (version, checked params, tasks in order), starting nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}
