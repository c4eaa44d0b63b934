//! Data sources: the databases a project's `sql` tasks use. A password is write-only: it is
//! sent when a data source is created and never comes back (answers say `has_password`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::{IntoParams, ToSchema};

/// The kind of database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataSourceType {
    /// PostgreSQL (`postgres` is taken too).
    #[serde(alias = "postgres")]
    Postgresql,
    /// MySQL or MariaDB (`mariadb` is taken too).
    #[serde(alias = "mariadb")]
    Mysql,
    /// An SQLite file.
    Sqlite,
}

impl DataSourceType {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            DataSourceType::Postgresql => "postgresql",
            DataSourceType::Mysql => "mysql",
            DataSourceType::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for DataSourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of `POST /datasources?project=P`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct DataSourceRequest {
    /// Its name in the project (letters, digits, `_ - .`, at most 100).
    pub name: String,
    /// The kind of database.
    #[serde(rename = "type")]
    pub kind: DataSourceType,
    /// `postgres://USER@HOST[:PORT]/DB`, `mysql://USER@HOST[:PORT]/DB` or `sqlite:///PATH`. A
    /// password inside it is taken out of it and kept sealed, like `password`.
    pub url: String,
    /// The password, kept sealed; never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Its `Debug` never shows the password.
impl fmt::Debug for DataSourceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataSourceRequest")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &"…")
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A data source as the API shows it: never its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DataSource {
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// The kind of database.
    #[serde(rename = "type")]
    pub kind: DataSourceType,
    /// The URL, without password.
    pub url: String,
    /// Whether a password is kept for it (sealed).
    pub has_password: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed (a re-seal under a new key included).
    pub updated_at: DateTime<Utc>,
}

/// Answer of `GET /datasources?project=P`, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DataSourceList {
    /// This page.
    pub datasources: Vec<DataSource>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Answer of `POST /datasources/{name}/test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DataSourceTest {
    /// Connected and `SELECT 1` answered (within 10 s).
    pub ok: bool,
    /// What happened; when it failed, in the database's words (without the password).
    pub message: String,
}

/// `?project=` of the data source routes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataSourceQuery {
    /// The project (default `default`).
    pub project: Option<String>,
}
