//! Identity and access: login, the caller, users, API tokens, projects and their members,
//! and the audit log. No answer ever holds a password, a password hash or a stored token
//! hash; a new token's secret is in the answer that creates it, once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use baton_auth::Role;

/// The name of a browser session's cookie (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "baton_session";
/// The header a cookie-authenticated state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What a login makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    /// A bearer session token in the answer (the CLI).
    #[default]
    Token,
    /// An HttpOnly cookie, and a CSRF token in the answer (browsers).
    Cookie,
}

/// Body of `POST /auth/login`. Its `Debug` hides the password.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The user's name.
    pub username: String,
    /// Their password.
    pub password: String,
    /// A bearer token (default) or a browser cookie.
    #[serde(default)]
    pub session: SessionKind,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// Answer of `POST /auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginAnswer {
    /// The session token to send as `Authorization: Bearer` (token sessions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The CSRF token to send as `X-CSRF-Token` on state-changing requests (cookie sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
    /// Who logged in.
    pub user: Me,
}

/// A role on one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectRole {
    /// The project.
    pub project: String,
    /// The role there.
    pub role: Role,
}

/// Answer of `GET /auth/me`: who the caller is and what they may do.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The user's name.
    pub name: String,
    /// A global admin may do everything.
    pub global_admin: bool,
    /// Their roles, by project.
    pub roles: Vec<ProjectRole>,
    /// The project the credential is narrowed to (API tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_project: Option<String>,
    /// The role the credential is narrowed to (API tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_role: Option<Role>,
}

/// Body of `POST /auth/password`: the caller changes their own password.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangePassword {
    /// The password now.
    pub current_password: String,
    /// The new one (at least 8 characters).
    pub new_password: String,
}

/// A user (never their password hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// The login name.
    pub name: String,
    /// A disabled user cannot log in; their tokens and sessions stop working.
    pub disabled: bool,
    /// May do everything.
    pub global_admin: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Answer of `GET /users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// By name.
    pub users: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Body of `POST /users`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct NewUser {
    /// The login name (letters, digits, `_ - .`).
    pub name: String,
    /// The password (at least 8 characters).
    pub password: String,
    /// Make it a global admin.
    #[serde(default)]
    pub global_admin: bool,
}

/// Body of `PUT /users/{user}/password`: an admin sets a user's password.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct SetPassword {
    /// The new password (at least 8 characters).
    pub password: String,
}

/// Body of `POST /tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct NewToken {
    /// A name to recognise it by in `token list`.
    #[serde(default)]
    pub name: String,
    /// Narrow it to this project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Narrow it to at most this role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Seconds until it expires (none: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
}

/// An API token as listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Token {
    /// Its id (for `token revoke`).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The project it is narrowed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The role it is narrowed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Answer of `POST /tokens`: the secret, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    /// `baton_…`: send as `Authorization: Bearer`, or set `BATON_TOKEN`.
    pub token: String,
    /// The token as listed.
    pub info: Token,
}

/// Answer of `GET /tokens`: the caller's tokens, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    /// This page of their tokens, newest first.
    pub tokens: Vec<Token>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Project {
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// What the projects list shows of it.
    #[serde(default)]
    pub counts: ProjectCounts,
}

/// A project's workflows and instances, counted (in `GET /projects`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectCounts {
    /// Its workflows.
    pub workflows: i64,
    /// Its instances that have not ended (submitted, running, pausing, paused, stopping).
    pub running: i64,
    /// Its instances that failed in the last 24 hours.
    pub failed_24h: i64,
}

/// Body of `POST /projects`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewProject {
    /// Its name (letters, digits, `_ - .`).
    pub name: String,
}

/// Answer of `GET /projects`: those the caller is a member of (every one for a global
/// admin).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectList {
    /// By name.
    pub projects: Vec<Project>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A member of a project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectMember {
    /// The user.
    pub user: String,
    /// Their role.
    pub role: Role,
}

/// Answer of `GET /projects/{project}/members`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    /// By user name.
    pub members: Vec<ProjectMember>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Body of `PUT /projects/{project}/members/{user}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SetMember {
    /// The role to give.
    pub role: Role,
}

/// How an audited request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// Allowed and done.
    Allowed,
    /// Refused: no valid credentials, or not the role (401/403).
    Denied,
    /// Allowed, but it failed (a bad request, a conflict…).
    Failed,
}

/// One change asked of the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Its id.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (absent: no valid credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The route, as `METHOD /api/v1/…` with its placeholders.
    pub action: String,
    /// The concrete path, and the project when known.
    pub target: String,
    /// The caller's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The HTTP status of the answer.
    pub status: u16,
}

/// Answer of `GET /audit`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditList {
    /// This page.
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Filters of `GET /audit`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Only entries of this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}
