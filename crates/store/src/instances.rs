//! Workflow and task instances as the API sees them: creating one (with its start command),
//! asking for a stop, and reading history page by page.

use crate::engine::CommandKind;
use crate::error::{Context, StoreError};
use crate::events::{record_events, NewEvent};
use crate::history::{bind_all, Bound};
use crate::records::{
    corrupt, get, AttemptRecord, InstanceRecord, TaskInstanceRecord, WorkflowRecord,
};
use crate::{now_us, Store};
use baton_core::start::StartOverrides;
use baton_core::{EventKind, TaskInstanceId, TaskState, WorkflowInstanceId, WorkflowState};
use std::collections::BTreeMap;

/// What is needed to start a workflow instance.
#[derive(Debug, Clone)]
pub struct NewInstance<'a> {
    /// The version to run.
    pub workflow: &'a WorkflowRecord,
    /// Start-time params (already checked against the definition).
    pub params: BTreeMap<String, String>,
    /// What the start gives in place of the workflow's values (already checked).
    pub overrides: StartOverrides,
}

/// Which instances to list. Pages go backwards in time: pass the smallest id seen as `before`.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    /// Only this project…
    pub project: Option<String>,
    /// …and this workflow name.
    pub workflow: Option<String>,
    /// Only in this state.
    pub state: Option<WorkflowState>,
    /// Only ids below this.
    pub before: Option<i64>,
    /// Only submitted at or after this time (µs)…
    pub submitted_since: Option<i64>,
    /// …and before this one (µs).
    pub submitted_until: Option<i64>,
    /// At most this many (default 50, at most 1000).
    pub limit: Option<i64>,
}

impl InstanceFilter {
    /// The `WHERE` clause of the filters that are set, with their values in placeholder order.
    /// Only the given filters appear, so that each combination can use its index (a clause
    /// like `($1 = '' OR project = $1)` cannot, and scans the table once history is long).
    fn clause(&self) -> (String, Vec<Bound>) {
        let mut terms = Vec::new();
        let mut values = Vec::new();
        let mut add = |term: &str, value: Bound| {
            values.push(value);
            terms.push(format!("{term} ${}", values.len()));
        };
        if let Some(p) = &self.project {
            add("project =", Bound::Text(p.clone()));
        }
        if let Some(w) = &self.workflow {
            add("name =", Bound::Text(w.clone()));
        }
        if let Some(s) = self.state {
            add("state =", Bound::Text(s.as_str().to_string()));
        }
        if let Some(t) = self.submitted_since {
            add("submitted_at >=", Bound::Int(t));
        }
        if let Some(t) = self.submitted_until {
            add("submitted_at <", Bound::Int(t));
        }
        add("id <", Bound::Int(self.before.unwrap_or(i64::MAX)));
        (terms.join(" AND "), values)
    }
}

/// Why an instance was created: what its `instance_submitted` event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Submission {
    /// Started through the API, for a schedule time or not.
    Start {
        /// The time it stands for (µs), when given.
        schedule_time: Option<i64>,
    },
    /// Fired by its workflow's schedule.
    Fire {
        /// The fire time (µs): the instance's schedule time.
        fire_time: i64,
    },
    /// Started by a backfill.
    Backfill {
        /// The backfill.
        backfill: i64,
        /// The schedule time (µs) it runs for.
        schedule_time: i64,
    },
}

/// The `instance_submitted` event of a new instance, in one shape whoever creates it (the
/// API, a schedule's fire, a backfill): the message says why, the detail gives the schedule
/// time it stands for and the backfill that started it, when there are.
pub(crate) fn submitted_event(
    id: WorkflowInstanceId,
    project: &str,
    workflow: &str,
    at: i64,
    why: Submission,
) -> NewEvent {
    let (message, detail) = match why {
        Submission::Start {
            schedule_time: None,
        } => ("submitted".to_string(), None),
        Submission::Start {
            schedule_time: Some(t),
        } => (
            "submitted for its schedule time".to_string(),
            Some(serde_json::json!({"schedule_time_us": t})),
        ),
        Submission::Fire { fire_time } => (
            "submitted, fired by its schedule".to_string(),
            Some(serde_json::json!({"schedule_time_us": fire_time})),
        ),
        Submission::Backfill {
            backfill,
            schedule_time,
        } => (
            format!("submitted by backfill {backfill}"),
            Some(serde_json::json!({"backfill_id": backfill, "schedule_time_us": schedule_time})),
        ),
    };
    let event =
        NewEvent::new(EventKind::InstanceSubmitted, at, message).instance(id, project, workflow);
    match detail {
        Some(detail) => event.detail(detail),
        None => event,
    }
}

