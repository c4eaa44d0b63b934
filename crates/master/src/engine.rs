//! The engine: one task owning every running instance of this master. See the crate docs for
//! the tick discipline (decide, commit, then act).

use crate::attempts::Facts;
use crate::dispatch::Dispatcher;
use crate::events::RunEvent;
use crate::specs::{SpecCache, Version};
use crate::{ClusterView, MasterConfig, Msg, WorkerEndpoint};
use baton_core::attempt::{DispatchFailure, Refusal, Rules};
use baton_core::dag::TaskIndex;
use baton_core::params;
use baton_core::run::{InstanceRun, Step};
use baton_core::{Priority, TaskInstanceId, TaskState, WorkflowInstanceId, WorkflowState};
use baton_proto::{AttemptId, DispatchRequest, Redirect, TaskEvent};
use baton_store::{AttemptRecord, EngineStore, EngineTx, StoreError, TaskInstanceRecord};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

/// The current attempt of one task instance: the engine keeps the row as it is in the store.
pub(crate) type Slot = TaskInstanceRecord;

/// Rows changed in this tick, written in bulk just before the commit.
#[derive(Default)]
pub(crate) struct Writes {
    tasks: HashMap<TaskInstanceId, TaskInstanceRecord>,
    attempts: Vec<AttemptRecord>,
    /// Lifecycle events, recorded with the changes they describe.
    pub(crate) events: Vec<baton_store::NewEvent>,
}

impl Writes {
    /// Marks the row as changed (its state now is what will be written).
    pub fn touch(&mut self, row: &TaskInstanceRecord) {
        self.tasks.insert(row.id, row.clone());
    }

    /// Ends the row's current attempt: the row takes `end`, the history gets the attempt.
    pub fn end_attempt(&mut self, row: &mut TaskInstanceRecord, end: End<'_>) {
        row.state = end.state;
        if end.worker.is_some() {
            row.worker = end.worker.map(str::to_string);
        }
        row.started_at = end.started_at.or(row.started_at);
        row.ended_at = Some(end.ended_at);
        row.exit_code = end.exit_code;
        row.message = end.message.map(str::to_string);
        row.retries_used = end.retries_used;
        row.next_retry_at = end.next_retry_at;
        self.attempts.push(AttemptRecord {
            task_instance_id: row.id,
            attempt: row.attempt,
            state: end.attempt_state,
            worker: row.worker.clone(),
            started_at: row.started_at,
            ended_at: end.ended_at,
            exit_code: end.exit_code,
            message: row.message.clone(),
        });
        self.touch(row);
    }

    /// Queues attempt number `attempt` of the row.
    pub fn requeue(&mut self, row: &mut TaskInstanceRecord, attempt: i64) {
        row.state = TaskState::Submitted;
        row.attempt = attempt;
        row.worker = None;
        row.started_at = None;
        row.ended_at = None;
        row.exit_code = None;
        row.message = None;
        row.next_retry_at = None;
        self.touch(row);
    }

    /// Writes everything; rows first, since attempts refer to them.
    pub async fn flush(&mut self, tx: &mut dyn EngineTx) -> Result<(), StoreError> {
        let rows: Vec<TaskInstanceRecord> = self.tasks.drain().map(|(_, r)| r).collect();
        tx.upsert_tasks(&rows).await?;
        tx.insert_attempts(&self.attempts).await?;
        self.attempts.clear();
        tx.insert_events(&self.events).await?;
        self.events.clear();
        Ok(())
    }

    pub fn clear(&mut self) {
        self.tasks.clear();
        self.attempts.clear();
        self.events.clear();
    }

    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.attempts.is_empty() && self.events.is_empty()
    }

    /// The instances whose task rows are to be written.
    pub fn instances(&self) -> HashSet<WorkflowInstanceId> {
        self.tasks
            .values()
            .map(|r| r.workflow_instance_id)
            .chain(self.events.iter().filter_map(|e| e.workflow_instance_id))
            .collect()
    }
}

/// How an attempt ended.
pub(crate) struct End<'a> {
    /// The task instance's state after it (retry_wait when another attempt follows).
    pub state: TaskState,
    /// The attempt's own outcome, for the history.
    pub attempt_state: TaskState,
    pub worker: Option<&'a str>,
    pub started_at: Option<i64>,
    pub ended_at: i64,
    pub exit_code: Option<i64>,
    pub message: Option<&'a str>,
    pub retries_used: i64,
    pub next_retry_at: Option<i64>,
}

