//! Identity and access: users, their project roles, API tokens and login sessions (both
//! stored only as the SHA-256 of their secret), projects, and the audit log. Password hashes
//! are written and read here and never leave the store except to be verified.

use crate::error::{Context, StoreError};
use crate::records::{corrupt, get};
use crate::{now_us, Store};
use baton_auth::{Credential, Principal, Role, TokenId, UserId};
use serde::Serialize;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// `last_used_at` is written at most this often per credential (µs), so that reading the API
/// does not cost a write per request.
pub const TOUCH_EVERY_US: i64 = 60_000_000;

/// A user, without their password hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserRecord {
    /// Its id.
    pub id: UserId,
    /// The login name.
    pub name: String,
    /// A disabled user cannot log in, and their tokens and sessions stop working.
    pub disabled: bool,
    /// May do everything.
    pub global_admin: bool,
    /// When it was created.
    pub created_at: i64,
}

/// An API token as listed: never its secret or hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its id.
    pub id: TokenId,
    /// Whose it is.
    pub user: UserId,
    /// What its owner called it.
    pub name: String,
    /// The only project it acts on, when narrowed.
    pub project: Option<String>,
    /// The highest role it acts with, when narrowed.
    pub role: Option<Role>,
    /// When it was created.
    pub created_at: i64,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// Whose.
    pub user: UserId,
    /// A name for listing.
    pub name: &'a str,
    /// The SHA-256 of the secret (see `baton_auth::token`).
    pub secret_hash: &'a str,
    /// Narrowed to this project.
    pub project: Option<&'a str>,
    /// Narrowed to this role.
    pub role: Option<Role>,
    /// Expiry (µs since the epoch).
    pub expires_at: Option<i64>,
}

/// A project with its creation time.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProjectRecord {
    /// Its name.
    pub name: String,
    /// When it was created (for those made by the migration: when it ran).
    pub created_at: i64,
}

/// A member of a project.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MemberRecord {
    /// The user.
    pub user: UserId,
    /// Their name.
    pub user_name: String,
    /// Their role there.
    pub role: Role,
}

/// Who a credential belongs to, as the API needs it to decide and check.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The caller.
    pub principal: Principal,
    /// For a browser session: the SHA-256 of its CSRF token.
    pub csrf_hash: Option<String>,
}

pub(crate) fn flag(row: &AnyRow, col: &str) -> Result<bool, StoreError> {
    Ok(get::<i64>(row, col)? != 0)
}

pub(crate) fn role_of(text: &str) -> Result<Role, StoreError> {
    text.parse().map_err(|e| corrupt("role", format!("{e}")))
}

