//! Carries out the attempt rules of [`baton_core::attempt`]: the one place in the master that
//! changes a task instance's state. Every caller asks the rules what an input (a report, a
//! failed dispatch, a lost worker, a kill, a due retry, a pause) does to the current attempt and
//! hands the [`Change`] here, with the facts to record; this writes the row and the attempt's
//! history, records the lifecycle event, publishes the live event, and moves the task between
//! the queue, the retry timers and the instance's state machine.

use crate::engine::{End, Engine, Slot, Tick, Writes};
use crate::events::RunEvent;
use crate::metrics::{seconds_between, Observation};
use baton_core::attempt::{After, Attempt, Change, TaskEnd};
use baton_core::dag::TaskIndex;
use baton_core::run::Step;
use baton_core::{EventKind, TaskState, WorkflowInstanceId};
use baton_proto::AttemptId;
use baton_store::{now_us, NewEvent, TaskInstanceRecord};
use std::cmp::Reverse;
use std::collections::BTreeMap;
use tokio::time::Instant;

/// What is known of the input, recorded with the change.
#[derive(Debug, Default)]
pub(crate) struct Facts<'a> {
    /// The worker concerned: the one dispatched to, or the one reporting.
    pub worker: Option<&'a str>,
    /// When it happened (µs); now when not given.
    pub at: Option<i64>,
    /// When the attempt started (µs), as its worker says.
    pub started_at: Option<i64>,
    /// The process's exit code.
    pub exit_code: Option<i64>,
    /// For people: why it failed, what a logic task did.
    pub message: Option<&'a str>,
    /// The output params of a successful attempt.
    pub outputs: Option<BTreeMap<String, String>>,
}

/// The live event of an attempt's end.
fn ended_event(id: WorkflowInstanceId, slot: &Slot, state: TaskState, after: After) -> RunEvent {
    RunEvent::TaskEnded {
        instance: id,
        task: slot.id,
        name: slot.task_name.clone(),
        attempt: slot.attempt,
        state,
        will_retry: matches!(after, After::RetryAt { .. }),
        started_at: slot.started_at,
        ended_at: slot.ended_at.unwrap_or_else(now_us),
        exit_code: slot.exit_code,
        message: slot.message.clone(),
    }
}

/// The current attempt of a row, as the rules see it.
pub(crate) fn attempt_of(slot: &Slot) -> Attempt {
    Attempt {
        state: slot.state,
        number: slot.attempt,
        retries_used: slot.retries_used,
        ended: slot.ended_at.is_some(),
    }
}

/// Applies a recover's decision to a stored row: the next attempt is queued with a fresh
/// retry budget. Returns false when the rules refused (the row is left as it is).
pub(crate) fn reopen(row: &mut TaskInstanceRecord) -> bool {
    let change = attempt_of(row).reopen();
    apply_to_row(&mut Writes::default(), row, &change, &Facts::default())
}

/// Writes what `change` does to the row itself (its state, its attempt and the attempt's
/// history), and nothing else: the queue, the timers and the instance are the caller's.
/// Returns false when the change leaves the row as it is.
pub(crate) fn apply_to_row(
    writes: &mut Writes,
    slot: &mut Slot,
    change: &Change,
    facts: &Facts<'_>,
) -> bool {
    match *change {
        Change::Stale(_) | Change::SendKill | Change::Up | Change::Restarted => false,
        Change::Moved { state, .. } => move_row(writes, slot, state, facts),
        Change::Ended {
            attempt_state,
            state,
            retries_used,
            after,
            ..
        } => {
            let next_retry_at = match after {
                After::RetryAt { due_us } => Some(due_us),
                After::Final(_) | After::Requeue { .. } => None,
            };
            let end = End {
                state,
                attempt_state,
                worker: facts.worker,
                started_at: facts.started_at,
                ended_at: facts.at.unwrap_or_else(now_us),
                exit_code: facts.exit_code,
                message: facts.message,
                retries_used,
                next_retry_at,
            };
            writes.end_attempt(slot, end);
            if let After::Requeue { next } = after {
                writes.requeue(slot, next);
            }
            true
        }
        Change::Queued { number } => {
            writes.requeue(slot, number);
            true
        }
        Change::Reopened { number } => {
            slot.retries_used = 0;
            writes.requeue(slot, number);
            true
        }
    }
}

