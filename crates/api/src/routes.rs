//! The `/api/v1` routes and their handlers.

use crate::{ApiError, ApiState, MAX_BODY_BYTES};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use baton_core::{params, TaskInstanceId, WorkflowInstanceId, WorkflowSpec, WorkflowState};
use baton_store::{InstanceFilter, NewInstance, StopRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(crate) fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/workflows", get(list_workflows).post(apply_workflow))
        .route("/workflows/{name}", get(show_workflow))
        .route("/workflows/{name}/start", post(start_workflow))
        .route("/workflows/{name}/versions", get(workflow_versions))
        .route("/instances", get(list_instances))
        .route("/instances/{id}", get(show_instance))
        .route("/instances/{id}/stop", post(stop_instance))
        .route("/instances/{id}/recover", post(recover_instance))
        .route("/instances/{id}/pause", post(pause_instance))
        .route("/instances/{id}/resume", post(resume_instance))
        .route("/instances/{id}/rerun", post(rerun_instance))
        .route("/task-instances/{id}/mark-success", post(mark_success))
        .route("/task-instances/{id}", get(show_task))
        .route("/task-instances/{id}/log", get(read_log))
        .route("/cluster", get(cluster))
        .route("/events", get(crate::events::list_events))
        .route("/schedules", get(list_schedules))
        .route("/task-groups", get(list_task_groups).post(put_task_group))
        .route("/workflows/{name}/backfill", post(create_backfill))
        .route("/backfills", get(list_backfills))
        .route("/backfills/{id}", get(show_backfill))
        .route("/backfills/{id}/stop", post(stop_backfill))
        .route(
            "/workflows/{name}/schedule",
            put(set_schedule).delete(delete_schedule),
        )
        .route("/workflows/{name}/schedule/preview", get(preview_schedule))
        .route("/workflows/{name}/schedule/online", post(schedule_online))
        .route("/workflows/{name}/schedule/offline", post(schedule_offline))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    Router::new().nest("/api/v1", api).fallback(not_found)
}

type ApiResult<T> = Result<Json<T>, ApiError>;

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint (the API lives under /api/v1)".into())
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Body of `POST /workflows`: the text of a workflow file.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApplyRequest {
    /// The YAML text.
    pub source: String,
    /// The file it came from, used in error messages.
    #[serde(default)]
    pub file: Option<String>,
}

async fn apply_workflow(
    State(state): State<ApiState>,
    body: Result<Json<ApplyRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(req) = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::bad("bad_request", e.body_text())
        }
    })?;
    let file = req.file.unwrap_or_else(|| "request".to_string());
    let spec = WorkflowSpec::from_yaml(&req.source, &file).map_err(|e| ApiError::BadRequest {
        code: "invalid_workflow",
        message: e.to_string(),
        problems: e.problems.clone(),
    })?;
    let applied = state.store.apply_workflow(&spec, &req.source).await?;
    Ok(Json(json!({
        "project": spec.project,
        "name": spec.name,
        "id": applied.id,
        "version": applied.version,
        "outcome": applied.outcome,
    })))
}

#[derive(Debug, Deserialize)]
struct ProjectQuery {
    project: Option<String>,
    version: Option<i64>,
}

async fn list_workflows(
    State(state): State<ApiState>,
    Query(q): Query<ProjectQuery>,
) -> ApiResult<Value> {
    let list = state.store.list_workflows(q.project.as_deref()).await?;
    Ok(Json(json!({ "workflows": list })))
}

async fn show_workflow(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> ApiResult<Value> {
    let project = q
        .project
        .unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.to_string());
    let record = workflow_of(&state, &project, &name, q.version).await?;
    Ok(Json(json!(record)))
}

/// The workflow `project/name` at `version` (or its latest), or a 404 that says which.
async fn workflow_of(
    state: &ApiState,
    project: &str,
    name: &str,
    version: Option<i64>,
) -> Result<baton_store::WorkflowRecord, ApiError> {
    state
        .store
        .get_workflow(project, name, version)
        .await?
        .ok_or_else(|| ApiError::NotFound(workflow_missing(project, name, version)))
}

fn workflow_missing(project: &str, name: &str, version: Option<i64>) -> String {
    match version {
        Some(v) => format!("workflow `{name}` version {v} not found in project `{project}`"),
        None => format!("workflow `{name}` not found in project `{project}`"),
    }
}

