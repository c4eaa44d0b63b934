//! Rebuilding the engine from the store: at start-up (after a crash or a clean stop) and after
//! a tick the store refused. The store is the truth; memory is only a cache of it.

use crate::attempts::{apply_to_row, attempt_of, Facts};
use crate::dispatch::Target;
use crate::engine::{Engine, Inst, Slot, Tick};
use crate::mapping::{item_rules, kept_items, pinned_worker, Mapped};
use crate::specs::Version;
use crate::MasterError;
use baton_core::attempt::{Change, Rules, TaskEnd};
use baton_core::run::map;
use baton_core::run::{InstanceRun, Node};
use baton_core::start::StartOverrides;
use baton_core::{EventKind, Priority, TaskState, WorkflowState};
use baton_store::{EngineTx, InstanceRecord, MapRole, NewEvent, StoreError};
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// An instance being rebuilt from its stored rows.
struct Restored {
    nodes: Vec<Node>,
    slots: Vec<Option<Slot>>,
    /// Tasks to queue (or hold, if the instance is paused).
    queue: Vec<usize>,
    /// Logic tasks to start (queued again by a recover).
    logic_starts: Vec<usize>,
    /// A sub-workflow may have a child that ended while nobody listened.
    children: bool,
    /// The rows of mapped tasks' items, placed once their mapped tasks are.
    items: Vec<Slot>,
    /// Mapped tasks running their items.
    maps: Vec<usize>,
    /// Mapped tasks queued again by a recover (their failed and killed items run again).
    map_starts: Vec<usize>,
    /// Mapped tasks running their items whose kept list cannot be read again (a store
    /// edited by hand, or by another version of Baton): they fail, saying so.
    unreadable_maps: Vec<usize>,
    /// The mapped task of each item slot (after the DAG's slots).
    item_tasks: Vec<usize>,
    /// How many tasks the DAG has (the item slots follow theirs).
    tasks: usize,
    /// The instance's project and workflow, for the events.
    project: String,
    workflow: String,
}

impl Restored {
    fn new(version: &Version, record: &InstanceRecord) -> Restored {
        let dag = &version.dag;
        Restored {
            nodes: match &record.only_tasks {
                Some(only) => crate::engine::outside_scope(dag, only),
                None => vec![Node::Waiting; dag.len()],
            },
            slots: vec![None; dag.len()],
            queue: Vec::new(),
            logic_starts: Vec::new(),
            children: false,
            items: Vec::new(),
            maps: Vec::new(),
            map_starts: Vec::new(),
            unreadable_maps: Vec::new(),
            item_tasks: Vec::new(),
            tasks: dag.len(),
            project: record.project.clone(),
            workflow: record.name.clone(),
        }
    }

    /// The DAG task of a slot (an item's is its mapped task).
    fn task_of(&self, slot: usize) -> usize {
        match slot.checked_sub(self.tasks) {
            Some(item) => self.item_tasks[item],
            None => slot,
        }
    }
}

impl Engine {
    /// Resumes every running or stopping instance after a start-up. Attempts that were on a
    /// worker are taken as lost (in standalone, the worker restarted with us) and run again as
    /// a new attempt.
    pub async fn recover(&mut self) -> Result<(), MasterError> {
        Ok(self.recover_with(!self.config.cluster).await?)
    }

    /// Rebuilds memory from the store. With `lost_in_flight`, attempts recorded as dispatched
    /// or running are written off and queued again; otherwise they are awaited.
    pub(crate) async fn recover_with(&mut self, lost_in_flight: bool) -> Result<(), StoreError> {
        let records = self.store.active_instances(Some(&self.config.id)).await?;
        let mut tx = self.store.begin().await?;
        let mut tick = Tick::default();
        let mut loaded = Ok(());
        for record in records {
            loaded = self
                .load_instance(&mut *tx, record, lost_in_flight, &mut tick)
                .await;
            if loaded.is_err() {
                break;
            }
        }
        if loaded.is_ok() {
            loaded = self.writes.flush(&mut *tx).await;
        }
        if let Err(e) = loaded {
            // Release the row locks now, not when the pooled connection is next used.
            let _ = tx.rollback().await;
            return Err(e);
        }
        tx.commit().await?;
        if !tick.kills.is_empty() || !tick.published.is_empty() {
            tracing::info!(
                "recovery: {} kills, {} events",
                tick.kills.len(),
                tick.published.len()
            );
        }
        Ok(())
    }

