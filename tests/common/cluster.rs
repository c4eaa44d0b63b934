//! A cluster of real `baton` processes on loopback: an api, masters and workers sharing a
//! PostgreSQL database and a registry.

use super::*;
use std::collections::BTreeMap;

/// One role process.
pub struct Proc {
    pub name: String,
    pub args: Vec<String>,
    pub child: Option<Child>,
    pub address: String,
    log: PathBuf,
}

impl Proc {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(baton_bin())
            .args(&self.args)
            .env("BATON_LOG", "info,baton_master=debug")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start a baton role");
        self.child = Some(child);
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.as_ref().expect("running").id() as i32)
    }

    /// SIGKILL, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), sig).unwrap();
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The processes of one cluster.
pub struct Cluster {
    pub dir: PathBuf,
    pub api: Proc,
    pub masters: Vec<Proc>,
    pub workers: Vec<Proc>,
    pub api_url: String,
    /// The metadata database, for a snapshot of its sessions in failure messages.
    pub database: String,
}

/// How to build a cluster.
pub struct Options<'a> {
    pub database: &'a str,
    pub registry: &'a str,
    pub masters: usize,
    pub workers: usize,
    pub session_timeout: &'a str,
    pub heartbeat_interval: &'a str,
}

impl Cluster {
    pub fn start(dir: &Path, o: Options<'_>) -> Cluster {
        let common = |role: &str| -> Vec<String> {
            vec![
                role.to_string(),
                "--database".into(),
                o.database.into(),
                "--registry".into(),
                o.registry.into(),
                "--session-timeout".into(),
                o.session_timeout.into(),
                "--heartbeat-interval".into(),
                o.heartbeat_interval.into(),
            ]
        };
        let api_addr = format!("127.0.0.1:{}", free_port());
        let mut api_args = common("api");
        api_args.extend(["--listen".into(), api_addr.clone()]);
        let mut api = Proc {
            name: "api".into(),
            args: api_args,
            child: None,
            address: api_addr.clone(),
            log: dir.join("api.log"),
        };
        api.spawn();
        let mut masters = Vec::new();
        for i in 0..o.masters {
            let addr = format!("127.0.0.1:{}", free_port());
            let mut args = common("master");
            args.extend(["--listen".into(), addr.clone()]);
            let mut p = Proc {
                name: format!("master{i}"),
                args,
                child: None,
                address: addr,
                log: dir.join(format!("master{i}.log")),
            };
            p.spawn();
            masters.push(p);
        }
        let master_list: Vec<String> = masters.iter().map(|m| m.address.clone()).collect();
        let mut workers = Vec::new();
        for i in 0..o.workers {
            let addr = format!("127.0.0.1:{}", free_port());
            let mut args = common("worker");
            args.extend([
                "--listen".into(),
                addr.clone(),
                "--data-dir".into(),
                dir.join(format!("worker{i}")).display().to_string(),
                "--masters".into(),
                master_list.join(","),
                "--kill-grace".into(),
                "1s".into(),
            ]);
            let mut p = Proc {
                name: format!("worker{i}"),
                args,
                child: None,
                address: addr,
                log: dir.join(format!("worker{i}.log")),
            };
            p.spawn();
            workers.push(p);
        }
        let cluster = Cluster {
            dir: dir.to_path_buf(),
            api,
            masters,
            workers,
            api_url: format!("http://{api_addr}"),
            database: o.database.to_string(),
        };
        let expected = 1 + o.masters + o.workers;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let members = cluster
                .get("/cluster")
                .ok()
                .and_then(|v| Some(v["members"].as_array()?.len()));
            if members == Some(expected) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{expected} members did not all register (seen: {members:?})\n{}",
                cluster.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    pub fn get(&self, path: &str) -> Result<Value, String> {
        let r = reqwest::blocking::get(format!("{}/api/v1{path}", self.api_url))
            .map_err(|e| e.to_string())?;
        r.json().map_err(|e| e.to_string())
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        baton(args, &[("BATON_SERVER", &self.api_url)])
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        let (stdout, stderr) = text(&out);
        assert!(
            out.status.success(),
            "baton {args:?} failed: {stdout}\n{stderr}\n{}",
            self.logs()
        );
        stdout
    }

    /// Every process's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for p in std::iter::once(&self.api)
            .chain(&self.masters)
            .chain(&self.workers)
        {
            let text = p.log_text();
            let tail: String = text
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            out.push_str(&format!("\n===== {} =====\n{tail}\n", p.name));
        }
        if self.database.starts_with("postgres") {
            out.push_str(&pg_sessions(&self.database));
        }
        out
    }

    /// Instance id → final state, once all of `ids` have ended.
    pub fn wait_all(&self, ids: &[i64], limit: Duration) -> BTreeMap<i64, String> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let mut states = BTreeMap::new();
            for id in ids {
                if let Ok(v) = self.get(&format!("/instances/{id}")) {
                    states.insert(
                        *id,
                        v["instance"]["state"].as_str().unwrap_or("").to_string(),
                    );
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
                std::time::Instant::now() < deadline,
                "instances did not all end: {states:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
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
