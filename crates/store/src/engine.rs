//! The master's side of the store: taking commands and recording every state change of the
//! instances it runs. All of it goes through one transaction per engine tick ([`EngineTx`]),
//! committed before the master acts on what it decided.

use crate::error::{Context, StoreError};
use crate::instances::TASK_COLUMNS;
use crate::records::{get, InstanceRecord, TaskInstanceRecord};
use crate::{Backend, Store};
use baton_core::{TaskInstanceId, TaskState, WorkflowInstanceId, WorkflowState};
use sqlx::{Any, Transaction};

/// What a command asks a master to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// Start a submitted instance.
    Start,
    /// Stop a running instance.
    Stop,
}

impl CommandKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Start => "start",
            CommandKind::Stop => "stop",
        }
    }
}

/// A request to the masters, taken by exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Its id (commands are taken in id order).
    pub id: i64,
    /// What to do.
    pub kind: CommandKind,
    /// To which instance.
    pub instance: WorkflowInstanceId,
}

/// How an attempt ended, to be recorded in the task instance and its history.
#[derive(Debug, Clone)]
pub struct TaskEnd<'a> {
    /// The task instance.
    pub id: TaskInstanceId,
    /// The attempt that ended.
    pub attempt: i64,
    /// Its outcome: succeeded, failed, retry_wait (failed with a retry to come), killed,
    /// need_failover.
    pub state: TaskState,
    /// How the attempt itself ended, for the history (failed for a retry_wait).
    pub attempt_state: TaskState,
    /// Where it ran.
    pub worker: Option<&'a str>,
    /// When it started, if it did.
    pub started_at: Option<i64>,
    /// When it ended.
    pub ended_at: i64,
    /// Exit code of its process.
    pub exit_code: Option<i64>,
    /// Why it failed.
    pub message: Option<&'a str>,
    /// Failed attempts so far, counted against retries.
    pub retries_used: i64,
    /// When the next attempt is due (retry_wait only).
    pub next_retry_at: Option<i64>,
}

/// One engine tick's transaction. Dropped without [`EngineTx::commit`], nothing is written.
pub struct EngineTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
}

impl Store {
    /// Starts an engine transaction.
    pub async fn begin_engine(&self) -> Result<EngineTx, StoreError> {
        let tx = self
            .write
            .begin()
            .await
            .ctx("starting an engine transaction")?;
        Ok(EngineTx {
            tx,
            backend: self.backend,
        })
    }

    /// Instances a master must resume: running or stopping, owned by `owner`, or by anyone
    /// when `owner` is `None` (standalone).
    pub async fn active_instances(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<InstanceRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, workflow_id, version, project, name, state, params, priority, owner, \
             epoch, submitted_at, started_at, ended_at FROM workflow_instance \
             WHERE state IN ('running', 'stopping') AND ($1 = '' OR owner = $1) ORDER BY id",
        )
        .bind(owner.unwrap_or(""))
        .fetch_all(&self.write)
        .await
        .ctx("listing active instances")?;
        rows.iter().map(InstanceRecord::from_row).collect()
    }
}

