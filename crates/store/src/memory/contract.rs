//! The seam's contract, checked on the SQL store (SQLite) and on the in-memory one alike:
//! what the engine relies on must mean the same on both.

use super::*;
use crate::engine::{Adopted, Lease};
use crate::events::{EventFilter, EventRecord, NewEvent};
use crate::records::{AttemptRecord, TaskInstanceRecord};
use crate::testing::TestDb;
use crate::Store;
use baton_core::{EventKind, TaskState};

/// One store of each kind, with what a test needs to set up around the seam.
enum Either {
    Sql { store: Store, _db: TestDb },
    Memory(MemoryStore),
}

impl Either {
    async fn all() -> Vec<Either> {
        let db = TestDb::sqlite();
        let store = db.store().await;
        vec![
            Either::Sql { store, _db: db },
            Either::Memory(MemoryStore::new()),
        ]
    }

    fn engine(&self) -> &dyn EngineStore {
        match self {
            Either::Sql { store, .. } => store,
            Either::Memory(store) => store,
        }
    }

    async fn submit(&self, yaml: &str) -> WorkflowInstanceId {
        let workflow = match self {
            Either::Sql { store, .. } => crate::testing::applied(store, yaml).await,
            Either::Memory(store) => store.applied(yaml).await,
        };
        let new = NewInstance {
            workflow: &workflow,
            params: BTreeMap::new(),
            overrides: Default::default(),
        };
        match self {
            Either::Sql { store, .. } => store.create_instance(new).await,
            Either::Memory(store) => store.create_instance(new).await,
        }
        .unwrap()
    }

    async fn events(&self, kind: EventKind) -> Vec<EventRecord> {
        let filter = EventFilter {
            kind: Some(kind),
            after: Some(0),
            ..Default::default()
        };
        match self {
            Either::Sql { store, .. } => store.list_events(&filter).await,
            Either::Memory(store) => store.list_events(&filter).await,
        }
        .unwrap()
    }

    fn name(&self) -> &'static str {
        match self {
            Either::Sql { .. } => "sqlite",
            Either::Memory(_) => "memory",
        }
    }
}

const ONE: &str = "name: one\ntasks:\n  - {name: a, type: noop}\n";

