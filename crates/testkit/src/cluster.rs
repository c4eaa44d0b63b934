//! A cluster of real `baton` processes on loopback: an api, masters and workers sharing a
//! database and a registry.

use crate::{reserve_addresses, LaunchError, Proc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How to build a cluster. [`Launch::new`] gives the defaults the tests use.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The `baton` binary every role runs.
    pub baton: PathBuf,
    /// Where the logs and the workers' data directories go.
    pub dir: PathBuf,
    /// The metadata database every role shares.
    pub database: String,
    /// `db` or `etcd://host:port`.
    pub registry: String,
    /// How many masters.
    pub masters: usize,
    /// How many workers.
    pub workers: usize,
    /// Every member's session timeout (`3s`).
    pub session_timeout: String,
    /// Every member's heartbeat interval (`500ms`).
    pub heartbeat_interval: String,
    /// Added to every role's command line (the cluster's TLS files).
    pub common_args: Vec<String>,
    /// Added to each master's command line (`--strategy round_robin`).
    pub master_args: Vec<String>,
    /// Added to each worker's command line (`--slots 16`).
    pub worker_args: Vec<String>,
    /// Added to the api's command line (`--log-archive s3://…`).
    pub api_args: Vec<String>,
    /// Set in every role's environment (the log archive's `AWS_…` variables).
    pub env: Vec<(String, String)>,
    /// The worker group of worker `i` (`--group`), for the first workers; the others are in
    /// the default group.
    pub worker_groups: Vec<String>,
    /// `BATON_LOG` of every role, when given.
    pub log_filter: Option<String>,
    /// How long [`Cluster::start`] waits for every member to register.
    pub register_within: Duration,
}

impl Launch {
    /// Two masters and two workers on the `db` registry, a 3 s session timeout and a 500 ms
    /// heartbeat; logs and data under `dir`.
    pub fn new(baton: impl Into<PathBuf>, dir: impl Into<PathBuf>, database: &str) -> Launch {
        Launch {
            baton: baton.into(),
            dir: dir.into(),
            database: database.to_string(),
            registry: "db".into(),
            masters: 2,
            workers: 2,
            session_timeout: "3s".into(),
            heartbeat_interval: "500ms".into(),
            common_args: Vec::new(),
            master_args: Vec::new(),
            worker_args: Vec::new(),
            api_args: Vec::new(),
            env: Vec::new(),
            worker_groups: Vec::new(),
            log_filter: None,
            register_within: Duration::from_secs(60),
        }
    }

    /// Every role's settings; the database URL is given in a file, as its password should be.
    fn common(&self, role: &str) -> Vec<String> {
        let secret = self.secret_file().display().to_string();
        let database = self.database_file().display().to_string();
        [
            role,
            "--database-file",
            &database,
            "--registry",
            &self.registry,
            "--session-timeout",
            &self.session_timeout,
            "--heartbeat-interval",
            &self.heartbeat_interval,
            "--cluster-secret-file",
            &secret,
        ]
        .map(str::to_string)
        .into_iter()
        .chain(self.common_args.iter().cloned())
        .collect()
    }

    /// The cluster secret every member reads.
    pub fn secret_file(&self) -> PathBuf {
        self.dir.join("cluster.secret")
    }

    /// The file holding the database URL every member reads (`--database-file`).
    pub fn database_file(&self) -> PathBuf {
        self.dir.join("database.url")
    }

    /// Writes the files every member reads (mode 0600): a secret of this cluster's own, and
    /// the database URL.
    fn write_files(&self) -> Result<(), LaunchError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let secret = format!("testkit-{}-{nanos}\n", std::process::id());
        write_private(&self.secret_file(), &secret)?;
        write_private(&self.database_file(), &format!("{}\n", self.database))
    }
}

/// Writes `text` to a new file at `path` that only its owner may read (mode 0600).
fn write_private(path: &Path, text: &str) -> Result<(), LaunchError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| LaunchError::Spawn {
        what: format!("writing {}", path.display()),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)
}

