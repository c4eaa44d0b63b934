//! The seam between the master's engine and the store: everything one engine tick reads and
//! writes, as two traits. [`EngineStore`] is the store as the engine holds it (it begins
//! transactions and reads what a tick needs outside one); [`EngineTx`] is one tick's
//! transaction. The SQL store ([`crate::Store`], SQLite and PostgreSQL) implements both,
//! and so does the in-memory store of the engine's unit tests ([`crate::memory`]), so that
//! the engine's rules can be driven without a database as well as on one.
//!
//! A tick's writes become visible together at [`EngineTx::commit`], or not at all.

use crate::backfills::BackfillRecord;
use crate::datasources::DataSourceRecord;
use crate::engine::{Adopted, Command, CommandKind, Lease, SqlEngineTx};
use crate::events::NewEvent;
use crate::logic::{DependencyQuery, NewChild};
use crate::records::{AttemptRecord, InstanceRecord, TaskInstanceRecord, WorkflowRecord};
use crate::schedules::{DueSchedule, FireOutcome, PlannedFire};
use crate::secrets::SecretRecord;
use crate::{Store, StoreError};
use async_trait::async_trait;
use baton_core::{EventKind, TaskInstanceId, WorkflowId, WorkflowInstanceId, WorkflowState};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

/// The store as the master's engine holds it.
#[async_trait]
pub trait EngineStore: Send + Sync {
    /// Starts one tick's transaction.
    async fn begin(&self) -> Result<Box<dyn EngineTx>, StoreError>;