    /// Takes charge of one instance as the store has it. With `lost_in_flight`, attempts
    /// recorded as dispatched or running are written off and queued again; otherwise they are
    /// awaited (their workers report to us).
    pub(crate) async fn load_instance(
        &mut self,
        tx: &mut dyn EngineTx,
        record: InstanceRecord,
        lost_in_flight: bool,
        tick: &mut Tick,
    ) -> Result<(), StoreError> {
        let id = record.id;
        let version = self
            .specs
            .get(&*self.store, record.workflow_id, record.version)
            .await?;
        let mut r = Restored::new(&version, &record);
        for task in tx.task_instances(id).await? {
            self.restore_task(&mut r, &version, id, task, lost_in_flight);
        }
        let mut maps = self.restore_maps(&mut r, &version, id, lost_in_flight);
        let stopping = record.state == WorkflowState::Stopping;
        let dag = version.dag.clone();
        let strategy = record.overrides.failure_strategy(&version.spec);
        let nodes = std::mem::take(&mut r.nodes);
        let mut run = InstanceRun::restore(dag, strategy, nodes, stopping);
        self.restore_services(tx, id, &version, &r, &mut run)
            .await?;
        if matches!(record.state, WorkflowState::Pausing | WorkflowState::Paused) {
            run.restore_paused();
        }
        let queue = std::mem::take(&mut r.queue);
        let placing = (record.priority, &record.overrides, &maps);
        let held = self.requeue_restored(&queue, &mut r, &mut run, &version, placing);
        for slot in held {
            let task = r.task_of(slot);
            if let Some(mapped) = maps.get_mut(&task) {
                mapped.held.insert(slot - mapped.base);
            }
        }
        let mut inst = restored_inst(record, version, run, std::mem::take(&mut r.slots));
        inst.maps = maps;
        inst.item_tasks = std::mem::take(&mut r.item_tasks);
        self.resume(tx, id, inst, tick).await?;
        self.resume_maps(tx, id, &r, tick).await?;
        for index in r.logic_starts {
            let steps = self.start_logic(tx, id, index, tick).await?;
            self.apply(tx, id, steps, tick).await?;
        }
        if r.children {
            self.children_ended(tx, id, tick).await?;
        }
        Ok(())
    }

    /// The restored instance's active services that were up (a `task_healthy` event of
    /// theirs is recorded) count as up again: their successors were released then.
    async fn restore_services(
        &mut self,
        tx: &mut dyn EngineTx,
        id: baton_core::WorkflowInstanceId,
        version: &Version,
        r: &Restored,
        run: &mut InstanceRun,
    ) -> Result<(), StoreError> {
        let services: Vec<usize> = (0..r.tasks)
            .filter(|t| {
                matches!(
                    version.spec.tasks[*t].kind,
                    baton_core::TaskKind::Service(_)
                )
            })
            .filter(|t| run.node(*t) == Node::Active)
            .collect();
        if services.is_empty() {
            return Ok(());
        }
        let up = tx.tasks_with_event(id, EventKind::TaskHealthy).await?;
        for index in services {
            if r.slots[index].as_ref().is_some_and(|s| up.contains(&s.id)) {
                run.restore_up(index);
            }
        }
        Ok(())
    }

