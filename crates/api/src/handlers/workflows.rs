//! `/workflows`: apply a file (or only validate it), list, show a version, list versions, start an instance.

use super::{body, project_or_default, workflow_missing, workflow_of, ApiResult};
use super::{Path, Query};
use crate::access::Unaudited;
use crate::{convert, paging, ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use baton_api_model::{
    Applied, ApplyRequest, ErrorBody, PageQuery, PreviewParam, PreviewTask, RecentRunsQuery,
    StartPreview, StartRequest, Started, Validated, VersionList, VersionSummary, Workflow,
    WorkflowList, WorkflowQuery,
};
use baton_core::{params, start, WorkflowSpec};
use baton_store::NewInstance;

/// `POST /workflows`: checks a workflow file and stores it as a new version (or the first).
#[utoipa::path(post, path = "/workflows", tag = "workflows", request_body = ApplyRequest,
    responses(
        (status = 200, description = "Applied", body = Applied),
        (status = 400, description = "The file is invalid: every problem, with where", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody)))]
pub(crate) async fn apply_workflow(
    State(state): State<ApiState>,
    req: Result<Json<ApplyRequest>, JsonRejection>,
) -> ApiResult<Applied> {
    let (spec, source) = checked(req)?;
    let applied = state.store.apply_workflow(&spec, &source).await?;
    if applied.outcome != "unchanged" {
        (state.notify)();
    }
    Ok(Json(convert::applied(&spec.project, &spec.name, &applied)))
}

/// `POST /workflows:validate`: checks a workflow file as an apply would and writes nothing,
/// so that an editor can show every problem as the user types. Not audited: it changes
/// nothing (a refusal of it still is).
#[utoipa::path(post, path = "/workflows:validate", tag = "workflows", request_body = ApplyRequest,
    responses(
        (status = 200, description = "Valid: what it would make", body = Validated),
        (status = 400, description = "The file is invalid: every problem, with where", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody)))]
pub(crate) async fn validate_workflow(req: Result<Json<ApplyRequest>, JsonRejection>) -> Response {
    let mut response = match checked(req) {
        Ok((spec, _)) => Json::<Validated>(convert::validated(&spec)).into_response(),
        Err(e) => e.into_response(),
    };
    response.extensions_mut().insert(Unaudited);
    response
}

/// The body of an apply, read and checked: the spec and the text it came from.
fn checked(
    req: Result<Json<ApplyRequest>, JsonRejection>,
) -> Result<(WorkflowSpec, String), ApiError> {
    let req = body(req, "bad_request", "")?;
    let file = req.file.unwrap_or_else(|| "request".to_string());
    let spec = WorkflowSpec::from_yaml(&req.source, &file).map_err(|e| ApiError::BadRequest {
        code: "invalid_workflow",
        message: e.to_string(),
        problems: e.problems.clone(),
    })?;
    Ok((spec, req.source))
}

/// `GET /workflows`: every workflow (of a project), by project and name.
#[utoipa::path(get, path = "/workflows", tag = "workflows",
    params(("project" = Option<String>, Query, description = "Only this project"), PageQuery,
        RecentRunsQuery),
    responses((status = 200, description = "A page of workflows, each with its recent runs", body = WorkflowList),
        (status = 400, description = "A bad cursor, limit or number of runs", body = ErrorBody)))]
pub(crate) async fn list_workflows(
    State(state): State<ApiState>,
    caller: crate::access::Caller,
    Query(q): Query<WorkflowQuery>,
    Query(page): Query<PageQuery>,
    Query(runs): Query<RecentRunsQuery>,
) -> ApiResult<WorkflowList> {
    let per = runs.runs.unwrap_or(10);
    if !(0..=baton_store::MAX_RECENT_RUNS).contains(&per) {
        return Err(ApiError::bad(
            "bad_query",
            format!(
                "`runs` must be from 0 to {}, not {per}",
                baton_store::MAX_RECENT_RUNS
            ),
        ));
    }
    let mut list = state.store.list_workflows(q.project.as_deref()).await?;
    list.retain(|w| caller.sees(&w.project));
    list.sort_by(|a, b| (&a.project, &a.name).cmp(&(&b.project, &b.name)));
    let key = |w: &baton_store::WorkflowSummary| format!("{}/{}", w.project, w.name);
    let (list, next_cursor) = paging::by_key(list, key, &page)?;
    let ids: Vec<_> = list.iter().map(|w| w.id).collect();
    let mut recent = state.store.recent_runs(&ids, per).await?;
    let workflows = list
        .into_iter()
        .map(|w| {
            let runs = recent.remove(&w.id).unwrap_or_default();
            convert::workflow_summary(w, runs)
        })
        .collect();
    Ok(Json(WorkflowList {
        workflows,
        next_cursor,
    }))
}

