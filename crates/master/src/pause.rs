//! Pauses in the engine: a pause lets running attempts finish and holds everything else of
//! the instance (queued attempts, retries waiting for their interval) until it is resumed.

use crate::engine::{Engine, Slot};
use baton_core::dag::TaskIndex;
use baton_core::run::Step;
use baton_core::{TaskState, WorkflowInstanceId};

impl Engine {
    /// Holds one task of a paused instance if it is not on a worker: it leaves the queue
    /// and is recorded as paused. Returns the steps that follow (the instance may be
    /// paused now).
    pub(crate) fn hold(&mut self, id: WorkflowInstanceId, index: TaskIndex) -> Vec<Step> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        if !inst.run.is_paused() || inst.version.spec.tasks[index].kind.is_logic() {
            return Vec::new();
        }
        let Some(slot) = inst.slots[index].as_mut() else {
            return Vec::new();
        };
        let Ok(held) = slot.state.hold() else {
            return Vec::new();
        };
        if slot.state == TaskState::Submitted {
            self.dispatcher.dequeue(slot.id);
        }
        if slot.state != held {
            slot.state = held;
            slot.message = Some("held by a pause".into());
            self.writes.touch(slot);
        }
        inst.run.hold(index)
    }

    /// Holds every queued or retry-waiting task of a paused instance.
    pub(crate) fn hold_waiting(&mut self, id: WorkflowInstanceId) -> Vec<Step> {
        let count = self
            .instances
            .get(&id)
            .map(|inst| inst.slots.len())
            .unwrap_or(0);
        (0..count).flat_map(|index| self.hold(id, index)).collect()
    }

    /// A resumed instance queues its held tasks again: a held retry as its next attempt,
    /// a held queued attempt as itself.
    pub(crate) fn release_held(&mut self, id: WorkflowInstanceId) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        for index in inst.run.release_held() {
            let Some(slot) = inst.slots[index].as_mut() else {
                continue;
            };
            if slot.state != TaskState::Paused {
                continue;
            }
            let attempt = attempt_after_hold(slot);
            self.writes.requeue(slot, attempt);
            let spec = &inst.version.spec.tasks[index];
            self.dispatcher.enqueue(
                slot.id,
                &spec.worker_group,
                inst.priority,
                spec.queue_priority(),
            );
        }
    }
}

/// The attempt a held task runs when it is queued again: after a failure that was waiting
/// for its retry (its attempt has ended), the next one; a queued attempt that never ran, itself.
pub(crate) fn attempt_after_hold(slot: &Slot) -> i64 {
    slot.attempt + i64::from(slot.ended_at.is_some())
}
