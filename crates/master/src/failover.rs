//! What a master does when the cluster changes: it adopts the instances of masters that
//! left, and runs again (or fails) the attempts of workers that left.

use crate::attempts::{attempt_of, Facts};
use crate::engine::{Engine, Tick};
use baton_core::attempt::Rules;
use baton_core::run::broadcast;
use baton_core::{EventKind, FailoverPolicy, TaskInstanceId, TaskState, WorkflowInstanceId};
use baton_proto::{AttemptId, AttemptStatus};
use baton_store::{EngineTx, StoreError};
use std::time::Duration;

impl Engine {
    /// Takes over every running instance whose owner is not a live master, each under a higher
    /// epoch, so that the old owner (if it is only paused) can no longer write about it.
    pub(crate) async fn adopt_orphans(
        &mut self,
        tx: &mut dyn EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(masters) = &self.masters else {
            return Ok(());
        };
        // Until the registry shows us, others may not count us as live either.
        if !self.config.cluster || !masters.contains(&self.config.id) {
            return Ok(());
        }
        let live: Vec<String> = masters.iter().cloned().collect();
        for adopted in tx.adopt_orphans(&self.config.id, &live).await? {
            let (id, epoch) = (adopted.id, adopted.epoch);
            let Some(record) = tx.instance(id).await? else {
                continue;
            };
            tracing::warn!("adopted workflow instance {id} under epoch {epoch}");
            t.adopted += 1;
            let from = adopted.previous_owner.unwrap_or_default();
            let message = format!("adopted by {} from {from} (epoch {epoch})", self.config.id);
            let mut event = crate::lifecycle::of_record(
                &record,
                EventKind::InstanceAdopted,
                self.now(),
                message,
            );
            event.detail = Some(serde_json::json!({
                "from": from, "to": self.config.id, "epoch": epoch,
            }));
            self.writes.events.push(event);
            self.load_instance(tx, record, false, t).await?;
        }
        Ok(())
    }

    /// Attempts dispatched to workers that are no longer in the cluster are lost.
    pub(crate) async fn fail_over_lost_workers(
        &mut self,
        tx: &mut dyn EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        if self.masters.is_none() {
            return Ok(());
        }
        let mut lost: Vec<(WorkflowInstanceId, usize)> = Vec::new();
        for (id, inst) in &self.instances {
            for (index, slot) in inst.slots.iter().enumerate() {
                let Some(slot) = slot else { continue };
                let on_worker = matches!(slot.state, TaskState::Dispatched | TaskState::Running);
                if on_worker
                    && slot
                        .worker
                        .as_ref()
                        .is_some_and(|w| !self.dispatcher.is_live(w))
                {
                    lost.push((*id, index));
                }
            }
        }
        for (id, index) in lost {
            self.lose_attempt(tx, id, index, t).await?;
        }
        Ok(())
    }

    /// Writes the current attempt off as lost with its worker, then queues a new attempt, or
    /// fails the task when it says `failover: fail` (the attempt rules decide).
    async fn lose_attempt(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: usize,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(inst) = self.instances.get(&id) else {
            return Ok(());
        };
        let spec = inst.spec_of(index);
        let Some(slot) = inst.slots[index].as_ref() else {
            return Ok(());
        };
        // A broadcast item runs only on its worker: lost with it, it fails.
        let (rules, message) = match inst.pinned_worker(index) {
            Some(worker) => (
                broadcast::item_rules(Rules::of(spec)),
                broadcast::lost_message(worker),
            ),
            None => (Rules::of(spec), lost_message(spec.failover).to_string()),
        };
        tracing::warn!(
            "task instance {} attempt {} on {}: {message}",
            slot.id,
            slot.attempt,
            slot.worker.as_deref().unwrap_or("?")
        );
        let change = attempt_of(slot).lose(&rules);
        let facts = Facts {
            message: Some(&message),
            ..Facts::default()
        };
        t.failovers += 1;
        let steps = self.carry_out(id, index, change, facts, t);
        self.apply(tx, id, steps, t).await
    }

    /// Asks each worker in `probe_workers` about the attempts this master believes it has,
    /// except those this process dispatched too recently for the dispatch to have landed.
    pub(crate) fn collect_probes(&mut self, t: &mut Tick) {
        if self.probe_workers.is_empty() {
            return;
        }
        let settle = self.config.dispatch_timeout + Duration::from_secs(1);
        let mut keep = std::collections::HashSet::new();
        for worker in std::mem::take(&mut self.probe_workers) {
            let mut ids = Vec::new();
            for (id, inst) in &self.instances {
                for slot in inst.slots.iter().flatten() {
                    let on_it = matches!(slot.state, TaskState::Dispatched | TaskState::Running)
                        && slot.worker.as_deref() == Some(worker.as_str());
                    if !on_it {
                        continue;
                    }
                    if self
                        .dispatched_at
                        .get(&slot.id)
                        .is_some_and(|t| t.elapsed() < settle)
                    {
                        keep.insert(worker.clone());
                        continue;
                    }
                    ids.push(AttemptId {
                        workflow_instance_id: id.0,
                        task_instance_id: slot.id.0,
                        attempt: u32::try_from(slot.attempt).unwrap_or(u32::MAX),
                        epoch: u64::try_from(inst.epoch).unwrap_or(0),
                    });
                }
            }
            if !ids.is_empty() {
                t.probes.push((worker, ids));
            }
        }
        // Recent dispatches are asked about on a later tick.
        self.probe_workers = keep;
    }

    /// A worker answered a probe: an attempt it does not know was lost on the way (or with
    /// a previous life of the worker), so it runs again.
    pub(crate) async fn probed(
        &mut self,
        tx: &mut dyn EngineTx,
        (worker, answers): Probed,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        for (task, attempt, status) in answers {
            if status != AttemptStatus::Unknown {
                continue;
            }
            let Some(&(id, index)) = self.tasks.get(&task) else {
                continue;
            };
            let Some(slot) = self
                .instances
                .get(&id)
                .and_then(|i| i.slots[index].as_ref())
            else {
                continue;
            };
            let same = slot.attempt == attempt
                && slot.worker.as_deref() == Some(worker.as_str())
                && matches!(slot.state, TaskState::Dispatched | TaskState::Running);
            if same {
                tracing::warn!(
                    "worker {worker} does not know task instance {task} attempt {attempt}"
                );
                self.dispatcher.release(&worker);
                self.lose_attempt(tx, id, index, t).await?;
            }
        }
        Ok(())
    }
}

/// What a lost attempt's message says, by its task's failover policy.
fn lost_message(failover: FailoverPolicy) -> &'static str {
    match failover {
        FailoverPolicy::Fail => "lost with its worker; the task says `failover: fail`",
        FailoverPolicy::Rerun => "lost with its worker; running it again elsewhere",
    }
}

/// A worker's answers to a probe.
pub(crate) type Probed = (String, Vec<(TaskInstanceId, i64, AttemptStatus)>);
