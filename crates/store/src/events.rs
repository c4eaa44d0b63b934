//! The lifecycle event log: one row for every change in the life of an instance, a task
//! attempt, a worker, a schedule or a backfill, written in the same transaction as the change
//! it describes. Alerts, metrics, the live views and the audit trail read it.
//!
//! Ids are visible in the order they were given (see [`record_events`]), so a reader that has
//! seen id N may resume "after N" and miss nothing: the event stream relies on it.

use crate::engine::{placeholders, SqlEngineTx, CHUNK_PARAMS};
use crate::error::{Context, StoreError};
use crate::records::get;
use crate::{now_us, Backend, Store};
use baton_core::{EventKind, TaskInstanceId, WorkflowInstanceId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

/// The PostgreSQL channel notified when events were recorded (readers wake up at once).
pub const EVENTS_CHANNEL: &str = "baton_events";

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// Its id: events are numbered in the order they were recorded.
    pub id: i64,
    /// What was recorded (its fields appear at the top level in JSON).
    #[serde(flatten)]
    pub event: NewEvent,
    /// When it was recorded (µs).
    pub recorded_at: i64,
}

impl EventRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let kind: String = get(row, "kind")?;
        let detail: Option<String> = get(row, "detail")?;
        Ok(EventRecord {
            id: get(row, "id")?,
            event: NewEvent {
                kind: kind
                    .parse()
                    .map_err(
                        |e: baton_core::event::UnknownEventKind| StoreError::Corrupt {
                            context: "an event's kind",
                            detail: e.to_string(),
                        },
                    )?,
                workflow_instance_id: get::<Option<i64>>(row, "workflow_instance_id")?
                    .map(WorkflowInstanceId),
                project: get(row, "project")?,
                workflow: get(row, "workflow")?,
                task_instance_id: get::<Option<i64>>(row, "task_instance_id")?.map(TaskInstanceId),
                task_name: get(row, "task_name")?,
                attempt: get(row, "attempt")?,
                worker: get(row, "worker")?,
                message: get(row, "message")?,
                detail: detail
                    .map(|d| serde_json::from_str(&d))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt {
                        context: "an event's detail",
                        detail: e.to_string(),
                    })?,
                once_key: get(row, "once_key")?,
                at: get(row, "at")?,
            },
            recorded_at: get(row, "recorded_at")?,
        })
    }
}

/// An event to record. Build it with [`NewEvent::new`] and the setters for what it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// The workflow instance, for instance and task events.
    pub workflow_instance_id: Option<WorkflowInstanceId>,
    /// The workflow's project.
    pub project: Option<String>,
    /// The workflow's name.
    pub workflow: Option<String>,
    /// The task instance, for task events.
    pub task_instance_id: Option<TaskInstanceId>,
    /// The task's name.
    pub task_name: Option<String>,
    /// The attempt.
    pub attempt: Option<i64>,
    /// The worker concerned.
    pub worker: Option<String>,
    /// For people.
    pub message: String,
    /// What else there is to know, by kind (an adoption's old and new owner, a fire's time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    /// For an event more than one process may report (a worker's repeated report, a worker
    /// lost as every master sees it): it is recorded once under this key.
    #[serde(skip)]
    pub once_key: Option<String>,
    /// When it happened (µs).
    pub at: i64,
}

impl NewEvent {
    /// An event of `kind` at `at` (µs), about nothing yet.
    pub fn new(kind: EventKind, at: i64, message: impl Into<String>) -> NewEvent {
        NewEvent {
            kind,
            workflow_instance_id: None,
            project: None,
            workflow: None,
            task_instance_id: None,
            task_name: None,
            attempt: None,
            worker: None,
            message: message.into(),
            detail: None,
            once_key: None,
            at,
        }
    }

    /// About a workflow instance of `project`/`workflow`.
    pub fn instance(mut self, id: WorkflowInstanceId, project: &str, workflow: &str) -> Self {
        self.workflow_instance_id = Some(id);
        self.project = Some(project.to_string());
        self.workflow = Some(workflow.to_string());
        self
    }

    /// About attempt `attempt` of a task instance.
    pub fn task(mut self, id: TaskInstanceId, name: &str, attempt: i64) -> Self {
        self.task_instance_id = Some(id);
        self.task_name = Some(name.to_string());
        self.attempt = Some(attempt);
        self
    }

    /// About a workflow, not one of its instances (a backfill's start and end).
    pub fn workflow(mut self, project: &str, workflow: &str) -> Self {
        self.project = Some(project.to_string());
        self.workflow = Some(workflow.to_string());
        self
    }

    /// About a worker.
    pub fn worker(mut self, worker: Option<&str>) -> Self {
        self.worker = worker.map(str::to_string);
        self
    }

    /// With more to know.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Recorded at most once under `key`.
    pub fn once(mut self, key: String) -> Self {
        self.once_key = Some(key);
        self
    }
}

