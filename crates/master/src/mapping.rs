//! Mapped tasks (`map:`) in the engine. A mapped task runs no attempt of its own: when it
//! becomes ready its list is resolved and expanded, its row moves to running, and each item
//! becomes a task instance of its own (`load[3]`), queued, retried, timed out and lost like
//! any task, in a slot after the DAG's (`Inst::slots`). The rules of the items (which start
//! under `parallel` and `failure`, when the task is done, what a recover reruns) are
//! `baton_core::run::map`'s; this module carries them out.
//!
//! A broadcast task (`broadcast: true`) is a mapped task whose list is the live workers of
//! its group when it becomes ready (`baton_core::run::broadcast`), kept on its row as their
//! ids; each item (`clear[host:port]`) is queued for its worker only (`Target::Worker`), and
//! fails if that worker is gone, queued or running.
//!
//! An item's end is learnt where the engine cannot act (`after_end`), so it is recorded and
//! the mapped task is stepped by `apply` (`Engine::map_steps`), where new rows can be made.

use crate::attempts::{attempt_of, Facts};
use crate::dispatch::Target;
use crate::engine::{Engine, Inst, Tick};
use baton_core::attempt::TaskEnd;
use baton_core::dag::TaskIndex;
use baton_core::run::broadcast;
use baton_core::run::map::{self, Item, ItemRules, MapOutcome, MapRun, MapStep};
use baton_core::run::Step;
use baton_core::spec::{Items, Over, TaskSpec};
use baton_core::{TaskState, WorkflowInstanceId};
use baton_store::{EngineTx, MapRole, StoreError};
use std::collections::{BTreeMap, BTreeSet};

/// One mapped task of an instance, once started.
pub(crate) struct Mapped {
    /// The rules of its items.
    pub run: MapRun,
    /// Its items, in list order.
    pub items: Vec<Item>,
    /// The slot of item 0: item `i` is `slots[base + i]`.
    pub base: usize,
    /// The items a pause holds (queued or waiting for a retry, not on a worker).
    pub held: BTreeSet<usize>,
    /// The mapped task has ended: nothing more is decided about its items.
    pub ended: bool,
    /// A map-reduce task's phase, and what its reduce sees as `${subtasks.outputs}`
    /// (`crate::map_reduce`); `None` for a `map:` or a broadcast.
    pub phase: Option<(baton_core::spec::map_reduce::Phase, String)>,
}

impl Inst {
    /// The DAG task of a slot: the task itself, or an item's mapped task.
    pub(crate) fn task_of(&self, slot: usize) -> TaskIndex {
        let tasks = self.version.dag.len();
        match slot.checked_sub(tasks) {
            Some(item) => self.item_tasks[item],
            None => slot,
        }
    }

    /// The spec a slot runs: an item runs its mapped task's.
    pub(crate) fn spec_of(&self, slot: usize) -> &TaskSpec {
        &self.version.spec.tasks[self.task_of(slot)]
    }

    /// The mapped task and item number of an item slot; `None` for a DAG task's slot.
    pub(crate) fn item_of(&self, slot: usize) -> Option<(TaskIndex, usize)> {
        let tasks = self.version.dag.len();
        let task = *self.item_tasks.get(slot.checked_sub(tasks)?)?;
        let mapped = self.maps.get(&task)?;
        // A slot of an earlier phase of a map-reduce task is no item any more.
        let item = slot.checked_sub(mapped.base)?;
        (item < mapped.items.len()).then_some((task, item))
    }

    /// The params an item slot's task sees for its item: `(as, text)` (and a product's
    /// names), or a broadcast item's `(system.worker.id, id)`; `None` for a DAG task.
    pub(crate) fn binding(&self, slot: usize) -> Option<Vec<(String, String)>> {
        let (task, item) = self.item_of(slot)?;
        let item = self.maps.get(&task)?.items.get(item)?;
        match self.version.spec.tasks[task].items()? {
            Items::Map(spec) => Some(map::binding(spec, item)),
            Items::Broadcast => Some(vec![broadcast::binding(item)]),
            Items::MapReduce(_) => self.map_reduce_binding(slot),
        }
    }

