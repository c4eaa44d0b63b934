//! Settings of the cluster roles (`api`, `master`, `worker`): a TOML file (`--config`),
//! overridden by `BATON_…` environment variables, overridden by flags. Unknown keys in the
//! file are errors, so a typo does not silently fall back to a default.

use crate::exit::Exit;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The metadata store (`postgres://…`; `sqlite://…` for a single host).
    pub database: Option<String>,
    /// A file holding the metadata store's URL (instead of `database`).
    pub database_file: Option<PathBuf>,
    /// `db` (default) or `etcd://host:port[,host:port]`.
    pub registry: Option<String>,
    /// How often members heartbeat.
    #[serde(default, with = "baton_core::duration::option")]
    pub heartbeat_interval: Option<Duration>,
    /// A member silent for this long is dead.
    #[serde(default, with = "baton_core::duration::option")]
    pub session_timeout: Option<Duration>,
    /// What a member does when it cannot renew its session: `stop` its work (default) or `wait`.
    pub registry_disconnect: Option<Disconnect>,
    /// A file holding the cluster secret.
    pub cluster_secret_file: Option<std::path::PathBuf>,
    /// A file holding the key that seals secrets at rest (api and master).
    pub secret_key_file: Option<PathBuf>,
    /// Files holding previous secret keys, during a rotation.
    #[serde(default)]
    pub previous_secret_key_files: Vec<PathBuf>,
    /// Mutual TLS on the cluster's gRPC: this member's certificate, its key and the cluster
    /// CA (PEM files; all three or none).
    #[serde(default)]
    pub cluster_tls: Option<TlsFiles>,
    /// The api role.
    #[serde(default)]
    pub api: ApiSection,
    /// The master role.
    #[serde(default)]
    pub master: MasterSection,
    /// The worker role.
    #[serde(default)]
    pub worker: WorkerSection,
    /// Where task logs are kept once their attempts end (workers and the api).
    #[serde(default)]
    pub logs: LogsSection,
}

/// `[logs]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsSection {
    /// The log archive: `s3://bucket/prefix`, `file:///directory` or `none`.
    pub archive: Option<String>,
}

/// The value that turns the log archive off.
const NO_ARCHIVE: &str = "none";

/// The log archive, opened: the flag (or `BATON_LOG_ARCHIVE`) over the config file's
/// `[logs] archive` over `default`; `none` (or nothing anywhere) for no archive. A URL that
/// is not one, or an archive that cannot be set up, stops the start (exit 2).
pub fn log_archive(
    args: &crate::args::LogArchiveArgs,
    file: &FileConfig,
    default: Option<String>,
) -> anyhow::Result<Option<baton_logstore::LogArchive>> {
    let Some(url) = args.url.clone().or(file.logs.archive.clone()).or(default) else {
        return Ok(None);
    };
    if url == NO_ARCHIVE {
        return Ok(None);
    }
    let bad = |e: baton_logstore::ArchiveError| Exit::BadInput(e.to_string());
    let url: baton_logstore::ArchiveUrl = url.parse().map_err(bad)?;
    let archive = baton_logstore::LogArchive::open(&url).map_err(bad)?;
    tracing::info!("task logs are archived to {url}");
    Ok(Some(archive))
}

/// `[api]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    pub listen: Option<SocketAddr>,
    /// The listener's certificate chain (PEM); with `tls_key`, it speaks https.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// A connection must send a request's headers within this (default 30s).
    #[serde(default, with = "baton_core::duration::option")]
    pub header_read_timeout: Option<Duration>,
    /// A request must arrive and be answered within this (default 60s).
    #[serde(default, with = "baton_core::duration::option")]
    pub request_timeout: Option<Duration>,
    /// Open connections at most (default 512).
    pub max_connections: Option<u32>,
    /// Requests answered at once at most (default 128).
    pub max_requests: Option<u32>,
    /// Browsers come through a proxy that ends TLS: the session cookie is `Secure`.
    #[serde(default)]
    pub behind_tls_proxy: bool,
}

