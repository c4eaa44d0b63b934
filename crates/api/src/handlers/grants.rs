//! `/tokens` (the caller's API tokens), `/projects` with their members, and `/audit`.

use super::{body, ApiResult, Path, Query};
use crate::access::Caller;
use crate::{paging, ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use baton_api_model::time::{from_us, opt_from_us, to_us};
use baton_api_model::{
    AuditEntry, AuditList, AuditOutcome, AuditQuery, ErrorBody, MemberList, NewProject, NewToken,
    PageQuery, Project, ProjectList, ProjectMember, SetMember, Token, TokenCreated, TokenList,
};
use baton_auth::{token, Credential, TokenId};

fn token_info(t: baton_store::TokenRecord) -> Token {
    Token {
        id: t.id.0,
        name: t.name,
        project: t.project,
        role: t.role,
        created_at: from_us(t.created_at),
        expires_at: opt_from_us(t.expires_at),
        last_used_at: opt_from_us(t.last_used_at),
        revoked_at: opt_from_us(t.revoked_at),
    }
}

/// `POST /tokens`: a new API token of the caller, perhaps narrowed to a project and a role;
/// its secret is in this answer only.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, description = "Created; `token` is shown this once", body = TokenCreated),
        (status = 400, description = "A project the caller has no role on, or a bad expiry", body = ErrorBody),
        (status = 403, description = "A token cannot make tokens", body = ErrorBody)))]
pub(crate) async fn create_token(
    State(state): State<ApiState>,
    caller: Caller,
    req: Result<Json<NewToken>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenCreated>), ApiError> {
    let req = body(req, "bad_request", "token: ")?;
    let p = caller.principal()?;
    if !matches!(p.credential, Credential::Session) {
        return Err(ApiError::Forbidden(
            "an API token cannot make tokens: log in (`baton login`) to make one".into(),
        ));
    }
    if let Some(project) = &req.project {
        if p.role_on(project).is_none() {
            return Err(ApiError::bad(
                "bad_project",
                format!("you have no role on project `{project}` to narrow a token to"),
            ));
        }
    }
    let expires_at = match req.expires_in_s {
        Some(s) => {
            let us = i64::try_from(s)
                .ok()
                .and_then(|s| s.checked_mul(1_000_000))
                .and_then(|us| us.checked_add(baton_store::now_us()))
                .filter(|_| s > 0 && s <= 10 * 366 * 24 * 3600)
                .ok_or_else(|| ApiError::bad("bad_expiry", "`expires_in_s`: 1 s to 10 years"))?;
            Some(us)
        }
        None => None,
    };
    let secret = token::generate();
    let name = if req.name.is_empty() {
        "token"
    } else {
        &req.name
    };
    let id = state
        .store
        .create_token(baton_store::NewToken {
            user: p.user,
            name,
            secret_hash: &secret.hash,
            project: req.project.as_deref(),
            role: req.role,
            expires_at,
        })
        .await?;
    let info = own_tokens(&state, &caller)
        .await?
        .into_iter()
        .find(|t| t.id == id.0)
        .ok_or_else(|| ApiError::NotFound(format!("token {id}")))?;
    let created = TokenCreated {
        token: secret.plain,
        info,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

async fn own_tokens(state: &ApiState, caller: &Caller) -> Result<Vec<Token>, ApiError> {
    let user = caller.principal()?.user;
    let list = state.store.list_tokens(Some(user)).await?;
    Ok(list.into_iter().map(token_info).collect())
}

/// `GET /tokens`: a page of the caller's tokens, newest first (never their secrets).
#[utoipa::path(get, path = "/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, description = "A page of the caller's tokens", body = TokenList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_tokens(
    State(state): State<ApiState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<TokenList> {
    let mut tokens = own_tokens(&state, &caller).await?;
    tokens.sort_by_key(|t| std::cmp::Reverse(t.id));
    let (tokens, next_cursor) = paging::newest_first(tokens, |t| t.id, &page)?;
    Ok(Json(TokenList {
        tokens,
        next_cursor,
    }))
}

/// `DELETE /tokens/{id}`: revokes one of the caller's tokens (a global admin: anyone's).
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"),
        (status = 404, description = "No such token of the caller's", body = ErrorBody)))]
