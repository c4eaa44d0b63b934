//! The router: every `/api/v1` route is registered with its OpenAPI operation (utoipa-axum),
//! so the document and the routes cannot drift apart; plus the document itself and the
//! interactive reference at `/api/docs` (Swagger UI, its assets built into the binary).

use crate::handlers::{
    self as handlers, backfills, cluster, events, instances, logs, schedules, task_groups, tasks,
    workflows,
};
use crate::{ApiError, ApiState, MAX_BODY_BYTES};
use axum::extract::DefaultBodyLimit;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Baton",
        description = "The REST API of Baton, a distributed DAG workflow and job scheduler. \
            Times are RFC 3339 strings in UTC; durations are milliseconds in fields named `…_ms`; \
            list answers carry `next_cursor`, to pass back as `?cursor=` (with `?limit=`, 1 to \
            1000, default 100). Errors are `{\"error\": {\"code\", \"message\", \"problems\"?}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "workflows", description = "Workflow definitions and their versions"),
        (name = "instances", description = "Workflow instances and the commands on them"),
        (name = "tasks", description = "Task instances, their attempts and logs"),
        (name = "schedules", description = "Schedules: list, preview, set, switch"),
        (name = "backfills", description = "Runs for past schedule times"),
        (name = "task_groups", description = "Cluster-wide pools of task slots"),
        (name = "events", description = "The lifecycle event log, paged or streamed"),
        (name = "cluster", description = "Members of the cluster")
    )
)]
struct ApiDoc;

/// The `/api/v1` routes with their operations.
fn api_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::health))
        .routes(routes!(
            workflows::list_workflows,
            workflows::apply_workflow
        ))
        .routes(routes!(workflows::show_workflow))
        .routes(routes!(workflows::start_workflow))
        .routes(routes!(workflows::workflow_versions))
        .routes(routes!(instances::list_instances))
        .routes(routes!(instances::show_instance))
        .routes(routes!(instances::stop_instance))
        .routes(routes!(instances::recover_instance))
        .routes(routes!(instances::pause_instance))
        .routes(routes!(instances::resume_instance))
        .routes(routes!(instances::rerun_instance))
        .routes(routes!(tasks::list_tasks))
        .routes(routes!(tasks::show_task))
        .routes(routes!(tasks::mark_success))
        .routes(routes!(logs::read_log))
        .routes(routes!(cluster::cluster))
        .routes(routes!(events::list_events))
        .routes(routes!(events::stream_events))
        .routes(routes!(schedules::list_schedules))
        .routes(routes!(schedules::set_schedule, schedules::delete_schedule))
        .routes(routes!(schedules::preview_schedule))
        .routes(routes!(schedules::schedule_online))
        .routes(routes!(schedules::schedule_offline))
        .routes(routes!(
            task_groups::list_task_groups,
            task_groups::put_task_group
        ))
        .routes(routes!(backfills::create_backfill))
        .routes(routes!(backfills::list_backfills))
        .routes(routes!(backfills::show_backfill))
        .routes(routes!(backfills::stop_backfill))
}

/// The routes and the document generated with them.
fn parts() -> (Router<ApiState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api_routes())
        .split_for_parts()
}

/// The OpenAPI 3.1 document of the API (what `GET /api/v1/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().1
}

pub(crate) fn router(state: ApiState) -> Router {
    let (api, doc) = parts();
    let docs = utoipa_swagger_ui::SwaggerUi::new("/api/docs").url(OPENAPI_PATH, doc);
    api.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
        .merge(docs)
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::NotFound(
        "no such endpoint (the API lives under /api/v1; its reference under /api/docs)".into(),
    )
}