/// The answer to a stop request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// A stop command is queued for the owning master.
    Requested,
    /// The instance had already ended, in this state.
    AlreadyEnded(WorkflowState),
}

/// A request that queues a command only for an instance in some states: what the SQL
/// store and the in-memory one both check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Request {
    /// Run again what failed, was killed or did not run.
    Recover,
    /// Let running tasks finish and start nothing new.
    Pause,
    /// Run a paused instance on.
    Resume,
}

impl Request {
    /// A pause (`pause`) or a resume.
    pub(crate) fn pause(pause: bool) -> Request {
        if pause {
            Request::Pause
        } else {
            Request::Resume
        }
    }

    /// The command it queues.
    pub(crate) fn kind(self) -> CommandKind {
        match self {
            Request::Recover => CommandKind::Recover,
            Request::Pause => CommandKind::Pause,
            Request::Resume => CommandKind::Resume,
        }
    }

    /// The states it needs, in words, and what it does, in words.
    fn allowed(self) -> (&'static [WorkflowState], &'static str, &'static str) {
        use WorkflowState::{Failed, Paused, Pausing, Running, Stopped};
        match self {
            Request::Recover => (&[Failed, Stopped], "failed or stopped", "recovered"),
            Request::Pause => (&[Running], "running", "paused"),
            Request::Resume => (&[Pausing, Paused], "pausing or paused", "resumed"),
        }
    }

    /// The master its command is for (the owner while the instance runs, any master once it
    /// has ended), or the conflict when the instance is not in a state the request allows.
    pub(crate) fn target(self, instance: &InstanceRecord) -> Result<Option<&str>, StoreError> {
        let (allowed, allowed_text, done_text) = self.allowed();
        if !allowed.contains(&instance.state) {
            return Err(StoreError::Conflict(format!(
                "workflow instance {} is {}: only a {allowed_text} instance can be {done_text}",
                instance.id, instance.state
            )));
        }
        Ok(instance
            .owner
            .as_deref()
            .filter(|_| !instance.state.is_final()))
    }
}

pub(crate) const INSTANCE_COLUMNS: &str =
    "id, workflow_id, version, project, name, state, params, priority, \
     owner, epoch, submitted_at, started_at, ended_at, schedule_time, schedule_id, only_tasks, \
     parent_instance_id, parent_task_instance_id, overrides";
pub(crate) const TASK_COLUMNS: &str = "id, workflow_instance_id, task_name, state, attempt, \
     retries_used, worker, submitted_at, started_at, ended_at, exit_code, message, next_retry_at, \
     outputs, task_group, map_items, map_task, map_index";

/// The `overrides` column of an instance: NULL when nothing is overridden.
fn overrides_column(overrides: &StartOverrides) -> Option<String> {
    (!overrides.is_empty()).then(|| serde_json::to_string(overrides).expect("overrides serialize"))
}

impl Store {
    /// Creates a workflow instance in state `submitted` and the command that makes a master
    /// start it, in one transaction.
    pub async fn create_instance(
        &self,
        new: NewInstance<'_>,
    ) -> Result<WorkflowInstanceId, StoreError> {
        self.create_instance_at(new, None).await
    }

    /// Like [`Store::create_instance`], for an instance that stands for `schedule_time` (µs):
    /// a schedule's fire time or a back-filled date.
    pub async fn create_instance_at(
        &self,
        new: NewInstance<'_>,
        schedule_time: Option<i64>,
    ) -> Result<WorkflowInstanceId, StoreError> {
        self.create_instance_scoped(new, schedule_time, None).await
    }

