//! An in-memory store behind the engine's seam ([`EngineStore`], [`EngineTx`]), for the
//! master's unit tests: the engine's rules driven without any database. It keeps what the SQL
//! store keeps, with the same meaning: a transaction works on its own copy of everything and
//! holds the store until it commits (the copy becomes the store) or is dropped (nothing of
//! it happened), so a tick is as atomic here as in SQLite.
//!
//! Besides the seam, it has the few writes and reads the tests make around the engine, named
//! and behaving as the [`crate::Store`] methods of the same names: apply a workflow, submit
//! an instance, request a stop / pause / resume / recover, read instances, tasks, attempts
//! and events.

use crate::backfills::BackfillRecord;
use crate::datasources::DataSourceRecord;
use crate::engine::{CommandKind, Lease};
use crate::engine_store::{EngineStore, EngineTx};
use crate::events::{EventFilter, EventRecord, NewEvent};
use crate::instances::{submitted_event, NewInstance, Request, StopRequest, Submission};
use crate::records::{AttemptRecord, InstanceRecord, TaskInstanceRecord, WorkflowRecord};
use crate::schedules::ScheduleRecord;
use crate::secrets::SecretRecord;
use crate::{now_us, StoreError};
use async_trait::async_trait;
use baton_core::{TaskInstanceId, WorkflowId, WorkflowInstanceId, WorkflowSpec, WorkflowState};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The in-memory store; clones share it (two masters of one cluster, a restarted master).
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    /// Every version of every workflow, in the order applied: apart from the rest, since the
    /// engine reads them outside its transaction while one is open (as the SQL store's
    /// reads go through their own connections), and never writes them.
    workflows: Workflows,
}

/// The workflow versions a store keeps.
#[derive(Clone, Default)]
struct Workflows(Arc<std::sync::RwLock<Vec<WorkflowRecord>>>);

impl Workflows {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<WorkflowRecord>> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    fn latest(&self, id: WorkflowId) -> Option<WorkflowRecord> {
        self.read().iter().rev().find(|w| w.id == id).cloned()
    }

    fn version(&self, id: WorkflowId, version: i64) -> Option<WorkflowRecord> {
        let all = self.read();
        all.iter()
            .find(|w| w.id == id && w.version == version)
            .cloned()
    }
}

/// A queued command, as the `command` table keeps it.
#[derive(Debug, Clone)]
struct Queued {
    kind: CommandKind,
    instance: WorkflowInstanceId,
    target: Option<String>,
}

/// An instance with what the record does not carry.
#[derive(Debug, Clone)]
struct Instance {
    record: InstanceRecord,
    backfill: Option<i64>,
}

/// Everything the store keeps.
#[derive(Debug, Clone, Default)]
struct State {
    instances: BTreeMap<WorkflowInstanceId, Instance>,
    tasks: BTreeMap<TaskInstanceId, TaskInstanceRecord>,
    attempts: BTreeMap<(TaskInstanceId, i64), AttemptRecord>,
    commands: BTreeMap<i64, Queued>,
    events: Vec<EventRecord>,
    schedules: BTreeMap<WorkflowId, ScheduleRecord>,
    backfills: BTreeMap<i64, BackfillRecord>,
    task_groups: BTreeMap<String, i64>,
    datasources: BTreeMap<(String, String), DataSourceRecord>,
    secrets: BTreeMap<(String, String), SecretRecord>,
    /// The last id given, per kind of row.
    last_id: LastIds,
}

#[derive(Debug, Clone, Default)]
struct LastIds {
    workflow: i64,
    instance: i64,
    command: i64,
    event: i64,
    task: i64,
    backfill: i64,
}

impl State {
    fn record(&mut self, id: WorkflowInstanceId) -> Result<&mut InstanceRecord, StoreError> {
        self.instances
            .get_mut(&id)
            .map(|i| &mut i.record)
            .ok_or_else(|| StoreError::NotFound(format!("workflow instance {id}")))
    }

