//! Events for alerting: things that happened to a run that someone may want to hear about
//! (today: an attempt that ran past its timeout). The master records them in its tick's
//! transaction, under the instance's lease; each is stored once per (task instance, attempt,
//! kind), however often a worker sends it.

use crate::engine::EngineTx;
use crate::error::{Context, StoreError};
use crate::records::get;
use crate::{now_us, Store};
use baton_core::{TaskInstanceId, WorkflowInstanceId};
use serde::Serialize;
use sqlx::any::AnyRow;

/// The kind of the event recorded when an attempt runs past its timeout (strategy `warn` or
/// `both`).
pub const TASK_TIMEOUT: &str = "task_timeout";

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(EventRecord {
            id: get(row, "id")?,
            event: NewEvent {
                kind: get(row, "kind")?,
                workflow_instance_id: WorkflowInstanceId(get(row, "workflow_instance_id")?),
                project: get(row, "project")?,
                workflow: get(row, "workflow")?,
                task_instance_id: get::<Option<i64>>(row, "task_instance_id")?.map(TaskInstanceId),
                task_name: get(row, "task_name")?,
                attempt: get(row, "attempt")?,
                worker: get(row, "worker")?,
                message: get(row, "message")?,
                at: get(row, "at")?,
            },
            recorded_at: get(row, "recorded_at")?,
        })
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewEvent {
    /// What happened.
    pub kind: String,
    /// The workflow instance.
    pub workflow_instance_id: WorkflowInstanceId,
    /// The workflow's project.
    pub project: String,
    /// The workflow's name.
    pub workflow: String,
    /// The task instance, for task events.
    pub task_instance_id: Option<TaskInstanceId>,
    /// The task's name.
    pub task_name: Option<String>,
    /// The attempt.
    pub attempt: Option<i64>,
    /// The worker that reported it.
    pub worker: Option<String>,
    /// For people.
    pub message: String,
    /// When it happened (µs).
    pub at: i64,
}

/// Which events to list. Without `after`, newest first (`before` pages back); with `after`,
/// oldest first from just after that id (for following).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events of this kind.
    pub kind: Option<String>,
    /// Only events that happened at or after this time (µs).
    pub since: Option<i64>,
    /// Only events of this workflow instance.
    pub instance: Option<WorkflowInstanceId>,
    /// Only events with a smaller id.
    pub before: Option<i64>,
    /// Only events with a greater id, oldest first.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

const EVENT_COLUMNS: &str = "id, kind, workflow_instance_id, project, workflow, \
     task_instance_id, task_name, attempt, worker, message, at, recorded_at";

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
             AND id < $4 AND id > $5 ORDER BY id {order} LIMIT $6"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.kind.clone().unwrap_or_default())
            .bind(filter.since.unwrap_or(i64::MIN))
            .bind(filter.instance.map(|i| i.0).unwrap_or(0))
            .bind(filter.before.unwrap_or(i64::MAX))
            .bind(filter.after.unwrap_or(0))
            .bind(filter.limit.unwrap_or(100).clamp(1, 1000))
            .fetch_all(&self.read)
            .await
            .ctx("listing events")?;
        rows.iter().map(EventRecord::from_row).collect()
    }

    /// Every event of a workflow instance, oldest first.
    pub async fn instance_events(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM event WHERE workflow_instance_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(id.0)
            .fetch_all(&self.read)
            .await
            .ctx("listing an instance's events")?;
        rows.iter().map(EventRecord::from_row).collect()
    }
}

impl EngineTx {
    /// Records events; one already stored for the same (task instance, attempt, kind) is
    /// kept as it is.
    pub async fn insert_events(&mut self, events: &[NewEvent]) -> Result<(), StoreError> {
        let recorded_at = now_us();
        for e in events {
            sqlx::query(
                "INSERT INTO event (kind, workflow_instance_id, project, workflow, \
                 task_instance_id, task_name, attempt, worker, message, at, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (task_instance_id, attempt, kind) DO NOTHING",
            )
            .bind(&e.kind)
            .bind(e.workflow_instance_id.0)
            .bind(&e.project)
            .bind(&e.workflow)
            .bind(e.task_instance_id.map(|t| t.0))
            .bind(e.task_name.as_deref())
            .bind(e.attempt)
            .bind(e.worker.as_deref())
            .bind(&e.message)
            .bind(e.at)
            .bind(recorded_at)
            .execute(self.conn())
            .await
            .ctx("recording an event")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use crate::NewInstance;
    use std::collections::BTreeMap;

    fn event(instance: WorkflowInstanceId, task: i64, attempt: i64, at: i64) -> NewEvent {
        NewEvent {
            kind: TASK_TIMEOUT.into(),
            workflow_instance_id: instance,
            project: "default".into(),
            workflow: "etl".into(),
            task_instance_id: Some(TaskInstanceId(task)),
            task_name: Some("a".into()),
            attempt: Some(attempt),
            worker: Some("w1".into()),
            message: format!("timed out ({task}/{attempt})"),
            at,
        }
    }

    async fn events_are_stored_once_and_listed(db: &TestDb) {
        let store = db.store().await;
        let text = "name: etl\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
        let spec = baton_core::WorkflowSpec::from_yaml(text, "t.yaml").unwrap();
        store.apply_workflow(&spec, text).await.unwrap();
        let wf = store
            .get_workflow("default", "etl", None)
            .await
            .unwrap()
            .unwrap();
        let mut instances = Vec::new();
        for _ in 0..2 {
            instances.push(
                store
                    .create_instance(NewInstance {
                        workflow: &wf,
                        params: BTreeMap::new(),
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

        let all = store.list_events(&EventFilter::default()).await.unwrap();
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
        assert_eq!(all[2].event.kind, TASK_TIMEOUT);
        assert_eq!(all[2].event.workflow, "etl");
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
            ..Default::default()
        };
        assert_eq!(page(limit(2)).await, vec![300, 200]);
        let before = EventFilter {
            before: Some(all[1].id),
            ..Default::default()
        };
        assert_eq!(page(before).await, vec![100]);
        let after = EventFilter {
            after: Some(all[2].id),
            ..Default::default()
        };
        assert_eq!(page(after).await, vec![200, 300], "oldest first");
        let since = EventFilter {
            since: Some(200),
            ..Default::default()
        };
        assert_eq!(page(since).await, vec![300, 200]);
        let other_kind = EventFilter {
            kind: Some("nope".into()),
            ..Default::default()
        };
        assert!(page(other_kind).await.is_empty());
        let of_i2 = EventFilter {
            instance: Some(i2),
            kind: Some(TASK_TIMEOUT.into()),
            ..Default::default()
        };
        assert_eq!(page(of_i2).await, vec![300]);

        let mine = store.instance_events(i1).await.unwrap();
        assert_eq!(
            mine.iter().map(|e| e.event.at).collect::<Vec<_>>(),
            vec![100, 200]
        );
    }

    #[tokio::test]
    async fn sqlite() {
        events_are_stored_once_and_listed(&TestDb::sqlite()).await;
    }

    #[tokio::test]
    async fn postgres() {
        events_are_stored_once_and_listed(&TestDb::postgres().await).await;
    }
}
