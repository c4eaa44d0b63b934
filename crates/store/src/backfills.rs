//! Backfills (DolphinScheduler's "complement data"): a list of schedule times to run a
//! workflow for, serially or a few at a time. A master feeds them: each tick it starts the
//! next instances while fewer than `parallel` run, under the backfill's row lock.

use crate::engine::EngineTx;
use crate::error::{Context, StoreError};
use crate::instances::insert_command;
use crate::records::{get, WorkflowRecord};
use crate::{now_us, Backend, CommandKind, Store};
use baton_core::{WorkflowId, WorkflowInstanceId, WorkflowState};
use serde::Serialize;
use std::collections::BTreeMap;

/// A backfill and its progress.
#[derive(Debug, Clone, Serialize)]
pub struct BackfillRecord {
    /// Its id.
    pub id: i64,
    /// The workflow it runs.
    pub workflow_id: WorkflowId,
    /// The schedule times (µs) to run, in order.
    pub times: Vec<i64>,
    /// How many instances run at once.
    pub parallel: i64,
    /// How many instances have been started.
    pub started: i64,
    /// `running`, `stopped` or `done`.
    pub state: String,
    /// When it was asked for.
    pub created_at: i64,
    /// Its instances by state (filled by [`Store::get_backfill`]).
    pub progress: BTreeMap<String, i64>,
}

impl BackfillRecord {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, StoreError> {
        let times: String = get(row, "times")?;
        Ok(BackfillRecord {
            id: get(row, "id")?,
            workflow_id: WorkflowId(get(row, "workflow_id")?),
            times: serde_json::from_str(&times).map_err(|e| StoreError::Corrupt {
                context: "backfill.times",
                detail: e.to_string(),
            })?,
            parallel: get(row, "parallel")?,
            started: get(row, "next_index")?,
            state: get(row, "state")?,
            created_at: get(row, "created_at")?,
            progress: BTreeMap::new(),
        })
    }
}

const COLUMNS: &str = "id, workflow_id, times, parallel, next_index, state, created_at";

impl Store {
    /// Creates a backfill of `workflow` for these schedule times; masters start its instances.
    pub async fn create_backfill(
        &self,
        workflow: WorkflowId,
        times: &[i64],
        parallel: i64,
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO backfill (workflow_id, times, parallel, next_index, state, created_at) \
             VALUES ($1, $2, $3, 0, 'running', $4) RETURNING id",
        )
        .bind(workflow.0)
        .bind(serde_json::to_string(times).expect("times serialize"))
        .bind(parallel.max(1))
        .bind(now_us())
        .fetch_one(&self.write)
        .await
        .ctx("creating a backfill")?;
        Ok(id)
    }

    /// A backfill with the count of its instances by state.
    pub async fn get_backfill(&self, id: i64) -> Result<Option<BackfillRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM backfill WHERE id = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a backfill")?
        else {
            return Ok(None);
        };
        let mut record = BackfillRecord::from_row(&row)?;
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM workflow_instance WHERE backfill_id = $1 GROUP BY state",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await
        .ctx("counting a backfill's instances")?;
        for r in &rows {
            record.progress.insert(get(r, "state")?, get(r, "n")?);
        }
        let waiting = record.times.len() as i64 - record.started;
        if record.state == "running" && waiting > 0 {
            record.progress.insert("waiting".into(), waiting);
        }
        Ok(Some(record))
    }

    /// A page of backfills, newest first: those with an id below `before` (all without it),
    /// at most `limit` (1 to 1000).
    pub async fn list_backfills(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<BackfillRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM backfill WHERE id < $1 ORDER BY id DESC LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit.clamp(1, 1000))
            .fetch_all(&self.read)
            .await
            .ctx("listing backfills")?;
        rows.iter().map(BackfillRecord::from_row).collect()
    }

    /// The instances a backfill started, in the order of their schedule times: id, schedule
    /// time (µs) and state.
    pub async fn backfill_instances(
        &self,
        id: i64,
    ) -> Result<Vec<(WorkflowInstanceId, i64, WorkflowState)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, schedule_time, state FROM workflow_instance WHERE backfill_id = $1 \
             ORDER BY schedule_time, id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await
        .ctx("listing a backfill's instances")?;
        rows.iter()
            .map(|r| {
                let state: String = get(r, "state")?;
                let state = state
                    .parse::<WorkflowState>()
                    .map_err(|e| StoreError::Corrupt {
                        context: "workflow_instance.state",
                        detail: e.to_string(),
                    })?;
                Ok((
                    WorkflowInstanceId(get(r, "id")?),
                    get(r, "schedule_time")?,
                    state,
                ))
            })
            .collect()
    }

    /// The project and name of a workflow, by id (`None` if there is no such workflow).
    pub async fn workflow_name(
        &self,
        id: WorkflowId,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT project, name FROM workflow WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await
            .ctx("reading a workflow's name")?;
        row.map(|r| Ok((get(&r, "project")?, get(&r, "name")?)))
            .transpose()
    }

    /// Stops a backfill: no new instance starts, and its running ones are stopped.
    pub async fn stop_backfill(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.write.begin().await.ctx("stopping a backfill")?;
        let done = sqlx::query(
            "UPDATE backfill SET state = 'stopped' WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("stopping a backfill")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "backfill {id} is not running"
            )));
        }
        let rows = sqlx::query(
            "SELECT id, owner FROM workflow_instance WHERE backfill_id = $1 \
             AND state IN ('submitted', 'running', 'pausing', 'paused')",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .ctx("listing a backfill's instances")?;
        for r in &rows {
            let instance = WorkflowInstanceId(get(r, "id")?);
            let owner: Option<String> = get(r, "owner")?;
            insert_command(
                &mut tx,
                self.backend,
                CommandKind::Stop,
                instance,
                owner.as_deref(),
                now_us(),
            )
            .await?;
        }
        tx.commit().await.ctx("committing a backfill stop")?;
        Ok(())
    }
}

