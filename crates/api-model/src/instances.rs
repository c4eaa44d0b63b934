//! Workflow instances: list, show, and the commands (stop, recover, pause, resume, rerun).

use crate::events::Event;
use crate::tasks::{Attempt, TaskInstance};
use baton_core::{Priority, WorkflowState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A command the API has queued for an instance that no master has taken yet. While one is
/// pending, the instance's `state` is about to change: `baton instance wait` waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PendingCommand {
    /// Start a submitted instance.
    Start,
    /// Stop it.
    Stop,
    /// Run again what failed, was killed or did not run.
    Recover,
    /// Let running tasks finish and start nothing new.
    Pause,
    /// Run a paused instance on.
    Resume,
    /// One of its child instances ended.
    ChildEnded,
}

/// A workflow instance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Instance {
    /// Its id.
    pub id: i64,
    /// The workflow it runs.
    pub workflow_id: i64,
    /// The version it runs (kept even when the workflow changes).
    pub version: i64,
    /// The workflow's project.
    pub project: String,
    /// The workflow's name.
    pub name: String,
    /// Where it is.
    #[schema(schema_with = crate::schemas::workflow_state)]
    pub state: WorkflowState,
    /// Commands accepted but not yet taken by a master, oldest first.
    #[serde(default)]
    pub pending_commands: Vec<PendingCommand>,
    /// Start-time params.
    pub params: BTreeMap<String, String>,
    /// Its priority.
    #[schema(schema_with = crate::schemas::priority)]
    pub priority: Priority,
    /// The master that runs it, if any.
    pub owner: Option<String>,
    /// The owner's fencing epoch.
    pub epoch: i64,
    /// When it was asked for.
    pub submitted_at: DateTime<Utc>,
    /// When a master started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// From start to end, in milliseconds.
    pub duration_ms: Option<i64>,
    /// The time it stands for (a schedule's fire time, a back-filled date); absent for a
    /// manual start, which stands for its own start time.
    pub schedule_time: Option<DateTime<Utc>>,
    /// The workflow whose schedule fired it, if a schedule did.
    pub schedule_id: Option<i64>,
    /// The only tasks it runs (started from a task); absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_tasks: Option<Vec<String>>,
    /// For a child instance of a `sub_workflow` task: the parent instance…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_instance_id: Option<i64>,
    /// …and its task instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task_instance_id: Option<i64>,
    /// What its start gave in place of the workflow's values; absent when nothing.
    #[serde(default, skip_serializing_if = "Overrides::is_empty")]
    pub overrides: Overrides,
}

/// A child instance of a `sub_workflow` task (in [`InstanceDetail::children`]).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChildInstance {
    /// The child instance.
    pub id: i64,
    /// The task instance of the parent that started it.
    pub parent_task_instance_id: i64,
    /// The workflow it runs.
    pub name: String,
    /// Where it is.
    #[schema(schema_with = crate::schemas::workflow_state)]
    pub state: WorkflowState,
}

/// The values a start gave in place of the workflow's, for one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Overrides {
    /// The failure strategy given at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schemas::failure_strategy)]
    pub failure_strategy: Option<baton_core::FailureStrategy>,
    /// The priority given at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::schemas::priority)]
    pub priority: Option<Priority>,
    /// The worker group given at the start (for every task a worker runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<String>,
}

impl Overrides {
    /// True when the start overrode nothing.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

impl From<baton_core::start::StartOverrides> for Overrides {
    fn from(o: baton_core::start::StartOverrides) -> Self {
        Overrides {
            failure_strategy: o.failure_strategy,
            priority: o.priority,
            worker_group: o.worker_group,
        }
    }
}

impl Instance {
    /// True once it has ended and no accepted command will move it again.
    pub fn settled(&self) -> bool {
        self.state.is_final() && self.pending_commands.is_empty()
    }
}

/// Answer of `GET /instances`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstanceList {
    /// This page.
    pub instances: Vec<Instance>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /instances` filters (with `cursor` and `limit`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstanceQuery {
    /// Only this project.
    pub project: Option<String>,
    /// Only this workflow (by name).
    pub workflow: Option<String>,
    /// Only in this state.
    #[param(schema_with = crate::schemas::workflow_state)]
    pub state: Option<String>,
    /// Only submitted at or after this time (RFC 3339, e.g. `2026-11-01T00:00:00Z`)…
    pub submitted_since: Option<DateTime<Utc>>,
    /// …and before this one.
    pub submitted_until: Option<DateTime<Utc>>,
}

/// Answer of `GET /instances/{id}`: the instance with its tasks, history and events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstanceDetail {
    /// The instance.
    pub instance: Instance,
    /// The child instances its `sub_workflow` tasks started, oldest first.
    #[serde(default)]
    pub children: Vec<ChildInstance>,
    /// Its task instances, in the order they became ready.
    pub tasks: Vec<TaskInstance>,
    /// The ended attempts of its tasks, by task and attempt.
    pub attempts: Vec<Attempt>,
    /// Tasks of the definition that have no task instance (yet).
    pub not_started: Vec<String>,
    /// Its events, oldest first.
    pub events: Vec<Event>,
}

/// Answer of a command on an instance (`stop`, `recover`, `pause`, `resume`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommandAccepted {
    /// The instance.
    pub id: i64,
    /// The command queued; a master carries it out shortly.
    pub command: PendingCommand,
}

/// Answer of `POST /instances/{id}/rerun`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rerun {
    /// The new instance.
    pub id: i64,
    /// The instance it reruns.
    pub rerun_of: i64,
}
