//! Backfills (DolphinScheduler's "complement data"): a list of schedule times to run a
//! workflow for, serially or a few at a time. A master feeds them: each tick it starts the
//! next instances while fewer than `parallel` run, under the backfill's row lock.

use crate::engine::SqlEngineTx;
use crate::error::{Context, StoreError};
use crate::events::{record_events, NewEvent};
use crate::instances::{insert_command, submitted_event, Submission};
use crate::records::{get, WorkflowRecord};
use crate::{now_us, Backend, CommandKind, Store};
use baton_core::{EventKind, WorkflowId, WorkflowInstanceId, WorkflowState};
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

    /// A new backfill of `workflow` (its id given when it is stored), running, none started.
    pub(crate) fn running(workflow: WorkflowId, times: &[i64], parallel: i64) -> BackfillRecord {
        BackfillRecord {
            id: 0,
            workflow_id: workflow,
            times: times.to_vec(),
            parallel: parallel.max(1),
            started: 0,
            state: "running".into(),
            created_at: now_us(),
            progress: BTreeMap::new(),
        }
    }

    /// The record with its progress: its instances `by_state`, and those still to start
    /// as `waiting` while it runs.
    pub(crate) fn with_progress(mut self, by_state: BTreeMap<String, i64>) -> BackfillRecord {
        self.progress = by_state;
        let waiting = count(self.waiting().len());
        if self.state == "running" && waiting > 0 {
            self.progress.insert("waiting".into(), waiting);
        }
        self
    }

    /// The schedule times not started yet, in order.
    pub fn waiting(&self) -> &[i64] {
        let started = usize::try_from(self.started).unwrap_or(0);
        self.times.get(started..).unwrap_or_default()
    }
}

/// A count as the store keeps it (a length never exceeds `i64::MAX`; saturating all the same).
pub(crate) fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The backfill's instances by state.
async fn by_state<'e, E>(executor: E, id: i64) -> Result<BTreeMap<String, i64>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM workflow_instance WHERE backfill_id = $1 GROUP BY state",
    )
    .bind(id)
    .fetch_all(executor)
    .await
    .ctx("counting a backfill's instances")?;
    rows.iter()
        .map(|r| Ok((get(r, "state")?, get(r, "n")?)))
        .collect()
}

/// The project and name of a workflow.
async fn names<'e, E>(executor: E, id: WorkflowId) -> Result<Option<(String, String)>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT project, name FROM workflow WHERE id = $1")
        .bind(id.0)
        .fetch_optional(executor)
        .await
        .ctx("reading a workflow's name")?;
    row.map(|r| Ok((get(&r, "project")?, get(&r, "name")?)))
        .transpose()
}

/// The `backfill_started` event of a new backfill.
pub(crate) fn started_event(record: &BackfillRecord, project: &str, name: &str) -> NewEvent {
    let instances = count(record.times.len());
    NewEvent::new(
        EventKind::BackfillStarted,
        record.created_at,
        format!(
            "backfill {} of {project}/{name}: {instances} instance(s), {} at a time",
            record.id, record.parallel
        ),
    )
    .workflow(project, name)
    .detail(serde_json::json!({
        "backfill_id": record.id,
        "workflow_id": record.workflow_id.0,
        "instances": instances,
        "parallel": record.parallel,
    }))
}

/// The `backfill_ended` event of a backfill that is `done` or `stopped` (its row as it is now,
/// in the transaction that ended it), with its instances by state at that moment.
async fn ended_event(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    at: i64,
) -> Result<NewEvent, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM backfill WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .ctx("reading a backfill")?;
    let record = BackfillRecord::from_row(&row)?;
    let names = names(&mut *conn, record.workflow_id).await?;
    let states = by_state(&mut *conn, id).await?;
    Ok(ended_event_of(&record, names, &states, at))
}

