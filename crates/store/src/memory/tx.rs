//! The in-memory store's transaction: [`EngineTx`] on a copy of the store, which becomes
//! the store at the commit.

use super::{is_active, submitted, tasks_of, State, Workflows};
use crate::backfills::BackfillRecord;
use crate::datasources::DataSourceRecord;
use crate::engine::{Adopted, Command, CommandKind, Lease};
use crate::engine_store::EngineTx;
use crate::events::NewEvent;
use crate::instances::{submitted_event, Submission};
use crate::logic::{DependencyQuery, NewChild};
use crate::records::{AttemptRecord, InstanceRecord, TaskInstanceRecord, WorkflowRecord};
use crate::schedules::{fire_priority, DueSchedule, FireOutcome, PlannedFire, ScheduleRecord};
use crate::secrets::SecretRecord;
use crate::{now_us, StoreError};
use async_trait::async_trait;
use baton_core::{
    EventKind, TaskInstanceId, TaskState, WorkflowId, WorkflowInstanceId, WorkflowState,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use tokio::sync::OwnedMutexGuard;

/// One transaction on the in-memory store: it holds the store, and works on a copy.
pub struct MemoryTx {
    held: OwnedMutexGuard<State>,
    work: State,
    workflows: Workflows,
    /// Events of the store's own writes (fires, backfills), recorded with the engine's.
    later: Vec<NewEvent>,
}

impl MemoryTx {
    /// A transaction on the store `held`, whose workflows are `workflows`.
    pub(super) fn new(held: OwnedMutexGuard<State>, workflows: Workflows) -> MemoryTx {
        let work = held.clone();
        MemoryTx {
            held,
            work,
            workflows,
            later: Vec::new(),
        }
    }

    fn new_task_ids(&mut self, count: i64) -> Range<i64> {
        let start = self.work.last_id.task + 1;
        self.work.last_id.task += count;
        start..start + count
    }
}

#[async_trait]
impl EngineTx for MemoryTx {
    async fn take_commands(&mut self, me: &str, limit: i64) -> Result<Vec<Command>, StoreError> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let taken: Vec<Command> = self
            .work
            .commands
            .iter()
            .filter(|(_, c)| c.target.as_deref().is_none_or(|t| t == me))
            .take(limit)
            .map(|(id, c)| Command {
                id: *id,
                kind: c.kind,
                instance: c.instance,
            })
            .collect();
        for c in &taken {
            self.work.commands.remove(&c.id);
        }
        Ok(taken)
    }

    async fn queue_command(
        &mut self,
        kind: CommandKind,
        id: WorkflowInstanceId,
    ) -> Result<(), StoreError> {
        self.work.queue(kind, id, None);
        Ok(())
    }

    async fn forward_command(
        &mut self,
        kind: CommandKind,
        instance: WorkflowInstanceId,
        target: &str,
    ) -> Result<(), StoreError> {
        self.work.queue(kind, instance, Some(target));
        Ok(())
    }

    async fn instance(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Option<InstanceRecord>, StoreError> {
        Ok(self.work.instances.get(&id).map(|i| i.record.clone()))
    }

    async fn start_instance(
        &mut self,
        id: WorkflowInstanceId,
        lease: Lease<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let Some(i) = self.work.instances.get_mut(&id) else {
            return Ok(false);
        };
        let r = &mut i.record;
        if r.state != WorkflowState::Submitted {
            return Ok(false);
        }
        r.state = WorkflowState::Running;
        r.owner = Some(lease.owner.to_string());
        r.epoch = lease.epoch;
        r.started_at = r.started_at.or(Some(now));
        Ok(true)
    }

    async fn reopen_instance(
        &mut self,
        id: WorkflowInstanceId,
        lease: Lease<'_>,
    ) -> Result<bool, StoreError> {
        let Some(i) = self.work.instances.get_mut(&id) else {
            return Ok(false);
        };
        let r = &mut i.record;
        if !matches!(r.state, WorkflowState::Failed | WorkflowState::Stopped) {
            return Ok(false);
        }
        r.state = WorkflowState::Running;
        r.owner = Some(lease.owner.to_string());
        r.epoch = lease.epoch;
        r.ended_at = None;
        Ok(true)
    }

    async fn set_instance_state(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        lease: Lease<'_>,
    ) -> Result<(), StoreError> {
        let r = self.work.owned(id, lease).ok_or(StoreError::Fenced(id))?;
        r.state = state;
        Ok(())
    }

    async fn finish_instance(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        now: i64,
        lease: Option<Lease<'_>>,
    ) -> Result<(), StoreError> {
        let r = match lease {
            Some(lease) => self.work.owned(id, lease),
            None => self
                .work
                .instances
                .get_mut(&id)
                .map(|i| &mut i.record)
                .filter(|r| r.state == WorkflowState::Submitted),
        };
        let r = r.ok_or(StoreError::Fenced(id))?;
        r.state = state;
        r.ended_at = Some(now);
        r.started_at = r.started_at.or(Some(now));
        Ok(())
    }

    async fn verify_leases(
        &mut self,
        owner: &str,
        leases: &[(WorkflowInstanceId, i64)],
    ) -> Result<Vec<WorkflowInstanceId>, StoreError> {
        Ok(leases
            .iter()
            .filter(|(id, epoch)| {
                let lease = Lease {
                    owner,
                    epoch: *epoch,
                };
                self.work.owned(*id, lease).is_none()
            })
            .map(|(id, _)| *id)
            .collect())
    }

    async fn adopt_orphans(
        &mut self,
        owner: &str,
        live_masters: &[String],
    ) -> Result<Vec<Adopted>, StoreError> {
        let mut adopted = Vec::new();
        for i in self.work.instances.values_mut() {
            let r = &mut i.record;
            // As the SQL store's `owner <> $1 AND owner NOT IN (…)`: an instance with no
            // owner is nobody's orphan.
            let orphan = is_active(r.state)
                && r.owner
                    .as_ref()
                    .is_some_and(|o| o != owner && !live_masters.contains(o));
            if !orphan {
                continue;
            }
            let previous_owner = r.owner.replace(owner.to_string());
            r.epoch += 1;
            adopted.push(Adopted {
                id: r.id,
                epoch: r.epoch,
                previous_owner,
            });
        }
        for c in self.work.commands.values_mut() {
            if adopted.iter().any(|a| a.id == c.instance) {
                c.target = Some(owner.to_string());
            }
        }
        Ok(adopted)
    }

    async fn task_instances(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        Ok(tasks_of(&self.work, id))
    }

    async fn tasks_with_event(
        &mut self,
        id: WorkflowInstanceId,
        kind: EventKind,
    ) -> Result<HashSet<TaskInstanceId>, StoreError> {
        Ok(self
            .work
            .events
            .iter()
            .map(|e| &e.event)
            .filter(|e| e.workflow_instance_id == Some(id) && e.kind == kind)
            .filter_map(|e| e.task_instance_id)
            .collect())
    }

    async fn reserve_task_ids(&mut self, count: i64) -> Result<Range<i64>, StoreError> {
        Ok(self.new_task_ids(count))
    }

    async fn upsert_tasks(&mut self, rows: &[TaskInstanceRecord]) -> Result<(), StoreError> {
        for row in rows {
            self.work.tasks.insert(row.id, row.clone());
        }
        Ok(())
    }

    async fn insert_attempts(&mut self, rows: &[AttemptRecord]) -> Result<(), StoreError> {
        for row in rows {
            let key = (row.task_instance_id, row.attempt);
            self.work.attempts.entry(key).or_insert_with(|| row.clone());
        }
        Ok(())
    }

    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<(), StoreError> {
        let mut all = std::mem::take(&mut self.later);
        all.extend_from_slice(events);
        self.work.record_events(&all);
        Ok(())
    }

    async fn create_child(
        &mut self,
        child: NewChild<'_>,
    ) -> Result<WorkflowInstanceId, StoreError> {
        let mut record = submitted(child.workflow, child.priority, now_us());
        record.params = child.params;
        record.schedule_time = Some(child.schedule_time);
        record.parent_instance_id = Some(child.parent);
        record.parent_task_instance_id = Some(child.parent_task);
        Ok(self.work.submit(record, None))
    }

    async fn child_of(
        &mut self,
        task: TaskInstanceId,
    ) -> Result<Option<(WorkflowInstanceId, WorkflowState)>, StoreError> {
        Ok(self
            .work
            .instances
            .values()
            .rev()
            .map(|i| &i.record)
            .find(|r| r.parent_task_instance_id == Some(task))
            .map(|r| (r.id, r.state)))
    }

    async fn ancestry(&mut self, id: WorkflowInstanceId) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        let parent_of = |id| {
            self.work
                .instances
                .get(&id)
                .and_then(|i| i.record.parent_instance_id)
        };
        let mut next = parent_of(id);
        while let Some(parent) = next {
            let Some(i) = self
                .work
                .instances
                .get(&parent)
                .filter(|_| names.len() <= 100)
            else {
                break;
            };
            names.push(i.record.name.clone());
            next = parent_of(parent);
        }
        Ok(names)
    }

    async fn instance_outputs(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let mut tasks = tasks_of(&self.work, id);
        tasks.sort_by_key(|t| (t.ended_at.unwrap_or(0), t.id.0));
        let mut outputs = BTreeMap::new();
        for task in tasks
            .into_iter()
            .filter(|t| t.state == TaskState::Succeeded)
        {
            outputs.extend(task.outputs);
        }
        Ok(outputs)
    }

    async fn dependency_met(&mut self, q: &DependencyQuery<'_>) -> Result<bool, StoreError> {
        let stands_for = |r: &InstanceRecord| {
            let time = r.schedule_time.or(r.started_at).unwrap_or(r.submitted_at);
            q.from <= time && time < q.to
        };
        let work = &self.work;
        Ok(work
            .instances
            .values()
            .map(|i| &i.record)
            .filter(|r| r.project == q.project && r.name == q.workflow && stands_for(r))
            .any(|r| match q.task {
                None => r.state == WorkflowState::Succeeded,
                Some(task) => work.tasks.values().any(|t| {
                    t.workflow_instance_id == r.id
                        && t.task_name == task
                        && t.state == TaskState::Succeeded
                }),
            }))
    }

    async fn due_schedules(
        &mut self,
        now: i64,
        exclude: &[WorkflowId],
        limit: i64,
    ) -> Result<Vec<DueSchedule>, StoreError> {
        let mut due: Vec<&ScheduleRecord> = self
            .work
            .schedules
            .values()
            .filter(|s| s.online && s.next_fire_at.is_some_and(|at| at <= now))
            .filter(|s| !exclude.contains(&s.workflow_id))
            .collect();
        due.sort_by_key(|s| s.next_fire_at);
        let limit = usize::try_from(limit).unwrap_or(0);
        due.into_iter()
            .take(limit)
            .map(|s| {
                let workflow = self.workflows.latest(s.workflow_id).ok_or_else(|| {
                    StoreError::NotFound(format!("the workflow of schedule {}", s.workflow_id))
                })?;
                Ok(DueSchedule {
                    schedule: s.clone(),
                    version: workflow.version,
                    priority: fire_priority(&workflow.spec),
                })
            })
            .collect()
    }

    async fn running_of_schedules(
        &mut self,
        schedules: &[WorkflowId],
    ) -> Result<HashMap<WorkflowId, Vec<(WorkflowInstanceId, Option<String>)>>, StoreError> {
        let mut out: HashMap<WorkflowId, Vec<_>> = HashMap::new();
        for r in self.work.instances.values().map(|i| &i.record) {
            let Some(schedule) = r.schedule_id.filter(|s| schedules.contains(s)) else {
                continue;
            };
            if !r.state.is_final() {
                out.entry(schedule)
                    .or_default()
                    .push((r.id, r.owner.clone()));
            }
        }
        Ok(out)
    }

    async fn fire_batch(
        &mut self,
        plans: &[PlannedFire<'_>],
        now: i64,
    ) -> Result<Vec<FireOutcome>, StoreError> {
        let mut created = HashMap::new();
        let mut events = Vec::new();
        for plan in plans {
            let s = &plan.due.schedule;
            for fire_time in plan.fire.iter().copied() {
                let fired = self.work.instances.values().any(|i| {
                    i.record.schedule_id == Some(s.workflow_id)
                        && i.record.schedule_time == Some(fire_time)
                });
                if fired {
                    continue;
                }
                let workflow = self
                    .workflows
                    .version(s.workflow_id, plan.due.version)
                    .ok_or_else(|| StoreError::NotFound(format!("workflow {}", s.workflow_id)))?;
                let mut record = submitted(&workflow, plan.due.priority, now);
                record.schedule_time = Some(fire_time);
                record.schedule_id = Some(s.workflow_id);
                let id = self.work.submit(record, None);
                created.insert((s.workflow_id, fire_time), id);
                let why = Submission::Fire { fire_time };
                events.push(submitted_event(id, &s.project, &s.name, now, why));
            }
            if let Some(schedule) = self.work.schedules.get_mut(&s.workflow_id) {
                schedule.next_fire_at = plan.next_fire_at;
                schedule.last_fire_at = plan.fire.last().copied().or(schedule.last_fire_at);
            }
        }
        self.later.extend(events);
        Ok(crate::schedules::outcomes(plans, &created))
    }

    async fn delay_schedule(&mut self, workflow: WorkflowId, at: i64) -> Result<(), StoreError> {
        if let Some(s) = self.work.schedules.get_mut(&workflow) {
            if s.online && s.next_fire_at.is_none() {
                s.next_fire_at = Some(at);
            }
        }
        Ok(())
    }

    async fn running_backfills(&mut self) -> Result<Vec<BackfillRecord>, StoreError> {
        Ok(self
            .work
            .backfills
            .values()
            .filter(|b| b.state == "running")
            .take(32)
            .cloned()
            .collect())
    }

    async fn backfill_running(&mut self, id: i64) -> Result<i64, StoreError> {
        let running = self
            .work
            .instances
            .values()
            .filter(|i| i.backfill == Some(id) && !i.record.state.is_final())
            .count();
        Ok(i64::try_from(running).unwrap_or(i64::MAX))
    }

    async fn backfill_instance(
        &mut self,
        backfill: i64,
        workflow: &WorkflowRecord,
        schedule_time: i64,
        now: i64,
    ) -> Result<WorkflowInstanceId, StoreError> {
        let mut record = submitted(workflow, fire_priority(&workflow.spec), now);
        record.schedule_time = Some(schedule_time);
        let id = self.work.submit(record, Some(backfill));
        let why = Submission::Backfill {
            backfill,
            schedule_time,
        };
        let event = submitted_event(id, &workflow.project, &workflow.name, now, why);
        self.later.push(event);
        Ok(id)
    }

    async fn advance_backfill(&mut self, id: i64, started: i64) -> Result<(), StoreError> {
        if let Some(b) = self.work.backfills.get_mut(&id) {
            if b.state == "running" {
                b.started = started;
            }
        }
        Ok(())
    }

    async fn finish_backfill(&mut self, id: i64, now: i64) -> Result<bool, StoreError> {
        let Some(b) = self
            .work
            .backfills
            .get_mut(&id)
            .filter(|b| b.state == "running")
        else {
            return Ok(false);
        };
        b.state = "done".into();
        let record = b.clone();
        let names = self
            .workflows
            .latest(record.workflow_id)
            .map(|w| (w.project, w.name));
        let states = self.work.backfill_states(id);
        let ended = crate::backfills::ended_event_of(&record, names, &states, now);
        self.later.push(ended);
        Ok(true)
    }

    async fn task_group_free(
        &mut self,
        names: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut free = HashMap::new();
        for name in names {
            let Some(slots) = self.work.task_groups.get(name) else {
                continue;
            };
            let used = self
                .work
                .tasks
                .values()
                .filter(|t| t.task_group.as_ref() == Some(name))
                .filter(|t| matches!(t.state, TaskState::Dispatched | TaskState::Running))
                .count();
            free.insert(
                name.clone(),
                slots - i64::try_from(used).unwrap_or(i64::MAX),
            );
        }
        Ok(free)
    }

    async fn datasource(
        &mut self,
        project: &str,
        name: &str,
    ) -> Result<Option<DataSourceRecord>, StoreError> {
        let key = (project.to_string(), name.to_string());
        Ok(self.work.datasources.get(&key).cloned())
    }

    async fn secrets(
        &mut self,
        project: &str,
        names: &[String],
    ) -> Result<Vec<SecretRecord>, StoreError> {
        Ok(names
            .iter()
            .filter_map(|n| {
                let key = (project.to_string(), n.clone());
                self.work.secrets.get(&key).cloned()
            })
            .collect())
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let MemoryTx {
            mut held,
            mut work,
            later,
            ..
        } = *self;
        work.record_events(&later);
        *held = work;
        Ok(())
    }
}
