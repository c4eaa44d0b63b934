//! Schedules: one per workflow that declares a `schedule:` block, with the next fire due. A
//! master takes a batch of due schedules under row locks, starts their fires' instances under
//! a unique (schedule, fire time) key and advances the schedules, in a few statements per
//! batch and all in one transaction: one instance per fire, however many masters run.

use crate::engine::SqlEngineTx;
use crate::error::{Context, StoreError};
use crate::instances::{submitted_event, Submission};
use crate::records::get;
use crate::{now_us, Backend, CommandKind, Store};
use baton_core::spec::schedule::Missed;
use baton_core::spec::ScheduleSpec;
use baton_core::{Priority, WorkflowId, WorkflowInstanceId, WorkflowState};
use serde::Serialize;
use std::collections::HashMap;

/// A schedule as stored.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleRecord {
    /// The workflow it fires (a workflow has at most one schedule).
    pub workflow_id: WorkflowId,
    /// The workflow's project.
    pub project: String,
    /// The workflow's name.
    pub name: String,
    /// The block, as in the latest version of the workflow.
    pub spec: ScheduleSpec,
    /// The workflow's time zone (the schedule's default zone).
    pub workflow_timezone: Option<String>,
    /// Offline schedules do not fire.
    pub online: bool,
    /// The next fire due (µs).
    pub next_fire_at: Option<i64>,
    /// The last fire time (µs).
    pub last_fire_at: Option<i64>,
}

const SELECT: &str = "SELECT s.workflow_id, w.project, w.name, s.spec, s.online, s.next_fire_at, \
     s.last_fire_at, v.spec AS workflow_spec FROM schedule s JOIN workflow w ON w.id = s.workflow_id \
     JOIN workflow_version v ON v.workflow_id = w.id AND v.version = w.latest_version";

/// [`SELECT`] with the workflow's latest version, for firing.
const SELECT_DUE: &str = "SELECT s.workflow_id, w.project, w.name, s.spec, s.online, \
     s.next_fire_at, s.last_fire_at, v.spec AS workflow_spec, w.latest_version \
     FROM schedule s JOIN workflow w ON w.id = s.workflow_id \
     JOIN workflow_version v ON v.workflow_id = w.id AND v.version = w.latest_version";

impl ScheduleRecord {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, StoreError> {
        Ok(Self::with_workflow(row)?.0)
    }

    /// The record, and the definition of its workflow's latest version.
    fn with_workflow(
        row: &sqlx::any::AnyRow,
    ) -> Result<(Self, baton_core::WorkflowSpec), StoreError> {
        let spec: String = get(row, "spec")?;
        let workflow: String = get(row, "workflow_spec")?;
        let corrupt = |detail: String| StoreError::Corrupt {
            context: "schedule.spec",
            detail,
        };
        let workflow =
            baton_core::WorkflowSpec::from_json(&workflow).map_err(|e| corrupt(e.to_string()))?;
        let record = ScheduleRecord {
            workflow_id: WorkflowId(get(row, "workflow_id")?),
            project: get(row, "project")?,
            name: get(row, "name")?,
            spec: serde_json::from_str(&spec).map_err(|e| corrupt(e.to_string()))?,
            workflow_timezone: workflow.timezone.clone(),
            online: get::<i64>(row, "online")? != 0,
            next_fire_at: get(row, "next_fire_at")?,
            last_fire_at: get(row, "last_fire_at")?,
        };
        Ok((record, workflow))
    }
}

/// The priority of the instances a workflow's schedule fires (and of its backfills): the
/// schedule's own, else the workflow's.
pub(crate) fn fire_priority(spec: &baton_core::WorkflowSpec) -> baton_core::Priority {
    match &spec.schedule {
        Some(s) => s.instance_priority(spec.priority),
        None => spec.priority,
    }
}

