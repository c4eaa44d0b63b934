//! Backfills: run a workflow for a list of past schedule times.

use baton_core::WorkflowState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /workflows/{name}/backfill`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct BackfillRequest {
    /// First date (YYYY-MM-DD), inclusive.
    #[serde(default)]
    pub from: Option<String>,
    /// Last date, inclusive.
    #[serde(default)]
    pub to: Option<String>,
    /// Or exactly these dates.
    #[serde(default)]
    pub dates: Vec<String>,
    /// Instances at once (default 1: serially).
    #[serde(default)]
    pub parallel: Option<i64>,
    /// Newest date first.
    #[serde(default)]
    pub reverse: bool,
}

/// Answer of `POST /workflows/{name}/backfill`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackfillCreated {
    /// The backfill.
    pub id: i64,
    /// How many instances it will run.
    pub instances: usize,
}

/// Where a backfill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackfillState {
    /// Instances are being started.
    Running,
    /// Stopped: no new instance starts; those it started were stopped.
    Stopped,
    /// Every instance was started (some may still run).
    Done,
}

/// How a backfill's schedule times stand: every time is counted once, in one of these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackfillProgress {
    /// Instances that succeeded.
    pub succeeded: i64,
    /// Instances that failed.
    pub failed: i64,
    /// Instances that were stopped.
    pub stopped: i64,
    /// Instances not ended yet (submitted, running, pausing, paused, stopping).
    pub running: i64,
    /// Times not started yet, to be started.
    pub waiting: i64,
    /// Times that will never be started: the backfill was stopped first.
    pub cancelled: i64,
}

/// One instance of a backfill.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackfillInstance {
    /// The workflow instance.
    pub id: i64,
    /// The time it stands for.
    pub schedule_time: DateTime<Utc>,
    /// Where it is.
    #[schema(schema_with = crate::schemas::workflow_state)]
    pub state: WorkflowState,
}

/// A backfill (`GET /backfills/{id}`; in the list, without `instances`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Backfill {
    /// Its id.
    pub id: i64,
    /// The workflow it runs.
    pub workflow_id: i64,
    /// The workflow's project.
    pub project: String,
    /// The workflow's name.
    pub workflow: String,
    /// The schedule times to run, in order.
    pub times: Vec<DateTime<Utc>>,
    /// How many instances run at once.
    pub parallel: i64,
    /// How many instances have been started.
    pub started: i64,
    /// Where it is.
    pub state: BackfillState,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// Its schedule times by how they stand.
    pub progress: BackfillProgress,
    /// The instances it started, in the order of their times.
    #[serde(default)]
    pub instances: Vec<BackfillInstance>,
}

/// Answer of `GET /backfills`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackfillList {
    /// This page.
    pub backfills: Vec<Backfill>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Answer of `POST /backfills/{id}/stop`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackfillStopped {
    /// The backfill.
    pub id: i64,
    /// Its state now (`stopped`).
    pub state: BackfillState,
}