    fn queue(&mut self, kind: CommandKind, instance: WorkflowInstanceId, target: Option<&str>) {
        self.last_id.command += 1;
        let queued = Queued {
            kind,
            instance,
            target: target.map(str::to_string),
        };
        self.commands.insert(self.last_id.command, queued);
    }

    /// Records events; one whose `once_key` is recorded already is kept as it was.
    fn record_events(&mut self, events: &[NewEvent]) {
        let recorded_at = now_us();
        for event in events {
            let seen = event.once_key.is_some()
                && self
                    .events
                    .iter()
                    .any(|e| e.event.once_key == event.once_key);
            if seen {
                continue;
            }
            self.last_id.event += 1;
            self.events.push(EventRecord {
                id: self.last_id.event,
                event: event.clone(),
                recorded_at,
            });
        }
    }

    /// Creates a submitted instance and its start command.
    fn submit(&mut self, record: InstanceRecord, backfill: Option<i64>) -> WorkflowInstanceId {
        self.last_id.instance += 1;
        let id = WorkflowInstanceId(self.last_id.instance);
        let record = InstanceRecord { id, ..record };
        self.instances.insert(id, Instance { record, backfill });
        self.queue(CommandKind::Start, id, None);
        id
    }

    /// How many of a backfill's instances are in each state.
    fn backfill_states(&self, id: i64) -> BTreeMap<String, i64> {
        let mut states = BTreeMap::new();
        for i in self.instances.values().filter(|i| i.backfill == Some(id)) {
            *states
                .entry(i.record.state.as_str().to_string())
                .or_insert(0) += 1;
        }
        states
    }

    fn owned(&mut self, id: WorkflowInstanceId, lease: Lease<'_>) -> Option<&mut InstanceRecord> {
        self.instances
            .get_mut(&id)
            .map(|i| &mut i.record)
            .filter(|r| r.owner.as_deref() == Some(lease.owner) && r.epoch == lease.epoch)
    }
}

/// A new instance of `workflow` in state `submitted` (its id given when it is inserted).
fn submitted(
    workflow: &WorkflowRecord,
    priority: baton_core::Priority,
    now: i64,
) -> InstanceRecord {
    InstanceRecord {
        id: WorkflowInstanceId(0),
        workflow_id: workflow.id,
        version: workflow.version,
        project: workflow.project.clone(),
        name: workflow.name.clone(),
        state: WorkflowState::Submitted,
        params: BTreeMap::new(),
        priority,
        owner: None,
        epoch: 0,
        submitted_at: now,
        started_at: None,
        ended_at: None,
        schedule_time: None,
        schedule_id: None,
        only_tasks: None,
        parent_instance_id: None,
        parent_task_instance_id: None,
        overrides: Default::default(),
    }
}