/// Creates, changes or removes the schedule of a workflow, as its new definition says.
pub(crate) async fn sync_schedule(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    workflow: WorkflowId,
    spec: &baton_core::WorkflowSpec,
) -> Result<(), StoreError> {
    let Some(schedule) = &spec.schedule else {
        sqlx::query("DELETE FROM schedule WHERE workflow_id = $1")
            .bind(workflow.0)
            .execute(&mut **tx)
            .await
            .ctx("removing a schedule")?;
        return Ok(());
    };
    let json = serde_json::to_string(schedule).expect("a schedule serializes");
    let current: Option<String> =
        sqlx::query_scalar("SELECT spec FROM schedule WHERE workflow_id = $1")
            .bind(workflow.0)
            .fetch_optional(&mut **tx)
            .await
            .ctx("reading a schedule")?;
    if current.as_deref() == Some(json.as_str()) {
        return Ok(());
    }
    let now = now_us();
    let next = schedule.first_fire(spec.timezone.as_deref(), now);
    sqlx::query(
        "INSERT INTO schedule (workflow_id, spec, online, next_fire_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workflow_id) DO UPDATE SET spec = excluded.spec, \
         online = excluded.online, next_fire_at = excluded.next_fire_at, updated_at = excluded.updated_at",
    )
    .bind(workflow.0)
    .bind(json)
    .bind(schedule.online as i64)
    .bind(next)
    .bind(now)
    .execute(&mut **tx)
    .await
    .ctx("storing a schedule")?;
    Ok(())
}

impl Store {
    /// Every schedule (of one project, when given), by project and name.
    pub async fn list_schedules(
        &self,
        project: Option<&str>,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        // The project's workflows through `workflow`'s (project, name) key, then their rows.
        let sql = format!("{SELECT} WHERE ($1 = '' OR w.project = $1) ORDER BY w.project, w.name");
        let rows = sqlx::query(&sql)
            .bind(project.unwrap_or(""))
            .fetch_all(&self.read)
            .await
            .ctx("listing schedules")?;
        rows.iter().map(ScheduleRecord::from_row).collect()
    }

    /// The schedule of one workflow.
    pub async fn get_schedule(
        &self,
        workflow: WorkflowId,
    ) -> Result<Option<ScheduleRecord>, StoreError> {
        let sql = format!("{SELECT} WHERE s.workflow_id = $1");
        let row = sqlx::query(&sql)
            .bind(workflow.0)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a schedule")?;
        row.as_ref().map(ScheduleRecord::from_row).transpose()
    }

    /// Puts a schedule online (its next fire computed from now) or offline.
    pub async fn set_schedule_online(
        &self,
        workflow: WorkflowId,
        online: bool,
    ) -> Result<(), StoreError> {
        let Some(record) = self.get_schedule(workflow).await? else {
            return Err(StoreError::NotFound(format!(
                "a schedule for workflow {workflow}"
            )));
        };
        let mut spec = record.spec.clone();
        spec.online = online;
        let next = spec.first_fire(record.workflow_timezone.as_deref(), now_us());
        sqlx::query("UPDATE schedule SET online = $1, next_fire_at = $2, updated_at = $3 WHERE workflow_id = $4")
            .bind(online as i64)
            .bind(next)
            .bind(now_us())
            .bind(workflow.0)
            .execute(&self.write)
            .await
            .ctx("switching a schedule")?;
        Ok(())
    }

    /// The earliest fire due of any online schedule (µs), for the masters' timers.
    pub async fn next_fire_due(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT MIN(next_fire_at) FROM schedule WHERE online = 1")
            .fetch_one(&self.read)
            .await
            .ctx("reading the next fire")
    }
}

/// A due schedule, with what firing it needs: the workflow's latest version, whose
/// instances its fires start.
#[derive(Debug, Clone)]
pub struct DueSchedule {
    /// The schedule.
    pub schedule: ScheduleRecord,
    /// The workflow's latest version.
    pub version: i64,
    /// The priority of the instances it fires.
    pub priority: Priority,
}