/// A workflow instance this master runs.
pub(crate) struct Inst {
    pub name: String,
    pub version: Version,
    pub params: BTreeMap<String, String>,
    pub priority: Priority,
    pub state: WorkflowState,
    /// The epoch under which this master owns the instance.
    pub epoch: i64,
    /// The time it stands for (µs): `$[...]` and the business date are relative to it.
    pub schedule_time: i64,
    /// When it started (µs).
    pub started_at: i64,
    /// The schedule whose fire started it.
    pub schedule_id: Option<baton_core::WorkflowId>,
    /// For a child instance of a sub_workflow task, its parent (told when it ends).
    pub parent: Option<WorkflowInstanceId>,
    /// What its start gave in place of the workflow's values (failure strategy, priority,
    /// worker group); the strategy is in `run`, the priority in `priority`.
    pub overrides: baton_core::start::StartOverrides,
    pub run: InstanceRun,
    /// The rows of its tasks' current attempts: one per DAG task (by task index), then one
    /// per item of each mapped task that has started (see [`crate::mapping`]).
    pub slots: Vec<Option<Slot>>,
    /// The mapped tasks that have started, by task index.
    pub maps: BTreeMap<TaskIndex, crate::mapping::Mapped>,
    /// For each item slot (from `version.dag.len()` on), its mapped task.
    pub item_tasks: Vec<TaskIndex>,
}