/// Which events to list. Without `after`, newest first (`before` pages back); with `after`,
/// oldest first from just after that id (for following).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events that happened at or after this time (µs).
    pub since: Option<i64>,
    /// Only events of this workflow instance.
    pub instance: Option<WorkflowInstanceId>,
    /// Only events of this project.
    pub project: Option<String>,
    /// Only events of workflows of this name.
    pub workflow: Option<String>,
    /// Only events with a smaller id.
    pub before: Option<i64>,
    /// Only events with a greater id, oldest first.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

pub(crate) const EVENT_COLUMNS: &str = "id, kind, workflow_instance_id, project, workflow, \
     task_instance_id, task_name, attempt, worker, message, detail, once_key, at, recorded_at";

impl Store {
    /// A page of events (see [`EventFilter`]).
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        let order = if filter.after.is_some() {
            "ASC"
        } else {
            "DESC"
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM event \
             WHERE ($1 = '' OR kind = $1) AND at >= $2 AND ($3 = 0 OR workflow_instance_id = $3) \
             AND id < $4 AND id > $5 AND ($6 = '' OR project = $6) AND ($7 = '' OR workflow = $7) \
             ORDER BY id {order} LIMIT $8"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.kind.map(EventKind::as_str).unwrap_or_default())
            .bind(filter.since.unwrap_or(i64::MIN))
            .bind(filter.instance.map(|i| i.0).unwrap_or(0))
            .bind(filter.before.unwrap_or(i64::MAX))
            .bind(filter.after.unwrap_or(0))
            .bind(filter.project.clone().unwrap_or_default())
            .bind(filter.workflow.clone().unwrap_or_default())
            .bind(filter.limit.unwrap_or(100).clamp(1, 1000))
            .fetch_all(&self.read)
            .await
            .ctx("listing events")?;
        rows.iter().map(EventRecord::from_row).collect()
    }

    /// The notable events of a workflow instance ([`EventKind::is_notable`]: timeouts,
    /// retries, failures, failovers, adoptions), oldest first, at most 1000; the whole log of
    /// an instance pages through [`Store::list_events`].
    pub async fn instance_events(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let notable: Vec<String> = EventKind::ALL
            .iter()
            .filter(|k| k.is_notable())
            .map(|k| format!("'{}'", k.as_str()))
            .collect();
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM event WHERE workflow_instance_id = $1 \
             AND kind IN ({}) ORDER BY id LIMIT 1000",
            notable.join(", ")
        );
        let rows = sqlx::query(&sql)
            .bind(id.0)
            .fetch_all(&self.read)
            .await
            .ctx("listing an instance's events")?;
        rows.iter().map(EventRecord::from_row).collect()
    }

    /// Removes up to `batch` events that happened before `before` (µs), oldest first, in a
    /// short transaction of its own; returns how many. Retention calls it until it returns
    /// less than `batch`, so that no single statement holds the table for long.
    pub async fn prune_events(&self, before: i64, batch: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM event WHERE id IN \
             (SELECT id FROM event WHERE at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(before)
        .bind(batch.max(1))
        .execute(&self.write)
        .await
        .ctx("removing old events")?;
        Ok(done.rows_affected())
    }
}

/// Records events in the caller's transaction. An event with a `once_key` already recorded
/// is kept as it is. On PostgreSQL the transaction first takes the `event_order` row lock,
/// held until its commit, so that event ids become visible in the order they were given (two
/// masters committing at once cannot make a smaller id appear after a larger one was read),
/// and readers listening on [`EVENTS_CHANNEL`] are notified at the commit. Call it last in a
/// transaction, just before the commit, so that the lock is held only for the commit, and
/// is the last lock taken: a transaction that went on to lock rows (the task id block, an
/// instance's lease) while holding it could deadlock with another master's tick. In an
/// [`SqlEngineTx`], the store's own writes keep their events for the end
/// ([`SqlEngineTx::record_later`]).
pub(crate) async fn record_events(
    conn: &mut AnyConnection,
    backend: Backend,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    if backend == Backend::Postgres {
        sqlx::query("UPDATE event_order SET n = n + 1 WHERE id = 1")
            .execute(&mut *conn)
            .await
            .ctx("ordering events")?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(EVENTS_CHANNEL)
            .execute(&mut *conn)
            .await
            .ctx("announcing events")?;
    }
    let recorded_at = now_us();
    const COLUMNS: usize = 13;
    for chunk in events.chunks(CHUNK_PARAMS / COLUMNS) {
        let sql = format!(
            "INSERT INTO event (kind, workflow_instance_id, project, workflow, task_instance_id, \
             task_name, attempt, worker, message, detail, once_key, at, recorded_at) \
             VALUES {} ON CONFLICT (once_key) DO NOTHING",
            placeholders(backend, chunk.len(), COLUMNS)
        );
        let mut query = sqlx::query(&sql);
        for e in chunk {
            query = query
                .bind(e.kind.as_str())
                .bind(e.workflow_instance_id.map(|i| i.0))
                .bind(e.project.as_deref())
                .bind(e.workflow.as_deref())
                .bind(e.task_instance_id.map(|t| t.0))
                .bind(e.task_name.as_deref())
                .bind(e.attempt)
                .bind(e.worker.as_deref())
                .bind(&e.message)
                .bind(e.detail.as_ref().map(|d| d.to_string()))
                .bind(e.once_key.as_deref())
                .bind(e.at)
                .bind(recorded_at);
        }
        query.execute(&mut *conn).await.ctx("recording events")?;
    }
    Ok(())
}