/// What a master decided for one due schedule, for [`SqlEngineTx::fire_batch`] to write.
#[derive(Debug, Clone)]
pub struct PlannedFire<'a> {
    /// The schedule (and its workflow's latest version).
    pub due: &'a DueSchedule,
    /// Fire times to start an instance for, oldest first.
    pub fire: Vec<i64>,
    /// The fires the misfire policy dropped.
    pub missed: Option<Missed>,
    /// The schedule's next fire due (`None`: none, or a fixed delay waiting).
    pub next_fire_at: Option<i64>,
}

/// What became of a fire time (or of a run of missed ones), as [`SqlEngineTx::fire_batch`]
/// wrote it: the facts lifecycle events are recorded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireOutcome {
    /// An instance was created (and its start queued) for the fire.
    Fired {
        /// The schedule's workflow.
        workflow: WorkflowId,
        /// The fire time (µs): the instance's schedule time.
        fire_time: i64,
        /// The instance.
        instance: WorkflowInstanceId,
    },
    /// The fire already had its instance (the unique key on schedule and fire time): nothing
    /// was created.
    AlreadyFired {
        /// The schedule's workflow.
        workflow: WorkflowId,
        /// The fire time (µs).
        fire_time: i64,
    },
    /// Fires missed while no master ran, dropped by the schedule's misfire policy.
    Misfired {
        /// The schedule's workflow.
        workflow: WorkflowId,
        /// Which.
        missed: Missed,
    },
}

/// Columns of a fired instance row.
const FIRE_COLUMNS: usize = 10;
/// Columns of a start command row.
const COMMAND_COLUMNS: usize = 4;
/// Columns of a schedule update row.
const ADVANCE_COLUMNS: usize = 3;
/// Bind parameters per statement: well below SQLite's and PostgreSQL's limits.
const MAX_PARAMS: usize = 6000;