/// The attempt stays current and moves to `state`.
fn move_row(writes: &mut Writes, slot: &mut Slot, state: TaskState, facts: &Facts<'_>) -> bool {
    match state {
        TaskState::Dispatched => {
            slot.worker = facts.worker.map(str::to_string);
            slot.message = None;
        }
        TaskState::Running => {
            slot.started_at = Some(facts.at.unwrap_or_else(now_us));
            slot.worker = facts.worker.map(str::to_string);
            if let Some(message) = facts.message {
                slot.message = Some(message.to_string());
            }
        }
        TaskState::Paused => slot.message = Some("held by a pause".into()),
        TaskState::Submitted
        | TaskState::Succeeded
        | TaskState::Failed
        | TaskState::RetryWait
        | TaskState::Killed
        | TaskState::Skipped
        | TaskState::NeedFailover => {
            tracing::error!(
                "attempt rules moved task instance {} to {state}: a bug",
                slot.id
            );
            return false;
        }
    }
    slot.state = state;
    writes.touch(slot);
    true
}

impl Engine {
    /// The current attempt of a task, if the task has a row.
    pub(crate) fn attempt(&self, id: WorkflowInstanceId, index: TaskIndex) -> Option<Attempt> {
        let slot = self.instances.get(&id)?.slots[index].as_ref()?;
        Some(attempt_of(slot))
    }

    /// Carries out `change` on the task at `index` of instance `id`; returns the steps of the
    /// instance's state machine that follow.
    pub(crate) fn carry_out(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        change: Change,
        facts: Facts<'_>,
        t: &mut Tick,
    ) -> Vec<Step> {
        if let Change::Stale(why) = change {
            tracing::debug!("instance {id} task {index}: ignored ({why})");
            return Vec::new();
        }
        if change == Change::SendKill {
            self.send_kill(id, index, t);
            return Vec::new();
        }
        match change {
            Change::Up => return self.service_news(id, index, EventKind::TaskHealthy, &facts),
            Change::Restarted => {
                return self.service_news(id, index, EventKind::TaskRestarted, &facts)
            }
            Change::Stale(_)
            | Change::Moved { .. }
            | Change::Ended { .. }
            | Change::Queued { .. }
            | Change::Reopened { .. }
            | Change::SendKill => {}
        }
        let Some(inst) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        let Some(slot) = inst.slots[index].as_mut() else {
            return Vec::new();
        };
        let before = slot.state;
        if let (Change::Ended { .. }, Some(outputs)) = (&change, &facts.outputs) {
            slot.outputs = outputs.clone();
        }
        let facts = Facts {
            at: facts.at.or(Some(self.config.clock.now_us())),
            ..facts
        };
        let started_at = facts.started_at.or(slot.started_at);
        if !apply_to_row(&mut self.writes, slot, &change, &facts) {
            return Vec::new();
        }
        if let Change::Ended {
            attempt_state,
            after,
            ..
        } = change
        {
            let ran = started_at.zip(facts.at);
            self.observe_end(id, index, ran, attempt_state, after, t);
        }
        self.after_row(id, index, before, &change, &facts, t)
    }

    /// The metrics of an attempt's end: how long it ran (`ran`: from its start to its end, µs),
    /// how long it waited when it ended with no start reported (a run that completes at
    /// once), and a retry.
    fn observe_end(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        ran: Option<(i64, i64)>,
        attempt_state: TaskState,
        after: After,
        t: &mut Tick,
    ) {
        let inst = &self.instances[&id];
        let spec = inst.spec_of(index);
        let Some(slot) = inst.slots[index].as_ref() else {
            return;
        };
        if inst.maps.contains_key(&index) {
            // A mapped task's own row ran nothing: its items are observed each.
            return;
        }
        let queued = self.queued_at.remove(&slot.id);
        if let Some((started, ended)) = ran {
            t.observed.push(Observation::TaskDuration {
                kind: spec.kind.type_name(),
                outcome: attempt_state.as_str(),
                seconds: seconds_between(started, ended),
            });
            if let Some(queued) = queued {
                let group = inst.overrides.worker_group(spec).to_string();
                let seconds = seconds_between(queued, started);
                t.observed
                    .push(Observation::DispatchLatency { group, seconds });
            }
        }
        if matches!(after, After::RetryAt { .. }) {
            t.observed.push(Observation::Retry);
        }
    }

