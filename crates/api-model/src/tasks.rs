//! Task instances and their attempts.

use baton_core::TaskState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A task instance and its current (or last) attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskInstance {
    /// Its id.
    pub id: i64,
    /// The workflow instance it belongs to.
    pub workflow_instance_id: i64,
    /// The task's name in the workflow.
    pub task_name: String,
    /// The current attempt's state.
    #[schema(schema_with = crate::schemas::task_state)]
    pub state: TaskState,
    /// The current attempt's number, from 1.
    pub attempt: i64,
    /// Failed attempts counted against `retries`.
    pub retries_used: i64,
    /// The worker of the current attempt.
    pub worker: Option<String>,
    /// When the task became ready.
    pub submitted_at: DateTime<Utc>,
    /// When the current attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// From start to end, in milliseconds.
    pub duration_ms: Option<i64>,
    /// The process's exit code.
    pub exit_code: Option<i64>,
    /// Why it failed, or what a logic task did.
    pub message: Option<String>,
    /// When the next attempt is due, while waiting for a retry.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// Output params it set (`${setValue(key=value)}`), passed to its downstream tasks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    /// The task group whose slots it takes while on a worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_group: Option<String>,
    /// Its part in a mapped task (`map:`): the mapped task with its items counted, or one
    /// of the items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapPart>,
}

/// A task instance's part in a mapped task (`map:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MapPart {
    /// The mapped task itself: it runs its items (read them with
    /// `GET /instances/{id}/items?task=…`), counted here.
    Mapped(ItemCounts),
    /// One item of the mapped task `task`, the `index`-th of its list (from 0).
    Item {
        /// The mapped task's name.
        task: String,
        /// Its place in the list.
        index: i64,
    },
}

/// The items of a mapped task, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemCounts {
    /// How many items its list has.
    pub items: i64,
    /// Items not started yet (waiting for room under `parallel`, or never started after
    /// a failure under `failure: end` or a stop).
    pub not_started: i64,
    /// The started ones, by the state of their task instance.
    pub states: Vec<StateCount>,
}

/// How many task instances are in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StateCount {
    /// The state.
    #[schema(schema_with = crate::schemas::task_state)]
    pub state: TaskState,
    /// How many.
    pub count: i64,
}

/// `GET /instances/{id}/items` filters (with `cursor` and `limit`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// The mapped task whose items to read.
    pub task: String,
    /// Only items in this state.
    #[param(schema_with = crate::schemas::task_state)]
    pub state: Option<String>,
}

/// Answer of `GET /instances/{id}/items`: a page of a mapped task's items, in list order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemList {
    /// This page.
    pub items: Vec<TaskInstance>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The outcome of one ended attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// The task instance.
    pub task_instance_id: i64,
    /// The attempt's number, from 1.
    pub attempt: i64,
    /// How it ended.
    #[schema(schema_with = crate::schemas::task_state)]
    pub state: TaskState,
    /// Where it ran.
    pub worker: Option<String>,
    /// When it started, if it did.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
    /// From start to end, in milliseconds.
    pub duration_ms: Option<i64>,
    /// The exit code.
    pub exit_code: Option<i64>,
    /// Why it failed.
    pub message: Option<String>,
}

/// Answer of `GET /task-instances/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskDetail {
    /// The task instance.
    pub task: TaskInstance,
    /// Its ended attempts.
    pub attempts: Vec<Attempt>,
}

/// Answer of `GET /instances/{id}/tasks`, in the order they became ready.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    /// This page.
    pub tasks: Vec<TaskInstance>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Answer of `POST /task-instances/{id}/mark-success`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MarkedSuccess {
    /// The task instance.
    pub id: i64,
    /// Its new state (`succeeded`).
    #[schema(schema_with = crate::schemas::task_state)]
    pub state: TaskState,
}