/// `(p, p), (p, p)` for `rows` rows of `columns` values, each `p` a parameter: a plain `?` on
/// SQLite (whose lookup of numbered parameters makes a long statement cost quadratic time),
/// `$n` on PostgreSQL; wrapped in `CAST(p AS BIGINT)` when `bigint`, for a `VALUES` list
/// whose types nothing else tells PostgreSQL.
fn value_rows(backend: Backend, rows: usize, columns: usize, bigint: bool) -> String {
    let mut out = String::with_capacity(rows * columns * 6);
    for r in 0..rows {
        out.push_str(if r > 0 { ", (" } else { "(" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            let p = match backend {
                Backend::Sqlite => "?".to_string(),
                Backend::Postgres => format!("${}", r * columns + c + 1),
            };
            if bigint {
                out.push_str(&format!("CAST({p} AS BIGINT)"));
            } else {
                out.push_str(&p);
            }
        }
        out.push(')');
    }
    out
}

/// The states in which an instance of a schedule has not ended yet.
const NOT_ENDED: &str = "('submitted', 'running', 'stopping', 'pausing', 'paused')";

impl SqlEngineTx {
    /// Online schedules whose next fire is due at `now`, oldest due first, at most `limit`,
    /// but none of `exclude` (those this tick has already decided about and that stay due,
    /// such as a queued fire waiting for its running instance), locked for this transaction
    /// (on PostgreSQL, those another master is firing are skipped rather than waited for).
    pub async fn due_schedules(
        &mut self,
        now: i64,
        exclude: &[WorkflowId],
        limit: i64,
    ) -> Result<Vec<DueSchedule>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE OF s SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let excluded = match exclude.len() {
            0 => String::new(),
            n => {
                let list: Vec<String> = (0..n).map(|i| format!("${}", i + 3)).collect();
                format!(" AND s.workflow_id NOT IN ({})", list.join(", "))
            }
        };
        // By the index on the next fire alone: a batch costs its own rows, not the backlog's.
        let sql = format!(
            "{SELECT_DUE} WHERE s.online = 1 AND s.next_fire_at <= $1{excluded} \
             ORDER BY s.next_fire_at LIMIT $2{lock}"
        );
        let mut q = sqlx::query(&sql).bind(now).bind(limit);
        for id in exclude {
            q = q.bind(id.0);
        }
        let rows = q.fetch_all(self.conn()).await.ctx("taking due schedules")?;
        rows.iter()
            .map(|row| {
                let (schedule, workflow) = ScheduleRecord::with_workflow(row)?;
                Ok(DueSchedule {
                    schedule,
                    version: get(row, "latest_version")?,
                    priority: fire_priority(&workflow),
                })
            })
            .collect()
    }

    /// The instances not yet ended of each of these schedules, with their owners.
    pub async fn running_of_schedules(
        &mut self,
        schedules: &[WorkflowId],
    ) -> Result<HashMap<WorkflowId, Vec<(WorkflowInstanceId, Option<String>)>>, StoreError> {
        let mut out: HashMap<WorkflowId, Vec<_>> = HashMap::new();
        for chunk in schedules.chunks(MAX_PARAMS) {
            let list = value_rows(self.backend(), 1, chunk.len(), false);
            let sql = format!(
                "SELECT schedule_id, id, owner FROM workflow_instance \
                 WHERE schedule_id IN {list} AND state IN {NOT_ENDED}"
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.0);
            }
            let rows = q
                .fetch_all(self.conn())
                .await
                .ctx("listing schedules' instances")?;
            for r in &rows {
                let instance = (WorkflowInstanceId(get(r, "id")?), get(r, "owner")?);
                out.entry(WorkflowId(get(r, "schedule_id")?))
                    .or_default()
                    .push(instance);
            }
        }
        Ok(out)
    }

    /// Writes what the trigger decided for a batch of due schedules, in a few statements
    /// whatever its size: one instance per fire (none when the fire already has one: the
    /// unique key on schedule and fire time makes a fire create exactly one instance, however
    /// many masters run), their start commands, and every schedule moved on to its next
    /// fire, at `now` (µs, the master's clock). Each instance created has its
    /// `instance_submitted` event, recorded in this transaction. Returns what became of each
    /// fire, and the misfires, in the order planned.
    pub async fn fire_batch(
        &mut self,
        plans: &[PlannedFire<'_>],
        now: i64,
    ) -> Result<Vec<FireOutcome>, StoreError> {
        let fires: Vec<(&DueSchedule, i64)> = plans
            .iter()
            .flat_map(|p| p.fire.iter().map(move |t| (p.due, *t)))
            .collect();
        let mut created = HashMap::new();
        for chunk in fires.chunks(MAX_PARAMS / FIRE_COLUMNS) {
            created.extend(self.insert_fires(chunk, now).await?);
        }
        let mut ids: Vec<WorkflowInstanceId> = created.values().copied().collect();
        ids.sort();
        for chunk in ids.chunks(MAX_PARAMS / COMMAND_COLUMNS) {
            self.insert_starts(chunk, now).await?;
        }
        if !ids.is_empty() && self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(crate::instances::COMMAND_CHANNEL)
                .execute(self.conn())
                .await
                .ctx("waking the masters")?;
        }
        for chunk in plans.chunks(MAX_PARAMS / ADVANCE_COLUMNS) {
            self.advance_schedules(chunk).await?;
        }
        self.record_later(submitted_events(&fires, &created, now));
        Ok(outcomes(plans, &created))
    }

    /// Inserts the instances of some fires; returns the ones created.
    async fn insert_fires(
        &mut self,
        fires: &[(&DueSchedule, i64)],
        now: i64,
    ) -> Result<HashMap<(WorkflowId, i64), WorkflowInstanceId>, StoreError> {
        let sql = format!(
            "INSERT INTO workflow_instance (workflow_id, version, project, name, state, params, \
             priority, submitted_at, schedule_time, schedule_id) VALUES {} \
             ON CONFLICT DO NOTHING RETURNING id, schedule_id, schedule_time",
            value_rows(self.backend(), fires.len(), FIRE_COLUMNS, false)
        );
        let mut q = sqlx::query(&sql);
        for (due, fire_time) in fires {
            let s = &due.schedule;
            q = q
                .bind(s.workflow_id.0)
                .bind(due.version)
                .bind(&s.project)
                .bind(&s.name)
                .bind(WorkflowState::Submitted.as_str())
                .bind("{}")
                .bind(due.priority.as_str())
                .bind(now)
                .bind(*fire_time)
                .bind(s.workflow_id.0);
        }
        let rows = q
            .fetch_all(self.conn())
            .await
            .ctx("starting fires' instances")?;
        rows.iter()
            .map(|r| {
                let key = (WorkflowId(get(r, "schedule_id")?), get(r, "schedule_time")?);
                Ok((key, WorkflowInstanceId(get(r, "id")?)))
            })
            .collect()
    }

    /// Queues the start commands of new instances, for whichever master takes them.
    async fn insert_starts(
        &mut self,
        ids: &[WorkflowInstanceId],
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO command (kind, workflow_instance_id, target, created_at) VALUES {}",
            value_rows(self.backend(), ids.len(), COMMAND_COLUMNS, false)
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q
                .bind(CommandKind::Start.as_str())
                .bind(id.0)
                .bind(None::<String>)
                .bind(now);
        }
        q.execute(self.conn()).await.ctx("queueing fires' starts")?;
        Ok(())
    }

    /// Moves schedules on to their next fires (and their last fire times, when they fired).
    async fn advance_schedules(&mut self, plans: &[PlannedFire<'_>]) -> Result<(), StoreError> {
        let sql = format!(
            "WITH v (id, next_at, last_at) AS (VALUES {}) \
             UPDATE schedule SET next_fire_at = v.next_at, \
             last_fire_at = COALESCE(v.last_at, schedule.last_fire_at) \
             FROM v WHERE schedule.workflow_id = v.id",
            value_rows(self.backend(), plans.len(), ADVANCE_COLUMNS, true)
        );
        let mut q = sqlx::query(&sql);
        for p in plans {
            q = q
                .bind(p.due.schedule.workflow_id.0)
                .bind(p.next_fire_at)
                .bind(p.fire.last().copied());
        }
        q.execute(self.conn()).await.ctx("advancing schedules")?;
        Ok(())
    }

    /// Sets the next fire of a fixed-delay schedule once its instance has ended (no-op for
    /// a schedule that is offline or has a fire due already).
    pub async fn delay_schedule(
        &mut self,
        workflow: WorkflowId,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE schedule SET next_fire_at = $1 WHERE workflow_id = $2 AND online = 1 \
             AND next_fire_at IS NULL",
        )
        .bind(at)
        .bind(workflow.0)
        .execute(self.conn())
        .await
        .ctx("delaying a schedule")?;
        Ok(())
    }
}