impl Inst {
    /// The output params the task at `index` sees: those its upstream tasks (direct or not)
    /// set, a later-ending task's value winning.
    pub(crate) fn upstream_outputs(&self, index: TaskIndex) -> BTreeMap<String, String> {
        let dag = &self.version.dag;
        let mut seen = vec![false; dag.len()];
        let mut stack: Vec<TaskIndex> = dag.predecessors(index).to_vec();
        let mut found: Vec<(i64, &BTreeMap<String, String>)> = Vec::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            if let Some(slot) = &self.slots[i] {
                if !slot.outputs.is_empty() {
                    found.push((slot.ended_at.unwrap_or(0), &slot.outputs));
                }
            }
            stack.extend_from_slice(dag.predecessors(i));
        }
        found.sort_by_key(|(at, _)| *at);
        let mut merged = BTreeMap::new();
        for (_, outputs) in found {
            merged.extend(outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        merged
    }

    /// Calls `resolve` with what the task at `index` resolves against in its current
    /// attempt (params, upstream outputs, system context); `None` when it has no row.
    pub(crate) fn in_scope<R>(
        &self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        resolve: impl FnOnce(params::RunScope<'_>) -> R,
    ) -> Option<R> {
        let slot = self.slots[index].as_ref()?;
        let task = self.task_of(index);
        let upstream = self.upstream_outputs(task);
        let ctx = self.context(id, slot);
        let workflow = &self.version.spec;
        Some(resolve(params::RunScope {
            workflow,
            task: &workflow.tasks[task],
            start: &self.params,
            upstream: &upstream,
            ctx: &ctx,
        }))
    }

    /// What the system params and time expressions of one attempt resolve against.
    pub(crate) fn context(&self, id: WorkflowInstanceId, slot: &Slot) -> params::SystemContext {
        let tz = self.version.spec.tz();
        let at = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .unwrap_or_default()
                .with_timezone(&tz)
        };
        params::SystemContext {
            schedule_time: at(self.schedule_time),
            start_time: at(self.started_at),
            workflow_name: self.name.clone(),
            workflow_instance_id: id,
            task_instance_id: slot.id,
            attempt: u32::try_from(slot.attempt).unwrap_or(u32::MAX),
        }
    }
}

/// The nodes of a run limited to `only`: the others count as succeeded.
pub(crate) fn outside_scope(dag: &baton_core::Dag, only: &[String]) -> Vec<baton_core::run::Node> {
    use baton_core::run::Node;
    (0..dag.len())
        .map(|t| {
            if only.iter().any(|n| n == dag.name(t)) {
                Node::Waiting
            } else {
                Node::Succeeded
            }
        })
        .collect()
}

/// The messages of one batch, sorted for the tick.
#[derive(Default)]
struct Gathered {
    /// Commands may be waiting.
    wake: bool,
    reports: Vec<Vec<TaskEvent>>,
    acks: Vec<oneshot::Sender<Vec<Redirect>>>,
    failed: Vec<(TaskInstanceId, i64, String, DispatchFailure)>,
    probed: Vec<crate::failover::Probed>,
}

/// What a tick decided to do once its transaction is committed.
#[derive(Default)]
pub(crate) struct Tick {
    pub dispatches: Vec<(usize, DispatchRequest)>,
    pub kills: Vec<(String, AttemptId)>,
    pub published: Vec<RunEvent>,
    pub more_commands: bool,
    /// Instances adopted from masters that left.
    pub adopted: usize,
    /// Attempts written off with their workers.
    pub failovers: usize,
    /// Attempts to ask their workers about, by worker address.
    pub probes: Vec<(String, Vec<AttemptId>)>,
    /// What the metrics count of this tick, recorded once it is committed.
    pub observed: Vec<crate::metrics::Observation>,
}

pub(crate) struct Engine {
    /// The store, behind the engine's seam (the SQL store; an in-memory one in unit tests).
    pub store: Arc<dyn EngineStore>,
    pub config: MasterConfig,
    pub specs: SpecCache,
    pub instances: HashMap<WorkflowInstanceId, Inst>,
    /// Active task instances (not yet final) → their instance and index.
    pub tasks: HashMap<TaskInstanceId, (WorkflowInstanceId, TaskIndex)>,
    pub dispatcher: Dispatcher,
    /// Due retries: (due, task, attempt).
    pub retries: BinaryHeap<Reverse<(i64, TaskInstanceId, i64)>>,
    /// Due checks of dependent tasks: (due, task, attempt).
    pub checks: BinaryHeap<Reverse<(i64, TaskInstanceId, i64)>>,
    /// Task instance ids reserved in the store and not used yet.
    ids: std::ops::Range<i64>,
    /// What this tick changed, written before its commit.
    pub writes: Writes,
    pub(crate) events: broadcast::Sender<RunEvent>,
    pub(crate) self_tx: mpsc::UnboundedSender<Msg>,
    shutdown: Option<(Instant, oneshot::Sender<()>)>,
    /// Live masters, once the registry has been heard from (cluster mode).
    pub masters: Option<HashSet<String>>,
    /// Whether this master's registry session is alive (always, standalone).
    pub(crate) session_alive: bool,
    /// A new cluster view arrived: look for orphaned instances and lost workers.
    view_changed: bool,
    /// The earliest fire due of any schedule (µs), for the timer.
    next_fire: Option<i64>,
    /// Since when this master's trigger has been taking work (for misfires).
    pub(crate) trigger: crate::trigger::TriggerClock,
    /// Workers to ask about the attempts this master believes they have (after an adoption,
    /// a restart of this master, or a new session of the worker).
    pub probe_workers: HashSet<String>,
    /// When each attempt on a worker was dispatched by this process (a probe must not race
    /// its own dispatch).
    pub dispatched_at: HashMap<TaskInstanceId, Instant>,
    /// When each queued attempt was queued (µs, the engine's clock), for the dispatch latency.
    pub queued_at: HashMap<TaskInstanceId, i64>,
    /// Lifecycle events learnt between ticks (a worker lost), recorded with the next tick.
    pub pending_events: Vec<baton_store::NewEvent>,
    /// Mapped tasks whose items changed where the engine could not act: stepped by `apply`.
    pub map_steps: Vec<(WorkflowInstanceId, TaskIndex)>,
    /// Broadcast tasks that became ready before this master heard which workers are live
    /// (a cluster master just started): they start once it has.
    pub(crate) broadcasts_waiting: Vec<(WorkflowInstanceId, TaskIndex)>,
}

const COMMAND_BATCH: i64 = 256;
const MESSAGE_BATCH: usize = 4096;
const ID_BLOCK: i64 = 1024;

impl Engine {
    pub fn new(
        store: Arc<dyn EngineStore>,
        config: MasterConfig,
        workers: Vec<WorkerEndpoint>,
        events: broadcast::Sender<RunEvent>,
        self_tx: mpsc::UnboundedSender<Msg>,
    ) -> Engine {
        let link = crate::dispatch::Link {
            timeout: config.dispatch_timeout,
            key: config.cluster_key.clone(),
            tls: config.cluster_tls.clone(),
        };
        let dispatcher = Dispatcher::new(workers, config.strategy, link);
        let cluster = config.cluster;
        config.metrics.set_session(!cluster);
        Engine {
            store,
            config,
            specs: SpecCache::default(),
            instances: HashMap::new(),
            tasks: HashMap::new(),
            dispatcher,
            retries: BinaryHeap::new(),
            checks: BinaryHeap::new(),
            ids: 0..0,
            writes: Writes::default(),
            events,
            self_tx,
            shutdown: None,
            masters: None,
            // In a cluster, nothing is taken until the registry knows us.
            session_alive: !cluster,
            view_changed: false,
            next_fire: None,
            trigger: Default::default(),
            probe_workers: HashSet::new(),
            dispatched_at: HashMap::new(),
            queued_at: HashMap::new(),
            pending_events: Vec::new(),
            map_steps: Vec::new(),
            broadcasts_waiting: Vec::new(),
        }
    }

