//! Task groups: pools of slots shared cluster-wide.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /task-groups`, and a group in its answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskGroupRequest {
    /// The group's name.
    pub name: String,
    /// Attempts of the group on workers at once, cluster-wide.
    pub slots: i64,
}

/// A task group and how many of its slots are taken.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskGroup {
    /// Its name.
    pub name: String,
    /// Attempts of the group that may be on workers at once.
    pub slots: i64,
    /// Attempts of the group on workers now.
    pub used: i64,
}

/// Answer of `GET /task-groups`, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskGroupList {
    /// This page.
    pub task_groups: Vec<TaskGroup>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
