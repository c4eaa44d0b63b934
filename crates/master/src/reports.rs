//! Worker reports: each event about an attempt goes to the attempt rules, or, for an
//! instance another master runs, back to the worker with where to send it.

use crate::attempts::{attempt_of, Facts};
use crate::engine::{Engine, Tick};
use baton_core::attempt::{Outcome, Rules};
use baton_core::dag::TaskIndex;
use baton_core::params::limits::check_outputs;
use baton_core::run::Step;
use baton_core::{TaskInstanceId, TaskState, WorkflowInstanceId};
use baton_proto::{task_event, Outcome as Wire, Redirect, TaskEvent};
use baton_store::{EngineTx, StoreError};

impl Engine {
    /// Takes a worker's event, or says where it belongs.
    pub(crate) async fn report(
        &mut self,
        tx: &mut dyn EngineTx,
        event: TaskEvent,
        t: &mut Tick,
    ) -> Result<Option<Redirect>, StoreError> {
        let Some(aid) = &event.id else {
            return Ok(None);
        };
        let instance = WorkflowInstanceId(aid.workflow_instance_id);
        if !self.instances.contains_key(&instance) {
            if let Some(redirect) = self.redirect(tx, instance).await? {
                return Ok(Some(redirect));
            }
        }
        self.take_report(tx, event, t).await?;
        Ok(None)
    }

    /// Where the events of an instance this master does not run should go: its owner, or
    /// (empty address) nobody yet. `None`: nobody will want them (the instance has ended).
    async fn redirect(
        &mut self,
        tx: &mut dyn EngineTx,
        instance: WorkflowInstanceId,
    ) -> Result<Option<Redirect>, StoreError> {
        let Some(record) = tx.instance(instance).await? else {
            return Ok(None);
        };
        if record.state.is_final() {
            return Ok(None);
        }
        let master_addr = match record.owner {
            Some(owner) if owner != self.config.id => {
                let live = self.masters.as_ref().is_none_or(|m| m.contains(&owner));
                if live {
                    owner
                } else {
                    String::new()
                }
            }
            // Ours in the store but not in memory (a rebuild or a lost session): later.
            _ => String::new(),
        };
        Ok(Some(Redirect {
            workflow_instance_id: instance.0,
            master_addr,
        }))
    }

    /// A worker's event about an attempt of an instance this master runs.
    async fn take_report(
        &mut self,
        tx: &mut dyn EngineTx,
        event: TaskEvent,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some((id, index)) = self.current_of(&event) else {
            return Ok(());
        };
        let Some(attempt) = self.attempt(id, index) else {
            return Ok(());
        };
        let worker = event.worker.as_str();
        let steps = match event.event {
            Some(task_event::Event::Started(started)) => {
                let facts = Facts {
                    worker: Some(worker),
                    at: Some(started.at_us),
                    ..Facts::default()
                };
                self.carry_out(id, index, attempt.start(), facts, t)
            }
            Some(task_event::Event::Finished(f)) => self.finished(id, index, worker, f, t),
            Some(task_event::Event::TimedOut(timed_out)) => {
                self.timed_out(id, index, worker, &timed_out);
                Vec::new()
            }
            Some(task_event::Event::Healthy(healthy)) => {
                let facts = Facts {
                    worker: Some(worker),
                    at: Some(healthy.at_us),
                    ..Facts::default()
                };
                self.carry_out(id, index, attempt.healthy(), facts, t)
            }
            Some(task_event::Event::Restarted(restarted)) => {
                let message = format!("restarted ({}): {}", restarted.restarts, restarted.reason);
                let facts = Facts {
                    worker: Some(worker),
                    at: Some(restarted.at_us),
                    message: Some(&message),
                    ..Facts::default()
                };
                self.carry_out(id, index, attempt.restarted(), facts, t)
            }
            None => Vec::new(),
        };
        self.apply(tx, id, steps, t).await
    }

