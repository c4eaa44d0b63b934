//! Task logs: `GET /task-instances/{id}/log` reads a byte range of one attempt's log.

use baton_core::TaskState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `?attempt=…&offset=…&limit=…` of the log endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// The attempt (default the current one).
    pub attempt: Option<i64>,
    /// The byte to start at (default 0).
    pub offset: Option<u64>,
    /// At most this many bytes (default 256 KiB, at most 1 MiB).
    pub limit: Option<u32>,
}

/// A piece of an attempt's log as JSON (`Accept: application/json`, the default). With
/// `Accept: application/octet-stream` the body is the raw bytes instead and these fields are
/// the headers `Baton-Attempt`, `Baton-Next-Offset`, `Baton-Complete` and `Baton-State`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogChunk {
    /// The task instance.
    pub task_instance_id: i64,
    /// The attempt read.
    pub attempt: i64,
    /// The text. A page never ends inside a UTF-8 character (it ends before it, and the next
    /// page starts with it); bytes that are not UTF-8 at all are replaced by U+FFFD here, but
    /// not in the raw form.
    pub data: String,
    /// Where to read next.
    pub next_offset: u64,
    /// True when the attempt has ended and everything has been read.
    pub complete: bool,
    /// The task instance's state.
    #[schema(schema_with = crate::schemas::task_state)]
    pub state: TaskState,
}

/// Header names of the raw log answer.
pub mod headers {
    /// The attempt read.
    pub const ATTEMPT: &str = "baton-attempt";
    /// Where to read next.
    pub const NEXT_OFFSET: &str = "baton-next-offset";
    /// `true` when the attempt has ended and everything has been read.
    pub const COMPLETE: &str = "baton-complete";
    /// The task instance's state.
    pub const STATE: &str = "baton-state";
}
