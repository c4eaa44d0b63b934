//! The dispatcher's bookkeeping: one priority queue of ready task instances per target (a
//! worker group, or one worker for an attempt pinned to it: a broadcast item), ordered by
//! workflow instance priority, then task priority, then the order they became ready; and
//! the free slots of each worker. Choosing is pure; sending is the engine's job.

use crate::{Strategy, WorkerEndpoint};
use baton_core::{Priority, TaskInstanceId};
use baton_proto::auth::{ClusterKey, MemberChannel};
use baton_proto::worker_client::WorkerClient;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    instance_priority: Reverse<Priority>,
    task_priority: Reverse<Priority>,
    seq: u64,
}

/// Where a queued attempt may run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// Any worker of this group.
    Group(String),
    /// Only this worker, of this group (a broadcast item): never another, and the attempt
    /// fails if the worker is gone ([`Dispatcher::take_gone`]).
    Worker {
        /// The worker's id.
        id: String,
        /// Its group (for the queue depths by group).
        group: String,
    },
}

impl Target {
    /// The target of an attempt of `group`: `pinned`'s worker only when it is pinned (a
    /// broadcast item), else any worker of the group.
    pub(crate) fn of(group: &str, pinned: Option<&str>) -> Target {
        match pinned {
            Some(id) => Target::Worker {
                id: id.to_string(),
                group: group.to_string(),
            },
            None => Target::Group(group.to_string()),
        }
    }

    /// The worker group the target is in.
    fn group(&self) -> &str {
        match self {
            Target::Group(group) | Target::Worker { group, .. } => group,
        }
    }

    /// Whether `worker` may run what is queued for this target.
    fn takes(&self, worker: &WorkerEndpoint) -> bool {
        match self {
            Target::Group(group) => &worker.group == group,
            Target::Worker { id, .. } => &worker.id == id,
        }
    }
}

/// A worker and how many of its slots this master uses.
pub(crate) struct WorkerSlots {
    pub endpoint: WorkerEndpoint,
    pub client: WorkerClient<MemberChannel>,
    pub used: usize,
    /// After a failed send, the worker is left alone until then.
    pub resting_until: Option<Instant>,
}

pub(crate) struct Dispatcher {
    queues: HashMap<Target, BTreeMap<Key, TaskInstanceId>>,
    queued: HashMap<TaskInstanceId, (Target, Key)>,
    workers: Vec<WorkerSlots>,
    seq: u64,
    strategy: Strategy,
    link: Link,
    /// Round-robin position per group.
    turn: HashMap<String, usize>,
}

/// How the master's calls reach workers.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// Longest wait to connect, and for an answer.
    pub timeout: Duration,
    /// Proves the calls come from a member.
    pub key: ClusterKey,
    /// The cluster's mutual TLS, if it has it.
    pub tls: Option<baton_proto::tls::ClusterTls>,
}

/// Why `address` is not a member's `host:port` (`None`: it is one). A registry entry is only
/// data: a bad one must cost its member its work, never the master its engine.
pub(crate) fn bad_address(address: &str) -> Option<String> {
    let uri: tonic::codegen::http::Uri = match format!("http://{address}").parse() {
        Ok(uri) => uri,
        Err(e) => return Some(format!("`{address}` is not host:port ({e})")),
    };
    let plain = uri.host().is_some_and(|h| !h.is_empty())
        && uri.port_u16().is_some()
        && uri.path() == "/"
        && uri.query().is_none()
        && !address.contains(['/', '@', '?', '#']);
    (!plain).then(|| format!("`{address}` is not host:port"))
}

fn client(address: &str, link: &Link) -> Option<WorkerClient<MemberChannel>> {
    if let Some(why) = bad_address(address) {
        tracing::warn!("worker address refused: {why}");
        return None;
    }
    let endpoint = match baton_proto::tls::endpoint(address, link.tls.as_ref()) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("worker {address}: {e}");
            return None;
        }
    };
    let channel = endpoint
        .connect_timeout(link.timeout)
        .timeout(link.timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Some(baton_proto::sizes::worker_client(channel, link.key.clone()))
}

