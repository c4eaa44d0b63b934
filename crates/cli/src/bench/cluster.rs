//! `baton bench fanout|chain --cluster`: the workload on a cluster of real processes, and the
//! cluster itself (also used by `baton bench failover`).
//!
//! The bench creates a database of its own on the PostgreSQL server given by `--database`,
//! starts `baton api`, 2 × `baton master` and 2 × `baton worker` as children of its own binary
//! on free loopback ports (each with its log in a temporary directory), waits until all are
//! in the registry, and talks to them only through the REST API. Every child is killed and the
//! database dropped when the [`Cluster`] is dropped, whatever happened.

use super::{Figures, BENCH_SLOTS_PER_CORE};
use crate::args::BenchArgs;
use crate::exit::Exit;
use anyhow::{bail, Context};
use baton_core::WorkflowSpec;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many masters and workers the bench's cluster has.
pub(super) const MASTERS: usize = 2;
pub(super) const WORKERS: usize = 2;

/// How often the bench polls the API while it waits for something.
pub(super) const POLL: Duration = Duration::from_millis(50);

/// How to build the cluster.
pub(super) struct Options {
    /// The PostgreSQL server (a URL; its database is only used to create the bench's own).
    pub server: String,
    pub registry: String,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// The masters' dispatch strategy.
    pub strategy: String,
    /// Per worker.
    pub slots: usize,
    pub kill_grace: Duration,
    pub log_max_bytes: u64,
}

impl Options {
    pub fn from_args(args: &BenchArgs) -> anyhow::Result<Options> {
        let server = match args.database.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                url.to_string()
            }
            _ => {
                return Err(Exit::BadInput(
                    "the cluster benchmarks need a PostgreSQL server: \
                     --database postgres://user@host:port/db (the bench creates a database of \
                     its own there and drops it at the end)"
                        .into(),
                )
                .into())
            }
        };
        Ok(Options {
            server,
            registry: args.registry.clone(),
            session_timeout: args.session_timeout,
            heartbeat_interval: args.heartbeat_interval,
            strategy: args
                .strategy
                .clone()
                .unwrap_or_else(|| "lowest_load".into()),
            slots: args
                .node
                .slots
                .unwrap_or(BENCH_SLOTS_PER_CORE * super::cores())
                .max(1),
            kill_grace: args.node.kill_grace,
            log_max_bytes: args.node.log_max_bytes,
        })
    }
}

/// One child process: a cluster role.
pub(super) struct Proc {
    pub name: String,
    /// host:port it listens on; also its id in the registry.
    pub address: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn spawn(&mut self, exe: &Path) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let child = Command::new(exe)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: a Ctrl-C at the terminal reaches only the bench, which
            // then kills its children itself.
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start `baton {}`", self.args[0]))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, as a crash; returns once the process is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Set when the process has exited by itself.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok()?
    }

    fn peak_rss_mb(&self) -> f64 {
        self.pid()
            .map(|pid| super::peak_rss_mb(&pid.to_string()))
            .unwrap_or(0.0)
    }

    /// CPU seconds used so far by the process and its reaped children (a worker's tasks).
    fn cpu_s(&self) -> f64 {
        self.pid().map(process_cpu_s).unwrap_or(0.0)
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux).
const TICKS: f64 = 100.0;

/// utime + stime + cutime + cstime of a process, in seconds (0 if it cannot be read).
fn process_cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses): state is the first, utime
    // the 12th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    rest.split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum::<f64>()
        / TICKS
}

/// The whole machine's CPU time so far: (busy, total) in seconds of all cores.
fn machine_cpu_s() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0.0, 0.0);
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: f64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / TICKS, total / TICKS)
}

/// CPU time used by the machine and by each kind of role, at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cpu {
    machine_busy: f64,
    machine_total: f64,
    api: f64,
    masters: f64,
    workers: f64,
}

