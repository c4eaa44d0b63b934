//! The request and response types of Baton's REST API (`/api/v1/…`), in one place: the
//! server builds its answers from them, the CLI decodes the answers into them, and the
//! OpenAPI document (`GET /api/v1/openapi.json`) is generated from them.
//!
//! Conventions: times are RFC 3339 strings in UTC (`2026-01-02T03:04:05.678901Z`); durations
//! are whole milliseconds in fields named `…_ms`; list answers carry `next_cursor`, an opaque
//! string to pass back as `?cursor=` for the next page (absent on the last page).

/// Largest request body the server accepts (a workflow file, start params): shared, so that
/// the CLI can say so before sending one that is larger.
pub const MAX_BODY_BYTES: usize = 1 << 20;

pub mod access;
pub mod backfills;
pub mod cluster;
pub mod datasources;
pub mod error;
pub mod events;
pub mod history;
pub mod instances;
pub mod logs;
pub mod paging;
pub mod schedules;
pub mod schemas;
pub mod secrets;
pub mod task_groups;
pub mod tasks;
pub mod time;
pub mod workflows;

pub use access::*;
pub use backfills::*;
pub use cluster::*;
pub use datasources::*;
pub use error::*;
pub use events::*;
pub use history::*;
pub use instances::*;
pub use logs::*;
pub use paging::{Cursor, CursorError, PageQuery, DEFAULT_LIMIT, MAX_LIMIT};
pub use schedules::*;
pub use secrets::*;
pub use task_groups::*;
pub use tasks::*;
pub use workflows::*;

/// Answer of `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    /// Baton's version.
    pub version: String,
}
