//! `/task-instances` and the tasks of an instance: show, page, mark succeeded.

use super::ApiResult;
use super::{Path, Query};
use crate::{convert, paging, ApiError, ApiState};
use axum::extract::State;
use axum::Json;
use baton_api_model::{
    Cursor, ErrorBody, ItemList, ItemQuery, MarkedSuccess, PageQuery, TaskDetail, TaskList,
};
use baton_core::{TaskInstanceId, TaskState, WorkflowInstanceId};
use baton_store::{ItemPage, MapRole};

/// `GET /task-instances/{id}`: a task instance and its ended attempts.
#[utoipa::path(get, path = "/task-instances/{id}", tag = "tasks",
    params(("id" = i64, Path, description = "The task instance")),
    responses((status = 200, description = "The task instance", body = TaskDetail),
        (status = 404, description = "No such task instance", body = ErrorBody)))]
pub(crate) async fn show_task(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<TaskDetail> {
    let id = TaskInstanceId(id);
    let task = state
        .store
        .task_instance(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("task instance {id} not found")))?;
    let attempts = state
        .store
        .task_attempts(id)
        .await?
        .into_iter()
        .map(convert::attempt)
        .collect();
    Ok(Json(TaskDetail {
        task: convert::task(task),
        attempts,
    }))
}

/// `GET /instances/{id}/tasks`: the task instances of a workflow instance, in the order
/// they became ready (the items of its mapped tasks are read with `GET /instances/{id}/items`).
#[utoipa::path(get, path = "/instances/{id}/tasks", tag = "tasks",
    params(("id" = i64, Path, description = "The workflow instance"), PageQuery),
    responses((status = 200, description = "A page of its task instances", body = TaskList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody)))]
pub(crate) async fn list_tasks(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(page): Query<PageQuery>,
) -> ApiResult<TaskList> {
    let id = WorkflowInstanceId(id);
    super::instance_of(&state, id).await?;
    let limit = page.limit()?;
    let after = page.cursor()?.map(Cursor::id).transpose()?.unwrap_or(0);
    let counts = state.store.item_counts(id).await?;
    let tasks: Vec<_> = state
        .store
        .instance_tasks(id)
        .await?
        .into_iter()
        .filter(|t| t.id.0 > after)
        .take(paging::page_len(limit))
        .map(|t| convert::task_counted(t, &counts))
        .collect();
    let next_cursor = paging::next_by_id(tasks.len(), limit, tasks.last().map(|t| t.id));
    Ok(Json(TaskList { tasks, next_cursor }))
}

/// `GET /instances/{id}/items?task=NAME`: a page of the items of one of the instance's mapped
/// tasks, in list order, optionally only those in a state.
#[utoipa::path(get, path = "/instances/{id}/items", tag = "tasks",
    params(("id" = i64, Path, description = "The workflow instance"), ItemQuery, PageQuery),
    responses((status = 200, description = "A page of the mapped task's items", body = ItemList),
        (status = 400, description = "A bad state, cursor or limit", body = ErrorBody),
        (status = 404, description = "No such instance", body = ErrorBody)))]
pub(crate) async fn list_items(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(query): Query<ItemQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<ItemList> {
    let id = WorkflowInstanceId(id);
    super::instance_of(&state, id).await?;
    let limit = page.limit()?;
    let after = page.cursor()?.map(Cursor::id).transpose()?;
    let only = match query.state.as_deref() {
        None => None,
        Some(text) => Some(text.parse::<TaskState>().map_err(|_| {
            ApiError::bad(
                "bad_state",
                format!(
                "state: `{text}` is not a task state (submitted, dispatched, running, succeeded, \
                 failed, retry_wait, paused, killed, skipped, need_failover)"
            ),
            )
        })?),
    };
    let rows = state
        .store
        .map_items(&ItemPage {
            instance: id,
            task: &query.task,
            state: only,
            after,
            limit: i64::from(limit) + 1,
        })
        .await?;
    let (rows, next_cursor) = paging::fetched(rows, limit, |row| {
        let index = match &row.map {
            Some(MapRole::Item { index, .. }) => *index,
            Some(MapRole::Mapped { .. }) | None => 0,
        };
        Cursor::Id(index)
    });
    let items = rows.into_iter().map(convert::task).collect();
    Ok(Json(ItemList { items, next_cursor }))
}

/// `POST /task-instances/{id}/mark-success`: a failed or killed task counts as succeeded
/// (for a later recover).
#[utoipa::path(post, path = "/task-instances/{id}/mark-success", tag = "tasks",
    params(("id" = i64, Path, description = "The task instance")),
    responses((status = 200, description = "Marked", body = MarkedSuccess),
        (status = 404, description = "No such task instance", body = ErrorBody),
        (status = 409, description = "Its instance or the task is not in a state that allows it", body = ErrorBody)))]
pub(crate) async fn mark_success(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<MarkedSuccess> {
    state.store.mark_success(TaskInstanceId(id)).await?;
    Ok(Json(MarkedSuccess {
        id,
        state: TaskState::Succeeded,
    }))
}