    /// Like [`Store::create_instance_at`], running only the tasks named (`start --from-task`);
    /// the others count as done.
    pub async fn create_instance_scoped(
        &self,
        new: NewInstance<'_>,
        schedule_time: Option<i64>,
        only_tasks: Option<Vec<String>>,
    ) -> Result<WorkflowInstanceId, StoreError> {
        let only = only_tasks.map(|t| serde_json::to_string(&t).expect("names serialize"));
        let now = now_us();
        let params = serde_json::to_string(&new.params).expect("params serialize");
        let mut tx = self.write.begin().await.ctx("starting an instance")?;
        let row = sqlx::query(
            "INSERT INTO workflow_instance (workflow_id, version, project, name, state, params, \
             priority, submitted_at, schedule_time, only_tasks, overrides) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             RETURNING id",
        )
        .bind(new.workflow.id.0)
        .bind(new.workflow.version)
        .bind(&new.workflow.project)
        .bind(&new.workflow.name)
        .bind(WorkflowState::Submitted.as_str())
        .bind(params)
        .bind(new.overrides.priority(&new.workflow.spec).as_str())
        .bind(now)
        .bind(schedule_time)
        .bind(only)
        .bind(overrides_column(&new.overrides))
        .fetch_one(&mut *tx)
        .await
        .ctx("creating a workflow instance")?;
        let id = WorkflowInstanceId(get(&row, "id")?);
        insert_command(&mut tx, self.backend, CommandKind::Start, id, None, now).await?;
        let why = Submission::Start { schedule_time };
        let submitted = submitted_event(id, &new.workflow.project, &new.workflow.name, now, why);
        record_events(&mut tx, self.backend, &[submitted]).await?;
        tx.commit().await.ctx("committing a new instance")?;
        Ok(id)
    }

    /// Queues a stop for the master that runs the instance, unless it has ended.
    pub async fn request_stop(&self, id: WorkflowInstanceId) -> Result<StopRequest, StoreError> {
        let mut tx = self.write.begin().await.ctx("starting a stop")?;
        let Some(instance) = select_instance(&mut *tx, id).await? else {
            return Err(StoreError::NotFound(format!("workflow instance {id}")));
        };
        if instance.state.is_final() {
            return Ok(StopRequest::AlreadyEnded(instance.state));
        }
        let target = instance.owner.as_deref();
        insert_command(
            &mut tx,
            self.backend,
            CommandKind::Stop,
            id,
            target,
            now_us(),
        )
        .await?;
        tx.commit().await.ctx("committing a stop")?;
        Ok(StopRequest::Requested)
    }

    /// Asks a master to recover an ended instance: run again what failed, was killed or did
    /// not run, keeping what succeeded.
    pub async fn request_recover(&self, id: WorkflowInstanceId) -> Result<(), StoreError> {
        self.queue_for(id, Request::Recover).await
    }

    /// Asks the owning master to pause (running tasks finish, nothing new starts) or to
    /// resume an instance.
    pub async fn request_pause(
        &self,
        id: WorkflowInstanceId,
        pause: bool,
    ) -> Result<(), StoreError> {
        self.queue_for(id, Request::pause(pause)).await
    }