impl Cpu {
    /// Adds what was used between `before` and `self`.
    fn add_since(self, before: Cpu, f: &mut Figures) {
        let busy = self.machine_busy - before.machine_busy;
        let total = self.machine_total - before.machine_total;
        let (api, masters, workers) = (
            self.api - before.api,
            self.masters - before.masters,
            self.workers - before.workers,
        );
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

/// The bench's own PostgreSQL database, dropped with the value.
struct BenchDb {
    server: String,
    name: String,
    url: String,
}

impl BenchDb {
    fn create(server: &str) -> anyhow::Result<BenchDb> {
        let name = format!(
            "baton_bench_{}_{}",
            std::process::id(),
            baton_store::now_us()
        );
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
                    "the cluster benchmarks create their database with psql, PostgreSQL's \
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

/// A free loopback address; the listener is kept until all addresses are chosen, so that two
/// roles never get the same port.
fn reserve() -> anyhow::Result<(std::net::TcpListener, String)> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    let address = l.local_addr()?.to_string();
    Ok((l, address))
}

/// The bench's cluster. Dropping it kills every child and drops the database.
pub(super) struct Cluster {
    pub api: Proc,
    pub masters: Vec<Proc>,
    pub workers: Vec<Proc>,
    pub options: Options,
    exe: PathBuf,
    http: reqwest::Client,
    base: String,
    // Dropped in this order, after `Drop::drop` killed the children.
    db: BenchDb,
    dir: Option<tempfile::TempDir>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.api.kill();
        for p in self.masters.iter_mut() {
            p.kill();
        }
        for p in self.workers.iter_mut() {
            p.kill();
            // Task processes live in their own process groups and outlive a SIGKILLed
            // worker; they carry its id, so they can be found and killed.
            baton_worker::reap_orphans(&p.address);
        }
    }
}

impl Cluster {
    /// Creates the database, starts every role and waits until all are in the registry.
    pub async fn start(options: Options) -> anyhow::Result<Cluster> {
        let exe = std::env::current_exe().context("cannot find the baton binary")?;
        let db = BenchDb::create(&options.server)?;
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-cluster-")
            .tempdir()?;
        let d = baton_core::duration::format;
        let common = |role: &str| -> Vec<String> {
            vec![
                role.to_string(),
                "--database".into(),
                db.url.clone(),
                "--registry".into(),
                options.registry.clone(),
                "--session-timeout".into(),
                d(options.session_timeout),
                "--heartbeat-interval".into(),
                d(options.heartbeat_interval),
            ]
        };
        let mut reserved = Vec::new();
        let mut proc = |name: String, mut args: Vec<String>| -> anyhow::Result<Proc> {
            let (l, address) = reserve()?;
            reserved.push(l);
            args.extend(["--listen".into(), address.clone()]);
            Ok(Proc {
                log: dir.path().join(format!("{name}.log")),
                name,
                address,
                args,
                child: None,
            })
        };
        let api = proc("api".into(), common("api"))?;
        let masters = (0..MASTERS)
            .map(|i| {
                let mut args = common("master");
                args.extend(["--strategy".into(), options.strategy.clone()]);
                proc(format!("master{i}"), args)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let master_list: Vec<&str> = masters.iter().map(|m| m.address.as_str()).collect();
        let master_list = master_list.join(",");
        let workers = (0..WORKERS)
            .map(|i| {
                let mut args = common("worker");
                args.extend([
                    "--data-dir".into(),
                    dir.path().join(format!("worker{i}")).display().to_string(),
                    "--masters".into(),
                    master_list.clone(),
                    "--slots".into(),
                    options.slots.to_string(),
                    "--kill-grace".into(),
                    d(options.kill_grace),
                    "--log-max-bytes".into(),
                    options.log_max_bytes.to_string(),
                    "--shutdown-grace".into(),
                    "1s".into(),
                ]);
                proc(format!("worker{i}"), args)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        drop(reserved);
        let base = format!("http://{}/api/v1", api.address);
        let mut cluster = Cluster {
            api,
            masters,
            workers,
            options,
            exe,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            base,
            db,
            dir: Some(dir),
        };
        let mut result = cluster.api.spawn(&cluster.exe);
        for p in cluster.masters.iter_mut().chain(cluster.workers.iter_mut()) {
            result = result.and_then(|_| p.spawn(&cluster.exe));
        }
        if let Err(e) = result {
            cluster.keep_logs();
            return Err(e);
        }
        if let Err(e) = cluster.wait_members(None).await {
            cluster.keep_logs();
            return Err(e);
        }
        Ok(cluster)
    }

    /// Starts a role again after [`Proc::kill`] (same address, same data directory).
    pub fn restart(&mut self, role: Role, i: usize) -> anyhow::Result<()> {
        let exe = self.exe.clone();
        match role {
            Role::Master => self.masters[i].spawn(&exe),
            Role::Worker => self.workers[i].spawn(&exe),
        }
    }

    /// Waits (at most a minute) until every role is in the registry, and, if `fresh` is
    /// given, until that member's registration is from a process started after that time
    /// (µs since the epoch); then two heartbeat intervals more, for the masters' views.
    pub async fn wait_members(&mut self, fresh: Option<(&str, i64)>) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let expected: Vec<String> = std::iter::once(&self.api)
            .chain(&self.masters)
            .chain(&self.workers)
            .map(|p| p.address.clone())
            .collect();
        loop {
            self.check_alive()?;
            let last = match self.get("/cluster").await {
                Ok(v) => {
                    let members = v["members"].as_array().cloned().unwrap_or_default();
                    let started: HashMap<&str, i64> = members
                        .iter()
                        .filter_map(|m| {
                            Some((
                                m["id"].as_str()?,
                                api_time_us(&m["started_at"]).unwrap_or(0),
                            ))
                        })
                        .collect();
                    let missing: Vec<&str> = expected
                        .iter()
                        .map(String::as_str)
                        .filter(|id| !started.contains_key(id))
                        .collect();
                    let stale = fresh
                        .is_some_and(|(id, after)| started.get(id).is_none_or(|at| *at < after));
                    if missing.is_empty() && !stale {
                        // The masters learn of members by polling the registry once a
                        // heartbeat interval: give them two to see every worker.
                        tokio::time::sleep(self.options.heartbeat_interval * 2).await;
                        return Ok(());
                    }
                    format!("not registered yet: {missing:?}")
                }
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() > deadline {
                bail!(
                    "the cluster's members did not all register within a minute ({last})\n{}",
                    self.log_tails()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails if a child that should be running has exited by itself.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        let mut dead = Vec::new();
        for p in std::iter::once(&mut self.api)
            .chain(self.masters.iter_mut())
            .chain(self.workers.iter_mut())
        {
            if let Some(status) = p.exited() {
                dead.push(format!("{} ({status})", p.name));
            }
        }
        if !dead.is_empty() {
            bail!(
                "cluster processes exited: {}\n{}",
                dead.join(", "),
                self.log_tails()
            );
        }
        Ok(())
    }

    /// The last lines of every role's log, for error messages.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        for p in std::iter::once(&self.api)
            .chain(&self.masters)
            .chain(&self.workers)
        {
            out.push_str(&format!("===== {} =====\n{}\n", p.name, p.log_tail(15)));
        }
        out
    }

    /// Keeps the logs (the temporary directory) after the bench and says where they are.
    pub fn keep_logs(&mut self) {
        if let Some(dir) = self.dir.take() {
            eprintln!("cluster logs kept in {}", dir.keep().display());
        }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
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
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = r.status();
        let v: Value = r.json().await.with_context(|| format!("POST {path}"))?;
        Ok((status, v))
    }

    /// Applies a workflow file; fails if the API refuses it.
    pub async fn apply(&self, source: &str) -> anyhow::Result<()> {
        let (status, v) = self
            .post(
                "/workflows",
                &json!({ "source": source, "file": "bench.yaml" }),
            )
            .await?;
        if !status.is_success() {
            bail!("applying the bench workflow: {status}: {v}");
        }
        Ok(())
    }

    /// Starts an instance of a workflow; returns its id.
    pub async fn start_instance(&self, workflow: &str) -> anyhow::Result<i64> {
        let (status, v) = self
            .post(&format!("/workflows/{workflow}/start"), &json!({}))
            .await?;
        if !status.is_success() {
            bail!("starting {workflow}: {status}: {v}");
        }
        v["id"]
            .as_i64()
            .context("the start answered no instance id")
    }

    /// The bench's database, fit to print.
    pub fn database(&self) -> String {
        baton_store::redact_url(&self.db.url)
    }

    /// Peak resident memory in MB: the api, the largest master, the largest worker.
    fn peak_rss(&self) -> (f64, f64, f64) {
        let max = |ps: &[Proc]| ps.iter().map(Proc::peak_rss_mb).fold(0.0, f64::max);
        (
            self.api.peak_rss_mb(),
            max(&self.masters),
            max(&self.workers),
        )
    }

    /// CPU time used so far (see [`Cpu`]).
    fn cpu(&self) -> Cpu {
        let (machine_busy, machine_total) = machine_cpu_s();
        Cpu {
            machine_busy,
            machine_total,
            api: self.api.cpu_s(),
            masters: self.masters.iter().map(Proc::cpu_s).sum(),
            workers: self.workers.iter().map(Proc::cpu_s).sum(),
        }
    }

    /// The figures every cluster bench prints first.
    pub fn describe(&self, f: &mut Figures) {
        f.add("masters", self.masters.len());
        f.add("workers", self.workers.len());
        f.add("slots_per_worker", self.options.slots);
        f.add("strategy", &self.options.strategy);
        f.add("registry", &self.options.registry);
        f.add("database", self.database());
        f.add(
            "session_timeout_s",
            format!("{:.3}", self.options.session_timeout.as_secs_f64()),
        );
        f.add(
            "heartbeat_interval_s",
            format!("{:.3}", self.options.heartbeat_interval.as_secs_f64()),
        );
    }
}

/// Which kind of role to restart.
#[derive(Debug, Clone, Copy)]
pub(super) enum Role {
    Master,
    Worker,
}

/// `baton bench fanout|chain --cluster`.
pub(super) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let n = args.tasks.max(1);
    let source = super::workload(args.shape, args.executor, n);
    let spec = WorkflowSpec::from_yaml(&source, "bench")?;
    let mut cluster = Cluster::start(Options::from_args(args)?).await?;
    let result = measure(&mut cluster, &spec, &source, n).await;
    let (rss_api, rss_master, rss_worker) = cluster.peak_rss();
    let mut f = Figures::default();
    f.add("workload", super::shape_name(args.shape));
    f.add("executor", super::executor_name(args.executor));
    f.add("tasks", n);
    cluster.describe(&mut f);
    if result.is_err() || args.keep_logs {
        cluster.keep_logs();
    }
    drop(cluster);
    let (wall, gaps, (cpu_before, cpu_after)) = result?;
    f.add("wall_s", format!("{:.3}", wall.as_secs_f64()));
    f.add(
        "tasks_per_s",
        format!("{:.1}", n as f64 / wall.as_secs_f64()),
    );
    super::add_gaps(&mut f, &gaps);
    cpu_after.add_since(cpu_before, &mut f);
    f.add("peak_rss_mb_api", format!("{rss_api:.1}"));
    f.add("peak_rss_mb_master", format!("{rss_master:.1}"));
    f.add("peak_rss_mb_worker", format!("{rss_worker:.1}"));
    f.print();
    Ok(())
}

/// Applies and starts the workflow through the API and polls until it ends; returns the wall
/// time (bench process clock), the sorted gaps in microseconds, and the CPU times at the
/// start and the end.
async fn measure(
    c: &mut Cluster,
    spec: &WorkflowSpec,
    source: &str,
    n: usize,
) -> anyhow::Result<(Duration, Vec<i64>, (Cpu, Cpu))> {
    c.apply(source).await?;
    // Generous: only there so that a stuck run does not hang the bench forever.
    let limit = Duration::from_secs(300) + Duration::from_millis(100) * n as u32;
    let cpu_before = c.cpu();
    let started = Instant::now();
    let id = c.start_instance(&spec.name).await?;
    // Poll the list (one row), not the instance, whose answer holds every task instance.
    let list = format!("/instances?workflow={}&limit=1", spec.name);
    let state = loop {
        tokio::time::sleep(POLL).await;
        let v = c.get(&list).await?;
        let instance = &v["instances"][0];
        anyhow::ensure!(
            instance["id"].as_i64() == Some(id),
            "the instance list does not show instance {id}: {v}"
        );
        let state = instance["state"].as_str().unwrap_or_default();
        if matches!(state, "succeeded" | "failed" | "stopped") {
            break state.to_string();
        }
        c.check_alive()?;
        if started.elapsed() > limit {
            bail!("the benchmark workflow did not end within {limit:?}");
        }
    };
    let wall = started.elapsed();
    let cpu_after = c.cpu();
    anyhow::ensure!(state == "succeeded", "the benchmark workflow ended {state}");
    let v = c.get(&format!("/instances/{id}")).await?;
    let tasks = v["tasks"].as_array().cloned().unwrap_or_default();
    let times: HashMap<&str, (i64, i64)> = tasks
        .iter()
        .filter_map(|t| {
            Some((
                t["task_name"].as_str()?,
                (api_time_us(&t["started_at"])?, api_time_us(&t["ended_at"])?),
            ))
        })
        .collect();
    anyhow::ensure!(
        times.len() == spec.tasks.len(),
        "{} of {} task instances have start and end times",
        times.len(),
        spec.tasks.len()
    );
    Ok((wall, super::gaps(spec, &times), (cpu_before, cpu_after)))
}

/// A time of the API (RFC 3339) in µs since the epoch.
fn api_time_us(v: &Value) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
    Some(t.timestamp_micros())
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