pub(crate) async fn revoke_token(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let p = caller.principal()?;
    let owner = (!p.acts_as_global_admin()).then_some(p.user);
    state.store.revoke_token(TokenId(id), owner).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /projects`: a new project.
#[utoipa::path(post, path = "/projects", tag = "projects", request_body = NewProject,
    responses((status = 201, description = "Created", body = NewProject),
        (status = 400, description = "A bad name", body = ErrorBody),
        (status = 409, description = "It exists", body = ErrorBody)))]
pub(crate) async fn create_project(
    State(state): State<ApiState>,
    req: Result<Json<NewProject>, JsonRejection>,
) -> Result<(StatusCode, Json<NewProject>), ApiError> {
    let req = body(req, "bad_request", "project: ")?;
    super::check_name("project", &req.name)?;
    state.store.create_project(&req.name).await?;
    Ok((StatusCode::CREATED, Json(req)))
}

/// `GET /projects`: a page of those the caller has a role on (all, for a global admin), by name.
#[utoipa::path(get, path = "/projects", tag = "projects", params(PageQuery),
    responses((status = 200, description = "A page of the projects", body = ProjectList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_projects(
    State(state): State<ApiState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<ProjectList> {
    let visible = caller.visible();
    let day_ago = baton_store::now_us() - 24 * 3600 * 1_000_000;
    let counts = state.store.project_counts(day_ago).await?;
    let projects: Vec<Project> = state
        .store
        .list_projects()
        .await?
        .into_iter()
        .filter(|p| visible.as_ref().is_none_or(|v| v.contains(&p.name)))
        .map(|p| {
            let c = counts.get(&p.name).copied().unwrap_or_default();
            Project {
                counts: baton_api_model::ProjectCounts {
                    workflows: c.workflows,
                    running: c.running,
                    failed_24h: c.failed_since,
                },
                name: p.name,
                created_at: from_us(p.created_at),
            }
        })
        .collect();
    let (projects, next_cursor) = paging::by_key(projects, |p| p.name.clone(), &page)?;
    Ok(Json(ProjectList {
        projects,
        next_cursor,
    }))
}

/// `DELETE /projects/{project}`: deletes an empty project.
#[utoipa::path(delete, path = "/projects/{project}", tag = "projects",
    params(("project" = String, Path, description = "The project")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "It still has workflows or data sources", body = ErrorBody)))]
pub(crate) async fn delete_project(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_project(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /projects/{project}/members`: a page of them, by user name.
#[utoipa::path(get, path = "/projects/{project}/members", tag = "projects",
    params(("project" = String, Path, description = "The project"), PageQuery),
    responses((status = 200, description = "A page of the members", body = MemberList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_members(
    State(state): State<ApiState>,
    Path(project): Path<String>,
    Query(page): Query<PageQuery>,
) -> ApiResult<MemberList> {
    let members = state.store.list_members(&project).await?;
    let (members, next_cursor) = paging::by_key(members, |m| m.user_name.clone(), &page)?;
    Ok(Json(MemberList {
        members: members
            .into_iter()
            .map(|m| ProjectMember {
                user: m.user_name,
                role: m.role,
            })
            .collect(),
        next_cursor,
    }))
}

/// `PUT /projects/{project}/members/{user}`: gives a user a role there (or changes it).
#[utoipa::path(put, path = "/projects/{project}/members/{user}", tag = "projects",
    request_body = SetMember,
    params(("project" = String, Path, description = "The project"),
        ("user" = String, Path, description = "The user's name")),
    responses((status = 200, description = "Set", body = ProjectMember),
        (status = 404, description = "No such user or project", body = ErrorBody)))]
pub(crate) async fn set_member(
    State(state): State<ApiState>,
    Path((project, user)): Path<(String, String)>,
    req: Result<Json<SetMember>, JsonRejection>,
) -> ApiResult<ProjectMember> {
    let req = body(req, "bad_request", "member: ")?;
    let id = state.store.user_id(&user).await?;
    state.store.set_member(&project, id, req.role).await?;
    Ok(Json(ProjectMember {
        user,
        role: req.role,
    }))
}

/// `DELETE /projects/{project}/members/{user}`: takes the user's role there away.
#[utoipa::path(delete, path = "/projects/{project}/members/{user}", tag = "projects",
    params(("project" = String, Path, description = "The project"),
        ("user" = String, Path, description = "The user's name")),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "No such member", body = ErrorBody)))]
pub(crate) async fn remove_member(
    State(state): State<ApiState>,
    Path((project, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = state.store.user_id(&user).await?;
    state.store.remove_member(&project, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn outcome(text: &str) -> AuditOutcome {
    match text {
        "allowed" => AuditOutcome::Allowed,
        "denied" => AuditOutcome::Denied,
        _ => AuditOutcome::Failed,
    }
}

/// `GET /audit`: every change asked of the API, newest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery, PageQuery),
    responses((status = 200, description = "A page of the audit log", body = AuditList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_audit(
    State(state): State<ApiState>,
    Query(q): Query<AuditQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<AuditList> {
    let limit = page.limit()?;
    let filter = baton_store::AuditFilter {
        since: q.since.map(to_us),
        user: q.user.filter(|u| !u.is_empty()),
        before: page.cursor()?.map(|c| c.id()).transpose()?,
        limit: i64::from(limit),
    };
    let rows = state.store.list_audit(&filter).await?;
    let next_cursor = paging::next_by_id(rows.len(), limit, rows.last().map(|r| r.id));
    let entries = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: from_us(r.at),
            user: r.user_name,
            action: r.action,
            target: r.target,
            address: r.address,
            outcome: outcome(&r.outcome),
            status: u16::try_from(r.status).unwrap_or(0),
        })
        .collect();
    Ok(Json(AuditList {
        entries,
        next_cursor,
    }))
}