impl SqlEngineTx {
    /// Records events in this tick's transaction (see [`record_events`]), after those of the
    /// store's own writes earlier in it (they happened first).
    pub async fn insert_events(&mut self, events: &[NewEvent]) -> Result<(), StoreError> {
        let backend = self.backend();
        let mut all = std::mem::take(&mut self.events);
        all.extend_from_slice(events);
        record_events(self.conn(), backend, &all).await
    }

    /// Keeps the events of a write of the store's own to record with the engine's events (or
    /// at the commit), so that recording stays last in the transaction.
    pub(crate) fn record_later(&mut self, events: impl IntoIterator<Item = NewEvent>) {
        self.events.extend(events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use crate::NewInstance;
    use std::collections::BTreeMap;

    fn event(instance: WorkflowInstanceId, task: i64, attempt: i64, at: i64) -> NewEvent {
        NewEvent::new(
            EventKind::TaskTimeout,
            at,
            format!("timed out ({task}/{attempt})"),
        )
        .instance(instance, "default", "etl")
        .task(TaskInstanceId(task), "a", attempt)
        .worker(Some("w1"))
        .once(format!("task_timeout:{task}:{attempt}"))
    }

    async fn events_are_stored_once_and_listed(db: &TestDb) {
        let store = db.store().await;
        let text = "name: etl
tasks:
  - {name: a, type: shell, command: 'true'}
";
        let wf = crate::testing::applied(&store, text).await;
        let mut instances = Vec::new();
        for _ in 0..2 {
            instances.push(
                store
                    .create_instance(NewInstance {
                        workflow: &wf,
                        params: BTreeMap::new(),
                        overrides: Default::default(),
                    })
                    .await
                    .unwrap(),
            );
        }
        let (i1, i2) = (instances[0], instances[1]);

        let mut tx = store.begin_engine().await.unwrap();
        tx.insert_events(&[event(i1, 10, 1, 100), event(i1, 10, 2, 200)])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Sent again (a worker that got no acknowledgement): stored once, first one kept.
        let mut tx = store.begin_engine().await.unwrap();
        let mut again = event(i1, 10, 1, 999);
        again.message = "other".into();
        tx.insert_events(&[again, event(i2, 20, 1, 300)])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Rolled back: nothing.
        let mut tx = store.begin_engine().await.unwrap();
        tx.insert_events(&[event(i2, 21, 1, 400)]).await.unwrap();
        tx.rollback().await.unwrap();

        // The instances' own lifecycle events (submitted) are there too: look at timeouts.
        let timeouts = EventFilter {
            kind: Some(EventKind::TaskTimeout),
            ..Default::default()
        };
        let all = store.list_events(&timeouts).await.unwrap();
        let keys: Vec<_> = all
            .iter()
            .map(|e| {
                (
                    e.event.task_instance_id.unwrap().0,
                    e.event.attempt.unwrap(),
                    e.event.at,
                )
            })
            .collect();
        assert_eq!(keys, vec![(20, 1, 300), (10, 2, 200), (10, 1, 100)]);
        assert_eq!(all[2].event.message, "timed out (10/1)");
        assert_eq!(all[2].event.kind, EventKind::TaskTimeout);
        assert_eq!(all[2].event.workflow.as_deref(), Some("etl"));
        assert!(all[2].recorded_at > 0);

        let page = |f: EventFilter| {
            let store = store.clone();
            async move {
                store
                    .list_events(&f)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.event.at)
                    .collect::<Vec<_>>()
            }
        };
        let limit = |n| EventFilter {
            limit: Some(n),
            ..timeouts.clone()
        };
        assert_eq!(page(limit(2)).await, vec![300, 200]);
        let before = EventFilter {
            before: Some(all[1].id),
            ..timeouts.clone()
        };
        assert_eq!(page(before).await, vec![100]);
        let after = EventFilter {
            after: Some(all[2].id),
            ..timeouts.clone()
        };
        assert_eq!(page(after).await, vec![200, 300], "oldest first");
        let since = EventFilter {
            since: Some(200),
            ..timeouts.clone()
        };
        assert_eq!(page(since).await, vec![300, 200]);
        let other_kind = EventFilter {
            kind: Some(EventKind::WorkerLost),
            ..Default::default()
        };
        let submitted = EventFilter {
            kind: Some(EventKind::InstanceSubmitted),
            ..Default::default()
        };
        let submitted = store.list_events(&submitted).await.unwrap();
        assert_eq!(
            submitted
                .iter()
                .map(|e| e.event.workflow_instance_id)
                .collect::<Vec<_>>(),
            vec![Some(i2), Some(i1)],
            "creating an instance records its submission"
        );
        assert!(page(other_kind).await.is_empty());
        let of_i2 = EventFilter {
            instance: Some(i2),
            kind: Some(EventKind::TaskTimeout),
            ..Default::default()
        };
        assert_eq!(page(of_i2).await, vec![300]);

        let mine = store.instance_events(i1).await.unwrap();
        assert_eq!(
            mine.iter().map(|e| e.event.at).collect::<Vec<_>>(),
            vec![100, 200]
        );
    }

    /// Events about no instance (a worker, a schedule), recorded once under their key when
    /// given one, and removed by retention oldest first in batches.
    async fn events_without_instance_and_retention(db: &TestDb) {
        let store = db.store().await;
        let lost = |at| {
            NewEvent::new(EventKind::WorkerLost, at, "worker w1 lost")
                .worker(Some("w1"))
                .detail(serde_json::json!({"session": "s1"}))
                .once("worker_lost:w1:s1".into())
        };
        for (seen_by, at) in [("m1", 10), ("m2", 11)] {
            let mut tx = store.begin_engine().await.unwrap();
            let mut e = lost(at);
            e.message = format!("seen by {seen_by}");
            tx.insert_events(&[e, NewEvent::new(EventKind::ScheduleMisfired, at, "late")])
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let all = store.list_events(&EventFilter::default()).await.unwrap();
        let kinds: Vec<_> = all.iter().map(|e| (e.event.kind, e.event.at)).collect();
        assert_eq!(
            kinds,
            vec![
                (EventKind::ScheduleMisfired, 11),
                (EventKind::ScheduleMisfired, 10),
                (EventKind::WorkerLost, 10),
            ],
            "the worker's loss is recorded once, the misfires twice"
        );
        assert_eq!(all[2].event.workflow_instance_id, None);
        assert_eq!(all[2].event.message, "seen by m1");
        assert_eq!(
            all[2].event.detail,
            Some(serde_json::json!({"session": "s1"}))
        );

        assert_eq!(store.prune_events(11, 1).await.unwrap(), 1);
        assert_eq!(store.prune_events(11, 10).await.unwrap(), 1);
        assert_eq!(store.prune_events(11, 10).await.unwrap(), 0);
        let left = store.list_events(&EventFilter::default()).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].event.at, 11);
    }