/// The HTTP listener's settings: flags and environment (`args`) over the file's `[api]`
/// section (`file`, empty for standalone) over the defaults; a TLS certificate and key are
/// given both or neither, and loaded here so that a bad file stops the start.
pub fn http_config(
    args: &crate::args::HttpArgs,
    file: &ApiSection,
) -> anyhow::Result<baton_api::serve::HttpConfig> {
    use baton_api::serve::{HttpConfig, Limits, Tls};
    let defaults = Limits::default();
    let limits = Limits {
        header_read_timeout: args
            .header_read_timeout
            .or(file.header_read_timeout)
            .unwrap_or(defaults.header_read_timeout),
        request_timeout: args
            .request_timeout
            .or(file.request_timeout)
            .unwrap_or(defaults.request_timeout),
        max_connections: args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(defaults.max_connections),
        max_requests: args
            .max_requests
            .or(file.max_requests)
            .unwrap_or(defaults.max_requests),
    };
    limits.check().map_err(|e| {
        let flag = e.setting().replace('_', "-");
        Exit::BadInput(format!(
            "{e} (--{flag}, BATON_{}, or `{}` in the config file's [api] section)",
            e.setting().to_uppercase(),
            e.setting()
        ))
    })?;
    let cert = args.tls_cert.as_ref().or(file.tls_cert.as_ref());
    let key = args.tls_key.as_ref().or(file.tls_key.as_ref());
    let tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            Some(Tls::from_pem_files(cert, key).map_err(|e| Exit::BadInput(e.to_string()))?)
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Exit::BadInput(
                "TLS needs both a certificate and its key: give --tls-cert FILE and \
                 --tls-key FILE (BATON_TLS_CERT and BATON_TLS_KEY, or `tls_cert` and \
                 `tls_key` in the config file's [api] section), or neither for plain http"
                    .into(),
            )
            .into())
        }
    };
    Ok(HttpConfig {
        tls,
        limits,
        behind_tls_proxy: args.behind_tls_proxy || file.behind_tls_proxy,
    })
}

/// `[master]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterSection {
    pub listen: Option<SocketAddr>,
    /// Where `GET /metrics` and `GET /health[/ready]` are served (no auth; off by default).
    pub metrics_listen: Option<SocketAddr>,
    pub advertise: Option<String>,
    pub strategy: Option<String>,
    #[serde(default, with = "baton_core::duration::option")]
    pub dispatch_timeout: Option<Duration>,
    #[serde(default, with = "baton_core::duration::option")]
    pub event_retention: Option<Duration>,
    /// Ended instances older than this are removed (default: kept).
    #[serde(default, with = "baton_core::duration::option")]
    pub instance_retention: Option<Duration>,
    /// Projects' own instance retention: `{sales = "7d"}`.
    #[serde(default, deserialize_with = "project_retention")]
    pub project_retention: std::collections::BTreeMap<String, Duration>,
}

/// `[master] project_retention`: each value a retention period, checked as the flag's.
fn project_retention<'de, D>(d: D) -> Result<std::collections::BTreeMap<String, Duration>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = std::collections::BTreeMap::<String, String>::deserialize(d)?;
    raw.into_iter()
        .map(|(project, period)| {
            crate::args::parse_retention(&period)
                .map(|keep| (project.clone(), keep))
                .map_err(|e| serde::de::Error::custom(format!("project `{project}`: {e}")))
        })
        .collect()
}

/// `[worker]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSection {
    pub listen: Option<SocketAddr>,
    /// Where `GET /metrics` and `GET /health[/ready]` are served (no auth; off by default).
    pub metrics_listen: Option<SocketAddr>,
    pub advertise: Option<String>,
    pub group: Option<String>,
    pub slots: Option<usize>,
    pub data_dir: Option<PathBuf>,
    pub masters: Option<Vec<String>>,
    pub log_max_bytes: Option<u64>,
    #[serde(default, with = "baton_core::duration::option")]
    pub log_retention: Option<Duration>,
    #[serde(default, with = "baton_core::duration::option")]
    pub kill_grace: Option<Duration>,
    #[serde(default, with = "baton_core::duration::option")]
    pub shutdown_grace: Option<Duration>,
    pub task_env_pass: Option<Vec<String>>,
    /// Hosts http tasks may reach although loopback or link-local.
    #[serde(default)]
    pub http_allow_hosts: Vec<String>,
    /// Hosts http tasks may never reach.
    #[serde(default)]
    pub http_deny_hosts: Vec<String>,
}