impl Dispatcher {
    pub fn new(endpoints: Vec<WorkerEndpoint>, strategy: Strategy, link: Link) -> Dispatcher {
        let mut d = Dispatcher {
            queues: HashMap::new(),
            queued: HashMap::new(),
            workers: Vec::new(),
            seq: 0,
            strategy,
            link,
            turn: HashMap::new(),
        };
        d.set_workers(endpoints, &HashMap::new());
        d
    }

    /// Replaces the worker list (from the registry). `in_flight` counts, per worker id, the
    /// attempts this master has on it; clients of known workers are kept. Returns the workers
    /// whose session changed (they restarted, or were cut off and came back).
    pub fn set_workers(
        &mut self,
        endpoints: Vec<WorkerEndpoint>,
        in_flight: &HashMap<String, usize>,
    ) -> Vec<String> {
        let mut old: HashMap<String, WorkerSlots> = self
            .workers
            .drain(..)
            .map(|w| (w.endpoint.id.clone(), w))
            .collect();
        let mut renewed = Vec::new();
        for endpoint in endpoints {
            if let Some(w) = old.get(&endpoint.id) {
                if !w.endpoint.session.is_empty() && w.endpoint.session != endpoint.session {
                    renewed.push(endpoint.id.clone());
                }
            }
            let used = in_flight.get(&endpoint.id).copied().unwrap_or(0);
            let slots = match old.remove(&endpoint.id) {
                Some(mut w) if w.endpoint.address == endpoint.address => {
                    w.endpoint = endpoint;
                    w.used = used;
                    w
                }
                _ => match client(&endpoint.address, &self.link) {
                    Some(client) => WorkerSlots {
                        client,
                        endpoint,
                        used,
                        resting_until: None,
                    },
                    None => continue,
                },
            };
            self.workers.push(slots);
        }
        renewed
    }

    /// The known workers and their registry sessions.
    pub fn sessions(&self) -> Vec<(String, String)> {
        self.workers
            .iter()
            .map(|w| (w.endpoint.id.clone(), w.endpoint.session.clone()))
            .collect()
    }

    /// A client for any worker address (probes may go to workers not in the list yet);
    /// `None` for an address that is not `host:port`.
    pub fn client_for(&self, address: &str) -> Option<WorkerClient<MemberChannel>> {
        match self.workers.iter().find(|w| w.endpoint.address == address) {
            Some(w) => Some(w.client.clone()),
            None => client(address, &self.link),
        }
    }

    /// True if a worker of this id is in the list.
    pub fn is_live(&self, worker_id: &str) -> bool {
        self.workers.iter().any(|w| w.endpoint.id == worker_id)
    }

    /// The live workers, as `(id, group)`: those a broadcast task runs on.
    pub fn live(&self) -> impl Iterator<Item = (&str, &str)> {
        self.workers
            .iter()
            .map(|w| (w.endpoint.id.as_str(), w.endpoint.group.as_str()))
    }

    /// Groups with queued attempts and no worker at all.
    pub fn starved_groups(&self) -> Vec<String> {
        self.queues
            .iter()
            .filter_map(|(target, q)| match target {
                Target::Group(g) if !q.is_empty() => Some(g),
                Target::Group(_) | Target::Worker { .. } => None,
            })
            .filter(|g| !self.workers.iter().any(|w| &w.endpoint.group == *g))
            .cloned()
            .collect()
    }

    /// The queued attempts of a group (not those pinned to one of its workers).
    pub fn queued_in(&self, group: &str) -> Vec<TaskInstanceId> {
        self.queues
            .get(&Target::Group(group.to_string()))
            .map(|q| q.values().copied().collect())
            .unwrap_or_default()
    }