    /// Puts the restored instance's waiting tasks back where they wait: held, if the
    /// instance is paused, or else on the dispatch queue, by priority (a broadcast item on
    /// its worker's). Returns the item slots the pause holds.
    fn requeue_restored(
        &mut self,
        queue: &[usize],
        r: &mut Restored,
        run: &mut InstanceRun,
        version: &Version,
        (priority, overrides, maps): (Priority, &StartOverrides, &BTreeMap<usize, Mapped>),
    ) -> Vec<usize> {
        let mut held_items = Vec::new();
        for &index in queue {
            let task = r.task_of(index);
            let Some(slot) = r.slots[index].as_mut() else {
                continue;
            };
            if run.is_paused() {
                // Held by the pause until a resume.
                let held = attempt_of(slot).hold();
                apply_to_row(&mut self.writes, slot, &held, &Facts::default());
                if task == index {
                    run.hold(index);
                } else {
                    held_items.push(index);
                }
                continue;
            }
            let release = attempt_of(slot).release();
            apply_to_row(&mut self.writes, slot, &release, &Facts::default());
            let spec = &version.spec.tasks[task];
            let (group, own) = (overrides.worker_group(spec), spec.queue_priority());
            let target = Target::of(group, pinned_worker(spec, maps.get(&task), index));
            self.dispatcher.enqueue_for(slot.id, target, priority, own);
            self.queued_at.insert(slot.id, self.config.clock.now_us());
        }
        held_items
    }

    /// Takes one stored task row into a restored instance: where its node stands, and what
    /// its attempt needs (a timer, a probe, the queue, or a new attempt if it was lost).
    /// Items of mapped tasks are kept aside until their mapped tasks are placed.
    fn restore_task(
        &mut self,
        r: &mut Restored,
        version: &Version,
        id: baton_core::WorkflowInstanceId,
        task: Slot,
        lost_in_flight: bool,
    ) {
        if matches!(task.map, Some(MapRole::Item { .. })) {
            r.items.push(task);
            return;
        }
        let Some(index) = version.dag.index_of(&task.task_name) else {
            return;
        };
        if version.spec.tasks[index].items().is_some() {
            return self.restore_mapped(r, id, index, task);
        }
        let node = self.restore_row(r, version, id, index, task, lost_in_flight);
        r.nodes[index] = node;
    }

    /// Takes the row of a slot (a task's, or an item's) into a restored instance, and says
    /// where it stands.
    fn restore_row(
        &mut self,
        r: &mut Restored,
        version: &Version,
        id: baton_core::WorkflowInstanceId,
        index: usize,
        task: Slot,
        lost_in_flight: bool,
    ) -> Node {
        let mut slot = task.clone();
        let kind = &version.spec.tasks[r.task_of(index)].kind;
        let node = match task.state {
            TaskState::Succeeded => Node::Succeeded,
            TaskState::Skipped => Node::Skipped,
            TaskState::Running if kind.is_logic() => {
                if matches!(kind, baton_core::TaskKind::Dependent { .. }) {
                    let now = self.now();
                    self.checks.push(Reverse((now, task.id, task.attempt)));
                } else {
                    r.children = true;
                }
                Node::Active
            }
            state if kind.is_logic() && state.is_active() => {
                r.logic_starts.push(index);
                Node::Active
            }
            TaskState::Failed => Node::Failed,
            TaskState::Killed => Node::Killed,
            TaskState::RetryWait => {
                let due = task.next_retry_at.unwrap_or_else(|| self.now());
                self.retries.push(Reverse((due, task.id, task.attempt)));
                Node::Active
            }
            TaskState::Dispatched | TaskState::Running if !lost_in_flight => {
                self.await_on_worker(&task);
                Node::Active
            }
            TaskState::Submitted | TaskState::Paused => {
                r.queue.push(index);
                Node::Active
            }
            TaskState::Dispatched | TaskState::Running | TaskState::NeedFailover => {
                self.write_off_lost(r, version, id, index, &mut slot);
                r.queue.push(index);
                Node::Active
            }
        };
        if node == Node::Active {
            self.tasks.insert(task.id, (id, index));
        }
        r.slots[index] = Some(slot);
        node
    }