/// `GET /workflows/{name}`: one version of a workflow (default the latest).
#[utoipa::path(get, path = "/workflows/{name}", tag = "workflows",
    params(("name" = String, Path, description = "The workflow's name"), WorkflowQuery),
    responses((status = 200, description = "The version", body = Workflow),
        (status = 404, description = "No such workflow or version", body = ErrorBody)))]
pub(crate) async fn show_workflow(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
) -> ApiResult<Workflow> {
    let project = project_or_default(q.project);
    let record = workflow_of(&state, &project, &name, q.version).await?;
    let online = match record.spec.schedule {
        Some(_) => state.store.get_schedule(record.id).await?.map(|s| s.online),
        None => None,
    };
    Ok(Json(convert::workflow(record, online)))
}

/// `GET /workflows/{name}/versions`: a page of its versions, newest first.
#[utoipa::path(get, path = "/workflows/{name}/versions", tag = "workflows",
    params(("name" = String, Path, description = "The workflow's name"),
        ("project" = Option<String>, Query, description = "The project (default `default`)"),
        PageQuery),
    responses((status = 200, description = "A page of its versions", body = VersionList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody)))]
pub(crate) async fn workflow_versions(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<VersionList> {
    let project = project_or_default(q.project);
    let versions = state.store.workflow_versions(&project, &name).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(workflow_missing(&project, &name, None)));
    }
    let (versions, next_cursor) = paging::newest_first(versions, |(v, _)| *v, &page)?;
    let versions = versions
        .into_iter()
        .map(|(version, created_at)| VersionSummary {
            version,
            created_at: baton_api_model::time::from_us(created_at),
        })
        .collect();
    Ok(Json(VersionList {
        versions,
        next_cursor,
    }))
}

/// `POST /workflows/{name}/start`: a new instance of the workflow (or of one version).
#[utoipa::path(post, path = "/workflows/{name}/start", tag = "workflows",
    params(("name" = String, Path, description = "The workflow's name"), WorkflowQuery),
    request_body(content = Option<StartRequest>, description = "Params and where to start; may be empty"),
    responses((status = 201, description = "Started", body = Started),
        (status = 400, description = "A param the workflow does not declare, a value that breaks its rule, a required param missing, an undefined param, an unknown task", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody)))]
pub(crate) async fn start_workflow(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
    req: Option<Json<StartRequest>>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let req = req.map(|b| b.0).unwrap_or_default();
    let project = project_or_default(q.project);
    let workflow = workflow_of(&state, &project, &name, q.version).await?;
    for key in req.params.keys() {
        params::parse_assignment(&format!("{key}=")).map_err(|e| ApiError::bad("bad_param", e))?;
    }
    let only = only_tasks(&workflow.spec, &name, &req)?;
    check_params(&workflow.spec, &req)?;
    let overrides = checked_overrides(&req)?;
    let id = state
        .store
        .create_instance_scoped(
            NewInstance {
                workflow: &workflow,
                params: req.params,
                overrides,
            },
            None,
            only,
        )
        .await?;
    (state.notify)();
    let started = Started {
        id: id.0,
        version: workflow.version,
    };
    Ok((StatusCode::CREATED, Json(started)))
}

/// `POST /workflows/{name}/start/preview`: what the same start would run, creating nothing
/// (a dry run). It refuses what the start would refuse, with the same errors.
#[utoipa::path(post, path = "/workflows/{name}/start/preview", tag = "workflows",
    params(("name" = String, Path, description = "The workflow's name"), WorkflowQuery),
    request_body(content = Option<StartRequest>, description = "The start's params, overrides and where to start; may be empty"),
    responses((status = 200, description = "What would run", body = StartPreview),
        (status = 400, description = "What the start would refuse: a param the workflow does not declare, a value that breaks its rule, a required param missing, an undefined param, an unknown task, a bad worker group", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody)))]
