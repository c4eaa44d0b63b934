//! Baton's domain model, free of I/O: the ids and states every other crate shares, the
//! workflow file and its validation, the DAG, parameter substitution, and the pure state
//! machine that decides what a running workflow instance does next.
//!
//! Keeping these here means the rules of a run can be tested without a database, a network
//! or a process, and every role (master, worker, api, cli) agrees on them.

pub mod alert;
pub mod attempt;
pub mod dag;
pub mod dependence;
pub mod duration;
pub mod event;
pub mod expr;
pub mod ids;
pub mod params;
pub mod redact;
pub mod run;
pub mod schedule;
pub mod size;
pub mod spec;
pub mod start;
pub mod state;

pub use dag::Dag;
pub use event::EventKind;
pub use ids::{Attempt, AttemptKey, TaskInstanceId, WorkflowId, WorkflowInstanceId};
pub use spec::{
    FailoverPolicy, FailureStrategy, Priority, SpecError, TaskKind, TaskSpec, WorkflowSpec,
};
pub use state::{IllegalTransition, TaskState, WorkflowState};
