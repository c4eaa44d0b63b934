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
    /// The byte to start at (default 0). A negative one counts back from the end: `-N` reads
    /// the last N bytes (the whole log when it is shorter), so that a viewer can open a long
    /// log at its end without knowing its size; the answer's `offset` says where it started.
    pub offset: Option<i64>,
    /// At most this many bytes (default 256 KiB, at most 1 MiB).
    pub limit: Option<u32>,
}

/// A piece of an attempt's log as JSON (`Accept: application/json`, the default). With
/// `Accept: application/octet-stream` the body is the raw bytes instead and these fields are
/// the headers `Baton-Attempt`, `Baton-Offset`, `Baton-Size`, `Baton-Next-Offset`,
/// `Baton-Complete` and `Baton-State`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogChunk {
    /// The task instance.
    pub task_instance_id: i64,
    /// The attempt read.
    pub attempt: i64,
    /// The byte `data` starts at: the asked offset, or where a negative one landed (moved
    /// on past a UTF-8 character it fell inside), or the end when it lay past it.
    pub offset: u64,
    /// The log's length in bytes when it was read (it grows while the attempt runs).
    pub size: u64,
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

/// `?attempt=…` of `GET /task-instances/{id}/log/file`, the whole log as a download.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogFileQuery {
    /// The attempt (default the current one).
    pub attempt: Option<i64>,
}

/// Header names of the raw log answer.
pub mod headers {
    /// The attempt read.
    pub const ATTEMPT: &str = "baton-attempt";
    /// The byte the body starts at.
    pub const OFFSET: &str = "baton-offset";
    /// The log's length when it was read.
    pub const SIZE: &str = "baton-size";
    /// Where to read next.
    pub const NEXT_OFFSET: &str = "baton-next-offset";
    /// `true` when the attempt has ended and everything has been read.
    pub const COMPLETE: &str = "baton-complete";
    /// The task instance's state.
    pub const STATE: &str = "baton-state";
}
