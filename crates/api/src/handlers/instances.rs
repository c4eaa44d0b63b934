//! `/instances`: list, show, and the commands a master carries out (stop, recover, pause,
//! resume), and a rerun as a new instance.

use super::{instance_of, ApiResult};
use super::{Path, Query};
use crate::{convert, paging, ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use baton_api_model::{
    CommandAccepted, ErrorBody, InstanceDetail, InstanceList, InstanceQuery, PageQuery,
    PendingCommand, Rerun,
};
use baton_core::{WorkflowInstanceId, WorkflowState};
use baton_store::{InstanceFilter, NewInstance, StopRequest};

/// The commands of an instance accepted and not yet taken. Read them BEFORE the instance:
/// a master takes a command and changes the instance in one transaction, so whatever that
/// transaction's timing, the pair read this way never shows the old state without the
/// command that is about to change it.
async fn pending_of(
    state: &ApiState,
    id: WorkflowInstanceId,
) -> Result<Vec<PendingCommand>, ApiError> {
    let pending = state.store.pending_commands(id).await?;
    Ok(pending.into_iter().map(convert::command).collect())
}

/// `GET /instances`: newest first.
#[utoipa::path(get, path = "/instances", tag = "instances", params(InstanceQuery, PageQuery),
    responses((status = 200, description = "A page of instances", body = InstanceList),
        (status = 400, description = "An unknown state, a bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_instances(
    State(state): State<ApiState>,
    caller: crate::access::Caller,
    Query(q): Query<InstanceQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<InstanceList> {
    let wf_state = q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<WorkflowState>)
        .transpose()
        .map_err(|e| ApiError::bad("bad_state", e))?;
    let limit = page.limit()?;
    let filter = InstanceFilter {
        project: q.project,
        workflow: q.workflow,
        state: wf_state,
        before: page.cursor()?.map(|c| c.id()).transpose()?,
        submitted_since: q.submitted_since.map(baton_api_model::time::to_us),
        submitted_until: q.submitted_until.map(baton_api_model::time::to_us),
        limit: Some(i64::from(limit)),
    };
    // The pending commands first (see `pending_of`), of every instance the page may hold.
    let below = WorkflowInstanceId(filter.before.unwrap_or(i64::MAX).saturating_sub(1));
    let mut pending = state
        .store
        .pending_commands_between(WorkflowInstanceId(i64::MIN), below)
        .await?;
    let records = state.store.list_instances(&filter).await?;
    let next_cursor = paging::next_by_id(records.len(), limit, records.last().map(|r| r.id.0));
    // A page may come back shorter than `limit`: the cursor goes on past the hidden.
    let instances = records
        .into_iter()
        .filter(|r| caller.sees(&r.project))
        .map(|r| {
            let commands = pending.remove(&r.id).unwrap_or_default();
            convert::instance(r, commands.into_iter().map(convert::command).collect())
        })
        .collect();
    Ok(Json(InstanceList {
        instances,
        next_cursor,
    }))
}

/// `GET /instances/{id}`: the instance, its tasks, its attempts' history and its events.
#[utoipa::path(get, path = "/instances/{id}", tag = "instances",
    params(("id" = i64, Path, description = "The workflow instance")),
    responses((status = 200, description = "The instance", body = InstanceDetail),
        (status = 404, description = "No such instance", body = ErrorBody)))]
pub(crate) async fn show_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<InstanceDetail> {
    let id = WorkflowInstanceId(id);
    let pending = pending_of(&state, id).await?;
    let record = instance_of(&state, id).await?;
    let tasks = state.store.instance_tasks(id).await?;
    let counts = state.store.item_counts(id).await?;
    let attempts = state.store.instance_attempts(id).await?;
    let events = state.store.instance_events(id).await?;
    let children = state.store.child_instances(id).await?;
    let workflow = state
        .store
        .get_workflow_version(record.workflow_id, record.version)
        .await?;
    let not_started: Vec<String> = workflow
        .map(|w| {
            w.spec
                .tasks
                .iter()
                .map(|t| t.name.clone())
                .filter(|n| !tasks.iter().any(|t| t.task_name == *n))
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(InstanceDetail {
        instance: convert::instance(record, pending),
        children: children.into_iter().filter_map(convert::child).collect(),
        tasks: tasks
            .into_iter()
            .map(|t| convert::task_counted(t, &counts))
            .collect(),
        attempts: attempts.into_iter().map(convert::attempt).collect(),
        not_started,
        events: convert::events(events)?,
    }))
}

/// The answer to an accepted command.
fn accepted(
    state: &ApiState,
    id: WorkflowInstanceId,
    command: PendingCommand,
) -> (StatusCode, Json<CommandAccepted>) {
    (state.notify)();
    let body = CommandAccepted { id: id.0, command };
    (StatusCode::ACCEPTED, Json(body))
}

/// `POST /instances/{id}/stop`: kills its running tasks, cancels the rest.
#[utoipa::path(post, path = "/instances/{id}/stop", tag = "instances",
    params(("id" = i64, Path, description = "The workflow instance")),
    responses((status = 202, description = "A stop is queued", body = CommandAccepted),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 409, description = "It has already ended", body = ErrorBody)))]
