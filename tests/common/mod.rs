//! Shared helpers for the end-to-end tests: start the real `baton` binary, call its API and
//! CLI, and wait on conditions with deadlines.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn baton_bin() -> &'static str {
    env!("CARGO_BIN_EXE_baton")
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two addresses on loopback with ports nobody listens on right now (an API's and a gRPC's).
fn free_addresses() -> (String, String) {
    (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    )
}

/// Polls `check` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `baton` with these arguments and environment; returns its output.
pub fn baton(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(baton_bin());
    cmd.args(args).env("BATON_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run baton")
}

/// `baton` with `stdin` fed in, `XDG_CONFIG_HOME` at `config`, and `env`.
pub fn baton_in(config: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(baton_bin());
    cmd.args(args)
        .env("BATON_LOG", "warn")
        .env("XDG_CONFIG_HOME", config)
        .env_remove("BATON_TOKEN")
        .env_remove("BATON_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run baton");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Output as text, for assertions and messages.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A file in `dir` with `content`.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// `baton run` of a file holding `yaml`: it must be refused before anything runs (exit 2);
/// returns what it printed on stderr, for the caller to check the problems named.
pub fn refused_by_run(dir: &Path, yaml: &str) -> String {
    let file = write(dir, "bad.yaml", yaml);
    let out = baton(&["run", file.to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    stderr
}

/// Whether a process with this pid exists (zombies count as gone).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// A blocking HTTP client, trusting the CA certificate `ca` (PEM) if given.
pub fn http_client(ca: Option<&Path>) -> reqwest::blocking::Client {
    let mut builder = reqwest::blocking::Client::builder();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// A `baton standalone` process.
pub struct Standalone {
    pub child: Child,
    pub api: String,
    pub listen: String,
    pub grpc: String,
    pub data_dir: PathBuf,
    pub database: Option<String>,
    pub extra: Vec<String>,
    /// The test `admin`'s session token, sent by [`Standalone::cli`] and [`Standalone::get`].
    pub token: String,
    /// The HTTP client of [`Standalone::request`] (trusting the test CA over https).
    pub client: reqwest::blocking::Client,
    /// The CA the clients trust, when the server speaks https.
    pub ca: Option<PathBuf>,
    /// Environment variables the server process gets besides the harness's own.
    pub env: Vec<(String, String)>,
    log: PathBuf,
}

/// A client command that keeps running (`events --follow`, `logs --follow`), with its stdout
/// read line by line on a thread of its own; killed when dropped.
pub struct Follower {
    child: Child,
    /// Its stdout, a line at a time.
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Standalone {
    /// Starts a client command against this server that keeps running (`--follow`).
    pub fn follow(&self, args: &[&str]) -> Follower {
        use std::io::BufRead;
        let mut cmd = Command::new(baton_bin());
        cmd.args(args)
            .env("BATON_SERVER", &self.api)
            .env("BATON_TOKEN", &self.token)
            .env("BATON_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(ca) = &self.ca {
            cmd.env("BATON_CA_CERT", ca);
        }
        let mut child = cmd.spawn().expect("the follower starts");
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("a piped stdout");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    /// Starts on free ports in `data_dir` and waits until the API answers.
    pub fn start(data_dir: &Path, database: Option<&str>, extra: &[&str]) -> Standalone {
        Standalone::launch(data_dir, database, extra, None, &[])
    }

    /// Starts as [`Standalone::start`] does, with `env` set for the server process (and kept
    /// for its restarts).
    pub fn start_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Standalone {
        Standalone::launch(data_dir, None, extra, None, env)
    }

    /// Starts speaking https with the test certificates (`--tls-cert`, `--tls-key`); its
    /// clients trust the test CA.
    pub fn start_tls(
        data_dir: &Path,
        certs: &baton_testkit::tls::TestCerts,
        extra: &[&str],
    ) -> Standalone {
        let mut args = vec![
            "--tls-cert",
            certs.server_cert.to_str().unwrap(),
            "--tls-key",
            certs.server_key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Standalone::launch(data_dir, None, &args, Some(&certs.ca_cert), &[])
    }

    fn launch(
        data_dir: &Path,
        database: Option<&str>,
        extra: &[&str],
        ca: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Standalone {
        let (listen, grpc) = free_addresses();
        let scheme = if ca.is_some() { "https" } else { "http" };
        let mut s = Standalone {
            child: Command::new("true").spawn().unwrap(),
            api: format!("{scheme}://{listen}"),
            listen,
            grpc,
            data_dir: data_dir.to_path_buf(),
            database: database.map(str::to_string),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            token: String::new(),
            client: http_client(ca),
            ca: ca.map(Path::to_path_buf),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            log: data_dir.join("standalone.log"),
        };
        // A port found free may be taken by another test before the server binds it: then
        // the server stops saying so, and starts again on other ports.
        for _ in 0..3 {
            match s.try_spawn() {
                Err(log) if log.contains("Address already in use") => {
                    (s.listen, s.grpc) = free_addresses();
                    s.api = format!("{scheme}://{}", s.listen);
                }
                Err(log) => panic!("baton standalone exited:\n{log}"),
                Ok(()) => break,
            }
        }
        s.token = baton_testkit::login_admin_with(&s.client, &s.api, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("log in to the test server: {e}\n{}", s.log_text()));
        s
    }

    fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("baton standalone exited:\n{log}");
        }
    }

    /// Starts the server and waits until its API answers; `Err` with what it printed when it
    /// exited instead.
    fn try_spawn(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.data_dir).unwrap();
        let printed = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(baton_bin());
        cmd.args([
            "standalone",
            "--listen",
            &self.listen,
            "--grpc-listen",
            &self.grpc,
        ])
        .arg("--data-dir")
        .arg(&self.data_dir)
        .args(&self.extra)
        .env("BATON_LOG", "info")
        .env("BATON_ADMIN_PASSWORD", baton_testkit::TEST_ADMIN_PASSWORD)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(db) = &self.database {
            cmd.args(["--database", db]);
        }
        self.child = cmd.spawn().expect("start baton standalone");
        let url = format!("{}/api/v1/health", self.api);
        let pid = self.child.id();
        wait_for("the API to answer", Duration::from_secs(30), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                let text = self.log_text();
                let new = text
                    .get(usize::try_from(printed).unwrap_or(0)..)
                    .unwrap_or(&text);
                return Some(Err(format!("(pid {pid}, {status}) {new}")));
            }
            self.client
                .get(&url)
                .send()
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| Ok(()))
        })
    }

    /// What the server printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills it with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same data directory and ports.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        wait_for("baton standalone to exit", Duration::from_secs(30), || {
            self.child.try_wait().unwrap()
        })
    }

    /// Runs a client command against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        let ca = self.ca.as_deref().map(|p| p.display().to_string());
        let mut env = vec![
            ("BATON_SERVER", self.api.as_str()),
            ("BATON_TOKEN", &self.token),
        ];
        if let Some(ca) = &ca {
            env.push(("BATON_CA_CERT", ca));
        }
        baton(args, &env)
    }

    /// A blocking HTTP request to the API (`path` under `/api/v1`) with the admin's token.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        self.client
            .request(method, format!("{}/api/v1{path}", self.api))
            .bearer_auth(&self.token)
    }

    /// Runs a client command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        let (stdout, stderr) = text(&out);
        assert!(
            out.status.success(),
            "baton {args:?} failed: {stdout}\n{stderr}"
        );
        stdout
    }

    /// GET on the API, as JSON.
    pub fn get(&self, path: &str) -> Value {
        self.request(reqwest::Method::GET, path)
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// Applies a workflow file and starts it; returns the instance id.
    pub fn start_workflow(&self, file: &Path, name: &str, params: &[&str]) -> i64 {
        self.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
        let mut args = vec!["workflow", "start", name];
        for p in params {
            args.push("--param");
            args.push(p);
        }
        self.ok(&args)
            .trim()
            .parse()
            .expect("workflow start prints the instance id")
    }

    /// The instance, with its tasks and attempts, as the API shows it.
    pub fn instance(&self, id: i64) -> Value {
        self.get(&format!("/instances/{id}"))
    }

    /// Waits until the instance ends; returns its final view.
    pub fn wait_end(&self, id: i64, limit: Duration) -> Value {
        wait_for(&format!("instance {id} to end"), limit, || {
            let v = self.instance(id);
            let state = v["instance"]["state"].as_str().unwrap_or("").to_string();
            matches!(state.as_str(), "succeeded" | "failed" | "stopped").then_some(v)
        })
    }

    /// The task instance of that name in the instance view.
    pub fn task<'a>(view: &'a Value, name: &str) -> &'a Value {
        view["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task_name"] == name)
            .unwrap_or_else(|| panic!("no task `{name}` in {view:#}"))
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A time of the API (an RFC 3339 string) as µs since the epoch; `None` when absent.
pub fn time_us(v: &Value) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(v.as_str()?).expect("an RFC 3339 time");
    Some(t.timestamp_micros())
}

pub mod cluster;
pub mod pg;
pub mod prom;
pub mod smtp;

/// The live processes whose environment holds `var=value` (zombies excluded): a task's
/// processes, found through a variable set in its `env`.
pub fn processes_with_env(var: &str, value: &str) -> Vec<i32> {
    let needle = format!("{var}={value}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|environ| environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .filter(|pid| alive(*pid))
        .collect()
}