/// The `backfill_ended` event of `record` (its workflow's project and name, if it still
/// exists), whose instances are `states` (how many in each state), at `at`.
pub(crate) fn ended_event_of(
    record: &BackfillRecord,
    names: Option<(String, String)>,
    states: &BTreeMap<String, i64>,
    at: i64,
) -> NewEvent {
    let id = record.id;
    let (project, name) = names.unwrap_or_else(|| {
        (
            "-".into(),
            format!("(deleted workflow {})", record.workflow_id),
        )
    });
    let instances = count(record.times.len());
    let mut message = format!(
        "backfill {id} of {project}/{name} {}: {} of {instances} instance(s) started",
        record.state, record.started
    );
    if !states.is_empty() {
        let summary: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
        message.push_str(&format!(" ({})", summary.join(", ")));
    }
    NewEvent::new(EventKind::BackfillEnded, at, message)
        .workflow(&project, &name)
        .detail(serde_json::json!({
            "backfill_id": id,
            "workflow_id": record.workflow_id.0,
            "state": record.state,
            "instances": instances,
            "started": record.started,
            "by_state": states,
        }))
}

const COLUMNS: &str = "id, workflow_id, times, parallel, next_index, state, created_at";

impl Store {
    /// Creates a backfill of `workflow` for these schedule times, with its `backfill_started`
    /// event, in one transaction; masters start its instances.
    pub async fn create_backfill(
        &self,
        workflow: WorkflowId,
        times: &[i64],
        parallel: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write.begin().await.ctx("creating a backfill")?;
        let Some((project, name)) = names(&mut *tx, workflow).await? else {
            return Err(StoreError::NotFound(format!("workflow {workflow}")));
        };
        let mut record = BackfillRecord::running(workflow, times, parallel);
        record.id = sqlx::query_scalar(
            "INSERT INTO backfill (workflow_id, times, parallel, next_index, state, created_at) \
             VALUES ($1, $2, $3, 0, $4, $5) RETURNING id",
        )
        .bind(workflow.0)
        .bind(serde_json::to_string(times).expect("times serialize"))
        .bind(record.parallel)
        .bind(&record.state)
        .bind(record.created_at)
        .fetch_one(&mut *tx)
        .await
        .ctx("creating a backfill")?;
        let started = started_event(&record, &project, &name);
        record_events(&mut tx, self.backend, &[started]).await?;
        tx.commit().await.ctx("committing a new backfill")?;
        Ok(record.id)
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
        let record = BackfillRecord::from_row(&row)?;
        Ok(Some(record.with_progress(by_state(&self.read, id).await?)))
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
        names(&self.read, id).await
    }

    /// Stops a backfill: no new instance starts, and its running ones are stopped. Its
    /// `backfill_ended` event is recorded in the same transaction.
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
        let ended = ended_event(&mut tx, id, now_us()).await?;
        record_events(&mut tx, self.backend, &[ended]).await?;
        tx.commit().await.ctx("committing a backfill stop")?;
        Ok(())
    }
}

impl SqlEngineTx {
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

    /// Starts the backfill's instance for one schedule time, at `now` (µs, the master's
    /// clock), with its `instance_submitted` event.
    pub async fn backfill_instance(
        &mut self,
        backfill: i64,
        workflow: &WorkflowRecord,
        schedule_time: i64,
        now: i64,
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
        .bind(now)
        .bind(schedule_time)
        .bind(backfill)
        .fetch_one(self.conn())
        .await
        .ctx("starting a backfill instance")?;
        let id = WorkflowInstanceId(get(&row, "id")?);
        self.queue_command(CommandKind::Start, id).await?;
        let why = Submission::Backfill {
            backfill,
            schedule_time,
        };
        let submitted = submitted_event(id, &workflow.project, &workflow.name, now, why);
        self.record_later([submitted]);
        Ok(id)
    }

    /// Moves a running backfill on: how many of its instances have started.
    pub async fn advance_backfill(&mut self, id: i64, started: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE backfill SET next_index = $1 WHERE id = $2 AND state = 'running'")
            .bind(started)
            .bind(id)
            .execute(self.conn())
            .await
            .ctx("advancing a backfill")?;
        Ok(())
    }