pub(crate) async fn stop_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    let id = WorkflowInstanceId(id);
    match state.store.request_stop(id).await {
        Ok(StopRequest::Requested) => Ok(accepted(&state, id, PendingCommand::Stop)),
        Ok(StopRequest::AlreadyEnded(s)) => Err(ApiError::Conflict(format!(
            "workflow instance {id} has already ended ({s})"
        ))),
        Err(baton_store::StoreError::NotFound(_)) => Err(ApiError::NotFound(format!(
            "workflow instance {id} not found"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `POST /instances/{id}/recover`: runs again what failed, was killed or did not run.
#[utoipa::path(post, path = "/instances/{id}/recover", tag = "instances",
    params(("id" = i64, Path, description = "The workflow instance")),
    responses((status = 202, description = "A recover is queued; the instance lists it in `pending_commands` until a master takes it", body = CommandAccepted),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 409, description = "It is not failed or stopped", body = ErrorBody)))]
pub(crate) async fn recover_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    let id = WorkflowInstanceId(id);
    state.store.request_recover(id).await?;
    Ok(accepted(&state, id, PendingCommand::Recover))
}

/// `POST /instances/{id}/pause`: running tasks finish, nothing new starts.
#[utoipa::path(post, path = "/instances/{id}/pause", tag = "instances",
    params(("id" = i64, Path, description = "The workflow instance")),
    responses((status = 202, description = "A pause is queued", body = CommandAccepted),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 409, description = "It cannot be paused now", body = ErrorBody)))]
pub(crate) async fn pause_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    let id = WorkflowInstanceId(id);
    state.store.request_pause(id, true).await?;
    Ok(accepted(&state, id, PendingCommand::Pause))
}

/// `POST /instances/{id}/resume`: a paused instance runs on.
#[utoipa::path(post, path = "/instances/{id}/resume", tag = "instances",
    params(("id" = i64, Path, description = "The workflow instance")),
    responses((status = 202, description = "A resume is queued", body = CommandAccepted),
        (status = 404, description = "No such instance", body = ErrorBody),
        (status = 409, description = "It is not paused", body = ErrorBody)))]
pub(crate) async fn resume_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<CommandAccepted>), ApiError> {
    let id = WorkflowInstanceId(id);
    state.store.request_pause(id, false).await?;
    Ok(accepted(&state, id, PendingCommand::Resume))
}

/// `POST /instances/{id}/rerun`: the whole instance again, as a new instance of the same
/// version, params and schedule time.
#[utoipa::path(post, path = "/instances/{id}/rerun", tag = "instances",
    params(("id" = i64, Path, description = "The workflow instance")),
    responses((status = 201, description = "The new instance", body = Rerun),
        (status = 404, description = "No such instance", body = ErrorBody)))]
pub(crate) async fn rerun_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Rerun>), ApiError> {
    let id = WorkflowInstanceId(id);
    let instance = instance_of(&state, id).await?;
    let workflow = state
        .store
        .get_workflow_version(instance.workflow_id, instance.version)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("the version of workflow instance {id}")))?;
    let new = state
        .store
        .create_instance_at(
            NewInstance {
                workflow: &workflow,
                params: instance.params,
                overrides: instance.overrides,
            },
            instance.schedule_time,
        )
        .await?;
    (state.notify)();
    let body = Rerun {
        id: new.0,
        rerun_of: id.0,
    };
    Ok((StatusCode::CREATED, Json(body)))
}
