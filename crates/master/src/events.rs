//! What the engine tells watchers (the `baton run` progress lines, benchmarks, live views).

use baton_core::{TaskInstanceId, TaskState, WorkflowInstanceId, WorkflowState};

/// Something that happened to an instance, published after it was committed.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// An attempt began running on a worker.
    TaskStarted {
        /// The workflow instance.
        instance: WorkflowInstanceId,
        /// The task instance.
        task: TaskInstanceId,
        /// The task's name.
        name: String,
        /// The attempt number, from 1.
        attempt: i64,
        /// The worker running it.
        worker: String,
        /// When, in microseconds since the epoch.
        at_us: i64,
    },
    /// An attempt ended.
    TaskEnded {
        /// The workflow instance.
        instance: WorkflowInstanceId,
        /// The task instance.
        task: TaskInstanceId,
        /// The task's name.
        name: String,
        /// The attempt number.
        attempt: i64,
        /// How the attempt ended (`failed` also when a retry follows).
        state: TaskState,
        /// True when another attempt follows after the retry interval.
        will_retry: bool,
        /// When it started (µs), if it did.
        started_at: Option<i64>,
        /// When it ended (µs).
        ended_at: i64,
        /// Exit code of the process.
        exit_code: Option<i64>,
        /// Why it failed.
        message: Option<String>,
    },
    /// The instance ended.
    InstanceFinished {
        /// The workflow instance.
        instance: WorkflowInstanceId,
        /// Its final state.
        state: WorkflowState,
    },
}
