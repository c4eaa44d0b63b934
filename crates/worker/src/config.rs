//! The worker's settings.

use std::path::PathBuf;
use std::time::Duration;

/// How a worker runs: who it is, where it keeps logs and work directories, and how much it takes
/// on. Built by the CLI from flags, environment and the config file; tests build it directly.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The worker's id as masters and history show it; the CLI uses the gRPC address
    /// (`127.0.0.1:PORT`) so that a master can reach the worker from the id alone.
    pub id: String,
    /// Root of everything the worker writes: `logs/<workflow instance>/<task instance>/<attempt>.log`,
    /// `work/<workflow instance>-<task instance>-<attempt>/` (removed when the attempt ends) and
    /// `outbox/` (task events not yet acknowledged by a master).
    pub data_dir: PathBuf,
    /// How many attempts may run at once; a dispatch beyond that is refused ("no free slot"), so
    /// the master can pick another worker instead of queueing blindly.
    pub slots: usize,
    /// Cap on one attempt's log, so a chatty task cannot fill the disk.
    pub log_max_bytes: u64,
    /// Time between SIGTERM and SIGKILL when an attempt is killed or times out, so tasks can
    /// clean up.
    pub kill_grace: Duration,
    /// The interpreter python tasks run with.
    pub python: String,
    /// How long the master an event is addressed to may stay unreachable before the event is
    /// tried on the other known masters (which redirect it to the instance's owner), so that a
    /// dead master's adopted instances still get their results.
    pub reroute_after: Duration,
    /// Longest wait for a master to answer one `Report` call; a master that hangs (paused,
    /// overloaded) counts as unreachable after it.
    pub report_timeout: Duration,
    /// Names of the worker's own environment variables its tasks also see, beyond
    /// [`TASK_ENV_ALLOWLIST`]: a task never inherits the worker's whole environment, which may
    /// hold the database URL, the cluster secret or a cloud credential.
    pub pass_env: Vec<String>,
    /// The cluster secret: every call to this worker must prove it, and its reports to
    /// masters do.
    pub cluster_key: baton_proto::auth::ClusterKey,
    /// Mutual TLS of the cluster's gRPC, when configured: the worker serves over it and its
    /// reports to masters go over it.
    pub cluster_tls: Option<baton_proto::tls::ClusterTls>,
    /// The client http tasks send their requests with, and where it may send them.
    pub http: crate::executors::http::HttpClient,
    /// Where the logs of ended attempts are shipped, so that they outlive this worker (none:
    /// they stay on its disk only).
    pub log_archive: Option<baton_logstore::LogArchive>,
    /// How the uploads to the archive back off after a failure.
    pub archive_backoff: crate::archiver::ArchiveBackoff,
    /// The log retention also removes old logs from a `file://` archive: for standalone,
    /// whose archive is its own (a cluster's archive is shared, and kept by its own rules).
    pub archive_retention: bool,
    /// A service's process group is killed by the watchdog unless the worker renews its lease
    /// within this long: a paused (SIGSTOP) or hung worker loses its services before the
    /// cluster counts it dead and starts them elsewhere. Shorter than the registry session
    /// timeout less a heartbeat; `None` (standalone): no lease.
    pub service_lease: Option<std::time::Duration>,
}

/// The worker's environment variables every task sees (with those named `LC_*`): what
/// programs need to find each other and speak the user's language, and nothing secret.
pub const TASK_ENV_ALLOWLIST: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
];

/// Default cap on one attempt's log: 64 MiB.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Default time between SIGTERM and SIGKILL.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// Default time before events for an unreachable master are tried on other masters.
pub const DEFAULT_REROUTE_AFTER: Duration = Duration::from_secs(3);

/// Default longest wait for a master's answer to a report.
pub const DEFAULT_REPORT_TIMEOUT: Duration = Duration::from_secs(10);

impl WorkerConfig {
    /// A config with the defaults: two slots per core, 64 MiB logs, 5 s kill grace, `python3`,
    /// rerouting after 3 s, 10 s report timeout.
    pub fn new(id: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        WorkerConfig {
            id: id.into(),
            data_dir: data_dir.into(),
            slots: 2 * cores,
            log_max_bytes: DEFAULT_LOG_MAX_BYTES,
            kill_grace: DEFAULT_KILL_GRACE,
            python: "python3".to_string(),
            reroute_after: DEFAULT_REROUTE_AFTER,
            report_timeout: DEFAULT_REPORT_TIMEOUT,
            pass_env: Vec::new(),
            cluster_key: baton_proto::auth::ClusterKey::fresh(),
            cluster_tls: None,
            http: Default::default(),
            log_archive: None,
            archive_backoff: Default::default(),
            archive_retention: false,
            service_lease: None,
        }
    }
}

impl WorkerConfig {
    /// The part of this process's environment tasks inherit: the allowlist, `LC_*`, and the
    /// names in [`WorkerConfig::pass_env`].
    pub(crate) fn task_base_env(&self) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        std::env::vars_os()
            .filter(|(name, _)| {
                let Some(name) = name.to_str() else {
                    return false;
                };
                TASK_ENV_ALLOWLIST.contains(&name)
                    || name.starts_with("LC_")
                    || self.pass_env.iter().any(|p| p == name)
            })
            .collect()
    }
}
