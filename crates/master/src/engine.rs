//! The engine: one task owning every running instance of this master. See the crate docs for
//! the tick discipline (decide, commit, then act).

use crate::dispatch::Dispatcher;
use crate::events::RunEvent;
use crate::specs::{SpecCache, Version};
use crate::{ClusterView, MasterConfig, Msg, WorkerEndpoint};
use baton_core::dag::TaskIndex;
use baton_core::params;
use baton_core::run::{InstanceRun, Step};
use baton_core::{
    Priority, TaskInstanceId, TaskKind, TaskState, WorkflowInstanceId, WorkflowState,
};
use baton_proto::{
    dispatch_request, task_event, AttemptId, DispatchRequest, Outcome, Redirect, TaskEvent,
};
use baton_store::{
    now_us, AttemptRecord, Command, CommandKind, EngineTx, Lease, Store, StoreError,
    TaskInstanceRecord,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
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
    /// Alerting events (see `alerts`).
    events: Vec<baton_store::NewEvent>,
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
    pub async fn flush(&mut self, tx: &mut EngineTx) -> Result<(), StoreError> {
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
            .chain(self.events.iter().map(|e| e.workflow_instance_id))
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
    pub run: InstanceRun,
    pub slots: Vec<Option<Slot>>,
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
            attempt: slot.attempt as u32,
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
}

pub(crate) struct Engine {
    pub store: Store,
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
    events: broadcast::Sender<RunEvent>,
    self_tx: mpsc::UnboundedSender<Msg>,
    shutdown: Option<(Instant, oneshot::Sender<()>)>,
    /// Live masters, once the registry has been heard from (cluster mode).
    pub masters: Option<HashSet<String>>,
    /// Whether this master's registry session is alive (always, standalone).
    session_alive: bool,
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
}

const COMMAND_BATCH: i64 = 256;
const MESSAGE_BATCH: usize = 4096;
const ID_BLOCK: i64 = 1024;

impl Engine {
    pub fn new(
        store: Store,
        config: MasterConfig,
        workers: Vec<WorkerEndpoint>,
        events: broadcast::Sender<RunEvent>,
        self_tx: mpsc::UnboundedSender<Msg>,
    ) -> Engine {
        let dispatcher = Dispatcher::new(workers, config.strategy, config.dispatch_timeout);
        let cluster = config.cluster;
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
        }
    }

    /// The lease under which this master writes about an instance.
    fn lease(&self, epoch: i64) -> Lease<'_> {
        Lease {
            owner: &self.config.id,
            epoch,
        }
    }

    /// Attempts on workers, per worker id (for the dispatcher's slot counts).
    fn in_flight(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for inst in self.instances.values() {
            for slot in inst.slots.iter().flatten() {
                if matches!(slot.state, TaskState::Dispatched | TaskState::Running) {
                    if let Some(w) = &slot.worker {
                        *counts.entry(w.clone()).or_insert(0) += 1;
                    }
                }
            }
        }
        counts
    }

    fn set_view(&mut self, view: ClusterView) {
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
            let next_retry = self.retries.peek().map(|Reverse((due, _, _))| {
                let wait = (*due - now_us()).max(0) as u64;
                Instant::now() + Duration::from_micros(wait)
            });
            let next_fire = self.next_fire.map(|due| {
                let wait = (due - now_us()).max(0) as u64;
                Instant::now() + Duration::from_micros(wait)
            });
            let next_check = self.checks.peek().map(|Reverse((due, _, _))| {
                let wait = (*due - now_us()).max(0) as u64;
                Instant::now() + Duration::from_micros(wait)
            });
            let wake_at = [
                next_retry,
                next_check,
                self.dispatcher.next_wake().map(Instant::from_std),
                next_fire,
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(far);
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
                    if self.next_fire.is_some_and(|due| due <= now_us()) {
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
            let mut reports = Vec::new();
            let mut acks = Vec::new();
            let mut failed = Vec::new();
            let mut probed = Vec::new();
            for m in batch {
                match m {
                    Msg::Wake => take_commands = true,
                    Msg::Report(events, ack) => {
                        reports.push(events);
                        acks.push(ack);
                    }
                    Msg::View(view) => self.set_view(view),
                    Msg::Probed { worker, answers } => probed.push((worker, answers)),
                    Msg::Session(alive) => {
                        if self.session_alive && !alive {
                            // Others consider us dead and adopt our instances: let go of
                            // everything; nothing we would write now would be accepted.
                            tracing::warn!("registry session lost: dropping every instance");
                            self.forget_all();
                        }
                        if !self.session_alive && alive {
                            tracing::info!("registry session back: resuming what is still ours");
                            self.rebuild().await;
                        }
                        self.session_alive = alive;
                    }
                    Msg::DispatchFailed {
                        task,
                        attempt,
                        worker,
                        reason,
                    } => failed.push((task, attempt, worker, reason)),
                    Msg::Shutdown { grace, done } => {
                        self.shutdown = Some((Instant::now() + grace, done));
                    }
                }
            }
            let mut tick = Tick::default();
            let take = take_commands && self.shutdown.is_none() && self.session_alive;
            match self.tick(take, reports, failed, probed, &mut tick).await {
                Ok(redirects) => {
                    take_commands = tick.more_commands;
                    if take {
                        // The schedules changed: when is the next fire due?
                        // A fire still due now waits (queued): the poll looks again, no spin.
                        self.next_fire = self
                            .store
                            .next_fire_due()
                            .await
                            .unwrap_or(None)
                            .filter(|due| *due > now_us());
                    }
                    for (ack, redirect) in acks.into_iter().zip(redirects) {
                        let _ = ack.send(redirect);
                    }
                    self.act(tick);
                }
                Err(e) => {
                    // The store refused this tick: nothing of it happened. Workers re-send
                    // their reports (not acknowledged); rebuild the state from the store.
                    tracing::error!("engine tick failed, rebuilding from the store: {e}");
                    drop(acks);
                    self.rebuild().await;
                    take_commands = true;
                }
            }
            if let Some((deadline, _)) = &self.shutdown {
                // In a cluster, running attempts report to whoever adopts the instances.
                let drained = self.config.cluster || self.dispatcher.in_flight() == 0;
                if drained || Instant::now() >= *deadline {
                    if let Some((_, done)) = self.shutdown.take() {
                        let _ = done.send(());
                    }
                    return;
                }
            }
        }
    }

    /// Drops every instance from memory (the store keeps them).
    fn forget_all(&mut self) {
        self.dispatched_at.clear();
        self.probe_workers.clear();
        self.instances.clear();
        self.tasks.clear();
        self.retries.clear();
        self.checks.clear();
        self.dispatcher.clear();
        self.writes.clear();
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
    async fn tick(
        &mut self,
        take_commands: bool,
        reports: Vec<Vec<TaskEvent>>,
        failed: Vec<(TaskInstanceId, i64, String, String)>,
        probed: Vec<crate::failover::Probed>,
        t: &mut Tick,
    ) -> Result<Vec<Vec<Redirect>>, StoreError> {
        self.writes.clear();
        let mut tx = self.store.begin_engine().await?;
        match self
            .tick_in(&mut tx, take_commands, reports, failed, probed, t)
            .await
        {
            Ok(redirects) => {
                tx.commit().await?;
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
        tx: &mut EngineTx,
        take_commands: bool,
        reports: Vec<Vec<TaskEvent>>,
        failed: Vec<(TaskInstanceId, i64, String, String)>,
        probed: Vec<crate::failover::Probed>,
        t: &mut Tick,
    ) -> Result<Vec<Vec<Redirect>>, StoreError> {
        if self.view_changed && self.session_alive {
            self.view_changed = false;
            self.adopt_orphans(tx, t).await?;
            self.fail_over_lost_workers(tx, t).await?;
        }
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
        for (task, attempt, worker, reason) in failed {
            self.dispatch_failed(task, attempt, &worker, &reason);
        }
        for (id, steps) in self.due_retries() {
            self.apply(tx, id, steps, t).await?;
        }
        self.due_checks(tx, t).await?;
        if self.shutdown.is_none() && self.session_alive {
            self.dispatch(tx, t).await?;
        }
        self.verify_leases(tx).await?;
        self.writes.flush(tx).await?;
        Ok(redirects)
    }

    /// Before writing task rows: every instance they belong to must still be ours (and stays
    /// ours until the commit). Otherwise the whole tick is refused and the engine rebuilds.
    async fn verify_leases(&mut self, tx: &mut EngineTx) -> Result<(), StoreError> {
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
    async fn next_task_id(&mut self, tx: &mut EngineTx) -> Result<TaskInstanceId, StoreError> {
        if self.ids.is_empty() {
            self.ids = tx.reserve_task_ids(ID_BLOCK).await?;
        }
        let id = self.ids.start;
        self.ids.start += 1;
        Ok(TaskInstanceId(id))
    }

    /// Performs what a committed tick decided.
    fn act(&mut self, tick: Tick) {
        for (worker, request) in tick.dispatches {
            let w = self.dispatcher.worker(worker);
            let mut client = w.client.clone();
            let worker_id = w.endpoint.id.clone();
            let tx = self.self_tx.clone();
            tokio::spawn(async move {
                let id = request.id.expect("dispatches carry an attempt id");
                let failure = match client.dispatch(request).await {
                    Ok(reply) if reply.get_ref().accepted => return,
                    Ok(reply) => format!("refused: {}", reply.get_ref().reason),
                    Err(status) => {
                        // It may have arrived after all: the attempt is written off, so make
                        // sure it does not run (best effort; a worker cut off for longer loses
                        // its session and kills it anyway).
                        let kill = baton_proto::KillRequest { id: Some(id) };
                        let mut killer = client.clone();
                        tokio::spawn(async move {
                            let _ = killer.kill(kill).await;
                        });
                        format!("unreachable: {}", status.message())
                    }
                };
                let _ = tx.send(Msg::DispatchFailed {
                    task: TaskInstanceId(id.task_instance_id),
                    attempt: id.attempt as i64,
                    worker: worker_id,
                    reason: failure,
                });
            });
        }
        for (worker, id) in tick.kills {
            let Some(w) = self.dispatcher.worker_by_id(&worker) else {
                continue;
            };
            let mut client = w.client.clone();
            tokio::spawn(async move {
                // A kill can overtake its own dispatch; try again briefly if the worker does
                // not know the attempt yet.
                for _ in 0..10 {
                    match client.kill(baton_proto::KillRequest { id: Some(id) }).await {
                        Ok(reply) if reply.get_ref().found => return,
                        Ok(_) => {}
                        Err(status) => tracing::warn!("kill on {worker}: {}", status.message()),
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
        for (worker, ids) in tick.probes {
            let mut client = self.dispatcher.client_for(&worker);
            let tx = self.self_tx.clone();
            let address = self.config.address.clone();
            tokio::spawn(async move {
                let request = baton_proto::ProbeRequest {
                    ids: ids.clone(),
                    master_addr: address,
                };
                match client.probe(request).await {
                    Ok(reply) => {
                        let answers = ids
                            .iter()
                            .zip(reply.into_inner().statuses)
                            .map(|(id, status)| {
                                let status = baton_proto::AttemptStatus::try_from(status)
                                    .unwrap_or(baton_proto::AttemptStatus::Unknown);
                                (
                                    TaskInstanceId(id.task_instance_id),
                                    id.attempt as i64,
                                    status,
                                )
                            })
                            .collect();
                        let _ = tx.send(Msg::Probed { worker, answers });
                    }
                    // Unreachable: if it is gone, the registry will say so.
                    Err(status) => tracing::warn!("probe of {worker}: {}", status.message()),
                }
            });
        }
        if tick.more_commands {
            let _ = self.self_tx.send(Msg::Wake);
        }
        for event in tick.published {
            let _ = self.events.send(event);
        }
    }

    async fn command(
        &mut self,
        tx: &mut EngineTx,
        command: Command,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let id = command.instance;
        match command.kind {
            CommandKind::Start => {
                let Some(record) = tx.instance(id).await? else {
                    return Ok(());
                };
                if record.state != WorkflowState::Submitted {
                    tracing::warn!("start of instance {id} ignored: it is {}", record.state);
                    return Ok(());
                }
                let version = self
                    .specs
                    .get(&self.store, record.workflow_id, record.version)
                    .await?;
                let epoch = record.epoch + 1;
                let now = now_us();
                if !tx.start_instance(id, self.lease(epoch), now).await? {
                    return Ok(());
                }
                let run = match &record.only_tasks {
                    None => InstanceRun::new(version.dag.clone(), version.spec.failure_strategy),
                    // Started from a task: the others count as done.
                    Some(only) => InstanceRun::restore(
                        version.dag.clone(),
                        version.spec.failure_strategy,
                        outside_scope(&version.dag, only),
                        false,
                    ),
                };
                let slots = vec![None; version.dag.len()];
                self.resume(
                    tx,
                    id,
                    Inst {
                        name: record.name,
                        version,
                        params: record.params,
                        priority: record.priority,
                        state: WorkflowState::Running,
                        epoch,
                        schedule_time: record.schedule_time.unwrap_or(now),
                        started_at: now,
                        schedule_id: record.schedule_id,
                        parent: record.parent_instance_id,
                        run,
                        slots,
                    },
                    t,
                )
                .await
            }
            CommandKind::Recover => self.recover_instance(tx, id, t).await,
            CommandKind::ChildEnded => {
                if self.instances.contains_key(&id) {
                    return self.children_ended(tx, id, t).await;
                }
                if let Some(owner) = tx.instance(id).await?.and_then(|r| r.owner) {
                    if owner != self.config.id {
                        tx.forward_command(command.kind, id, &owner).await?;
                    }
                }
                Ok(())
            }
            CommandKind::Pause | CommandKind::Resume => {
                let pause = command.kind == CommandKind::Pause;
                let Some(inst) = self.instances.get_mut(&id) else {
                    // Not ours (any more): the owner gets it.
                    let Some(record) = tx.instance(id).await? else {
                        return Ok(());
                    };
                    match record.owner {
                        Some(owner) if owner != self.config.id => {
                            tx.forward_command(command.kind, id, &owner).await?;
                        }
                        // A child whose start another master is taking right now: again later.
                        None if record.state == WorkflowState::Submitted => {
                            tx.queue_command(command.kind, id).await?;
                        }
                        _ => {}
                    }
                    return Ok(());
                };
                let to = if pause {
                    inst.state.pause()
                } else {
                    inst.state.resume()
                };
                let Ok(to) = to else {
                    return Ok(());
                };
                inst.state = to;
                let lease = Lease {
                    owner: &self.config.id,
                    epoch: inst.epoch,
                };
                tx.set_instance_state(id, to, lease).await?;
                let mut steps = if pause {
                    inst.run.pause()
                } else {
                    inst.run.resume()
                };
                if pause {
                    steps.extend(self.hold_waiting(id));
                } else {
                    self.release_held(id);
                }
                self.pass_to_children(tx, id, command.kind).await?;
                self.apply(tx, id, steps, t).await
            }
            CommandKind::Stop => {
                let lease = Lease {
                    owner: &self.config.id,
                    epoch: 0,
                };
                if let Some(inst) = self.instances.get_mut(&id) {
                    if inst.state != WorkflowState::Stopping {
                        inst.state = WorkflowState::Stopping;
                        let lease = Lease {
                            epoch: inst.epoch,
                            ..lease
                        };
                        tx.set_instance_state(id, WorkflowState::Stopping, lease)
                            .await?;
                    }
                    let steps = inst.run.stop();
                    return self.apply(tx, id, steps, t).await;
                }
                // Not running here: a submitted instance can be stopped before it starts; one
                // that another master runs gets the stop forwarded.
                let Some(record) = tx.instance(id).await? else {
                    return Ok(());
                };
                match (record.state, record.owner) {
                    (WorkflowState::Submitted, _) => {
                        tx.finish_instance(id, WorkflowState::Stopped, now_us(), None)
                            .await?;
                        t.published.push(RunEvent::InstanceFinished {
                            instance: id,
                            state: WorkflowState::Stopped,
                        });
                    }
                    (state, Some(owner)) if !state.is_final() && owner != self.config.id => {
                        tx.forward_command(CommandKind::Stop, id, &owner).await?;
                    }
                    _ => {}
                }
                Ok(())
            }
        }
    }

    /// Takes charge of an instance (new, or rebuilt from the store) and starts or resumes its run.
    pub(crate) async fn resume(
        &mut self,
        tx: &mut EngineTx,
        id: WorkflowInstanceId,
        inst: Inst,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let inst = self.instances.entry(id).insert_entry(inst).into_mut();
        let steps = inst.run.start();
        self.apply(tx, id, steps, t).await
    }

    /// Carries out the steps of an instance's state machine, and those they lead to.
    pub(crate) async fn apply(
        &mut self,
        tx: &mut EngineTx,
        id: WorkflowInstanceId,
        steps: Vec<Step>,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let mut pending: VecDeque<Step> = steps.into();
        while let Some(step) = pending.pop_front() {
            let new_id = match step {
                Step::Run(_) | Step::Skip(_) => Some(self.next_task_id(tx).await?),
                _ => None,
            };
            let Some(inst) = self.instances.get_mut(&id) else {
                return Ok(());
            };
            match step {
                Step::Run(index) => {
                    let spec = &inst.version.spec.tasks[index];
                    let task = new_id.expect("allocated above");
                    let row = TaskInstanceRecord {
                        id: task,
                        workflow_instance_id: id,
                        task_name: spec.name.clone(),
                        state: TaskState::Submitted,
                        attempt: 1,
                        retries_used: 0,
                        worker: None,
                        submitted_at: now_us(),
                        started_at: None,
                        ended_at: None,
                        exit_code: None,
                        message: None,
                        next_retry_at: None,
                        outputs: BTreeMap::new(),
                        task_group: spec.task_group.clone(),
                    };
                    self.writes.touch(&row);
                    inst.slots[index] = Some(row);
                    self.tasks.insert(task, (id, index));
                    if spec.kind.is_logic() {
                        let steps = self.start_logic(tx, id, index, t).await?;
                        pending.extend(steps);
                        continue;
                    }
                    self.dispatcher.enqueue(
                        task,
                        &spec.worker_group,
                        inst.priority,
                        spec.queue_priority(),
                    );
                }
                Step::Kill(index) => {
                    if inst.version.spec.tasks[index].kind.is_logic() {
                        if let Some(steps) = self.kill_logic(tx, id, index, t).await? {
                            pending.extend(steps);
                            continue;
                        }
                    }
                    let Some(inst) = self.instances.get_mut(&id) else {
                        return Ok(());
                    };
                    let Some(slot) = inst.slots[index].as_mut() else {
                        continue;
                    };
                    match slot.state {
                        TaskState::Dispatched | TaskState::Running => {
                            if let Some(worker) = &slot.worker {
                                t.kills.push((
                                    worker.clone(),
                                    AttemptId {
                                        workflow_instance_id: id.0,
                                        task_instance_id: slot.id.0,
                                        attempt: slot.attempt as u32,
                                        epoch: inst.epoch as u64,
                                    },
                                ));
                            }
                        }
                        state if state.is_active() || state == TaskState::Paused => {
                            // Not on a worker: cancel it here.
                            self.dispatcher.dequeue(slot.id);
                            let now = now_us();
                            let retries_used = slot.retries_used;
                            self.writes.end_attempt(
                                slot,
                                End {
                                    state: TaskState::Killed,
                                    attempt_state: TaskState::Killed,
                                    worker: None,
                                    started_at: None,
                                    ended_at: now,
                                    exit_code: None,
                                    message: Some("cancelled before it ran"),
                                    retries_used,
                                    next_retry_at: None,
                                },
                            );
                            self.tasks.remove(&slot.id);
                            t.published.push(RunEvent::TaskEnded {
                                instance: id,
                                task: slot.id,
                                name: inst.version.spec.tasks[index].name.clone(),
                                attempt: slot.attempt,
                                state: TaskState::Killed,
                                will_retry: false,
                                started_at: None,
                                ended_at: now,
                                exit_code: None,
                                message: Some("cancelled before it ran".into()),
                            });
                            pending.extend(inst.run.killed(index));
                        }
                        _ => {}
                    }
                }
                Step::Skip(index) => {
                    let now = now_us();
                    let row = TaskInstanceRecord {
                        id: new_id.expect("allocated above"),
                        workflow_instance_id: id,
                        task_name: inst.version.spec.tasks[index].name.clone(),
                        state: TaskState::Skipped,
                        attempt: 0,
                        retries_used: 0,
                        worker: None,
                        submitted_at: now,
                        started_at: None,
                        ended_at: Some(now),
                        exit_code: None,
                        message: Some("not run: on a branch not taken".into()),
                        next_retry_at: None,
                        outputs: BTreeMap::new(),
                        task_group: None,
                    };
                    self.writes.touch(&row);
                    inst.slots[index] = Some(row);
                }
                Step::Paused => {
                    inst.state = WorkflowState::Paused;
                    let lease = Lease {
                        owner: &self.config.id,
                        epoch: inst.epoch,
                    };
                    tx.set_instance_state(id, WorkflowState::Paused, lease)
                        .await?;
                }
                Step::Finish(state) => {
                    if let Some(parent) = inst.parent {
                        tx.queue_command(CommandKind::ChildEnded, parent).await?;
                    }
                    self.after_scheduled_end(tx, id).await?;
                    let Some(inst) = self.instances.get_mut(&id) else {
                        return Ok(());
                    };
                    let lease = Lease {
                        owner: &self.config.id,
                        epoch: inst.epoch,
                    };
                    tx.finish_instance(id, state, now_us(), Some(lease)).await?;
                    self.instances.remove(&id);
                    t.published.push(RunEvent::InstanceFinished {
                        instance: id,
                        state,
                    });
                }
            }
        }
        Ok(())
    }

    /// Takes a worker's event, or says where it belongs.
    async fn report(
        &mut self,
        tx: &mut EngineTx,
        event: TaskEvent,
        t: &mut Tick,
    ) -> Result<Option<Redirect>, StoreError> {
        let Some(aid) = &event.id else {
            return Ok(None);
        };
        let instance = WorkflowInstanceId(aid.workflow_instance_id);
        if !self.instances.contains_key(&instance) {
            if let Some(redirect) = self.redirect(tx, instance).await? {
                return Ok(Some(redirect));
            }
        }
        self.take_report(tx, event, t).await?;
        Ok(None)
    }

    /// Where the events of an instance this master does not run should go: its owner, or
    /// (empty address) nobody yet. `None`: nobody will want them (the instance has ended).
    async fn redirect(
        &mut self,
        tx: &mut EngineTx,
        instance: WorkflowInstanceId,
    ) -> Result<Option<Redirect>, StoreError> {
        let Some(record) = tx.instance(instance).await? else {
            return Ok(None);
        };
        if record.state.is_final() {
            return Ok(None);
        }
        let master_addr = match record.owner {
            Some(owner) if owner != self.config.id => {
                let live = self.masters.as_ref().is_none_or(|m| m.contains(&owner));
                if live {
                    owner
                } else {
                    String::new()
                }
            }
            // Ours in the store but not in memory (a rebuild or a lost session): later.
            _ => String::new(),
        };
        Ok(Some(Redirect {
            workflow_instance_id: instance.0,
            master_addr,
        }))
    }

    async fn take_report(
        &mut self,
        tx: &mut EngineTx,
        event: TaskEvent,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let _ = tx;
        let Some(aid) = event.id else { return Ok(()) };
        let task = TaskInstanceId(aid.task_instance_id);
        let attempt = aid.attempt as i64;
        let stale = |why: &str| {
            tracing::info!(
                "stale report for task instance {task} attempt {attempt} from {} ignored: {why}",
                event.worker
            );
        };
        let Some(&(id, index)) = self.tasks.get(&task) else {
            stale("the task instance is not active here");
            return Ok(());
        };
        let Some(inst) = self.instances.get_mut(&id) else {
            return Ok(());
        };
        let Some(slot) = inst.slots[index].as_mut() else {
            return Ok(());
        };
        if slot.attempt != attempt {
            stale("another attempt is current");
            return Ok(());
        }
        match event.event {
            Some(task_event::Event::Started(started)) => {
                if !matches!(slot.state, TaskState::Dispatched) {
                    return Ok(());
                }
                slot.state = TaskState::Running;
                slot.started_at = Some(started.at_us);
                slot.worker = Some(event.worker.clone());
                self.writes.touch(slot);
                t.published.push(RunEvent::TaskStarted {
                    instance: id,
                    task,
                    name: inst.version.spec.tasks[index].name.clone(),
                    attempt,
                    worker: event.worker,
                    at_us: started.at_us,
                });
                Ok(())
            }
            Some(task_event::Event::Finished(f)) => {
                if !matches!(slot.state, TaskState::Dispatched | TaskState::Running) {
                    stale("the attempt has ended already");
                    return Ok(());
                }
                let spec = &inst.version.spec.tasks[index];
                let outcome = Outcome::try_from(f.outcome).unwrap_or(Outcome::Failed);
                let (attempt_state, state, retries_used) = match outcome {
                    Outcome::Succeeded => (
                        TaskState::Succeeded,
                        TaskState::Succeeded,
                        slot.retries_used,
                    ),
                    Outcome::Killed => (TaskState::Killed, TaskState::Killed, slot.retries_used),
                    _ => {
                        let retry =
                            !inst.run.is_ending() && slot.retries_used < spec.retries as i64;
                        let next = if retry {
                            TaskState::RetryWait
                        } else {
                            TaskState::Failed
                        };
                        (TaskState::Failed, next, slot.retries_used + 1)
                    }
                };
                let next_retry_at = (state == TaskState::RetryWait)
                    .then(|| f.ended_at_us + spec.retry_interval.as_micros() as i64);
                let started_at = Some(f.started_at_us).filter(|s| *s > 0).or(slot.started_at);
                let message = Some(f.message.as_str()).filter(|m| !m.is_empty());
                if let Some(w) = &slot.worker {
                    self.dispatcher.release(w);
                }
                self.dispatched_at.remove(&task);
                if state == TaskState::Succeeded {
                    // Output params pass to the downstream tasks (with the row, in this tick).
                    slot.outputs = f
                        .outputs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                }
                self.writes.end_attempt(
                    slot,
                    End {
                        state,
                        attempt_state,
                        worker: Some(&event.worker),
                        started_at,
                        ended_at: f.ended_at_us,
                        exit_code: f.exit_code.map(i64::from),
                        message,
                        retries_used,
                        next_retry_at,
                    },
                );
                t.published.push(RunEvent::TaskEnded {
                    instance: id,
                    task,
                    name: spec.name.clone(),
                    attempt,
                    state: attempt_state,
                    will_retry: state == TaskState::RetryWait,
                    started_at,
                    ended_at: f.ended_at_us,
                    exit_code: f.exit_code.map(i64::from),
                    message: message.map(str::to_string),
                });
                let steps = match state {
                    TaskState::RetryWait => {
                        self.retries
                            .push(Reverse((next_retry_at.unwrap_or(0), task, attempt)));
                        // A pause holds the retry until the instance is resumed.
                        let steps = self.hold(id, index);
                        return self.apply(tx, id, steps, t).await;
                    }
                    TaskState::Succeeded => inst.run.succeeded(index),
                    TaskState::Killed => inst.run.killed(index),
                    _ => inst.run.failed(index),
                };
                self.tasks.remove(&task);
                self.apply(tx, id, steps, t).await
            }
            Some(task_event::Event::TimedOut(timed_out)) => {
                let spec = &inst.version.spec;
                match crate::alerts::task_timeout(
                    id,
                    &spec.project,
                    &spec.name,
                    slot,
                    &event.worker,
                    &timed_out,
                ) {
                    Ok(e) => self.writes.events.push(e),
                    Err(why) => stale(why),
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A dispatch did not arrive. Refused: queue the same attempt again. Unreachable: the
    /// worker may have it after all, so the attempt is written off and a new one queued.
    fn dispatch_failed(&mut self, task: TaskInstanceId, attempt: i64, worker: &str, reason: &str) {
        self.dispatched_at.remove(&task);
        self.dispatcher.release(worker);
        self.dispatcher.rest(worker, Duration::from_millis(200));
        let Some(&(id, index)) = self.tasks.get(&task) else {
            return;
        };
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        let Some(slot) = inst.slots[index].as_mut() else {
            return;
        };
        if slot.attempt != attempt || slot.state != TaskState::Dispatched {
            return;
        }
        tracing::warn!("dispatch of task instance {task} attempt {attempt} to {worker} {reason}");
        let next_attempt = if reason.starts_with("refused") {
            attempt
        } else {
            let retries_used = slot.retries_used;
            self.writes.end_attempt(
                slot,
                End {
                    state: TaskState::NeedFailover,
                    attempt_state: TaskState::NeedFailover,
                    worker: Some(worker),
                    started_at: None,
                    ended_at: now_us(),
                    exit_code: None,
                    message: Some(reason),
                    retries_used,
                    next_retry_at: None,
                },
            );
            attempt + 1
        };
        self.writes.requeue(slot, next_attempt);
        let spec = &inst.version.spec.tasks[index];
        self.dispatcher.enqueue(
            task,
            &spec.worker_group,
            inst.priority,
            spec.queue_priority(),
        );
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
    fn due_retries(&mut self) -> Vec<(WorkflowInstanceId, Vec<Step>)> {
        let mut held = Vec::new();
        let now = now_us();
        while let Some((task, attempt)) = pop_due(&mut self.retries, now) {
            let Some((id, index)) = self.current(task, attempt, TaskState::RetryWait) else {
                continue;
            };
            let inst = self
                .instances
                .get_mut(&id)
                .expect("a current task has its instance and slot");
            let slot = inst.slots[index]
                .as_mut()
                .expect("a current task has its instance and slot");
            if inst.run.is_paused() {
                held.push((id, self.hold(id, index)));
                continue;
            }
            self.writes.requeue(slot, attempt + 1);
            let spec = &inst.version.spec.tasks[index];
            self.dispatcher.enqueue(
                task,
                &spec.worker_group,
                inst.priority,
                spec.queue_priority(),
            );
        }
        held
    }

    async fn dispatch(&mut self, tx: &mut EngineTx, t: &mut Tick) -> Result<(), StoreError> {
        // Free slots of the task groups met in this tick (read under their row locks).
        let mut group_free: HashMap<String, i64> = HashMap::new();
        let mut held: Vec<(TaskInstanceId, String)> = Vec::new();
        while let Some((task, worker)) = self.dispatcher.next() {
            let worker_id = self.dispatcher.worker(worker).endpoint.id.clone();
            let Some(&(id, index)) = self.tasks.get(&task) else {
                self.dispatcher.release(&worker_id);
                continue;
            };
            if self.instances[&id].run.is_paused() {
                // Queued before the pause (a requeue after a lost worker, say): held.
                self.dispatcher.release(&worker_id);
                let steps = self.hold(id, index);
                self.apply(tx, id, steps, t).await?;
                continue;
            }
            let group = self.instances[&id].version.spec.tasks[index]
                .task_group
                .clone();
            if let Some(group) = group {
                if !group_free.contains_key(&group) {
                    let free = tx.task_group_free(std::slice::from_ref(&group)).await?;
                    group_free.insert(group.clone(), free.get(&group).copied().unwrap_or(-1));
                }
                let free = group_free.get_mut(&group).expect("just read");
                if *free <= 0 {
                    let message = if *free < 0 {
                        format!("waiting: task group `{group}` does not exist")
                    } else {
                        format!("waiting: task group `{group}` is full")
                    };
                    self.dispatcher.release(&worker_id);
                    held.push((task, message));
                    continue;
                }
                *free -= 1;
            }
            let inst = self
                .instances
                .get_mut(&id)
                .expect("active tasks belong to live instances");
            let upstream = inst.upstream_outputs(index);
            let ctx = inst.context(
                id,
                inst.slots[index]
                    .as_ref()
                    .expect("queued tasks have a slot"),
            );
            let slot = inst.slots[index]
                .as_mut()
                .expect("queued tasks have a slot");
            let spec = &inst.version.spec.tasks[index];
            let resolved =
                match params::resolve_task(&inst.version.spec, spec, &inst.params, &upstream, &ctx)
                {
                    Ok(r) => r,
                    Err(e) => {
                        // Checked when the instance was created; only a hand-edited store gets here.
                        let message = e.to_string();
                        self.dispatcher.release(&worker_id);
                        let retries_used = slot.retries_used;
                        self.writes.end_attempt(
                            slot,
                            End {
                                state: TaskState::Failed,
                                attempt_state: TaskState::Failed,
                                worker: None,
                                started_at: None,
                                ended_at: now_us(),
                                exit_code: None,
                                message: Some(&message),
                                retries_used,
                                next_retry_at: None,
                            },
                        );
                        self.tasks.remove(&task);
                        let steps = inst.run.failed(index);
                        self.apply(tx, id, steps, t).await?;
                        continue;
                    }
                };
            slot.state = TaskState::Dispatched;
            slot.worker = Some(worker_id);
            slot.message = None;
            self.dispatched_at.insert(task, Instant::now());
            self.writes.touch(slot);
            let kind = match resolved.kind {
                TaskKind::Shell { command } => {
                    dispatch_request::Kind::Shell(baton_proto::ShellTask { command })
                }
                TaskKind::Python { script } => {
                    dispatch_request::Kind::Python(baton_proto::PythonTask { script })
                }
                // Logic tasks run in the engine and never reach the dispatcher.
                _ => dispatch_request::Kind::Noop(baton_proto::NoopTask {}),
            };
            let request = DispatchRequest {
                id: Some(AttemptId {
                    workflow_instance_id: id.0,
                    task_instance_id: task.0,
                    attempt: slot.attempt as u32,
                    epoch: inst.epoch as u64,
                }),
                workflow_name: inst.name.clone(),
                task_name: spec.name.clone(),
                kind: Some(kind),
                env: resolved.env.into_iter().collect(),
                timeout_ms: spec.timeout.map(|d| d.as_millis() as u64).unwrap_or(0),
                timeout_strategy: crate::alerts::strategy(spec.timeout_strategy),
                master_addr: self.config.address.clone(),
                // Half the dispatch timeout: a dispatch still in flight when the master writes
                // the attempt off (after the whole timeout) is refused by the worker, with room
                // for clocks that disagree by less than half the timeout.
                deadline_us: now_us() + self.config.dispatch_timeout.as_micros() as i64 / 2,
            };
            t.dispatches.push((worker, request));
        }
        // Tasks held by a full task group wait in the queue for a later tick.
        for (task, message) in held {
            let Some(&(id, index)) = self.tasks.get(&task) else {
                continue;
            };
            let Some(inst) = self.instances.get_mut(&id) else {
                continue;
            };
            let spec = &inst.version.spec.tasks[index];
            self.dispatcher.enqueue(
                task,
                &spec.worker_group,
                inst.priority,
                spec.queue_priority(),
            );
            if let Some(slot) = inst.slots[index].as_mut() {
                if slot.message.as_deref() != Some(message.as_str()) {
                    slot.message = Some(message);
                    self.writes.touch(slot);
                }
            }
        }
        self.mark_starved();
        Ok(())
    }

    /// Queued attempts of a group without any live worker say so (a visible wait, not a
    /// silent hang).
    fn mark_starved(&mut self) {
        for group in self.dispatcher.starved_groups() {
            let message = format!("waiting: no live worker in group `{group}`");
            for task in self.dispatcher.queued_in(&group) {
                let Some(&(id, index)) = self.tasks.get(&task) else {
                    continue;
                };
                let Some(slot) = self
                    .instances
                    .get_mut(&id)
                    .and_then(|i| i.slots[index].as_mut())
                else {
                    continue;
                };
                if slot.message.as_deref() != Some(message.as_str()) {
                    slot.message = Some(message.clone());
                    self.writes.touch(slot);
                }
            }
        }
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