/// The processes of one cluster. Dropping it kills every one of them (and the task processes
/// its workers left behind).
pub struct Cluster {
    /// Where the logs are.
    pub dir: PathBuf,
    /// The REST API process.
    pub api: Proc,
    /// The masters.
    pub masters: Vec<Proc>,
    /// The workers.
    pub workers: Vec<Proc>,
    /// `http://host:port` of the API.
    pub api_url: String,
    /// The metadata database, for a snapshot of its sessions in failure messages.
    pub database: String,
    /// The test `admin`'s session token, sent with every call.
    pub token: String,
    baton: PathBuf,
    register_within: Duration,
}

impl Cluster {
    /// Starts every role and waits until all are in the registry. A port found free may be
    /// taken by another test before its role binds it: then the whole cluster starts again
    /// on other ports (the roles know each other's addresses), a few times at most.
    pub fn start(l: Launch) -> Result<Cluster, LaunchError> {
        l.write_files()?;
        for _ in 0..2 {
            match Cluster::start_once(&l) {
                Err(e) if e.port_taken() => continue,
                started => return started,
            }
        }
        Cluster::start_once(&l)
    }

    /// One try of [`Cluster::start`]; a cluster that fails to start is killed as it drops.
    fn start_once(l: &Launch) -> Result<Cluster, LaunchError> {
        let mut addresses = reserve_addresses(1 + l.masters + l.workers)?.into_iter();
        let mut next = || addresses.next().expect("one address per role");
        let role = |name: String, address: String, mut args: Vec<String>| {
            args.extend(["--listen".into(), address.clone()]);
            let log = l.dir.join(format!("{name}.log"));
            let mut proc = Proc::new(
                l.baton.clone(),
                name,
                address,
                args,
                log,
                l.log_filter.clone(),
            );
            proc.env.extend(l.env.iter().cloned());
            proc
        };
        let mut api_args = l.common("api");
        api_args.extend(l.api_args.iter().cloned());
        let mut api = role("api".into(), next(), api_args);
        api.env.push((
            "BATON_ADMIN_PASSWORD".into(),
            crate::TEST_ADMIN_PASSWORD.into(),
        ));
        let masters: Vec<Proc> = (0..l.masters)
            .map(|i| {
                let mut args = l.common("master");
                args.extend(l.master_args.iter().cloned());
                role(format!("master{i}"), next(), args)
            })
            .collect();
        let master_list: Vec<&str> = masters.iter().map(|m| m.address.as_str()).collect();
        let master_list = master_list.join(",");
        let workers = (0..l.workers)
            .map(|i| {
                let mut args = l.common("worker");
                let data = l.dir.join(format!("worker{i}"));
                args.extend(["--data-dir".into(), data.display().to_string()]);
                args.extend(["--masters".into(), master_list.clone()]);
                args.extend(l.worker_args.iter().cloned());
                if let Some(group) = l.worker_groups.get(i) {
                    args.extend(["--group".into(), group.clone()]);
                }
                role(format!("worker{i}"), next(), args)
            })
            .collect();
        let mut cluster = Cluster {
            dir: l.dir.clone(),
            api_url: format!("http://{}", api.address),
            api,
            masters,
            workers,
            database: l.database.clone(),
            token: String::new(),
            baton: l.baton.clone(),
            register_within: l.register_within,
        };
        for p in cluster.procs_mut() {
            p.spawn()?;
        }
        cluster.token = match crate::login_admin(&cluster.api_url, l.register_within) {
            Ok(t) => t,
            Err(last) => {
                cluster.check_alive()?;
                return Err(LaunchError::NotRegistered {
                    limit: l.register_within,
                    last,
                    logs: cluster.logs(),
                });
            }
        };
        cluster.wait_registered(None)?;
        Ok(cluster)
    }

    fn procs(&self) -> impl Iterator<Item = &Proc> {
        std::iter::once(&self.api)
            .chain(&self.masters)
            .chain(&self.workers)
    }

    fn procs_mut(&mut self) -> impl Iterator<Item = &mut Proc> {
        std::iter::once(&mut self.api)
            .chain(self.masters.iter_mut())
            .chain(self.workers.iter_mut())
    }

