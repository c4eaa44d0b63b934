//! Map-reduce tasks (`map_reduce:`) in the engine. The task's row runs in this master, as a
//! mapped task's does (`mapping.rs`), through three phases, each a [`Mapped`] of its own
//! whose items are task instances in slots after the DAG's: the split step (`crunch[split]`,
//! the task's own script, whose worker reports the sub-tasks it added), one item per
//! sub-task (`crunch[NAME]`, running `run` with `${subtask.name}` and `${subtask.args}`),
//! then the reduce (`crunch[reduce]`, running `reduce` with `${subtasks.outputs}`). A phase
//! that ends well starts the next; the task ends with the reduce's outcome and outputs, or
//! with the first phase that did not succeed. The rules are `baton_core::run::map_reduce`'s.
//!
//! The row keeps the sub-tasks' list once the split succeeded (`MapRole::Mapped`, empty
//! before), and each item's row says its place (`SPLIT_INDEX`, a sub-task's index,
//! `REDUCE_INDEX`): a restarted master finds the phase from them (`recovery.rs`).

use crate::engine::{Engine, Inst, Tick};
use baton_core::attempt::TaskEnd;
use baton_core::dag::TaskIndex;
use baton_core::params::Subtask;
use baton_core::run::map::{Item, MapOutcome, MapRun};
use baton_core::run::map_reduce as rules;
use baton_core::run::Step;
use baton_core::spec::map_reduce::Phase;
use baton_core::spec::{Items, MapReduceSpec, TaskSpec};
use baton_core::WorkflowInstanceId;
use baton_store::MapRole;

/// The map-reduce spec of the task at `task`, if it is one.
pub(crate) fn spec_of(spec: &TaskSpec) -> Option<&MapReduceSpec> {
    match spec.items()? {
        Items::MapReduce(mr) => Some(mr),
        Items::Map(_) | Items::Broadcast => None,
    }
}

/// A phase's items, ready to run: every item waits.
pub(crate) fn phase_map(
    mr: &MapReduceSpec,
    phase: Phase,
    items: Vec<Item>,
    reduce_input: String,
) -> (MapRun, Vec<Item>, Option<(Phase, String)>) {
    let run = MapRun::new(rules::rules(mr, phase), items.len());
    (run, items, Some((phase, reduce_input)))
}

impl Inst {
    /// The phase of the map-reduce item at `slot`, with its task's spec and its item.
    fn phase_of(&self, slot: usize) -> Option<(&MapReduceSpec, Phase, &Item)> {
        let (task, item) = self.item_of(slot)?;
        let mr = spec_of(&self.version.spec.tasks[task])?;
        let mapped = self.maps.get(&task)?;
        let (phase, _) = mapped.phase.as_ref()?;
        Some((mr, *phase, mapped.items.get(item)?))
    }

    /// What the map-reduce item at `slot` runs: the task with the script of its phase;
    /// `None` for any other slot (it runs its task as written).
    pub(crate) fn phase_task(&self, slot: usize) -> Option<TaskSpec> {
        let (mr, phase, _) = self.phase_of(slot)?;
        Some(mr.task_of(self.spec_of(slot), phase))
    }

    /// Whether the slot is a map-reduce task's split step, whose worker collects the
    /// sub-tasks it adds.
    pub(crate) fn is_split(&self, slot: usize) -> bool {
        matches!(self.phase_of(slot), Some((_, Phase::Split, _)))
    }

    /// The params a map-reduce item sees; `None` for any other slot.
    pub(crate) fn map_reduce_binding(&self, slot: usize) -> Option<Vec<(String, String)>> {
        let (task, _) = self.item_of(slot)?;
        let (_, phase, item) = self.phase_of(slot)?;
        let (_, input) = self.maps.get(&task)?.phase.as_ref()?;
        Some(rules::binding(phase, item, input))
    }

    /// A map-reduce item's name between its task's brackets and its row's place.
    pub(crate) fn map_reduce_item_name(&self, slot: usize) -> Option<(String, i64)> {
        let (_, item) = self.item_of(slot)?;
        let (_, phase, it) = self.phase_of(slot)?;
        Some(rules::item_name(phase, it, item))
    }
}