/// What a member does when its registry session cannot be renewed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Disconnect {
    /// Act as dead: a worker kills its attempts, a master drops its instances (the others
    /// are re-running them). Keeps a partitioned node from running a task twice.
    #[default]
    Stop,
    /// Keep working and wait for the registry (risks duplicates after a partition).
    Wait,
}

impl FileConfig {
    /// Reads the file, or the empty config when none is given.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| Exit::BadInput(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| Exit::BadInput(format!("{}: {e}", path.display())).into())
    }
}

/// Settings every cluster role shares, resolved.
#[derive(Debug, Clone)]
pub struct Common {
    pub database: Option<String>,
    pub registry: String,
    pub heartbeat_interval: Duration,
    pub session_timeout: Duration,
    pub disconnect: Disconnect,
    /// Proof of membership on every gRPC call between members.
    pub cluster_key: baton_proto::auth::ClusterKey,
    /// Mutual TLS of the cluster's gRPC, when configured.
    pub cluster_tls: Option<baton_proto::tls::ClusterTls>,
}

/// The files of the cluster's mutual TLS (the config file's `[cluster_tls]`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// This member's certificate.
    pub cert: std::path::PathBuf,
    /// Its private key.
    pub key: std::path::PathBuf,
    /// The cluster CA's certificate.
    pub ca: std::path::PathBuf,
}

/// The cluster's TLS from the flags (or environment), else the file; none when neither has it.
fn cluster_tls(
    args: &crate::args::ClusterArgs,
    file: &FileConfig,
) -> anyhow::Result<Option<baton_proto::tls::ClusterTls>> {
    let files = match (
        &args.cluster_tls_cert,
        &args.cluster_tls_key,
        &args.cluster_ca,
    ) {
        (Some(cert), Some(key), Some(ca)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: ca.clone(),
        }),
        _ => file.cluster_tls.clone(),
    };
    files
        .map(|f| baton_proto::tls::ClusterTls::read(&f.cert, &f.key, &f.ca))
        .transpose()
        .map_err(|e| Exit::BadInput(e.to_string()).into())
}

impl Common {
    /// Flags and environment (`args`) over the file over the defaults.
    pub fn resolve(args: &crate::args::ClusterArgs, file: &FileConfig) -> anyhow::Result<Common> {
        let common = Common {
            database: database(
                Given::new(
                    args.database.clone(),
                    args.database_file.clone(),
                    ARGS_NAMES,
                ),
                Given::new(
                    file.database.clone(),
                    file.database_file.clone(),
                    FILE_NAMES,
                ),
            )?,
            registry: args
                .registry
                .clone()
                .or(file.registry.clone())
                .unwrap_or_else(|| "db".into()),
            heartbeat_interval: args
                .heartbeat_interval
                .or(file.heartbeat_interval)
                .unwrap_or(Duration::from_secs(1)),
            session_timeout: args
                .session_timeout
                .or(file.session_timeout)
                .unwrap_or(Duration::from_secs(10)),
            disconnect: args
                .registry_disconnect
                .or(file.registry_disconnect)
                .unwrap_or_default(),
            cluster_key: cluster_key(
                args.cluster_secret_file
                    .as_deref()
                    .or(file.cluster_secret_file.as_deref()),
            )?,
            cluster_tls: cluster_tls(args, file)?,
        };
        if common.heartbeat_interval >= common.session_timeout {
            return Err(Exit::BadInput(format!(
                "heartbeat_interval ({:?}) must be shorter than session_timeout ({:?})",
                common.heartbeat_interval, common.session_timeout
            ))
            .into());
        }
        Ok(common)
    }

    /// The database, which the api and masters need.
    pub fn database(&self) -> anyhow::Result<&str> {
        self.database.as_deref().ok_or_else(|| {
            Exit::BadInput(
                "no database: give its URL in a file (--database-file FILE, BATON_DATABASE_FILE \
                 or `database_file` in the config file), or set BATON_DATABASE, `database` in \
                 the config file or --database"
                    .into(),
            )
            .into()
        })
    }

