//! Pauses in the engine: a pause lets running attempts finish and holds everything else of
//! the instance (queued attempts, retries waiting for their interval) until it is resumed.

use crate::attempts::{attempt_of, Facts};
use crate::engine::{Engine, Tick};
use baton_core::attempt::Change;
use baton_core::dag::TaskIndex;
use baton_core::run::Step;
use baton_core::{TaskState, WorkflowInstanceId};

impl Engine {
    /// Holds one task of a paused instance if it is not on a worker: it leaves the queue
    /// and is recorded as paused. Returns the steps that follow (the instance may be
    /// paused now).
    pub(crate) fn hold(&mut self, id: WorkflowInstanceId, index: TaskIndex) -> Vec<Step> {
        let Some(inst) = self.instances.get(&id) else {
            return Vec::new();
        };
        let in_master = inst.spec_of(index).kind.is_logic() || inst.maps.contains_key(&index);
        if !inst.run.is_paused() || in_master {
            return Vec::new();
        }
        let Some(slot) = inst.slots[index].as_ref() else {
            return Vec::new();
        };
        let now = attempt_of(slot);
        if now.state != TaskState::Paused {
            let change = now.hold();
            if !matches!(change, Change::Moved { .. }) {
                return Vec::new();
            }
            self.carry_out(id, index, change, Facts::default(), &mut Tick::default());
        }
        let Some(inst) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        if inst.item_of(index).is_some() {
            self.item_held(id, index);
            return Vec::new();
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
        let held = inst.run.release_held();
        let mapped: Vec<TaskIndex> = inst.maps.keys().copied().collect();
        for index in held {
            if mapped.contains(&index) {
                // Its items were held, not itself: they are released below.
                continue;
            }
            let Some(now) = self.attempt(id, index) else {
                continue;
            };
            let _ = self.carry_out(
                id,
                index,
                now.release(),
                Facts::default(),
                &mut Tick::default(),
            );
        }
        self.release_items(id, &mut Tick::default());
    }
}
