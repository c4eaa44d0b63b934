//! The Baton under measurement: one `baton standalone` process, or a cluster of an api, 2
//! masters and 2 workers (the end-to-end tests' launcher), on a database of the bench's own.
//! Dropping a [`Running`] kills every process and drops the database, whatever happened.

use crate::args::Target;
use crate::figures::{self, Figures};
use anyhow::{bail, Context};
use baton_testkit::{Cluster, Launch, Proc};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How many masters and workers the bench's cluster has.
const MASTERS: usize = 2;
const WORKERS: usize = 2;

/// Default worker slots per core in benchmarks (standalone's default is 2): short tasks are
/// bound by round trips, not CPU, and more slots keep both the engine and the processes busy.
pub const SLOTS_PER_CORE: usize = 8;

/// What runs.
enum Processes {
    Standalone(Proc),
    Cluster(Box<Cluster>),
}

/// A running Baton and the bench's ways to reach it: its REST API (to apply and start, as a
/// user would) and its database (to read what happened, exactly and without paging).
pub struct Running {
    /// The REST API.
    pub api: Api,
    /// The metadata database, read only by the bench.
    pub db: sqlx::AnyPool,
    /// Worker slots (per worker).
    pub slots: usize,
    /// The masters' dispatch strategy (cluster only).
    pub strategy: String,
    target: Target,
    processes: Processes,
    // Dropped after the processes are killed.
    pg: Option<BenchDb>,
    dir: Option<tempfile::TempDir>,
}

impl Running {
    /// Starts Baton as `target` says and waits until it answers (every member registered).
    pub async fn start(baton: &Path, target: &Target, strategy: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("baton-bench-").tempdir()?;
        let pg = match target.database.as_deref() {
            Some(url) if is_postgres(url) => Some(BenchDb::create(url)?),
            _ if target.cluster => bail!(
                "the cluster benchmarks need a PostgreSQL server: --database \
                 postgres://user@host:port/db (the bench creates a database of its own there \
                 and drops it at the end)"
            ),
            _ => None,
        };
        let database = match (&pg, &target.database) {
            (Some(db), _) => db.url.clone(),
            (None, Some(url)) => url.clone(),
            (None, None) => format!("sqlite://{}", dir.path().join("baton.db").display()),
        };
        let slots = target
            .slots
            .unwrap_or(SLOTS_PER_CORE * figures::cores())
            .max(1);
        let (processes, api_url) = if target.cluster {
            let cluster = start_cluster(baton, dir.path(), &database, target, strategy, slots)?;
            let url = cluster.api_url.clone();
            (Processes::Cluster(Box::new(cluster)), url)
        } else {
            let proc = start_standalone(baton, dir.path(), &database, slots)?;
            let url = format!("http://{}", proc.address);
            (Processes::Standalone(proc), url)
        };
        let mut running = Running {
            api: Api::new(&api_url)?,
            db: sqlx::AnyPool::connect_lazy(&reader_url(&database))?,
            slots,
            strategy: strategy.to_string(),
            target: target.clone(),
            processes,
            pg,
            dir: Some(dir),
        };
        if let Err(e) = running.wait_ready().await {
            running.keep_logs();
            return Err(e);
        }
        running.api.token = match &running.processes {
            Processes::Cluster(c) => c.token.clone(),
            Processes::Standalone(_) => tokio::task::block_in_place(|| {
                baton_testkit::login_admin(&api_url, Duration::from_secs(60))
            })
            .map_err(|e| anyhow::anyhow!("logging in to the bench's server: {e}"))?,
        };
        Ok(running)
    }

    /// Waits until the API answers; on a cluster, until the masters have seen every worker.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        match &self.processes {
            Processes::Cluster(_) => {
                // The masters learn of members by polling the registry once a heartbeat
                // interval: give them two to see every worker.
                tokio::time::sleep(self.target.heartbeat_interval * 2).await;
                Ok(())
            }
            Processes::Standalone(_) => {
                let deadline = Instant::now() + Duration::from_secs(60);
                while self.api.get("/health").await.is_err() {
                    self.check_alive()?;
                    if Instant::now() > deadline {
                        bail!("baton standalone did not answer within a minute");
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(())
            }
        }
    }

