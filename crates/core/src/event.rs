//! The kinds of lifecycle events: every change in the life of an instance, a task attempt, a
//! worker, a schedule or a backfill is recorded as one event of one of these kinds, in the same
//! transaction as the change. Alerts, metrics, the web UI's live view and the audit trail read
//! the event log; nothing else needs a hook in the engine.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// What happened, as recorded in the event log.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
        }

        impl EventKind {
            /// Every kind, for listings, parsing and documentation.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            /// The name used in the store, the API and the CLI.
            pub fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $text),* }
            }
        }
    };
}

event_kinds! {
    /// A workflow instance was created (by a start, a schedule fire, a backfill, a parent).
    InstanceSubmitted => "instance_submitted",
    /// A master took the instance and began running it.
    InstanceStarted => "instance_started",
    /// Every task of the instance succeeded (or was skipped).
    InstanceSucceeded => "instance_succeeded",
    /// The instance ended with a failed task.
    InstanceFailed => "instance_failed",
    /// The instance ended by a stop.
    InstanceStopped => "instance_stopped",
    /// A pausing instance has nothing running any more.
    InstancePaused => "instance_paused",
    /// A paused or pausing instance runs on.
    InstanceResumed => "instance_resumed",
    /// A failed or stopped instance was asked to run its unfinished tasks again.
    InstanceRecovered => "instance_recovered",
    /// A live master took over an instance whose owner left the cluster.
    InstanceAdopted => "instance_adopted",
    /// An attempt was sent to a worker.
    TaskDispatched => "task_dispatched",
    /// An attempt began running on its worker.
    TaskStarted => "task_started",
    /// An attempt ended well.
    TaskSucceeded => "task_succeeded",
    /// An attempt ended badly and no retry follows.
    TaskFailed => "task_failed",
    /// An attempt ended badly and another follows after the retry interval.
    TaskRetrying => "task_retrying",
    /// An attempt ran past its timeout.
    TaskTimeout => "task_timeout",
    /// An attempt was killed (a stop, the failure strategy), or cancelled before it ran.
    TaskKilled => "task_killed",
    /// The worker (or master) of an attempt was lost; the attempt is written off.
    TaskNeedFailover => "task_need_failover",
    /// A service's process is up (started, and its health check passed if it has one): its
    /// downstream tasks may start. Recorded once per up period.
    TaskHealthy => "task_healthy",
    /// A service's process ended or failed its health checks and was started again on the
    /// same worker (same attempt).
    TaskRestarted => "task_restarted",
    /// A worker left the cluster (its registry session ended).
    WorkerLost => "worker_lost",
    /// A schedule fired: an instance was created for a fire time.
    ScheduleFired => "schedule_fired",
    /// A schedule's fire time was skipped (too late, by its misfire policy).
    ScheduleMisfired => "schedule_misfired",
    /// A backfill was created.
    BackfillStarted => "backfill_started",
    /// A backfill's last instance ended, or it was stopped.
    BackfillEnded => "backfill_ended",
}

impl EventKind {
    /// True for what a person looking at an instance wants to hear of without asking (a
    /// timeout, a retry, a failure, a lost worker, an adoption); false for the routine steps
    /// every run takes (dispatched, started, succeeded), which the full log still has.
    pub fn is_notable(self) -> bool {
        match self {
            EventKind::TaskTimeout
            | EventKind::TaskFailed
            | EventKind::TaskRetrying
            | EventKind::TaskKilled
            | EventKind::TaskNeedFailover
            | EventKind::TaskRestarted
            | EventKind::InstanceFailed
            | EventKind::InstanceAdopted
            | EventKind::InstanceRecovered
            | EventKind::WorkerLost
            | EventKind::ScheduleMisfired => true,
            EventKind::InstanceSubmitted
            | EventKind::InstanceStarted
            | EventKind::InstanceSucceeded
            | EventKind::InstanceStopped
            | EventKind::InstancePaused
            | EventKind::InstanceResumed
            | EventKind::TaskDispatched
            | EventKind::TaskStarted
            | EventKind::TaskSucceeded
            | EventKind::TaskHealthy
            | EventKind::ScheduleFired
            | EventKind::BackfillStarted
            | EventKind::BackfillEnded => false,
        }
    }

    /// The kind recorded when an instance ends in `state`, if it is a final state.
    pub fn of_instance_end(state: crate::WorkflowState) -> Option<EventKind> {
        use crate::WorkflowState as S;
        match state {
            S::Succeeded => Some(EventKind::InstanceSucceeded),
            S::Failed => Some(EventKind::InstanceFailed),
            S::Stopped => Some(EventKind::InstanceStopped),
            S::Submitted | S::Running | S::Stopping | S::Pausing | S::Paused => None,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event kind that Baton does not know, with the known ones for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind `{0}` (expected one of: {known})", known = known_kinds())]
pub struct UnknownEventKind(pub String);

fn known_kinds() -> String {
    EventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for EventKind {
    type Err = UnknownEventKind;
    fn from_str(s: &str) -> Result<Self, UnknownEventKind> {
        EventKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_text_and_json() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), *k);
            let json = serde_json::to_string(k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn an_unknown_kind_is_refused_with_the_known_ones() {
        let err = "task_faild".parse::<EventKind>().unwrap_err().to_string();
        assert!(err.starts_with("unknown event kind `task_faild`"), "{err}");
        assert!(
            err.contains("task_failed") && err.contains("worker_lost"),
            "{err}"
        );
    }
}