impl Engine {
    /// The first step of a map-reduce task whose row was just queued: its row runs here,
    /// and its split step is queued as its first item.
    pub(crate) fn start_map_reduce(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        t: &mut Tick,
    ) -> Vec<Step> {
        let Some(mr) = self
            .instances
            .get(&id)
            .and_then(|i| spec_of(&i.version.spec.tasks[task]).cloned())
        else {
            return Vec::new();
        };
        self.begin_map(id, task, "runs its split step", t);
        let (run, items, phase) = phase_map(
            &mr,
            Phase::Split,
            rules::single(Phase::Split),
            String::new(),
        );
        self.map_started(id, task, String::new(), run, items);
        if let Some(mapped) = self
            .instances
            .get_mut(&id)
            .and_then(|i| i.maps.get_mut(&task))
        {
            mapped.phase = phase;
        }
        Vec::new()
    }

    /// A split step at `slot` succeeded and reported its sub-tasks: checked, and kept on its
    /// task's row for the next phase; or the reason its attempt fails instead.
    pub(crate) fn split_reported(
        &mut self,
        id: WorkflowInstanceId,
        slot: usize,
        reported: Vec<baton_proto::Subtask>,
    ) -> Result<(), String> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return Ok(());
        };
        let Some((task, _)) = inst.item_of(slot) else {
            return Ok(());
        };
        let Some(mr) = spec_of(&inst.version.spec.tasks[task]) else {
            return Ok(());
        };
        let reported = reported
            .into_iter()
            .map(|s| Subtask {
                name: s.name,
                args: s.args,
            })
            .collect();
        let subtasks = rules::check_subtasks(mr, reported).map_err(|e| e.to_string())?;
        if let Some(row) = inst.slots[task].as_mut() {
            row.map = Some(MapRole::Mapped {
                list: rules::list(&subtasks),
            });
            self.writes.touch(row);
        }
        Ok(())
    }

    /// A phase of a map-reduce task ended: the next one starts, or the task ends.
    pub(crate) fn end_map_reduce(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        outcome: &MapOutcome,
        t: &mut Tick,
    ) -> Vec<Step> {
        let Some(inst) = self.instances.get(&id) else {
            return Vec::new();
        };
        let Some(mr) = spec_of(&inst.version.spec.tasks[task]).cloned() else {
            return Vec::new();
        };
        let Some(mapped) = inst.maps.get(&task) else {
            return Vec::new();
        };
        let Some((phase, _)) = mapped.phase.clone() else {
            return Vec::new();
        };
        let row_of = |i: usize| inst.slots.get(mapped.base + i).and_then(|s| s.as_ref());
        if !matches!(outcome, MapOutcome::Succeeded { .. }) {
            let why = row_of(0).and_then(|r| r.message.as_deref());
            let message = rules::failure_message(phase, outcome, why, |i| {
                mapped
                    .items
                    .get(i)
                    .map_or_else(|| i.to_string(), |it| it.text.clone())
            });
            let end = match outcome {
                MapOutcome::Killed { .. } => TaskEnd::Killed,
                MapOutcome::Failed { .. } | MapOutcome::Succeeded { .. } => TaskEnd::Failed,
            };
            return self.end_mapped_row(id, task, end, &message, None, t);
        }
        let kept = inst.slots[task].as_ref().and_then(|r| match &r.map {
            Some(MapRole::Mapped { list }) => rules::items(list),
            Some(MapRole::Item { .. }) | None => None,
        });
        match (phase, kept) {
            (Phase::Split, Some(items)) if items.is_empty() => {
                self.next_phase(id, task, &mr, reduce("[]".into()))
            }
            (Phase::Split, Some(items)) => {
                self.next_phase(id, task, &mr, (Phase::Run, items, String::new()))
            }
            (Phase::Split, None) => {
                let message = "the split step succeeded but its sub-tasks, kept on the task's row, cannot be read";
                self.end_mapped_row(id, task, TaskEnd::Failed, message, None, t)
            }
            (Phase::Run, _) => {
                let outputs = inst.outputs_of(mapped);
                self.next_phase(id, task, &mr, reduce(outputs))
            }
            (Phase::Reduce, kept) => {
                let message = rules::success_message(kept.map_or(0, |l| l.len()));
                let outputs = row_of(0).map(|r| r.outputs.clone());
                self.end_mapped_row(id, task, TaskEnd::Succeeded, &message, outputs, t)
            }
        }
    }

    /// Starts a map-reduce task's next phase with these items (`input`: the reduce's
    /// `${subtasks.outputs}`).
    fn next_phase(
        &mut self,
        id: WorkflowInstanceId,
        task: TaskIndex,
        mr: &MapReduceSpec,
        (phase, items, input): (Phase, Vec<Item>, String),
    ) -> Vec<Step> {
        let message = match phase {
            Phase::Run => format!("runs {} sub-tasks", items.len()),
            Phase::Split | Phase::Reduce => "runs its reduce".to_string(),
        };
        let (run, items, phase) = phase_map(mr, phase, items, input);
        let Some(inst) = self.instances.get_mut(&id) else {
            return Vec::new();
        };
        inst.add_map(task, run, items);
        if let Some(mapped) = inst.maps.get_mut(&task) {
            mapped.phase = phase;
        }
        if let Some(row) = inst.slots[task].as_mut() {
            row.message = Some(message);
            self.writes.touch(row);
        }
        self.map_steps.push((id, task));
        Vec::new()
    }
}