    /// The worker a slot is pinned to: a broadcast item's; `None` for any other slot.
    pub(crate) fn pinned_worker(&self, slot: usize) -> Option<&str> {
        let (task, _) = self.item_of(slot)?;
        pinned_worker(&self.version.spec.tasks[task], self.maps.get(&task), slot)
    }

    /// Where the slot's queued attempt may run: its pinned worker, or its group.
    pub(crate) fn target_of(&self, slot: usize) -> Target {
        let group = self.overrides.worker_group(self.spec_of(slot));
        Target::of(group, self.pinned_worker(slot))
    }

    /// Makes room for the items of the mapped task at `task`, whose rules are `run`.
    pub(crate) fn add_map(&mut self, task: TaskIndex, run: MapRun, items: Vec<Item>) {
        let base = self.slots.len();
        self.slots.resize(base + items.len(), None);
        self.item_tasks
            .resize(self.item_tasks.len() + items.len(), task);
        let mapped = Mapped {
            run,
            items,
            base,
            held: BTreeSet::new(),
            ended: false,
            phase: None,
        };
        self.maps.insert(task, mapped);
    }

    /// The list the mapped task at `task` goes over, resolved for its row, and its items: a
    /// `map:`'s list, or a broadcast's workers of its group among `live` (`(id, group)`).
    fn expand<'a>(
        &self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        live: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(String, Vec<Item>), String> {
        let spec = &self.version.spec.tasks[task];
        match spec.items() {
            Some(Items::Map(map)) => {
                let list = self.resolve_over(id, task, map)?;
                let items = map::expand(map, &list).map_err(|e| e.to_string())?;
                Ok((list, items))
            }
            Some(Items::Broadcast) => {
                let group = self.overrides.worker_group(spec);
                let workers = broadcast::choose(group, live).map_err(|e| e.to_string())?;
                let list = broadcast::list(&workers);
                let items = broadcast::items(&list).map_err(|e| e.to_string())?;
                Ok((list, items))
            }
            Some(Items::MapReduce(_)) | None => {
                Err("the task has no `map:` and no `broadcast:`".into())
            }
        }
    }