/// Body of `POST /workflows/{name}/start`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StartRequest {
    /// Start-time params; they win over the task's and the workflow's.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Run only from this task…
    #[serde(default)]
    pub from_task: Option<String>,
    /// …this far (default: the task and its downstream).
    #[serde(default)]
    pub scope: Option<baton_core::dag::Scope>,
}

async fn start_workflow(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<ProjectQuery>,
    body: Option<Json<StartRequest>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req = body.map(|b| b.0).unwrap_or_default();
    let project = q
        .project
        .unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.to_string());
    let workflow = workflow_of(&state, &project, &name, q.version).await?;
    for key in req.params.keys() {
        params::parse_assignment(&format!("{key}=")).map_err(|e| ApiError::bad("bad_param", e))?;
    }
    let only = match &req.from_task {
        None => None,
        Some(task) => {
            let dag = baton_core::Dag::new(&workflow.spec);
            let index = dag.index_of(task).ok_or_else(|| {
                ApiError::bad(
                    "bad_task",
                    format!("workflow `{name}` has no task `{task}`"),
                )
            })?;
            let scope = req.scope.unwrap_or_default();
            Some(
                dag.select(index, scope)
                    .into_iter()
                    .map(|t| dag.name(t).to_string())
                    .collect(),
            )
        }
    };
    let undefined = params::check(&workflow.spec, &req.params, &Default::default());
    if !undefined.is_empty() {
        let message = undefined
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        return Err(ApiError::bad("undefined_params", message));
    }
    let id = state
        .store
        .create_instance_scoped(
            NewInstance {
                workflow: &workflow,
                params: req.params,
            },
            None,
            only,
        )
        .await?;
    (state.notify)();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "version": workflow.version })),
    ))
}

