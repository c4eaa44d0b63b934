//! The events of one workflow instance waiting for their acknowledgement, and how a batch
//! of them is accounted for.

use baton_core::WorkflowInstanceId;
use std::collections::VecDeque;
use std::time::Duration;

use baton_proto::{task_event, TaskEvent};

use super::FIRST_HOLD;
use baton_core::AttemptKey;

/// An event waiting for its acknowledgement.
pub(super) struct Queued {
    pub(super) seq: u64,
    /// Size of its outbox record.
    pub(super) bytes: u64,
    /// The master its dispatch named.
    pub(super) target: String,
    pub(super) event: TaskEvent,
    /// Sent, but its attempt was dropped since (session loss): not to be sent again.
    pub(super) doomed: bool,
}

impl Queued {
    pub(super) fn wfi(event: &TaskEvent) -> WorkflowInstanceId {
        WorkflowInstanceId(event.id.map(|id| id.workflow_instance_id).unwrap_or(0))
    }

    pub(super) fn key(&self) -> AttemptKey {
        crate::worker::key_of(&self.event.id.unwrap_or_default())
    }

    pub(super) fn is_finished(&self) -> bool {
        matches!(self.event.event, Some(task_event::Event::Finished(_)))
    }
}

/// Where an instance with events to send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// Neither waiting in a lane nor held (it may be in flight).
    Idle,
    /// In the ready list of a lane.
    Ready,
    /// Waiting out a backoff because nobody owns it yet.
    Held,
}

/// The pending events of one workflow instance, oldest first.
pub(super) struct Instance {
    pub(super) queue: VecDeque<Queued>,
    /// How many events at the front are in flight.
    pub(super) in_flight: usize,
    pub(super) place: Place,
    /// The next hold, should nobody own it.
    pub(super) hold: Duration,
}

impl Default for Instance {
    fn default() -> Self {
        Instance {
            queue: VecDeque::new(),
            in_flight: 0,
            place: Place::Idle,
            hold: FIRST_HOLD,
        }
    }
}

/// Events in one `Report` call and, per instance, how many of its queue they are.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) events: Vec<TaskEvent>,
    pub(super) parts: Vec<(WorkflowInstanceId, usize)>,
}

/// Events done with (acknowledged or dropped), to be recorded as such.
#[derive(Default)]
pub(super) struct Done {
    pub(super) seqs: Vec<u64>,
    pub(super) bytes: u64,
    /// Attempt of each event, and whether it was a Finished event.
    pub(super) keys: Vec<(AttemptKey, bool)>,
}

impl Done {
    pub(super) fn add(&mut self, q: &Queued) {
        self.seqs.push(q.seq);
        self.bytes += q.bytes;
        self.keys.push((q.key(), q.is_finished()));
    }
}

/// Removes the doomed events among the first `n` of `instance` into `done`.
pub(super) fn take_doomed(instance: &mut Instance, n: usize, done: &mut Done) {
    let mut at = 0;
    let mut seen = 0;
    while seen < n && at < instance.queue.len() {
        if instance.queue[at].doomed {
            if let Some(q) = instance.queue.remove(at) {
                done.add(&q);
            }
        } else {
            at += 1;
        }
        seen += 1;
    }
}
