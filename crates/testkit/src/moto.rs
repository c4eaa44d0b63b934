//! A real S3-compatible server for the log archive's tests: moto's `moto_server` (from PyPI,
//! installed by `make moto`), started on a loopback port of its own.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `moto_server`; killed when dropped.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    log: PathBuf,
}

/// Where `make moto` installs moto when it is not on `PATH`.
fn installed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/moto/bin/moto_server")
}

/// The `moto_server` to run: the one on `PATH`, else the project's own (`make moto`).
fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(installed()).filter(|p| p.is_file()))
}

impl Moto {
    /// Starts moto and waits (30 s at most) until it answers. Without moto: in CI
    /// (`CI=true`) the test fails; elsewhere it is skipped, saying how to install moto
    /// (`None`).
    pub fn start(log_dir: &std::path::Path) -> Option<Moto> {
        let Some(bin) = binary() else {
            let how = "moto_server is not installed: run `make moto` (moto[server] from PyPI into .tools/moto)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{how}");
            }
            eprintln!("SKIPPED: {how}");
            return None;
        };
        let port = crate::reserve_addresses(1)
            .expect("a free loopback port")
            .remove(0)
            .rsplit_once(':')
            .map(|(_, p)| p.to_string())
            .expect("host:port");
        let log = log_dir.join("moto.log");
        let out = std::fs::File::create(&log).expect("moto's log file");
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().expect("moto's log file")))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        moto.wait_ready(Duration::from_secs(30));
        Some(moto)
    }

    fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let client = reqwest::blocking::Client::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited with {status}:\n{}", self.log_text());
            }
            if client.get(&self.endpoint).send().is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer within {limit:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What moto printed.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Creates a bucket (moto takes unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let r = reqwest::blocking::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .expect("moto answers");
        assert!(
            r.status().is_success(),
            "creating bucket {bucket}: {}",
            r.status()
        );
    }

    /// The environment an S3 client needs to reach this server: its endpoint over plain
    /// http, a region and (made-up) keys.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "baton-test-key"),
            ("AWS_SECRET_ACCESS_KEY", "baton-test-secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