/// Whether an instance in `state` is one an adoption, a resume or a schedule waits on.
fn is_active(state: WorkflowState) -> bool {
    use WorkflowState::*;
    matches!(state, Running | Stopping | Pausing | Paused)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Applies a workflow file (a new version when its workflow exists) with its schedule,
    /// and returns the stored version, as [`crate::testing::applied`] does on the SQL store.
    pub async fn applied(&self, yaml: &str) -> WorkflowRecord {
        let spec = WorkflowSpec::from_yaml(yaml, "test.yaml").expect("a valid workflow");
        let mut state = self.state.lock().await;
        let mut versions = self.workflows.0.write().unwrap_or_else(|e| e.into_inner());
        let now = now_us();
        let existing = versions
            .iter()
            .rev()
            .find(|w| w.project == spec.project && w.name == spec.name)
            .map(|w| (w.id, w.version));
        let (id, version) = match existing {
            Some((id, version)) => (id, version + 1),
            None => {
                state.last_id.workflow += 1;
                (WorkflowId(state.last_id.workflow), 1)
            }
        };
        for w in versions.iter_mut().filter(|w| w.id == id) {
            w.latest_version = version;
        }
        let record = WorkflowRecord {
            id,
            project: spec.project.clone(),
            name: spec.name.clone(),
            version,
            latest_version: version,
            spec: spec.clone(),
            source: yaml.to_string(),
            created_at: now,
        };
        versions.push(record.clone());
        match &spec.schedule {
            None => {
                state.schedules.remove(&id);
            }
            Some(schedule) => {
                let next = schedule.first_fire(spec.timezone.as_deref(), now);
                let record = ScheduleRecord {
                    workflow_id: id,
                    project: spec.project.clone(),
                    name: spec.name.clone(),
                    spec: schedule.clone(),
                    workflow_timezone: spec.timezone.clone(),
                    online: schedule.online,
                    next_fire_at: next,
                    last_fire_at: None,
                };
                state.schedules.insert(id, record);
            }
        }
        record
    }

    /// Creates a workflow instance in state `submitted` and its start command.
    pub async fn create_instance(
        &self,
        new: NewInstance<'_>,
    ) -> Result<WorkflowInstanceId, StoreError> {
        let now = now_us();
        let mut record = submitted(
            new.workflow,
            new.overrides.priority(&new.workflow.spec),
            now,
        );
        record.params = new.params;
        record.overrides = new.overrides;
        let mut state = self.state.lock().await;
        let id = state.submit(record, None);
        let why = Submission::Start {
            schedule_time: None,
        };
        let event = submitted_event(id, &new.workflow.project, &new.workflow.name, now, why);
        state.record_events(&[event]);
        Ok(id)
    }

    /// Queues a stop for the master that runs the instance, unless it has ended.
    pub async fn request_stop(&self, id: WorkflowInstanceId) -> Result<StopRequest, StoreError> {
        let mut state = self.state.lock().await;
        let record = state.record(id)?.clone();
        if record.state.is_final() {
            return Ok(StopRequest::AlreadyEnded(record.state));
        }
        state.queue(CommandKind::Stop, id, record.owner.as_deref());
        Ok(StopRequest::Requested)
    }

    /// Asks a master to recover an ended (failed or stopped) instance.
    pub async fn request_recover(&self, id: WorkflowInstanceId) -> Result<(), StoreError> {
        self.queue_for(id, Request::Recover).await
    }

    /// Asks the owning master to pause a running instance, or to resume a paused one.
    pub async fn request_pause(
        &self,
        id: WorkflowInstanceId,
        pause: bool,
    ) -> Result<(), StoreError> {
        self.queue_for(id, Request::pause(pause)).await
    }

    async fn queue_for(&self, id: WorkflowInstanceId, request: Request) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        let record = state.record(id)?.clone();
        let target = request.target(&record)?;
        state.queue(request.kind(), id, target);
        Ok(())
    }

    /// One instance.
    pub async fn get_instance(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Option<InstanceRecord>, StoreError> {
        let state = self.state.lock().await;
        Ok(state.instances.get(&id).map(|i| i.record.clone()))
    }

    /// The task instances of an instance, by id.
    pub async fn task_instances(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        Ok(tasks_of(&*self.state.lock().await, id))
    }

    /// The ended attempts of an instance's tasks, by task and attempt.
    pub async fn attempts(&self, id: WorkflowInstanceId) -> Result<Vec<AttemptRecord>, StoreError> {
        let state = self.state.lock().await;
        let mine: HashSet<TaskInstanceId> = tasks_of(&state, id).iter().map(|t| t.id).collect();
        Ok(state
            .attempts
            .values()
            .filter(|a| mine.contains(&a.task_instance_id))
            .cloned()
            .collect())
    }

    /// A page of events, as [`crate::Store::list_events`] pages them.
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        let state = self.state.lock().await;
        let matches = |e: &&EventRecord| {
            let n = &e.event;
            filter.kind.is_none_or(|k| n.kind == k)
                && filter.since.is_none_or(|t| n.at >= t)
                && filter
                    .instance
                    .is_none_or(|i| n.workflow_instance_id == Some(i))
                && filter.before.is_none_or(|b| e.id < b)
                && filter.after.is_none_or(|a| e.id > a)
                && filter
                    .project
                    .as_ref()
                    .is_none_or(|p| n.project.as_ref() == Some(p))
                && filter
                    .workflow
                    .as_ref()
                    .is_none_or(|w| n.workflow.as_ref() == Some(w))
        };
        let limit = usize::try_from(filter.limit.unwrap_or(100).clamp(1, 1000)).unwrap_or(1000);
        let found = state.events.iter().filter(matches);
        Ok(match filter.after {
            Some(_) => found.take(limit).cloned().collect(),
            None => found.rev().take(limit).cloned().collect(),
        })
    }

    /// The schedule of a workflow.
    pub async fn get_schedule(
        &self,
        workflow: WorkflowId,
    ) -> Result<Option<ScheduleRecord>, StoreError> {
        Ok(self.state.lock().await.schedules.get(&workflow).cloned())
    }

    /// Starts a backfill of `workflow` over these schedule times, `parallel` at a time.
    pub async fn create_backfill(
        &self,
        workflow: WorkflowId,
        times: &[i64],
        parallel: i64,
    ) -> Result<i64, StoreError> {
        let latest = self
            .workflows
            .latest(workflow)
            .ok_or_else(|| StoreError::NotFound(format!("workflow {workflow}")))?;
        let mut state = self.state.lock().await;
        state.last_id.backfill += 1;
        let record = BackfillRecord {
            id: state.last_id.backfill,
            ..BackfillRecord::running(workflow, times, parallel)
        };
        let started = crate::backfills::started_event(&record, &latest.project, &latest.name);
        state.record_events(&[started]);
        state.backfills.insert(record.id, record.clone());
        Ok(record.id)
    }

    /// A backfill with the count of its instances by state.
    pub async fn get_backfill(&self, id: i64) -> Result<Option<BackfillRecord>, StoreError> {
        let state = self.state.lock().await;
        let Some(record) = state.backfills.get(&id).cloned() else {
            return Ok(None);
        };
        Ok(Some(record.with_progress(state.backfill_states(id))))
    }

    /// Creates a task group of `slots` slots (or changes its slots).
    pub async fn set_task_group(&self, name: &str, slots: i64) {
        self.state
            .lock()
            .await
            .task_groups
            .insert(name.to_string(), slots);
    }

    /// Keeps a project secret (its value sealed by the caller).
    pub async fn put_secret(&self, record: SecretRecord) {
        let key = (record.project.clone(), record.name.clone());
        self.state.lock().await.secrets.insert(key, record);
    }

    /// Keeps a data source (its password sealed by the caller).
    pub async fn put_datasource(&self, record: DataSourceRecord) {
        let key = (record.project.clone(), record.name.clone());
        self.state.lock().await.datasources.insert(key, record);
    }
}