pub(crate) async fn preview_start(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
    req: Option<Json<StartRequest>>,
) -> ApiResult<StartPreview> {
    let req = req.map(|b| b.0).unwrap_or_default();
    let project = project_or_default(q.project);
    let workflow = workflow_of(&state, &project, &name, q.version).await?;
    for key in req.params.keys() {
        params::parse_assignment(&format!("{key}=")).map_err(|e| ApiError::bad("bad_param", e))?;
    }
    let spec = &workflow.spec;
    let dag = baton_core::Dag::new(spec);
    let only = scope_of(&dag, &name, &req)?;
    check_params(spec, &req)?;
    let overrides = checked_overrides(&req)?;
    let preview = start::preview(spec, &req.params, &overrides, &only);
    Ok(Json(StartPreview {
        version: workflow.version,
        params: req.params,
        failure_strategy: preview.failure_strategy,
        priority: preview.priority,
        tasks: preview.tasks.into_iter().map(preview_task).collect(),
    }))
}

/// A task of a dry run as the API shows it.
fn preview_task(t: start::TaskPreview) -> PreviewTask {
    let params = t
        .params
        .into_iter()
        .map(|(name, value)| match value {
            start::PreviewValue::Now { value } => PreviewParam {
                name,
                value: Some(value),
                at_run_time: false,
            },
            start::PreviewValue::AtRunTime => PreviewParam {
                name,
                value: None,
                at_run_time: true,
            },
        })
        .collect();
    PreviewTask {
        name: t.name,
        task_type: t.task_type,
        worker_group: t.worker_group,
        depends_on: t.depends_on,
        params,
    }
}

/// The start's overrides, refused (400, `bad_override`) when no file could say them.
fn checked_overrides(req: &StartRequest) -> Result<start::StartOverrides, ApiError> {
    let overrides = req.overrides();
    overrides.check().map_err(|e| ApiError::BadFields {
        code: "bad_override",
        message: e.to_string(),
        fields: vec![("worker_group".into(), e.to_string())],
    })?;
    Ok(overrides)
}

/// The tasks a start from `from_task` (with its scope) runs, every task without one.
fn scope_of(
    dag: &baton_core::Dag,
    name: &str,
    req: &StartRequest,
) -> Result<Vec<baton_core::dag::TaskIndex>, ApiError> {
    let scope = req.scope.unwrap_or_default();
    start::tasks_in_scope(dag, req.from_task.as_deref(), scope).map_err(|task| {
        let message = format!("workflow `{name}` has no task `{task}`");
        ApiError::BadFields {
            code: "bad_task",
            message: message.clone(),
            fields: vec![("from_task".into(), message)],
        }
    })
}

/// The tasks a start from `from_task` runs, or `None` for all.
fn only_tasks(
    spec: &WorkflowSpec,
    name: &str,
    req: &StartRequest,
) -> Result<Option<Vec<String>>, ApiError> {
    if req.from_task.is_none() {
        return Ok(None);
    }
    let dag = baton_core::Dag::new(spec);
    let only = scope_of(&dag, name, req)?;
    Ok(Some(
        only.into_iter().map(|t| dag.name(t).to_string()).collect(),
    ))
}

/// Refuses a start whose params break the workflow's declarations, or leave a `${param}`
/// undefined, naming each.
fn check_params(spec: &WorkflowSpec, req: &StartRequest) -> Result<(), ApiError> {
    let refused = params::check_start(spec, &req.params);
    if !refused.is_empty() {
        let fields = refused
            .iter()
            .map(|e| (format!("params.{}", e.param()), e.to_string()))
            .collect();
        return Err(ApiError::BadFields {
            code: "bad_params",
            message: lines(&refused),
            fields,
        });
    }
    let undefined = params::check(spec, &req.params, &Default::default());
    if !undefined.is_empty() {
        return Err(ApiError::bad("undefined_params", lines(&undefined)));
    }
    Ok(())
}

fn lines<E: ToString>(errors: &[E]) -> String {
    errors
        .iter()
        .map(E::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
