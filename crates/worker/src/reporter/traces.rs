//! What the reporter knows of each attempt, for `Probe` and for telling a repeated dispatch of
//! an attempt that ended here from a new one: which attempts have events waiting, and which
//! ended here (their Finished event was queued, in this life or loaded from the previous one).

use baton_core::WorkflowInstanceId;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use baton_core::AttemptKey;

/// Most ended attempts remembered; the oldest are forgotten first. An attempt whose Finished
/// event is still waiting is known however many there are.
pub(super) const ENDED_CAP: usize = 100_000;

/// What the reporter holds of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trace {
    /// Nothing: no event of it waits, and no Finished event of it is remembered.
    None,
    /// Events of it wait, none a Finished event: it did not end here, so if it does not run
    /// either, its process died with a previous life of the worker or on a session loss.
    Unfinished,
    /// Its Finished event was queued: it waits, or a master acknowledged it.
    Ended,
}

/// The events of one attempt that wait for their acknowledgement.
struct Pending {
    /// Its workflow instance, where its events queue.
    wfi: WorkflowInstanceId,
    events: usize,
    finished: usize,
}

pub(super) struct Traces {
    pending: HashMap<AttemptKey, Pending>,
    /// Attempts whose Finished event was queued, with the number of that insertion.
    ended: HashMap<AttemptKey, u64>,
    /// Insertion order of `ended`, for forgetting the oldest; entries whose number no longer
    /// matches were removed (or inserted again) since.
    order: VecDeque<(AttemptKey, u64)>,
    next: u64,
    cap: usize,
}

impl Traces {
    pub(super) fn new(cap: usize) -> Self {
        Traces {
            pending: HashMap::new(),
            ended: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            cap,
        }
    }

    /// An event of `key` (in instance `wfi`) was queued.
    pub(super) fn queued(&mut self, wfi: WorkflowInstanceId, key: AttemptKey, finished: bool) {
        let pending = self.pending.entry(key).or_insert(Pending {
            wfi,
            events: 0,
            finished: 0,
        });
        pending.events += 1;
        if finished {
            pending.finished += 1;
            self.remember(key);
        }
    }

    /// An event of `key` was acknowledged or dropped.
    pub(super) fn done(&mut self, key: AttemptKey, finished: bool) {
        if let Entry::Occupied(mut entry) = self.pending.entry(key) {
            let pending = entry.get_mut();
            pending.events = pending.events.saturating_sub(1);
            if finished {
                pending.finished = pending.finished.saturating_sub(1);
            }
            if pending.events == 0 {
                entry.remove();
            }
        }
    }

    /// The attempt `key` is given up (its events are dropped): it did not end here.
    pub(super) fn forget(&mut self, key: AttemptKey) {
        self.ended.remove(&key);
    }

    /// The instance where events of `key` wait, if any do.
    pub(super) fn waiting_in(&self, key: AttemptKey) -> Option<WorkflowInstanceId> {
        self.pending.get(&key).map(|p| p.wfi)
    }

    pub(super) fn trace(&self, key: AttemptKey) -> Trace {
        match self.pending.get(&key) {
            Some(p) if p.finished > 0 => Trace::Ended,
            _ if self.ended.contains_key(&key) => Trace::Ended,
            Some(_) => Trace::Unfinished,
            None => Trace::None,
        }
    }

    fn remember(&mut self, key: AttemptKey) {
        let n = self.next;
        self.next += 1;
        self.ended.insert(key, n);
        self.order.push_back((key, n));
        while self.ended.len() > self.cap {
            let Some((old, n)) = self.order.pop_front() else {
                break;
            };
            if self.ended.get(&old) == Some(&n) {
                self.ended.remove(&old);
            }
        }
        if self.order.len() > 2 * self.cap.max(1) {
            let ended = &self.ended;
            self.order.retain(|(k, n)| ended.get(k) == Some(n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::{Attempt, TaskInstanceId};

    fn key(tid: i64, attempt: u32) -> AttemptKey {
        AttemptKey::new(TaskInstanceId(tid), Attempt(attempt))
    }

    #[test]
    fn pending_finished_events_are_known_beyond_the_cap() {
        let mut traces = Traces::new(2);
        traces.queued(WorkflowInstanceId(7), key(1, 1), false);
        assert_eq!(traces.trace(key(1, 1)), Trace::Unfinished);
        assert_eq!(traces.waiting_in(key(1, 1)), Some(WorkflowInstanceId(7)));
        traces.queued(WorkflowInstanceId(7), key(1, 1), true);
        assert_eq!(traces.trace(key(1, 1)), Trace::Ended);
        traces.done(key(1, 1), false);
        traces.done(key(1, 1), true);
        assert_eq!(traces.waiting_in(key(1, 1)), None);
        assert_eq!(traces.trace(key(1, 1)), Trace::Ended, "acknowledged");

        // key(2, 1) stays pending while newer ones push it out of the memory.
        traces.queued(WorkflowInstanceId(7), key(2, 1), true);
        for tid in 3..10 {
            traces.queued(WorkflowInstanceId(7), key(tid, 1), true);
            traces.done(key(tid, 1), true);
        }
        assert_eq!(traces.trace(key(1, 1)), Trace::None, "forgotten");
        assert_eq!(traces.trace(key(2, 1)), Trace::Ended);
        assert_eq!(traces.trace(key(9, 1)), Trace::Ended);
        assert!(traces.order.len() <= 4);

        traces.forget(key(9, 1));
        assert_eq!(traces.trace(key(9, 1)), Trace::None);
        assert_eq!(traces.trace(key(10, 1)), Trace::None);
    }
}