/// The reduce phase, with `input` as its `${subtasks.outputs}`.
fn reduce(input: String) -> (Phase, Vec<Item>, String) {
    (Phase::Reduce, rules::single(Phase::Reduce), input)
}

/// A restored map-reduce task's phase, its items and the reduce's input, from what the
/// store holds: its row's kept list and its items' rows; `None` when the list cannot be
/// read.
pub(crate) fn restored(
    list: &str,
    rows: &[crate::engine::Slot],
) -> Option<(Phase, Vec<Item>, String)> {
    let reduce_row = rows.iter().any(|row| place_of(row) == rules::REDUCE_INDEX);
    let phase = restored_phase(list, reduce_row);
    let subtasks = match phase {
        Phase::Split => Vec::new(),
        Phase::Run | Phase::Reduce => rules::items(list)?,
    };
    let (items, input) = restored_items(phase, subtasks, rows);
    Some((phase, items, input))
}

/// An item row's place among its task's items (`i64::MIN` for a row that is no item).
pub(crate) fn place_of(row: &crate::engine::Slot) -> i64 {
    match row.map {
        Some(MapRole::Item { index, .. }) => index,
        Some(MapRole::Mapped { .. }) | None => i64::MIN,
    }
}

/// A restored map-reduce task's phase, from its row's kept list (`list`: empty before its
/// split succeeded) and whether its reduce has a row.
fn restored_phase(list: &str, reduce_row: bool) -> Phase {
    match (list.is_empty(), reduce_row) {
        (true, _) => Phase::Split,
        (false, false) => Phase::Run,
        (false, true) => Phase::Reduce,
    }
}

/// A restored phase's items (`subtasks`: the kept list's, for the sub-tasks' phase) and the
/// reduce's input, rebuilt from the sub-tasks' rows among `rows` (the task's item rows).
fn restored_items(
    phase: Phase,
    subtasks: Vec<Item>,
    rows: &[crate::engine::Slot],
) -> (Vec<Item>, String) {
    match phase {
        Phase::Split => (rules::single(Phase::Split), String::new()),
        Phase::Run => (subtasks, String::new()),
        Phase::Reduce => {
            let mut outputs = vec![std::collections::BTreeMap::new(); subtasks.len()];
            for row in rows {
                if let Some(MapRole::Item { index, .. }) = &row.map {
                    let at = usize::try_from(*index).ok();
                    if let Some(slot) = at.and_then(|i| outputs.get_mut(i)) {
                        *slot = row.outputs.clone();
                    }
                }
            }
            let input = baton_core::run::map::outputs_list(&outputs);
            (rules::single(Phase::Reduce), input)
        }
    }
}

/// Which item of a restored phase (of `len` items) the row at `place` among the task's
/// items is; `None` for a row of another phase.
pub(crate) fn item_at(phase: Phase, place: i64, len: usize) -> Option<usize> {
    match phase {
        Phase::Split => (place == rules::SPLIT_INDEX).then_some(0),
        Phase::Reduce => (place == rules::REDUCE_INDEX).then_some(0),
        Phase::Run => usize::try_from(place).ok().filter(|i| *i < len),
    }
}
