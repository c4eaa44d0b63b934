//! `POST /history/purge`: removing ended history by hand (retention does it on its own when
//! configured).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /history/purge`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PurgeRequest {
    /// Remove instances that ended before this time.
    pub before: DateTime<Utc>,
    /// Only this project's (default: every project's).
    #[serde(default)]
    pub project: Option<String>,
    /// Only count what would be removed.
    #[serde(default)]
    pub dry_run: bool,
}

/// Answer of `POST /history/purge`: what was removed (or, for a dry run, would be).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct PurgeOutcome {
    /// Nothing was removed: these are the counts a purge would remove now.
    pub dry_run: bool,
    /// False when the request stopped after its time budget with more left to remove: send
    /// it again to go on.
    pub finished: bool,
    /// Ended workflow instances.
    pub instances: u64,
    /// Their task instances.
    pub task_instances: u64,
    /// Their tasks' ended attempts.
    pub attempts: u64,
    /// Their lifecycle events.
    pub events: u64,
}
