//! Schedules: list, preview, set, delete, switch online and offline.

use baton_core::spec::ScheduleSpec;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A workflow's schedule (`GET /schedules`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    /// The workflow it fires.
    pub workflow_id: i64,
    /// The workflow's project.
    pub project: String,
    /// The workflow's name.
    pub name: String,
    /// The `schedule:` block, as in the latest version of the workflow (its `online` is the
    /// file's; the schedule's own state is `online` below).
    #[schema(schema_with = crate::schemas::definition)]
    pub spec: ScheduleSpec,
    /// The workflow's time zone (the schedule's default zone).
    pub workflow_timezone: Option<String>,
    /// Offline schedules do not fire.
    pub online: bool,
    /// The next fire due.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The last fire time.
    pub last_fire_at: Option<DateTime<Utc>>,
}

/// Answer of `GET /schedules`, by project and name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleList {
    /// This page.
    pub schedules: Vec<Schedule>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /workflows/{name}/schedule/preview` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// The project (default `default`).
    pub project: Option<String>,
    /// How many fire times (default 10, at most 1000).
    pub count: Option<usize>,
    /// Fires after this time (RFC 3339, or a date in the schedule's zone; default now).
    pub after: Option<String>,
}

/// Answer of the preview: fire times in the schedule's own offset.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Preview {
    /// The next fire times.
    pub fires: Vec<DateTime<FixedOffset>>,
}

/// Answer of setting or deleting a schedule: the workflow's new version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleApplied {
    /// The version made.
    #[serde(flatten)]
    pub applied: crate::Applied,
    /// The block now in force; absent after a delete.
    #[schema(schema_with = crate::schemas::definition)]
    pub schedule: Option<ScheduleSpec>,
}

/// Answer of `POST /workflows/{name}/schedule/online` (or `offline`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScheduleSwitched {
    /// The workflow.
    pub name: String,
    /// Its schedule's state now.
    pub online: bool,
}