    #[tokio::test]
    async fn sqlite() {
        events_are_stored_once_and_listed(&TestDb::sqlite()).await;
        events_without_instance_and_retention(&TestDb::sqlite()).await;
    }

    #[tokio::test]
    async fn postgres() {
        events_are_stored_once_and_listed(&TestDb::postgres().await).await;
        events_without_instance_and_retention(&TestDb::postgres().await).await;
    }

    /// On PostgreSQL, a transaction recording events waits for one that recorded events
    /// before it to commit, so ids become visible in order: a reader resuming after the
    /// highest id it saw misses nothing.
    #[tokio::test]
    async fn postgres_event_ids_become_visible_in_order() {
        let db = TestDb::postgres().await;
        let store = db.store().await;
        let first = NewEvent::new(EventKind::WorkerLost, 1, "first");
        let mut a = store.begin_engine().await.unwrap();
        a.insert_events(std::slice::from_ref(&first)).await.unwrap();
        let writer = store.clone();
        let b = tokio::spawn(async move {
            let mut b = writer.begin_engine().await.unwrap();
            let second = NewEvent::new(EventKind::WorkerLost, 2, "second");
            b.insert_events(&[second]).await.unwrap();
            b.commit().await.unwrap();
        });
        // The second writer must be waiting on the first one's lock.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&store.read)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            assert!(
                !b.is_finished(),
                "the second writer did not wait for the first"
            );
            assert!(std::time::Instant::now() < deadline, "no writer waits");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(store
            .list_events(&EventFilter::default())
            .await
            .unwrap()
            .is_empty());
        a.commit().await.unwrap();
        b.await.unwrap();
        let all = store
            .list_events(&EventFilter {
                after: Some(0),
                ..Default::default()
            })
            .await
            .unwrap();
        let order: Vec<_> = all.iter().map(|e| e.event.message.as_str()).collect();
        assert_eq!(order, vec!["first", "second"]);
    }
}
