//! Default deny. Every `/api/v1` route is registered through [`Guarded::route`] with its
//! [`Access`] (a rule, and where the project the request is about is found), so that a route
//! without a rule cannot be written; the router also refuses to start when a documented
//! operation has no rule. Each route's middleware ([`enforce`]) authenticates the caller
//! (`Authorization: Bearer`, or the session cookie with its CSRF token), resolves the
//! project, asks `baton_auth::allowed`, records state-changing requests in the audit log,
//! and hands the handler the [`Caller`].

use crate::{ApiError, ApiState};
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use baton_api_model::{CSRF_HEADER, SESSION_COOKIE};
use baton_auth::{allowed, token, Decision, Principal, Role, Rule};
use baton_core::{TaskInstanceId, WorkflowInstanceId, WorkflowSpec};
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

/// Where the project a request is about is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The route is about no project (its rule is not a project role).
    None,
    /// `?project=`, else the default project.
    Query,
    /// A listing: with `?project=` the role is needed there; without, the handler shows only
    /// the caller's projects.
    Listing,
    /// The workflow instance of the path's `{id}`.
    Instance,
    /// The task instance of the path's `{id}`.
    TaskInstance,
    /// The backfill of the path's `{id}`.
    Backfill,
    /// The path's `{project}`.
    ProjectPath,
    /// The `project` of the workflow file in the body (`POST /workflows`).
    ApplyBody,
}

/// What a route demands, declared next to its registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The rule.
    pub rule: Rule,
    /// Where its project is.
    pub scope: Scope,
}

impl Access {
    /// Anyone (health, login).
    pub const PUBLIC: Access = Access {
        rule: Rule::Public,
        scope: Scope::None,
    };
    /// Any authenticated caller.
    pub const AUTHENTICATED: Access = Access {
        rule: Rule::Authenticated,
        scope: Scope::None,
    };
    /// A global admin.
    pub const GLOBAL_ADMIN: Access = Access {
        rule: Rule::GlobalAdmin,
        scope: Scope::None,
    };

    /// At least `role` on the project found through `scope`.
    pub const fn project(role: Role, scope: Scope) -> Access {
        Access {
            rule: Rule::Project(role),
            scope,
        }
    }
}

/// One registered operation and its access: the table [`crate::route_table`] gives out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAccess {
    /// Its method.
    pub method: Method,
    /// Its path template, e.g. `/api/v1/instances/{id}`.
    pub path: String,
    /// What it demands.
    pub access: Access,
}

/// The `/api/v1` routes being registered, each with its access.
pub(crate) struct Guarded {
    router: OpenApiRouter<ApiState>,
    table: Vec<RouteAccess>,
}

/// The methods of one documented path.
fn methods_of(item: &utoipa::openapi::PathItem) -> Vec<Method> {
    [
        (&item.get, Method::GET),
        (&item.post, Method::POST),
        (&item.put, Method::PUT),
        (&item.delete, Method::DELETE),
        (&item.patch, Method::PATCH),
    ]
    .into_iter()
    .filter(|(op, _)| op.is_some())
    .map(|(_, m)| m)
    .collect()
}

impl Guarded {
    /// No routes yet.
    pub(crate) fn new() -> Guarded {
        Guarded {
            router: OpenApiRouter::new(),
            table: Vec::new(),
        }
    }

    /// Registers the operations of `routes!(…)` under `access`.
    pub(crate) fn route(mut self, access: Access, routes: UtoipaMethodRouter<ApiState>) -> Self {
        let (schemas, paths, method_router) = routes;
        for (path, item) in &paths.paths {
            for method in methods_of(item) {
                self.table.push(RouteAccess {
                    method,
                    path: format!("/api/v1{path}"),
                    access,
                });
            }
        }
        let guarded =
            method_router.route_layer(axum::middleware::from_fn_with_state(access, enforce));
        self.router = self.router.routes((schemas, paths, guarded));
        self
    }

    /// The router and the table.
    pub(crate) fn finish(self) -> (OpenApiRouter<ApiState>, Vec<RouteAccess>) {
        (self.router, self.table)
    }
}

/// Every documented operation has exactly one rule (a route registered past [`Guarded`]
/// stops the server from starting).
pub(crate) fn check_table(
    doc: &utoipa::openapi::OpenApi,
    table: &[RouteAccess],
) -> Result<(), String> {
    for (path, item) in &doc.paths.paths {
        for method in methods_of(item) {
            let n = table
                .iter()
                .filter(|r| r.method == method && r.path == *path)
                .count();
            if n != 1 {
                return Err(format!("{method} {path} has {n} access rules, not one"));
            }
        }
    }
    Ok(())
}

/// The caller, as the handlers see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    /// Who, when authenticated.
    pub(crate) principal: Option<Arc<Principal>>,
    /// The SHA-256 of the credential's secret (logout ends that session).
    pub(crate) secret_hash: Option<String>,
}