impl EngineTx {
    /// Running backfills, locked for this transaction (on PostgreSQL, those another master
    /// feeds are skipped).
    pub async fn running_backfills(&mut self) -> Result<Vec<BackfillRecord>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM backfill WHERE state = 'running' ORDER BY id LIMIT 32{lock}"
        );
        let rows = sqlx::query(&sql)
            .fetch_all(self.conn())
            .await
            .ctx("taking backfills")?;
        rows.iter().map(BackfillRecord::from_row).collect()
    }

    /// How many of the backfill's instances have not ended.
    pub async fn backfill_running(&mut self, id: i64) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM workflow_instance WHERE backfill_id = $1 \
             AND state NOT IN ('succeeded', 'failed', 'stopped')",
        )
        .bind(id)
        .fetch_one(self.conn())
        .await
        .ctx("counting a backfill's running instances")
    }

    /// Starts the backfill's instance for one schedule time.
    pub async fn backfill_instance(
        &mut self,
        backfill: i64,
        workflow: &WorkflowRecord,
        schedule_time: i64,
    ) -> Result<WorkflowInstanceId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO workflow_instance (workflow_id, version, project, name, state, params, \
             priority, submitted_at, schedule_time, backfill_id) \
             VALUES ($1, $2, $3, $4, $5, '{}', $6, $7, $8, $9) RETURNING id",
        )
        .bind(workflow.id.0)
        .bind(workflow.version)
        .bind(&workflow.project)
        .bind(&workflow.name)
        .bind(WorkflowState::Submitted.as_str())
        .bind(crate::schedules::fire_priority(&workflow.spec).as_str())
        .bind(now_us())
        .bind(schedule_time)
        .bind(backfill)
        .fetch_one(self.conn())
        .await
        .ctx("starting a backfill instance")?;
        let id = WorkflowInstanceId(get(&row, "id")?);
        self.queue_command(CommandKind::Start, id).await?;
        Ok(id)
    }

    /// Moves a backfill on: how many started, and its state.
    pub async fn update_backfill(
        &mut self,
        id: i64,
        started: i64,
        state: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE backfill SET next_index = $1, state = $2 WHERE id = $3")
            .bind(started)
            .bind(state)
            .bind(id)
            .execute(self.conn())
            .await
            .ctx("advancing a backfill")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::TestDb;
    use baton_core::WorkflowState;

    async fn backfills_page_and_list_their_instances(db: &TestDb) {
        let store = db.store().await;
        let text = "name: etl
tasks:
  - {name: a, type: shell, command: 'true'}
";
        let wf = crate::testing::applied(&store, text).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(store.create_backfill(wf.id, &[20, 10], 1).await.unwrap());
        }
        let page = store.list_backfills(None, 2).await.unwrap();
        assert_eq!(
            page.iter().map(|b| b.id).collect::<Vec<_>>(),
            [ids[2], ids[1]]
        );
        let rest = store.list_backfills(Some(ids[1]), 2).await.unwrap();
        assert_eq!(rest.iter().map(|b| b.id).collect::<Vec<_>>(), [ids[0]]);

        let mut tx = store.begin_engine().await.unwrap();
        let late = tx.backfill_instance(ids[0], &wf, 20).await.unwrap();
        let early = tx.backfill_instance(ids[0], &wf, 10).await.unwrap();
        tx.commit().await.unwrap();
        let listed = store.backfill_instances(ids[0]).await.unwrap();
        assert_eq!(
            listed,
            [
                (early, 10, WorkflowState::Submitted),
                (late, 20, WorkflowState::Submitted)
            ],
            "in the order of their times"
        );
        assert!(store.backfill_instances(ids[1]).await.unwrap().is_empty());
        assert_eq!(
            store.workflow_name(wf.id).await.unwrap(),
            Some(("default".into(), "etl".into()))
        );
    }

    #[tokio::test]
    async fn sqlite() {
        backfills_page_and_list_their_instances(&TestDb::sqlite()).await;
    }

    #[tokio::test]
    async fn postgres() {
        backfills_page_and_list_their_instances(&TestDb::postgres().await).await;
    }
}