    /// What follows a change of the row: the queue, the timers, the live and lifecycle
    /// events, and the instance's state machine.
    fn after_row(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        before: TaskState,
        change: &Change,
        facts: &Facts<'_>,
        t: &mut Tick,
    ) -> Vec<Step> {
        let inst = self.instances.get_mut(&id).expect("checked by the caller");
        let slot = inst.slots[index].as_ref().expect("checked by the caller");
        let task = slot.id;
        match *change {
            Change::Stale(_) | Change::SendKill | Change::Up | Change::Restarted => Vec::new(),
            Change::Moved { state, event } => {
                self.after_move(id, index, before, state, facts, t);
                if let Some(kind) = event {
                    self.record_task_event(id, index, kind, facts);
                }
                Vec::new()
            }
            Change::Ended {
                attempt_state,
                after,
                event,
                ..
            } => {
                self.dispatched_at.remove(&task);
                if !matches!(after, After::Requeue { .. }) {
                    t.published
                        .push(ended_event(id, slot, attempt_state, after));
                }
                self.record_task_event(id, index, event, facts);
                self.after_end(id, index, after)
            }
            Change::Queued { .. } | Change::Reopened { .. } => {
                self.enqueue(id, index);
                Vec::new()
            }
        }
    }

    /// What follows a task's move to `state` in memory: a dispatch is timed, a start is
    /// published to the live event stream, a pause takes a queued task off the queue.
    fn after_move(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        before: TaskState,
        state: TaskState,
        facts: &Facts<'_>,
        t: &mut Tick,
    ) {
        let slot = self.instances[&id].slots[index]
            .as_ref()
            .expect("checked by the caller");
        let task = slot.id;
        match state {
            TaskState::Dispatched => {
                self.dispatched_at.insert(task, Instant::now());
                t.observed.push(Observation::Dispatch);
            }
            TaskState::Running => {
                let inst = &self.instances[&id];
                if let Some(queued) = self.queued_at.remove(&task) {
                    let spec = inst.spec_of(index);
                    t.observed.push(Observation::DispatchLatency {
                        group: inst.overrides.worker_group(spec).to_string(),
                        seconds: seconds_between(queued, slot.started_at.unwrap_or(queued)),
                    });
                }
                t.published.push(RunEvent::TaskStarted {
                    instance: id,
                    task,
                    name: slot.task_name.clone(),
                    attempt: slot.attempt,
                    worker: facts.worker.unwrap_or("master").to_string(),
                    at_us: slot.started_at.unwrap_or_else(now_us),
                });
            }
            TaskState::Paused => {
                if before == TaskState::Submitted {
                    self.dispatcher.dequeue(task);
                    self.queued_at.remove(&task);
                }
            }
            TaskState::Submitted
            | TaskState::Succeeded
            | TaskState::Failed
            | TaskState::RetryWait
            | TaskState::Killed
            | TaskState::Skipped
            | TaskState::NeedFailover => {}
        }
    }

