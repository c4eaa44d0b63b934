//! What the store gives back: plain records for the API, the CLI and the master's recovery.
//! Times are microseconds since the Unix epoch.

use crate::error::StoreError;
use baton_core::start::StartOverrides;
use baton_core::{
    Priority, TaskInstanceId, TaskState, WorkflowId, WorkflowInstanceId, WorkflowSpec,
    WorkflowState,
};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

pub(crate) fn corrupt(context: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        context,
        detail: detail.to_string(),
    }
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col)
        .map_err(|e| corrupt("row", format!("column {col}: {e}")))
}

/// One version of a workflow definition.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowRecord {
    /// The workflow's id (shared by its versions).
    pub id: WorkflowId,
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// This record's version.
    pub version: i64,
    /// The newest version.
    pub latest_version: i64,
    /// The checked definition.
    pub spec: WorkflowSpec,
    /// The text it was applied from.
    pub source: String,
    /// When this version was made.
    pub created_at: i64,
}

impl WorkflowRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let spec: String = get(row, "spec")?;
        Ok(WorkflowRecord {
            id: WorkflowId(get(row, "id")?),
            project: get(row, "project")?,
            name: get(row, "name")?,
            version: get(row, "version")?,
            latest_version: get(row, "latest_version")?,
            spec: WorkflowSpec::from_json(&spec)
                .map_err(|e| corrupt("workflow_version.spec", e))?,
            source: get(row, "source")?,
            created_at: get(row, "created_at")?,
        })
    }
}

/// A line of the workflow list.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowSummary {
    /// The workflow's id.
    pub id: WorkflowId,
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// The newest version.
    pub latest_version: i64,
    /// When it was last changed.
    pub updated_at: i64,
}

/// A workflow instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceRecord {
    /// Its id.
    pub id: WorkflowInstanceId,
    /// The workflow it runs.
    pub workflow_id: WorkflowId,
    /// The version it runs (kept even when the workflow changes).
    pub version: i64,
    /// The workflow's project.
    pub project: String,
    /// The workflow's name.
    pub name: String,
    /// Where it is.
    pub state: WorkflowState,
    /// Start-time params.
    pub params: BTreeMap<String, String>,
    /// Its priority.
    pub priority: Priority,
    /// The master that runs it, if any.
    pub owner: Option<String>,
    /// The owner's fencing epoch.
    pub epoch: i64,
    /// When it was asked for.
    pub submitted_at: i64,
    /// When a master started it.
    pub started_at: Option<i64>,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// The time it stands for (a schedule's fire time, a back-filled date); `None` for a
    /// manual start, which stands for its own start time.
    pub schedule_time: Option<i64>,
    /// The schedule (its workflow's id) whose fire started it, if any.
    pub schedule_id: Option<WorkflowId>,
    /// The only tasks it runs (started from a task); `None`: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_tasks: Option<Vec<String>>,
    /// For a child instance of a `sub_workflow` task: the parent instance…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_instance_id: Option<WorkflowInstanceId>,
    /// …and its task instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_task_instance_id: Option<TaskInstanceId>,
    /// What its start gave in place of the workflow's values.
    #[serde(default, skip_serializing_if = "StartOverrides::is_empty")]
    pub overrides: StartOverrides,
}

impl InstanceRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let state: String = get(row, "state")?;
        let params: String = get(row, "params")?;
        let priority: String = get(row, "priority")?;
        Ok(InstanceRecord {
            id: WorkflowInstanceId(get(row, "id")?),
            workflow_id: WorkflowId(get(row, "workflow_id")?),
            version: get(row, "version")?,
            project: get(row, "project")?,
            name: get(row, "name")?,
            state: state
                .parse()
                .map_err(|e| corrupt("workflow_instance.state", e))?,
            params: serde_json::from_str(&params)
                .map_err(|e| corrupt("workflow_instance.params", e))?,
            priority: priority
                .parse()
                .map_err(|e| corrupt("workflow_instance.priority", e))?,
            owner: get(row, "owner")?,
            epoch: get(row, "epoch")?,
            submitted_at: get(row, "submitted_at")?,
            started_at: get(row, "started_at")?,
            ended_at: get(row, "ended_at")?,
            schedule_time: get(row, "schedule_time")?,
            schedule_id: get::<Option<i64>>(row, "schedule_id")?.map(WorkflowId),
            only_tasks: get::<Option<String>>(row, "only_tasks")?
                .map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| corrupt("workflow_instance.only_tasks", e))?,
            parent_instance_id: get::<Option<i64>>(row, "parent_instance_id")?
                .map(WorkflowInstanceId),
            parent_task_instance_id: get::<Option<i64>>(row, "parent_task_instance_id")?
                .map(TaskInstanceId),
            overrides: get::<Option<String>>(row, "overrides")?
                .map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| corrupt("workflow_instance.overrides", e))?
                .unwrap_or_default(),
        })
    }
}