    /// A mapped task's row: ended, running its items (rebuilt with them), or queued again
    /// by a recover.
    fn restore_mapped(
        &mut self,
        r: &mut Restored,
        id: baton_core::WorkflowInstanceId,
        index: usize,
        task: Slot,
    ) {
        let node = match task.state {
            TaskState::Succeeded => Node::Succeeded,
            TaskState::Skipped => Node::Skipped,
            TaskState::Failed => Node::Failed,
            TaskState::Killed => Node::Killed,
            TaskState::Submitted => {
                r.map_starts.push(index);
                Node::Active
            }
            TaskState::Dispatched
            | TaskState::Running
            | TaskState::RetryWait
            | TaskState::Paused
            | TaskState::NeedFailover => {
                r.maps.push(index);
                Node::Active
            }
        };
        if node == Node::Active {
            self.tasks.insert(task.id, (id, index));
        }
        r.nodes[index] = node;
        r.slots[index] = Some(task);
    }

    /// Places the items of the restored instance's active mapped tasks after its tasks'
    /// slots, restores each item's row, and rebuilds each mapped task's rules from them
    /// (a recover's mapped task runs its failed and killed items again).
    fn restore_maps(
        &mut self,
        r: &mut Restored,
        version: &Version,
        id: baton_core::WorkflowInstanceId,
        lost_in_flight: bool,
    ) -> BTreeMap<usize, Mapped> {
        let mut maps = BTreeMap::new();
        let mut items = std::mem::take(&mut r.items);
        let tasks: Vec<(usize, bool)> = (r.maps.iter().map(|t| (*t, false)))
            .chain(r.map_starts.iter().map(|t| (*t, true)))
            .collect();
        for (task, recovered) in tasks {
            if crate::map_reduce::spec_of(&version.spec.tasks[task]).is_some() {
                let place = (task, recovered, lost_in_flight);
                if let Some(mapped) = self.restore_map_reduce(r, version, id, place, &mut items) {
                    maps.insert(task, mapped);
                }
                continue;
            }
            let place = (task, recovered, lost_in_flight);
            if let Some(mapped) = self.restore_map(r, version, id, place, &mut items) {
                maps.insert(task, mapped);
            }
        }
        maps
    }

    /// A mapped (or broadcast) task running, or queued again by a recover (`recovered`): its
    /// items from its row's kept list, their rows placed after the instance's slots; `None`
    /// when it has no items to go on with (not mapped, or its list cannot be read: a running
    /// one is then failed by the caller, a recovered one starts afresh).
    fn restore_map(
        &mut self,
        r: &mut Restored,
        version: &Version,
        id: baton_core::WorkflowInstanceId,
        (task, recovered, lost_in_flight): (usize, bool, bool),
        items: &mut Vec<baton_store::TaskInstanceRecord>,
    ) -> Option<Mapped> {
        let rules = item_rules(&version.spec.tasks[task])?;
        // A recovered task without a readable list starts afresh (`resume_maps`); a
        // running one cannot go on without it.
        let list = match r.slots[task].as_ref().map(|s| &s.map) {
            Some(Some(MapRole::Mapped { list })) => Some(list),
            _ => None,
        };
        let Some(expanded) = list.and_then(|l| kept_items(&version.spec.tasks[task], l)) else {
            if !recovered {
                r.unreadable_maps.push(task);
            }
            return None;
        };
        let name = version.spec.tasks[task].name.clone();
        let base = r.slots.len();
        r.slots.resize(base + expanded.len(), None);
        r.item_tasks
            .resize(r.item_tasks.len() + expanded.len(), task);
        let mut states = vec![map::ItemState::Waiting; expanded.len()];
        for row in take_items(items, &name) {
            let Some(MapRole::Item { index, .. }) = row.map else {
                continue;
            };
            let Some(item) = usize::try_from(index).ok().filter(|i| *i < states.len()) else {
                continue;
            };
            states[item] = map::ItemState::from(row.state);
            self.restore_row(r, version, id, base + item, row, lost_in_flight);
        }
        let mut run = map::MapRun::rebuild(rules, states, false);
        if recovered {
            run.recover();
        }
        Some(Mapped {
            run,
            items: expanded,
            base,
            held: Default::default(),
            ended: false,
            phase: None,
        })
    }