#[derive(Debug, Deserialize)]
struct InstanceQuery {
    project: Option<String>,
    workflow: Option<String>,
    state: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn list_instances(
    State(state): State<ApiState>,
    Query(q): Query<InstanceQuery>,
) -> ApiResult<Value> {
    let wf_state = q
        .state
        .as_deref()
        .map(str::parse::<WorkflowState>)
        .transpose()
        .map_err(|e| ApiError::bad("bad_state", e))?;
    let filter = InstanceFilter {
        project: q.project,
        workflow: q.workflow,
        state: wf_state,
        before: q.before,
        limit: q.limit,
    };
    let list = state.store.list_instances(&filter).await?;
    Ok(Json(json!({ "instances": list })))
}

async fn show_instance(State(state): State<ApiState>, Path(id): Path<i64>) -> ApiResult<Value> {
    let id = WorkflowInstanceId(id);
    let instance = state
        .store
        .get_instance(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("workflow instance {id} not found")))?;
    let tasks = state.store.task_instances(id).await?;
    let attempts = state.store.attempts(id).await?;
    let events = state.store.instance_events(id).await?;
    let workflow = state
        .store
        .get_workflow_version(instance.workflow_id, instance.version)
        .await?;
    let not_started: Vec<&str> = workflow
        .as_ref()
        .map(|w| {
            w.spec
                .tasks
                .iter()
                .map(|t| t.name.as_str())
                .filter(|n| !tasks.iter().any(|t| t.task_name == *n))
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(json!({
        "instance": instance,
        "tasks": tasks,
        "attempts": attempts,
        "not_started": not_started,
        "events": events,
    })))
}

async fn stop_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = WorkflowInstanceId(id);
    match state.store.request_stop(id).await {
        Ok(StopRequest::Requested) => {
            (state.notify)();
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "id": id, "state": "stopping" })),
            ))
        }
        Ok(StopRequest::AlreadyEnded(s)) => Err(ApiError::Conflict(format!(
            "workflow instance {id} has already ended ({s})"
        ))),
        Err(baton_store::StoreError::NotFound(_)) => Err(ApiError::NotFound(format!(
            "workflow instance {id} not found"
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn show_task(State(state): State<ApiState>, Path(id): Path<i64>) -> ApiResult<Value> {
    let id = TaskInstanceId(id);
    let task = state
        .store
        .task_instance(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("task instance {id} not found")))?;
    let attempts: Vec<_> = state
        .store
        .attempts(task.workflow_instance_id)
        .await?
        .into_iter()
        .filter(|a| a.task_instance_id == id)
        .collect();
    Ok(Json(json!({ "task": task, "attempts": attempts })))
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    attempt: Option<i64>,
    offset: Option<u64>,
    limit: Option<u32>,
}

/// A piece of an attempt's log (`GET /task-instances/{id}/log`).
#[derive(Debug, Serialize, Deserialize)]
pub struct LogChunk {
    /// The task instance.
    pub task_instance_id: i64,
    /// The attempt read.
    pub attempt: i64,
    /// The text (invalid UTF-8 replaced).
    pub data: String,
    /// Where to read next.
    pub next_offset: u64,
    /// True when the attempt has ended and everything has been read.
    pub complete: bool,
    /// The task instance's state.
    pub state: String,
}

async fn read_log(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(q): Query<LogQuery>,
) -> ApiResult<LogChunk> {
    let tid = TaskInstanceId(id);
    let task = state
        .store
        .task_instance(tid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("task instance {tid} not found")))?;
    let attempt = q.attempt.unwrap_or(task.attempt);
    if attempt < 1 || attempt > task.attempt {
        return Err(ApiError::NotFound(format!(
            "task instance {tid} has no attempt {attempt} (attempts 1..={})",
            task.attempt
        )));
    }
    let worker = if attempt == task.attempt {
        task.worker.clone()
    } else {
        state
            .store
            .attempts(task.workflow_instance_id)
            .await?
            .into_iter()
            .find(|a| a.task_instance_id == tid && a.attempt == attempt)
            .and_then(|a| a.worker)
    };
    let offset = q.offset.unwrap_or(0);
    let ended = attempt < task.attempt || task.state.is_final() || !task.state.is_active();
    let mut chunk = LogChunk {
        task_instance_id: id,
        attempt,
        data: String::new(),
        next_offset: offset,
        complete: ended && worker.is_none(),
        state: task.state.to_string(),
    };
    if worker.is_none() && ended && offset == 0 {
        // Logic tasks run in the master, and a cancelled attempt never ran: no log file,
        // but the task's message says what happened.
        if let Some(message) = task.message.as_deref().filter(|_| attempt == task.attempt) {
            chunk.data = format!("[baton] no log: {message}\n");
            chunk.next_offset = 0;
        }
    }
    if let Some(worker) = worker {
        let limit = q.limit.unwrap_or(256 << 10).min(1 << 20);
        let reply = state
            .logs
            .read(&worker, id, attempt as u32, offset, limit)
            .await?;
        chunk.data = String::from_utf8_lossy(&reply.data).into_owned();
        chunk.next_offset = reply.next_offset;
        chunk.complete = if reply.found { reply.complete } else { ended };
    }
    Ok(Json(chunk))
}

async fn cluster(State(state): State<ApiState>) -> ApiResult<Value> {
    let members = match &state.members {
        crate::Members::Fixed(list) => list.clone(),
        crate::Members::Registry(registry) => registry
            .members()
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?,
    };
    let mut owners: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (owner, id) in state.store.owners().await? {
        owners
            .entry(owner.unwrap_or_else(|| "-".into()))
            .or_default()
            .push(id.0);
    }
    Ok(Json(json!({ "members": members, "owners": owners })))
}

async fn list_schedules(State(state): State<ApiState>) -> ApiResult<Value> {
    Ok(Json(
        json!({ "schedules": state.store.list_schedules().await? }),
    ))
}

#[derive(Debug, Deserialize)]
struct PreviewQuery {
    project: Option<String>,
    count: Option<usize>,
    after: Option<String>,
}

/// The next fire times of a workflow's schedule (RFC 3339 with the schedule's offset).
async fn preview_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Value> {
    let project = q
        .project
        .unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.to_string());
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
    let fires: Vec<String> = match schedule.trigger(workflow.spec.timezone.as_deref()) {
        Ok(baton_core::spec::Trigger::Cron(s)) => s
            .preview(after, count)
            .iter()
            .map(|t| t.to_rfc3339())
            .collect(),
        Ok(baton_core::spec::Trigger::FixedRate(d)) => (1..=count as u32)
            .map(|i| (after + d * i).with_timezone(&tz).to_rfc3339())
            .collect(),
        Ok(baton_core::spec::Trigger::FixedDelay(_)) => Vec::new(),
        Err(e) => return Err(ApiError::bad("bad_schedule", e)),
    };
    Ok(Json(json!({ "fires": fires })))
}

/// `PUT /workflows/{name}/schedule`: the body is the `schedule:` block of a workflow file,
/// as JSON. The workflow gets a new version whose definition has that block.
async fn set_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<ProjectQuery>,
    body: Result<Json<baton_core::spec::ScheduleSpec>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Value> {
    let Json(schedule) = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::bad("invalid_schedule", format!("schedule: {}", e.body_text()))
        }
    })?;
    put_schedule(&state, q.project, &name, Some(schedule)).await
}

