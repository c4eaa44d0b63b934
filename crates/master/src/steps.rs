//! Carrying out the steps of an instance's state machine ([`baton_core::run`]): a task to run,
//! to kill, to skip; the instance paused or finished. Each step may lead to more (a logic task
//! that decides at once, a kill of a task that was not on a worker), carried out in turn.

use crate::attempts::Facts;
use crate::engine::{Engine, Tick};
use crate::events::RunEvent;
use baton_core::attempt::Change;
use baton_core::dag::TaskIndex;
use baton_core::run::Step;
use baton_core::{EventKind, TaskInstanceId, TaskState, WorkflowInstanceId, WorkflowState};
use baton_store::{CommandKind, EngineTx, StoreError, TaskInstanceRecord};
use std::collections::{BTreeMap, VecDeque};

/// A new task instance row in `state`, for the task named `name`.
pub(crate) fn new_row(
    id: TaskInstanceId,
    instance: WorkflowInstanceId,
    name: &str,
    state: TaskState,
    now: i64,
) -> TaskInstanceRecord {
    TaskInstanceRecord {
        id,
        workflow_instance_id: instance,
        task_name: name.to_string(),
        state,
        attempt: 1,
        retries_used: 0,
        worker: None,
        submitted_at: now,
        started_at: None,
        ended_at: None,
        exit_code: None,
        message: None,
        next_retry_at: None,
        outputs: BTreeMap::new(),
        task_group: None,
        map: None,
    }
}

impl Engine {
    /// Carries out the steps of an instance's state machine, and those they lead to.
    pub(crate) async fn apply(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        steps: Vec<Step>,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let pending = steps.into_iter().map(|step| (id, step)).collect();
        self.apply_all(tx, pending, t).await
    }

    /// Carries out steps of any instances, and what they lead to, until none is left: the
    /// steps of mapped tasks whose items changed (`map_steps`) included.
    pub(crate) async fn apply_all(
        &mut self,
        tx: &mut dyn EngineTx,
        mut pending: VecDeque<(WorkflowInstanceId, Step)>,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        loop {
            while let Some((id, step)) = pending.pop_front() {
                if !self.instances.contains_key(&id) {
                    continue;
                }
                let more = match step {
                    Step::Run(index) => self.run_step(tx, id, index, t).await?,
                    Step::Kill(index) => self.kill_step(tx, id, index, t).await?,
                    Step::Skip(index) => self.skip_step(tx, id, index).await?,
                    Step::Paused => self.paused_step(tx, id).await?,
                    Step::Finish(state) => self.finish_step(tx, id, state, t).await?,
                };
                pending.extend(more.into_iter().map(|step| (id, step)));
            }
            let Some((id, task)) = self.map_steps.pop() else {
                return Ok(());
            };
            let more = self.step_map(tx, id, task, t).await?;
            pending.extend(more.into_iter().map(|step| (id, step)));
        }
    }

    /// The task's first attempt: queued for a worker, or (a logic task) begun here.
    async fn run_step(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: TaskIndex,
        t: &mut Tick,
    ) -> Result<Vec<Step>, StoreError> {
        let task = self.next_task_id(tx).await?;
        let now = self.now();
        let inst = self.instances.get_mut(&id).expect("checked by apply");
        let spec = &inst.version.spec.tasks[index];
        let mut row = new_row(task, id, &spec.name, TaskState::Submitted, now);
        row.task_group = spec.task_group.clone();
        self.writes.touch(&row);
        inst.slots[index] = Some(row);
        self.tasks.insert(task, (id, index));
        if spec.kind.is_logic() {
            return self.start_logic(tx, id, index, t).await;
        }
        if spec.items().is_some() {
            return Ok(self.start_map(id, index, t));
        }
        self.enqueue(id, index);
        Ok(Vec::new())
    }

    /// Kills the task's attempt: a logic task ends its own way; an attempt on a worker is sent
    /// a kill; one that is not on a worker is cancelled here.
    async fn kill_step(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: TaskIndex,
        t: &mut Tick,
    ) -> Result<Vec<Step>, StoreError> {
        let inst = &self.instances[&id];
        if inst.maps.contains_key(&index) {
            return Ok(self.kill_map(id, index, t));
        }
        if inst.version.spec.tasks[index].kind.is_logic() {
            if let Some(steps) = self.kill_logic(tx, id, index, t).await? {
                return Ok(steps);
            }
        }
        Ok(self.kill_attempt(id, index, t))
    }

    /// Kills the current attempt of a slot: one on a worker is sent a kill, one that is not
    /// is cancelled here.
    pub(crate) fn kill_attempt(
        &mut self,
        id: WorkflowInstanceId,
        index: usize,
        t: &mut Tick,
    ) -> Vec<Step> {
        let Some(attempt) = self.attempt(id, index) else {
            return Vec::new();
        };
        let change = attempt.kill();
        if matches!(change, Change::Ended { .. }) {
            if let Some(slot) = self.instances[&id].slots[index].as_ref() {
                self.dispatcher.dequeue(slot.id);
            }
        }
        let facts = Facts {
            message: Some("cancelled before it ran"),
            ..Facts::default()
        };
        self.carry_out(id, index, change, facts, t)
    }

    /// Records a task on a branch not taken (or after skipped tasks only) as skipped.
    async fn skip_step(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: TaskIndex,
    ) -> Result<Vec<Step>, StoreError> {
        let task = self.next_task_id(tx).await?;
        let now = self.now();
        let inst = self.instances.get_mut(&id).expect("checked by apply");
        let name = &inst.version.spec.tasks[index].name;
        let mut row = new_row(task, id, name, TaskState::Skipped, now);
        row.attempt = 0;
        row.ended_at = Some(now);
        row.message = Some("not run: on a branch not taken".into());
        self.writes.touch(&row);
        inst.slots[index] = Some(row);
        Ok(Vec::new())
    }

    /// A pausing instance has nothing running any more: it is paused.
    async fn paused_step(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
    ) -> Result<Vec<Step>, StoreError> {
        let inst = self.instances.get_mut(&id).expect("checked by apply");
        let Ok(to) = inst.state.paused() else {
            return Ok(Vec::new());
        };
        inst.state = to;
        let epoch = inst.epoch;
        tx.set_instance_state(id, to, self.lease(epoch)).await?;
        let message = format!("workflow instance {id} paused");
        self.instance_event(id, EventKind::InstancePaused, message, None);
        Ok(Vec::new())
    }

    /// The instance is over: recorded, its parent told, and it leaves this master.
    async fn finish_step(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        state: WorkflowState,
        t: &mut Tick,
    ) -> Result<Vec<Step>, StoreError> {
        if let Some(parent) = self.instances[&id].parent {
            tx.queue_command(CommandKind::ChildEnded, parent).await?;
        }
        self.after_scheduled_end(tx, id).await?;
        let Some(inst) = self.instances.get(&id) else {
            return Ok(Vec::new());
        };
        let epoch = inst.epoch;
        tx.finish_instance(id, state, self.now(), Some(self.lease(epoch)))
            .await?;
        self.instance_ended(id, state);
        self.instances.remove(&id);
        t.published.push(RunEvent::InstanceFinished {
            instance: id,
            state,
        });
        Ok(Vec::new())
    }
}