    /// Queues the request's command when the instance is in a state it allows (otherwise a
    /// conflict that says which states would do): for the instance's owner while it runs,
    /// for any master once it has ended (its last owner may be gone).
    async fn queue_for(&self, id: WorkflowInstanceId, request: Request) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.ctx("starting a command")?;
        let Some(instance) = select_instance(&mut *tx, id).await? else {
            return Err(StoreError::NotFound(format!("workflow instance {id}")));
        };
        let target = request.target(&instance)?;
        insert_command(&mut tx, self.backend, request.kind(), id, target, now_us()).await?;
        tx.commit().await.ctx("committing a command")?;
        Ok(())
    }

    /// Marks a failed or killed task of an ended instance as succeeded, so that a recover
    /// goes on past it.
    pub async fn mark_success(&self, id: TaskInstanceId) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE task_instance SET state = 'succeeded', message = 'marked succeeded by a user' \
             WHERE id = $1 AND state IN ('failed', 'killed') AND map_items IS NULL \
             AND workflow_instance_id IN \
             (SELECT id FROM workflow_instance WHERE state IN ('failed', 'stopped'))",
        )
        .bind(id.0)
        .execute(&self.write)
        .await
        .ctx("marking a task succeeded")?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        match self.task_instance(id).await? {
            None => Err(StoreError::NotFound(format!("task instance {id}"))),
            Some(t) if matches!(t.map, Some(crate::MapRole::Mapped { .. })) => {
                Err(StoreError::Conflict(format!(
                    "task instance {id} is the mapped task `{}`, which has no outputs of its \
                     own: mark its failed items succeeded instead (`baton instance items {} {} \
                     --state failed`), then recover",
                    t.task_name, t.workflow_instance_id, t.task_name
                )))
            }
            Some(t) => Err(StoreError::Conflict(format!(
                "task instance {id} is {}: only a failed or killed task of a failed or stopped \
                 instance can be marked succeeded",
                t.state
            ))),
        }
    }

    /// Running and stopping instances with their owning masters.
    pub async fn owners(&self) -> Result<Vec<(Option<String>, WorkflowInstanceId)>, StoreError> {
        let rows = sqlx::query(
            "SELECT owner, id FROM workflow_instance \
             WHERE state IN ('running', 'stopping', 'pausing', 'paused') \
             ORDER BY id",
        )
        .fetch_all(&self.read)
        .await
        .ctx("listing instance owners")?;
        rows.iter()
            .map(|r| Ok((get(r, "owner")?, WorkflowInstanceId(get(r, "id")?))))
            .collect()
    }

    /// The child instances of the instance's `sub_workflow` tasks, oldest first (through
    /// the `(parent_instance_id, id)` index).
    pub async fn child_instances(
        &self,
        parent: WorkflowInstanceId,
    ) -> Result<Vec<InstanceRecord>, StoreError> {
        let sql = format!(
            "SELECT {INSTANCE_COLUMNS} FROM workflow_instance WHERE parent_instance_id = $1 \
             ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(parent.0)
            .fetch_all(&self.read)
            .await
            .ctx("reading the child instances of an instance")?;
        rows.iter().map(InstanceRecord::from_row).collect()
    }

    /// One instance.
    pub async fn get_instance(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Option<InstanceRecord>, StoreError> {
        select_instance(&self.read, id).await
    }

    /// A page of instances, newest first.
    pub async fn list_instances(
        &self,
        filter: &InstanceFilter,
    ) -> Result<Vec<InstanceRecord>, StoreError> {
        let (clause, values) = filter.clause();
        let sql = format!(
            "SELECT {INSTANCE_COLUMNS} FROM workflow_instance WHERE {clause} \
             ORDER BY id DESC LIMIT ${}",
            values.len() + 1
        );
        let rows = bind_all(sqlx::query(&sql), values)
            .bind(filter.limit.unwrap_or(50).clamp(1, 1000))
            .fetch_all(&self.read)
            .await
            .ctx("listing instances")?;
        rows.iter().map(InstanceRecord::from_row).collect()
    }

    /// The task instances of a workflow instance, in the order they became ready.
    pub async fn task_instances(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        select_tasks(&self.read, id).await
    }

    /// The task instances of a workflow instance without the items of its mapped tasks
    /// (read those a page at a time with [`Store::map_items`]), in the order they became ready.
    pub async fn instance_tasks(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM task_instance WHERE workflow_instance_id = $1 \
             AND map_task IS NULL ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(id.0)
            .fetch_all(&self.read)
            .await
            .ctx("listing task instances")?;
        rows.iter().map(TaskInstanceRecord::from_row).collect()
    }

    /// How many items of each mapped task of a workflow instance are in each state:
    /// `(mapped task, state, count)`, by task then state.
    pub async fn item_counts(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<(String, TaskState, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT map_task, state, COUNT(*) AS n FROM task_instance \
             WHERE workflow_instance_id = $1 AND map_task IS NOT NULL \
             GROUP BY map_task, state ORDER BY map_task, state",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await
        .ctx("counting the items of mapped tasks")?;
        rows.iter()
            .map(|row| {
                let state: String = get(row, "state")?;
                let state = state
                    .parse()
                    .map_err(|e| corrupt("task_instance.state", e))?;
                Ok((get(row, "map_task")?, state, get(row, "n")?))
            })
            .collect()
    }

    /// A page of the items of one mapped task, in list order: those after item `after`,
    /// in `state` if given (an index walk on `(instance, task, index)`).
    pub async fn map_items(
        &self,
        page: &ItemPage<'_>,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        let state_clause = if page.state.is_some() {
            " AND state = $4"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM task_instance WHERE workflow_instance_id = $1 \
             AND map_task = $2 AND map_index > $3{state_clause} ORDER BY map_index LIMIT {}",
            page.limit.clamp(1, 1000)
        );
        let mut query = sqlx::query(&sql)
            .bind(page.instance.0)
            .bind(page.task)
            // From the first: a map-reduce task's split and reduce rows have places below 0.
            .bind(page.after.unwrap_or(i64::MIN));
        if let Some(state) = page.state {
            query = query.bind(state.as_str());
        }
        let rows = query
            .fetch_all(&self.read)
            .await
            .ctx("listing the items of a mapped task")?;
        rows.iter().map(TaskInstanceRecord::from_row).collect()
    }

    /// The ended attempts of one task instance, oldest first.
    pub async fn task_attempts(
        &self,
        id: TaskInstanceId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT task_instance_id, attempt, state, worker, started_at, ended_at, exit_code, \
             message FROM task_attempt WHERE task_instance_id = $1 ORDER BY attempt",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await
        .ctx("listing attempts")?;
        rows.iter().map(AttemptRecord::from_row).collect()
    }

    /// One task instance.
    pub async fn task_instance(
        &self,
        id: TaskInstanceId,
    ) -> Result<Option<TaskInstanceRecord>, StoreError> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM task_instance WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a task instance")?;
        row.as_ref().map(TaskInstanceRecord::from_row).transpose()
    }

    /// The commands queued for a workflow instance that no master has taken yet, oldest
    /// first: what the instance is about to do (a recover just accepted, a stop on its way).
    pub async fn pending_commands(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<CommandKind>, StoreError> {
        let kinds: Vec<String> = sqlx::query_scalar(
            "SELECT kind FROM command WHERE workflow_instance_id = $1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await
        .ctx("listing an instance's pending commands")?;
        kinds.iter().map(|k| command_kind(k)).collect()
    }

    /// [`Store::pending_commands`] of every instance with an id from `low` to `high`, in one
    /// query (for a page of instances): instance → its commands, oldest first.
    pub async fn pending_commands_between(
        &self,
        low: WorkflowInstanceId,
        high: WorkflowInstanceId,
    ) -> Result<BTreeMap<WorkflowInstanceId, Vec<CommandKind>>, StoreError> {
        let rows = sqlx::query(
            "SELECT workflow_instance_id, kind FROM command \
             WHERE workflow_instance_id >= $1 AND workflow_instance_id <= $2 ORDER BY id",
        )
        .bind(low.0)
        .bind(high.0)
        .fetch_all(&self.read)
        .await
        .ctx("listing pending commands")?;
        let mut out: BTreeMap<WorkflowInstanceId, Vec<CommandKind>> = BTreeMap::new();
        for row in &rows {
            let kind: String = get(row, "kind")?;
            out.entry(WorkflowInstanceId(get(row, "workflow_instance_id")?))
                .or_default()
                .push(command_kind(&kind)?);
        }
        Ok(out)
    }

    /// The ended attempts of every task of a workflow instance, by task and attempt.
    pub async fn attempts(&self, id: WorkflowInstanceId) -> Result<Vec<AttemptRecord>, StoreError> {
        self.attempts_where(id, "").await
    }

    /// The ended attempts of a workflow instance's tasks without those of the items of its
    /// mapped tasks (as [`Store::instance_tasks`]).
    pub async fn instance_attempts(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        self.attempts_where(id, " AND t.map_task IS NULL").await
    }

    async fn attempts_where(
        &self,
        id: WorkflowInstanceId,
        condition: &str,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        let sql = format!(
            "SELECT a.task_instance_id, a.attempt, a.state, a.worker, a.started_at, a.ended_at, \
             a.exit_code, a.message FROM task_attempt a \
             JOIN task_instance t ON t.id = a.task_instance_id \
             WHERE t.workflow_instance_id = $1{condition} ORDER BY a.task_instance_id, a.attempt"
        );
        let rows = sqlx::query(&sql)
            .bind(id.0)
            .fetch_all(&self.read)
            .await
            .ctx("listing attempts")?;
        rows.iter().map(AttemptRecord::from_row).collect()
    }
}

/// Which items of a mapped task to read ([`Store::map_items`]).
#[derive(Debug, Clone, Copy)]
pub struct ItemPage<'a> {
    /// The workflow instance.
    pub instance: WorkflowInstanceId,
    /// The mapped task's name.
    pub task: &'a str,
    /// Only items in this state.
    pub state: Option<TaskState>,
    /// Items after this index (the last of the page before).
    pub after: Option<i64>,
    /// At most this many (1 to 1000).
    pub limit: i64,
}

/// One workflow instance, through any connection or transaction.
pub(crate) async fn select_instance<'e, E>(
    executor: E,
    id: WorkflowInstanceId,
) -> Result<Option<InstanceRecord>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {INSTANCE_COLUMNS} FROM workflow_instance WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.0)
        .fetch_optional(executor)
        .await
        .ctx("reading an instance")?;
    row.as_ref().map(InstanceRecord::from_row).transpose()
}

