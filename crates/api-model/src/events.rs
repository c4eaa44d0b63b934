//! The lifecycle event log: `GET /events` pages it, `GET /events/stream` follows it.

use baton_core::event::EventKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One recorded lifecycle event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Its id: events are numbered in the order they were recorded (the stream's `id:`).
    pub id: i64,
    /// What happened.
    #[schema(schema_with = crate::schemas::event_kind)]
    pub kind: EventKind,
    /// The workflow instance it concerns, if any (a lost worker concerns none).
    pub workflow_instance_id: Option<i64>,
    /// The workflow's project.
    pub project: Option<String>,
    /// The workflow's name.
    pub workflow: Option<String>,
    /// The task instance, for task events.
    pub task_instance_id: Option<i64>,
    /// The task's name.
    pub task_name: Option<String>,
    /// The attempt.
    pub attempt: Option<i64>,
    /// The worker concerned.
    pub worker: Option<String>,
    /// For people.
    pub message: String,
    /// More, by kind (for example the old and new owner of an adopted instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// Answer of `GET /events`: newest first, or with `after` oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    /// This page.
    pub events: Vec<Event>,
    /// Pass as `cursor` for the next page (older events; with `after`, newer ones). With
    /// `after` it is always given, so a poller asks again from where it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Filters of `GET /events` and `GET /events/stream`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this kind (one of the event kinds; an unknown kind is refused).
    #[param(schema_with = crate::schemas::event_kind)]
    pub kind: Option<String>,
    /// Only events of this workflow instance.
    pub instance: Option<i64>,
    /// Only events of this project.
    pub project: Option<String>,
    /// Only events of this workflow (by name).
    pub workflow: Option<String>,
    /// Only events that happened at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only events with a greater id, oldest first (the stream resumes after it, like
    /// `Last-Event-ID`).
    pub after: Option<i64>,
}