impl Caller {
    /// The principal; only a public route has none, and public handlers do not ask.
    pub(crate) fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal
            .as_deref()
            .ok_or_else(|| ApiError::Unauthorized(UNAUTHENTICATED.into()))
    }

    /// The projects a listing shows (`None`: all).
    pub(crate) fn visible(&self) -> Option<Vec<String>> {
        match &self.principal {
            Some(p) => p.visible_projects(Role::Viewer),
            None => Some(Vec::new()),
        }
    }

    /// Whether a listing shows objects of `project`.
    pub(crate) fn sees(&self, project: &str) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.role_on(project).is_some())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Caller, ApiError> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Who to record for a request that had no credentials (a login names its user).
#[derive(Debug, Clone)]
pub(crate) struct AuditActor(pub baton_auth::UserId, pub String);

const UNAUTHENTICATED: &str = "authentication required: log in with `baton login --server URL \
     --username NAME`, or send `Authorization: Bearer <token>`";

/// Why a request is refused before its handler.
enum Refusal {
    Unauthenticated(&'static str),
    Forbidden(String),
    Failed(ApiError),
}

impl From<baton_store::StoreError> for Refusal {
    fn from(e: baton_store::StoreError) -> Self {
        Refusal::Failed(e.into())
    }
}

/// The caller of a request: `Ok(None)` when it brought no credentials.
async fn authenticate(
    state: &ApiState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Refusal> {
    let (secret, cookie) = match credential(headers)? {
        Some(found) => found,
        None => return Ok(None),
    };
    if !token::well_formed(&secret) {
        return Err(Refusal::Unauthenticated("malformed credentials"));
    }
    let hash = token::digest(&secret);
    let Some(found) = state.store.authenticate(&hash).await? else {
        return Err(Refusal::Unauthenticated(
            "unknown, expired or revoked credentials",
        ));
    };
    if cookie && changes_state(method) && !is_json(headers) {
        return Err(Refusal::Forbidden(
            "a change made with a session cookie must be sent as `application/json`".into(),
        ));
    }
    if cookie && changes_state(method) {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        let ok = match (sent, &found.csrf_hash) {
            (Some(sent), Some(want)) => token::digest(sent) == *want,
            _ => false,
        };
        if !ok {
            return Err(Refusal::Forbidden(format!(
                "a cookie session needs its CSRF token in `{CSRF_HEADER}` to change anything"
            )));
        }
    }
    Ok(Some(Caller {
        principal: Some(Arc::new(found.principal)),
        secret_hash: Some(hash),
    }))
}

/// The secret sent, and whether it came in the cookie: a bearer token first, else the
/// session cookie.
fn credential(headers: &HeaderMap) -> Result<Option<(String, bool)>, Refusal> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let text = v.to_str().unwrap_or("");
        let Some(secret) = text.strip_prefix("Bearer ") else {
            return Err(Refusal::Unauthenticated(
                "malformed `Authorization` header: use `Bearer <token>`",
            ));
        };
        return Ok(Some((secret.trim().to_string(), false)));
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| (v.to_string(), true));
    Ok(cookie)
}