    /// The list a `map:` goes over, resolved for the task's row: its one list, or the list
    /// of its lists' cross product.
    fn resolve_over(
        &self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        map: &baton_core::spec::MapSpec,
    ) -> Result<String, String> {
        let resolve = |text: &str| {
            self.in_scope(id, task, |scope| scope.resolve_text(text))
                .ok_or("the task has no row".to_string())?
                .map_err(|e| format!("map.over: {e}"))
        };
        match &map.over {
            Over::List(text) => resolve(text),
            Over::Product(lists) => {
                let resolved = lists
                    .iter()
                    .map(|(name, text)| Ok((name.clone(), resolve(text)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                map::product(map, &resolved).map_err(|e| e.to_string())
            }
        }
    }

    /// The items' outputs, in list order, as downstream tasks read them.
    pub(crate) fn outputs_of(&self, mapped: &Mapped) -> String {
        let outputs: Vec<BTreeMap<String, String>> = (0..mapped.items.len())
            .map(|i| {
                self.slots[mapped.base + i]
                    .as_ref()
                    .map(|row| row.outputs.clone())
                    .unwrap_or_default()
            })
            .collect();
        map::outputs_list(&outputs)
    }
}

impl Engine {
    /// The first step of a mapped task whose row was just queued: its list is expanded and
    /// its row runs (in this master) until its items are done; a list it cannot go over
    /// fails it, saying why.
    pub(crate) fn start_map(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        t: &mut Tick,
    ) -> Vec<Step> {
        let Some(inst) = self.instances.get(&id) else {
            return Vec::new();
        };
        let broadcast = match inst.version.spec.tasks[task].items() {
            Some(Items::Broadcast) => true,
            Some(Items::MapReduce(_)) => return self.start_map_reduce(id, task, t),
            Some(Items::Map(_)) | None => false,
        };
        if broadcast && !self.workers_known() {
            self.broadcasts_waiting.push((id, task));
            return Vec::new();
        }
        let expanded = inst.expand(id, task, self.dispatcher.live());
        let Some(rules) = item_rules(&inst.version.spec.tasks[task]) else {
            return Vec::new();
        };
        let message = match &expanded {
            Ok((_, items)) => format!("runs {} items", items.len()),
            Err(message) => message.clone(),
        };
        self.begin_map(id, task, &message, t);
        match expanded {
            Ok((list, items)) => {
                let run = MapRun::new(rules, items.len());
                self.map_started(id, task, list, run, items);
                Vec::new()
            }
            Err(message) => self.end_mapped_row(id, task, TaskEnd::Failed, &message, None, t),
        }
    }

    /// Whether this master knows which workers are live: always standalone (its workers are
    /// given), and in a cluster once the registry's view has come.
    fn workers_known(&self) -> bool {
        !self.config.cluster || self.masters.is_some()
    }

    /// Starts the broadcast tasks that waited for the registry's view, once it has come.
    pub(crate) async fn start_waiting_broadcasts(
        &mut self,
        tx: &mut dyn EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        if self.broadcasts_waiting.is_empty() || !self.workers_known() {
            return Ok(());
        }
        for (id, task) in std::mem::take(&mut self.broadcasts_waiting) {
            // A stop meanwhile ended the row (or the instance): nothing to start.
            let waiting = self.instances.get(&id).and_then(|i| i.slots[task].as_ref());
            if waiting.is_none_or(|row| row.state != TaskState::Submitted) {
                continue;
            }
            let steps = self.start_map(id, task, t);
            self.apply(tx, id, steps, t).await?;
        }
        Ok(())
    }

    /// Moves a queued mapped task's row to running, in this master.
    pub(crate) fn begin_map(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        message: &str,
        t: &mut Tick,
    ) {
        let Some(now) = self.attempt(id, task) else {
            return;
        };
        let facts = Facts {
            message: Some(message),
            ..Facts::default()
        };
        let _ = self.carry_out(id, task, now.begin_in_master(), facts, t);
    }

    /// Keeps a mapped task's items in memory and its list on its row; it is stepped next.
    pub(crate) fn map_started(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        list: String,
        run: MapRun,
        items: Vec<Item>,
    ) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        if let Some(row) = inst.slots[task].as_mut() {
            row.map = Some(MapRole::Mapped { list });
            self.writes.touch(row);
        }
        inst.add_map(task, run, items);
        self.map_steps.push((id, task));
    }

    /// Steps every mapped task whose items changed, and carries out what follows.
    pub(crate) async fn step_maps(
        &mut self,
        tx: &mut dyn EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        self.apply_all(tx, Default::default(), t).await
    }

    /// What the rules of a mapped task say now: start items, wait, or end the task. A pause
    /// of the instance reaches the items here (none starts), and the mapped task counts as
    /// held once every active item is.
    pub(crate) async fn step_map(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        task: TaskIndex,
        t: &mut Tick,
    ) -> Result<Vec<Step>, StoreError> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return Ok(Vec::new());
        };
        let paused = inst.run.is_paused();
        let Some(mapped) = inst.maps.get_mut(&task).filter(|m| !m.ended) else {
            return Ok(Vec::new());
        };
        let step = match (paused, mapped.run.is_paused()) {
            (true, false) => {
                mapped.run.pause();
                mapped.run.step()
            }
            (false, true) => mapped.run.resume(),
            _ => mapped.run.step(),
        };
        match step {
            MapStep::Wait => Ok(self.hold_map_if_idle(id, task)),
            MapStep::Start(items) => {
                for item in items {
                    self.start_item(tx, id, task, item, t).await?;
                }
                Ok(Vec::new())
            }
            MapStep::Done(outcome) => Ok(self.end_map(id, task, &outcome, t)),
        }
    }