/// `DELETE /workflows/{name}/schedule`: a new version without the block.
async fn delete_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> ApiResult<Value> {
    put_schedule(&state, q.project, &name, None).await
}

/// Makes the workflow's new version with `schedule` as its block, the way `workflow apply`
/// does: the version, its exported file and the masters' trigger all say the same. A bad
/// block is refused (400) before anything is written.
async fn put_schedule(
    state: &ApiState,
    project: Option<String>,
    name: &str,
    schedule: Option<baton_core::spec::ScheduleSpec>,
) -> ApiResult<Value> {
    let project = project.unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.to_string());
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
                return Ok(Json(json!({
                    "project": spec.project,
                    "name": spec.name,
                    "id": applied.id,
                    "version": applied.version,
                    "outcome": applied.outcome,
                    "schedule": spec.schedule,
                })));
            }
            Err(baton_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(format!(
        "workflow `{name}` keeps changing; try again"
    )))
}

async fn switch_schedule(
    state: ApiState,
    name: String,
    project: Option<String>,
    online: bool,
) -> ApiResult<Value> {
    let project = project.unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.to_string());
    let workflow = workflow_of(&state, &project, &name, None).await?;
    state.store.set_schedule_online(workflow.id, online).await?;
    (state.notify)();
    Ok(Json(json!({ "name": name, "online": online })))
}

async fn schedule_online(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> ApiResult<Value> {
    switch_schedule(state, name, q.project, true).await
}

async fn schedule_offline(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> ApiResult<Value> {
    switch_schedule(state, name, q.project, false).await
}

async fn recover_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = WorkflowInstanceId(id);
    state.store.request_recover(id).await?;
    (state.notify)();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "state": "recovering" })),
    ))
}

/// The whole instance again, as a new instance of the same version and params.
async fn rerun_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = WorkflowInstanceId(id);
    let instance = state
        .store
        .get_instance(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("workflow instance {id} not found")))?;
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
            },
            instance.schedule_time,
        )
        .await?;
    (state.notify)();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": new, "rerun_of": id })),
    ))
}

async fn mark_success(State(state): State<ApiState>, Path(id): Path<i64>) -> ApiResult<Value> {
    state.store.mark_success(TaskInstanceId(id)).await?;
    Ok(Json(json!({ "id": id, "state": "succeeded" })))
}

async fn workflow_versions(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<ProjectQuery>,
) -> ApiResult<Value> {
    let project = q
        .project
        .unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.to_string());
    let versions = state.store.workflow_versions(&project, &name).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(workflow_missing(&project, &name, None)));
    }
    let list: Vec<Value> = versions
        .into_iter()
        .map(|(version, created_at)| json!({ "version": version, "created_at": created_at }))
        .collect();
    Ok(Json(json!({ "versions": list })))
}

async fn pause_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state
        .store
        .request_pause(WorkflowInstanceId(id), true)
        .await?;
    (state.notify)();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "state": "pausing" })),
    ))
}

async fn resume_instance(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state
        .store
        .request_pause(WorkflowInstanceId(id), false)
        .await?;
    (state.notify)();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "state": "running" })),
    ))
}

/// Body of `POST /workflows/{name}/backfill`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BackfillRequest {
    /// First date (YYYY-MM-DD), inclusive.
    #[serde(default)]
    pub from: Option<String>,
    /// Last date, inclusive.
    #[serde(default)]
    pub to: Option<String>,
    /// Or exactly these dates.
    #[serde(default)]
    pub dates: Vec<String>,
    /// Instances at once (default 1: serially).
    #[serde(default)]
    pub parallel: Option<i64>,
    /// Newest date first.
    #[serde(default)]
    pub reverse: bool,
}

/// At most this many instances in one backfill.
const MAX_BACKFILL: usize = 10_000;