    /// The cluster, for the failover bench.
    pub fn cluster(&mut self) -> Option<&mut Cluster> {
        match &mut self.processes {
            Processes::Cluster(c) => Some(c),
            Processes::Standalone(_) => None,
        }
    }

    /// The addresses (registry ids) of the masters and of the workers; a standalone has none.
    pub fn addresses(&self) -> (Vec<String>, Vec<String>) {
        match &self.processes {
            Processes::Cluster(c) => {
                let of = |ps: &[Proc]| ps.iter().map(|p| p.address.clone()).collect();
                (of(&c.masters), of(&c.workers))
            }
            Processes::Standalone(_) => (Vec::new(), Vec::new()),
        }
    }

    /// One master or worker of the cluster.
    pub fn role(&mut self, role: Role, i: usize) -> anyhow::Result<&mut Proc> {
        let cluster = self.cluster().context("this bench runs on a cluster")?;
        let list = match role {
            Role::Master => &mut cluster.masters,
            Role::Worker => &mut cluster.workers,
        };
        list.get_mut(i).context("no such cluster member")
    }

    /// The members' heartbeat interval.
    pub fn heartbeat_interval(&self) -> Duration {
        self.target.heartbeat_interval
    }

    /// How many workers run tasks.
    pub fn workers(&self) -> usize {
        match &self.processes {
            Processes::Cluster(c) => c.workers.len(),
            Processes::Standalone(_) => 1,
        }
    }

    /// Fails if a process that should be running has exited by itself.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match &mut self.processes {
            Processes::Cluster(c) => tokio::task::block_in_place(|| c.check_alive())?,
            Processes::Standalone(p) => {
                if let Some(status) = p.exited() {
                    bail!("baton standalone exited ({status}):\n{}", p.log_tail(30));
                }
            }
        }
        Ok(())
    }

    /// Keeps the logs (the temporary directory) after the bench and says where they are.
    pub fn keep_logs(&mut self) {
        if let Some(dir) = self.dir.take() {
            eprintln!("logs kept in {}", dir.keep().display());
        }
    }

    /// The database, fit to print.
    pub fn database(&self) -> String {
        match (&self.pg, &self.target.database) {
            (Some(db), _) => baton_store::redact_url(&db.url),
            (None, Some(url)) => baton_store::redact_url(url),
            (None, None) => "sqlite (temporary)".into(),
        }
    }

    /// The figures every bench prints first: what ran, on what.
    pub fn describe(&self, f: &mut Figures) {
        f.add("database", self.database());
        match &self.processes {
            Processes::Standalone(_) => f.add("slots", self.slots),
            Processes::Cluster(c) => {
                f.add("masters", c.masters.len());
                f.add("workers", c.workers.len());
                f.add("slots_per_worker", self.slots);
                f.add("strategy", &self.strategy);
                f.add("registry", &self.target.registry);
                let secs = |d: Duration| format!("{:.3}", d.as_secs_f64());
                f.add("session_timeout_s", secs(self.target.session_timeout));
                f.add("heartbeat_interval_s", secs(self.target.heartbeat_interval));
            }
        }
    }

    /// Peak resident memory in MB of each kind of process: `peak_rss_mb` of a standalone; of
    /// the api, the largest master and the largest worker of a cluster.
    pub fn add_peak_rss(&self, f: &mut Figures) {
        let rss = |p: &Proc| p.os_pid().map(figures::peak_rss_mb).unwrap_or(0.0);
        let max = |ps: &[Proc]| ps.iter().map(rss).fold(0.0, f64::max);
        match &self.processes {
            Processes::Standalone(p) => f.add("peak_rss_mb", format!("{:.1}", rss(p))),
            Processes::Cluster(c) => {
                f.add("peak_rss_mb_api", format!("{:.1}", rss(&c.api)));
                f.add("peak_rss_mb_master", format!("{:.1}", max(&c.masters)));
                f.add("peak_rss_mb_worker", format!("{:.1}", max(&c.workers)));
            }
        }
    }

    /// CPU time used so far (see [`Cpu`]).
    pub fn cpu(&self) -> Cpu {
        let (machine_busy, machine_total) = figures::machine_cpu_s();
        let cpu = |p: &Proc| p.os_pid().map(figures::process_cpu_s).unwrap_or(0.0);
        let (api, masters, workers) = match &self.processes {
            Processes::Standalone(p) => (0.0, cpu(p), 0.0),
            Processes::Cluster(c) => (
                cpu(&c.api),
                c.masters.iter().map(cpu).sum(),
                c.workers.iter().map(cpu).sum(),
            ),
        };
        Cpu {
            machine_busy,
            machine_total,
            api,
            masters,
            workers,
        }
    }
}