/// A task instance and its current (or last) attempt.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceRecord {
    /// Its id.
    pub id: TaskInstanceId,
    /// The workflow instance it belongs to.
    pub workflow_instance_id: WorkflowInstanceId,
    /// The task's name in the workflow.
    pub task_name: String,
    /// The current attempt's state.
    pub state: TaskState,
    /// The current attempt's number, from 1.
    pub attempt: i64,
    /// Failed attempts counted against `retries`.
    pub retries_used: i64,
    /// The worker of the current attempt.
    pub worker: Option<String>,
    /// When the task became ready.
    pub submitted_at: i64,
    /// When the current attempt started.
    pub started_at: Option<i64>,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// The process's exit code.
    pub exit_code: Option<i64>,
    /// Why it failed, when it did.
    pub message: Option<String>,
    /// When the next attempt is due, while waiting for a retry.
    pub next_retry_at: Option<i64>,
    /// Output params it set (`${setValue(key=value)}`), passed to its downstream tasks.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    /// The task group whose slots it takes while on a worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_group: Option<String>,
    /// Its part in a mapped task (`map:`): the mapped task itself, or one of its items.
    #[serde(skip)]
    pub map: Option<MapRole>,
}

/// The part a task instance plays in a mapped task (`map:`), as its row records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapRole {
    /// The mapped task: it runs no attempt of its own but the items of `list`.
    Mapped {
        /// The list it expanded when it became ready (JSON), kept so that a master rebuilding
        /// the instance runs the same items.
        list: String,
    },
    /// One item of the mapped task `task`.
    Item {
        /// The mapped task's name.
        task: String,
        /// The item's place in the list, from 0.
        index: i64,
    },
}

impl MapRole {
    /// The columns of a role: (map_items, map_task, map_index).
    pub(crate) fn columns(role: Option<&MapRole>) -> (Option<&str>, Option<&str>, Option<i64>) {
        match role {
            None => (None, None, None),
            Some(MapRole::Mapped { list }) => (Some(list), None, None),
            Some(MapRole::Item { task, index }) => (None, Some(task), Some(*index)),
        }
    }

    /// The role the columns say, if any.
    fn from_columns(
        list: Option<String>,
        task: Option<String>,
        index: Option<i64>,
    ) -> Option<MapRole> {
        match (list, task, index) {
            (Some(list), _, _) => Some(MapRole::Mapped { list }),
            (None, Some(task), Some(index)) => Some(MapRole::Item { task, index }),
            _ => None,
        }
    }
}

impl TaskInstanceRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let state: String = get(row, "state")?;
        Ok(TaskInstanceRecord {
            id: TaskInstanceId(get(row, "id")?),
            workflow_instance_id: WorkflowInstanceId(get(row, "workflow_instance_id")?),
            task_name: get(row, "task_name")?,
            state: state
                .parse()
                .map_err(|e| corrupt("task_instance.state", e))?,
            attempt: get(row, "attempt")?,
            retries_used: get(row, "retries_used")?,
            worker: get(row, "worker")?,
            submitted_at: get(row, "submitted_at")?,
            started_at: get(row, "started_at")?,
            ended_at: get(row, "ended_at")?,
            exit_code: get(row, "exit_code")?,
            message: get(row, "message")?,
            next_retry_at: get(row, "next_retry_at")?,
            outputs: {
                let text: Option<String> = get(row, "outputs")?;
                match text {
                    Some(t) => {
                        serde_json::from_str(&t).map_err(|e| corrupt("task_instance.outputs", e))?
                    }
                    None => BTreeMap::new(),
                }
            },
            task_group: get(row, "task_group")?,
            map: MapRole::from_columns(
                get(row, "map_items")?,
                get(row, "map_task")?,
                get(row, "map_index")?,
            ),
        })
    }
}

/// The outcome of one ended attempt: the history of a task instance.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    /// The task instance.
    pub task_instance_id: TaskInstanceId,
    /// The attempt's number, from 1.
    pub attempt: i64,
    /// How it ended (succeeded, failed, killed, need_failover, …).
    pub state: TaskState,
    /// Where it ran.
    pub worker: Option<String>,
    /// When it started, if it did.
    pub started_at: Option<i64>,
    /// When it ended.
    pub ended_at: i64,
    /// The exit code.
    pub exit_code: Option<i64>,
    /// Why it failed.
    pub message: Option<String>,
}

impl AttemptRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let state: String = get(row, "state")?;
        Ok(AttemptRecord {
            task_instance_id: TaskInstanceId(get(row, "task_instance_id")?),
            attempt: get(row, "attempt")?,
            state: state
                .parse()
                .map_err(|e| corrupt("task_attempt.state", e))?,
            worker: get(row, "worker")?,
            started_at: get(row, "started_at")?,
            ended_at: get(row, "ended_at")?,
            exit_code: get(row, "exit_code")?,
            message: get(row, "message")?,
        })
    }
}
