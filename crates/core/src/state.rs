//! The states of workflow and task instances, with one function per legal transition so that
//! an illegal move (say, a succeeded task starting again) is an error, not a silent overwrite.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A transition that the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition of a {what} from `{from}` by `{by}`")]
pub struct IllegalTransition {
    /// "task" or "workflow".
    pub what: &'static str,
    /// The state the object was in.
    pub from: String,
    /// The transition that was attempted.
    pub by: &'static str,
}

macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        impl $name {
            /// Every state, for listings and parsing.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The name used in the store, the API and the CLI.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(format!(
                        "unknown state `{other}` (expected one of: {})",
                        [$($text),*].join(", ")
                    )),
                }
            }
        }
    };
}

/// Where a workflow instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    /// Created by a start command, not yet taken by a master.
    Submitted,
    /// A master owns it and runs its tasks.
    Running,
    /// A stop was asked; running tasks are being killed.
    Stopping,
    /// A pause was asked; running tasks finish, nothing new starts.
    Pausing,
    /// Paused: nothing runs until it is resumed.
    Paused,
    /// Ended by a stop.
    Stopped,
    /// Every task succeeded.
    Succeeded,
    /// At least one task failed (after its retries) or was killed by the failure strategy.
    Failed,
}

string_enum!(WorkflowState {
    Submitted => "submitted",
    Running => "running",
    Stopping => "stopping",
    Pausing => "pausing",
    Paused => "paused",
    Stopped => "stopped",
    Succeeded => "succeeded",
    Failed => "failed",
});

impl WorkflowState {
    fn illegal(self, by: &'static str) -> IllegalTransition {
        IllegalTransition {
            what: "workflow",
            from: self.to_string(),
            by,
        }
    }

    /// True once the instance can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Stopped | Self::Succeeded | Self::Failed)
    }

    /// A master takes the instance and starts running it.
    pub fn start(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Submitted | Self::Running => Ok(Self::Running),
            _ => Err(self.illegal("start")),
        }
    }

    /// A stop is asked for.
    pub fn stop(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Submitted | Self::Running | Self::Stopping | Self::Pausing | Self::Paused => {
                Ok(Self::Stopping)
            }
            _ => Err(self.illegal("stop")),
        }
    }

    /// A pause is asked for.
    pub fn pause(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Running | Self::Pausing => Ok(Self::Pausing),
            _ => Err(self.illegal("pause")),
        }
    }

    /// The running tasks of a pausing instance have ended.
    pub fn paused(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Pausing | Self::Paused => Ok(Self::Paused),
            _ => Err(self.illegal("paused")),
        }
    }

    /// A pausing or paused instance runs on.
    pub fn resume(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Pausing | Self::Paused => Ok(Self::Running),
            _ => Err(self.illegal("resume")),
        }
    }

    /// The instance ends with `outcome` (succeeded, failed or stopped).
    pub fn finish(self, outcome: WorkflowState) -> Result<Self, IllegalTransition> {
        if self.is_final() || !outcome.is_final() {
            return Err(self.illegal("finish"));
        }
        if self == Self::Stopping && outcome != Self::Stopped && outcome != Self::Failed {
            return Err(self.illegal("finish"));
        }
        Ok(outcome)
    }
}

/// Where a task instance (its current attempt) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Ready to run, waiting for a worker slot.
    Submitted,
    /// Sent to a worker, not yet reported running.
    Dispatched,
    /// The worker runs it.
    Running,
    /// Ended well.
    Succeeded,
    /// Ended badly and has no retry left.
    Failed,
    /// Ended badly; the next attempt waits for its retry interval.
    RetryWait,
    /// Killed by a stop or by the failure strategy.
    Killed,
    /// Not run, by a decision of the workflow (a branch not taken).
    Skipped,
    /// Held by a pause.
    Paused,
    /// Its worker or master was lost while it ran; a new attempt follows.
    NeedFailover,
}

string_enum!(TaskState {
    Submitted => "submitted",
    Dispatched => "dispatched",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    RetryWait => "retry_wait",
    Killed => "killed",
    Skipped => "skipped",
    Paused => "paused",
    NeedFailover => "need_failover",
});

impl TaskState {
    fn illegal(self, by: &'static str) -> IllegalTransition {
        IllegalTransition {
            what: "task",
            from: self.to_string(),
            by,
        }
    }

