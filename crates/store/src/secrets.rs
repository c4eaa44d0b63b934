//! Project secrets: a name and its value sealed (the store never sees a value in the clear).
//! An http task's headers and body use them as `${secret.NAME}`; the master opens them for
//! the dispatch alone.

use crate::error::{Context, StoreError};
use crate::records::get;
use crate::{now_us, Store};
use sqlx::any::AnyRow;
use std::fmt;

/// A secret as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// Its id.
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Its name, unique in the project.
    pub name: String,
    /// Its value, sealed for `secret:PROJECT/NAME`.
    pub sealed: String,
    /// When it was first set (µs).
    pub created_at: i64,
    /// When it was last set or re-sealed (µs).
    pub updated_at: i64,
}

/// Its `Debug` never shows the sealed value.
impl fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRecord")
            .field("id", &self.id)
            .field("project", &self.project)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

const COLUMNS: &str = "id, project, name, sealed, created_at, updated_at";

fn record(row: &AnyRow) -> Result<SecretRecord, StoreError> {
    Ok(SecretRecord {
        id: get(row, "id")?,
        project: get(row, "project")?,
        name: get(row, "name")?,
        sealed: get(row, "sealed")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

impl Store {
    /// Sets a secret (creates it, or replaces its value); not found without its project.
    pub async fn set_secret(
        &self,
        project: &str,
        name: &str,
        sealed: &str,
    ) -> Result<SecretRecord, StoreError> {
        if !self.project_exists(project).await? {
            return Err(StoreError::NotFound(format!("project `{project}`")));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO secret (project, name, sealed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (project, name) \
             DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at \
             RETURNING {COLUMNS}"
        ))
        .bind(project)
        .bind(name)
        .bind(sealed)
        .bind(now_us())
        .fetch_one(&self.write)
        .await
        .ctx("setting a secret")?;
        record(&row)
    }

    /// A page of a project's secrets by name: at most `limit` after the name `after`.
    pub async fn list_secrets(
        &self,
        project: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SecretRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM secret WHERE project = $1 AND name > $2 \
             ORDER BY name LIMIT $3"
        ))
        .bind(project)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .ctx("listing secrets")?;
        rows.iter().map(record).collect()
    }

    /// Deletes a secret; not found when it does not exist.
    pub async fn delete_secret(&self, project: &str, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM secret WHERE project = $1 AND name = $2")
            .bind(project)
            .bind(name)
            .execute(&self.write)
            .await
            .ctx("deleting a secret")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "secret `{name}` in project `{project}`"
            )));
        }
        Ok(())
    }
}

impl crate::SqlEngineTx {
    /// The secrets of `project` named in `names` that exist: what an http task's dispatch
    /// uses.
    pub async fn secrets(
        &mut self,
        project: &str,
        names: &[String],
    ) -> Result<Vec<SecretRecord>, StoreError> {
        let mut found = Vec::with_capacity(names.len());
        for name in names {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM secret WHERE project = $1 AND name = $2"
            ))
            .bind(project)
            .bind(name)
            .fetch_optional(self.conn())
            .await
            .ctx("reading a secret")?;
            if let Some(row) = row {
                found.push(record(&row)?);
            }
        }
        Ok(found)
    }
}
