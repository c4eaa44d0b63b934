//! The audit log: one row per change asked of the API, allowed or refused.

use crate::error::{Context, StoreError};
use crate::records::get;
use crate::{now_us, Store};
use serde::Serialize;

/// A change to record.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    /// Who asked (`None`: no valid credentials).
    pub user: Option<(baton_auth::UserId, &'a str)>,
    /// What, as `METHOD /path/template` (e.g. `POST /api/v1/instances/{id}/stop`).
    pub action: &'a str,
    /// On what: the concrete path and the project when known.
    pub target: &'a str,
    /// The caller's address.
    pub address: Option<&'a str>,
    /// `allowed`, `denied` (401/403) or `failed` (the change was refused later).
    pub outcome: &'a str,
    /// The answer's HTTP status.
    pub status: u16,
}

/// A recorded change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AuditRecord {
    /// Its id (increasing).
    pub id: i64,
    /// When (µs since the epoch).
    pub at: i64,
    /// Who, when known.
    pub user_name: Option<String>,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// From where.
    pub address: Option<String>,
    /// How it ended.
    pub outcome: String,
    /// The HTTP status.
    pub status: i64,
}

/// Which audit rows to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// At or after this time.
    pub since: Option<i64>,
    /// Of this user.
    pub user: Option<String>,
    /// With an id below this (paging, newest first).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

impl Store {
    /// Records a change.
    pub async fn record_audit(&self, a: NewAudit<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit (at, user_id, user_name, action, target, address, outcome, \
             status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(now_us())
        .bind(a.user.map(|(id, _)| id.0))
        .bind(a.user.map(|(_, name)| name))
        .bind(a.action)
        .bind(a.target)
        .bind(a.address)
        .bind(a.outcome)
        .bind(i64::from(a.status))
        .execute(&self.write)
        .await
        .ctx("recording an audit row")?;
        Ok(())
    }

    /// Audit rows, newest first.
    pub async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, user_name, action, target, address, outcome, status FROM audit \
             WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR user_name = $2) \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        )
        .bind(f.since)
        .bind(f.user.as_deref())
        .bind(f.before)
        .bind(f.limit)
        .fetch_all(&self.read)
        .await
        .ctx("listing the audit log")?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: get(r, "id")?,
                    at: get(r, "at")?,
                    user_name: get(r, "user_name")?,
                    action: get(r, "action")?,
                    target: get(r, "target")?,
                    address: get(r, "address")?,
                    outcome: get(r, "outcome")?,
                    status: get(r, "status")?,
                })
            })
            .collect()
    }
}
