//! API tokens: created with their secret's hash, listed without it, revoked by their owner
//! (or a global admin).

use super::{token_of, unique, NewToken, TokenRecord};
use crate::error::{Context, StoreError};
use crate::{now_us, Store};
use baton_auth::{TokenId, UserId};

const TOKEN_COLUMNS: &str = "id, user_id, name, project, role, created_at, expires_at, \
     last_used_at, revoked_at";

impl Store {
    /// Stores a token; its id.
    pub async fn create_token(&self, t: NewToken<'_>) -> Result<TokenId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_token (user_id, name, secret_hash, project, role, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(t.user.0)
        .bind(t.name)
        .bind(t.secret_hash)
        .bind(t.project)
        .bind(t.role.map(|r| r.as_str()))
        .bind(now_us())
        .bind(t.expires_at)
        .fetch_one(&self.write)
        .await
        .map_err(|e| unique(e, "a token with this secret".into(), "creating a token"))?;
        Ok(TokenId(id))
    }

    /// The tokens of a user (`None`: of every user), newest first.
    pub async fn list_tokens(&self, user: Option<UserId>) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_token WHERE ($1 IS NULL OR user_id = $1) \
             ORDER BY id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(user.map(|u| u.0))
            .fetch_all(&self.read)
            .await
            .ctx("listing tokens")?;
        rows.iter().map(token_of).collect()
    }

    /// Revokes a token of `owner` (`None`: of anyone); not found when there is no such
    /// token of theirs (another user's token looks the same as a missing one).
    pub async fn revoke_token(&self, id: TokenId, owner: Option<UserId>) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE api_token SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE id = $2 AND ($3 IS NULL OR user_id = $3)",
        )
        .bind(now_us())
        .bind(id.0)
        .bind(owner.map(|u| u.0))
        .execute(&self.write)
        .await
        .ctx("revoking a token")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("token {id}")));
        }
        Ok(())
    }
}
