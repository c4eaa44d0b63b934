//! Schedules: one per workflow that declares a `schedule:` block, with the next fire due. A
//! master takes a due schedule under a row lock, starts the fire's instance under a unique
//! (schedule, fire time) key and advances the schedule, all in one transaction: one instance
//! per fire, however many masters run.

use crate::engine::EngineTx;
use crate::error::{Context, StoreError};
use crate::records::{get, WorkflowRecord};
use crate::{now_us, Backend, CommandKind, Store};
use baton_core::spec::ScheduleSpec;
use baton_core::{WorkflowId, WorkflowInstanceId, WorkflowState};
use serde::Serialize;

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

impl ScheduleRecord {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, StoreError> {
        let spec: String = get(row, "spec")?;
        let workflow: String = get(row, "workflow_spec")?;
        let corrupt = |detail: String| StoreError::Corrupt {
            context: "schedule.spec",
            detail,
        };
        let workflow =
            baton_core::WorkflowSpec::from_json(&workflow).map_err(|e| corrupt(e.to_string()))?;
        Ok(ScheduleRecord {
            workflow_id: WorkflowId(get(row, "workflow_id")?),
            project: get(row, "project")?,
            name: get(row, "name")?,
            spec: serde_json::from_str(&spec).map_err(|e| corrupt(e.to_string()))?,
            workflow_timezone: workflow.timezone,
            online: get::<i64>(row, "online")? != 0,
            next_fire_at: get(row, "next_fire_at")?,
            last_fire_at: get(row, "last_fire_at")?,
        })
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
    /// Every schedule, by project and name.
    pub async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let sql = format!("{SELECT} ORDER BY w.project, w.name");
        let rows = sqlx::query(&sql)
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

impl EngineTx {
    /// Online schedules whose next fire is due at `now`, locked for this transaction (on
    /// PostgreSQL, those another master is firing are skipped).
    pub async fn due_schedules(
        &mut self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE OF s SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "{SELECT} WHERE s.online = 1 AND s.next_fire_at <= $1 ORDER BY s.next_fire_at LIMIT $2{lock}"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(limit)
            .fetch_all(self.conn())
            .await
            .ctx("taking due schedules")?;
        rows.iter().map(ScheduleRecord::from_row).collect()
    }

    /// Moves a schedule on after its fires.
    pub async fn advance_schedule(
        &mut self,
        workflow: WorkflowId,
        next_fire_at: Option<i64>,
        last_fire_at: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE schedule SET next_fire_at = $1, last_fire_at = COALESCE($2, last_fire_at) \
             WHERE workflow_id = $3",
        )
        .bind(next_fire_at)
        .bind(last_fire_at)
        .bind(workflow.0)
        .execute(self.conn())
        .await
        .ctx("advancing a schedule")?;
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

    /// Instances of the schedule not yet ended.
    pub async fn running_of_schedule(
        &mut self,
        workflow: WorkflowId,
    ) -> Result<Vec<(WorkflowInstanceId, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, owner FROM workflow_instance WHERE schedule_id = $1 \
             AND state IN ('submitted', 'running', 'stopping', 'pausing', 'paused')",
        )
        .bind(workflow.0)
        .fetch_all(self.conn())
        .await
        .ctx("listing a schedule's instances")?;
        rows.iter()
            .map(|r| Ok((WorkflowInstanceId(get(r, "id")?), get(r, "owner")?)))
            .collect()
    }

    /// Starts the instance of one fire: none when that fire already has one.
    pub async fn fire(
        &mut self,
        workflow: &WorkflowRecord,
        fire_time: i64,
    ) -> Result<Option<WorkflowInstanceId>, StoreError> {
        let params = "{}";
        let row = sqlx::query(
            "INSERT INTO workflow_instance (workflow_id, version, project, name, state, params, \
             priority, submitted_at, schedule_time, schedule_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $1) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(workflow.id.0)
        .bind(workflow.version)
        .bind(&workflow.project)
        .bind(&workflow.name)
        .bind(WorkflowState::Submitted.as_str())
        .bind(params)
        .bind(fire_priority(&workflow.spec).as_str())
        .bind(now_us())
        .bind(fire_time)
        .fetch_optional(self.conn())
        .await
        .ctx("starting a fire's instance")?;
        let Some(row) = row else { return Ok(None) };
        let id = WorkflowInstanceId(get(&row, "id")?);
        self.queue_command(CommandKind::Start, id).await?;
        Ok(Some(id))
    }
}
