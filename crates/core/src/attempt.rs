//! The rules of one task instance's attempts, as a pure state machine: what a dispatch, a
//! worker's report, a refused or lost dispatch, a lost worker, a kill, a due retry or a pause
//! does to the current attempt. The engine feeds it what happened and carries out the
//! [`Change`] it returns; it never decides a task state itself.
//!
//! Where [`crate::run::InstanceRun`] decides which tasks of an instance run, this decides what
//! happens to each one's attempts, from the first to the last: the two together are the rules of
//! a run, and both are built on the transition functions of [`crate::state`].

use crate::event::EventKind;
use crate::spec::{FailoverPolicy, TaskSpec};
use crate::state::{IllegalTransition, TaskState};
use std::time::Duration;

/// What the attempt rules need of a task's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Further attempts after a failure.
    pub retries: u32,
    /// Wait between a failure and the next attempt.
    pub retry_interval: Duration,
    /// What a lost worker does to the attempt it ran.
    pub failover: FailoverPolicy,
}

impl Rules {
    /// The rules of a task definition.
    pub fn of(spec: &TaskSpec) -> Rules {
        Rules {
            retries: spec.retries,
            retry_interval: spec.retry_interval,
            // A service is relaunched elsewhere whatever the file says (a file cannot say
            // otherwise: `failover: fail` is refused on a service).
            failover: if matches!(spec.kind, crate::spec::TaskKind::Service(_)) {
                FailoverPolicy::Rerun
            } else {
                spec.failover
            },
        }
    }
}

/// The current attempt of a task instance, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Its state.
    pub state: TaskState,
    /// Its number, from 1.
    pub number: i64,
    /// Failed attempts so far, counted against the task's retries.
    pub retries_used: i64,
    /// True once this attempt has ended (a failure waiting for its retry, say): a held task
    /// queued again runs the next attempt, not this one.
    pub ended: bool,
}

/// How an attempt on a worker ended, as its worker reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0.
    Succeeded,
    /// A non-zero exit, a timeout with `timeout_strategy: fail`, or it could not start.
    Failed,
    /// Killed on request (a stop, the failure strategy).
    Killed,
}

/// Why a dispatch did not reach its worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DispatchFailure {
    /// The worker answered and did not take the attempt.
    Refused {
        /// What the rules make of it.
        refusal: Refusal,
        /// The worker's words, for people.
        reason: String,
    },
    /// The worker could not be reached, or did not answer in time: it may have the attempt
    /// after all, so the attempt is written off and a new one is queued.
    Unreachable(String),
}

/// Why a worker that answered did not take an attempt, by what the rules do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No free slot, or the worker is stopping: the same attempt goes back to the queue, for
    /// another worker or a later tick.
    Busy,
    /// This dispatch of it must not run now (it came too late, it was written off after a
    /// probe, a previous run of it is still being killed): the same attempt is queued again.
    Stale,
    /// The worker cannot run the request at all (a task kind it does not know, say): sent
    /// again it would be refused again, so the attempt fails, as a failed run does.
    Unrunnable,
}

/// A dispatch larger than a worker accepts (`size` and `limit` in bytes). Its attempt fails
/// before it is sent, without a retry ([`Attempt::fail_to_prepare`]): every attempt's dispatch
/// would be as large, and sending it would only be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the task's dispatch is {}, more than the {} a worker accepts: shorten the command or its \
     params",
    crate::size::format_bytes(*size),
    crate::size::format_bytes(*limit)
)]
pub struct DispatchTooLarge {
    /// The dispatch's encoded size.
    pub size: usize,
    /// The most a worker accepts.
    pub limit: usize,
}

/// How a task instance ended for good, as the instance's state machine hears of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEnd {
    /// Its last attempt succeeded.
    Succeeded,
    /// A branching task (`conditions`, `switch`) succeeded and took branch `chosen` (an index
    /// into its branches; `None`: none of them).
    Branched {
        /// The branch taken.
        chosen: Option<usize>,
    },
    /// It failed and has no retry left (or it was lost under `failover: fail`).
    Failed,
    /// It was killed or cancelled.
    Killed,
}