    /// The registry, opened.
    pub async fn open_registry(
        &self,
    ) -> anyhow::Result<std::sync::Arc<dyn baton_registry::Registry>> {
        let database = self.database.clone().unwrap_or_default();
        baton_registry::registry_from_url(&self.registry, &database, self.session_timeout)
            .await
            .map_err(|e| {
                let shown = baton_core::redact::redact_url(&self.registry);
                anyhow::anyhow!("cannot open the registry `{shown}`: {e}")
            })
    }
}

/// How the two ways of giving the database are named at one level, for errors.
type Names = (&'static str, &'static str);
const ARGS_NAMES: Names = (
    "--database (or BATON_DATABASE)",
    "--database-file (or BATON_DATABASE_FILE)",
);
const FILE_NAMES: Names = ("`database`", "`database_file`");

/// The database as given at one level (flags and environment, or the config file): its URL,
/// or a file holding it.
pub struct Given {
    url: Option<String>,
    file: Option<PathBuf>,
    names: Names,
}

impl Given {
    fn new(url: Option<String>, file: Option<PathBuf>, names: Names) -> Given {
        Given { url, file, names }
    }

    /// The URL this level gives, read from its file if need be; both ways at once is an error.
    fn url(self) -> anyhow::Result<Option<String>> {
        match (self.url, self.file) {
            (Some(_), Some(_)) => Err(Exit::BadInput(format!(
                "both {} and {} are set: give the database one way",
                self.names.0, self.names.1
            ))
            .into()),
            (Some(url), None) => Ok(Some(url)),
            (None, Some(path)) => Ok(Some(read_database_file(&path)?)),
            (None, None) => Ok(None),
        }
    }
}

/// The database URL: flags and environment win over the config file.
pub fn database(args: Given, file: Given) -> anyhow::Result<Option<String>> {
    match args.url()? {
        Some(url) => Ok(Some(url)),
        None => file.url(),
    }
}

/// The database of `baton standalone` (flags and environment only; `None`: SQLite in its
/// data directory).
pub fn standalone_database(args: &crate::args::StandaloneArgs) -> anyhow::Result<Option<String>> {
    Given::new(
        args.database.clone(),
        args.database_file.clone(),
        ARGS_NAMES,
    )
    .url()
}

/// The database URL from `path`: its one line, surrounding whitespace (the final newline)
/// dropped. A file other users may read is refused, since the URL holds the password; one its
/// group may read is taken with a warning.
pub fn read_database_file(path: &Path) -> Result<String, Exit> {
    let shown = path.display();
    let bad = |why: String| Exit::BadInput(format!("database file {shown}: {why}"));
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    check_database_file_mode(path, &meta).map_err(bad)?;
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let url = text.trim();
    if url.is_empty() {
        return Err(bad("it is empty; it should hold the database URL".into()));
    }
    if url.lines().count() > 1 {
        return Err(bad(
            "it holds more than one line; it should hold only the database URL".into(),
        ));
    }
    Ok(url.to_string())
}

/// Refuses a database file others may read; warns of one its group may read.
#[cfg(unix)]
fn check_database_file_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    let shown = path.display();
    if mode & 0o004 != 0 {
        return Err(format!(
            "other users may read it (mode {mode:04o}), and it holds the database password: \
             `chmod 600 {shown}` (or 640 for a group)"
        ));
    }
    if mode & 0o040 != 0 {
        tracing::warn!(
            "database file {shown}: its group may read it (mode {mode:04o}), and with it the \
             database password"
        );
    }
    Ok(())
}

