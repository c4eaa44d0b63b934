//! The lifecycle events the engine records about instances and workers (task attempt events
//! are recorded where the attempt rules are carried out, in `attempts`). Each goes into the
//! tick's writes, so it is committed in the same transaction as the change it describes.

use crate::engine::Engine;
use baton_core::{EventKind, WorkflowInstanceId, WorkflowState};
use baton_store::{InstanceRecord, NewEvent};

/// An event about an instance read from the store (one this master does not run).
pub(crate) fn of_record(
    record: &InstanceRecord,
    kind: EventKind,
    at: i64,
    message: String,
) -> NewEvent {
    NewEvent::new(kind, at, message).instance(record.id, &record.project, &record.name)
}

impl Engine {
    /// Records an event about an instance this master runs.
    pub(crate) fn instance_event(
        &mut self,
        id: WorkflowInstanceId,
        kind: EventKind,
        message: String,
        detail: Option<serde_json::Value>,
    ) {
        let Some(inst) = self.instances.get(&id) else {
            return;
        };
        let mut event = NewEvent::new(kind, self.now(), message).instance(
            id,
            &inst.version.spec.project,
            &inst.name,
        );
        event.detail = detail;
        self.writes.events.push(event);
    }

    /// Records the end of an instance this master runs, in `state`.
    pub(crate) fn instance_ended(&mut self, id: WorkflowInstanceId, state: WorkflowState) {
        let Some(kind) = EventKind::of_instance_end(state) else {
            return;
        };
        let message = match self.instances.get(&id) {
            Some(inst) => format!("workflow {} instance {id} {state}", inst.name),
            None => return,
        };
        self.instance_event(id, kind, message, None);
    }

    /// Records that workers left the cluster (every master sees it: recorded once per
    /// worker session).
    pub(crate) fn workers_lost(&mut self, lost: Vec<(String, String)>) {
        for (worker, session) in lost {
            let event = NewEvent::new(
                EventKind::WorkerLost,
                self.now(),
                format!("worker {worker} left the cluster"),
            )
            .worker(Some(&worker))
            .detail(serde_json::json!({ "session": session }))
            .once(format!("worker_lost:{worker}:{session}"));
            self.pending_events.push(event);
        }
    }
}
