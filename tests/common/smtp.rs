//! A real SMTP server on a loopback port for the alert tests: aiosmtpd (from PyPI, installed
//! by `make smtpd`), run as a process of its own by `smtp_server.py` beside this file, plain
//! or with STARTTLS on a test certificate and one accepted login (AUTH over TLS only). The
//! script appends every mail (recipients and text) and every login attempt (user, password,
//! whether the connection was encrypted) to a file as JSON lines, which this side reads.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One mail received: its recipients and its text.
pub type Mail = (Vec<String>, String);

/// One login attempt the server was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name presented.
    pub user: String,
    /// The password presented.
    pub password: String,
    /// Whether the connection was encrypted (after STARTTLS) when it was sent.
    pub encrypted: bool,
}

/// How the server speaks: STARTTLS with this certificate (required before anything else),
/// and the one login it accepts (required before a mail); neither by default.
#[derive(Clone, Default)]
pub struct Options {
    tls: Option<(PathBuf, PathBuf)>,
    login: Option<(String, String)>,
}

impl Options {
    /// Offers STARTTLS with the certificate and key at these PEM files, and refuses a login
    /// before it.
    pub fn starttls(mut self, cert: &Path, key: &Path) -> Options {
        self.tls = Some((cert.to_path_buf(), key.to_path_buf()));
        self
    }

    /// Requires a login with this user and password before a mail.
    pub fn login(mut self, user: &str, password: &str) -> Options {
        self.login = Some((user.to_string(), password.to_string()));
        self
    }
}

/// The environment variable the script reads the accepted password from (not argv).
const PASSWORD_VARIABLE: &str = "SMTP_TEST_PASSWORD";

/// Where `make smtpd` installs aiosmtpd.
fn installed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/smtpd/bin/python")
}

/// Whether this Python imports aiosmtpd.
fn has_aiosmtpd(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Python to run the server with: `python3` on `PATH` when it has aiosmtpd, else the
/// project's own (`make smtpd`). Without either the test fails saying how to install it.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        [PathBuf::from("python3"), installed()]
            .into_iter()
            .find(|p| has_aiosmtpd(p))
            .unwrap_or_else(|| {
                panic!(
                    "aiosmtpd is not installed (neither python3 on PATH nor {} imports it): \
                     run `make smtpd` (aiosmtpd from PyPI into .tools/smtpd)",
                    installed().display()
                )
            })
    })
}

/// A running aiosmtpd process; killed when dropped.
pub struct Server {
    /// Its loopback port.
    pub port: u16,
    child: Child,
    record: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts aiosmtpd on a loopback port it picks and waits (30 s at most) until it says it
    /// listens.
    pub fn start(options: Options) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory for the SMTP server");
        let record = dir.path().join("received.jsonl");
        let log = dir.path().join("smtpd.log");
        let out = std::fs::File::create(&log).expect("the SMTP server's log file");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/smtp_server.py");
        let mut cmd = Command::new(python());
        cmd.arg(&script)
            .arg(&record)
            .env_remove(PASSWORD_VARIABLE)
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                out.try_clone().expect("the SMTP server's log file"),
            ))
            .stderr(Stdio::from(out));
        if let Some((cert, key)) = &options.tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        if let Some((user, password)) = &options.login {
            cmd.args(["--login", user]).env(PASSWORD_VARIABLE, password);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let mut server = Server {
            port: 0,
            child,
            record,
            log,
            _dir: dir,
        };
        server.port = server.wait_ready(Duration::from_secs(30));
        server
    }

    /// The port from the `ready on 127.0.0.1:PORT` line, once printed.
    fn wait_ready(&mut self, limit: Duration) -> u16 {
        let deadline = Instant::now() + limit;
        loop {
            let printed = self.log_text();
            let port = printed
                .lines()
                .find_map(|l| l.strip_prefix("ready on 127.0.0.1:"))
                .map(|p| {
                    p.trim()
                        .parse()
                        .unwrap_or_else(|e| panic!("aiosmtpd's port {p:?}: {e}"))
                });
            if let Some(port) = port {
                return port;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the SMTP server (aiosmtpd) exited with {status}:\n{printed}");
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP server (aiosmtpd) did not listen within {limit:?}:\n{printed}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the server printed.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The records written so far, each `{"mail": …}` or `{"login": …}` (a line still being
    /// written is left for the next read).
    fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("{}: not a JSON line: {e}: {line}", self.record.display())
                })
            })
            .collect()
    }

    /// The mails accepted so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        self.records()
            .into_iter()
            .filter_map(|r| {
                let mail = r.get("mail")?;
                let to = mail["to"]
                    .as_array()
                    .expect("a mail's recipients")
                    .iter()
                    .map(|t| t.as_str().expect("a recipient").to_string())
                    .collect();
                let content = mail["content"].as_str().expect("a mail's text").to_string();
                Some((to, content))
            })
            .collect()
    }

    /// The first mail, once there is one.
    pub fn first_mail(&self) -> Option<Mail> {
        self.mails().into_iter().next()
    }

    /// The logins tried so far, in order.
    pub fn logins(&self) -> Vec<Login> {
        self.records()
            .into_iter()
            .filter_map(|r| {
                let login = r.get("login")?;
                let text = |k: &str| login[k].as_str().expect("a login's field").to_string();
                Some(Login {
                    user: text("user"),
                    password: text("password"),
                    encrypted: login["encrypted"].as_bool().expect("a login's `encrypted`"),
                })
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