/// The `instance_submitted` events of the fires that created an instance, in the order planned.
fn submitted_events(
    fires: &[(&DueSchedule, i64)],
    created: &HashMap<(WorkflowId, i64), WorkflowInstanceId>,
    now: i64,
) -> Vec<crate::NewEvent> {
    fires
        .iter()
        .filter_map(|(due, fire_time)| {
            let s = &due.schedule;
            let id = created.get(&(s.workflow_id, *fire_time))?;
            let why = Submission::Fire {
                fire_time: *fire_time,
            };
            Some(submitted_event(*id, &s.project, &s.name, now, why))
        })
        .collect()
}

/// Each planned fire's outcome (and each plan's misfires), in the order planned.
pub(crate) fn outcomes(
    plans: &[PlannedFire<'_>],
    created: &HashMap<(WorkflowId, i64), WorkflowInstanceId>,
) -> Vec<FireOutcome> {
    let mut out = Vec::new();
    for p in plans {
        let workflow = p.due.schedule.workflow_id;
        if let Some(missed) = p.missed {
            out.push(FireOutcome::Misfired { workflow, missed });
        }
        for fire_time in p.fire.iter().copied() {
            out.push(match created.get(&(workflow, fire_time)) {
                Some(instance) => FireOutcome::Fired {
                    workflow,
                    fire_time,
                    instance: *instance,
                },
                None => FireOutcome::AlreadyFired {
                    workflow,
                    fire_time,
                },
            });
        }
    }
    out
}