fn user_of(row: &AnyRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: UserId(get(row, "id")?),
        name: get(row, "name")?,
        disabled: flag(row, "disabled")?,
        global_admin: flag(row, "global_admin")?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn token_of(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    let role: Option<String> = get(row, "role")?;
    Ok(TokenRecord {
        id: TokenId(get(row, "id")?),
        user: UserId(get(row, "user_id")?),
        name: get(row, "name")?,
        project: get(row, "project")?,
        role: role.as_deref().map(role_of).transpose()?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        last_used_at: get(row, "last_used_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

/// A unique-constraint violation becomes a conflict that says `what` exists.
pub(crate) fn unique(e: sqlx::Error, what: String, context: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Query { context, source: e },
    }
}

const USER_COLUMNS: &str = "id, name, disabled, global_admin, created_at";

impl Store {
    /// How many users exist (none: the first start creates `admin`).
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM app_user")
            .fetch_one(&self.read)
            .await
            .ctx("counting users")
    }

    /// Creates a user; a conflict if the name is taken.
    pub async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        global_admin: bool,
    ) -> Result<UserId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO app_user (name, password_hash, global_admin, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(password_hash)
        .bind(i64::from(global_admin))
        .bind(now_us())
        .fetch_one(&self.write)
        .await
        .map_err(|e| unique(e, format!("user `{name}` exists"), "creating a user"))?;
        Ok(UserId(id))
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM app_user ORDER BY name");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.read)
            .await
            .ctx("listing users")?;
        rows.iter().map(user_of).collect()
    }

    /// The user of that name with their password hash, to verify a login.
    pub async fn user_login(&self, name: &str) -> Result<Option<(UserRecord, String)>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM app_user WHERE name = $1");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a user")?;
        row.map(|r| Ok((user_of(&r)?, get(&r, "password_hash")?)))
            .transpose()
    }

    /// Disables (or enables) a user; disabling ends their sessions. The last enabled global
    /// admin cannot be disabled: nobody could then manage users or projects.
    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        let id = self.user_id(name).await?;
        // One statement, so that the check and the change cannot be told apart by a reader.
        let changed = sqlx::query(
            "UPDATE app_user SET disabled = $1 WHERE id = $2 AND ($1 = 0 OR global_admin = 0 \
             OR EXISTS (SELECT 1 FROM app_user o WHERE o.global_admin = 1 AND o.disabled = 0 \
             AND o.id <> $2))",
        )
        .bind(i64::from(disabled))
        .bind(id.0)
        .execute(&self.write)
        .await
        .ctx("disabling a user")?;
        if changed.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "user `{name}` is the last enabled global admin: make another user a global \
                 admin before disabling this one"
            )));
        }
        if disabled {
            self.end_sessions(id).await?;
        }
        Ok(())
    }

    /// Deletes the login sessions that can no longer be used (expired or ended), and the API
    /// tokens that expired or were revoked more than `keep_us` ago (until then `token list`
    /// still shows them). Returns how many rows went.
    pub async fn purge_credentials(&self, now: i64, keep_us: i64) -> Result<u64, StoreError> {
        let sessions = sqlx::query(
            "DELETE FROM login_session WHERE expires_at <= $1 OR revoked_at IS NOT NULL",
        )
        .bind(now)
        .execute(&self.write)
        .await
        .ctx("removing ended sessions")?;
        let tokens = sqlx::query("DELETE FROM api_token WHERE revoked_at < $1 OR expires_at < $1")
            .bind(now.saturating_sub(keep_us))
            .execute(&self.write)
            .await
            .ctx("removing old tokens")?;
        Ok(sessions.rows_affected() + tokens.rows_affected())
    }

    /// Sets a user's password hash and ends every session of theirs.
    pub async fn set_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        let id = self.user_id(name).await?;
        sqlx::query("UPDATE app_user SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.0)
            .execute(&self.write)
            .await
            .ctx("setting a password")?;
        self.end_sessions(id).await
    }

    /// The id of the user of that name, or not found.
    pub async fn user_id(&self, name: &str) -> Result<UserId, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM app_user WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a user")?;
        id.map(UserId)
            .ok_or_else(|| StoreError::NotFound(format!("user `{name}`")))
    }

    /// The roles of a user, by project.
    async fn roles_of(&self, user: UserId) -> Result<BTreeMap<String, Role>, StoreError> {
        let rows = sqlx::query("SELECT project, role FROM project_member WHERE user_id = $1")
            .bind(user.0)
            .fetch_all(&self.read)
            .await
            .ctx("reading a user's roles")?;
        rows.iter()
            .map(|r| Ok((get(r, "project")?, role_of(&get::<String>(r, "role")?)?)))
            .collect()
    }

    /// The principal a login session or API token (by the SHA-256 of its secret) stands for,
    /// if it exists, is neither expired nor revoked, and its user is not disabled. Records
    /// its use at most once per [`TOUCH_EVERY_US`].
    pub async fn authenticate(
        &self,
        secret_hash: &str,
    ) -> Result<Option<Authenticated>, StoreError> {
        let now = now_us();
        if let Some(found) = self.by_token(secret_hash, now).await? {
            return Ok(Some(found));
        }
        self.by_session(secret_hash, now).await
    }

    async fn by_token(&self, hash: &str, now: i64) -> Result<Option<Authenticated>, StoreError> {
        let sql = format!(
            "SELECT t.id, t.user_id, t.name, t.project, t.role, t.created_at, t.expires_at, \
             t.last_used_at, t.revoked_at, u.name AS user_name, u.global_admin \
             FROM api_token t JOIN app_user u ON u.id = t.user_id \
             WHERE t.secret_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0 \
             AND (t.expires_at IS NULL OR t.expires_at > {now})"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(hash)
            .fetch_optional(&self.read)
            .await
            .ctx("looking up a token")?
        else {
            return Ok(None);
        };
        let token = token_of(&row)?;
        if token.last_used_at.is_none_or(|t| t < now - TOUCH_EVERY_US) {
            self.touch("api_token", token.id.0, now).await?;
        }
        let principal = Principal {
            user: token.user,
            name: get(&row, "user_name")?,
            global_admin: flag(&row, "global_admin")?,
            roles: self.roles_of(token.user).await?,
            credential: Credential::Token {
                id: token.id,
                project: token.project,
                role: token.role,
            },
        };
        Ok(Some(Authenticated {
            principal,
            csrf_hash: None,
        }))
    }

    async fn by_session(&self, hash: &str, now: i64) -> Result<Option<Authenticated>, StoreError> {
        let row = sqlx::query(
            "SELECT s.id, s.user_id, s.csrf_hash, s.last_used_at, u.name, u.global_admin \
             FROM login_session s JOIN app_user u ON u.id = s.user_id \
             WHERE s.secret_hash = $1 AND s.revoked_at IS NULL AND u.disabled = 0 \
             AND s.expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .ctx("looking up a session")?;
        let Some(row) = row else { return Ok(None) };
        if get::<i64>(&row, "last_used_at")? < now - TOUCH_EVERY_US {
            self.touch("login_session", get(&row, "id")?, now).await?;
        }
        let user = UserId(get(&row, "user_id")?);
        let principal = Principal {
            user,
            name: get(&row, "name")?,
            global_admin: flag(&row, "global_admin")?,
            roles: self.roles_of(user).await?,
            credential: Credential::Session,
        };
        Ok(Some(Authenticated {
            principal,
            csrf_hash: get(&row, "csrf_hash")?,
        }))
    }

    async fn touch(&self, table: &'static str, id: i64, now: i64) -> Result<(), StoreError> {
        let sql = format!("UPDATE {table} SET last_used_at = $1 WHERE id = $2");
        sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .execute(&self.write)
            .await
            .ctx("recording a credential's use")?;
        Ok(())
    }

    /// Stores a login session (by the SHA-256 of its id, and of its CSRF token for a browser).
    pub async fn create_session(
        &self,
        user: UserId,
        secret_hash: &str,
        csrf_hash: Option<&str>,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = now_us();
        sqlx::query(
            "INSERT INTO login_session (user_id, secret_hash, csrf_hash, created_at, \
             expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $4)",
        )
        .bind(user.0)
        .bind(secret_hash)
        .bind(csrf_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&self.write)
        .await
        .ctx("creating a session")?;
        Ok(())
    }

    /// Ends the session of that secret (logout).
    pub async fn end_session(&self, secret_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE login_session SET revoked_at = $1 WHERE secret_hash = $2 \
             AND revoked_at IS NULL",
        )
        .bind(now_us())
        .bind(secret_hash)
        .execute(&self.write)
        .await
        .ctx("ending a session")?;
        Ok(())
    }

    /// Ends every session of a user (password change, disabling).
    async fn end_sessions(&self, user: UserId) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE login_session SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_us())
        .bind(user.0)
        .execute(&self.write)
        .await
        .ctx("ending a user's sessions")?;
        Ok(())
    }
}

mod audit;
mod projects;
mod tokens;
pub use audit::{AuditFilter, AuditRecord, NewAudit};
