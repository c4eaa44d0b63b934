//! The router: every `/api/v1` route is registered with its OpenAPI operation (utoipa-axum),
//! so the document and the routes cannot drift apart, and with its access rule
//! ([`Access`], through [`Guarded`]), so that no route is reachable without one; plus the
//! document itself and the interactive reference at `/api/docs` (Swagger UI, its assets
//! built into the binary). The document and the reference are public: they describe the
//! API and hold no data.

use crate::access::{check_table, Access, Guarded, RouteAccess, Scope};
use crate::handlers::{
    self as handlers, alerts, backfills, cluster, datasources, events, grants, history, identity,
    instances, logs, schedules, secrets, task_groups, tasks, workflows,
};
use crate::{ApiError, ApiState, MAX_BODY_BYTES};
use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router};
use baton_auth::Role::{Admin, Editor, Operator, Viewer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// `GET /health`, answered whatever the load (see `serve`).
pub(crate) const HEALTH_PATH: &str = "/api/v1/health";

/// The event stream, which stays open as long as its client follows (see `serve`).
pub(crate) const EVENT_STREAM_PATH: &str = "/api/v1/events/stream";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Baton",
        description = "The REST API of Baton, a distributed DAG workflow and job scheduler. \
            Every route but `GET /health`, `GET /health/ready` and `POST /auth/login` needs credentials: \
            `Authorization: Bearer <token>` (a login session or an API token), or a browser's \
            session cookie with its CSRF token in `X-CSRF-Token` on state-changing requests. \
            401: no valid credentials; 403: not the role (the same whether the object exists \
            or not). \
            Times are RFC 3339 strings in UTC; durations are milliseconds in fields named `…_ms`; \
            list answers carry `next_cursor`, to pass back as `?cursor=` (with `?limit=`, 1 to \
            1000, default 100). Errors are `{\"error\": {\"code\", \"message\", \"problems\"?}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "auth", description = "Login, logout, the caller"),
        (name = "users", description = "Local users (global admins)"),
        (name = "tokens", description = "The caller's API tokens"),
        (name = "projects", description = "Projects and their members"),
        (name = "audit", description = "Every change asked of the API"),
        (name = "workflows", description = "Workflow definitions and their versions"),
        (name = "instances", description = "Workflow instances and the commands on them"),
        (name = "tasks", description = "Task instances, their attempts and logs"),
        (name = "schedules", description = "Schedules: list, preview, set, switch"),
        (name = "backfills", description = "Runs for past schedule times"),
        (name = "task_groups", description = "Cluster-wide pools of task slots"),
        (name = "datasources", description = "A project's databases for sql tasks; passwords are write-only"),
        (name = "secrets", description = "A project's secrets for http tasks; values are write-only"),
        (name = "alerts", description = "A project's alert channels (secrets are write-only), rules and deliveries"),
        (name = "events", description = "The lifecycle event log, paged or streamed"),
        (name = "history", description = "Removing ended history (global admins)"),
        (name = "cluster", description = "Members of the cluster")
    )
)]
struct ApiDoc;

/// Identity and access routes.
fn access_routes(g: Guarded) -> Guarded {
    let auth = Access::AUTHENTICATED;
    let admin = Access::GLOBAL_ADMIN;
    g.route(Access::PUBLIC, routes!(identity::login))
        .route(auth, routes!(identity::logout))
        .route(auth, routes!(identity::whoami))
        .route(auth, routes!(identity::change_password))
        .route(admin, routes!(identity::create_user))
        .route(admin, routes!(identity::list_users))
        .route(admin, routes!(identity::disable_user))
        .route(admin, routes!(identity::enable_user))
        .route(admin, routes!(identity::set_password))
        .route(auth, routes!(grants::create_token))
        .route(auth, routes!(grants::list_tokens))
        .route(auth, routes!(grants::revoke_token))
        .route(admin, routes!(grants::create_project))
        .route(auth, routes!(grants::list_projects))
        .route(admin, routes!(grants::delete_project))
        .route(
            Access::project(Viewer, Scope::ProjectPath),
            routes!(grants::list_members),
        )
        .route(
            Access::project(Admin, Scope::ProjectPath),
            routes!(grants::set_member),
        )
        .route(
            Access::project(Admin, Scope::ProjectPath),
            routes!(grants::remove_member),
        )
        .route(admin, routes!(grants::list_audit))
}