/// Whether the body is declared JSON (a cross-site form cannot declare it).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// The host part of `host`, `host:port`, `[v6]:port` or a URL's authority.
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Whether a `Host` (or an `Origin`'s authority) names this API: a loopback name, or one of
/// the configured public hosts (a bare name allows any port).
fn host_allowed(state: &ApiState, authority: &str) -> bool {
    let name = host_name(authority).to_ascii_lowercase();
    let loopback = name == "localhost"
        || name.ends_with(".localhost")
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback
        || state.public_hosts.iter().any(|h| {
            let h = h.to_ascii_lowercase();
            h == authority.to_ascii_lowercase() || (!h.contains(':') && h == name)
        })
}

/// The `Host` and `Origin` checks; the refusal names the flag that allows another name.
fn check_origin(state: &ApiState, headers: &HeaderMap) -> Result<(), Refusal> {
    let text = |n| {
        headers
            .get(n)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    let refuse = |what: &str, value: &str| {
        Refusal::Forbidden(format!(
            "{what} `{value}` is not a name of this server: reach it by a loopback name, or \
             start it with `--public-host {}`",
            host_name(value)
        ))
    };
    if let Some(host) = text(header::HOST) {
        if !host_allowed(state, host) {
            return Err(refuse("host", host));
        }
    }
    if let Some(origin) = text(header::ORIGIN) {
        let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
        if origin == "null" || !host_allowed(state, authority) {
            return Err(refuse("origin", origin));
        }
    }
    Ok(())
}

/// Whether a method changes state (and so is audited, and needs the CSRF token).
pub(crate) fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[derive(serde::Deserialize)]
struct ProjectParam {
    project: Option<String>,
}

/// The project `?project=` names, if any.
fn query_project(req: &Request) -> Option<String> {
    axum::extract::Query::<ProjectParam>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.project)
        .filter(|p| !p.is_empty())
}

/// A path parameter.
async fn path_param(req: &mut Request, name: &str) -> Option<String> {
    use axum::RequestExt;
    let params = req
        .extract_parts::<axum::extract::RawPathParams>()
        .await
        .ok()?;
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// What the project question comes to: a project, none (the object does not exist), or
/// not asked (a listing without `?project=`, a body that is no workflow).
enum Resolved {
    Project(String),
    Missing,
    NotAsked,
}

/// The project the request is about, per `scope`; the request comes back (its body read
/// and put back for [`Scope::ApplyBody`]).
async fn resolve(
    state: &ApiState,
    scope: Scope,
    mut req: Request,
) -> Result<(Resolved, Request), Refusal> {
    let id = |v: Option<String>| v.and_then(|s| s.parse::<i64>().ok());
    let found = |p: Option<String>| p.map_or(Resolved::Missing, Resolved::Project);
    let resolved = match scope {
        Scope::None => Resolved::NotAsked,
        Scope::Query => Resolved::Project(
            query_project(&req).unwrap_or_else(|| baton_core::spec::DEFAULT_PROJECT.into()),
        ),
        Scope::Listing => query_project(&req).map_or(Resolved::NotAsked, Resolved::Project),
        Scope::ProjectPath => found(path_param(&mut req, "project").await),
        Scope::Instance => match id(path_param(&mut req, "id").await) {
            Some(i) => found(instance_project(state, WorkflowInstanceId(i)).await?),
            None => Resolved::Missing,
        },
        Scope::TaskInstance => match id(path_param(&mut req, "id").await) {
            Some(i) => found(task_project(state, TaskInstanceId(i)).await?),
            None => Resolved::Missing,
        },
        Scope::Backfill => match id(path_param(&mut req, "id").await) {
            Some(i) => found(backfill_project(state, i).await?),
            None => Resolved::Missing,
        },
        Scope::ApplyBody => return apply_project(req).await,
    };
    Ok((resolved, req))
}

async fn instance_project(
    state: &ApiState,
    id: WorkflowInstanceId,
) -> Result<Option<String>, Refusal> {
    Ok(state.store.get_instance(id).await?.map(|i| i.project))
}

async fn task_project(state: &ApiState, id: TaskInstanceId) -> Result<Option<String>, Refusal> {
    let Some(task) = state.store.task_instance(id).await? else {
        return Ok(None);
    };
    instance_project(state, task.workflow_instance_id).await
}

async fn backfill_project(state: &ApiState, id: i64) -> Result<Option<String>, Refusal> {
    let Some(b) = state.store.get_backfill(id).await? else {
        return Ok(None);
    };
    Ok(state.store.project_of_workflow(b.workflow_id).await?)
}

/// The project of the workflow file in an apply's body; the body is put back for the
/// handler. A body that is no valid workflow is the handler's to refuse (400).
async fn apply_project(req: Request) -> Result<(Resolved, Request), Refusal> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
        .await
        .map_err(|_| Refusal::Failed(ApiError::TooLarge))?;
    let project = serde_json::from_slice::<baton_api_model::ApplyRequest>(&bytes)
        .ok()
        .and_then(|r| WorkflowSpec::from_yaml(&r.source, "request").ok())
        .map(|s| s.project);
    let req = Request::from_parts(parts, axum::body::Body::from(bytes));
    Ok((project.map_or(Resolved::NotAsked, Resolved::Project), req))
}

/// The decision for a resolved request.
fn decide(caller: Option<&Caller>, access: Access, resolved: &Resolved) -> Decision {
    let principal = caller.and_then(|c| c.principal.as_deref());
    match (access.rule, resolved) {
        (Rule::Project(role), Resolved::NotAsked) => {
            let Some(p) = principal else {
                return Decision::Unauthenticated;
            };
            // A listing filters to the caller's projects; a body that is no workflow gets
            // its 400 only from someone who may apply somewhere.
            let ok = access.scope == Scope::Listing || p.has_role_somewhere(role);
            if ok {
                Decision::Allow
            } else {
                Decision::Forbidden
            }
        }
        (rule, Resolved::Project(project)) => allowed(principal, rule, Some(project)),
        (rule, Resolved::Missing | Resolved::NotAsked) => allowed(principal, rule, None),
    }
}

/// The message of a 403 (the same whether the object exists or not).
fn forbidden(access: Access) -> String {
    match access.rule {
        Rule::Project(role) => format!(
            "forbidden: this needs the `{role}` role on the project of the object (or the \
             object does not exist)"
        ),
        Rule::GlobalAdmin => "forbidden: this needs a global admin".into(),
        Rule::Public | Rule::Authenticated => "forbidden".into(),
    }
}

/// The middleware of every `/api/v1` route.
pub(crate) async fn enforce(
    axum::extract::State(access): axum::extract::State<Access>,
    req: Request,
    next: Next,
) -> Response {
    let Some(state) = req.extensions().get::<ApiState>().cloned() else {
        return ApiError::Unavailable("the API state is missing".into()).into_response();
    };
    let method = req.method().clone();
    let audit = changes_state(&method).then(|| AuditNote::of(&req));
    let (caller, response) = match admit(&state, access, req).await {
        Ok((caller, req)) => (caller.clone(), run(caller, req, next).await),
        Err((caller, refusal)) => (caller, refused(refusal)),
    };
    let unaudited = response.extensions().get::<Unaudited>().is_some();
    if let Some(mut note) = audit.filter(|_| !unaudited) {
        let actor = response.extensions().get::<AuditActor>().cloned();
        if let Some(AuditDetail(detail)) = response.extensions().get::<AuditDetail>() {
            note.target = format!("{} ({detail})", note.target);
        }
        note.record(&state, caller.as_ref(), actor, response.status())
            .await;
    }
    response
}

/// Authenticates, resolves and decides.
async fn admit(
    state: &ApiState,
    access: Access,
    req: Request,
) -> Result<(Option<Caller>, Request), (Option<Caller>, Refusal)> {
    if let Err(r) = check_origin(state, req.headers()) {
        return Err((None, r));
    }
    // A public route ignores credentials: a stale cookie must not keep anyone from logging in.
    let caller = if access.rule == Rule::Public {
        None
    } else {
        match authenticate(state, req.method(), req.headers()).await {
            Ok(c) => c,
            Err(r) => return Err((None, r)),
        }
    };
    let (resolved, req) = match resolve(state, access.scope, req).await {
        Ok(r) => r,
        Err(r) => return Err((caller, r)),
    };
    match decide(caller.as_ref(), access, &resolved) {
        Decision::Allow => Ok((caller, req)),
        Decision::Unauthenticated => Err((caller, Refusal::Unauthenticated("no credentials"))),
        Decision::Forbidden => Err((caller, Refusal::Forbidden(forbidden(access)))),
    }
}

async fn run(caller: Option<Caller>, mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(caller.unwrap_or_default());
    next.run(req).await
}

fn refused(r: Refusal) -> Response {
    match r {
        Refusal::Unauthenticated(why) => {
            let mut resp =
                ApiError::Unauthorized(format!("{why}; {UNAUTHENTICATED}")).into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("a header"),
            );
            resp
        }
        Refusal::Forbidden(msg) => ApiError::Forbidden(msg).into_response(),
        Refusal::Failed(e) => e.into_response(),
    }
}