    /// Waits until every role is in the registry and, if `fresh` is given, until that
    /// member's registration is from a process started at or after that time (µs since the
    /// epoch): after a restart, the old registration may linger until its session expires.
    pub fn wait_registered(&mut self, fresh: Option<(&str, i64)>) -> Result<(), LaunchError> {
        let deadline = Instant::now() + self.register_within;
        let expected: Vec<String> = self.procs().map(|p| p.address.clone()).collect();
        loop {
            self.check_alive()?;
            let last = match self.get("/cluster") {
                Ok(v) => {
                    let started: HashMap<String, i64> = v["members"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| {
                            let id = m["id"].as_str()?.to_string();
                            let started = m["started_at"]
                                .as_str()
                                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                                .map_or(0, |t| t.timestamp_micros());
                            Some((id, started))
                        })
                        .collect();
                    let missing: Vec<&String> = expected
                        .iter()
                        .filter(|id| !started.contains_key(*id))
                        .collect();
                    let stale = fresh
                        .is_some_and(|(id, after)| started.get(id).is_none_or(|at| *at < after));
                    if missing.is_empty() && !stale {
                        return Ok(());
                    }
                    format!("not registered yet: {missing:?}")
                }
                Err(e) => e,
            };
            if Instant::now() > deadline {
                return Err(LaunchError::NotRegistered {
                    limit: self.register_within,
                    last,
                    logs: self.logs(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fails if a process that should be running has exited by itself.
    pub fn check_alive(&mut self) -> Result<(), LaunchError> {
        let exited: Vec<String> = self
            .procs_mut()
            .filter_map(|p| {
                let status = p.exited()?;
                Some(format!("{} ({status})", p.name))
            })
            .collect();
        if exited.is_empty() {
            return Ok(());
        }
        Err(LaunchError::Exited {
            exited: exited.join(", "),
            logs: self.logs(),
        })
    }

    /// GET on the API (`/cluster`), as JSON.
    pub fn get(&self, path: &str) -> Result<Value, String> {
        let r = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1{path}", self.api_url))
            .bearer_auth(&self.token)
            .send()
            .map_err(|e| e.to_string())?;
        r.json().map_err(|e| e.to_string())
    }

    /// Runs a client command of the same binary against this cluster.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(&self.baton)
            .args(args)
            .env("BATON_LOG", "warn")
            .env("BATON_SERVER", &self.api_url)
            .env("BATON_TOKEN", &self.token)
            .output()
            .expect("run the baton client")
    }

    /// Runs a client command that must succeed (panics with every log otherwise); returns
    /// its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "baton {args:?} failed: {stdout}\n{stderr}\n{}",
            self.logs()
        );
        stdout
    }

    /// The last lines of every process's log, and on PostgreSQL what each session of the
    /// database is doing, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for p in self.procs() {
            out.push_str(&format!("\n===== {} =====\n{}\n", p.name, p.log_tail(40)));
        }
        if self.database.starts_with("postgres") {
            out.push_str(&pg_sessions(&self.database));
        }
        out
    }

    /// Instance id → final state, once all of `ids` have ended (panics after `limit`).
    pub fn wait_all(&self, ids: &[i64], limit: Duration) -> BTreeMap<i64, String> {
        let deadline = Instant::now() + limit;
        loop {
            let mut states = BTreeMap::new();
            for id in ids {
                if let Ok(v) = self.get(&format!("/instances/{id}")) {
                    let state = v["instance"]["state"].as_str().unwrap_or("").to_string();
                    states.insert(*id, state);
                }
            }
            if states.len() == ids.len()
                && states
                    .values()
                    .all(|s| matches!(s.as_str(), "succeeded" | "failed" | "stopped"))
            {
                return states;
            }
            assert!(
                Instant::now() < deadline,
                "instances did not all end: {states:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in self.procs_mut() {
            p.kill();
        }
        for w in &self.workers {
            // Task processes live in their own process groups and outlive a SIGKILLed
            // worker; they carry its id, so they can be found and killed.
            baton_worker::reap_orphans(&w.address);
        }
    }
}

/// What every session of a PostgreSQL database is doing: a stalled cluster shows here who
/// waits on whose lock, or who sits idle inside a transaction.
fn pg_sessions(url: &str) -> String {
    let sql = "select pid, application_name, state, wait_event_type, wait_event, \
               now() - xact_start as in_xact, pg_blocking_pids(pid) as blocked_by, \
               left(query, 160) as query \
               from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()";
    match Command::new("psql").args([url, "-X", "-c", sql]).output() {
        Ok(out) => format!(
            "\n===== postgres sessions =====\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("\n(psql failed: {e})\n"),
    }
}