/// Workflow, instance and task routes.
fn run_routes(g: Guarded) -> Guarded {
    let list = Access::project(Viewer, Scope::Listing);
    let read = Access::project(Viewer, Scope::Query);
    let instance = |role| Access::project(role, Scope::Instance);
    let task = |role| Access::project(role, Scope::TaskInstance);
    g.route(list, routes!(workflows::list_workflows))
        .route(
            Access::project(Editor, Scope::ApplyBody),
            routes!(workflows::apply_workflow),
        )
        .route(
            Access::project(Editor, Scope::ApplyBody),
            routes!(workflows::validate_workflow),
        )
        .route(read, routes!(workflows::show_workflow))
        .route(
            Access::project(Operator, Scope::Query),
            routes!(workflows::start_workflow),
        )
        .route(
            Access::project(Operator, Scope::Query),
            routes!(workflows::preview_start),
        )
        .route(read, routes!(workflows::workflow_versions))
        .route(list, routes!(instances::list_instances))
        .route(instance(Viewer), routes!(instances::show_instance))
        .route(instance(Operator), routes!(instances::stop_instance))
        .route(instance(Operator), routes!(instances::recover_instance))
        .route(instance(Operator), routes!(instances::pause_instance))
        .route(instance(Operator), routes!(instances::resume_instance))
        .route(instance(Operator), routes!(instances::rerun_instance))
        .route(instance(Viewer), routes!(tasks::list_tasks))
        .route(instance(Viewer), routes!(tasks::list_items))
        .route(task(Viewer), routes!(tasks::show_task))
        .route(task(Operator), routes!(tasks::mark_success))
        .route(task(Viewer), routes!(logs::read_log))
        .route(task(Viewer), routes!(logs::download_log))
}

/// Schedules, backfills, task groups, events and the cluster.
fn other_routes(g: Guarded) -> Guarded {
    let list = Access::project(Viewer, Scope::Listing);
    let edit = Access::project(Editor, Scope::Query);
    let backfill = |role| Access::project(role, Scope::Backfill);
    g.route(Access::PUBLIC, routes!(handlers::health))
        .route(Access::PUBLIC, routes!(handlers::ready))
        .route(Access::AUTHENTICATED, routes!(cluster::cluster))
        .route(Access::AUTHENTICATED, routes!(handlers::metrics::metrics))
        .route(list, routes!(events::list_events))
        .route(list, routes!(events::stream_events))
        .route(list, routes!(schedules::list_schedules))
        .route(
            edit,
            routes!(schedules::set_schedule, schedules::delete_schedule),
        )
        .route(
            Access::project(Viewer, Scope::Query),
            routes!(schedules::preview_schedule),
        )
        .route(edit, routes!(schedules::schedule_online))
        .route(edit, routes!(schedules::schedule_offline))
        .route(
            Access::AUTHENTICATED,
            routes!(task_groups::list_task_groups),
        )
        .route(Access::GLOBAL_ADMIN, routes!(task_groups::put_task_group))
        .route(Access::GLOBAL_ADMIN, routes!(history::purge_history))
        .route(
            Access::project(Operator, Scope::Query),
            routes!(backfills::create_backfill),
        )
        .route(list, routes!(backfills::list_backfills))
        .route(backfill(Viewer), routes!(backfills::show_backfill))
        .route(backfill(Operator), routes!(backfills::stop_backfill))
        .route(
            Access::project(Viewer, Scope::Query),
            routes!(datasources::list_datasources),
        )
        .route(edit, routes!(datasources::create_datasource))
        .route(
            Access::project(Viewer, Scope::Query),
            routes!(datasources::show_datasource),
        )
        .route(edit, routes!(datasources::delete_datasource))
        .route(
            Access::project(Operator, Scope::Query),
            routes!(datasources::test_datasource),
        )
        .route(
            Access::project(Viewer, Scope::Query),
            routes!(secrets::list_secrets),
        )
        .route(edit, routes!(secrets::set_secret))
        .route(edit, routes!(secrets::delete_secret))
}

