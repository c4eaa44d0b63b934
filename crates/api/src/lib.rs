//! Baton's REST API (`/api/v1/…`, JSON): apply and read workflow definitions, start, list,
//! inspect and stop instances, and read task logs from the workers that wrote them. The CLI's
//! client commands are built on it.

mod error;
mod events;
mod logs;
mod routes;

use baton_store::Store;
use std::sync::Arc;

pub use error::ApiError;
pub use routes::{ApplyRequest, LogChunk, StartRequest};

/// Largest request body accepted (a workflow file, start params).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Called after a command is written, so that a master in this process takes it at once.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// Where `GET /cluster` finds the members.
#[derive(Clone)]
pub enum Members {
    /// A cluster's registry.
    Registry(Arc<dyn baton_registry::Registry>),
    /// A fixed list (standalone: the one process).
    Fixed(Vec<baton_registry::Registration>),
}

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    store: Store,
    notify: Notify,
    logs: logs::LogReader,
    members: Members,
}

impl ApiState {
    /// An API over `store`; `notify` wakes the masters after a command is written;
    /// `members` answers `GET /cluster`.
    pub fn new(store: Store, notify: Notify, members: Members) -> ApiState {
        ApiState {
            store,
            notify,
            logs: logs::LogReader::default(),
            members,
        }
    }
}

/// The axum router serving `/api/v1`.
pub fn router(state: ApiState) -> axum::Router {
    routes::router(state)
}
