//! Workflow definitions: apply (or only validate) a file, list, show a version, list versions, start.

use baton_core::dag::Scope;
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