impl EngineTx {
    /// Takes up to `limit` commands, oldest first; they are gone once this commits. On
    /// PostgreSQL, commands another master is taking are skipped, not waited for.
    pub async fn take_commands(&mut self, limit: i64) -> Result<Vec<Command>, StoreError> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT id, kind, workflow_instance_id FROM command ORDER BY id LIMIT $1{lock}"
        );
        let rows = sqlx::query(&sql)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .ctx("taking commands")?;
        let mut commands = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = get(row, "id")?;
            let kind: String = get(row, "kind")?;
            let kind = match kind.as_str() {
                "start" => CommandKind::Start,
                "stop" => CommandKind::Stop,
                other => {
                    return Err(StoreError::Corrupt {
                        context: "command.kind",
                        detail: other.to_string(),
                    })
                }
            };
            sqlx::query("DELETE FROM command WHERE id = $1")
                .bind(id)
                .execute(&mut *self.tx)
                .await
                .ctx("deleting a taken command")?;
            commands.push(Command {
                id,
                kind,
                instance: WorkflowInstanceId(get(row, "workflow_instance_id")?),
            });
        }
        Ok(commands)
    }

    /// Reads an instance inside the transaction.
    pub async fn instance(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Option<InstanceRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, workflow_id, version, project, name, state, params, priority, owner, \
             epoch, submitted_at, started_at, ended_at FROM workflow_instance WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&mut *self.tx)
        .await
        .ctx("reading an instance")?;
        row.as_ref().map(InstanceRecord::from_row).transpose()
    }

    /// The task instances of an instance (for resuming it).
    pub async fn task_instances(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM task_instance WHERE workflow_instance_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(id.0)
            .fetch_all(&mut *self.tx)
            .await
            .ctx("reading task instances")?;
        rows.iter().map(TaskInstanceRecord::from_row).collect()
    }

    /// The master `owner` takes the instance under `epoch` and it is running.
    pub async fn start_instance(
        &mut self,
        id: WorkflowInstanceId,
        owner: &str,
        epoch: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_instance SET state = 'running', owner = $1, epoch = $2, \
             started_at = COALESCE(started_at, $3) WHERE id = $4",
        )
        .bind(owner)
        .bind(epoch)
        .bind(now)
        .bind(id.0)
        .execute(&mut *self.tx)
        .await
        .ctx("starting an instance")?;
        Ok(())
    }

    /// Records a state that is not an end (stopping).
    pub async fn set_instance_state(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE workflow_instance SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id.0)
            .execute(&mut *self.tx)
            .await
            .ctx("changing an instance's state")?;
        Ok(())
    }

    /// Records the end of an instance.
    pub async fn finish_instance(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workflow_instance SET state = $1, ended_at = $2, \
             started_at = COALESCE(started_at, $2) WHERE id = $3",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(id.0)
        .execute(&mut *self.tx)
        .await
        .ctx("finishing an instance")?;
        Ok(())
    }

    /// A task became ready: its task instance starts at attempt 1, submitted.
    pub async fn insert_task(
        &mut self,
        instance: WorkflowInstanceId,
        task_name: &str,
        now: i64,
    ) -> Result<TaskInstanceId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO task_instance (workflow_instance_id, task_name, state, attempt, \
             submitted_at) VALUES ($1, $2, 'submitted', 1, $3) RETURNING id",
        )
        .bind(instance.0)
        .bind(task_name)
        .bind(now)
        .fetch_one(&mut *self.tx)
        .await
        .ctx("creating a task instance")?;
        Ok(TaskInstanceId(get(&row, "id")?))
    }

    /// The attempt is handed to `worker`.
    pub async fn dispatch_task(
        &mut self,
        id: TaskInstanceId,
        attempt: i64,
        worker: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE task_instance SET state = 'dispatched', worker = $1 \
             WHERE id = $2 AND attempt = $3",
        )
        .bind(worker)
        .bind(id.0)
        .bind(attempt)
        .execute(&mut *self.tx)
        .await
        .ctx("dispatching a task")?;
        Ok(())
    }

    /// The worker reports the attempt running. Returns false for a stale report (another
    /// attempt is current, or this one already ended).
    pub async fn task_started(
        &mut self,
        id: TaskInstanceId,
        attempt: i64,
        worker: &str,
        started_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE task_instance SET state = 'running', started_at = $1, worker = $2 \
             WHERE id = $3 AND attempt = $4 AND state IN ('submitted', 'dispatched')",
        )
        .bind(started_at)
        .bind(worker)
        .bind(id.0)
        .bind(attempt)
        .execute(&mut *self.tx)
        .await
        .ctx("recording a task start")?;
        Ok(done.rows_affected() == 1)
    }

    /// A new attempt is queued (after a retry wait or a lost attempt).
    pub async fn requeue_task(
        &mut self,
        id: TaskInstanceId,
        attempt: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE task_instance SET state = 'submitted', attempt = $1, worker = NULL, \
             started_at = NULL, ended_at = NULL, exit_code = NULL, message = NULL, \
             next_retry_at = NULL WHERE id = $2",
        )
        .bind(attempt)
        .bind(id.0)
        .execute(&mut *self.tx)
        .await
        .ctx("queueing a new attempt")?;
        Ok(())
    }

    /// Records how an attempt ended, in the task instance and in its history. Returns false
    /// (and records nothing) when that attempt's outcome was recorded already.
    pub async fn end_attempt(&mut self, end: &TaskEnd<'_>) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO task_attempt (task_instance_id, attempt, state, worker, started_at, \
             ended_at, exit_code, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (task_instance_id, attempt) DO NOTHING",
        )
        .bind(end.id.0)
        .bind(end.attempt)
        .bind(end.attempt_state.as_str())
        .bind(end.worker)
        .bind(end.started_at)
        .bind(end.ended_at)
        .bind(end.exit_code)
        .bind(end.message)
        .execute(&mut *self.tx)
        .await
        .ctx("recording an attempt")?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE task_instance SET state = $1, worker = COALESCE($2, worker), \
             started_at = COALESCE($3, started_at), ended_at = $4, exit_code = $5, \
             message = $6, retries_used = $7, next_retry_at = $8 WHERE id = $9 AND attempt = $10",
        )
        .bind(end.state.as_str())
        .bind(end.worker)
        .bind(end.started_at)
        .bind(end.ended_at)
        .bind(end.exit_code)
        .bind(end.message)
        .bind(end.retries_used)
        .bind(end.next_retry_at)
        .bind(end.id.0)
        .bind(end.attempt)
        .execute(&mut *self.tx)
        .await
        .ctx("recording a task end")?;
        Ok(true)
    }

    /// Makes everything in this transaction durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx
            .commit()
            .await
            .ctx("committing an engine transaction")
    }
}
