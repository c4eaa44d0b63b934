//! The dispatcher's bookkeeping: one priority queue of ready task instances per worker group
//! (workflow instance priority, then task priority, then the order they became ready), and the
//! free slots of each worker. Choosing is pure; sending is the engine's job.

use crate::WorkerEndpoint;
use baton_core::{Priority, TaskInstanceId};
use baton_proto::worker_client::WorkerClient;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    instance_priority: Reverse<Priority>,
    task_priority: Reverse<Priority>,
    seq: u64,
}

/// A worker and how many of its slots this master uses.
pub(crate) struct WorkerSlots {
    pub endpoint: WorkerEndpoint,
    pub client: WorkerClient<Channel>,
    pub used: usize,
    /// After a failed send, the worker is left alone until then.
    pub resting_until: Option<Instant>,
}

#[derive(Default)]
pub(crate) struct Dispatcher {
    queues: HashMap<String, BTreeMap<Key, TaskInstanceId>>,
    queued: HashMap<TaskInstanceId, (String, Key)>,
    workers: Vec<WorkerSlots>,
    seq: u64,
}

impl Dispatcher {
    pub fn new(endpoints: Vec<WorkerEndpoint>) -> Dispatcher {
        let workers = endpoints
            .into_iter()
            .map(|endpoint| {
                let uri = format!("http://{}", endpoint.address);
                let channel = tonic::transport::Endpoint::from_shared(uri)
                    .expect("a worker address is a valid URI")
                    .connect_timeout(Duration::from_secs(5))
                    .tcp_nodelay(true)
                    .connect_lazy();
                WorkerSlots {
                    endpoint,
                    client: WorkerClient::new(channel),
                    used: 0,
                    resting_until: None,
                }
            })
            .collect();
        Dispatcher {
            workers,
            ..Default::default()
        }
    }

    /// Queues a ready attempt.
    pub fn enqueue(
        &mut self,
        task: TaskInstanceId,
        group: &str,
        instance: Priority,
        own: Priority,
    ) {
        self.seq += 1;
        let key = Key {
            instance_priority: Reverse(instance),
            task_priority: Reverse(own),
            seq: self.seq,
        };
        self.queues
            .entry(group.to_string())
            .or_default()
            .insert(key, task);
        self.queued.insert(task, (group.to_string(), key));
    }

    /// Takes a queued attempt out (it was killed before it ran).
    pub fn dequeue(&mut self, task: TaskInstanceId) -> bool {
        match self.queued.remove(&task) {
            Some((group, key)) => {
                if let Some(q) = self.queues.get_mut(&group) {
                    q.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    /// The best queued attempt that a worker of its group has a free slot for, with the
    /// chosen worker (the least used one), whose slot is now taken.
    pub fn next(&mut self) -> Option<(TaskInstanceId, usize)> {
        let now = Instant::now();
        let mut best: Option<(Key, String, usize)> = None;
        for (group, queue) in &self.queues {
            let Some((key, _)) = queue.first_key_value() else {
                continue;
            };
            if best.as_ref().is_some_and(|(k, _, _)| k < key) {
                continue;
            }
            let worker = self
                .workers
                .iter()
                .enumerate()
                .filter(|(_, w)| {
                    &w.endpoint.group == group
                        && w.used < w.endpoint.slots
                        && w.resting_until.is_none_or(|t| t <= now)
                })
                .min_by_key(|(_, w)| w.used)
                .map(|(i, _)| i);
            if let Some(w) = worker {
                best = Some((*key, group.clone(), w));
            }
        }
        let (key, group, worker) = best?;
        let task = self.queues.get_mut(&group)?.remove(&key)?;
        self.queued.remove(&task);
        self.workers[worker].used += 1;
        Some((task, worker))
    }

    /// Marks a slot of the worker with this id as used (an attempt found in flight on recovery).
    pub fn occupy(&mut self, worker_id: &str) {
        if let Some(w) = self.workers.iter_mut().find(|w| w.endpoint.id == worker_id) {
            w.used += 1;
        }
    }

    /// Frees a slot of the worker with this id.
    pub fn release(&mut self, worker_id: &str) {
        if let Some(w) = self.workers.iter_mut().find(|w| w.endpoint.id == worker_id) {
            w.used = w.used.saturating_sub(1);
        }
    }

    /// Leaves a worker alone for a while after a failed send.
    pub fn rest(&mut self, worker_id: &str, pause: Duration) {
        if let Some(w) = self.workers.iter_mut().find(|w| w.endpoint.id == worker_id) {
            w.resting_until = Some(Instant::now() + pause);
        }
    }

    /// The earliest time a resting worker with queued work becomes usable again.
    pub fn next_wake(&self) -> Option<Instant> {
        self.workers
            .iter()
            .filter(|w| {
                self.queues
                    .get(&w.endpoint.group)
                    .is_some_and(|q| !q.is_empty())
            })
            .filter_map(|w| w.resting_until)
            .min()
    }

    pub fn worker(&self, index: usize) -> &WorkerSlots {
        &self.workers[index]
    }

    pub fn worker_by_id(&self, id: &str) -> Option<&WorkerSlots> {
        self.workers.iter().find(|w| w.endpoint.id == id)
    }

    /// Attempts on workers (dispatched or running) by this master.
    pub fn in_flight(&self) -> usize {
        self.workers.iter().map(|w| w.used).sum()
    }

    /// Forgets every queue and slot (before rebuilding from the store).
    pub fn clear(&mut self) {
        self.queues.clear();
        self.queued.clear();
        for w in &mut self.workers {
            w.used = 0;
            w.resting_until = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: &str, group: &str, slots: usize) -> WorkerEndpoint {
        WorkerEndpoint {
            id: id.into(),
            address: "127.0.0.1:1".into(),
            group: group.into(),
            slots,
        }
    }

    #[tokio::test]
    async fn priority_then_task_priority_then_order() {
        let mut d = Dispatcher::new(vec![endpoint("w", "default", 10)]);
        let t = TaskInstanceId;
        d.enqueue(t(1), "default", Priority::Medium, Priority::Medium);
        d.enqueue(t(2), "default", Priority::Medium, Priority::High);
        d.enqueue(t(3), "default", Priority::High, Priority::Lowest);
        d.enqueue(t(4), "default", Priority::Medium, Priority::Medium);
        let order: Vec<_> = std::iter::from_fn(|| d.next().map(|(t, _)| t.0)).collect();
        assert_eq!(order, vec![3, 2, 1, 4]);
    }

    #[tokio::test]
    async fn slots_and_groups_limit_dispatch() {
        let mut d = Dispatcher::new(vec![
            endpoint("a", "default", 1),
            endpoint("b", "default", 1),
        ]);
        d.enqueue(
            TaskInstanceId(1),
            "gpu",
            Priority::Highest,
            Priority::Highest,
        );
        for i in 2..6 {
            d.enqueue(
                TaskInstanceId(i),
                "default",
                Priority::Medium,
                Priority::Medium,
            );
        }
        let (t1, w1) = d.next().unwrap();
        let (t2, w2) = d.next().unwrap();
        assert_eq!((t1.0, t2.0), (2, 3));
        assert_ne!(w1, w2, "the least used worker is chosen");
        assert!(d.next().is_none(), "no free slot, and no gpu worker");
        d.release("a");
        assert_eq!(d.next().unwrap().0 .0, 4);
        assert!(d.dequeue(TaskInstanceId(5)));
        d.release("b");
        assert!(
            d.next().is_none(),
            "task 5 was dequeued; task 1 has no worker"
        );
        assert_eq!(d.in_flight(), 1);
    }
}