/// The task instances of a workflow instance, through any connection or transaction.
pub(crate) async fn select_tasks<'e, E>(
    executor: E,
    id: WorkflowInstanceId,
) -> Result<Vec<TaskInstanceRecord>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM task_instance WHERE workflow_instance_id = $1 ORDER BY id"
    );
    let rows = sqlx::query(&sql)
        .bind(id.0)
        .fetch_all(executor)
        .await
        .ctx("listing task instances")?;
    rows.iter().map(TaskInstanceRecord::from_row).collect()
}

/// A stored command kind.
fn command_kind(text: &str) -> Result<CommandKind, StoreError> {
    use CommandKind as K;
    [
        K::Start,
        K::Stop,
        K::Recover,
        K::Pause,
        K::Resume,
        K::ChildEnded,
    ]
    .into_iter()
    .find(|k| k.as_str() == text)
    .ok_or_else(|| StoreError::Corrupt {
        context: "command.kind",
        detail: format!("unknown command kind `{text}`"),
    })
}

/// The PostgreSQL channel on which masters hear of new commands.
pub(crate) const COMMAND_CHANNEL: &str = "baton_commands";

/// Queues a command; on PostgreSQL the masters listening are woken when it commits.
pub(crate) async fn insert_command(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: crate::Backend,
    kind: CommandKind,
    id: WorkflowInstanceId,
    target: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO command (kind, workflow_instance_id, target, created_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(kind.as_str())
    .bind(id.0)
    .bind(target)
    .bind(now)
    .execute(&mut **tx)
    .await
    .ctx("queueing a command")?;
    if backend == crate::Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(COMMAND_CHANNEL)
            .execute(&mut **tx)
            .await
            .ctx("waking the masters")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::TestDb;
    use crate::{CommandKind, NewInstance};
    use baton_core::WorkflowInstanceId;
    use std::collections::BTreeMap;

    async fn pending_commands_are_listed_until_taken(db: &TestDb) {
        let store = db.store().await;
        let text = "name: etl
tasks:
  - {name: a, type: shell, command: 'true'}
";
        let wf = crate::testing::applied(&store, text).await;
        let mut ids = Vec::new();
        for _ in 0..2 {
            let new = NewInstance {
                workflow: &wf,
                params: BTreeMap::new(),
                overrides: Default::default(),
            };
            ids.push(store.create_instance(new).await.unwrap());
        }
        store.request_stop(ids[0]).await.unwrap();
        assert_eq!(
            store.pending_commands(ids[0]).await.unwrap(),
            vec![CommandKind::Start, CommandKind::Stop]
        );
        let page = store
            .pending_commands_between(WorkflowInstanceId(i64::MIN), ids[1])
            .await
            .unwrap();
        assert_eq!(page[&ids[1]], vec![CommandKind::Start]);
        assert_eq!(page[&ids[0]].len(), 2);
        let only_first = store
            .pending_commands_between(ids[0], ids[0])
            .await
            .unwrap();
        assert!(!only_first.contains_key(&ids[1]));
        // A master takes them: none pending.
        let mut tx = store.begin_engine().await.unwrap();
        tx.take_commands("m", 100).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.pending_commands(ids[0]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn sqlite() {
        pending_commands_are_listed_until_taken(&TestDb::sqlite()).await;
    }

    #[tokio::test]
    async fn postgres() {
        pending_commands_are_listed_until_taken(&TestDb::postgres().await).await;
    }
}