/// A handler's mark on an answer to a request that changes nothing although its method is
/// POST (a dry run such as `POST /workflows:validate`, called as an editor types): the
/// answer is not audited. A refusal never carries it, so refusals are audited all the same.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unaudited;

/// What a handler adds to the target of its audit row (a login: the user name tried).
#[derive(Debug, Clone)]
pub(crate) struct AuditDetail(pub(crate) String);

/// The address of the client (none when the server was not told, as in router tests).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<ClientAddress, Self::Rejection> {
        let address = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(ClientAddress(address.map(|c| c.0.ip())))
    }
}

/// What the audit row of a state-changing request says, taken before the request is used.
struct AuditNote {
    action: String,
    target: String,
    address: Option<String>,
}

impl AuditNote {
    fn of(req: &Request) -> AuditNote {
        let template = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
        let address = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let target = match query_project(req) {
            Some(p) => format!("{} (project {p})", req.uri().path()),
            None => req.uri().path().to_string(),
        };
        AuditNote {
            action: format!("{} {template}", req.method()),
            target,
            address,
        }
    }

    async fn record(
        self,
        state: &ApiState,
        caller: Option<&Caller>,
        actor: Option<AuditActor>,
        status: StatusCode,
    ) {
        let outcome = if matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        ) {
            "denied"
        } else if status.is_success() {
            "allowed"
        } else {
            "failed"
        };
        let principal = caller.and_then(|c| c.principal.as_deref());
        let user = principal
            .map(|p| (p.user, p.name.as_str()))
            .or_else(|| actor.as_ref().map(|a| (a.0, a.1.as_str())));
        let row = baton_store::NewAudit {
            user,
            action: &self.action,
            target: &self.target,
            address: self.address.as_deref(),
            outcome,
            status: status.as_u16(),
        };
        if let Err(e) = state.store.record_audit(row).await {
            tracing::error!("audit: cannot record `{}`: {e}", self.action);
        }
    }
}