/// What the instance does after an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// The task is done: the instance's state machine hears of it.
    Final(TaskEnd),
    /// The task waits for its retry interval; attempt `number + 1` is due at `due_us`.
    RetryAt {
        /// When the next attempt is due (µs).
        due_us: i64,
    },
    /// The next attempt, numbered `next`, is queued at once (the attempt was lost).
    Requeue {
        /// The number of the queued attempt.
        next: i64,
    },
}

/// What the engine must do to the task instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing: the input concerns an attempt that has moved on (a late or repeated report).
    Stale(&'static str),
    /// The attempt is now in `state` (dispatched, running, held by a pause).
    Moved {
        /// The new state.
        state: TaskState,
        /// The event to record, if the move is one.
        event: Option<EventKind>,
    },
    /// The attempt ended: the history records it as `attempt_state`, and `after` says what
    /// follows.
    Ended {
        /// The attempt's own outcome, for the history.
        attempt_state: TaskState,
        /// The task instance's state now (retry_wait or need_failover while another attempt
        /// follows).
        state: TaskState,
        /// Failed attempts counted against the retries, this one included.
        retries_used: i64,
        /// What follows.
        after: After,
        /// The event to record.
        event: EventKind,
    },
    /// A new attempt (numbered `number`) is queued: after a retry interval, a pause, or a
    /// dispatch the worker refused (then the number is the same).
    Queued {
        /// The number of the queued attempt.
        number: i64,
    },
    /// A recover queues attempt `number` of an ended task, with a fresh retry budget.
    Reopened {
        /// The number of the queued attempt.
        number: i64,
    },
    /// The attempt is on a worker: the engine sends it a kill, and the worker's report of
    /// the killed attempt ends it.
    SendKill,
    /// A service's attempt is up (started, and healthy by its check): the row stays
    /// `running`, the event [`EventKind::TaskHealthy`] is recorded, and the instance's state
    /// machine hears of it ([`crate::run::InstanceRun::healthy`]), which may start the
    /// service's downstream tasks.
    Up,
    /// A service's process was started again on its worker, in the same attempt: only the
    /// event [`EventKind::TaskRestarted`] is recorded.
    Restarted,
}

impl Change {
    fn moved(state: TaskState, event: Option<EventKind>) -> Change {
        Change::Moved { state, event }
    }

    fn ended(
        attempt: &Attempt,
        (attempt_state, state): (TaskState, TaskState),
        after: After,
        counts_as_failure: bool,
        event: EventKind,
    ) -> Change {
        Change::Ended {
            attempt_state,
            state,
            retries_used: attempt.retries_used + i64::from(counts_as_failure),
            after,
            event,
        }
    }
}

/// Applies a transition of [`crate::state`], or says why the input is stale.
fn via(
    moved: Result<TaskState, IllegalTransition>,
    stale: &'static str,
) -> Result<TaskState, Change> {
    moved.map_err(|_| Change::Stale(stale))
}

impl Attempt {
    /// The master hands the queued attempt to a worker.
    pub fn dispatch(&self) -> Change {
        match via(self.state.dispatch(), "the attempt is not queued") {
            Ok(state) => Change::moved(state, Some(EventKind::TaskDispatched)),
            Err(stale) => stale,
        }
    }

    /// The worker reports that the attempt began running.
    pub fn start(&self) -> Change {
        if self.state != TaskState::Dispatched {
            return Change::Stale("the attempt is not waiting to start");
        }
        match via(self.state.run(), "the attempt is not on a worker") {
            Ok(state) => Change::moved(state, Some(EventKind::TaskStarted)),
            Err(stale) => stale,
        }
    }

    /// The worker reports that a service's process is up (once per up period): see
    /// [`Change::Up`]. Only a running attempt can be up.
    pub fn healthy(&self) -> Change {
        match self.state {
            TaskState::Running => Change::Up,
            _ => Change::Stale("the attempt is not running"),
        }
    }