fn lease(owner: &str, epoch: i64) -> Lease<'_> {
    Lease { owner, epoch }
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_nothing_and_a_committed_one_everything() {
    for store in Either::all().await {
        let on = store.name();
        let id = store.submit(ONE).await;
        let engine = store.engine();
        let mut tx = engine.begin().await.unwrap();
        assert_eq!(tx.take_commands("m1", 10).await.unwrap().len(), 1, "{on}");
        assert!(tx.start_instance(id, lease("m1", 1), 5).await.unwrap());
        tx.rollback().await.unwrap();

        let mut tx = engine.begin().await.unwrap();
        let taken = tx.take_commands("m1", 10).await.unwrap();
        assert_eq!(taken.len(), 1, "{on}: the command is still there");
        assert_eq!(
            tx.instance(id).await.unwrap().unwrap().state,
            WorkflowState::Submitted
        );
        assert!(tx.start_instance(id, lease("m1", 1), 5).await.unwrap());
        tx.commit().await.unwrap();

        let mut tx = engine.begin().await.unwrap();
        assert!(tx.take_commands("m1", 10).await.unwrap().is_empty(), "{on}");
        let record = tx.instance(id).await.unwrap().unwrap();
        assert_eq!(record.state, WorkflowState::Running, "{on}");
        assert_eq!(
            (record.owner.as_deref(), record.started_at),
            (Some("m1"), Some(5))
        );
        assert!(
            !tx.start_instance(id, lease("m2", 1), 6).await.unwrap(),
            "{on}: once"
        );
        tx.rollback().await.unwrap();
        let active = engine.active_instances(Some("m1")).await.unwrap();
        assert_eq!(
            active.iter().map(|r| r.id).collect::<Vec<_>>(),
            [id],
            "{on}"
        );
        assert!(engine
            .active_instances(Some("m2"))
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn an_adoption_takes_an_orphan_under_a_new_epoch_with_its_commands_and_fences_the_old_owner()
{
    for store in Either::all().await {
        let on = store.name();
        let id = store.submit(ONE).await;
        let engine = store.engine();
        let mut tx = engine.begin().await.unwrap();
        tx.take_commands("m1", 10).await.unwrap();
        tx.start_instance(id, lease("m1", 1), 5).await.unwrap();
        tx.forward_command(CommandKind::Stop, id, "m1")
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = engine.begin().await.unwrap();
        assert!(
            tx.take_commands("m2", 10).await.unwrap().is_empty(),
            "{on}: m1's stop"
        );
        let live = ["m1".to_string(), "m2".to_string()];
        assert!(
            tx.adopt_orphans("m2", &live).await.unwrap().is_empty(),
            "{on}: m1 lives"
        );
        let adopted = tx.adopt_orphans("m2", &live[1..]).await.unwrap();
        let expected = Adopted {
            id,
            epoch: 2,
            previous_owner: Some("m1".into()),
        };
        assert_eq!(adopted, [expected], "{on}");
        let taken = tx.take_commands("m2", 10).await.unwrap();
        assert_eq!(
            taken.iter().map(|c| c.kind).collect::<Vec<_>>(),
            [CommandKind::Stop]
        );
        tx.commit().await.unwrap();

        let mut tx = engine.begin().await.unwrap();
        let lost = tx.verify_leases("m1", &[(id, 1)]).await.unwrap();
        assert_eq!(lost, [id], "{on}");
        assert!(tx.verify_leases("m2", &[(id, 2)]).await.unwrap().is_empty());
        let fenced = tx
            .set_instance_state(id, WorkflowState::Stopping, lease("m1", 1))
            .await;
        assert!(
            matches!(fenced, Err(StoreError::Fenced(i)) if i == id),
            "{on}"
        );
        let fenced = tx
            .finish_instance(id, WorkflowState::Failed, 9, Some(lease("m1", 1)))
            .await;
        assert!(matches!(fenced, Err(StoreError::Fenced(_))), "{on}");
        tx.finish_instance(id, WorkflowState::Stopped, 9, Some(lease("m2", 2)))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(
            engine.active_instances(None).await.unwrap().is_empty(),
            "{on}"
        );
    }
}

#[tokio::test]
async fn tasks_attempts_and_events_are_written_as_given_an_attempt_and_a_keyed_event_once() {
    for store in Either::all().await {
        let on = store.name();
        let id = store.submit(ONE).await;
        let engine = store.engine();
        let mut tx = engine.begin().await.unwrap();
        let ids = tx.reserve_task_ids(2).await.unwrap();
        assert_eq!(ids.end - ids.start, 2, "{on}");
        let again = tx.reserve_task_ids(1).await.unwrap();
        assert!(again.start >= ids.end, "{on}: never the same id twice");
        let task = TaskInstanceId(ids.start);
        let mut row = TaskInstanceRecord {
            id: task,
            workflow_instance_id: id,
            task_name: "a".into(),
            state: TaskState::Failed,
            attempt: 1,
            retries_used: 0,
            worker: Some("w1".into()),
            submitted_at: 1,
            started_at: Some(2),
            ended_at: Some(3),
            exit_code: Some(1),
            message: Some("boom".into()),
            next_retry_at: None,
            outputs: BTreeMap::new(),
            task_group: None,
            map: None,
        };
        tx.upsert_tasks(std::slice::from_ref(&row)).await.unwrap();
        let attempt = |state, message: &str| AttemptRecord {
            task_instance_id: task,
            attempt: 1,
            state,
            worker: Some("w1".into()),
            started_at: Some(2),
            ended_at: 3,
            exit_code: Some(1),
            message: Some(message.into()),
        };
        tx.insert_attempts(&[attempt(TaskState::Failed, "boom")])
            .await
            .unwrap();
        tx.insert_attempts(&[attempt(TaskState::Succeeded, "later")])
            .await
            .unwrap();
        row.state = TaskState::Succeeded;
        row.outputs.insert("rows".into(), "9".into());
        tx.upsert_tasks(std::slice::from_ref(&row)).await.unwrap();
        let lost =
            |n: i64| NewEvent::new(EventKind::WorkerLost, n, "gone").once("lost w1".to_string());
        tx.insert_events(&[lost(1), lost(2)]).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = engine.begin().await.unwrap();
        tx.insert_events(&[lost(3)]).await.unwrap();
        let tasks = tx.task_instances(id).await.unwrap();
        assert_eq!(tasks.len(), 1, "{on}");
        assert_eq!(tasks[0].state, TaskState::Succeeded, "{on}: the last write");
        let outputs = tx.instance_outputs(id).await.unwrap();
        assert_eq!(outputs.get("rows").map(String::as_str), Some("9"), "{on}");
        tx.commit().await.unwrap();
        let attempts = match &store {
            Either::Sql { store: s, .. } => s.attempts(id).await.unwrap(),
            Either::Memory(s) => s.attempts(id).await.unwrap(),
        };
        let kept: Vec<_> = attempts
            .iter()
            .map(|a| (a.state, a.message.clone()))
            .collect();
        assert_eq!(
            kept,
            [(TaskState::Failed, Some("boom".into()))],
            "{on}: the first"
        );
        let events = store.events(EventKind::WorkerLost).await;
        assert_eq!(events.len(), 1, "{on}: once per key");
        assert_eq!(events[0].event.at, 1, "{on}");
    }
}
