//! The commands a master takes from the store (start, stop, pause, resume, recover, a child's
//! end), one function each. A command about an instance another master runs is forwarded to
//! it; one about an instance nobody runs yet waits in the queue.

use crate::engine::{outside_scope, Engine, Inst, Tick};
use crate::events::RunEvent;
use crate::lifecycle;
use baton_core::run::InstanceRun;
use baton_core::{EventKind, WorkflowInstanceId, WorkflowState};
use baton_store::{Command, CommandKind, EngineTx, InstanceRecord, Lease, StoreError};

impl Engine {
    /// Carries out one command.
    pub(crate) async fn command(
        &mut self,
        tx: &mut dyn EngineTx,
        command: Command,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let id = command.instance;
        match command.kind {
            CommandKind::Start => self.start_command(tx, id, t).await,
            CommandKind::Recover => self.recover_instance(tx, id, t).await,
            CommandKind::ChildEnded => self.child_ended_command(tx, id, t).await,
            CommandKind::Pause => self.pause_command(tx, id, true, t).await,
            CommandKind::Resume => self.pause_command(tx, id, false, t).await,
            CommandKind::Stop => self.stop_command(tx, id, t).await,
        }
    }

    /// Takes a submitted instance and starts running it, under a new epoch.
    async fn start_command(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(record) = tx.instance(id).await? else {
            return Ok(());
        };
        if record.state != WorkflowState::Submitted {
            tracing::warn!("start of instance {id} ignored: it is {}", record.state);
            return Ok(());
        }
        let version = self
            .specs
            .get(&*self.store, record.workflow_id, record.version)
            .await?;
        let epoch = record.epoch + 1;
        let now = self.now();
        if !tx.start_instance(id, self.lease(epoch), now).await? {
            return Ok(());
        }
        let dag = version.dag.clone();
        let strategy = record.overrides.failure_strategy(&version.spec);
        let run = match &record.only_tasks {
            None => InstanceRun::new(dag, strategy),
            // Started from a task: the others count as done.
            Some(only) => {
                InstanceRun::restore(dag.clone(), strategy, outside_scope(&dag, only), false)
            }
        };
        let started = format!("workflow {} instance {id} started", record.name);
        let event = lifecycle::of_record(&record, EventKind::InstanceStarted, now, started);
        self.writes.events.push(event);
        let inst = Inst {
            name: record.name,
            slots: vec![None; version.dag.len()],
            version,
            params: record.params,
            priority: record.priority,
            state: WorkflowState::Running,
            epoch,
            schedule_time: record.schedule_time.unwrap_or(now),
            started_at: now,
            schedule_id: record.schedule_id,
            parent: record.parent_instance_id,
            overrides: record.overrides,
            run,
            maps: Default::default(),
            item_tasks: Vec::new(),
        };
        self.resume(tx, id, inst, t).await
    }

    /// A child instance of one of the instance's sub_workflow tasks has ended.
    async fn child_ended_command(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        if self.instances.contains_key(&id) {
            return self.children_ended(tx, id, t).await;
        }
        if let Some(owner) = tx.instance(id).await?.and_then(|r| r.owner) {
            if owner != self.config.id {
                tx.forward_command(CommandKind::ChildEnded, id, &owner)
                    .await?;
            }
        }
        Ok(())
    }

    /// Pauses (`pause`) or resumes an instance this master runs; passes it to its children.
    async fn pause_command(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        pause: bool,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let kind = if pause {
            CommandKind::Pause
        } else {
            CommandKind::Resume
        };
        let Some(inst) = self.instances.get_mut(&id) else {
            return self.pass_on(tx, id, kind).await;
        };
        let to = if pause {
            inst.state.pause()
        } else {
            inst.state.resume()
        };
        let Ok(to) = to else {
            return Ok(());
        };
        let resumed = !pause && inst.state != to;
        inst.state = to;
        let epoch = inst.epoch;
        tx.set_instance_state(id, to, self.lease(epoch)).await?;
        if resumed {
            let message = format!("workflow instance {id} resumed");
            self.instance_event(id, EventKind::InstanceResumed, message, None);
        }
        let steps = if pause {
            let mut steps = self.instances.get_mut(&id).map(|i| i.run.pause());
            steps
                .get_or_insert_with(Vec::new)
                .extend(self.hold_waiting(id));
            steps.unwrap_or_default()
        } else {
            let steps = self.instances.get_mut(&id).map(|i| i.run.resume());
            self.release_held(id);
            steps.unwrap_or_default()
        };
        self.pass_to_children(tx, id, kind).await?;
        self.apply(tx, id, steps, t).await
    }

    /// A command about an instance this master does not run: its owner gets it, or (a child
    /// whose start another master is taking right now) it waits in the queue.
    async fn pass_on(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        kind: CommandKind,
    ) -> Result<(), StoreError> {
        let Some(record) = tx.instance(id).await? else {
            return Ok(());
        };
        match record.owner {
            Some(owner) if owner != self.config.id => tx.forward_command(kind, id, &owner).await,
            None if record.state == WorkflowState::Submitted => tx.queue_command(kind, id).await,
            Some(_) | None => Ok(()),
        }
    }

    /// Stops an instance: one this master runs kills its tasks; a submitted one ends at once;
    /// one another master runs gets the stop forwarded.
    async fn stop_command(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(inst) = self.instances.get_mut(&id) else {
            return self.stop_elsewhere(tx, id, t).await;
        };
        if let Ok(to) = inst.state.stop() {
            if to != inst.state {
                inst.state = to;
                let epoch = inst.epoch;
                tx.set_instance_state(id, to, self.lease(epoch)).await?;
            }
        }
        let steps = match self.instances.get_mut(&id) {
            Some(inst) => inst.run.stop(),
            None => Vec::new(),
        };
        self.apply(tx, id, steps, t).await
    }

    /// A stop of an instance this master does not run.
    async fn stop_elsewhere(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(record) = tx.instance(id).await? else {
            return Ok(());
        };
        match (record.state, record.owner.as_deref()) {
            (WorkflowState::Submitted, _) => self.stop_before_start(tx, &record, t).await,
            (state, Some(owner)) if !state.is_final() && owner != self.config.id => {
                tx.forward_command(CommandKind::Stop, id, owner).await
            }
            _ => Ok(()),
        }
    }

    /// A submitted instance stopped before any master took it.
    async fn stop_before_start(
        &mut self,
        tx: &mut dyn EngineTx,
        record: &InstanceRecord,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let (id, now) = (record.id, self.now());
        tx.finish_instance(id, WorkflowState::Stopped, now, None)
            .await?;
        let message = "stopped before it started".to_string();
        let event = lifecycle::of_record(record, EventKind::InstanceStopped, now, message);
        self.writes.events.push(event);
        t.published.push(RunEvent::InstanceFinished {
            instance: id,
            state: WorkflowState::Stopped,
        });
        Ok(())
    }

    /// The lease under which this master writes about an instance it owns under `epoch`.
    pub(crate) fn lease(&self, epoch: i64) -> Lease<'_> {
        Lease {
            owner: &self.config.id,
            epoch,
        }
    }
}