    /// What follows an ended attempt: the instance hears of a task's end, a retry waits for
    /// its interval (or a pause), a lost attempt is queued again.
    fn after_end(&mut self, id: WorkflowInstanceId, index: TaskIndex, after: After) -> Vec<Step> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        let Some(slot) = inst.slots[index].as_ref() else {
            return Vec::new();
        };
        let (task, attempt) = (slot.id, slot.attempt);
        let item = inst.item_of(index).is_some();
        match after {
            After::Final(_) if item => {
                self.tasks.remove(&task);
                self.item_ended(id, index);
                Vec::new()
            }
            After::Final(end) => {
                self.tasks.remove(&task);
                match end {
                    TaskEnd::Succeeded => inst.run.succeeded(index),
                    TaskEnd::Branched { chosen } => inst.run.branch(index, chosen),
                    TaskEnd::Failed => inst.run.failed(index),
                    TaskEnd::Killed => inst.run.killed(index),
                }
            }
            After::RetryAt { due_us } => {
                self.retries.push(Reverse((due_us, task, attempt)));
                // A pause holds the retry until the instance is resumed.
                self.hold(id, index)
            }
            After::Requeue { .. } => {
                self.enqueue(id, index);
                Vec::new()
            }
        }
    }

    /// A service's news that leaves its row as it is: the event `kind` is recorded (its
    /// message from the facts), and an up service (`task_healthy`) may start its downstream.
    fn service_news(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        kind: EventKind,
        facts: &Facts<'_>,
    ) -> Vec<Step> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        let Some(slot) = inst.slots[index].as_ref() else {
            return Vec::new();
        };
        let steps = match kind == EventKind::TaskHealthy {
            true => inst.run.healthy(index),
            false => Vec::new(),
        };
        let message = match facts.message {
            Some(m) => m.to_string(),
            None => format!("{} attempt {}: {}", slot.task_name, slot.attempt, kind),
        };
        let at = facts.at.unwrap_or_else(|| self.config.clock.now_us());
        let event = NewEvent::new(kind, at, message)
            .instance(id, &inst.version.spec.project, &inst.name)
            .task(slot.id, &slot.task_name, slot.attempt)
            .worker(facts.worker.or(slot.worker.as_deref()));
        self.writes.events.push(event);
        steps
    }

    /// Puts the task's queued attempt on the dispatcher's queue: its group's, or its
    /// worker's for a broadcast item.
    pub(crate) fn enqueue(&mut self, id: WorkflowInstanceId, index: TaskIndex) {
        let Some(inst) = self.instances.get(&id) else {
            return;
        };
        let Some(slot) = inst.slots[index].as_ref() else {
            return;
        };
        let spec = inst.spec_of(index);
        let now = self.config.clock.now_us();
        self.queued_at.entry(slot.id).or_insert(now);
        let target = inst.target_of(index);
        self.dispatcher
            .enqueue_for(slot.id, target, inst.priority, spec.queue_priority());
    }

    /// Asks the worker of the current attempt to kill it; its report ends the attempt.
    fn send_kill(&mut self, id: WorkflowInstanceId, index: TaskIndex, t: &mut Tick) {
        let Some(inst) = self.instances.get(&id) else {
            return;
        };
        let Some(slot) = inst.slots[index].as_ref() else {
            return;
        };
        if let Some(worker) = &slot.worker {
            t.kills.push((
                worker.clone(),
                AttemptId {
                    workflow_instance_id: id.0,
                    task_instance_id: slot.id.0,
                    attempt: u32::try_from(slot.attempt).unwrap_or(u32::MAX),
                    epoch: u64::try_from(inst.epoch).unwrap_or(0),
                },
            ));
        }
    }

    /// Records a lifecycle event about the current attempt of a task, with this tick.
    pub(crate) fn record_task_event(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        kind: EventKind,
        facts: &Facts<'_>,
    ) {
        let Some(inst) = self.instances.get(&id) else {
            return;
        };
        let Some(slot) = inst.slots[index].as_ref() else {
            return;
        };
        let message = match (kind, slot.message.as_deref()) {
            (_, Some(m)) if kind != EventKind::TaskDispatched => m.to_string(),
            _ => format!("{} attempt {}: {}", slot.task_name, slot.attempt, kind),
        };
        let at = facts.at.unwrap_or_else(|| self.now());
        let event = NewEvent::new(kind, at, message)
            .instance(id, &inst.version.spec.project, &inst.name)
            .task(slot.id, &slot.task_name, slot.attempt)
            .worker(facts.worker.or(slot.worker.as_deref()));
        self.writes.events.push(event);
    }
}
