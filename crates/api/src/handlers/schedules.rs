//! `/schedules` and `/workflows/{name}/schedule…`: list, preview, set, delete, switch.

use super::{body, project_or_default, workflow_of, ApiResult};
use super::{Path, Query};
use crate::{convert, paging, ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use baton_api_model::{
    ErrorBody, PageQuery, Preview, PreviewQuery, Schedule, ScheduleApplied, ScheduleList,
    ScheduleSwitched, WorkflowQuery,
};
use baton_core::spec::{ScheduleSpec, Trigger};

/// `GET /schedules`: every workflow's schedule, by project and name.
#[utoipa::path(get, path = "/schedules", tag = "schedules",
    params(("project" = Option<String>, Query, description = "Only this project"), PageQuery),
    responses((status = 200, description = "A page of schedules", body = ScheduleList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_schedules(
    State(state): State<ApiState>,
    caller: crate::access::Caller,
    Query(q): Query<WorkflowQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<ScheduleList> {
    let mut list: Vec<Schedule> = state
        .store
        .list_schedules(q.project.as_deref())
        .await?
        .into_iter()
        .map(convert::schedule)
        .filter(|s| caller.sees(&s.project))
        .collect();
    list.sort_by(|a, b| (&a.project, &a.name).cmp(&(&b.project, &b.name)));
    let key = |s: &Schedule| format!("{}/{}", s.project, s.name);
    let (schedules, next_cursor) = paging::by_key(list, key, &page)?;
    Ok(Json(ScheduleList {
        schedules,
        next_cursor,
    }))
}

/// `GET /workflows/{name}/schedule/preview`: the next fire times, in the schedule's offset.
#[utoipa::path(get, path = "/workflows/{name}/schedule/preview", tag = "schedules",
    params(("name" = String, Path, description = "The workflow's name"), PreviewQuery),
    responses((status = 200, description = "The next fire times", body = Preview),
        (status = 400, description = "A bad time or schedule", body = ErrorBody),
        (status = 404, description = "No such workflow, or it has no schedule", body = ErrorBody)))]
pub(crate) async fn preview_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Preview> {
    let project = project_or_default(q.project);
    let workflow = workflow_of(&state, &project, &name, None).await?;
    let Some(schedule) = &workflow.spec.schedule else {
        return Err(ApiError::NotFound(format!(
            "workflow `{name}` has no schedule"
        )));
    };
    let tz = schedule
        .zone(workflow.spec.timezone.as_deref())
        .map_err(|e| ApiError::bad("bad_schedule", e))?;
    let after = match &q.after {
        Some(t) => baton_core::spec::schedule::parse_instant(t, tz)
            .map_err(|e| ApiError::bad("bad_time", e))?,
        None => chrono::Utc::now(),
    };
    let count = q.count.unwrap_or(10).min(1000);
    let fires = match schedule.trigger(workflow.spec.timezone.as_deref()) {
        Ok(Trigger::Cron(s)) => s
            .preview(after, count)
            .iter()
            .map(|t| t.fixed_offset())
            .collect(),
        Ok(Trigger::FixedRate(d)) => (1..=count)
            .filter_map(|i| u32::try_from(i).ok())
            .map(|i| (after + d * i).with_timezone(&tz).fixed_offset())
            .collect(),
        Ok(Trigger::FixedDelay(_)) => Vec::new(),
        Err(e) => return Err(ApiError::bad("bad_schedule", e)),
    };
    Ok(Json(Preview { fires }))
}

/// `PUT /workflows/{name}/schedule`: the body is the `schedule:` block of a workflow file, as
/// JSON. The workflow gets a new version whose definition has that block.
#[utoipa::path(put, path = "/workflows/{name}/schedule", tag = "schedules",
    params(("name" = String, Path, description = "The workflow's name"),
        ("project" = Option<String>, Query, description = "The project (default `default`)")),
    request_body(content = Object, description = "The `schedule:` block of a workflow file, as JSON"),
    responses((status = 200, description = "The new version", body = ScheduleApplied),
        (status = 400, description = "A bad block: what and where", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody)))]
