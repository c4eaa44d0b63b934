//! Workflow definitions: apply (or only validate) a file, list, show a version, list versions, start.

use baton_core::dag::Scope;
use baton_core::start::StartOverrides;
use baton_core::{FailureStrategy, Priority};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Body of `POST /workflows`: the text of a workflow file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApplyRequest {
    /// The YAML text.
    pub source: String,
    /// The file it came from, used in error messages.
    #[serde(default)]
    pub file: Option<String>,
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// A new workflow.
    Created,
    /// A new version of an existing workflow.
    Updated,
    /// The same definition as the latest version: nothing written.
    Unchanged,
}

impl ApplyOutcome {
    /// The word printed by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Updated => "updated",
            ApplyOutcome::Unchanged => "unchanged",
        }
    }
}

/// Answer of `POST /workflows` (and of setting or deleting a schedule).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Applied {
    /// The workflow's project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: i64,
    /// The version now current.
    pub version: i64,
    /// What the apply did.
    pub outcome: ApplyOutcome,
}

/// Answer of `POST /workflows:validate`: what the file would make, so that an editor can show
/// it without writing anything. (A file with problems gets the 400 of an apply instead.)
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Validated {
    /// The workflow's project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// Its tasks, in file order.
    pub tasks: Vec<ValidatedTask>,
    /// Its params, by name.
    pub params: Vec<ValidatedParam>,
}

/// A task of a [`Validated`] file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ValidatedTask {
    /// Its name.
    pub name: String,
    /// Its type, as the file writes it (`shell`, `http`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The tasks it waits for.
    pub depends_on: Vec<String>,
}

/// A param of a [`Validated`] file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ValidatedParam {
    /// Its name.
    pub name: String,
    /// Its default value, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Its rule in words (`int, at least 1`), for a declared param.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Whether a start must give it.
    pub required: bool,
}

/// A line of `GET /workflows`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkflowSummary {
    /// The workflow's id.
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// The newest version.
    pub latest_version: i64,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Its newest instances, newest first (as many as `?runs=` asks, 10 by default).
    #[serde(default)]
    pub recent_runs: Vec<RecentRun>,
}

/// One of a workflow's recent instances, as the workflows list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecentRun {
    /// The instance.
    pub id: i64,
    /// Where it is.
    #[schema(schema_with = crate::schemas::workflow_state)]
    pub state: baton_core::WorkflowState,
    /// When it was asked for.
    pub submitted_at: DateTime<Utc>,
    /// When a master started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// From start to end (or to now, while it runs: absent), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
}

/// `?runs=` of `GET /workflows`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentRunsQuery {
    /// How many of each workflow's newest instances to give in `recent_runs` (0 to 50,
    /// default 10).
    pub runs: Option<i64>,
}

/// Answer of `GET /workflows`, by project and name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkflowList {
    /// This page.
    pub workflows: Vec<WorkflowSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One version of a workflow (`GET /workflows/{name}`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Workflow {
    /// The workflow's id (shared by its versions).
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// This version.
    pub version: i64,
    /// The newest version.
    pub latest_version: i64,
    /// The checked definition.
    #[schema(schema_with = crate::schemas::definition)]
    pub spec: baton_core::WorkflowSpec,
    /// The text it was applied from.
    pub source: String,
    /// When this version was made.
    pub created_at: DateTime<Utc>,
    /// Whether the workflow's schedule is online now (it can be switched without a new
    /// version); absent when the workflow has no schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_online: Option<bool>,
}

/// A version of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionSummary {
    /// The version.
    pub version: i64,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// Answer of `GET /workflows/{name}/versions`, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    /// This page of its versions, newest first.
    pub versions: Vec<VersionSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Body of `POST /workflows/{name}/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct StartRequest {
    /// Start-time params; they win over the task's and the workflow's.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Run only from this task…
    #[serde(default)]
    pub from_task: Option<String>,
    /// …this far (default: the task and its downstream): `downstream`, `self`, `upstream`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub scope: Option<Scope>,
    /// In place of the workflow's `failure_strategy`, for this instance only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schemas::failure_strategy)]
    pub failure_strategy: Option<FailureStrategy>,
    /// In place of the workflow's `priority`, for this instance only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schemas::priority)]
    pub priority: Option<Priority>,
    /// In place of the `worker_group` of every task a worker runs, for this instance only.
    /// A group no worker serves is accepted: its tasks wait until one joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<String>,
}

impl StartRequest {
    /// The overrides of the start, as the store keeps them with the instance.
    pub fn overrides(&self) -> StartOverrides {
        StartOverrides {
            failure_strategy: self.failure_strategy,
            priority: self.priority,
            worker_group: self.worker_group.clone(),
        }
    }
}

/// The value of a param in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PreviewParam {
    /// Its name.
    pub name: String,
    /// Its value, when it is known before the run; absent when it is only known at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// True when the value is only known at run time: it uses a time expression
    /// (`$[yyyyMMdd]`), a `${system.*}` param or an output param of an upstream task.
    pub at_run_time: bool,
}

/// A task a start would run (`POST /workflows/{name}/start/preview`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PreviewTask {
    /// Its name.
    pub name: String,
    /// Its type, as written in the file.
    pub task_type: String,
    /// The worker group that would run it; absent for a type the master runs itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<String>,
    /// The tasks it waits for.
    pub depends_on: Vec<String>,
    /// Every param it would see (system params left out), by name.
    pub params: Vec<PreviewParam>,
}

/// Answer of `POST /workflows/{name}/start/preview`: what the start would run, nothing created.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StartPreview {
    /// The version it would run.
    pub version: i64,
    /// The start-time params, checked as a real start checks them.
    pub params: BTreeMap<String, String>,
    /// The failure strategy the instance would have (the override, or the workflow's).
    #[schema(schema_with = crate::schemas::failure_strategy)]
    pub failure_strategy: FailureStrategy,
    /// Its priority (the override, or the workflow's).
    #[schema(schema_with = crate::schemas::priority)]
    pub priority: Priority,
    /// The tasks in scope, in dependency order (each after the tasks it depends on).
    pub tasks: Vec<PreviewTask>,
}

/// Answer of `POST /workflows/{name}/start`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Started {
    /// The new workflow instance.
    pub id: i64,
    /// The version it runs.
    pub version: i64,
}

/// `?project=…&version=…` of the workflow endpoints.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkflowQuery {
    /// The project (default `default`).
    pub project: Option<String>,
    /// A version (default the latest).
    pub version: Option<i64>,
}