fn start_standalone(
    baton: &Path,
    dir: &Path,
    database: &str,
    slots: usize,
) -> anyhow::Result<Proc> {
    let addresses = baton_testkit::reserve_addresses(2)?;
    let args = [
        "standalone",
        "--listen",
        &addresses[0],
        "--grpc-listen",
        &addresses[1],
        "--data-dir",
        &dir.join("data").display().to_string(),
        "--database",
        database,
        "--slots",
        &slots.to_string(),
    ]
    .map(str::to_string)
    .to_vec();
    let log = dir.join("standalone.log");
    // As quiet as the bench's embedded node always was: a line per task costs CPU.
    let filter = Some("warn".to_string());
    let mut proc = Proc::new(baton.into(), "standalone", &addresses[0], args, log, filter);
    proc.env.push((
        "BATON_ADMIN_PASSWORD".into(),
        baton_testkit::TEST_ADMIN_PASSWORD.into(),
    ));
    proc.spawn()?;
    Ok(proc)
}

fn start_cluster(
    baton: &Path,
    dir: &Path,
    database: &str,
    target: &Target,
    strategy: &str,
    slots: usize,
) -> anyhow::Result<Cluster> {
    let d = baton_core::duration::format;
    let mut launch = Launch::new(baton, dir, database);
    launch.registry = target.registry.clone();
    launch.masters = MASTERS;
    launch.workers = WORKERS;
    launch.session_timeout = d(target.session_timeout);
    launch.heartbeat_interval = d(target.heartbeat_interval);
    launch.master_args = vec!["--strategy".into(), strategy.into()];
    launch.worker_args = ["--slots", &slots.to_string(), "--shutdown-grace", "1s"]
        .map(str::to_string)
        .to_vec();
    Ok(tokio::task::block_in_place(|| Cluster::start(launch))?)
}

/// A kind of cluster role that the failover bench kills and restarts.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// A master.
    Master,
    /// A worker.
    Worker,
}

/// CPU time used by the machine and by each kind of role, at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    machine_busy: f64,
    machine_total: f64,
    api: f64,
    masters: f64,
    workers: f64,
}

impl Cpu {
    /// Adds what was used between `before` and `self` (`cpu_s_masters` is the standalone
    /// process's time when it is not a cluster).
    pub fn add_since(self, before: Cpu, f: &mut Figures) {
        let busy = self.machine_busy - before.machine_busy;
        let total = self.machine_total - before.machine_total;
        let api = self.api - before.api;
        let masters = self.masters - before.masters;
        let workers = self.workers - before.workers;
        let pct = if total > 0.0 {
            100.0 * busy / total
        } else {
            0.0
        };
        f.add("cpu_busy_pct", format!("{pct:.0}"));
        f.add("cpu_s_api", format!("{api:.2}"));
        f.add("cpu_s_masters", format!("{masters:.2}"));
        f.add("cpu_s_workers_with_tasks", format!("{workers:.2}"));
        f.add(
            "cpu_s_other",
            format!("{:.2}", (busy - api - masters - workers).max(0.0)),
        );
    }
}

/// The REST API, as a user's client reaches it.
pub struct Api {
    http: reqwest::Client,
    base: String,
    /// The admin's session token, sent with every call but `/health`.
    token: String,
}