pub(crate) async fn set_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
    req: Result<Json<ScheduleSpec>, JsonRejection>,
) -> ApiResult<ScheduleApplied> {
    let schedule = body(req, "invalid_schedule", "schedule: ")?;
    put_schedule(&state, q.project, &name, Some(schedule)).await
}

/// `DELETE /workflows/{name}/schedule`: a new version without the block.
#[utoipa::path(delete, path = "/workflows/{name}/schedule", tag = "schedules",
    params(("name" = String, Path, description = "The workflow's name"),
        ("project" = Option<String>, Query, description = "The project (default `default`)")),
    responses((status = 200, description = "The new version", body = ScheduleApplied),
        (status = 404, description = "No such workflow, or it has no schedule", body = ErrorBody)))]
pub(crate) async fn delete_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
) -> ApiResult<ScheduleApplied> {
    put_schedule(&state, q.project, &name, None).await
}

/// Makes the workflow's new version with `schedule` as its block, the way `workflow apply`
/// does: the version, its exported file and the masters' trigger all say the same. A bad
/// block is refused (400) before anything is written.
async fn put_schedule(
    state: &ApiState,
    project: Option<String>,
    name: &str,
    schedule: Option<ScheduleSpec>,
) -> ApiResult<ScheduleApplied> {
    let project = project_or_default(project);
    // A version made meanwhile (another apply) is not overwritten: derive from it instead.
    for _ in 0..5 {
        let workflow = workflow_of(state, &project, name, None).await?;
        if schedule.is_none() && workflow.spec.schedule.is_none() {
            return Err(ApiError::NotFound(format!(
                "workflow `{name}` has no schedule"
            )));
        }
        let (spec, source) = workflow
            .spec
            .with_schedule(schedule.clone(), &format!("schedule of `{name}`"))
            .map_err(|e| ApiError::BadRequest {
                code: "invalid_schedule",
                message: e.to_string(),
                problems: e.problems.clone(),
            })?;
        match state
            .store
            .apply_workflow_on(&spec, &source, workflow.version)
            .await
        {
            Ok(applied) => {
                (state.notify)();
                return Ok(Json(ScheduleApplied {
                    applied: convert::applied(&spec.project, &spec.name, &applied),
                    schedule: spec.schedule,
                }));
            }
            Err(baton_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(format!(
        "workflow `{name}` keeps changing; try again"
    )))
}

async fn switch(
    state: ApiState,
    name: String,
    project: Option<String>,
    online: bool,
) -> ApiResult<ScheduleSwitched> {
    let project = project_or_default(project);
    let workflow = workflow_of(&state, &project, &name, None).await?;
    state.store.set_schedule_online(workflow.id, online).await?;
    (state.notify)();
    Ok(Json(ScheduleSwitched { name, online }))
}

/// `POST /workflows/{name}/schedule/online`: the schedule fires again (no new version).
#[utoipa::path(post, path = "/workflows/{name}/schedule/online", tag = "schedules",
    params(("name" = String, Path, description = "The workflow's name"),
        ("project" = Option<String>, Query, description = "The project (default `default`)")),
    responses((status = 200, description = "Online", body = ScheduleSwitched),
        (status = 404, description = "No such workflow, or it has no schedule", body = ErrorBody)))]
pub(crate) async fn schedule_online(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
) -> ApiResult<ScheduleSwitched> {
    switch(state, name, q.project, true).await
}

/// `POST /workflows/{name}/schedule/offline`: the schedule stops firing (no new version).
#[utoipa::path(post, path = "/workflows/{name}/schedule/offline", tag = "schedules",
    params(("name" = String, Path, description = "The workflow's name"),
        ("project" = Option<String>, Query, description = "The project (default `default`)")),
    responses((status = 200, description = "Offline", body = ScheduleSwitched),
        (status = 404, description = "No such workflow, or it has no schedule", body = ErrorBody)))]
pub(crate) async fn schedule_offline(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
) -> ApiResult<ScheduleSwitched> {
    switch(state, name, q.project, false).await
}
