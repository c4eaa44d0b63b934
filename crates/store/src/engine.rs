//! The master's side of the store: taking commands and recording every state change of the
//! instances it runs. All of it goes through one transaction per engine tick ([`SqlEngineTx`]),
//! committed before the master acts on what it decided.

use crate::error::{Context, StoreError};
use crate::instances::{INSTANCE_COLUMNS, TASK_COLUMNS};
use crate::records::{get, AttemptRecord, InstanceRecord, MapRole, TaskInstanceRecord};
use crate::{Backend, Store};
use baton_core::{WorkflowInstanceId, WorkflowState};
use sqlx::{Any, Transaction};
use std::ops::Range;

/// Bind parameters per statement: below SQLite's and PostgreSQL's limits.
pub(crate) const CHUNK_PARAMS: usize = 6000;

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` values; plain `?` on SQLite, whose
/// lookup of numbered parameters makes a long statement cost quadratic time.
pub(crate) fn placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => out.push_str(&format!("${}", r * columns + c + 1)),
            }
        }
        out.push(')');
    }
    out
}

/// What a command asks a master to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// Start a submitted instance.
    Start,
    /// Stop a running instance.
    Stop,
    /// Run again what failed, was killed or did not run in an ended instance.
    Recover,
    /// Let running tasks finish and start nothing new.
    Pause,
    /// Run a paused instance on.
    Resume,
    /// A child instance of one of the instance's `sub_workflow` tasks has ended.
    ChildEnded,
}

impl CommandKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandKind::Start => "start",
            CommandKind::Stop => "stop",
            CommandKind::Recover => "recover",
            CommandKind::Pause => "pause",
            CommandKind::Resume => "resume",
            CommandKind::ChildEnded => "child_ended",
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

/// The right of one master to write about one instance: its id and the instance's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease<'a> {
    /// The owning master's id.
    pub owner: &'a str,
    /// The epoch under which it owns the instance.
    pub epoch: i64,
}

fn fenced(rows: u64, id: WorkflowInstanceId) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Fenced(id))
    }
}

/// The condition of a running instance that `$1` would adopt: owned by another master that is
/// not one of the `live` masters bound as `$2`, `$3`, ...
fn orphaned(live: usize) -> String {
    let mut sql =
        String::from("state IN ('running', 'stopping', 'pausing', 'paused') AND owner <> $1");
    if live > 0 {
        let list: Vec<String> = (0..live).map(|i| format!("${}", i + 2)).collect();
        sql.push_str(&format!(" AND owner NOT IN ({})", list.join(", ")));
    }
    sql
}

/// An instance a master took over from one that left the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// The instance.
    pub id: WorkflowInstanceId,
    /// The epoch under which the adopter owns it now.
    pub epoch: i64,
    /// The master that owned it before, as last read.
    pub previous_owner: Option<String>,
}

/// One engine tick's transaction. Dropped without [`SqlEngineTx::commit`], nothing is written.
pub struct SqlEngineTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    /// Lifecycle events of the store's own writes in this transaction (an instance a fire or a
    /// backfill created, a backfill's end), recorded with the engine's events or at the
    /// commit: recording takes the `event_order` lock (PostgreSQL), which must be the last
    /// lock a transaction takes (see [`crate::events::record_events`]).
    pub(crate) events: Vec<crate::NewEvent>,
}

impl Store {
    /// Starts an engine transaction.
    pub async fn begin_engine(&self) -> Result<SqlEngineTx, StoreError> {
        let tx = self
            .write
            .begin()
            .await
            .ctx("starting an engine transaction")?;
        Ok(SqlEngineTx {
            tx,
            backend: self.backend,
            events: Vec::new(),
        })
    }

    /// Instances a master must resume: running or stopping, owned by `owner`, or by anyone
    /// when `owner` is `None` (standalone).
    pub async fn active_instances(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<InstanceRecord>, StoreError> {
        let sql = format!(
            "SELECT {INSTANCE_COLUMNS} FROM workflow_instance \
             WHERE state IN ('running', 'stopping', 'pausing', 'paused') \
             AND ($1 = '' OR owner = $1) ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(owner.unwrap_or(""))
            .fetch_all(&self.write)
            .await
            .ctx("listing active instances")?;
        rows.iter().map(InstanceRecord::from_row).collect()
    }
}

impl SqlEngineTx {
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    pub(crate) fn tx_mut(&mut self) -> &mut Transaction<'static, Any> {
        &mut self.tx
    }

    /// Takes up to `limit` commands, oldest first; they are gone once this commits. On
    /// PostgreSQL, commands another master is taking are skipped, not waited for.
    pub async fn take_commands(
        &mut self,
        me: &str,
        limit: i64,
    ) -> Result<Vec<Command>, StoreError> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT id, kind, workflow_instance_id FROM command \
             WHERE target IS NULL OR target = $2 ORDER BY id LIMIT $1{lock}"
        );
        let rows = sqlx::query(&sql)
            .bind(limit)
            .bind(me)
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
                "recover" => CommandKind::Recover,
                "pause" => CommandKind::Pause,
                "resume" => CommandKind::Resume,
                "child_ended" => CommandKind::ChildEnded,
                other => {
                    return Err(StoreError::Corrupt {
                        context: "command.kind",
                        detail: other.to_string(),
                    })
                }
            };
            commands.push(Command {
                id,
                kind,
                instance: WorkflowInstanceId(get(row, "workflow_instance_id")?),
            });
        }
        if !commands.is_empty() {
            let sql = format!(
                "DELETE FROM command WHERE id IN {}",
                placeholders(self.backend, 1, commands.len())
            );
            let mut query = sqlx::query(&sql);
            for c in &commands {
                query = query.bind(c.id);
            }
            query
                .execute(&mut *self.tx)
                .await
                .ctx("deleting taken commands")?;
        }
        Ok(commands)
    }

    /// Reads an instance inside the transaction.
    pub async fn instance(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Option<InstanceRecord>, StoreError> {
        crate::instances::select_instance(&mut *self.tx, id).await
    }

    /// The task instances of an instance (for resuming it).
    pub async fn task_instances(
        &mut self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        crate::instances::select_tasks(&mut *self.tx, id).await
    }

    /// The task instances of an instance that have an event of `kind` recorded (a service
    /// that was up: [`baton_core::EventKind::TaskHealthy`]), for rebuilding its run.
    pub async fn tasks_with_event(
        &mut self,
        id: WorkflowInstanceId,
        kind: baton_core::EventKind,
    ) -> Result<std::collections::HashSet<baton_core::TaskInstanceId>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT task_instance_id FROM event \
             WHERE workflow_instance_id = $1 AND kind = $2 AND task_instance_id IS NOT NULL",
        )
        .bind(id.0)
        .bind(kind.as_str())
        .fetch_all(&mut *self.tx)
        .await
        .ctx("reading an instance's task events")?;
        rows.iter()
            .map(|row| {
                Ok(baton_core::TaskInstanceId(get::<i64>(
                    row,
                    "task_instance_id",
                )?))
            })
            .collect()
    }

    /// A submitted instance starts, owned by `lease`. False when it is not submitted any more.
    pub async fn start_instance(
        &mut self,
        id: WorkflowInstanceId,
        lease: Lease<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE workflow_instance SET state = 'running', owner = $1, epoch = $2, \
             started_at = COALESCE(started_at, $3) WHERE id = $4 AND state = 'submitted'",
        )
        .bind(lease.owner)
        .bind(lease.epoch)
        .bind(now)
        .bind(id.0)
        .execute(&mut *self.tx)
        .await
        .ctx("starting an instance")?;
        Ok(done.rows_affected() == 1)
    }

    /// Opens an ended (failed or stopped) instance again, owned by `lease`. False when it is
    /// not failed or stopped.
    pub async fn reopen_instance(
        &mut self,
        id: WorkflowInstanceId,
        lease: Lease<'_>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE workflow_instance SET state = 'running', owner = $1, epoch = $2, \
             ended_at = NULL WHERE id = $3 AND state IN ('failed', 'stopped')",
        )
        .bind(lease.owner)
        .bind(lease.epoch)
        .bind(id.0)
        .execute(&mut *self.tx)
        .await
        .ctx("reopening an instance")?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a state that is not an end (stopping), if `lease` still owns the instance.
    pub async fn set_instance_state(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        lease: Lease<'_>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE workflow_instance SET state = $1 WHERE id = $2 AND owner = $3 AND epoch = $4",
        )
        .bind(state.as_str())
        .bind(id.0)
        .bind(lease.owner)
        .bind(lease.epoch)
        .execute(&mut *self.tx)
        .await
        .ctx("changing an instance's state")?;
        fenced(done.rows_affected(), id)
    }

    /// Records the end of an instance, if `lease` still owns it (`None`: an instance that never
    /// started, stopped before any master took it).
    pub async fn finish_instance(
        &mut self,
        id: WorkflowInstanceId,
        state: WorkflowState,
        now: i64,
        lease: Option<Lease<'_>>,
    ) -> Result<(), StoreError> {
        let done = match lease {
            Some(lease) => sqlx::query(
                "UPDATE workflow_instance SET state = $1, ended_at = $2, \
                 started_at = COALESCE(started_at, $2) WHERE id = $3 AND owner = $4 AND epoch = $5",
            )
            .bind(state.as_str())
            .bind(now)
            .bind(id.0)
            .bind(lease.owner)
            .bind(lease.epoch),
            None => sqlx::query(
                "UPDATE workflow_instance SET state = $1, ended_at = $2, \
                 started_at = COALESCE(started_at, $2) WHERE id = $3 AND state = 'submitted'",
            )
            .bind(state.as_str())
            .bind(now)
            .bind(id.0),
        }
        .execute(&mut *self.tx)
        .await
        .ctx("finishing an instance")?;
        fenced(done.rows_affected(), id)
    }

    /// Checks that each instance is still owned under its lease, and (PostgreSQL) locks their
    /// rows until the commit, so that no adoption can slip in between. The answer lists the
    /// instances that were lost.
    pub async fn verify_leases(
        &mut self,
        owner: &str,
        leases: &[(WorkflowInstanceId, i64)],
    ) -> Result<Vec<WorkflowInstanceId>, StoreError> {
        let mut lost = Vec::new();
        for chunk in leases.chunks(CHUNK_PARAMS) {
            let lock = match self.backend {
                Backend::Postgres => " ORDER BY id FOR UPDATE",
                Backend::Sqlite => "",
            };
            let sql = format!(
                "SELECT id, owner, epoch FROM workflow_instance WHERE id IN {}{lock}",
                placeholders(self.backend, 1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for (id, _) in chunk {
                query = query.bind(id.0);
            }
            let rows = query
                .fetch_all(&mut *self.tx)
                .await
                .ctx("checking leases")?;
            let mut held = std::collections::HashMap::new();
            for row in &rows {
                let id: i64 = get(row, "id")?;
                let row_owner: Option<String> = get(row, "owner")?;
                let epoch: i64 = get(row, "epoch")?;
                held.insert(id, (row_owner, epoch));
            }
            for (id, epoch) in chunk {
                match held.get(&id.0) {
                    Some((Some(o), e)) if o == owner && e == epoch => {}
                    _ => lost.push(*id),
                }
            }
        }
        Ok(lost)
    }

    /// Queues a command again, for the master `target` (a stop that reached a master that does
    /// not own the instance).
    pub async fn forward_command(
        &mut self,
        kind: CommandKind,
        instance: WorkflowInstanceId,
        target: &str,
    ) -> Result<(), StoreError> {
        crate::instances::insert_command(
            &mut self.tx,
            self.backend,
            kind,
            instance,
            Some(target),
            crate::now_us(),
        )
        .await
    }

    /// Takes over the running instances whose owner is not among `live_masters`, each with a
    /// higher epoch. Returns them with their new epochs and their previous owners.
    pub async fn adopt_orphans(
        &mut self,
        owner: &str,
        live_masters: &[String],
    ) -> Result<Vec<Adopted>, StoreError> {
        let previous = self.orphans(owner, live_masters).await?;
        let sql = format!(
            "UPDATE workflow_instance SET owner = $1, epoch = epoch + 1 WHERE {} \
             RETURNING id, epoch",
            orphaned(live_masters.len())
        );
        let mut query = sqlx::query(&sql).bind(owner);
        for m in live_masters {
            query = query.bind(m.as_str());
        }
        let rows = query
            .fetch_all(&mut *self.tx)
            .await
            .ctx("adopting instances")?;
        let adopted: Vec<Adopted> = rows
            .iter()
            .map(|r| {
                let id = WorkflowInstanceId(get(r, "id")?);
                Ok(Adopted {
                    id,
                    epoch: get(r, "epoch")?,
                    previous_owner: previous.get(&id).cloned().flatten(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        // Commands meant for the old owner (stops) are now ours.
        for chunk in adopted.chunks(CHUNK_PARAMS) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "UPDATE command SET target = $1 WHERE workflow_instance_id IN ({})",
                list.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(owner);
            for a in chunk {
                query = query.bind(a.id.0);
            }
            query
                .execute(&mut *self.tx)
                .await
                .ctx("taking over commands")?;
        }
        Ok(adopted)
    }

    /// The running instances an adoption by `owner` would take, with their owners now.
    async fn orphans(
        &mut self,
        owner: &str,
        live_masters: &[String],
    ) -> Result<std::collections::HashMap<WorkflowInstanceId, Option<String>>, StoreError> {
        let sql = format!(
            "SELECT id, owner FROM workflow_instance WHERE {}",
            orphaned(live_masters.len())
        );
        let mut query = sqlx::query(&sql).bind(owner);
        for m in live_masters {
            query = query.bind(m.as_str());
        }
        let rows = query
            .fetch_all(&mut *self.tx)
            .await
            .ctx("looking for instances to adopt")?;
        rows.iter()
            .map(|r| Ok((WorkflowInstanceId(get(r, "id")?), get(r, "owner")?)))
            .collect()
    }

    /// Reserves `count` task instance ids for this master: the engine names rows before it
    /// writes them, so that a whole tick's rows go in one statement.
    pub async fn reserve_task_ids(&mut self, count: i64) -> Result<Range<i64>, StoreError> {
        let next: i64 = sqlx::query_scalar(
            "UPDATE id_block SET next = next + $1 WHERE name = 'task_instance' RETURNING next",
        )
        .bind(count)
        .fetch_one(&mut *self.tx)
        .await
        .ctx("reserving task instance ids")?;
        Ok(next - count..next)
    }

    /// Writes task instances as they are now: new ones are inserted, known ones overwritten
    /// (everything but their identity).
    pub async fn upsert_tasks(&mut self, rows: &[TaskInstanceRecord]) -> Result<(), StoreError> {
        const COLUMNS: usize = 18;
        for chunk in rows.chunks(CHUNK_PARAMS / COLUMNS) {
            let sql = format!(
                "INSERT INTO task_instance ({TASK_COLUMNS}) VALUES {} ON CONFLICT (id) DO UPDATE SET \
                 state = excluded.state, attempt = excluded.attempt, \
                 retries_used = excluded.retries_used, worker = excluded.worker, \
                 started_at = excluded.started_at, ended_at = excluded.ended_at, \
                 exit_code = excluded.exit_code, message = excluded.message, \
                 next_retry_at = excluded.next_retry_at, outputs = excluded.outputs, \
                 map_items = excluded.map_items",
                placeholders(self.backend, chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for r in chunk {
                let (map_items, map_task, map_index) = MapRole::columns(r.map.as_ref());
                query = query
                    .bind(r.id.0)
                    .bind(r.workflow_instance_id.0)
                    .bind(&r.task_name)
                    .bind(r.state.as_str())
                    .bind(r.attempt)
                    .bind(r.retries_used)
                    .bind(r.worker.as_deref())
                    .bind(r.submitted_at)
                    .bind(r.started_at)
                    .bind(r.ended_at)
                    .bind(r.exit_code)
                    .bind(r.message.as_deref())
                    .bind(r.next_retry_at)
                    .bind(if r.outputs.is_empty() {
                        None
                    } else {
                        Some(serde_json::to_string(&r.outputs).expect("outputs serialize"))
                    })
                    .bind(r.task_group.as_deref())
                    .bind(map_items)
                    .bind(map_task)
                    .bind(map_index);
            }
            query
                .execute(&mut *self.tx)
                .await
                .ctx("writing task instances")?;
        }
        Ok(())
    }

    /// Records ended attempts in the history. An attempt whose outcome is recorded already
    /// keeps its first outcome: exactly one per attempt.
    pub async fn insert_attempts(&mut self, rows: &[AttemptRecord]) -> Result<(), StoreError> {
        const COLUMNS: usize = 8;
        for chunk in rows.chunks(CHUNK_PARAMS / COLUMNS) {
            let sql = format!(
                "INSERT INTO task_attempt (task_instance_id, attempt, state, worker, started_at, \
                 ended_at, exit_code, message) VALUES {} \
                 ON CONFLICT (task_instance_id, attempt) DO NOTHING",
                placeholders(self.backend, chunk.len(), COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for a in chunk {
                query = query
                    .bind(a.task_instance_id.0)
                    .bind(a.attempt)
                    .bind(a.state.as_str())
                    .bind(a.worker.as_deref())
                    .bind(a.started_at)
                    .bind(a.ended_at)
                    .bind(a.exit_code)
                    .bind(a.message.as_deref());
            }
            query
                .execute(&mut *self.tx)
                .await
                .ctx("recording attempts")?;
        }
        Ok(())
    }

    /// Abandons everything in this transaction and releases its locks now (a dropped
    /// transaction rolls back too, but only when its connection is next used).
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx
            .rollback()
            .await
            .ctx("rolling back an engine transaction")
    }

    /// Makes everything in this transaction durable, with the lifecycle events of the store's
    /// own writes not recorded yet.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let events = std::mem::take(&mut self.events);
        crate::events::record_events(&mut self.tx, self.backend, &events).await?;
        self.tx
            .commit()
            .await
            .ctx("committing an engine transaction")
    }
}