    /// The worker reports that it started a service's process again (after an exit or
    /// failed health checks): see [`Change::Restarted`].
    pub fn restarted(&self) -> Change {
        match self.state {
            TaskState::Running => Change::Restarted,
            _ => Change::Stale("the attempt is not running"),
        }
    }

    /// The worker reports that the attempt ended (`ended_us`: when). `ending`: the instance
    /// is winding down (a stop, or a failure under `failure_strategy: end`), so a failure is
    /// not retried.
    pub fn finish(&self, outcome: Outcome, rules: &Rules, ending: bool, ended_us: i64) -> Change {
        if !matches!(self.state, TaskState::Dispatched | TaskState::Running) {
            return Change::Stale("the attempt has ended already");
        }
        match outcome {
            Outcome::Succeeded => self.end_final(self.state.succeed(), TaskEnd::Succeeded),
            Outcome::Killed => self.end_final(self.state.kill(), TaskEnd::Killed),
            Outcome::Failed => {
                let retry = !ending && self.retries_used < i64::from(rules.retries);
                let state = match via(self.state.fail(retry), "the attempt has ended already") {
                    Ok(state) => state,
                    Err(stale) => return stale,
                };
                let (after, event) = if retry {
                    let due_us =
                        ended_us.saturating_add(crate::duration::micros(rules.retry_interval));
                    (After::RetryAt { due_us }, EventKind::TaskRetrying)
                } else {
                    (After::Final(TaskEnd::Failed), EventKind::TaskFailed)
                };
                Change::ended(self, (TaskState::Failed, state), after, true, event)
            }
        }
    }

    /// Ends the attempt for good in the state `to` gives.
    fn end_final(&self, to: Result<TaskState, IllegalTransition>, end: TaskEnd) -> Change {
        let (failure, event) = match end {
            TaskEnd::Succeeded | TaskEnd::Branched { .. } => (false, EventKind::TaskSucceeded),
            TaskEnd::Failed => (true, EventKind::TaskFailed),
            TaskEnd::Killed => (false, EventKind::TaskKilled),
        };
        match via(to, "the attempt has ended already") {
            Ok(state) => Change::ended(self, (state, state), After::Final(end), failure, event),
            Err(stale) => stale,
        }
    }

    /// A dispatch of this attempt did not reach its worker (noticed at `at_us`). `ending` as
    /// for [`Attempt::finish`], which an unrunnable request ends the attempt by.
    pub fn dispatch_failed(
        &self,
        failure: &DispatchFailure,
        rules: &Rules,
        ending: bool,
        at_us: i64,
    ) -> Change {
        if self.state != TaskState::Dispatched {
            return Change::Stale("the attempt is no longer being dispatched");
        }
        match failure {
            DispatchFailure::Refused {
                refusal: Refusal::Busy | Refusal::Stale,
                ..
            } => match via(self.state.requeue(), "not dispatched") {
                Ok(_) => Change::Queued {
                    number: self.number,
                },
                Err(stale) => stale,
            },
            DispatchFailure::Refused {
                refusal: Refusal::Unrunnable,
                ..
            } => self.finish(Outcome::Failed, rules, ending, at_us),
            DispatchFailure::Unreachable(_) => self.lose_to(FailoverPolicy::Rerun),
        }
    }

    /// The attempt's worker (or the master that dispatched it) was lost while it ran.
    pub fn lose(&self, rules: &Rules) -> Change {
        self.lose_to(rules.failover)
    }

    fn lose_to(&self, failover: FailoverPolicy) -> Change {
        let lost = match via(self.state.lose(), "the attempt is not on a worker") {
            Ok(lost) => lost,
            Err(stale) => return stale,
        };
        let event = EventKind::TaskNeedFailover;
        match failover {
            FailoverPolicy::Rerun => {
                let after = After::Requeue {
                    next: self.number + 1,
                };
                Change::ended(self, (lost, lost), after, false, event)
            }
            FailoverPolicy::Fail => {
                let (failed, end) = (TaskState::Failed, After::Final(TaskEnd::Failed));
                Change::ended(self, (lost, failed), end, false, event)
            }
        }
    }