/// A project's alert channels, rules and deliveries: viewers read, editors change, operators
/// test a channel.
fn alert_routes(g: Guarded) -> Guarded {
    let read = Access::project(Viewer, Scope::Query);
    let edit = Access::project(Editor, Scope::Query);
    g.route(read, routes!(alerts::list_channels))
        .route(edit, routes!(alerts::create_channel))
        .route(read, routes!(alerts::show_channel))
        .route(edit, routes!(alerts::delete_channel))
        .route(
            Access::project(Operator, Scope::Query),
            routes!(alerts::test_channel),
        )
        .route(read, routes!(alerts::list_rules))
        .route(edit, routes!(alerts::create_rule))
        .route(edit, routes!(alerts::delete_rule))
        .route(read, routes!(alerts::list_deliveries))
}

/// The routes, the document generated with them, and each operation's access.
fn parts() -> (Router<ApiState>, utoipa::openapi::OpenApi, Vec<RouteAccess>) {
    let (api, table) =
        alert_routes(other_routes(run_routes(access_routes(Guarded::new())))).finish();
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api)
        .split_for_parts();
    document_security(&mut doc, &table);
    (router, doc, table)
}

/// The document says, from the same table the middleware enforces, which operations need
/// credentials (a bearer token, or the session cookie), so that `/api/docs` can send them.
fn document_security(doc: &mut utoipa::openapi::OpenApi, table: &[RouteAccess]) {
    use utoipa::openapi::security::{
        ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
    };
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    let cookie = ApiKeyValue::new(baton_api_model::SESSION_COOKIE);
    components.add_security_scheme(
        "session_cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(cookie)),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            (axum::http::Method::GET, &mut item.get),
            (axum::http::Method::POST, &mut item.post),
            (axum::http::Method::PUT, &mut item.put),
            (axum::http::Method::DELETE, &mut item.delete),
            (axum::http::Method::PATCH, &mut item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op.as_mut() else { continue };
            let public = table.iter().any(|r| {
                r.method == method && r.path == *path && r.access.rule == baton_auth::Rule::Public
            });
            if !public {
                let none: [&str; 0] = [];
                op.security = Some(vec![
                    SecurityRequirement::new("bearer", none),
                    SecurityRequirement::new("session_cookie", none),
                ]);
            }
        }
    }
}

/// The OpenAPI 3.1 document of the API (what `GET /api/v1/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts().1
}

/// Every operation of the API with its access rule, as registered.
pub fn route_table() -> Vec<RouteAccess> {
    parts().2
}

/// # Panics
/// When a documented operation has no access rule (a route registered past [`Guarded`]):
/// the server must not start then.
pub(crate) fn router(state: ApiState) -> Router {
    let (api, doc, table) = parts();
    if let Err(e) = check_table(&doc, &table) {
        panic!("the API's routes are not all guarded: {e}");
    }
    let docs = utoipa_swagger_ui::SwaggerUi::new("/api/docs").url(OPENAPI_PATH, doc);
    api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::metrics::time_request,
    ))
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    .layer(Extension(state.clone()))
    .with_state(state)
    .merge(docs)
}

/// The answer to a path under `/api` that no route has (the UI answers the others: see
/// [`crate::router`]).
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound(
        "no such endpoint (the API lives under /api/v1; its reference under /api/docs)".into(),
    )
}