    /// A paused instance's mapped task with nothing left on a worker is held, as a task
    /// waiting in the queue is: the instance may be paused now.
    fn hold_map_if_idle(&mut self, id: WorkflowInstanceId, task: TaskIndex) -> Vec<Step> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        let idle = inst
            .maps
            .get(&task)
            .is_some_and(|m| m.run.active() == m.held.len());
        if inst.run.is_paused() && idle {
            return inst.run.hold(task);
        }
        Vec::new()
    }

    /// Queues an item: a new row for its first run, or (run again by a recover) its next
    /// attempt with a fresh retry budget.
    async fn start_item(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        task: TaskIndex,
        item: usize,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(base) = self.instances[&id].maps.get(&task).map(|m| m.base) else {
            return Ok(());
        };
        let slot = base + item;
        if let Some(row) = self.instances[&id].slots[slot].as_ref() {
            self.tasks.insert(row.id, (id, slot));
            let reopen = attempt_of(row).reopen();
            let _ = self.carry_out(id, slot, reopen, Facts::default(), t);
            return Ok(());
        }
        let row_id = self.next_task_id(tx).await?;
        let now = self.now();
        let inst = self.instances.get_mut(&id).expect("checked above");
        let spec = &inst.version.spec.tasks[task];
        let index = i64::try_from(item).unwrap_or(i64::MAX);
        let (name, index) = match (inst.pinned_worker(slot), inst.map_reduce_item_name(slot)) {
            (Some(worker), _) => (format!("{}[{worker}]", spec.name), index),
            (None, Some((name, index))) => (format!("{}[{name}]", spec.name), index),
            (None, None) => (format!("{}[{item}]", spec.name), index),
        };
        let mut row = crate::steps::new_row(row_id, id, &name, TaskState::Submitted, now);
        row.task_group = spec.task_group.clone();
        row.map = Some(MapRole::Item {
            task: spec.name.clone(),
            index,
        });
        self.writes.touch(&row);
        inst.slots[slot] = Some(row);
        self.tasks.insert(row_id, (id, slot));
        self.enqueue(id, slot);
        Ok(())
    }

    /// An item's attempt ended for good: recorded for its mapped task, stepped by `apply`.
    pub(crate) fn item_ended(&mut self, id: WorkflowInstanceId, slot: usize) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        let Some((task, item)) = inst.item_of(slot) else {
            return;
        };
        let Some(state) = inst.slots[slot].as_ref().map(|row| row.state) else {
            return;
        };
        if let Some(mapped) = inst.maps.get_mut(&task) {
            mapped.run.record(item, state);
            mapped.held.remove(&item);
        }
        self.map_steps.push((id, task));
    }

    /// The mapped task's items are done: its row ends as their outcome says, with the list
    /// of their outputs when they all succeeded.
    fn end_map(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        outcome: &MapOutcome,
        t: &mut Tick,
    ) -> Vec<Step> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        let Some(mapped) = inst.maps.get_mut(&task) else {
            return Vec::new();
        };
        mapped.ended = true;
        let inst = &self.instances[&id];
        if matches!(
            inst.version.spec.tasks[task].items(),
            Some(Items::MapReduce(_))
        ) {
            return self.end_map_reduce(id, task, outcome, t);
        }
        let (end, outputs) = match outcome {
            MapOutcome::Succeeded { .. } => {
                let name = &inst.version.spec.tasks[task].name;
                let list = inst.outputs_of(&inst.maps[&task]);
                let outputs = BTreeMap::from([(map::outputs_param(name), list)]);
                (TaskEnd::Succeeded, Some(outputs))
            }
            MapOutcome::Failed { .. } => (TaskEnd::Failed, None),
            MapOutcome::Killed { .. } => (TaskEnd::Killed, None),
        };
        let message = match inst.version.spec.tasks[task].items() {
            Some(Items::Broadcast) => {
                let mapped = &inst.maps[&task];
                outcome.message_naming(|i| {
                    mapped
                        .items
                        .get(i)
                        .map_or_else(|| i.to_string(), |item| broadcast::worker(item).to_string())
                })
            }
            Some(Items::Map(_) | Items::MapReduce(_)) | None => outcome.message(),
        };
        self.end_mapped_row(id, task, end, &message, outputs, t)
    }

    /// Ends a mapped task's row (in this master: no retry, its items had theirs).
    pub(crate) fn end_mapped_row(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        end: TaskEnd,
        message: &str,
        outputs: Option<BTreeMap<String, String>>,
        t: &mut Tick,
    ) -> Vec<Step> {
        let Some(row) = self.instances.get(&id).and_then(|i| i.slots[task].as_ref()) else {
            return Vec::new();
        };
        let now = self.now();
        let facts = Facts {
            at: Some(now),
            started_at: row.started_at.or(Some(now)),
            message: Some(message),
            outputs,
            ..Facts::default()
        };
        let change = attempt_of(row).end_in_master(end);
        self.carry_out(id, task, change, facts, t)
    }

    /// A stop (or the failure strategy) kills a mapped task: items not started never will,
    /// active ones are killed, and the task ends once their kills are reported.
    pub(crate) fn kill_map(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        t: &mut Tick,
    ) -> Vec<Step> {
        let Some(mapped) = self
            .instances
            .get_mut(&id)
            .and_then(|i| i.maps.get_mut(&task))
            .filter(|m| !m.ended)
        else {
            return Vec::new();
        };
        let base = mapped.base;
        let active = mapped.run.stop();
        let mut steps = Vec::new();
        for item in active {
            steps.extend(self.kill_attempt(id, base + item, t));
        }
        self.map_steps.push((id, task));
        steps
    }

    /// A resumed instance queues the items its pause held, and its mapped tasks go on.
    pub(crate) fn release_items(&mut self, id: WorkflowInstanceId, t: &mut Tick) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        let mut slots = Vec::new();
        for (task, mapped) in inst.maps.iter_mut().filter(|(_, m)| !m.ended) {
            slots.extend(
                std::mem::take(&mut mapped.held)
                    .into_iter()
                    .map(|i| mapped.base + i),
            );
            self.map_steps.push((id, *task));
        }
        for slot in slots {
            let Some(now) = self.attempt(id, slot) else {
                continue;
            };
            let _ = self.carry_out(id, slot, now.release(), Facts::default(), t);
        }
    }

    /// A pause held one of a mapped task's items: counted, and the task stepped.
    pub(crate) fn item_held(&mut self, id: WorkflowInstanceId, slot: usize) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        let Some((task, item)) = inst.item_of(slot) else {
            return;
        };
        if let Some(mapped) = inst.maps.get_mut(&task) {
            mapped.held.insert(item);
        }
        self.map_steps.push((id, task));
    }
}

