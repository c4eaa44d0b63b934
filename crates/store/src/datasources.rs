//! Data sources of a project: kind, URL (without password) and the password sealed. The store
//! never sees a password in the clear: it keeps the sealed text the API gives it.

use crate::auth::unique;
use crate::error::{Context, StoreError};
use crate::records::get;
use crate::{now_us, Store};
use sqlx::any::AnyRow;
use std::fmt;

/// A data source as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct DataSourceRecord {
    /// Its id.
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Its name, unique in the project.
    pub name: String,
    /// `postgresql`, `mysql` or `sqlite`.
    pub kind: String,
    /// The URL, without password.
    pub url: String,
    /// The password, sealed; none when the data source has no password.
    pub secret: Option<String>,
    /// When it was created (µs).
    pub created_at: i64,
    /// When it last changed (µs), a re-seal included.
    pub updated_at: i64,
}

/// Its `Debug` never shows the sealed secret, only whether there is one.
impl fmt::Debug for DataSourceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataSourceRecord")
            .field("id", &self.id)
            .field("project", &self.project)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("has_secret", &self.secret.is_some())
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A data source to create.
#[derive(Clone)]
pub struct NewDataSource<'a> {
    /// Its project (which must exist).
    pub project: &'a str,
    /// Its name.
    pub name: &'a str,
    /// `postgresql`, `mysql` or `sqlite`.
    pub kind: &'a str,
    /// The URL, without password.
    pub url: &'a str,
    /// The password, already sealed for this record.
    pub secret: Option<&'a str>,
}

const COLUMNS: &str = "id, project, name, kind, url, secret, created_at, updated_at";

fn record(row: &AnyRow) -> Result<DataSourceRecord, StoreError> {
    Ok(DataSourceRecord {
        id: get(row, "id")?,
        project: get(row, "project")?,
        name: get(row, "name")?,
        kind: get(row, "kind")?,
        url: get(row, "url")?,
        secret: get(row, "secret")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

impl Store {
    /// Creates a data source; not found without its project, a conflict if the name is taken.
    pub async fn create_datasource(
        &self,
        new: NewDataSource<'_>,
    ) -> Result<DataSourceRecord, StoreError> {
        if !self.project_exists(new.project).await? {
            return Err(StoreError::NotFound(format!("project `{}`", new.project)));
        }
        let now = now_us();
        let row = sqlx::query(&format!(
            "INSERT INTO datasource (project, name, kind, url, secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"
        ))
        .bind(new.project)
        .bind(new.name)
        .bind(new.kind)
        .bind(new.url)
        .bind(new.secret)
        .bind(now)
        .fetch_one(&self.write)
        .await
        .map_err(|e| {
            let what = format!(
                "data source `{}` exists in project `{}`",
                new.name, new.project
            );
            unique(e, what, "creating a data source")
        })?;
        record(&row)
    }

    /// A page of a project's data sources by name: at most `limit` after the name `after`.
    pub async fn list_datasources(
        &self,
        project: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DataSourceRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM datasource WHERE project = $1 AND name > $2 \
             ORDER BY name LIMIT $3"
        ))
        .bind(project)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .ctx("listing data sources")?;
        rows.iter().map(record).collect()
    }

    /// The data source `name` of `project`, if it exists.
    pub async fn get_datasource(
        &self,
        project: &str,
        name: &str,
    ) -> Result<Option<DataSourceRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM datasource WHERE project = $1 AND name = $2"
        ))
        .bind(project)
        .bind(name)
        .fetch_optional(&self.read)
        .await
        .ctx("reading a data source")?;
        row.as_ref().map(record).transpose()
    }

    /// Deletes a data source; not found when it does not exist.
    pub async fn delete_datasource(&self, project: &str, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM datasource WHERE project = $1 AND name = $2")
            .bind(project)
            .bind(name)
            .execute(&self.write)
            .await
            .ctx("deleting a data source")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "data source `{name}` in project `{project}`"
            )));
        }
        Ok(())
    }
}

impl crate::SqlEngineTx {
    /// The data source `name` of `project`, if it exists: what a `sql` task's dispatch
    /// connects to.
    pub async fn datasource(
        &mut self,
        project: &str,
        name: &str,
    ) -> Result<Option<DataSourceRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM datasource WHERE project = $1 AND name = $2"
        ))
        .bind(project)
        .bind(name)
        .fetch_optional(self.conn())
        .await
        .ctx("reading a data source")?;
        row.as_ref().map(record).transpose()
    }
}