    /// A kill (a stop, the failure strategy): an attempt on a worker is sent a kill; one that
    /// is not (queued, waiting for a retry, held) is cancelled here.
    pub fn kill(&self) -> Change {
        match self.state {
            TaskState::Dispatched | TaskState::Running => Change::SendKill,
            TaskState::Submitted
            | TaskState::RetryWait
            | TaskState::NeedFailover
            | TaskState::Paused
            | TaskState::Succeeded
            | TaskState::Failed
            | TaskState::Killed
            | TaskState::Skipped => self.end_final(self.state.kill(), TaskEnd::Killed),
        }
    }

    /// The attempt could not be prepared for dispatch (its params do not resolve, or its
    /// dispatch is larger than a worker accepts: [`DispatchTooLarge`]): it fails without a
    /// retry, since another attempt would fail the same way.
    pub fn fail_to_prepare(&self) -> Change {
        if self.state != TaskState::Submitted {
            return Change::Stale("the attempt is not queued");
        }
        self.end_final(self.state.fail(false), TaskEnd::Failed)
    }

    /// A logic task (run by the master, not a worker) begins its attempt.
    pub fn begin_in_master(&self) -> Change {
        match via(self.state.run(), "the attempt is not queued") {
            Ok(state) if self.state == TaskState::Submitted => {
                Change::moved(state, Some(EventKind::TaskStarted))
            }
            Ok(_) | Err(_) => Change::Stale("the attempt is not queued"),
        }
    }

    /// A logic task's attempt ends, as the master decided.
    pub fn end_in_master(&self, end: TaskEnd) -> Change {
        if !self.state.is_active() {
            return Change::Stale("the attempt has ended already");
        }
        let to = match end {
            TaskEnd::Succeeded | TaskEnd::Branched { .. } => self.state.succeed(),
            TaskEnd::Failed => self.state.fail(false),
            TaskEnd::Killed => self.state.kill(),
        };
        let change = self.end_final(to, end);
        match change {
            // A logic task's failure is its verdict, not a failed try: it does not retry.
            Change::Ended {
                attempt_state,
                state,
                after,
                event,
                ..
            } => Change::Ended {
                attempt_state,
                state,
                retries_used: self.retries_used,
                after,
                event,
            },
            other => other,
        }
    }

    /// A recover runs an ended task again: a new attempt with a fresh retry budget.
    pub fn reopen(&self) -> Change {
        match via(
            self.state.reopen(),
            "the task did not fail, was not killed or lost",
        ) {
            Ok(_) => Change::Reopened {
                number: self.number + 1,
            },
            Err(stale) => stale,
        }
    }

    /// The retry interval of a failed attempt is over: the next attempt is queued.
    pub fn retry_due(&self) -> Change {
        if self.state != TaskState::RetryWait {
            return Change::Stale("the task is not waiting for a retry");
        }
        self.requeue_next()
    }

    /// A pause holds a task that is not on a worker (queued, or waiting for its retry).
    pub fn hold(&self) -> Change {
        match via(self.state.hold(), "the attempt is on a worker or has ended") {
            Ok(state) if state == self.state => Change::Stale("the task is held already"),
            Ok(state) => Change::moved(state, None),
            Err(stale) => stale,
        }
    }

    /// A resume queues a held task again: a retry it held as the next attempt, a queued
    /// attempt that never ran as itself.
    pub fn release(&self) -> Change {
        if self.state != TaskState::Paused {
            return Change::Stale("the task is not held");
        }
        self.requeue_next()
    }

    /// Queues the attempt after this one if this one has ended, else this one again.
    fn requeue_next(&self) -> Change {
        match via(self.state.requeue(), "the task cannot be queued") {
            Ok(_) => Change::Queued {
                number: self.number + i64::from(self.ended),
            },
            Err(stale) => stale,
        }
    }
}

#[cfg(test)]
mod tests;
