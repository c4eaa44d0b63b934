//! `/auth` (login, logout, who am I, one's own password) and `/users` (a global admin's).

use super::{body, ApiResult, Path, Query};
use crate::access::{AuditActor, AuditDetail, Caller, ClientAddress};
use crate::throttle::RetryAfter;
use crate::{ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use baton_api_model::time::from_us;
use baton_api_model::{
    ChangePassword, ErrorBody, LoginAnswer, LoginRequest, Me, NewUser, PageQuery, ProjectRole,
    SessionKind, SetPassword, User, UserList, SESSION_COOKIE,
};
use baton_auth::{password, token, Credential, Principal};
use std::sync::OnceLock;

/// How long a CLI (bearer) session lasts.
pub(crate) const TOKEN_SESSION_US: i64 = 7 * 24 * 3600 * 1_000_000;
/// How long a browser (cookie) session lasts.
pub(crate) const COOKIE_SESSION_US: i64 = 12 * 3600 * 1_000_000;

/// Hashes off the async runtime (Argon2id is slow on purpose).
pub(crate) async fn hash_password(plain: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&plain))
        .await
        .map_err(|e| ApiError::Unavailable(format!("hashing: {e}")))?
        .map_err(|e| ApiError::bad("bad_password", e.to_string()))
}

/// Verifies off the async runtime.
async fn verify_password(plain: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || password::verify(&plain, &stored))
        .await
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that an unknown name takes as
/// long as a wrong password.
fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| password::hash(&password::random()).unwrap_or_default())
        .clone()
}

/// `Me` of a principal.
pub(crate) fn me(p: &Principal) -> Me {
    let (token_project, token_role) = match &p.credential {
        Credential::Session => (None, None),
        Credential::Token { project, role, .. } => (project.clone(), *role),
    };
    Me {
        name: p.name.clone(),
        global_admin: p.global_admin,
        roles: p
            .roles
            .iter()
            .map(|(project, role)| ProjectRole {
                project: project.clone(),
                role: *role,
            })
            .collect(),
        token_project,
        token_role,
    }
}

/// The `Set-Cookie` value of the session cookie holding `value` for `max_age_s` seconds:
/// HttpOnly, SameSite=Strict, and `Secure` when the listener speaks https.
fn session_cookie(state: &ApiState, value: &str, max_age_s: i64) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}{secure}"
    )
}

const BAD_LOGIN: &str = "wrong user name or password (or the user is disabled)";

/// `POST /auth/login`: a session for the CLI (a bearer token) or a browser (a cookie).
/// Attempts are rate limited per client address and per user name.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Logged in; a cookie session also sets `baton_session` (HttpOnly, SameSite=Strict)", body = LoginAnswer),
        (status = 401, description = "Wrong name or password, or a disabled user", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address or for this user name; `Retry-After` says when to try again", body = ErrorBody)))]
pub(crate) async fn login(
    State(state): State<ApiState>,
    ClientAddress(address): ClientAddress,
    req: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let req = body(req, "bad_request", "login: ")?;
    // The audit row names the user tried, cut short: it is the caller's text.
    let tried: String = req.username.chars().take(64).collect();
    let mut response = match log_in(&state, address, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    response
        .extensions_mut()
        .insert(AuditDetail(format!("user {tried:?}")));
    Ok(response)
}

async fn log_in(
    state: &ApiState,
    address: Option<std::net::IpAddr>,
    req: LoginRequest,
) -> Result<Response, ApiError> {
    state
        .login_limits
        .attempt(address, &req.username)
        .map_err(|RetryAfter(wait)| ApiError::TooManyRequests(wait))?;
    let found = state.store.user_login(&req.username).await?;
    let stored = found.as_ref().map_or_else(decoy_hash, |(_, h)| h.clone());
    let matches = verify_password(req.password.clone(), stored).await;
    let user = match found {
        Some((user, _)) if matches && !user.disabled => user,
        _ => return Err(ApiError::Unauthorized(BAD_LOGIN.into())),
    };
    let secret = token::generate();
    let (life, csrf) = match req.session {
        SessionKind::Token => (TOKEN_SESSION_US, None),
        SessionKind::Cookie => (COOKIE_SESSION_US, Some(token::generate())),
    };
    let expires_at = baton_store::now_us() + life;
    let csrf_hash = csrf.as_ref().map(|c| c.hash.as_str());
    state
        .store
        .create_session(user.id, &secret.hash, csrf_hash, expires_at)
        .await?;
    let principal = state
        .store
        .authenticate(&secret.hash)
        .await?
        .ok_or_else(|| ApiError::Unauthorized(BAD_LOGIN.into()))?
        .principal;
    let answer = LoginAnswer {
        token: (req.session == SessionKind::Token).then(|| secret.plain.clone()),
        csrf_token: csrf.map(|c| c.plain),
        expires_at: from_us(expires_at),
        user: me(&principal),
    };
    let mut response = Json(answer).into_response();
    if req.session == SessionKind::Cookie {
        let cookie = session_cookie(state, &secret.plain, life / 1_000_000);
        let value = cookie
            .parse()
            .map_err(|_| ApiError::bad("bad_cookie", "cookie"))?;
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
        .extensions_mut()
        .insert(AuditActor(user.id, user.name));
    Ok(response)
}

/// `POST /auth/logout`: ends the caller's session (an API token stays valid: revoke it).
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "The session is over; the cookie is cleared"),
        (status = 401, description = "Not logged in", body = ErrorBody)))]
