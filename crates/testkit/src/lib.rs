//! Real `baton` processes on loopback, for the end-to-end tests and the benchmarks: one role
//! process ([`Proc`]) and a cluster of them ([`Cluster`]: an api, masters and workers sharing a
//! database and a registry). This is the one launcher both use, so that what the benchmarks
//! measure is what the tests check.

mod cluster;
pub mod moto;
mod proc;
pub mod tls;

/// The password the test servers' first `admin` gets (`BATON_ADMIN_PASSWORD`).
pub const TEST_ADMIN_PASSWORD: &str = "test-admin-password";

/// Logs in to the API at `api_url` (`http://host:port`) and returns the session token.
pub fn login(api_url: &str, user: &str, password: &str) -> Result<String, String> {
    login_with(&reqwest::blocking::Client::new(), api_url, user, password)
}

/// [`login`] through `client` (one that trusts a test CA, for an https server).
pub fn login_with(
    client: &reqwest::blocking::Client,
    api_url: &str,
    user: &str,
    password: &str,
) -> Result<String, String> {
    let body = serde_json::json!({"username": user, "password": password});
    let r = client
        .post(format!("{api_url}/api/v1/auth/login"))
        .json(&body)
        .send()
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let v: serde_json::Value = r.json().map_err(|e| e.to_string())?;
    match v["token"].as_str() {
        Some(t) if status.is_success() => Ok(t.to_string()),
        _ => Err(format!("login as {user}: {status} {v}")),
    }
}

/// Logs in as the test `admin`, retrying until `limit` (the server may still be starting).
pub fn login_admin(api_url: &str, limit: std::time::Duration) -> Result<String, String> {
    login_admin_with(&reqwest::blocking::Client::new(), api_url, limit)
}

/// [`login_admin`] through `client`.
pub fn login_admin_with(
    client: &reqwest::blocking::Client,
    api_url: &str,
    limit: std::time::Duration,
) -> Result<String, String> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        match login_with(client, api_url, "admin", TEST_ADMIN_PASSWORD) {
            Ok(t) => return Ok(t),
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

pub use cluster::{Cluster, Launch};
pub use proc::{reserve_addresses, Proc};

/// Why a process or a cluster could not be brought up.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The binary could not be started (missing, not executable) or its log not opened.
    #[error("cannot start `{what}`: {source}")]
    Spawn {
        /// The process, as `baton <role>` or a path.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// No free loopback port could be found.
    #[error("cannot find a free loopback port: {0}")]
    Port(std::io::Error),
    /// A process exited by itself while it should have been running.
    #[error("cluster processes exited: {exited}\n{logs}")]
    Exited {
        /// Each dead process, with its exit status.
        exited: String,
        /// The last lines of every log.
        logs: String,
    },
    /// The members did not all show up in the registry in time.
    #[error("the cluster's members did not all register within {limit:?} ({last})\n{logs}")]
    NotRegistered {
        /// How long it waited.
        limit: std::time::Duration,
        /// What the last look at the registry found.
        last: String,
        /// The last lines of every log.
        logs: String,
    },
}

impl LaunchError {
    /// A role exited because its listening port was taken before it bound it (a port found
    /// free is released before the role starts, and another test may take it meanwhile).
    pub fn port_taken(&self) -> bool {
        matches!(self, LaunchError::Exited { logs, .. } if logs.contains("Address already in use"))
    }
}