async fn create_backfill(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<ProjectQuery>,
    Json(req): Json<BackfillRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    use baton_core::spec::schedule::parse_instant;
    let project = q
        .project
        .unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.to_string());
    let workflow = workflow_of(&state, &project, &name, None).await?;
    let spec = &workflow.spec;
    let tz = match &spec.schedule {
        Some(s) => s
            .zone(spec.timezone.as_deref())
            .map_err(|e| ApiError::bad("bad_schedule", e))?,
        None => spec.tz(),
    };
    let day = |text: &str| parse_instant(text, tz).map_err(|e| ApiError::bad("bad_date", e));
    // Whole days, [start, end), from the range or each date given.
    let mut days: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = Vec::new();
    let next_day = |t: chrono::DateTime<chrono::Utc>| {
        let local = t.with_timezone(&tz).date_naive() + chrono::Days::new(1);
        parse_instant(&local.format("%Y-%m-%d").to_string(), tz)
            .map_err(|e| ApiError::bad("bad_date", e))
    };
    if !req.dates.is_empty() {
        for d in &req.dates {
            let start = day(d)?;
            days.push((start, next_day(start)?));
        }
    } else {
        let (Some(from), Some(to)) = (&req.from, &req.to) else {
            return Err(ApiError::bad(
                "bad_range",
                "give `from` and `to`, or `dates`",
            ));
        };
        let (start, last) = (day(from)?, day(to)?);
        if last < start {
            return Err(ApiError::bad(
                "bad_range",
                format!("`to` ({to}) is before `from` ({from})"),
            ));
        }
        days.push((start, next_day(last)?));
    }
    let cron = match spec
        .schedule
        .as_ref()
        .map(|s| s.trigger(spec.timezone.as_deref()))
    {
        Some(Ok(baton_core::spec::Trigger::Cron(s))) => Some(s),
        _ => None,
    };
    let mut times: Vec<i64> = Vec::new();
    for (start, end) in days {
        match &cron {
            Some(schedule) => {
                let before =
                    |t: chrono::DateTime<chrono::Utc>| t - chrono::Duration::microseconds(1);
                let mut unbounded = schedule.clone();
                unbounded.start = None;
                unbounded.end = None;
                for t in unbounded.fires_between(before(start), before(end), MAX_BACKFILL + 1) {
                    times.push(t.timestamp_micros());
                }
            }
            None => {
                let mut t = start;
                while t < end {
                    times.push(t.timestamp_micros());
                    t = next_day(t)?;
                }
            }
        }
    }
    times.sort_unstable();
    times.dedup();
    if times.is_empty() {
        return Err(ApiError::bad(
            "empty_backfill",
            "no fire time in that range",
        ));
    }
    if times.len() > MAX_BACKFILL {
        return Err(ApiError::bad(
            "too_many",
            format!("more than {MAX_BACKFILL} instances in one backfill"),
        ));
    }
    if req.reverse {
        times.reverse();
    }
    let parallel = req.parallel.unwrap_or(1);
    if parallel < 1 {
        return Err(ApiError::bad(
            "bad_parallel",
            "`parallel` must be at least 1",
        ));
    }
    let id = state
        .store
        .create_backfill(workflow.id, &times, parallel)
        .await?;
    (state.notify)();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "instances": times.len() })),
    ))
}

async fn list_backfills(State(state): State<ApiState>) -> ApiResult<Value> {
    Ok(Json(
        json!({ "backfills": state.store.list_backfills().await? }),
    ))
}

async fn show_backfill(State(state): State<ApiState>, Path(id): Path<i64>) -> ApiResult<Value> {
    let b = state
        .store
        .get_backfill(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("backfill {id} not found")))?;
    Ok(Json(json!(b)))
}

async fn stop_backfill(State(state): State<ApiState>, Path(id): Path<i64>) -> ApiResult<Value> {
    state.store.stop_backfill(id).await?;
    (state.notify)();
    Ok(Json(json!({ "id": id, "state": "stopped" })))
}

/// Body of `POST /task-groups`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TaskGroupRequest {
    /// The group's name.
    pub name: String,
    /// Attempts of the group on workers at once, cluster-wide.
    pub slots: i64,
}

async fn put_task_group(
    State(state): State<ApiState>,
    Json(req): Json<TaskGroupRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !baton_core::spec::valid_name(&req.name) {
        return Err(ApiError::bad(
            "bad_name",
            format!("bad task group name `{}`", req.name),
        ));
    }
    if req.slots < 1 {
        return Err(ApiError::bad("bad_slots", "`slots` must be at least 1"));
    }
    state.store.put_task_group(&req.name, req.slots).await?;
    (state.notify)();
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": req.name, "slots": req.slots })),
    ))
}

async fn list_task_groups(State(state): State<ApiState>) -> ApiResult<Value> {
    Ok(Json(
        json!({ "task_groups": state.store.list_task_groups().await? }),
    ))
}