    /// A map-reduce task running (or queued again by a recover, `recovered`): its phase
    /// found from its row's kept list and its items' rows, whose rows of that phase are
    /// placed after the instance's slots; `None` when it starts afresh (queued, never
    /// begun) or cannot go on (its list cannot be read: it then fails).
    fn restore_map_reduce(
        &mut self,
        r: &mut Restored,
        version: &Version,
        id: baton_core::WorkflowInstanceId,
        (task, recovered, lost_in_flight): (usize, bool, bool),
        items: &mut Vec<Slot>,
    ) -> Option<Mapped> {
        use baton_core::run::map_reduce as mr_rules;
        let spec = crate::map_reduce::spec_of(&version.spec.tasks[task])?;
        let list = match r.slots[task].as_ref().map(|s| &s.map) {
            Some(Some(MapRole::Mapped { list })) => list.clone(),
            _ => return None,
        };
        let name = version.spec.tasks[task].name.clone();
        let rows = take_items(items, &name);
        let Some((phase, phase_items, input)) = crate::map_reduce::restored(&list, &rows) else {
            if !recovered {
                r.unreadable_maps.push(task);
            }
            return None;
        };
        let base = r.slots.len();
        r.slots.resize(base + phase_items.len(), None);
        r.item_tasks
            .resize(r.item_tasks.len() + phase_items.len(), task);
        let mut states = vec![map::ItemState::Waiting; phase_items.len()];
        for row in rows {
            let place = crate::map_reduce::place_of(&row);
            let Some(item) = crate::map_reduce::item_at(phase, place, phase_items.len()) else {
                continue;
            };
            states[item] = map::ItemState::from(row.state);
            self.restore_row(r, version, id, base + item, row, lost_in_flight);
        }
        let mut run = map::MapRun::rebuild(mr_rules::rules(spec, phase), states, false);
        if recovered {
            run.recover();
        }
        Some(Mapped {
            run,
            items: phase_items,
            base,
            held: Default::default(),
            ended: false,
            phase: Some((phase, input)),
        })
    }

    /// The restored instance's mapped tasks go on: those a recover queued run again (or
    /// start afresh when they never expanded their list), the others are stepped.
    async fn resume_maps(
        &mut self,
        tx: &mut dyn EngineTx,
        id: baton_core::WorkflowInstanceId,
        r: &Restored,
        tick: &mut Tick,
    ) -> Result<(), StoreError> {
        for &task in &r.map_starts {
            let started = self
                .instances
                .get(&id)
                .is_some_and(|inst| inst.maps.contains_key(&task));
            if started {
                self.begin_map(id, task, "runs its failed and killed items again", tick);
                self.map_steps.push((id, task));
            } else {
                let steps = self.start_map(id, task, tick);
                self.apply(tx, id, steps, tick).await?;
            }
        }
        for &task in &r.maps {
            if r.unreadable_maps.contains(&task) {
                let message = "its list of items, kept on its row, cannot be read again: the task fails (a recover runs it afresh)";
                let steps = self.end_mapped_row(id, task, TaskEnd::Failed, message, None, tick);
                self.apply(tx, id, steps, tick).await?;
            } else {
                self.map_steps.push((id, task));
            }
        }
        self.step_maps(tx, tick).await
    }

    /// A restored attempt left on its worker, whose report is awaited: it holds its place on
    /// the worker, and the worker is probed to make sure it has it (it was dispatched by
    /// another master, or by this one before a restart).
    fn await_on_worker(&mut self, task: &Slot) {
        if let Some(w) = &task.worker {
            self.dispatcher.occupy(w);
            self.probe_workers.insert(w.clone());
        }
    }