/// The rules the items of `spec` run under; `None` for a task without items.
pub(crate) fn item_rules(spec: &TaskSpec) -> Option<ItemRules> {
    match spec.items()? {
        Items::Map(map) => Some(map.rules()),
        Items::Broadcast => Some(broadcast::rules()),
        Items::MapReduce(mr) => Some(baton_core::run::map_reduce::rules(
            mr,
            baton_core::spec::map_reduce::Phase::Run,
        )),
    }
}

/// The items of a task's kept list (a `map:`'s list, a broadcast's workers), as when it
/// expanded it; `None` when the list cannot be read again (a hand-edited store).
pub(crate) fn kept_items(spec: &TaskSpec, list: &str) -> Option<Vec<Item>> {
    match spec.items()? {
        Items::Map(map) => map::expand(map, list).ok(),
        Items::Broadcast => broadcast::items(list).ok(),
        Items::MapReduce(_) => baton_core::run::map_reduce::items(list),
    }
}

/// The worker the item at `slot` of the task `spec` (whose items are `mapped`) is pinned
/// to: a broadcast item's; `None` for a mapped task's.
pub(crate) fn pinned_worker<'a>(
    spec: &TaskSpec,
    mapped: Option<&'a Mapped>,
    slot: usize,
) -> Option<&'a str> {
    match spec.items()? {
        Items::Broadcast => {
            let mapped = mapped?;
            let item = mapped.items.get(slot.checked_sub(mapped.base)?)?;
            Some(broadcast::worker(item))
        }
        Items::Map(_) | Items::MapReduce(_) => None,
    }
}
