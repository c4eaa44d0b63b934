//! `/task-groups`: pools of slots shared cluster-wide.

use super::ApiResult;
use super::Query;
use crate::{convert, paging, ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use baton_api_model::{ErrorBody, PageQuery, TaskGroup, TaskGroupList, TaskGroupRequest};

/// `POST /task-groups`: creates a group or changes its slots.
#[utoipa::path(post, path = "/task-groups", tag = "task_groups", request_body = TaskGroupRequest,
    responses((status = 201, description = "Created or changed", body = TaskGroupRequest),
        (status = 400, description = "A bad name or slots", body = ErrorBody)))]
pub(crate) async fn put_task_group(
    State(state): State<ApiState>,
    req: Result<Json<TaskGroupRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<TaskGroupRequest>), ApiError> {
    let req = super::body(req, "bad_request", "task group: ")?;
    if !baton_core::spec::valid_name(&req.name) {
        return Err(ApiError::bad(
            "bad_name",
            format!(
                "bad task group name `{}`: use letters, digits, _ - . (at most 100)",
                req.name
            ),
        ));
    }
    if req.slots < 1 {
        return Err(ApiError::bad("bad_slots", "`slots` must be at least 1"));
    }
    state.store.put_task_group(&req.name, req.slots).await?;
    (state.notify)();
    Ok((StatusCode::CREATED, Json(req)))
}

/// `GET /task-groups`: by name.
#[utoipa::path(get, path = "/task-groups", tag = "task_groups", params(PageQuery),
    responses((status = 200, description = "A page of task groups", body = TaskGroupList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_task_groups(
    State(state): State<ApiState>,
    Query(page): Query<PageQuery>,
) -> ApiResult<TaskGroupList> {
    let mut list: Vec<TaskGroup> = state
        .store
        .list_task_groups()
        .await?
        .into_iter()
        .map(convert::task_group)
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let (task_groups, next_cursor) = paging::by_key(list, |g| g.name.clone(), &page)?;
    Ok(Json(TaskGroupList {
        task_groups,
        next_cursor,
    }))
}