/// No permission bits to check.
#[cfg(not(unix))]
fn check_database_file_mode(_: &Path, _: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

/// The keyring of secrets at rest: the current key from the flag (or environment), else the
/// config file; previous keys likewise. `None` when no key is given. A key file that cannot
/// be used stops the start (exit 2), naming the file.
pub fn keyring(
    args: &crate::args::SecretKeyArgs,
    file: &FileConfig,
) -> anyhow::Result<Option<baton_secrets::Keyring>> {
    let Some(current) = args
        .secret_key_file
        .as_deref()
        .or(file.secret_key_file.as_deref())
    else {
        if !args.previous_secret_key_files.is_empty() || !file.previous_secret_key_files.is_empty()
        {
            return Err(Exit::BadInput(
                "previous secret keys are given without a current one: give the new key with                  --secret-key-file"
                    .into(),
            )
            .into());
        }
        return Ok(None);
    };
    let previous = if args.previous_secret_key_files.is_empty() {
        &file.previous_secret_key_files
    } else {
        &args.previous_secret_key_files
    };
    keyring_of(current, previous).map(Some)
}

/// The keyring of the key in `current` and those in `previous`.
pub fn keyring_of(current: &Path, previous: &[PathBuf]) -> anyhow::Result<baton_secrets::Keyring> {
    use baton_secrets::{Keyring, SecretKey};
    let bad = |e: baton_secrets::SecretError| Exit::BadInput(e.to_string());
    let current = SecretKey::read_file(current).map_err(bad)?;
    let previous = previous
        .iter()
        .map(|p| SecretKey::read_file(p).map_err(bad))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Keyring::new(current, previous).map_err(bad)?)
}

/// The environment variable that may hold the cluster secret itself.
pub const CLUSTER_SECRET_ENV: &str = "BATON_CLUSTER_SECRET";