    /// Takes out the queued attempts pinned to a worker that is no longer in the list, with
    /// that worker's id: they can run nowhere else, so the engine fails them.
    pub fn take_gone(&mut self) -> Vec<(TaskInstanceId, String)> {
        let gone: Vec<Target> = self
            .queues
            .iter()
            .filter(|(target, _)| match target {
                // An empty queue of a gone worker goes too: nothing is kept for it.
                Target::Worker { id, .. } => !self.is_live(id),
                Target::Group(_) => false,
            })
            .map(|(target, _)| target.clone())
            .collect();
        let mut taken = Vec::new();
        for target in gone {
            let Some(queue) = self.queues.remove(&target) else {
                continue;
            };
            let Target::Worker { id, .. } = target else {
                continue;
            };
            for task in queue.into_values() {
                self.queued.remove(&task);
                taken.push((task, id.clone()));
            }
        }
        taken
    }

    /// Whether the worker at `index` has a slot free for `target` now.
    fn free_for(&self, index: usize, target: &Target, now: Instant) -> bool {
        let w = &self.workers[index];
        target.takes(&w.endpoint)
            && w.used < w.endpoint.slots
            && w.resting_until.is_none_or(|t| t <= now)
    }

    /// Picks a worker for `target` with a free slot: the pinned one, or one of the group
    /// by the strategy.
    fn pick(&mut self, target: &Target, now: Instant) -> Option<usize> {
        let free: Vec<usize> = (0..self.workers.len())
            .filter(|i| self.free_for(*i, target, now))
            .collect();
        if free.is_empty() {
            return None;
        }
        let group = match target {
            Target::Worker { .. } => return free.first().copied(),
            Target::Group(group) => group,
        };
        Some(match self.strategy {
            Strategy::Random => free[fastrand::usize(..free.len())],
            Strategy::RoundRobin => {
                let turn = self.turn.entry(group.to_string()).or_insert(0);
                *turn = turn.wrapping_add(1);
                free[*turn % free.len()]
            }
            Strategy::LowestLoad => *free
                .iter()
                .min_by(|a, b| {
                    let score = |i: usize| {
                        let w = &self.workers[i];
                        let busy = w.used as f32 / w.endpoint.slots.max(1) as f32;
                        // This master's own count leads; the heartbeat's cpu and load (stale
                        // between heartbeats) only break near-ties, so a burst spreads.
                        busy + 0.1 * w.endpoint.cpu + 0.01 * w.endpoint.load1
                    };
                    score(**a).total_cmp(&score(**b))
                })
                .expect("not empty"),
        })
    }

    /// Queues a ready attempt for any worker of `group` (the tests' shorthand).
    #[cfg(test)]
    pub fn enqueue(
        &mut self,
        task: TaskInstanceId,
        group: &str,
        instance: Priority,
        own: Priority,
    ) {
        self.enqueue_for(task, Target::Group(group.to_string()), instance, own);
    }

    /// Queues a ready attempt for `target`.
    pub fn enqueue_for(
        &mut self,
        task: TaskInstanceId,
        target: Target,
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
            .entry(target.clone())
            .or_default()
            .insert(key, task);
        self.queued.insert(task, (target, key));
    }