    /// Instances a master must resume: running, stopping, pausing or paused, owned by
    /// `owner`, or by anyone when `owner` is `None` (standalone).
    async fn active_instances(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<InstanceRecord>, StoreError>;

    /// The earliest next fire of any online schedule (µs), for the engine's timer.
    async fn next_fire_due(&self) -> Result<Option<i64>, StoreError>;

    /// A workflow by project and name, at `version` (`None`: its latest).
    async fn get_workflow(
        &self,
        project: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<WorkflowRecord>, StoreError>;

    /// A workflow's latest version, by id.
    async fn get_latest_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Option<WorkflowRecord>, StoreError>;

    /// One version of a workflow, by id.
    async fn get_workflow_version(
        &self,
        id: WorkflowId,
        version: i64,
    ) -> Result<Option<WorkflowRecord>, StoreError>;
}

/// One engine tick's transaction: dropped or rolled back, nothing of it is written.
#[async_trait]
pub trait EngineTx: Send {
    // Commands.

    /// Takes up to `limit` commands meant for `me` or for any master, oldest first; they are
    /// gone once this commits (on PostgreSQL, those another master is taking are skipped).
    async fn take_commands(&mut self, me: &str, limit: i64) -> Result<Vec<Command>, StoreError>;

    /// Queues a command for an instance, for whichever master runs it.
    async fn queue_command(
        &mut self,
        kind: CommandKind,
        id: WorkflowInstanceId,
    ) -> Result<(), StoreError>;

    /// Queues a command again, for the master `target` (a stop that reached a master that
    /// does not own the instance).
    async fn forward_command(
        &mut self,
        kind: CommandKind,
        instance: WorkflowInstanceId,
        target: &str,
    ) -> Result<(), StoreError>;

    // Instances and their ownership.

    /// An instance, as this transaction sees it.
    async fn instance(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Option<InstanceRecord>, StoreError>;

    /// A submitted instance starts, owned by `lease`, at `now` (µs). False when it is not
    /// submitted any more.
    async fn start_instance(
        &mut self,
        id: WorkflowInstanceId,
        lease: Lease<'_>,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Opens an ended (failed or stopped) instance again, owned by `lease`. False when it is
    /// not failed or stopped.
    async fn reopen_instance(
        &mut self,
        id: WorkflowInstanceId,
        lease: Lease<'_>,
    ) -> Result<bool, StoreError>;

    /// Records a state that is not an end, if `lease` still owns the instance
    /// ([`StoreError::Fenced`] otherwise).
    async fn set_instance_state(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        lease: Lease<'_>,
    ) -> Result<(), StoreError>;

    /// Records the end of an instance at `now`, if `lease` still owns it (`None`: one that
    /// never started, stopped before any master took it).
    async fn finish_instance(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        now: i64,
        lease: Option<Lease<'_>>,
    ) -> Result<(), StoreError>;

    /// Which of these instances are no longer owned by `owner` under the epoch given; those
    /// still owned stay so until the commit.
    async fn verify_leases(
        &mut self,
        owner: &str,
        leases: &[(WorkflowInstanceId, i64)],
    ) -> Result<Vec<WorkflowInstanceId>, StoreError>;

    /// Takes over the active instances whose owner is not among `live_masters`, each under a
    /// higher epoch, with the commands meant for their old owners.
    async fn adopt_orphans(
        &mut self,
        owner: &str,
        live_masters: &[String],
    ) -> Result<Vec<Adopted>, StoreError>;

    // Task instances, attempts and events.

    /// The task instances of an instance.
    async fn task_instances(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError>;

    /// The task instances of an instance that have an event of `kind` recorded.
    async fn tasks_with_event(
        &mut self,
        id: WorkflowInstanceId,
        kind: EventKind,
    ) -> Result<HashSet<TaskInstanceId>, StoreError>;

    /// Reserves `count` task instance ids, so that the engine names rows before it writes
    /// them.
    async fn reserve_task_ids(&mut self, count: i64) -> Result<Range<i64>, StoreError>;

    /// Writes task instances as they are now: new ones inserted, known ones overwritten
    /// (everything but their identity).
    async fn upsert_tasks(&mut self, rows: &[TaskInstanceRecord]) -> Result<(), StoreError>;

    /// Records ended attempts; an attempt already recorded keeps its first outcome.
    async fn insert_attempts(&mut self, rows: &[AttemptRecord]) -> Result<(), StoreError>;

    /// Records lifecycle events (after those of the store's own writes in this transaction);
    /// an event whose `once_key` is recorded already is kept as it was.
    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<(), StoreError>;

    // Logic tasks.

    /// Creates a child instance of a `sub_workflow` task, and its start command.
    async fn create_child(&mut self, child: NewChild<'_>)
        -> Result<WorkflowInstanceId, StoreError>;

    /// The latest child instance a `sub_workflow` task instance started, with its state.
    async fn child_of(
        &mut self,
        task: TaskInstanceId,
    ) -> Result<Option<(WorkflowInstanceId, WorkflowState)>, StoreError>;

    /// The names of an instance's ancestors, parent first.
    async fn ancestry(&mut self, id: WorkflowInstanceId) -> Result<Vec<String>, StoreError>;

    /// The output params an instance's succeeded tasks set, a later-ending task's winning.
    async fn instance_outputs(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<BTreeMap<String, String>, StoreError>;

    /// Whether a succeeded instance (or task) of the workflow stands for a time in the
    /// query's window.
    async fn dependency_met(&mut self, q: &DependencyQuery<'_>) -> Result<bool, StoreError>;

    // Schedules and backfills.

    /// Online schedules due at `now`, oldest due first, at most `limit`, none of `exclude`.
    async fn due_schedules(
        &mut self,
        now: i64,
        exclude: &[WorkflowId],
        limit: i64,
    ) -> Result<Vec<DueSchedule>, StoreError>;

    /// The instances not yet ended of each of these schedules, with their owners.
    async fn running_of_schedules(
        &mut self,
        schedules: &[WorkflowId],
    ) -> Result<HashMap<WorkflowId, Vec<(WorkflowInstanceId, Option<String>)>>, StoreError>;

    /// Writes what the trigger decided for a batch of due schedules: one instance per fire
    /// (none for a fire that has one), their starts, and each schedule's next fire.
    async fn fire_batch(
        &mut self,
        plans: &[PlannedFire<'_>],
        now: i64,
    ) -> Result<Vec<FireOutcome>, StoreError>;

    /// Sets the next fire of an online schedule that has none (a fixed delay after its
    /// instance ended).
    async fn delay_schedule(&mut self, workflow: WorkflowId, at: i64) -> Result<(), StoreError>;

    /// Running backfills (on PostgreSQL, those another master feeds are skipped).
    async fn running_backfills(&mut self) -> Result<Vec<BackfillRecord>, StoreError>;

    /// How many of a backfill's instances have not ended.
    async fn backfill_running(&mut self, id: i64) -> Result<i64, StoreError>;

    /// Creates a backfill's instance for one schedule time, and its start.
    async fn backfill_instance(
        &mut self,
        backfill: i64,
        workflow: &WorkflowRecord,
        schedule_time: i64,
        now: i64,
    ) -> Result<WorkflowInstanceId, StoreError>;

    /// Moves a running backfill on: how many of its instances have started.
    async fn advance_backfill(&mut self, id: i64, started: i64) -> Result<(), StoreError>;

    /// Marks a running backfill done at `now`; false if it was not running.
    async fn finish_backfill(&mut self, id: i64, now: i64) -> Result<bool, StoreError>;

    // What dispatches need.

    /// Free slots of these task groups now (a group that does not exist is absent).
    async fn task_group_free(
        &mut self,
        names: &[String],
    ) -> Result<HashMap<String, i64>, StoreError>;

    /// A data source of a project, its secret still sealed.
    async fn datasource(
        &mut self,
        project: &str,
        name: &str,
    ) -> Result<Option<DataSourceRecord>, StoreError>;

    /// The project secrets of these names that exist, still sealed.
    async fn secrets(
        &mut self,
        project: &str,
        names: &[String],
    ) -> Result<Vec<SecretRecord>, StoreError>;

    // The end.

    /// Abandons everything in this transaction and releases its locks now.
    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;

    /// Makes everything in this transaction durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

#[async_trait]
impl EngineStore for Store {
    async fn begin(&self) -> Result<Box<dyn EngineTx>, StoreError> {
        Ok(Box::new(self.begin_engine().await?))
    }

    async fn active_instances(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<InstanceRecord>, StoreError> {
        Store::active_instances(self, owner).await
    }

    async fn next_fire_due(&self) -> Result<Option<i64>, StoreError> {
        Store::next_fire_due(self).await
    }

    async fn get_workflow(
        &self,
        project: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        Store::get_workflow(self, project, name, version).await
    }

    async fn get_latest_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        Store::get_latest_workflow(self, id).await
    }

    async fn get_workflow_version(
        &self,
        id: WorkflowId,
        version: i64,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        Store::get_workflow_version(self, id, version).await
    }
}

/// Each method is the SQL transaction's own (see its inherent methods).
#[async_trait]
impl EngineTx for SqlEngineTx {
    async fn take_commands(&mut self, me: &str, limit: i64) -> Result<Vec<Command>, StoreError> {
        SqlEngineTx::take_commands(self, me, limit).await
    }

    async fn queue_command(
        &mut self,
        kind: CommandKind,
        id: WorkflowInstanceId,
    ) -> Result<(), StoreError> {
        SqlEngineTx::queue_command(self, kind, id).await
    }

    async fn forward_command(
        &mut self,
        kind: CommandKind,
        instance: WorkflowInstanceId,
        target: &str,
    ) -> Result<(), StoreError> {
        SqlEngineTx::forward_command(self, kind, instance, target).await
    }

    async fn instance(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Option<InstanceRecord>, StoreError> {
        SqlEngineTx::instance(self, id).await
    }

    async fn start_instance(
        &mut self,
        id: WorkflowInstanceId,
        lease: Lease<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        SqlEngineTx::start_instance(self, id, lease, now).await
    }

    async fn reopen_instance(
        &mut self,
        id: WorkflowInstanceId,
        lease: Lease<'_>,
    ) -> Result<bool, StoreError> {
        SqlEngineTx::reopen_instance(self, id, lease).await
    }

    async fn set_instance_state(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        lease: Lease<'_>,
    ) -> Result<(), StoreError> {
        SqlEngineTx::set_instance_state(self, id, state, lease).await
    }

    async fn finish_instance(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        now: i64,
        lease: Option<Lease<'_>>,
    ) -> Result<(), StoreError> {
        SqlEngineTx::finish_instance(self, id, state, now, lease).await
    }

    async fn verify_leases(
        &mut self,
        owner: &str,
        leases: &[(WorkflowInstanceId, i64)],
    ) -> Result<Vec<WorkflowInstanceId>, StoreError> {
        SqlEngineTx::verify_leases(self, owner, leases).await
    }

    async fn adopt_orphans(
        &mut self,
        owner: &str,
        live_masters: &[String],
    ) -> Result<Vec<Adopted>, StoreError> {
        SqlEngineTx::adopt_orphans(self, owner, live_masters).await
    }

    async fn task_instances(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        SqlEngineTx::task_instances(self, id).await
    }

    async fn tasks_with_event(
        &mut self,
        id: WorkflowInstanceId,
        kind: EventKind,
    ) -> Result<HashSet<TaskInstanceId>, StoreError> {
        SqlEngineTx::tasks_with_event(self, id, kind).await
    }

    async fn reserve_task_ids(&mut self, count: i64) -> Result<Range<i64>, StoreError> {
        SqlEngineTx::reserve_task_ids(self, count).await
    }

    async fn upsert_tasks(&mut self, rows: &[TaskInstanceRecord]) -> Result<(), StoreError> {
        SqlEngineTx::upsert_tasks(self, rows).await
    }

    async fn insert_attempts(&mut self, rows: &[AttemptRecord]) -> Result<(), StoreError> {
        SqlEngineTx::insert_attempts(self, rows).await
    }

    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<(), StoreError> {
        SqlEngineTx::insert_events(self, events).await
    }

    async fn create_child(
        &mut self,
        child: NewChild<'_>,
    ) -> Result<WorkflowInstanceId, StoreError> {
        SqlEngineTx::create_child(self, child).await
    }

    async fn child_of(
        &mut self,
        task: TaskInstanceId,
    ) -> Result<Option<(WorkflowInstanceId, WorkflowState)>, StoreError> {
        SqlEngineTx::child_of(self, task).await
    }

    async fn ancestry(&mut self, id: WorkflowInstanceId) -> Result<Vec<String>, StoreError> {
        SqlEngineTx::ancestry(self, id).await
    }

    async fn instance_outputs(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        SqlEngineTx::instance_outputs(self, id).await
    }

    async fn dependency_met(&mut self, q: &DependencyQuery<'_>) -> Result<bool, StoreError> {
        SqlEngineTx::dependency_met(self, q).await
    }

    async fn due_schedules(
        &mut self,
        now: i64,
        exclude: &[WorkflowId],
        limit: i64,
    ) -> Result<Vec<DueSchedule>, StoreError> {
        SqlEngineTx::due_schedules(self, now, exclude, limit).await
    }

    async fn running_of_schedules(
        &mut self,
        schedules: &[WorkflowId],
    ) -> Result<HashMap<WorkflowId, Vec<(WorkflowInstanceId, Option<String>)>>, StoreError> {
        SqlEngineTx::running_of_schedules(self, schedules).await
    }

    async fn fire_batch(
        &mut self,
        plans: &[PlannedFire<'_>],
        now: i64,
    ) -> Result<Vec<FireOutcome>, StoreError> {
        SqlEngineTx::fire_batch(self, plans, now).await
    }

    async fn delay_schedule(&mut self, workflow: WorkflowId, at: i64) -> Result<(), StoreError> {
        SqlEngineTx::delay_schedule(self, workflow, at).await
    }

    async fn running_backfills(&mut self) -> Result<Vec<BackfillRecord>, StoreError> {
        SqlEngineTx::running_backfills(self).await
    }

    async fn backfill_running(&mut self, id: i64) -> Result<i64, StoreError> {
        SqlEngineTx::backfill_running(self, id).await
    }

    async fn backfill_instance(
        &mut self,
        backfill: i64,
        workflow: &WorkflowRecord,
        schedule_time: i64,
        now: i64,
    ) -> Result<WorkflowInstanceId, StoreError> {
        SqlEngineTx::backfill_instance(self, backfill, workflow, schedule_time, now).await
    }

    async fn advance_backfill(&mut self, id: i64, started: i64) -> Result<(), StoreError> {
        SqlEngineTx::advance_backfill(self, id, started).await
    }

    async fn finish_backfill(&mut self, id: i64, now: i64) -> Result<bool, StoreError> {
        SqlEngineTx::finish_backfill(self, id, now).await
    }

    async fn task_group_free(
        &mut self,
        names: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        SqlEngineTx::task_group_free(self, names).await
    }

    async fn datasource(
        &mut self,
        project: &str,
        name: &str,
    ) -> Result<Option<DataSourceRecord>, StoreError> {
        SqlEngineTx::datasource(self, project, name).await
    }

    async fn secrets(
        &mut self,
        project: &str,
        names: &[String],
    ) -> Result<Vec<SecretRecord>, StoreError> {
        SqlEngineTx::secrets(self, project, names).await
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        SqlEngineTx::rollback(*self).await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        SqlEngineTx::commit(*self).await
    }
}
