//! What the worker knows about masters: which one owns each workflow instance (learned from
//! dispatches, acknowledgements and redirects), and which masters exist at all (from heartbeats
//! and dispatches), to send to when an instance's owner is unknown or unreachable.

use baton_core::WorkflowInstanceId;
use std::collections::{HashMap, HashSet, VecDeque};

/// Most instance owners remembered; the oldest are forgotten first (their events then go to
/// the master recorded with them, which redirects if it must).
const OWNERS_CAP: usize = 10_000;

/// Most master addresses remembered from dispatches.
const SEEN_CAP: usize = 64;

/// The master believed to own each workflow instance.
pub(crate) struct Owners {
    map: HashMap<WorkflowInstanceId, String>,
    /// Insertion order, for forgetting the oldest; may hold keys removed since.
    order: VecDeque<WorkflowInstanceId>,
    cap: usize,
}

impl Owners {
    pub(crate) fn new() -> Self {
        Owners::with_cap(OWNERS_CAP)
    }

    fn with_cap(cap: usize) -> Self {
        Owners {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    pub(crate) fn get(&self, wfi: WorkflowInstanceId) -> Option<&str> {
        self.map.get(&wfi).map(String::as_str)
    }

    pub(crate) fn set(&mut self, wfi: WorkflowInstanceId, addr: &str) {
        if let Some(known) = self.map.get_mut(&wfi) {
            if known != addr {
                addr.clone_into(known);
            }
            return;
        }
        self.map.insert(wfi, addr.to_string());
        self.order.push_back(wfi);
        while self.map.len() > self.cap {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        if self.order.len() > 2 * self.cap {
            // Removed and re-added keys left duplicates behind: keep each live key once.
            let mut kept = HashSet::new();
            let map = &self.map;
            self.order
                .retain(|k| map.contains_key(k) && kept.insert(*k));
        }
    }

    pub(crate) fn remove(&mut self, wfi: WorkflowInstanceId) {
        self.map.remove(&wfi);
    }
}

/// The masters this worker could report to.
#[derive(Default)]
pub(crate) struct Masters {
    /// The live masters as the last heartbeat listed them; when known, the only candidates.
    live: Vec<String>,
    /// Masters seen in dispatches (and the outbox), most recent last.
    seen: VecDeque<String>,
    next: usize,
}

impl Masters {
    /// Replaces the list of live masters.
    pub(crate) fn set_live(&mut self, addrs: Vec<String>) {
        self.live = addrs;
    }

    /// Remembers a master named by a dispatch, an event or a redirect.
    pub(crate) fn saw(&mut self, addr: &str) {
        if self.seen.back().is_some_and(|a| a == addr) {
            return;
        }
        if let Some(at) = self.seen.iter().position(|a| a == addr) {
            self.seen.remove(at);
        }
        self.seen.push_back(addr.to_string());
        if self.seen.len() > SEEN_CAP {
            self.seen.pop_front();
        }
    }

    /// Another master to try, in turn, skipping `exclude` and those `is_down` says are
    /// unreachable; None when there is none.
    pub(crate) fn pick(
        &mut self,
        exclude: Option<&str>,
        is_down: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let pool: Vec<&String> = if self.live.is_empty() {
            self.seen.iter().collect()
        } else {
            self.live.iter().collect()
        };
        let candidates: Vec<&String> = pool
            .into_iter()
            .filter(|a| Some(a.as_str()) != exclude && !is_down(a))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        self.next = self.next.wrapping_add(1);
        Some(candidates[self.next % candidates.len()].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_forget_the_oldest_beyond_their_cap() {
        let mut owners = Owners::with_cap(3);
        for wfi in 1..=3 {
            owners.set(WorkflowInstanceId(wfi), "a");
        }
        owners.set(WorkflowInstanceId(1), "b");
        assert_eq!(owners.get(WorkflowInstanceId(1)), Some("b"));
        owners.set(WorkflowInstanceId(4), "a");
        assert_eq!(owners.get(WorkflowInstanceId(1)), None);
        assert_eq!(owners.get(WorkflowInstanceId(4)), Some("a"));
        for _ in 0..100 {
            owners.remove(WorkflowInstanceId(4));
            owners.set(WorkflowInstanceId(4), "c");
        }
        assert!(owners.order.len() <= 6);
        assert_eq!(owners.get(WorkflowInstanceId(4)), Some("c"));
        assert_eq!(owners.get(WorkflowInstanceId(2)), Some("a"));
    }

    #[test]
    fn masters_are_picked_in_turn_live_ones_first() {
        let mut masters = Masters::default();
        assert_eq!(masters.pick(None, |_| false), None);
        masters.saw("a");
        masters.saw("b");
        masters.saw("a");
        assert_eq!(masters.pick(Some("a"), |_| false).as_deref(), Some("b"));
        assert_eq!(masters.pick(Some("a"), |a| a == "b"), None);
        let two: HashSet<String> = (0..2)
            .filter_map(|_| masters.pick(None, |_| false))
            .collect();
        assert_eq!(two.len(), 2);
        masters.set_live(vec!["c".into()]);
        assert_eq!(masters.pick(None, |_| false).as_deref(), Some("c"));
    }
}