    /// Takes a queued attempt out (it was killed before it ran).
    pub fn dequeue(&mut self, task: TaskInstanceId) -> bool {
        match self.queued.remove(&task) {
            Some((target, key)) => {
                if let Some(q) = self.queues.get_mut(&target) {
                    q.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    /// The best queued attempt that a worker of its target has a free slot for, with the
    /// chosen worker (its pinned one, or one of its group by the strategy), whose slot is
    /// now taken.
    pub fn next(&mut self) -> Option<(TaskInstanceId, usize)> {
        let now = Instant::now();
        let mut best: Option<(Key, &Target)> = None;
        for (target, queue) in &self.queues {
            let Some((key, _)) = queue.first_key_value() else {
                continue;
            };
            if best.as_ref().is_some_and(|(k, _)| k < key) {
                continue;
            }
            if (0..self.workers.len()).any(|i| self.free_for(i, target, now)) {
                best = Some((*key, target));
            }
        }
        let (key, target) = best.map(|(key, target)| (key, target.clone()))?;
        let worker = self.pick(&target, now)?;
        let task = self.queues.get_mut(&target)?.remove(&key)?;
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
                    .iter()
                    .any(|(target, q)| target.takes(&w.endpoint) && !q.is_empty())
            })
            .filter_map(|w| w.resting_until)
            // A rest already over needs no wake-up (and must not make the engine spin).
            .filter(|t| *t > Instant::now())
            .min()
    }

    pub fn worker(&self, index: usize) -> &WorkerSlots {
        &self.workers[index]
    }

    pub fn worker_by_id(&self, id: &str) -> Option<&WorkerSlots> {
        self.workers.iter().find(|w| w.endpoint.id == id)
    }

    /// Queued attempts per worker group, pinned ones in their worker's (for the metrics).
    pub fn depths(&self) -> BTreeMap<String, usize> {
        let mut depths = BTreeMap::new();
        for (target, q) in &self.queues {
            *depths.entry(target.group().to_string()).or_insert(0) += q.len();
        }
        depths
    }

    /// Free slots per worker group, as this master counts them (for the metrics).
    pub fn free_slots(&self) -> BTreeMap<String, usize> {
        let mut free = BTreeMap::new();
        for w in &self.workers {
            *free.entry(w.endpoint.group.clone()).or_insert(0) +=
                w.endpoint.slots.saturating_sub(w.used);
        }
        free
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

    pub(super) fn link() -> Link {
        Link {
            timeout: Duration::from_secs(1),
            key: ClusterKey::fresh(),
            tls: None,
        }
    }

    fn endpoint(id: &str, group: &str, slots: usize) -> WorkerEndpoint {
        WorkerEndpoint {
            id: id.into(),
            address: "127.0.0.1:1".into(),
            group: group.into(),
            slots,
            cpu: 0.0,
            load1: 0.0,
            session: String::new(),
        }
    }

    #[test]
    fn only_host_and_port_is_a_member_address() {
        for good in ["127.0.0.1:5690", "worker-3.example:80", "[::1]:5690"] {
            assert_eq!(bad_address(good), None, "{good}");
        }
        for bad in [
            "bad host",
            "",
            "host",
            "host:",
            "host:99999",
            "h:1/x",
            "u@h:1",
            "h:1?x",
            ":1",
        ] {
            assert!(bad_address(bad).is_some(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_worker_with_a_bad_address_is_left_out_not_a_crash() {
        let mut bad = endpoint("bad", "default", 1);
        bad.address = "bad host".into();
        let mut d = Dispatcher::new(
            vec![bad, endpoint("w", "default", 1)],
            Strategy::LowestLoad,
            link(),
        );
        assert!(!d.is_live("bad"));
        assert!(d.is_live("w"));
        assert!(d.client_for("also bad").is_none());
        d.enqueue(
            TaskInstanceId(1),
            "default",
            Priority::Medium,
            Priority::Medium,
        );
        assert!(d.next().is_some());
    }

    #[tokio::test]
    async fn priority_then_task_priority_then_order() {
        let mut d = Dispatcher::new(
            vec![endpoint("w", "default", 10)],
            Strategy::LowestLoad,
            link(),
        );
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
        let mut d = Dispatcher::new(
            vec![endpoint("a", "default", 1), endpoint("b", "default", 1)],
            Strategy::LowestLoad,
            link(),
        );
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

#[cfg(test)]
mod pinned_tests {
    use super::tests::link;
    use super::*;

    fn endpoint(id: &str, slots: usize) -> WorkerEndpoint {
        WorkerEndpoint {
            id: id.into(),
            address: format!("127.0.0.1:{}", 2000 + id.len()),
            group: "g".into(),
            slots,
            cpu: 0.0,
            load1: 0.0,
            session: String::new(),
        }
    }

    fn on(id: &str) -> Target {
        Target::Worker {
            id: id.into(),
            group: "g".into(),
        }
    }

    fn dispatcher(strategy: Strategy) -> Dispatcher {
        let workers = vec![endpoint("a", 2), endpoint("bb", 2), endpoint("ccc", 2)];
        Dispatcher::new(workers, strategy, link())
    }

    #[tokio::test]
    async fn a_pinned_attempt_goes_to_its_worker_only_whatever_the_strategy() {
        for strategy in [Strategy::Random, Strategy::RoundRobin, Strategy::LowestLoad] {
            let mut d = dispatcher(strategy);
            for i in 0..2 {
                d.enqueue_for(
                    TaskInstanceId(i),
                    on("bb"),
                    Priority::Medium,
                    Priority::Medium,
                );
            }
            for _ in 0..2 {
                let (_, w) = d.next().unwrap();
                assert_eq!(d.worker(w).endpoint.id, "bb");
            }
            d.enqueue_for(
                TaskInstanceId(9),
                on("bb"),
                Priority::Medium,
                Priority::Medium,
            );
            assert!(
                d.next().is_none(),
                "bb's slots are full; a and ccc are not for it"
            );
            d.release("bb");
            let (task, w) = d.next().unwrap();
            assert_eq!((task.0, d.worker(w).endpoint.id.as_str()), (9, "bb"));
        }
    }

    #[tokio::test]
    async fn pinned_and_group_attempts_keep_one_priority_order() {
        let mut d = dispatcher(Strategy::LowestLoad);
        let t = TaskInstanceId;
        d.enqueue(t(1), "g", Priority::Medium, Priority::Medium);
        d.enqueue_for(t(2), on("a"), Priority::High, Priority::Medium);
        d.enqueue_for(t(3), on("ccc"), Priority::Medium, Priority::Medium);
        d.enqueue(t(4), "g", Priority::Medium, Priority::Lowest);
        let order: Vec<i64> = std::iter::from_fn(|| d.next().map(|(t, _)| t.0)).collect();
        assert_eq!(order, vec![2, 1, 3, 4]);
        assert_eq!(d.depths()["g"], 0);
    }

    #[tokio::test]
    async fn a_pinned_attempt_whose_worker_is_gone_is_taken_out_to_fail() {
        let mut d = dispatcher(Strategy::LowestLoad);
        d.enqueue_for(
            TaskInstanceId(1),
            on("bb"),
            Priority::Medium,
            Priority::Medium,
        );
        d.enqueue_for(
            TaskInstanceId(2),
            on("a"),
            Priority::Medium,
            Priority::Medium,
        );
        d.enqueue(TaskInstanceId(3), "g", Priority::Medium, Priority::Medium);
        assert_eq!(d.depths()["g"], 3);
        assert!(d.take_gone().is_empty(), "every worker is live");
        d.set_workers(vec![endpoint("a", 2), endpoint("ccc", 2)], &HashMap::new());
        assert_eq!(d.take_gone(), vec![(TaskInstanceId(1), "bb".to_string())]);
        assert!(!d.dequeue(TaskInstanceId(1)), "taken out of the queue");
        let mut sent: Vec<i64> = std::iter::from_fn(|| d.next().map(|(t, _)| t.0)).collect();
        sent.sort_unstable();
        assert_eq!(sent, vec![2, 3], "the others still run");
        assert!(d.starved_groups().is_empty());
    }

    #[tokio::test]
    async fn a_resting_pinned_worker_wakes_the_engine_and_others_do_not_take_its_work() {
        let mut d = dispatcher(Strategy::LowestLoad);
        d.enqueue_for(
            TaskInstanceId(1),
            on("a"),
            Priority::Medium,
            Priority::Medium,
        );
        d.rest("a", Duration::from_secs(60));
        assert!(d.next().is_none(), "its worker rests; no other may run it");
        assert!(d.next_wake().is_some());
    }
}

#[cfg(test)]
mod strategy_tests {
    use super::tests::link;
    use super::*;

    fn endpoint(id: &str, slots: usize, cpu: f32) -> WorkerEndpoint {
        WorkerEndpoint {
            id: id.into(),
            address: format!("127.0.0.1:{}", 1000 + id.len()),
            group: "g".into(),
            slots,
            cpu,
            load1: 0.0,
            session: String::new(),
        }
    }

    fn picks(strategy: Strategy, workers: Vec<WorkerEndpoint>, n: usize) -> Vec<String> {
        let mut d = Dispatcher::new(workers, strategy, link());
        (0..n as i64)
            .map(|i| {
                d.enqueue(TaskInstanceId(i), "g", Priority::Medium, Priority::Medium);
                let (_, w) = d.next().unwrap();
                let id = d.worker(w).endpoint.id.clone();
                d.release(&id);
                id
            })
            .collect()
    }

    #[tokio::test]
    async fn round_robin_takes_turns() {
        let got = picks(
            Strategy::RoundRobin,
            vec![endpoint("a", 4, 0.0), endpoint("bb", 4, 0.0)],
            4,
        );
        assert_ne!(got[0], got[1]);
        assert_eq!(got[0], got[2]);
        assert_eq!(got[1], got[3]);
    }

    #[tokio::test]
    async fn lowest_load_prefers_the_idle_worker() {
        let got = picks(
            Strategy::LowestLoad,
            vec![endpoint("a", 4, 0.9), endpoint("bb", 4, 0.1)],
            3,
        );
        assert!(got.iter().all(|w| w == "bb"), "{got:?}");
    }

    #[tokio::test]
    async fn a_rest_that_is_over_asks_for_no_wake_up() {
        let mut d = Dispatcher::new(vec![endpoint("a", 4, 0.0)], Strategy::LowestLoad, link());
        d.enqueue(TaskInstanceId(1), "g", Priority::Medium, Priority::Medium);
        d.rest("a", Duration::from_millis(50));
        assert!(d.next_wake().is_some());
        assert!(d.next().is_none(), "resting");
        let until = Instant::now() + Duration::from_millis(60);
        while Instant::now() < until {
            std::thread::yield_now();
        }
        assert!(d.next_wake().is_none(), "the rest is over");
        assert!(d.next().is_some());
    }

    #[tokio::test]
    async fn lowest_load_spreads_a_burst() {
        let mut d = Dispatcher::new(
            vec![endpoint("a", 4, 0.3), endpoint("bb", 4, 0.1)],
            Strategy::LowestLoad,
            link(),
        );
        let mut on = HashMap::new();
        for i in 0..4 {
            d.enqueue(TaskInstanceId(i), "g", Priority::Medium, Priority::Medium);
            let (_, w) = d.next().unwrap();
            *on.entry(d.worker(w).endpoint.id.clone()).or_insert(0) += 1;
        }
        assert_eq!((on["a"], on["bb"]), (2, 2), "{on:?}");
    }

    #[tokio::test]
    async fn random_uses_every_worker_eventually() {
        let got = picks(
            Strategy::Random,
            vec![endpoint("a", 4, 0.0), endpoint("bb", 4, 0.0)],
            200,
        );
        assert!(got.iter().any(|w| w == "a") && got.iter().any(|w| w == "bb"));
    }

    #[tokio::test]
    async fn set_workers_keeps_counts_and_drops_the_gone() {
        let mut d = Dispatcher::new(vec![endpoint("a", 1, 0.0)], Strategy::LowestLoad, link());
        d.enqueue(TaskInstanceId(1), "g", Priority::Medium, Priority::Medium);
        assert!(d.next().is_some());
        d.set_workers(
            vec![endpoint("a", 1, 0.0)],
            &HashMap::from([("a".to_string(), 1)]),
        );
        d.enqueue(TaskInstanceId(2), "g", Priority::Medium, Priority::Medium);
        assert!(d.next().is_none(), "a's only slot is in use");
        d.set_workers(vec![], &HashMap::new());
        assert!(!d.is_live("a"));
        assert_eq!(d.starved_groups(), vec!["g".to_string()]);
    }
}
