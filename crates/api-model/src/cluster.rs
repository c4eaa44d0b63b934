//! `GET /cluster`: the members and what they own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What a member does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Runs workflow instances.
    Master,
    /// Runs task attempts.
    Worker,
    /// Serves the REST API.
    Api,
}

impl MemberRole {
    /// The name printed.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Master => "master",
            MemberRole::Worker => "worker",
            MemberRole::Api => "api",
        }
    }
}

/// A member's last reported load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberLoad {
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

/// A live member of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    /// Its id (its address, stable across restarts).
    pub id: String,
    /// What it does.
    pub role: MemberRole,
    /// host:port where others reach it.
    pub address: String,
    /// The worker group (workers only).
    pub group: Option<String>,
    /// Baton's version.
    pub version: String,
    /// When this process started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// Its last reported load.
    pub load: MemberLoad,
}

/// Answer of `GET /cluster`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Cluster {
    /// The live members.
    pub members: Vec<Member>,
    /// Running instances by owning master (`-`: none yet).
    pub owners: BTreeMap<String, Vec<i64>>,
}