impl Api {
    fn new(url: &str) -> anyhow::Result<Api> {
        Ok(Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            base: format!("{url}/api/v1"),
            token: String::new(),
        })
    }

    /// GET; fails on an error status.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send();
        let r = r.await.with_context(|| format!("GET {path}"))?;
        let status = r.status();
        let v: Value = r.json().await.with_context(|| format!("GET {path}"))?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {v}");
        }
        Ok(v)
    }

    /// POSTs `body`; returns the status and the answer (an error status is not an error).
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body);
        let r = r.send().await.with_context(|| format!("POST {path}"))?;
        let status = r.status();
        let v: Value = r.json().await.with_context(|| format!("POST {path}"))?;
        Ok((status, v))
    }

    /// Applies a workflow file; fails if the API refuses it.
    pub async fn apply(&self, source: &str) -> anyhow::Result<()> {
        let body = json!({ "source": source, "file": "bench.yaml" });
        let (status, v) = self.post("/workflows", &body).await?;
        if !status.is_success() {
            bail!("applying a bench workflow: {status}: {v}");
        }
        Ok(())
    }

    /// Starts an instance of a workflow; returns its id.
    pub async fn start_instance(&self, workflow: &str) -> anyhow::Result<i64> {
        let path = format!("/workflows/{workflow}/start");
        let (status, v) = self.post(&path, &json!({})).await?;
        if !status.is_success() {
            bail!("starting {workflow}: {status}: {v}");
        }
        v["id"]
            .as_i64()
            .context("the start answered no instance id")
    }
}

pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL the bench reads the database with (SQLite: read-only, beside the writer).
fn reader_url(database: &str) -> String {
    sqlx::any::install_default_drivers();
    if is_postgres(database) || database.contains('?') {
        database.to_string()
    } else {
        format!("{database}?mode=ro")
    }
}

/// The bench's own PostgreSQL database, dropped with the value.
pub(crate) struct BenchDb {
    server: String,
    name: String,
    pub(crate) url: String,
}

impl BenchDb {
    pub(crate) fn create(server: &str) -> anyhow::Result<BenchDb> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        let name = format!("baton_bench_{}_{stamp}", std::process::id());
        let url = with_database(server, &name)?;
        psql(server, &format!("CREATE DATABASE {name}"))?;
        Ok(BenchDb {
            server: server.to_string(),
            name,
            url,
        })
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.server, &sql) {
            eprintln!(
                "warning: could not drop the bench database {}: {e:#}",
                self.name
            );
        }
    }
}

/// Runs one statement with `psql` (PostgreSQL's client), which handles every way of logging
/// in that the server may ask for.
fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "the bench creates its PostgreSQL database with psql, PostgreSQL's \
                     client: install it (e.g. apt-get install postgresql-client)"
                )
            } else {
                anyhow::anyhow!("cannot run psql: {e}")
            }
        })?;
    if !out.status.success() {
        bail!(
            "psql on {}: `{sql}`: {}",
            baton_store::redact_url(url),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `url` with its database replaced by `name` (user, password, host and query kept).
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let scheme_end = url.find("://").context("a database URL has a scheme")? + 3;
    let rest = &url[scheme_end..];
    let (path, query) = match rest.find('?') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = path.split('/').next().unwrap_or_default();
    Ok(format!("{}{authority}/{name}{query}", &url[..scheme_end]))
}

/// The `baton` binary to measure: `--baton`, else the one next to this executable.
pub fn baton_binary(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match flag {
        Some(p) => p,
        None => std::env::current_exe()
            .context("cannot find this executable's directory")?
            .with_file_name("baton"),
    };
    if !path.is_file() {
        bail!(
            "no baton binary at {}: build one (cargo build --release --bin baton) or pass \
             --baton PATH",
            path.display()
        );
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        let w = |u| with_database(u, "b").unwrap();
        assert_eq!(
            w("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            w("postgres://u:p@h/x?sslmode=disable"),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(w("postgresql://h:5432"), "postgresql://h:5432/b");
    }
}