/// The cluster's key: from `BATON_CLUSTER_SECRET`, else from the secret file. A cluster role
/// without one does not start: its gRPC port would take any caller's calls.
pub fn cluster_key(
    file: Option<&std::path::Path>,
) -> anyhow::Result<baton_proto::auth::ClusterKey> {
    use baton_proto::auth::ClusterKey;
    let key = match (std::env::var(CLUSTER_SECRET_ENV), file) {
        (Ok(secret), _) => ClusterKey::from_secret(&secret)
            .map_err(|e| anyhow::anyhow!("{CLUSTER_SECRET_ENV}: {e}"))?,
        (Err(_), Some(path)) => ClusterKey::read(path)?,
        (Err(_), None) => {
            return Err(Exit::BadInput(format!(
                "no cluster secret: members prove to each other that they belong to the cluster \
                 with a secret they share; put one in a file (`baton cluster secret > FILE`, \
                 mode 0600) and give it with --cluster-secret-file FILE, \
                 BATON_CLUSTER_SECRET_FILE or `cluster_secret_file` in the config file, or set \
                 {CLUSTER_SECRET_ENV}"
            ))
            .into())
        }
    };
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses() {
        let file: FileConfig = toml::from_str(
            r#"
database = "postgres://u@h/db"
registry = "etcd://127.0.0.1:2379"
heartbeat_interval = "500ms"
session_timeout = "5s"
registry_disconnect = "wait"
[api]
listen = "127.0.0.1:12345"
[master]
listen = "127.0.0.1:5680"
strategy = "round_robin"
metrics_listen = "127.0.0.1:9680"
[worker]
group = "gpu"
slots = 8
masters = ["127.0.0.1:5680"]
metrics_listen = "127.0.0.1:9690"
"#,
        )
        .unwrap();
        assert_eq!(
            file.master.metrics_listen,
            Some("127.0.0.1:9680".parse().unwrap())
        );
        assert_eq!(
            file.worker.metrics_listen,
            Some("127.0.0.1:9690".parse().unwrap())
        );
        assert_eq!(file.session_timeout, Some(Duration::from_secs(5)));
        assert_eq!(file.registry_disconnect, Some(Disconnect::Wait));
        assert_eq!(file.worker.slots, Some(8));
        assert_eq!(file.master.strategy.as_deref(), Some("round_robin"));
    }

    #[test]
    fn the_secret_keys_come_from_the_flags_over_the_config_file() {
        use baton_secrets::SecretKey;
        let dir = tempfile::tempdir().unwrap();
        let key = |name: &str| {
            let path = dir.path().join(name);
            (SecretKey::create_file(&path).unwrap(), path)
        };
        let ((a, a_path), (b, b_path), (c, c_path)) = (key("a"), key("b"), key("c"));
        let file: FileConfig = toml::from_str(&format!(
            "secret_key_file = {a_path:?}\nprevious_secret_key_files = [{b_path:?}]\n"
        ))
        .unwrap();
        let none = crate::args::SecretKeyArgs::default();
        let ring = keyring(&none, &file).unwrap().unwrap();
        assert_eq!(ring.current_id(), a.id());
        assert_eq!(ring.previous_ids(), [b.id()]);
        let flags = crate::args::SecretKeyArgs {
            secret_key_file: Some(c_path.clone()),
            previous_secret_key_files: vec![a_path.clone()],
        };
        let ring = keyring(&flags, &file).unwrap().unwrap();
        assert_eq!(
            (ring.current_id(), ring.previous_ids()),
            (c.id(), vec![a.id()])
        );
        assert!(keyring(&none, &FileConfig::default()).unwrap().is_none());
        let only_previous = crate::args::SecretKeyArgs {
            secret_key_file: None,
            previous_secret_key_files: vec![a_path],
        };
        let e = message(keyring(&only_previous, &FileConfig::default()).unwrap_err());
        assert!(e.contains("--secret-key-file"), "{e}");
    }

    /// A database file holding `text`, with `mode`.
    fn database_file(text: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("database");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    fn message(e: impl Into<anyhow::Error>) -> String {
        let e = e.into();
        match e.downcast_ref::<Exit>() {
            Some(Exit::BadInput(m)) => m.clone(),
            _ => panic!("not bad input: {e}"),
        }
    }

    #[test]
    fn the_database_url_is_read_from_its_file_without_the_final_newline() {
        let (_dir, path) = database_file("postgres://u:pw@h/db\n", 0o600);
        assert_eq!(read_database_file(&path).unwrap(), "postgres://u:pw@h/db");
        let (_dir, path) = database_file("  postgres://h/db\r\n\n", 0o640);
        assert_eq!(read_database_file(&path).unwrap(), "postgres://h/db");
    }

    #[test]
    fn a_database_file_that_is_unsafe_or_not_one_url_is_refused_saying_why() {
        // A password no temporary path can hold by chance (`/tmp/.tmpwXYZ` holds "pw").
        let (_dir, path) = database_file("postgres://u:Secret-Db-Pass@h/db\n", 0o644);
        let err = message(read_database_file(&path).unwrap_err());
        assert!(err.contains("other users may read it (mode 0644)"), "{err}");
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        assert!(!err.contains("Secret-Db-Pass"), "{err}");

        let (_dir, path) = database_file("\n \n", 0o600);
        let err = message(read_database_file(&path).unwrap_err());
        assert!(
            err.ends_with("it is empty; it should hold the database URL"),
            "{err}"
        );

        let (_dir, path) = database_file("postgres://a/db\npostgres://b/db\n", 0o600);
        let err = message(read_database_file(&path).unwrap_err());
        assert!(err.contains("more than one line"), "{err}");
        assert!(!err.contains("postgres"), "{err}");

        let err = message(read_database_file(Path::new("/nonexistent/baton-db")).unwrap_err());
        assert!(
            err.starts_with("database file /nonexistent/baton-db: "),
            "{err}"
        );
    }

    #[test]
    fn flags_and_environment_win_over_the_config_file_and_one_way_per_level() {
        let (_dir, path) = database_file("postgres://from-file/db\n", 0o600);
        let args = |url: Option<&str>, file: Option<&PathBuf>| {
            Given::new(url.map(String::from), file.cloned(), ARGS_NAMES)
        };
        let config = |url: Option<&str>, file: Option<&PathBuf>| {
            Given::new(url.map(String::from), file.cloned(), FILE_NAMES)
        };
        let got = database(
            args(None, Some(&path)),
            config(Some("postgres://config/db"), None),
        );
        assert_eq!(got.unwrap().as_deref(), Some("postgres://from-file/db"));
        let got = database(args(None, None), config(None, Some(&path)));
        assert_eq!(got.unwrap().as_deref(), Some("postgres://from-file/db"));
        let got = database(
            args(Some("postgres://flag/db"), None),
            config(None, Some(&path)),
        );
        assert_eq!(got.unwrap().as_deref(), Some("postgres://flag/db"));
        assert_eq!(
            database(args(None, None), config(None, None)).unwrap(),
            None
        );

        let err = message(database(args(Some("x"), Some(&path)), config(None, None)).unwrap_err());
        assert_eq!(
            err,
            "both --database (or BATON_DATABASE) and --database-file (or BATON_DATABASE_FILE) \
             are set: give the database one way"
        );
        let err = message(database(args(None, None), config(Some("x"), Some(&path))).unwrap_err());
        assert!(
            err.starts_with("both `database` and `database_file` are set"),
            "{err}"
        );
    }

    #[test]
    fn the_config_file_takes_a_database_file() {
        let file: FileConfig = toml::from_str("database_file = \"/etc/baton/database\"\n").unwrap();
        assert_eq!(
            file.database_file,
            Some(PathBuf::from("/etc/baton/database"))
        );
    }

    #[test]
    fn the_http_listener_takes_flags_over_the_file_over_the_defaults() {
        let file: FileConfig = toml::from_str(
            "[api]\nheader_read_timeout = \"5s\"\nrequest_timeout = \"20s\"\nmax_requests = 7\n",
        )
        .unwrap();
        let args = crate::args::HttpArgs {
            request_timeout: Some(Duration::from_secs(9)),
            ..Default::default()
        };
        let http = http_config(&args, &file.api).unwrap();
        assert_eq!(http.limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(http.limits.request_timeout, Duration::from_secs(9));
        assert_eq!(http.limits.max_requests, 7);
        let defaults = baton_api::serve::Limits::default();
        assert_eq!(http.limits.max_connections, defaults.max_connections);
        assert_eq!(http.scheme(), "http");
    }

    #[test]
    fn a_tls_key_without_its_certificate_is_refused_wherever_it_was_given() {
        let file: FileConfig = toml::from_str("[api]\ntls_key = \"/k.pem\"\n").unwrap();
        let err = http_config(&Default::default(), &file.api).unwrap_err();
        assert!(err.to_string().contains("--tls-cert"), "{err}");
        let args = crate::args::HttpArgs {
            tls_cert: Some("/c.pem".into()),
            ..Default::default()
        };
        let err = http_config(&args, &ApiSection::default()).unwrap_err();
        assert!(err.to_string().contains("both"), "{err}");
    }

    #[test]
    fn an_out_of_range_limit_names_its_flag_and_key() {
        let file: FileConfig = toml::from_str("[api]\nmax_connections = 0\n").unwrap();
        let err = http_config(&Default::default(), &file.api)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--max-connections") && err.contains("`max_connections`"),
            "{err}"
        );
    }

    #[test]
    fn the_log_archive_comes_from_the_flag_over_the_file_over_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let url = |name: &str| format!("file://{}", dir.path().join(name).display());
        let file: FileConfig =
            toml::from_str(&format!("[logs]\narchive = {:?}\n", url("from-file"))).unwrap();
        let flag = |u: Option<String>| crate::args::LogArchiveArgs { url: u };
        let shown = |a: Option<baton_logstore::LogArchive>| a.map(|a| a.url().to_string());
        let got = log_archive(&flag(Some(url("flag"))), &file, Some(url("default")));
        assert_eq!(shown(got.unwrap()), Some(url("flag")));
        let got = log_archive(&flag(None), &file, Some(url("default")));
        assert_eq!(shown(got.unwrap()), Some(url("from-file")));
        assert!(
            dir.path().join("from-file").is_dir(),
            "the directory is made"
        );
        let got = log_archive(&flag(None), &FileConfig::default(), Some(url("default")));
        assert_eq!(shown(got.unwrap()), Some(url("default")));
        let got = log_archive(&flag(Some("none".into())), &file, Some(url("default")));
        assert!(got.unwrap().is_none());
        assert!(log_archive(&flag(None), &FileConfig::default(), None)
            .unwrap()
            .is_none());
        let e = message(log_archive(&flag(Some("ftp://x".into())), &file, None).unwrap_err());
        assert!(e.starts_with("bad log archive URL `ftp://x`"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<FileConfig>("[worker]\nslot = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `slot`"), "{err}");
    }
}
