//! Baton's metadata store: workflow definitions and their versions, workflow and task
//! instances with each attempt's outcome, and the command queue the masters take work from.
//!
//! One code path serves SQLite (embedded, the default) and PostgreSQL (clusters) through
//! sqlx's `Any` driver: plain integers and text only, times as microseconds since the epoch,
//! and `$N` placeholders, which both backends accept. Migrations are kept per backend.

mod alerts;
mod auth;
mod backfills;
mod connect;
mod datasources;
mod engine;
mod engine_store;
mod error;
mod events;
mod history;
mod instances;
mod listen;
mod logic;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
mod records;
mod runs;
mod schedules;
mod sealed;
mod secrets;
mod task_groups;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod workflows;

#[cfg(test)]
mod tests;

pub use alerts::{
    AlertChannelRecord, AlertRuleRecord, AttemptEnd, AttemptRow, DeliveryRecord, DeliveryStatus,
    NewAlertChannel, NewDelivery,
};
pub use auth::{
    AuditFilter, AuditRecord, Authenticated, MemberRecord, NewAudit, NewToken, ProjectRecord,
    TokenRecord, UserRecord, TOUCH_EVERY_US,
};
pub use backfills::BackfillRecord;
pub use connect::{redact as redact_url, Backend, Store};
pub use datasources::{DataSourceRecord, NewDataSource};
pub use engine::{Adopted, Command, CommandKind, Lease, SqlEngineTx};
pub use engine_store::{EngineStore, EngineTx};
pub use error::StoreError;
pub use events::{EventFilter, EventRecord, NewEvent, EVENTS_CHANNEL};
pub use history::{PurgeScope, Purged};
pub use instances::{InstanceFilter, ItemPage, NewInstance, StopRequest};
pub use logic::{DependencyQuery, NewChild};
pub use records::{
    AttemptRecord, InstanceRecord, MapRole, TaskInstanceRecord, WorkflowRecord, WorkflowSummary,
};
pub use runs::{ProjectCounts, RecentRun, MAX_RECENT_RUNS};
pub use schedules::{DueSchedule, FireOutcome, PlannedFire, ScheduleRecord};
pub use sealed::{SealedKind, SealedValue};
pub use secrets::SecretRecord;
pub use task_groups::TaskGroupRecord;
pub use workflows::Applied;

/// Microseconds since the Unix epoch, the unit of every time in the store.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(baton_core::duration::micros)
        .unwrap_or(0)
}