pub(crate) async fn logout(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    if let (Some(hash), Credential::Session) =
        (&caller.secret_hash, &caller.principal()?.credential)
    {
        state.store.end_session(hash).await?;
    }
    let clear = session_cookie(&state, "", 0);
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = clear.parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `GET /auth/me`: who the caller is.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, description = "The caller", body = Me),
        (status = 401, description = "Not logged in", body = ErrorBody)))]
pub(crate) async fn whoami(caller: Caller) -> ApiResult<Me> {
    Ok(Json(me(caller.principal()?)))
}

/// `POST /auth/password`: the caller changes their own password; every session of theirs
/// ends (log in again).
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = ChangePassword,
    responses((status = 204, description = "Changed; sessions ended"),
        (status = 400, description = "Too short a new password", body = ErrorBody),
        (status = 403, description = "Wrong current password", body = ErrorBody)))]
pub(crate) async fn change_password(
    State(state): State<ApiState>,
    caller: Caller,
    req: Result<Json<ChangePassword>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let req = body(req, "bad_request", "password: ")?;
    let name = caller.principal()?.name.clone();
    let stored = state.store.user_login(&name).await?.map(|(_, h)| h);
    let ok = match stored {
        Some(h) => verify_password(req.current_password, h).await,
        None => false,
    };
    if !ok {
        return Err(ApiError::Forbidden("the current password is wrong".into()));
    }
    let hash = hash_password(req.new_password).await?;
    state.store.set_password(&name, &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn user(u: baton_store::UserRecord) -> User {
    User {
        name: u.name,
        disabled: u.disabled,
        global_admin: u.global_admin,
        created_at: from_us(u.created_at),
    }
}

/// `POST /users`: a new local user.
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser,
    responses((status = 201, description = "Created", body = User),
        (status = 400, description = "A bad name or too short a password", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)))]
pub(crate) async fn create_user(
    State(state): State<ApiState>,
    req: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let req = body(req, "bad_request", "user: ")?;
    super::check_name("user", &req.name)?;
    let hash = hash_password(req.password).await?;
    state
        .store
        .create_user(&req.name, &hash, req.global_admin)
        .await?;
    let created = state
        .store
        .list_users()
        .await?
        .into_iter()
        .find(|u| u.name == req.name)
        .ok_or_else(|| ApiError::NotFound(format!("user `{}`", req.name)))?;
    Ok((StatusCode::CREATED, Json(user(created))))
}

/// `GET /users`: a page of the users, by name.
#[utoipa::path(get, path = "/users", tag = "users", params(PageQuery),
    responses((status = 200, description = "A page of the users", body = UserList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_users(
    State(state): State<ApiState>,
    Query(page): Query<PageQuery>,
) -> ApiResult<UserList> {
    let users = state.store.list_users().await?;
    let (users, next_cursor) = crate::paging::by_key(users, |u| u.name.clone(), &page)?;
    Ok(Json(UserList {
        users: users.into_iter().map(user).collect(),
        next_cursor,
    }))
}

/// `POST /users/{user}/disable`: the user can no longer log in; their sessions end and
/// their tokens stop working.
#[utoipa::path(post, path = "/users/{user}/disable", tag = "users",
    params(("user" = String, Path, description = "The user's name")),
    responses((status = 204, description = "Disabled"),
        (status = 404, description = "No such user", body = ErrorBody)))]
pub(crate) async fn disable_user(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store.set_user_disabled(&name, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /users/{user}/enable`: undoes a disable.
#[utoipa::path(post, path = "/users/{user}/enable", tag = "users",
    params(("user" = String, Path, description = "The user's name")),
    responses((status = 204, description = "Enabled"),
        (status = 404, description = "No such user", body = ErrorBody)))]
pub(crate) async fn enable_user(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store.set_user_disabled(&name, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /users/{user}/password`: a global admin sets a user's password; their sessions end.
#[utoipa::path(put, path = "/users/{user}/password", tag = "users", request_body = SetPassword,
    params(("user" = String, Path, description = "The user's name")),
    responses((status = 204, description = "Set"),
        (status = 400, description = "Too short", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)))]
pub(crate) async fn set_password(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    req: Result<Json<SetPassword>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let req = body(req, "bad_request", "password: ")?;
    let hash = hash_password(req.password).await?;
    state.store.set_password(&name, &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}
