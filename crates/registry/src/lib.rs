//! Who is in the cluster: masters, workers and api servers register here, renew their
//! membership with a heartbeat that carries their load, and see each other. A member whose
//! heartbeat is older than the session timeout is dead to the others; a member that cannot
//! renew its own session within the timeout must act as dead itself (a worker kills its
//! attempts, a master drops its instances), because the others are already re-running its work.
//!
//! One trait, [`Registry`], with two backends: `db` (rows with an expiry in the metadata
//! database, the default) and `etcd` (leases and watches).

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub mod db;
pub mod etcd;
pub mod load;
pub mod membership;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::DbRegistry;
pub use etcd::EtcdRegistry;
pub use load::host_load;
pub use membership::{watch_members, Membership, SessionState};

/// What a member does in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs workflow instances.
    Master,
    /// Runs task attempts.
    Worker,
    /// Serves the REST API.
    Api,
}

impl Role {
    /// The name used in keys and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Worker => "worker",
            Role::Api => "api",
        }
    }
}

/// What a member reports with each heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// CPU use of the host, 0.0 to 1.0.
    pub cpu: f32,
    /// Memory used on the host, in MiB.
    pub memory_used_mb: u64,
    /// Memory of the host, in MiB.
    pub memory_total_mb: u64,
    /// One-minute load average of the host.
    pub load1: f32,
    /// Task attempts running on it (workers) or instances it owns (masters).
    pub running: u32,
    /// Task slots (workers).
    pub slots: u32,
}

/// A member of the cluster as registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Unique and stable across restarts of the same process on the same host: its address.
    pub id: String,
    /// What it does.
    pub role: Role,
    /// host:port where others reach it (gRPC for masters and workers, HTTP for api).
    pub address: String,
    /// The worker group (workers only).
    pub group: Option<String>,
    /// Baton's version.
    pub version: String,
    /// When this process started (µs since the epoch).
    pub started_at: i64,
    /// Its last report.
    pub load: Load,
}

/// A live member and when it last renewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// The member.
    pub member: Member,
    /// Its last successful heartbeat (µs since the epoch, by the registry's clock).
    pub heartbeat_at: i64,
    /// Identifies this registration: a member that re-registers after losing its session gets
    /// a new one, so others can tell a restart from a renewal.
    pub session: String,
}

/// A registry failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// This member's session expired (or was removed) before it could renew: others consider
    /// it dead. It must stop its work and register again.
    #[error("the registry session of `{0}` has expired")]
    SessionLost(String),
    /// The registry cannot be reached now.
    #[error("the registry is unavailable: {0}")]
    Unavailable(String),
    /// A bad registry URL or setting.
    #[error("bad registry configuration: {0}")]
    Config(String),
}

/// Membership with heartbeats and sessions. Implementations are cheap to share (`Arc`).
#[async_trait::async_trait]
pub trait Registry: Send + Sync + 'static {
    /// Starts a new session for `member` (replacing any earlier registration under its id);
    /// returns the session id.
    async fn register(&self, member: &Member) -> Result<String, RegistryError>;

    /// Renews the session with fresh data. `SessionLost` when it expired meanwhile.
    async fn heartbeat(&self, member: &Member, session: &str) -> Result<(), RegistryError>;

    /// Ends the session at once (graceful stop): others see the member gone without waiting.
    async fn deregister(&self, id: &str, session: &str) -> Result<(), RegistryError>;

    /// Every member whose session is alive now.
    async fn members(&self) -> Result<Vec<Registration>, RegistryError>;

    /// The session timeout: a session not renewed for this long is dead.
    fn session_timeout(&self) -> Duration;
}

/// Opens the registry a setting names, so that every role picks its backend the same way:
/// `db` uses the metadata database at `database_url`; `etcd://host:port[,host:port…]` uses
/// those etcd endpoints.
pub async fn registry_from_url(
    url: &str,
    database_url: &str,
    session_timeout: Duration,
) -> Result<Arc<dyn Registry>, RegistryError> {
    let url = url.trim();
    if url == "db" {
        return Ok(Arc::new(
            DbRegistry::connect(database_url, session_timeout).await?,
        ));
    }
    if let Some(hosts) = url.strip_prefix("etcd://") {
        let endpoints: Vec<String> = hosts
            .split(',')
            .map(|h| h.trim().trim_end_matches('/').to_string())
            .filter(|h| !h.is_empty())
            .collect();
        if endpoints.is_empty() {
            return Err(RegistryError::Config(format!(
                "registry `{url}` names no etcd endpoint (expected etcd://host:port[,host:port…])"
            )));
        }
        return Ok(Arc::new(
            EtcdRegistry::connect(&endpoints, session_timeout).await?,
        ));
    }
    Err(RegistryError::Config(format!(
        "unknown registry `{url}`: expected `db` or `etcd://host:port[,host:port…]`"
    )))
}

/// Microseconds since the Unix epoch by this host's clock, for the times a member reports
/// about itself (and for etcd heartbeats, whose expiry etcd decides anyway).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