    /// True once this task instance will not run again in this workflow instance.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Killed | Self::Skipped
        )
    }

    /// True while an attempt is queued, on a worker, or waiting to be retried.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::Submitted
                | Self::Dispatched
                | Self::Running
                | Self::RetryWait
                | Self::NeedFailover
        )
    }

    /// The master hands the attempt to a worker.
    pub fn dispatch(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Submitted => Ok(Self::Dispatched),
            _ => Err(self.illegal("dispatch")),
        }
    }

    /// The worker reports the attempt started. A start may overtake its own dispatch record.
    pub fn run(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Submitted | Self::Dispatched | Self::Running => Ok(Self::Running),
            _ => Err(self.illegal("run")),
        }
    }

    /// The attempt ended well.
    pub fn succeed(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Submitted | Self::Dispatched | Self::Running => Ok(Self::Succeeded),
            _ => Err(self.illegal("succeed")),
        }
    }

    /// The attempt ended badly; `retry` tells whether another attempt follows.
    pub fn fail(self, retry: bool) -> Result<Self, IllegalTransition> {
        match self {
            Self::Submitted | Self::Dispatched | Self::Running => {
                Ok(if retry { Self::RetryWait } else { Self::Failed })
            }
            _ => Err(self.illegal("fail")),
        }
    }

    /// The attempt was killed (stop, failure strategy), or a waiting retry was cancelled.
    pub fn kill(self) -> Result<Self, IllegalTransition> {
        if self.is_active() || self == Self::Paused {
            Ok(Self::Killed)
        } else {
            Err(self.illegal("kill"))
        }
    }

    /// The attempt's executor was lost (worker or master gone); it will be run again.
    pub fn lose(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Dispatched | Self::Running => Ok(Self::NeedFailover),
            _ => Err(self.illegal("lose")),
        }
    }

    /// A pause holds a task that is not on a worker: queued, or waiting for its retry.
    pub fn hold(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Submitted | Self::RetryWait | Self::Paused => Ok(Self::Paused),
            _ => Err(self.illegal("hold")),
        }
    }

    /// A recover runs an ended task again (it failed, was killed, or was lost).
    pub fn reopen(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Failed | Self::Killed | Self::NeedFailover => Ok(Self::Submitted),
            _ => Err(self.illegal("reopen")),
        }
    }

    /// A new attempt is queued: after a retry wait, a failover, or a pause.
    pub fn requeue(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::RetryWait
            | Self::NeedFailover
            | Self::Submitted
            | Self::Dispatched
            | Self::Paused => Ok(Self::Submitted),
            _ => Err(self.illegal("requeue")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_happy_path() {
        let s = TaskState::Submitted.dispatch().unwrap().run().unwrap();
        assert_eq!(s.succeed().unwrap(), TaskState::Succeeded);
    }

    #[test]
    fn finished_task_cannot_run_again() {
        assert!(TaskState::Succeeded.run().is_err());
        assert!(TaskState::Failed.dispatch().is_err());
        assert!(TaskState::Killed.succeed().is_err());
        let err = TaskState::Succeeded.kill().unwrap_err();
        assert_eq!(
            err.to_string(),
            "illegal transition of a task from `succeeded` by `kill`"
        );
    }

    #[test]
    fn failure_with_retry_waits_then_requeues() {
        let s = TaskState::Running.fail(true).unwrap();
        assert_eq!(s, TaskState::RetryWait);
        assert_eq!(s.requeue().unwrap(), TaskState::Submitted);
        assert_eq!(TaskState::Running.fail(false).unwrap(), TaskState::Failed);
    }

    #[test]
    fn a_pause_holds_queued_and_retrying_tasks_only() {
        assert_eq!(TaskState::RetryWait.hold().unwrap(), TaskState::Paused);
        assert_eq!(TaskState::Submitted.hold().unwrap(), TaskState::Paused);
        assert!(TaskState::Running.hold().is_err(), "running tasks finish");
        assert_eq!(TaskState::Paused.requeue().unwrap(), TaskState::Submitted);
        assert_eq!(TaskState::Paused.kill().unwrap(), TaskState::Killed);
    }

    #[test]
    fn lost_attempt_goes_to_failover_then_queue() {
        let s = TaskState::Running.lose().unwrap();
        assert_eq!(s, TaskState::NeedFailover);
        assert_eq!(s.requeue().unwrap(), TaskState::Submitted);
        assert!(TaskState::Succeeded.lose().is_err());
    }

    #[test]
    fn workflow_transitions() {
        let s = WorkflowState::Submitted.start().unwrap();
        assert_eq!(
            s.finish(WorkflowState::Succeeded).unwrap(),
            WorkflowState::Succeeded
        );
        assert!(WorkflowState::Succeeded.start().is_err());
        assert!(WorkflowState::Succeeded.stop().is_err());
        assert!(WorkflowState::Running
            .finish(WorkflowState::Running)
            .is_err());
        let stopping = WorkflowState::Running.stop().unwrap();
        assert!(stopping.finish(WorkflowState::Succeeded).is_err());
        assert_eq!(
            stopping.finish(WorkflowState::Stopped).unwrap(),
            WorkflowState::Stopped
        );
    }

    #[test]
    fn states_round_trip_through_text() {
        for s in TaskState::ALL {
            assert_eq!(s.as_str().parse::<TaskState>().unwrap(), *s);
        }
        for s in WorkflowState::ALL {
            assert_eq!(s.as_str().parse::<WorkflowState>().unwrap(), *s);
        }
        assert!("nope"
            .parse::<TaskState>()
            .unwrap_err()
            .contains("retry_wait"));
    }
}