    /// The time now (µs), from the configured clock.
    pub(crate) fn now(&self) -> i64 {
        self.config.clock.now_us()
    }

    /// Attempts on workers, per worker id (for the dispatcher's slot counts).
    fn in_flight(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (_, _, row) in self.on_workers() {
            if let Some(w) = &row.worker {
                *counts.entry(w.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The rows of the attempts dispatched to or running on a worker, with their instance
    /// and slot.
    fn on_workers(&self) -> impl Iterator<Item = (&Inst, usize, &Slot)> {
        self.instances.values().flat_map(|inst| {
            inst.slots
                .iter()
                .enumerate()
                .filter_map(move |(slot, row)| {
                    let row = row.as_ref()?;
                    matches!(row.state, TaskState::Dispatched | TaskState::Running)
                        .then_some((inst, slot, row))
                })
        })
    }

    pub(crate) fn set_view(&mut self, view: ClusterView) {
        let lost: Vec<(String, String)> = self
            .dispatcher
            .sessions()
            .into_iter()
            .filter(|(id, session)| {
                !session.is_empty()
                    && !view
                        .workers
                        .iter()
                        .any(|w| &w.id == id && &w.session == session)
            })
            .collect();
        self.workers_lost(lost);
        let counts = self.in_flight();
        let renewed = self.dispatcher.set_workers(view.workers, &counts);
        self.probe_workers.extend(renewed);
        self.masters = Some(view.masters.into_iter().collect());
        self.view_changed = true;
    }

    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut poll = tokio::time::interval(self.config.command_poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut take_commands = true;
        loop {
            let far = Instant::now() + Duration::from_secs(3600);
            let wake_at = self.wake_at().unwrap_or(far);
            let deadline = self.shutdown.as_ref().map(|(d, _)| *d).unwrap_or(far);
            let mut batch = Vec::new();
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some(m) => batch.push(m),
                    None => return,
                },
                _ = poll.tick() => take_commands = true,
                _ = tokio::time::sleep_until(wake_at) => {
                    if self.next_fire.is_some_and(|due| due <= self.now()) {
                        take_commands = true;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {}
            }
            while batch.len() < MESSAGE_BATCH {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let mut gathered = self.gather(batch).await;
            take_commands |= std::mem::take(&mut gathered.wake);
            take_commands = self.tick_and_act(take_commands, gathered).await;
            if self.shutdown_done() {
                return;
            }
        }
    }

    /// When the engine must look again without being told: the earliest due retry,
    /// dependent check, resting worker or schedule fire.
    fn wake_at(&self) -> Option<Instant> {
        let now = self.now();
        let at = |due: i64| {
            let wait = u64::try_from(due.saturating_sub(now)).unwrap_or(0);
            Instant::now() + Duration::from_micros(wait)
        };
        let next_retry = self.retries.peek().map(|Reverse((due, _, _))| at(*due));
        let next_check = self.checks.peek().map(|Reverse((due, _, _))| at(*due));
        let next_fire = self.next_fire.map(at);
        let resting = self.dispatcher.next_wake().map(Instant::from_std);
        [next_retry, next_check, resting, next_fire]
            .into_iter()
            .flatten()
            .min()
    }

    /// Sorts a batch of messages into what the next tick takes.
    async fn gather(&mut self, batch: Vec<Msg>) -> Gathered {
        let mut g = Gathered::default();
        for m in batch {
            match m {
                Msg::Wake => g.wake = true,
                Msg::Report(events, ack) => {
                    g.reports.push(events);
                    g.acks.push(ack);
                }
                Msg::View(view) => self.set_view(view),
                Msg::Probed { worker, answers } => g.probed.push((worker, answers)),
                Msg::Session(alive) => self.session_changed(alive).await,
                Msg::DispatchFailed {
                    task,
                    attempt,
                    worker,
                    failure,
                } => g.failed.push((task, attempt, worker, failure)),
                Msg::Shutdown { grace, done } => {
                    self.shutdown = Some((Instant::now() + grace, done));
                }
            }
        }
        g
    }

    /// This master's registry session was lost or came back.
    async fn session_changed(&mut self, alive: bool) {
        if self.session_alive && !alive {
            // Others consider us dead and adopt our instances: let go of everything;
            // nothing we would write now would be accepted.
            tracing::warn!("registry session lost: dropping every instance");
            self.forget_all();
        }
        if !self.session_alive && alive {
            tracing::info!("registry session back: resuming what is still ours");
            self.rebuild().await;
        }
        self.session_alive = alive;
        self.config.metrics.set_session(alive);
    }

    /// Runs one tick on what was gathered, then acts on what it decided (or rebuilds from
    /// the store when the store refused it). Returns whether commands are still waiting.
    async fn tick_and_act(&mut self, take_commands: bool, g: Gathered) -> bool {
        let mut tick = Tick::default();
        let take = take_commands && self.shutdown.is_none() && self.session_alive;
        let more = match self
            .tick(take, g.reports, g.failed, g.probed, &mut tick)
            .await
        {
            Ok(redirects) => {
                if take {
                    // The schedules changed: when is the next fire due?
                    // A fire still due now waits (queued): the poll looks again, no spin.
                    let now = self.now();
                    self.next_fire = self
                        .store
                        .next_fire_due()
                        .await
                        .unwrap_or(None)
                        .filter(|due| *due > now);
                }
                for (ack, redirect) in g.acks.into_iter().zip(redirects) {
                    let _ = ack.send(redirect);
                }
                let more = tick.more_commands;
                self.act(tick);
                more
            }
            Err(e) => {
                // The store refused this tick: nothing of it happened. Workers re-send
                // their reports (not acknowledged); rebuild the state from the store.
                tracing::error!("engine tick failed, rebuilding from the store: {e}");
                drop(g.acks);
                self.rebuild().await;
                true
            }
        };
        self.config.metrics.set_gauges(&self.gauges());
        more
    }

    /// What the metrics' gauges show of this engine now.
    pub(crate) fn gauges(&self) -> crate::metrics::Gauges {
        crate::metrics::Gauges {
            instances: self.instances.len(),
            attempts: self.dispatcher.in_flight(),
            ready: self.dispatcher.depths(),
            free: self.dispatcher.free_slots(),
        }
    }

    /// During a shutdown: true once running attempts have ended (or the grace is over).
    fn shutdown_done(&mut self) -> bool {
        let Some((deadline, _)) = &self.shutdown else {
            return false;
        };
        // In a cluster, running attempts report to whoever adopts the instances. A service
        // never ends by itself: it is not waited for (the next start relaunches it).
        let drained = self.config.cluster || self.awaited_attempts() == 0;
        if !drained && Instant::now() < *deadline {
            return false;
        }
        if let Some((_, done)) = self.shutdown.take() {
            let _ = done.send(());
        }
        true
    }

    /// The attempts on workers that a graceful stop waits for: all but those of services.
    fn awaited_attempts(&self) -> usize {
        self.on_workers()
            .filter(|(inst, slot, _)| {
                !matches!(inst.spec_of(*slot).kind, baton_core::TaskKind::Service(_))
            })
            .count()
    }

    /// Drops every instance from memory (the store keeps them).
    fn forget_all(&mut self) {
        self.dispatched_at.clear();
        self.queued_at.clear();
        self.probe_workers.clear();
        self.instances.clear();
        self.tasks.clear();
        self.retries.clear();
        self.checks.clear();
        self.dispatcher.clear();
        self.writes.clear();
        self.map_steps.clear();
        self.broadcasts_waiting.clear();
    }

    /// Retries recovery until the store answers again.
    async fn rebuild(&mut self) {
        let mut pause = Duration::from_millis(100);
        loop {
            self.forget_all();
            match self.recover_with(false).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!("cannot rebuild the engine state yet: {e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// One tick; returns, per report, the redirects of the events it did not take.
    pub(crate) async fn tick(
        &mut self,
        take_commands: bool,
        reports: Vec<Vec<TaskEvent>>,
        failed: Vec<(TaskInstanceId, i64, String, DispatchFailure)>,
        probed: Vec<crate::failover::Probed>,
        t: &mut Tick,
    ) -> Result<Vec<Vec<Redirect>>, StoreError> {
        self.writes.clear();
        // Kept for the next tick if this one fails: they describe what happened anyway.
        self.writes
            .events
            .extend(self.pending_events.iter().cloned());
        let mut tx = self.store.begin().await?;
        match self
            .tick_in(&mut *tx, take_commands, reports, failed, probed, t)
            .await
        {
            Ok(redirects) => {
                tx.commit().await?;
                self.pending_events.clear();
                Ok(redirects)
            }
            Err(e) => {
                // Roll back now: a dropped transaction keeps its row locks until its pooled
                // connection is used again, and other masters (or our rebuild) would wait.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn tick_in(
        &mut self,
        tx: &mut dyn EngineTx,
        take_commands: bool,
        reports: Vec<Vec<TaskEvent>>,
        failed: Vec<(TaskInstanceId, i64, String, DispatchFailure)>,
        probed: Vec<crate::failover::Probed>,
        t: &mut Tick,
    ) -> Result<Vec<Vec<Redirect>>, StoreError> {
        if self.view_changed && self.session_alive {
            self.view_changed = false;
            self.adopt_orphans(tx, t).await?;
            self.fail_over_lost_workers(tx, t).await?;
        }
        self.start_waiting_broadcasts(tx, t).await?;
        for answer in probed {
            self.probed(tx, answer, t).await?;
        }
        self.collect_probes(t);
        if take_commands {
            self.fire_due(tx, t).await?;
            self.feed_backfills(tx, t).await?;
            let commands = tx.take_commands(&self.config.id, COMMAND_BATCH).await?;
            t.more_commands = commands.len() as i64 == COMMAND_BATCH;
            for c in commands {
                self.command(tx, c, t).await?;
            }
        }
        let mut redirects = Vec::with_capacity(reports.len());
        for events in reports {
            let mut theirs: Vec<Redirect> = Vec::new();
            for event in events {
                if let Some(r) = self.report(tx, event, t).await? {
                    if !theirs
                        .iter()
                        .any(|x| x.workflow_instance_id == r.workflow_instance_id)
                    {
                        theirs.push(r);
                    }
                }
            }
            redirects.push(theirs);
        }
        for (task, attempt, worker, failure) in failed {
            for (id, steps) in self.dispatch_failed(task, attempt, &worker, &failure, t) {
                self.apply(tx, id, steps, t).await?;
            }
        }
        for (id, steps) in self.due_retries(t) {
            self.apply(tx, id, steps, t).await?;
        }
        self.due_checks(tx, t).await?;
        self.step_maps(tx, t).await?;
        if self.shutdown.is_none() && self.session_alive {
            self.dispatch(tx, t).await?;
        }
        self.verify_leases(tx).await?;
        self.writes.flush(tx).await?;
        Ok(redirects)
    }

    /// Before writing task rows: every instance they belong to must still be ours (and stays
    /// ours until the commit). Otherwise the whole tick is refused and the engine rebuilds.
    async fn verify_leases(&mut self, tx: &mut dyn EngineTx) -> Result<(), StoreError> {
        if !self.config.cluster || self.writes.is_empty() {
            return Ok(());
        }
        let mut leases: Vec<(WorkflowInstanceId, i64)> = self
            .writes
            .instances()
            .into_iter()
            .filter_map(|id| self.instances.get(&id).map(|inst| (id, inst.epoch)))
            .collect();
        leases.sort();
        let lost = tx.verify_leases(&self.config.id, &leases).await?;
        match lost.first() {
            Some(id) => Err(StoreError::Fenced(*id)),
            None => Ok(()),
        }
    }

    /// A new task instance id, from the block reserved in the store.
    pub(crate) async fn next_task_id(
        &mut self,
        tx: &mut dyn EngineTx,
    ) -> Result<TaskInstanceId, StoreError> {
        if self.ids.is_empty() {
            self.ids = tx.reserve_task_ids(ID_BLOCK).await?;
        }
        let id = self.ids.start;
        self.ids.start += 1;
        Ok(TaskInstanceId(id))
    }

    /// Takes charge of an instance (new, or rebuilt from the store) and starts or resumes its run.
    pub(crate) async fn resume(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        inst: Inst,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let inst = self.instances.entry(id).insert_entry(inst).into_mut();
        let steps = inst.run.start();
        self.apply(tx, id, steps, t).await
    }

    /// A dispatch did not arrive: the attempt rules decide (a refused one is queued again as
    /// it is; an unreachable worker may have it after all, so it is written off and a new
    /// attempt queued; one the worker cannot run fails). Returns the steps that follow.
    fn dispatch_failed(
        &mut self,
        task: TaskInstanceId,
        attempt: i64,
        worker: &str,
        failure: &DispatchFailure,
        t: &mut Tick,
    ) -> Vec<(WorkflowInstanceId, Vec<Step>)> {
        self.dispatched_at.remove(&task);
        self.dispatcher.release(worker);
        self.dispatcher.rest(worker, Duration::from_millis(200));
        let Some((id, index)) = self.current(task, attempt, TaskState::Dispatched) else {
            return Vec::new();
        };
        let reason = match failure {
            DispatchFailure::Refused {
                refusal: Refusal::Unrunnable,
                reason,
            } => format!("worker {worker} cannot run this task: {reason}"),
            DispatchFailure::Refused { reason, .. } => format!("refused: {reason}"),
            DispatchFailure::Unreachable(why) => format!("unreachable: {why}"),
        };
        tracing::warn!("dispatch of task instance {task} attempt {attempt} to {worker}: {reason}");
        let refusal = crate::metrics::RefusalReason::of(failure);
        t.observed
            .push(crate::metrics::Observation::Refusal(refusal));
        let Some(now) = self.attempt(id, index) else {
            return Vec::new();
        };
        let inst = &self.instances[&id];
        let rules = Rules::of(inst.spec_of(index));
        let change = now.dispatch_failed(failure, &rules, inst.run.is_ending(), self.now());
        let facts = Facts {
            worker: Some(worker),
            message: Some(&reason),
            ..Facts::default()
        };
        let steps = self.carry_out(id, index, change, facts, t);
        vec![(id, steps)]
    }

    /// Where a task instance is, if its current attempt is `attempt` and in `state` (a timer
    /// set for an attempt that has moved on since is stale).
    pub(crate) fn current(
        &self,
        task: TaskInstanceId,
        attempt: i64,
        state: TaskState,
    ) -> Option<(WorkflowInstanceId, TaskIndex)> {
        let &(id, index) = self.tasks.get(&task)?;
        let slot = self.instances.get(&id)?.slots[index].as_ref()?;
        (slot.attempt == attempt && slot.state == state).then_some((id, index))
    }

    /// Queues the retries that are due; those of paused instances are held instead (the
    /// steps that follow are returned).
    fn due_retries(&mut self, t: &mut Tick) -> Vec<(WorkflowInstanceId, Vec<Step>)> {
        let mut held = Vec::new();
        let now = self.now();
        while let Some((task, attempt)) = pop_due(&mut self.retries, now) {
            let Some((id, index)) = self.current(task, attempt, TaskState::RetryWait) else {
                continue;
            };
            if self.instances[&id].run.is_paused() {
                held.push((id, self.hold(id, index)));
                continue;
            }
            let Some(waiting) = self.attempt(id, index) else {
                continue;
            };
            let steps = self.carry_out(id, index, waiting.retry_due(), Facts::default(), t);
            held.push((id, steps));
        }
        held
    }
}

/// Takes the earliest timer of `heap` (due, task instance, attempt) if it is due at `now`.
pub(crate) fn pop_due(
    heap: &mut BinaryHeap<Reverse<(i64, TaskInstanceId, i64)>>,
    now: i64,
) -> Option<(TaskInstanceId, i64)> {
    let Reverse((due, task, attempt)) = *heap.peek()?;
    if due > now {
        return None;
    }
    heap.pop();
    Some((task, attempt))
}