fn tasks_of(state: &State, id: WorkflowInstanceId) -> Vec<TaskInstanceRecord> {
    state
        .tasks
        .values()
        .filter(|t| t.workflow_instance_id == id)
        .cloned()
        .collect()
}

#[async_trait]
impl EngineStore for MemoryStore {
    async fn begin(&self) -> Result<Box<dyn EngineTx>, StoreError> {
        let held = self.state.clone().lock_owned().await;
        Ok(Box::new(MemoryTx::new(held, self.workflows.clone())))
    }

    async fn active_instances(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<InstanceRecord>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .instances
            .values()
            .map(|i| &i.record)
            .filter(|r| is_active(r.state))
            .filter(|r| owner.is_none_or(|o| r.owner.as_deref() == Some(o)))
            .cloned()
            .collect())
    }

    async fn next_fire_due(&self) -> Result<Option<i64>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .schedules
            .values()
            .filter(|s| s.online)
            .filter_map(|s| s.next_fire_at)
            .min())
    }

    async fn get_workflow(
        &self,
        project: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let all = self.workflows.read();
        Ok(all
            .iter()
            .filter(|w| w.project == project && w.name == name)
            .find(|w| w.version == version.unwrap_or(w.latest_version))
            .cloned())
    }

    async fn get_latest_workflow(
        &self,
        id: WorkflowId,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        Ok(self.workflows.latest(id))
    }

    async fn get_workflow_version(
        &self,
        id: WorkflowId,
        version: i64,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        Ok(self.workflows.version(id, version))
    }
}

mod tx;
pub use tx::MemoryTx;

#[cfg(test)]
mod contract;
