//! `GET /events`: the alerting events (a task past its timeout, …), for people and for
//! alerting systems that poll.

use crate::{ApiError, ApiState};
use axum::extract::{Query, State};
use axum::Json;
use baton_core::{EventKind, WorkflowInstanceId};
use baton_store::EventFilter;
use serde::Deserialize;
use serde_json::{json, Value};

/// Query of `GET /events`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventQuery {
    /// Only events that happened at or after this time (µs since the epoch).
    since: Option<i64>,
    /// Only events of this kind (`task_timeout`).
    kind: Option<String>,
    /// Only events of this workflow instance.
    instance: Option<i64>,
    /// Newest first, with a smaller id (the next page back).
    before: Option<i64>,
    /// Oldest first, with a greater id (what is new since the last call).
    after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<i64>,
}

/// The events, newest first (or, with `after`, oldest first); `next_before` / `next_after`
/// are the cursors for the next call.
pub(crate) async fn list_events(
    State(state): State<ApiState>,
    Query(q): Query<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    if q.before.is_some() && q.after.is_some() {
        return Err(ApiError::bad(
            "bad_query",
            "give `before` or `after`, not both",
        ));
    }
    if q.limit.is_some_and(|l| l < 1) {
        return Err(ApiError::bad("bad_query", "`limit` must be at least 1"));
    }
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(
            k.parse::<EventKind>()
                .map_err(|e| ApiError::bad("bad_query", e.to_string()))?,
        ),
        None => None,
    };
    let filter = EventFilter {
        kind,
        project: None,
        workflow: None,
        since: q.since,
        instance: q.instance.map(WorkflowInstanceId),
        before: q.before,
        after: q.after,
        limit: q.limit,
    };
    let events = state.store.list_events(&filter).await?;
    let ids = events.iter().map(|e| e.id);
    let (min, max) = (ids.clone().min(), ids.max());
    Ok(Json(json!({
        "events": events,
        "next_before": min,
        // With nothing new, ask again from the same place.
        "next_after": max.or(q.after),
    })))
}