    /// A restored attempt that was on a worker when this node stopped: written off (with a
    /// `task_need_failover` event the first time), so that the next attempt is queued.
    fn write_off_lost(
        &mut self,
        r: &Restored,
        version: &Version,
        id: baton_core::WorkflowInstanceId,
        index: usize,
        slot: &mut Slot,
    ) {
        let (task, name, attempt) = (slot.id, slot.task_name.clone(), slot.attempt);
        let worker = slot.worker.clone();
        if self.rerun_lost(slot, Rules::of(&version.spec.tasks[r.task_of(index)])) {
            let event = NewEvent::new(
                EventKind::TaskNeedFailover,
                self.now(),
                "lost: its worker stopped while it ran",
            )
            .instance(id, &r.project, &r.workflow)
            .task(task, &name, attempt)
            .worker(worker.as_deref());
            self.writes.events.push(event);
        }
    }

    /// An attempt that was on a worker that stopped with this node: written off, and the
    /// next one queued (whatever the task's failover policy: the node, not the task, failed).
    /// Returns whether an attempt was written off now (not earlier).
    fn rerun_lost(&mut self, slot: &mut Slot, rules: Rules) -> bool {
        let rerun = Rules {
            failover: baton_core::FailoverPolicy::Rerun,
            ..rules
        };
        let (change, now) = match attempt_of(slot).lose(&rerun) {
            // Written off already (need_failover): only the new attempt is left to queue.
            Change::Stale(_) => {
                let number = slot.attempt + 1;
                (Change::Queued { number }, false)
            }
            lost => (lost, true),
        };
        let facts = Facts {
            at: Some(self.now()),
            message: Some("lost: its worker stopped while it ran"),
            ..Facts::default()
        };
        apply_to_row(&mut self.writes, slot, &change, &facts);
        now
    }

    /// `recover`: an ended (failed or stopped) instance runs again what failed, was killed or
    /// did not run; what succeeded stays, outputs included. Each task run again gets a new
    /// attempt and a fresh retry budget.
    pub(crate) async fn recover_instance(
        &mut self,
        tx: &mut dyn EngineTx,
        id: baton_core::WorkflowInstanceId,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(record) = tx.instance(id).await? else {
            return Ok(());
        };
        let lease = baton_store::Lease {
            owner: &self.config.id,
            epoch: record.epoch + 1,
        };
        if !tx.reopen_instance(id, lease).await? {
            tracing::warn!("recover of instance {id} ignored: it is {}", record.state);
            return Ok(());
        }
        let mut again = Vec::new();
        for mut task in tx.task_instances(id).await? {
            // A mapped task's items run again as its rules say, once it runs again.
            let item = matches!(task.map, Some(MapRole::Item { .. }));
            if !item && crate::attempts::reopen(&mut task) {
                again.push(task);
            }
        }
        tx.upsert_tasks(&again).await?;
        let Some(record) = tx.instance(id).await? else {
            return Ok(());
        };
        let message = format!("recovered: {} task(s) run again", again.len());
        let event =
            crate::lifecycle::of_record(&record, EventKind::InstanceRecovered, self.now(), message);
        self.writes.events.push(event);
        self.load_instance(tx, record, false, t).await
    }
}

/// The instance in memory, as its stored record, version, state machine and rows make it.
fn restored_inst(
    record: InstanceRecord,
    version: Version,
    run: InstanceRun,
    slots: Vec<Option<Slot>>,
) -> Inst {
    Inst {
        name: record.name,
        version,
        params: record.params,
        priority: record.priority,
        state: record.state,
        epoch: record.epoch,
        schedule_time: record
            .schedule_time
            .or(record.started_at)
            .unwrap_or(record.submitted_at),
        started_at: record.started_at.unwrap_or(record.submitted_at),
        schedule_id: record.schedule_id,
        parent: record.parent_instance_id,
        overrides: record.overrides,
        run,
        slots,
        maps: Default::default(),
        item_tasks: Vec::new(),
    }
}

/// The rows of the items of the mapped task `name`, taken out of `items`.
fn take_items(items: &mut Vec<Slot>, name: &str) -> Vec<Slot> {
    let (mine, others) = std::mem::take(items)
        .into_iter()
        .partition(|row| matches!(&row.map, Some(MapRole::Item { task, .. }) if task == name));
    *items = others;
    mine
}