    /// Where the attempt an event is about stands here, if it is the current one.
    fn current_of(&self, event: &TaskEvent) -> Option<(WorkflowInstanceId, TaskIndex)> {
        let aid = event.id?;
        let task = TaskInstanceId(aid.task_instance_id);
        let attempt = i64::from(aid.attempt);
        let stale = |why: &str| {
            tracing::info!(
                "stale report for task instance {task} attempt {attempt} from {} ignored: {why}",
                event.worker
            );
        };
        let Some(&(id, index)) = self.tasks.get(&task) else {
            stale("the task instance is not active here");
            return None;
        };
        let slot = self.instances.get(&id)?.slots[index].as_ref()?;
        if slot.attempt != attempt {
            stale("another attempt is current");
            return None;
        }
        // Only the worker the attempt was dispatched to speaks for it.
        if slot.worker.as_deref().is_some_and(|w| w != event.worker) {
            stale("the attempt was dispatched to another worker");
            return None;
        }
        Some((id, index))
    }

    /// The worker says the attempt ended: the attempt rules decide what follows. A success
    /// whose output params are over the limits (a buggy or older worker; a worker fails such
    /// a task itself) is taken as a failure, with the limit as its reason.
    fn finished(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        worker: &str,
        f: baton_proto::Finished,
        t: &mut Tick,
    ) -> Vec<Step> {
        let inst = &self.instances[&id];
        let Some(slot) = inst.slots[index].as_ref() else {
            return Vec::new();
        };
        if !matches!(slot.state, TaskState::Dispatched | TaskState::Running) {
            tracing::info!("report for task instance {} ignored: it has ended", slot.id);
            return Vec::new();
        }
        let rules = Rules::of(inst.spec_of(index));
        let split = inst.is_split(index);
        let (mut outcome, mut message) =
            match (worker_outcome(f.outcome), check_outputs(&f.outputs)) {
                (Outcome::Succeeded, Err(over)) => {
                    tracing::warn!(
                        "task instance {} fails: its worker {worker} reported {over}",
                        slot.id
                    );
                    (Outcome::Failed, over.to_string())
                }
                (outcome, _) => (outcome, f.message),
            };
        // A split step's sub-tasks are kept on its task's row for the next phase; ones
        // that cannot run fail the attempt (retried as any failure).
        if split && outcome == Outcome::Succeeded {
            if let Err(why) = self.split_reported(id, index, f.subtasks) {
                (outcome, message) = (Outcome::Failed, why);
            }
        }
        let inst = &self.instances[&id];
        let Some(slot) = inst.slots[index].as_ref() else {
            return Vec::new();
        };
        let change = attempt_of(slot).finish(outcome, &rules, inst.run.is_ending(), f.ended_at_us);
        if let Some(w) = slot.worker.clone() {
            self.dispatcher.release(&w);
        }
        let facts = Facts {
            worker: Some(worker),
            at: Some(f.ended_at_us),
            started_at: Some(f.started_at_us).filter(|s| *s > 0),
            exit_code: f.exit_code.map(i64::from),
            message: Some(message.as_str()).filter(|m| !m.is_empty()),
            // Output params pass to the downstream tasks (with the row, in this tick).
            outputs: (outcome == Outcome::Succeeded).then(|| f.outputs.into_iter().collect()),
        };
        self.carry_out(id, index, change, facts, t)
    }

    /// The worker says the attempt ran past its timeout (and, by its strategy, goes on or
    /// is being failed): recorded as an event.
    fn timed_out(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        worker: &str,
        report: &baton_proto::TimedOut,
    ) {
        let inst = &self.instances[&id];
        let Some(slot) = inst.slots[index].as_ref() else {
            return;
        };
        let spec = &inst.version.spec;
        match crate::alerts::task_timeout(id, &spec.project, &spec.name, slot, worker, report) {
            Ok(e) => self.writes.events.push(e),
            Err(why) => tracing::info!("timeout report of {} ignored: {why}", slot.id),
        }
    }
}

/// How a worker says an attempt ended, for the attempt rules. A timeout that killed the
/// attempt is a failure; an outcome this master does not know (a newer worker) too.
fn worker_outcome(outcome: i32) -> Outcome {
    match Wire::try_from(outcome) {
        Ok(Wire::Succeeded) => Outcome::Succeeded,
        Ok(Wire::Killed) => Outcome::Killed,
        Ok(Wire::Failed | Wire::TimedOut | Wire::Unspecified) | Err(_) => Outcome::Failed,
    }
}