    /// Marks a running backfill done (all its instances started and ended) at `now` (µs, the
    /// master's clock), with its `backfill_ended` event; false if it was not running.
    pub async fn finish_backfill(&mut self, id: i64, now: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE backfill SET state = 'done' WHERE id = $1 AND state = 'running'")
                .bind(id)
                .execute(self.conn())
                .await
                .ctx("finishing a backfill")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let ended = ended_event(self.conn(), id, now).await?;
        self.record_later([ended]);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::TestDb;
    use crate::{EventFilter, EventRecord, NewEvent, StoreError};
    use baton_core::{EventKind, WorkflowInstanceId, WorkflowState};
    use serde_json::json;

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
        let late = tx.backfill_instance(ids[0], &wf, 20, 1).await.unwrap();
        let early = tx.backfill_instance(ids[0], &wf, 10, 1).await.unwrap();
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

    /// The events of one kind, oldest first.
    async fn of_kind(store: &crate::Store, kind: EventKind) -> Vec<EventRecord> {
        let filter = EventFilter {
            kind: Some(kind),
            after: Some(0),
            ..Default::default()
        };
        store.list_events(&filter).await.unwrap()
    }

    /// Ends an instance as a master would have (the test plays the master).
    async fn end(store: &crate::Store, id: WorkflowInstanceId, state: WorkflowState) {
        sqlx::query("UPDATE workflow_instance SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id.0)
            .execute(&store.write)
            .await
            .unwrap();
    }

    /// A backfill records its start with its row, each instance's submission with the
    /// instance (in the engine's transaction, before the engine's own events, at the engine's
    /// time), and its end once, when it is done or stopped.
    async fn a_backfill_records_its_start_its_instances_and_its_end(db: &TestDb) {
        let store = db.store().await;
        let wf = crate::testing::applied(&store, ETL).await;
        let id = store.create_backfill(wf.id, &[10, 20], 0).await.unwrap();
        let started = of_kind(&store, EventKind::BackfillStarted).await;
        assert_eq!(started.len(), 1);
        let e = &started[0].event;
        assert_eq!(
            (e.project.as_deref(), e.workflow.as_deref()),
            (Some("default"), Some("etl"))
        );
        assert_eq!(e.workflow_instance_id, None);
        assert_eq!(
            e.detail,
            Some(json!({"backfill_id": id, "workflow_id": wf.id.0, "instances": 2, "parallel": 1}))
        );

        // Rolled back: no instance, no event.
        let mut tx = store.begin_engine().await.unwrap();
        tx.backfill_instance(id, &wf, 10, 1_000).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(of_kind(&store, EventKind::InstanceSubmitted)
            .await
            .is_empty());

        let mut tx = store.begin_engine().await.unwrap();
        let first = tx.backfill_instance(id, &wf, 10, 1_000).await.unwrap();
        let second = tx.backfill_instance(id, &wf, 20, 1_000).await.unwrap();
        tx.advance_backfill(id, 2).await.unwrap();
        let engine_event = NewEvent::new(EventKind::InstanceStarted, 1_001, "started")
            .instance(first, "default", "etl");
        tx.insert_events(&[engine_event]).await.unwrap();
        tx.commit().await.unwrap();
        let of_first = store
            .list_events(&EventFilter {
                instance: Some(first),
                after: Some(0),
                ..Default::default()
            })
            .await
            .unwrap();
        let kinds: Vec<_> = of_first.iter().map(|e| e.event.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::InstanceSubmitted, EventKind::InstanceStarted]
        );
        let submitted = of_kind(&store, EventKind::InstanceSubmitted).await;
        let shown: Vec<_> = submitted
            .iter()
            .map(|e| {
                (
                    e.event.workflow_instance_id,
                    e.event.message.as_str(),
                    e.event.at,
                )
            })
            .collect();
        let why = format!("submitted by backfill {id}");
        assert_eq!(
            shown,
            [
                (Some(first), why.as_str(), 1_000),
                (Some(second), why.as_str(), 1_000)
            ]
        );
        assert_eq!(
            submitted[1].event.detail,
            Some(json!({"backfill_id": id, "schedule_time_us": 20}))
        );

        end(&store, first, WorkflowState::Succeeded).await;
        end(&store, second, WorkflowState::Failed).await;
        for _ in 0..2 {
            let mut tx = store.begin_engine().await.unwrap();
            tx.finish_backfill(id, 2_000).await.unwrap();
            tx.commit().await.unwrap();
        }
        let ended = of_kind(&store, EventKind::BackfillEnded).await;
        assert_eq!(ended.len(), 1, "a backfill ends once");
        assert_eq!(ended[0].event.at, 2_000);
        assert_eq!(ended[0].event.workflow.as_deref(), Some("etl"));
        assert_eq!(
            ended[0].event.detail,
            Some(json!({
                "backfill_id": id, "workflow_id": wf.id.0, "state": "done", "instances": 2,
                "started": 2, "by_state": {"failed": 1, "succeeded": 1},
            }))
        );
        assert!(
            ended[0]
                .event
                .message
                .contains("done: 2 of 2 instance(s) started (1 failed, 1 succeeded)"),
            "{}",
            ended[0].event.message
        );
        assert!(started[0].id < submitted[0].id && submitted[1].id < ended[0].id);
        let record = store.get_backfill(id).await.unwrap().unwrap();
        assert_eq!(record.state, "done");
    }

    /// A stopped backfill ends there, with what it had started by then.
    async fn a_stopped_backfill_ends(db: &TestDb) {
        let store = db.store().await;
        let wf = crate::testing::applied(&store, ETL).await;
        let id = store
            .create_backfill(wf.id, &[10, 20, 30], 1)
            .await
            .unwrap();
        let mut tx = store.begin_engine().await.unwrap();
        tx.backfill_instance(id, &wf, 10, 1_000).await.unwrap();
        tx.advance_backfill(id, 1).await.unwrap();
        tx.commit().await.unwrap();
        store.stop_backfill(id).await.unwrap();
        assert!(matches!(
            store.stop_backfill(id).await,
            Err(StoreError::Conflict(_))
        ));
        let mut tx = store.begin_engine().await.unwrap();
        assert!(!tx.finish_backfill(id, 2_000).await.unwrap(), "not running");
        tx.commit().await.unwrap();
        let ended = of_kind(&store, EventKind::BackfillEnded).await;
        assert_eq!(ended.len(), 1, "{ended:?}");
        assert_eq!(
            ended[0].event.detail,
            Some(json!({
                "backfill_id": id, "workflow_id": wf.id.0, "state": "stopped", "instances": 3,
                "started": 1, "by_state": {"submitted": 1},
            }))
        );
    }

    /// The store's writes in an engine transaction leave their events for its end: until
    /// then, the transaction holds no lock that another recording of events waits for (on
    /// PostgreSQL, the `event_order` row; taken early, a tick could deadlock with another
    /// master's over the rows it locks later).
    async fn engine_writes_take_the_event_lock_last(db: &TestDb) {
        let store = db.store().await;
        let wf = crate::testing::applied(&store, ETL).await;
        let id = store.create_backfill(wf.id, &[10], 1).await.unwrap();
        let mut tx = store.begin_engine().await.unwrap();
        tx.backfill_instance(id, &wf, 10, 1_000).await.unwrap();
        let other = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            store.create_backfill(wf.id, &[20], 1),
        )
        .await
        .expect("another transaction records events meanwhile")
        .unwrap();
        tx.commit().await.unwrap();
        let started = of_kind(&store, EventKind::BackfillStarted).await;
        assert_eq!(started.len(), 2);
        assert_eq!(
            started[1].event.detail.as_ref().unwrap()["backfill_id"],
            other
        );
        assert_eq!(of_kind(&store, EventKind::InstanceSubmitted).await.len(), 1);
    }

    const ETL: &str = "name: etl\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";

    #[tokio::test]
    async fn sqlite() {
        backfills_page_and_list_their_instances(&TestDb::sqlite()).await;
        a_backfill_records_its_start_its_instances_and_its_end(&TestDb::sqlite()).await;
        a_stopped_backfill_ends(&TestDb::sqlite()).await;
    }

    #[tokio::test]
    async fn postgres() {
        backfills_page_and_list_their_instances(&TestDb::postgres().await).await;
        a_backfill_records_its_start_its_instances_and_its_end(&TestDb::postgres().await).await;
        a_stopped_backfill_ends(&TestDb::postgres().await).await;
        engine_writes_take_the_event_lock_last(&TestDb::postgres().await).await;
    }
}
