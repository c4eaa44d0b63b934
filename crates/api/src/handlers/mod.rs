//! The handlers, one module per resource, and what they share.

pub(crate) mod backfills;
pub(crate) mod cluster;
pub(crate) mod datasources;
pub(crate) mod events;
pub(crate) mod grants;
pub(crate) mod history;
pub(crate) mod identity;
pub(crate) mod instances;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod schedules;
pub(crate) mod secrets;
pub(crate) mod task_groups;
pub(crate) mod tasks;
pub(crate) mod workflows;

use crate::{ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::Json;
use baton_core::WorkflowInstanceId;

/// A handler's answer: JSON or an error.
pub(crate) type ApiResult<T> = Result<Json<T>, ApiError>;

/// `GET /health`.
#[utoipa::path(get, path = "/health", tag = "cluster",
    responses((status = 200, description = "The server answers", body = baton_api_model::Health)))]
pub(crate) async fn health() -> Json<baton_api_model::Health> {
    Json(baton_api_model::Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// The longest a readiness check waits for the database or the registry.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /health/ready`: whether this server can do its work: its database answers and, in a
/// cluster, its registry lists the members (`/health` only says the process answers). Public
/// like `/health`, for load balancers and orchestrators; it says what is not ready, never why.
#[utoipa::path(get, path = "/health/ready", tag = "cluster",
    responses((status = 200, description = "Ready", body = baton_api_model::Health),
        (status = 503, description = "Not ready, and why", body = baton_api_model::ErrorBody)))]
pub(crate) async fn ready(
    axum::extract::State(state): axum::extract::State<ApiState>,
) -> Result<Json<baton_api_model::Health>, ApiError> {
    let unready = |what: String| ApiError::Unavailable(format!("not ready: {what}"));
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            // The route is public: the detail goes to the log, not to the caller.
            tracing::warn!("readiness: the database does not answer: {e}");
            return Err(unready("the database does not answer".into()));
        }
        Err(_) => return Err(unready("the database does not answer within 5s".into())),
    }
    if let crate::Members::Registry(registry) = &state.members {
        match tokio::time::timeout(READY_TIMEOUT, registry.members()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!("readiness: the registry does not answer: {e}");
                return Err(unready("the registry does not answer".into()));
            }
            Err(_) => return Err(unready("the registry does not answer within 5s".into())),
        }
    }
    Ok(Json(baton_api_model::Health {
        status: "ready".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// A user or project name: letters, digits, `_ - .`, at most 100.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    if baton_core::spec::valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad(
            "bad_name",
            format!("bad {what} name `{name}`: use letters, digits, _ - . (at most 100)"),
        ))
    }
}

/// The project asked for, or the default one.
pub(crate) fn project_or_default(project: Option<String>) -> String {
    project.unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.to_string())
}

/// The workflow `project/name` at `version` (or its latest), or a 404 that says which.
pub(crate) async fn workflow_of(
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

/// The message of a missing workflow (or version).
pub(crate) fn workflow_missing(project: &str, name: &str, version: Option<i64>) -> String {
    match version {
        Some(v) => format!("workflow `{name}` version {v} not found in project `{project}`"),
        None => format!("workflow `{name}` not found in project `{project}`"),
    }
}

/// The instance `id`, or a 404.
pub(crate) async fn instance_of(
    state: &ApiState,
    id: WorkflowInstanceId,
) -> Result<baton_store::InstanceRecord, ApiError> {
    state
        .store
        .get_instance(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("workflow instance {id} not found")))
}

/// A JSON body, with a too-large body and a malformed one told apart; `what` prefixes the
/// message of a malformed one.
pub(crate) fn body<T>(
    body: Result<Json<T>, JsonRejection>,
    code: &'static str,
    what: &str,
) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::bad(code, format!("{what}{}", e.body_text()))
        }
    })
}

/// axum's `Query`, with a malformed query answered in the API's error shape (400,
/// `bad_query`, saying which parameter is wrong).
pub(crate) struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("").to_string();
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| {
                let text = e.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ApiError::bad("bad_query", format!("bad query `{query}`: {detail}"))
            })
    }
}

/// axum's `Path`, with a malformed id answered in the API's error shape (400, `bad_path`).
pub(crate) struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let path = parts.uri.path().to_string();
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| {
                ApiError::bad(
                    "bad_path",
                    format!("bad path `{path}`: an id there must be a whole number"),
                )
            })
    }
}
