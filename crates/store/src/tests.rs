//! The store's conformance suite: every test runs on SQLite and on the real PostgreSQL.

use crate::testing::TestDb;
use crate::*;
use baton_core::{TaskState, WorkflowSpec, WorkflowState};
use std::collections::BTreeMap;

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = crate::testing::TestDb::sqlite();
                super::$name(&db).await;
            }
            #[tokio::test]
            async fn postgres() {
                let db = crate::testing::TestDb::postgres().await;
                super::$name(&db).await;
            }
        }
    };
}

fn spec(text: &str) -> WorkflowSpec {
    WorkflowSpec::from_yaml(text, "test.yaml").unwrap()
}

const V1: &str = "name: etl\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
const V2: &str = "name: etl\ntasks:\n  - {name: a, type: shell, command: 'false'}\n";

async fn apply_versions(db: &TestDb) {
    let store = db.store().await;
    let a = store.apply_workflow(&spec(V1), V1).await.unwrap();
    assert_eq!((a.version, a.outcome), (1, "created"));
    let b = store
        .apply_workflow(&spec(V1), "# same, other comments\n")
        .await
        .unwrap();
    assert_eq!((b.id, b.version, b.outcome), (a.id, 1, "unchanged"));
    let c = store.apply_workflow(&spec(V2), V2).await.unwrap();
    assert_eq!((c.version, c.outcome), (2, "updated"));

    let latest = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((latest.version, latest.latest_version), (2, 2));
    assert_eq!(latest.spec, spec(V2));
    assert_eq!(latest.source, V2);
    let first = store
        .get_workflow("default", "etl", Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.spec, spec(V1));
    assert!(store
        .get_workflow("default", "etl", Some(3))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_workflow("other", "etl", None)
        .await
        .unwrap()
        .is_none());
    let by_id = store.get_workflow_version(a.id, 1).await.unwrap().unwrap();
    assert_eq!(by_id.spec, spec(V1));

    let list = store.list_workflows(None).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].name.as_str(), list[0].latest_version), ("etl", 2));
    assert!(store.list_workflows(Some("nope")).await.unwrap().is_empty());
}
on_both!(apply_versions);

async fn commands_are_taken_once_and_only_on_commit(db: &TestDb) {
    let store = db.store().await;
    store.apply_workflow(&spec(V1), V1).await.unwrap();
    let wf = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    let params = BTreeMap::from([("k".to_string(), "v".to_string())]);
    let id = store
        .create_instance(NewInstance {
            workflow: &wf,
            params,
            overrides: Default::default(),
        })
        .await
        .unwrap();
    let inst = store.get_instance(id).await.unwrap().unwrap();
    assert_eq!(inst.state, WorkflowState::Submitted);
    assert_eq!(inst.params["k"], "v");

    // Taken but not committed: still there.
    let mut tx = store.begin_engine().await.unwrap();
    assert_eq!(tx.take_commands("m1", 10).await.unwrap().len(), 1);
    tx.rollback().await.unwrap();
    let mut tx = store.begin_engine().await.unwrap();
    let cmds = tx.take_commands("m1", 10).await.unwrap();
    assert_eq!(
        cmds,
        vec![Command {
            id: cmds[0].id,
            kind: CommandKind::Start,
            instance: id
        }]
    );
    tx.commit().await.unwrap();
    let mut tx = store.begin_engine().await.unwrap();
    assert!(tx.take_commands("m1", 10).await.unwrap().is_empty());
    tx.rollback().await.unwrap();

    assert_eq!(
        store.request_stop(id).await.unwrap(),
        StopRequest::Requested
    );
    let mut tx = store.begin_engine().await.unwrap();
    assert_eq!(
        tx.take_commands("m1", 10).await.unwrap()[0].kind,
        CommandKind::Stop
    );
    tx.finish_instance(id, WorkflowState::Stopped, now_us(), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.request_stop(id).await.unwrap(),
        StopRequest::AlreadyEnded(WorkflowState::Stopped)
    );
    let missing = store
        .request_stop(baton_core::WorkflowInstanceId(999_999))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
}
on_both!(commands_are_taken_once_and_only_on_commit);

const M1: Lease = Lease {
    owner: "m1",
    epoch: 1,
};

fn task_row(id: i64, instance: baton_core::WorkflowInstanceId) -> TaskInstanceRecord {
    TaskInstanceRecord {
        id: baton_core::TaskInstanceId(id),
        workflow_instance_id: instance,
        task_name: "a".into(),
        state: TaskState::Submitted,
        attempt: 1,
        retries_used: 0,
        worker: None,
        submitted_at: 11,
        started_at: None,
        ended_at: None,
        exit_code: None,
        message: None,
        next_retry_at: None,
        outputs: BTreeMap::new(),
        task_group: None,
        map: None,
    }
}

fn attempt_row(row: &TaskInstanceRecord, state: TaskState) -> AttemptRecord {
    AttemptRecord {
        task_instance_id: row.id,
        attempt: row.attempt,
        state,
        worker: row.worker.clone(),
        started_at: row.started_at,
        ended_at: row.ended_at.unwrap_or(0),
        exit_code: row.exit_code,
        message: row.message.clone(),
    }
}

async fn task_lifecycle_and_history(db: &TestDb) {
    let store = db.store().await;
    store.apply_workflow(&spec(V1), V1).await.unwrap();
    let wf = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    let id = store
        .create_instance(NewInstance {
            workflow: &wf,
            params: BTreeMap::new(),
            overrides: Default::default(),
        })
        .await
        .unwrap();

    let mut tx = store.begin_engine().await.unwrap();
    let ids = tx.reserve_task_ids(10).await.unwrap();
    assert_eq!(ids.end - ids.start, 10);
    let again = tx.reserve_task_ids(5).await.unwrap();
    assert_eq!(again.start, ids.end, "blocks never overlap");
    assert!(tx.start_instance(id, M1, 10).await.unwrap());
    assert!(
        !tx.start_instance(id, M1, 10).await.unwrap(),
        "started once"
    );
    let mut row = task_row(ids.start, id);
    tx.upsert_tasks(&[row.clone()]).await.unwrap();
    row.state = TaskState::Running;
    row.worker = Some("w1".into());
    row.started_at = Some(12);
    tx.upsert_tasks(&[row.clone()]).await.unwrap();
    row.state = TaskState::RetryWait;
    row.ended_at = Some(13);
    row.exit_code = Some(3);
    row.message = Some("exit 3".into());
    row.retries_used = 1;
    row.next_retry_at = Some(20);
    let failed = attempt_row(&row, TaskState::Failed);
    tx.upsert_tasks(&[row.clone()]).await.unwrap();
    tx.insert_attempts(std::slice::from_ref(&failed))
        .await
        .unwrap();
    let mut dup = failed.clone();
    dup.state = TaskState::Succeeded;
    tx.insert_attempts(&[dup]).await.unwrap();
    tx.commit().await.unwrap();

    let rec = store.task_instance(row.id).await.unwrap().unwrap();
    assert_eq!(rec.state, TaskState::RetryWait);
    assert_eq!(
        (rec.exit_code, rec.retries_used, rec.next_retry_at),
        (Some(3), 1, Some(20))
    );
    assert_eq!(rec.worker.as_deref(), Some("w1"));
    assert_eq!(store.active_instances(None).await.unwrap().len(), 1);
    assert_eq!(store.active_instances(Some("m2")).await.unwrap().len(), 0);

    let mut tx = store.begin_engine().await.unwrap();
    row = TaskInstanceRecord {
        outputs: BTreeMap::from([("rows".to_string(), "42".to_string())]),
        attempt: 2,
        state: TaskState::Succeeded,
        worker: Some("w2".into()),
        exit_code: Some(0),
        message: None,
        next_retry_at: None,
        ended_at: Some(25),
        ..row
    };
    let other = TaskInstanceRecord {
        task_name: "b".into(),
        ..task_row(ids.start + 1, id)
    };
    tx.upsert_tasks(&[row.clone(), other]).await.unwrap();
    tx.insert_attempts(&[attempt_row(&row, TaskState::Succeeded)])
        .await
        .unwrap();
    tx.finish_instance(id, WorkflowState::Succeeded, 30, Some(M1))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let tasks = store.task_instances(id).await.unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        (tasks[0].state, tasks[0].attempt),
        (TaskState::Succeeded, 2)
    );
    assert_eq!(tasks[0].worker.as_deref(), Some("w2"));
    assert_eq!(tasks[0].outputs["rows"], "42");
    assert_eq!(tasks[1].task_name, "b");
    let attempts = store.attempts(id).await.unwrap();
    let states: Vec<_> = attempts.iter().map(|a| (a.attempt, a.state)).collect();
    assert_eq!(
        states,
        vec![(1, TaskState::Failed), (2, TaskState::Succeeded)],
        "the first outcome of an attempt stays"
    );
    let inst = store.get_instance(id).await.unwrap().unwrap();
    assert_eq!(
        (inst.state, inst.owner.as_deref(), inst.epoch),
        (WorkflowState::Succeeded, Some("m1"), 1)
    );
    assert_eq!((inst.started_at, inst.ended_at), (Some(10), Some(30)));
    assert!(store.active_instances(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn many_rows_in_one_call_are_chunked() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    store.apply_workflow(&spec(V1), V1).await.unwrap();
    let wf = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    let id = store
        .create_instance(NewInstance {
            workflow: &wf,
            params: BTreeMap::new(),
            overrides: Default::default(),
        })
        .await
        .unwrap();
    let mut tx = store.begin_engine().await.unwrap();
    let ids = tx.reserve_task_ids(3000).await.unwrap();
    let rows: Vec<_> = ids
        .map(|i| TaskInstanceRecord {
            task_name: format!("t{i}"),
            ..task_row(i, id)
        })
        .collect();
    tx.upsert_tasks(&rows).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.task_instances(id).await.unwrap().len(), 3000);
}

on_both!(task_lifecycle_and_history);

async fn instance_list_filters_and_pages(db: &TestDb) {
    let store = db.store().await;
    store.apply_workflow(&spec(V1), V1).await.unwrap();
    let other = "name: other\ntasks:\n  - {name: a, type: noop}\n";
    store.apply_workflow(&spec(other), other).await.unwrap();
    let etl = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    let oth = store
        .get_workflow("default", "other", None)
        .await
        .unwrap()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let wf = if i % 2 == 0 { &etl } else { &oth };
        ids.push(
            store
                .create_instance(NewInstance {
                    workflow: wf,
                    params: BTreeMap::new(),
                    overrides: Default::default(),
                })
                .await
                .unwrap(),
        );
    }
    let all = store
        .list_instances(&InstanceFilter::default())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    let etl_only = InstanceFilter {
        workflow: Some("etl".into()),
        ..Default::default()
    };
    assert_eq!(store.list_instances(&etl_only).await.unwrap().len(), 3);
    let page = InstanceFilter {
        limit: Some(2),
        ..Default::default()
    };
    let first = store.list_instances(&page).await.unwrap();
    let next = InstanceFilter {
        before: Some(first[1].id.0),
        ..page.clone()
    };
    let second = store.list_instances(&next).await.unwrap();
    assert_eq!(
        second.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    let running = InstanceFilter {
        state: Some(WorkflowState::Running),
        ..Default::default()
    };
    assert!(store.list_instances(&running).await.unwrap().is_empty());
    let submitted = |f: &InstanceFilter| {
        let store = store.clone();
        let f = f.clone();
        async move { store.list_instances(&f).await.unwrap().len() }
    };
    let first_at = all.iter().map(|i| i.submitted_at).min().unwrap();
    let last_at = all.iter().map(|i| i.submitted_at).max().unwrap();
    let every = InstanceFilter {
        project: Some("default".into()),
        workflow: Some("etl".into()),
        state: Some(WorkflowState::Submitted),
        submitted_since: Some(first_at),
        submitted_until: Some(last_at + 1),
        ..Default::default()
    };
    assert_eq!(submitted(&every).await, 3, "every filter at once");
    let before_all = InstanceFilter {
        submitted_until: Some(first_at),
        ..Default::default()
    };
    assert_eq!(submitted(&before_all).await, 0, "until is exclusive");
    let after_all = InstanceFilter {
        submitted_since: Some(last_at + 1),
        ..Default::default()
    };
    assert_eq!(submitted(&after_all).await, 0);
    let elsewhere = InstanceFilter {
        project: Some("elsewhere".into()),
        ..Default::default()
    };
    assert_eq!(submitted(&elsewhere).await, 0);
}
on_both!(instance_list_filters_and_pages);

#[tokio::test]
async fn reopening_keeps_everything() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    store.apply_workflow(&spec(V1), V1).await.unwrap();
    store.close().await;
    let again = db.store().await;
    assert!(again
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn unknown_url_is_refused_clearly() {
    let err = Store::connect("mysql://x").await.unwrap_err().to_string();
    assert!(
        err.contains("unsupported database URL `mysql://x`"),
        "{err}"
    );
    for url in [
        "mysql://u:hunter2@h/db?password=hunter2",
        "host=h password=hunter2",
    ] {
        let err = Store::connect(url).await.unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[tokio::test]
async fn a_password_is_not_in_the_error_of_a_database_that_cannot_be_opened() {
    // The local PostgreSQL (trust) answers at once that there is no such database.
    let url = "postgres://postgres:hunter2@127.0.0.1:5432/baton_no_such_db?password=hunter2";
    let err = Store::connect(url).await.unwrap_err().to_string();
    assert!(
        err.contains("postgres://postgres:***@127.0.0.1:5432/baton_no_such_db?password=***"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

async fn leases_fence_out_a_master_whose_instances_were_adopted(db: &TestDb) {
    let store = db.store().await;
    store.apply_workflow(&spec(V1), V1).await.unwrap();
    let wf = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
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
    let m2 = Lease {
        owner: "m2",
        epoch: 1,
    };
    let mut tx = store.begin_engine().await.unwrap();
    assert_eq!(
        tx.take_commands("m1", 10).await.unwrap().len(),
        3,
        "the starts"
    );
    tx.start_instance(ids[0], M1, 1).await.unwrap();
    tx.start_instance(ids[1], M1, 1).await.unwrap();
    tx.start_instance(ids[2], m2, 1).await.unwrap();
    tx.commit().await.unwrap();

    // A stop of m1's instance is for m1 only.
    assert_eq!(
        store.request_stop(ids[1]).await.unwrap(),
        StopRequest::Requested
    );
    let mut tx = store.begin_engine().await.unwrap();
    assert!(tx.take_commands("m3", 10).await.unwrap().is_empty());
    tx.rollback().await.unwrap();

    // m1 dies; m3 adopts what m1 owned, not m2's, and the stop meant for m1.
    let mut tx = store.begin_engine().await.unwrap();
    let adopted = tx
        .adopt_orphans("m3", &["m2".into(), "m3".into()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut adopted_ids: Vec<_> = adopted.iter().map(|a| a.id).collect();
    adopted_ids.sort();
    assert_eq!(adopted_ids, vec![ids[0], ids[1]]);
    assert!(adopted.iter().all(|a| a.epoch == 2));
    assert!(adopted
        .iter()
        .all(|a| a.previous_owner.as_deref() == Some("m1")));
    let inst = store.get_instance(ids[0]).await.unwrap().unwrap();
    assert_eq!((inst.owner.as_deref(), inst.epoch), (Some("m3"), 2));
    let mut tx = store.begin_engine().await.unwrap();
    let stops = tx.take_commands("m3", 10).await.unwrap();
    assert_eq!(stops.len(), 1);
    assert_eq!(
        (stops[0].kind, stops[0].instance),
        (CommandKind::Stop, ids[1])
    );
    tx.commit().await.unwrap();

    // m1 comes back: its writes are refused, and it learns what it lost.
    let mut tx = store.begin_engine().await.unwrap();
    let lost = tx
        .verify_leases("m1", &[(ids[0], 1), (ids[1], 1)])
        .await
        .unwrap();
    assert_eq!(lost, vec![ids[0], ids[1]]);
    let err = tx
        .set_instance_state(ids[0], WorkflowState::Stopping, M1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Fenced(id) if id == ids[0]),
        "{err}"
    );
    tx.rollback().await.unwrap();
    let mut tx = store.begin_engine().await.unwrap();
    let m3 = Lease {
        owner: "m3",
        epoch: 2,
    };
    assert!(tx
        .verify_leases("m3", &[(ids[0], 2)])
        .await
        .unwrap()
        .is_empty());
    tx.finish_instance(ids[0], WorkflowState::Succeeded, 5, Some(m3))
        .await
        .unwrap();
    // Nothing is left to adopt while m2 and m3 live.
    assert!(tx
        .adopt_orphans("m2", &["m2".into(), "m3".into()])
        .await
        .unwrap()
        .is_empty());
    tx.commit().await.unwrap();
}
on_both!(leases_fence_out_a_master_whose_instances_were_adopted);

#[tokio::test]
async fn postgres_wakes_listeners_when_a_command_is_written() {
    let db = TestDb::postgres().await;
    let listener = db.store().await;
    let writer = db.store().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    listener.on_commands(&db.url, move || {
        let _ = tx.send(());
    });
    // The listener wakes once when it starts listening.
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("listening");
    writer.apply_workflow(&spec(V1), V1).await.unwrap();
    let wf = writer
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    writer
        .create_instance(NewInstance {
            workflow: &wf,
            params: BTreeMap::new(),
            overrides: Default::default(),
        })
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a wake-up for the new start command");
}

/// A schedule set or removed through the API is a new version of its workflow, made from the
/// version it was derived from; the schedules table follows, and fired (and backfilled)
/// instances take the schedule's priority.
async fn schedule_set_and_delete_make_versions(db: &TestDb) {
    use baton_core::spec::ScheduleSpec;
    use baton_core::Priority;
    let store = db.store().await;
    let v1 = "name: etl\npriority: low\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
    store.apply_workflow(&spec(v1), v1).await.unwrap();
    let current = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    let block: ScheduleSpec =
        serde_json::from_str(r#"{"cron": "* * * * * *", "priority": "high"}"#).unwrap();
    let (with, source) = current
        .spec
        .with_schedule(Some(block.clone()), "schedule of `etl`")
        .unwrap();
    let set = store.apply_workflow_on(&with, &source, 1).await.unwrap();
    assert_eq!((set.version, set.outcome), (2, "updated"));
    let again = store.apply_workflow_on(&with, &source, 2).await.unwrap();
    assert_eq!((again.version, again.outcome), (2, "unchanged"));
    // Derived from a version that is no longer the latest: refused, nothing written.
    let stale = store.apply_workflow_on(&spec(v1), v1, 1).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let missing = store
        .apply_workflow_on(
            &spec("name: nope\ntasks:\n  - {name: a, type: noop}\n"),
            "",
            1,
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    assert!(store
        .get_workflow("default", "nope", None)
        .await
        .unwrap()
        .is_none());

    let latest = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (latest.version, latest.source.as_str()),
        (2, source.as_str())
    );
    assert_eq!(latest.spec.schedule, Some(block.clone()));
    let schedules = store.list_schedules(None).await.unwrap();
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0].spec, block);
    assert!(schedules[0].online && schedules[0].next_fire_at.is_some());

    // A fire's instance, and a backfill's, have the schedule's priority, not the workflow's.
    let mut tx = store.begin_engine().await.unwrap();
    let due = tx
        .due_schedules(now_us() + 5_000_000, &[], 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    let fired = fire_all(&mut tx, &due).await;
    let [FireOutcome::Fired {
        instance: fired, ..
    }] = fired[..]
    else {
        panic!("one instance for the fire: {fired:?}");
    };
    tx.commit().await.unwrap();
    let backfill = store
        .create_backfill(latest.id, &[1_000_000], 1)
        .await
        .unwrap();
    let mut tx = store.begin_engine().await.unwrap();
    let filled = tx
        .backfill_instance(backfill, &latest, 1_000_000, now_us())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for id in [fired, filled] {
        let instance = store.get_instance(id).await.unwrap().unwrap();
        assert_eq!(instance.priority, Priority::High, "instance {id}");
    }

    // Removed: a new version without the block, and no schedule left.
    let (without, source) = latest
        .spec
        .with_schedule(None, "schedule of `etl`")
        .unwrap();
    let deleted = store.apply_workflow_on(&without, &source, 2).await.unwrap();
    assert_eq!((deleted.version, deleted.outcome), (3, "updated"));
    assert!(store.list_schedules(None).await.unwrap().is_empty());
    let v3 = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v3.spec, spec(v1), "the definition as first applied");
}
on_both!(schedule_set_and_delete_make_versions);

/// Plans every due schedule to fire once, at its due time, and writes the batch.
async fn fire_all(tx: &mut SqlEngineTx, due: &[DueSchedule]) -> Vec<FireOutcome> {
    fire_all_at(tx, due, now_us()).await
}

/// [`fire_all`] at `now` (µs) by the master's clock.
async fn fire_all_at(tx: &mut SqlEngineTx, due: &[DueSchedule], now: i64) -> Vec<FireOutcome> {
    let plans: Vec<PlannedFire> = due
        .iter()
        .map(|d| PlannedFire {
            due: d,
            fire: vec![d.schedule.next_fire_at.unwrap()],
            missed: None,
            next_fire_at: d.schedule.next_fire_at.map(|t| t + 60_000_000),
        })
        .collect();
    tx.fire_batch(&plans, now).await.unwrap()
}

/// `n` workflows whose schedules fire every minute, all due next at one minute boundary
/// (applying them may take past a minute's end); returns it.
async fn every_minute(store: &Store, n: usize) -> i64 {
    for i in 0..n {
        let text = format!(
            "name: s{i}\nschedule: {{cron: '0 * * * * *', misfire: skip}}\n\
             tasks:\n  - {{name: a, type: noop}}\n"
        );
        store.apply_workflow(&spec(&text), &text).await.unwrap();
    }
    let due_at = (now_us() / 60_000_000 + 1) * 60_000_000;
    sqlx::query("UPDATE schedule SET next_fire_at = $1")
        .bind(due_at)
        .execute(&store.write)
        .await
        .unwrap();
    due_at
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&store.read)
        .await
        .unwrap()
}

/// A batch of due schedules fires each exactly once: a second writer of the same fires (a
/// master that read them before the first committed) creates nothing, and two masters taking
/// due schedules at once fire each schedule once between them.
async fn a_batch_of_due_schedules_fires_each_once(db: &TestDb) {
    let store = db.store().await;
    let n = 700; // more than one statement's worth of rows
    let due_at = every_minute(&store, n).await;
    let mut tx = store.begin_engine().await.unwrap();
    let due = tx.due_schedules(due_at, &[], 10_000).await.unwrap();
    assert_eq!(due.len(), n);
    let first = fire_all(&mut tx, &due).await;
    tx.commit().await.unwrap();
    let fired = |o: &[FireOutcome]| {
        o.iter()
            .filter(|o| matches!(o, FireOutcome::Fired { .. }))
            .count()
    };
    assert_eq!(fired(&first), n);
    let mut tx = store.begin_engine().await.unwrap();
    let again = fire_all(&mut tx, &due).await;
    tx.commit().await.unwrap();
    assert_eq!(fired(&again), 0, "the same fires again create nothing");
    assert!(again
        .iter()
        .all(|o| matches!(o, FireOutcome::AlreadyFired { .. })));
    let instances = "SELECT COUNT(*) FROM workflow_instance WHERE schedule_id IS NOT NULL";
    assert_eq!(count(&store, instances).await, n as i64);
    let starts = "SELECT COUNT(*) FROM command WHERE kind = 'start'";
    assert_eq!(count(&store, starts).await, n as i64);
    let advanced = format!("SELECT COUNT(*) FROM schedule WHERE next_fire_at > {due_at}");
    assert_eq!(count(&store, &advanced).await, n as i64);

    // The next fire of every schedule, but those a tick has already decided about.
    let next = due_at + 60_000_000;
    let mut tx = store.begin_engine().await.unwrap();
    let decided = [due[0].schedule.workflow_id, due[1].schedule.workflow_id];
    let rest = tx.due_schedules(next, &decided, 10_000).await.unwrap();
    assert_eq!(rest.len(), n - 2);
    assert!(rest
        .iter()
        .all(|d| !decided.contains(&d.schedule.workflow_id)));
    tx.rollback().await.unwrap();

    // The next fire of every schedule, taken by two masters at once.
    let master = || async {
        let mut tx = store.begin_engine().await.unwrap();
        let mut outcomes = Vec::new();
        loop {
            let due = tx.due_schedules(next, &[], 100).await.unwrap();
            if due.is_empty() {
                break;
            }
            outcomes.extend(fire_all(&mut tx, &due).await);
        }
        tx.commit().await.unwrap();
        outcomes
    };
    let (a, b) = tokio::join!(master(), master());
    let mut schedules: Vec<baton_core::WorkflowId> = a
        .iter()
        .chain(&b)
        .filter_map(|o| match o {
            FireOutcome::Fired { workflow, .. } => Some(*workflow),
            _ => None,
        })
        .collect();
    schedules.sort();
    schedules.dedup();
    assert_eq!(schedules.len(), n, "each schedule fired");
    assert_eq!(fired(&a) + fired(&b), n, "and once");
    assert_eq!(count(&store, instances).await, 2 * n as i64);
}
on_both!(a_batch_of_due_schedules_fires_each_once);

/// Every instance a batch of fires creates has its `instance_submitted` event, in the
/// batch's transaction, at the master's time, in the shape of an instance started through
/// the API for a schedule time; a fire that had its instance already records nothing.
async fn fires_record_their_instances_submission(db: &TestDb) {
    let store = db.store().await;
    let n = 3;
    let due_at = every_minute(&store, n).await;
    let submitted = EventFilter {
        kind: Some(baton_core::EventKind::InstanceSubmitted),
        after: Some(0),
        ..Default::default()
    };
    let mut tx = store.begin_engine().await.unwrap();
    let due = tx.due_schedules(due_at, &[], 10).await.unwrap();
    fire_all_at(&mut tx, &due, due_at + 7).await;
    tx.rollback().await.unwrap();
    assert!(store.list_events(&submitted).await.unwrap().is_empty());

    let mut tx = store.begin_engine().await.unwrap();
    let due = tx.due_schedules(due_at, &[], 10).await.unwrap();
    let outcomes = fire_all_at(&mut tx, &due, due_at + 7).await;
    tx.commit().await.unwrap();
    let fired: Vec<(Option<baton_core::WorkflowInstanceId>, String)> = outcomes
        .iter()
        .filter_map(|o| match o {
            FireOutcome::Fired { instance, .. } => Some(*instance),
            _ => None,
        })
        .zip(&due)
        .map(|(id, d)| (Some(id), d.schedule.name.clone()))
        .collect();
    assert_eq!(fired.len(), n);
    let events = store.list_events(&submitted).await.unwrap();
    let shown: Vec<_> = events
        .iter()
        .map(|e| {
            let e = &e.event;
            (
                e.workflow_instance_id,
                e.workflow.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(shown, fired, "one for each instance, in the order planned");
    for e in &events {
        assert_eq!(e.event.message, "submitted, fired by its schedule");
        assert_eq!(e.event.at, due_at + 7, "the master's time");
        assert_eq!(e.event.project.as_deref(), Some("default"));
        assert_eq!(
            e.event.detail,
            Some(serde_json::json!({"schedule_time_us": due_at}))
        );
    }

    let mut tx = store.begin_engine().await.unwrap();
    fire_all_at(&mut tx, &due, due_at + 8).await;
    tx.commit().await.unwrap();
    assert_eq!(store.list_events(&submitted).await.unwrap().len(), n);

    // Started through the API for a schedule time: the same detail.
    let workflow = store
        .get_workflow("default", "s0", None)
        .await
        .unwrap()
        .unwrap();
    let new = NewInstance {
        workflow: &workflow,
        params: BTreeMap::new(),
        overrides: Default::default(),
    };
    let id = store.create_instance_at(new, Some(due_at)).await.unwrap();
    let events = store.list_events(&submitted).await.unwrap();
    let last = &events.last().unwrap().event;
    assert_eq!(last.workflow_instance_id, Some(id));
    assert_eq!(last.message, "submitted for its schedule time");
    assert_eq!(last.detail, events[0].event.detail);
}
on_both!(fires_record_their_instances_submission);

/// A fire that became due while a master was taking work fires, however late the backlog
/// made it; fires missed while no master ran are reported as misfires and start nothing.
async fn backlog_is_not_a_misfire(db: &TestDb) {
    let store = db.store().await;
    // Both are due at a minute boundary, and five minutes overdue when the trigger gets to
    // them.
    let due_at = every_minute(&store, 2).await;
    let now = due_at + 5 * 60_000_000;
    let mut tx = store.begin_engine().await.unwrap();
    let due = tx.due_schedules(now, &[], 10).await.unwrap();
    assert_eq!(due.len(), 2);
    // The first master has been taking work since before the fires were due (a backlog);
    // for the second, none ran until now: the fires before now were missed.
    let plans: Vec<PlannedFire> = due
        .iter()
        .zip([due_at - 1, now])
        .map(|(d, since)| {
            let plan = d.schedule.spec.plan(None, due_at, now, since, 0);
            PlannedFire {
                due: d,
                fire: plan.fire,
                missed: plan.missed,
                next_fire_at: plan.next_fire_at,
            }
        })
        .collect();
    let outcomes = tx.fire_batch(&plans, now_us()).await.unwrap();
    tx.commit().await.unwrap();
    let (backlogged, missed) = (due[0].schedule.workflow_id, due[1].schedule.workflow_id);
    let fired: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            FireOutcome::Fired {
                workflow,
                fire_time,
                ..
            } if *workflow == backlogged => Some(*fire_time),
            _ => None,
        })
        .collect();
    let every: Vec<i64> = (0..=5).map(|m| due_at + m * 60_000_000).collect();
    assert_eq!(fired, every, "every fire of the backlog: {outcomes:?}");
    let misfired: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            FireOutcome::Misfired { workflow, missed } => Some((*workflow, missed.count)),
            _ => None,
        })
        .collect();
    assert_eq!(misfired, vec![(missed, 5)], "{outcomes:?}");
    let of_missed = format!(
        "SELECT COUNT(*) FROM workflow_instance WHERE schedule_id = {}",
        missed.0
    );
    assert_eq!(count(&store, &of_missed).await, 1, "only the fire due now");
}
on_both!(backlog_is_not_a_misfire);

async fn users_tokens_sessions_and_roles(db: &TestDb) {
    use baton_auth::{Credential, Role};
    let store = db.store().await;
    assert_eq!(store.user_count().await.unwrap(), 0);
    // The migration made the default project.
    let projects = store.list_projects().await.unwrap();
    assert_eq!(projects[0].name, "default");
    let alice = store
        .create_user("alice", "$argon2id$x", false)
        .await
        .unwrap();
    assert!(matches!(
        store.create_user("alice", "h", false).await,
        Err(StoreError::Conflict(_))
    ));
    let (user, hash) = store.user_login("alice").await.unwrap().unwrap();
    assert_eq!((user.id, hash.as_str()), (alice, "$argon2id$x"));
    assert!(store.user_login("bob").await.unwrap().is_none());

    store.create_project("etl").await.unwrap();
    store.set_member("etl", alice, Role::Viewer).await.unwrap();
    store
        .set_member("etl", alice, Role::Operator)
        .await
        .unwrap();
    let members = store.list_members("etl").await.unwrap();
    assert_eq!((members.len(), members[0].role), (1, Role::Operator));

    let id = store
        .create_token(NewToken {
            user: alice,
            name: "ci",
            secret_hash: "h1",
            project: Some("etl"),
            role: Some(Role::Viewer),
            expires_at: None,
        })
        .await
        .unwrap();
    let found = store.authenticate("h1").await.unwrap().unwrap().principal;
    assert_eq!(found.roles.get("etl"), Some(&Role::Operator));
    assert!(matches!(
        found.credential,
        Credential::Token {
            role: Some(Role::Viewer),
            ..
        }
    ));
    let listed = store.list_tokens(Some(alice)).await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "use is recorded");
    assert!(store.authenticate("nope").await.unwrap().is_none());
    store.revoke_token(id, Some(alice)).await.unwrap();
    assert!(store.authenticate("h1").await.unwrap().is_none(), "revoked");

    let past = now_us() - 1;
    store
        .create_token(NewToken {
            user: alice,
            name: "old",
            secret_hash: "h2",
            project: None,
            role: None,
            expires_at: Some(past),
        })
        .await
        .unwrap();
    assert!(store.authenticate("h2").await.unwrap().is_none(), "expired");

    store
        .create_session(alice, "s1", Some("c1"), now_us() + 60_000_000)
        .await
        .unwrap();
    let s = store.authenticate("s1").await.unwrap().unwrap();
    assert_eq!(s.csrf_hash.as_deref(), Some("c1"));
    store.set_password("alice", "$argon2id$y").await.unwrap();
    assert!(
        store.authenticate("s1").await.unwrap().is_none(),
        "a new password ends sessions"
    );
    store
        .create_session(alice, "s2", None, now_us() + 60_000_000)
        .await
        .unwrap();
    store.set_user_disabled("alice", true).await.unwrap();
    assert!(
        store.authenticate("s2").await.unwrap().is_none(),
        "disabled"
    );

    store.remove_member("etl", alice).await.unwrap();
    assert!(store.list_members("etl").await.unwrap().is_empty());
    store.delete_project("etl").await.unwrap();
    assert!(matches!(
        store.delete_project("etl").await,
        Err(StoreError::NotFound(_))
    ));
    store.apply_workflow(&spec(V1), V1).await.unwrap();
    assert!(matches!(
        store.delete_project("default").await,
        Err(StoreError::Conflict(_))
    ));
}
on_both!(users_tokens_sessions_and_roles);

async fn the_last_enabled_global_admin_cannot_be_disabled(db: &TestDb) {
    let store = db.store().await;
    store.create_user("root", "h", true).await.unwrap();
    store.create_user("alice", "h", false).await.unwrap();
    assert!(matches!(
        store.set_user_disabled("root", true).await,
        Err(StoreError::Conflict(m)) if m.contains("last enabled global admin")
    ));
    store.set_user_disabled("alice", true).await.unwrap();
    store.create_user("second", "h", true).await.unwrap();
    store.set_user_disabled("root", true).await.unwrap();
    assert!(
        matches!(
            store.set_user_disabled("second", true).await,
            Err(StoreError::Conflict(_))
        ),
        "a disabled admin does not count"
    );
    store.set_user_disabled("root", false).await.unwrap();
    store.set_user_disabled("second", true).await.unwrap();
    let disabled: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.disabled)
        .map(|u| u.name)
        .collect();
    assert_eq!(disabled, ["alice", "second"]);
}
on_both!(the_last_enabled_global_admin_cannot_be_disabled);

async fn purging_removes_only_unusable_credentials(db: &TestDb) {
    let store = db.store().await;
    let alice = store.create_user("alice", "h", false).await.unwrap();
    let now = now_us();
    let day = 86_400_000_000;
    let session = |hash: &'static str, expires_at: i64| {
        let store = store.clone();
        async move {
            store
                .create_session(alice, hash, None, expires_at)
                .await
                .unwrap()
        }
    };
    session("live", now + day).await;
    session("expired", now - 1).await;
    session("ended", now + day).await;
    store.end_session("ended").await.unwrap();
    let token = |name: &'static str, expires_at: Option<i64>| NewToken {
        user: alice,
        name,
        secret_hash: name,
        project: None,
        role: None,
        expires_at,
    };
    store.create_token(token("forever", None)).await.unwrap();
    store
        .create_token(token("lately", Some(now - 1)))
        .await
        .unwrap();
    store
        .create_token(token("long-ago", Some(now - 40 * day)))
        .await
        .unwrap();

    let removed = store.purge_credentials(now, 30 * day).await.unwrap();
    assert_eq!(removed, 3, "two sessions and the token expired 40 days ago");
    assert!(store.authenticate("live").await.unwrap().is_some());
    assert!(store.authenticate("forever").await.unwrap().is_some());
    let names: Vec<_> = store
        .list_tokens(Some(alice))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.iter().any(|n| n == "lately"),
        "kept until 30 days: {names:?}"
    );
    assert_eq!(store.purge_credentials(now, 30 * day).await.unwrap(), 0);
}
on_both!(purging_removes_only_unusable_credentials);

async fn audit_rows_filter_and_page(db: &TestDb) {
    let store = db.store().await;
    let admin = store.create_user("admin", "h", true).await.unwrap();
    for (i, user) in [Some((admin, "admin")), None, Some((admin, "admin"))]
        .iter()
        .enumerate()
    {
        store
            .record_audit(NewAudit {
                user: *user,
                action: "POST /api/v1/workflows",
                target: &format!("t{i}"),
                address: Some("127.0.0.1"),
                outcome: if user.is_some() { "allowed" } else { "denied" },
                status: if user.is_some() { 201 } else { 401 },
            })
            .await
            .unwrap();
    }
    let all = store
        .list_audit(&AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|a| a.target.as_str()).collect::<Vec<_>>(),
        ["t2", "t1", "t0"]
    );
    let mine = AuditFilter {
        user: Some("admin".into()),
        limit: 1,
        ..Default::default()
    };
    let page = store.list_audit(&mine).await.unwrap();
    assert_eq!(page[0].target, "t2");
    let next = AuditFilter {
        before: Some(page[0].id),
        ..mine
    };
    assert_eq!(store.list_audit(&next).await.unwrap()[0].target, "t0");
    let later = AuditFilter {
        since: Some(now_us() + 1_000_000),
        limit: 10,
        ..Default::default()
    };
    assert!(store.list_audit(&later).await.unwrap().is_empty());
}
on_both!(audit_rows_filter_and_page);

/// A database at schema version 10 (before identity and access), with workflows in two
/// projects, then opened by this store: the migration makes both projects.
async fn the_migration_makes_a_project_of_every_workflows_project(db: &TestDb) {
    sqlx::any::install_default_drivers();
    let sqlite = db.url.starts_with("sqlite:");
    let url = if sqlite {
        format!("{}?mode=rwc", db.url)
    } else {
        db.url.clone()
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let mut migrator = if sqlite {
        sqlx::migrate!("./migrations/sqlite")
    } else {
        sqlx::migrate!("./migrations/postgres")
    };
    let before: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 11)
        .cloned()
        .collect();
    migrator.migrations = std::borrow::Cow::Owned(before);
    migrator.run(&pool).await.unwrap();
    for project in ["legacy", "default"] {
        sqlx::query(
            "INSERT INTO workflow (project, name, latest_version, created_at, updated_at) \
             VALUES ($1, 'w', 1, 0, 0)",
        )
        .bind(project)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    let store = db.store().await;
    let names: Vec<String> = store
        .list_projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["default", "legacy"]);
}
on_both!(the_migration_makes_a_project_of_every_workflows_project);

async fn datasources_are_kept_per_project_paged_and_resealed(db: &TestDb) {
    let store = db.store().await;
    store.create_project("wh").await.unwrap();
    let new = |name: &'static str, secret: Option<&'static str>| NewDataSource {
        project: "wh",
        name,
        kind: "postgresql",
        url: "postgres://app@db/wh",
        secret,
    };
    for name in ["c", "a", "b"] {
        store
            .create_datasource(new(name, Some("v1.00000000.old")))
            .await
            .unwrap();
    }
    let none = store.create_datasource(new("d", None)).await.unwrap();
    assert_eq!((none.secret, none.kind.as_str()), (None, "postgresql"));
    assert!(matches!(
        store.create_datasource(new("a", None)).await,
        Err(StoreError::Conflict(m)) if m.contains("`a`")
    ));
    let missing = NewDataSource {
        project: "nope",
        ..new("x", None)
    };
    assert!(matches!(
        store.create_datasource(missing).await,
        Err(StoreError::NotFound(_))
    ));

    let names = |list: Vec<DataSourceRecord>| list.into_iter().map(|d| d.name).collect::<Vec<_>>();
    let first = store.list_datasources("wh", None, 2).await.unwrap();
    assert_eq!(names(first), ["a", "b"]);
    let next = store.list_datasources("wh", Some("b"), 2).await.unwrap();
    assert_eq!(names(next), ["c", "d"]);
    assert!(store
        .list_datasources("default", None, 10)
        .await
        .unwrap()
        .is_empty());
    let a = store.get_datasource("wh", "a").await.unwrap().unwrap();
    assert_eq!(a.secret.as_deref(), Some("v1.00000000.old"));
    assert!(!format!("{a:?}").contains("old"), "Debug hides the secret");
    assert!(store
        .get_datasource("default", "a")
        .await
        .unwrap()
        .is_none());

    // Re-sealing: every sealed secret not under the current key, in batches by id.
    store
        .reseal(
            SealedKind::DataSource,
            a.id,
            "v1.00000000.old",
            "v1.11111111.new",
        )
        .await
        .unwrap();
    let sealed_names =
        |list: Vec<SealedValue>| list.into_iter().map(|d| d.name).collect::<Vec<_>>();
    let todo = store
        .sealed_to_reseal(SealedKind::DataSource, "11111111", 0, 1)
        .await
        .unwrap();
    assert_eq!(sealed_names(todo.clone()), ["c"]);
    let rest = store
        .sealed_to_reseal(SealedKind::DataSource, "11111111", todo[0].id, 10)
        .await
        .unwrap();
    assert_eq!(sealed_names(rest), ["b"]);
    assert!(
        !store
            .reseal(
                SealedKind::DataSource,
                todo[0].id,
                "v1.stale.x",
                "v1.11111111.y"
            )
            .await
            .unwrap(),
        "a secret changed meanwhile is not overwritten"
    );

    assert!(matches!(
        store.delete_project("wh").await,
        Err(StoreError::Conflict(m)) if m.contains("4 data source(s)")
    ));
    for name in ["a", "b", "c", "d"] {
        store.delete_datasource("wh", name).await.unwrap();
    }
    assert!(matches!(
        store.delete_datasource("wh", "a").await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_project("wh").await.unwrap();
}
on_both!(datasources_are_kept_per_project_paged_and_resealed);

/// A start's overrides are kept with the instance (the priority as its priority too), and
/// an instance without any reads back with none.
async fn start_overrides_are_kept_with_the_instance(db: &TestDb) {
    use baton_core::start::StartOverrides;
    use baton_core::{FailureStrategy, Priority};
    let store = db.store().await;
    store.apply_workflow(&spec(V1), V1).await.unwrap();
    let wf = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    let overrides = StartOverrides {
        failure_strategy: Some(FailureStrategy::Continue),
        priority: Some(Priority::Lowest),
        worker_group: Some("gpu".into()),
    };
    let new = |overrides| NewInstance {
        workflow: &wf,
        params: BTreeMap::new(),
        overrides,
    };
    let given = store.create_instance(new(overrides.clone())).await.unwrap();
    let none = store
        .create_instance(new(StartOverrides::default()))
        .await
        .unwrap();
    let given = store.get_instance(given).await.unwrap().unwrap();
    assert_eq!(given.overrides, overrides);
    assert_eq!(given.priority, Priority::Lowest);
    let none = store.get_instance(none).await.unwrap().unwrap();
    assert!(none.overrides.is_empty());
    assert_eq!(none.priority, wf.spec.priority);
}
on_both!(start_overrides_are_kept_with_the_instance);

/// The recent runs of many workflows in one call: the newest few of each, newest first, and
/// nothing for a workflow that never ran.
async fn recent_runs_are_the_newest_of_each_workflow(db: &TestDb) {
    let store = db.store().await;
    let other = "name: other\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
    let idle = "name: idle\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
    for text in [V1, other, idle] {
        store.apply_workflow(&spec(text), text).await.unwrap();
    }
    let get = |name: &'static str| {
        let store = store.clone();
        async move {
            store
                .get_workflow("default", name, None)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let (etl, other, idle) = (get("etl").await, get("other").await, get("idle").await);
    let mut etl_ids = Vec::new();
    for n in 0..12 {
        let wf = if n % 4 == 3 { &other } else { &etl };
        let new = NewInstance {
            workflow: wf,
            params: BTreeMap::new(),
            overrides: Default::default(),
        };
        let id = store.create_instance(new).await.unwrap();
        if wf.id == etl.id {
            etl_ids.push(id);
        }
    }
    let runs = store
        .recent_runs(&[etl.id, other.id, idle.id], 5)
        .await
        .unwrap();
    let newest: Vec<_> = etl_ids.iter().rev().take(5).copied().collect();
    let got: Vec<_> = runs[&etl.id].iter().map(|r| r.id).collect();
    assert_eq!(got, newest);
    assert_eq!(runs[&other.id].len(), 3);
    assert!(runs[&other.id].windows(2).all(|w| w[0].id.0 > w[1].id.0));
    assert!(runs[&other.id]
        .iter()
        .all(|r| r.state == WorkflowState::Submitted));
    assert!(!runs.contains_key(&idle.id));
    assert!(store.recent_runs(&[etl.id], 0).await.unwrap().is_empty());
}
on_both!(recent_runs_are_the_newest_of_each_workflow);

/// Counts per project: workflows, instances not ended, instances failed since a time.
async fn project_counts_count_workflows_open_and_recently_failed_instances(db: &TestDb) {
    let store = db.store().await;
    let other = "name: other\nproject: q\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
    store.create_project("q").await.unwrap();
    for text in [V1, other] {
        store.apply_workflow(&spec(text), text).await.unwrap();
    }
    let wf = store
        .get_workflow("default", "etl", None)
        .await
        .unwrap()
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..4 {
        let new = NewInstance {
            workflow: &wf,
            params: BTreeMap::new(),
            overrides: Default::default(),
        };
        ids.push(store.create_instance(new).await.unwrap());
    }
    let now = crate::now_us();
    let day = 24 * 3600 * 1_000_000;
    let mut tx = store.begin_engine().await.unwrap();
    tx.finish_instance(ids[0], WorkflowState::Failed, now, None)
        .await
        .unwrap();
    tx.finish_instance(ids[1], WorkflowState::Failed, now - 2 * day, None)
        .await
        .unwrap();
    tx.finish_instance(ids[2], WorkflowState::Stopped, now, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let counts = store.project_counts(now - day).await.unwrap();
    assert_eq!(
        counts["default"],
        crate::ProjectCounts {
            workflows: 1,
            running: 1,
            failed_since: 1
        }
    );
    assert_eq!(
        counts["q"],
        crate::ProjectCounts {
            workflows: 1,
            running: 0,
            failed_since: 0
        }
    );
}
on_both!(project_counts_count_workflows_open_and_recently_failed_instances);
async fn secrets_are_set_replaced_listed_resealed_and_deleted_per_project(db: &TestDb) {
    let store = db.store().await;
    store.create_project("app").await.unwrap();
    for name in ["token", "api", "zz"] {
        store
            .set_secret("app", name, "v1.00000000.old")
            .await
            .unwrap();
    }
    let first = store
        .set_secret("app", "token", "v1.00000000.x")
        .await
        .unwrap();
    let again = store
        .set_secret("app", "token", "v1.11111111.y")
        .await
        .unwrap();
    assert_eq!(first.id, again.id, "setting again replaces the value");
    assert_eq!(again.sealed, "v1.11111111.y");
    assert!(again.updated_at >= again.created_at);
    assert!(
        !format!("{again:?}").contains("v1."),
        "Debug hides the value"
    );
    assert!(matches!(
        store.set_secret("nope", "x", "v1.0.x").await,
        Err(StoreError::NotFound(_))
    ));
    let names = |list: Vec<SecretRecord>| list.into_iter().map(|d| d.name).collect::<Vec<_>>();
    assert_eq!(
        names(store.list_secrets("app", None, 2).await.unwrap()),
        ["api", "token"]
    );
    assert_eq!(
        names(store.list_secrets("app", Some("token"), 2).await.unwrap()),
        ["zz"]
    );
    assert!(store
        .list_secrets("default", None, 9)
        .await
        .unwrap()
        .is_empty());

    let todo = store
        .sealed_to_reseal(SealedKind::Secret, "11111111", 0, 10)
        .await
        .unwrap();
    assert_eq!(
        todo.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
        ["token", "api", "zz"][1..].to_vec(),
        "all but token"
    );
    assert!(store
        .reseal(
            SealedKind::Secret,
            todo[0].id,
            "v1.00000000.old",
            "v1.11111111.new"
        )
        .await
        .unwrap());
    assert!(!store
        .reseal(
            SealedKind::Secret,
            todo[0].id,
            "v1.00000000.old",
            "v1.11111111.z"
        )
        .await
        .unwrap());

    let mut tx = store.begin_engine().await.unwrap();
    let found = tx
        .secrets("app", &["token".to_string(), "ghost".to_string()])
        .await
        .unwrap();
    assert_eq!(names(found), ["token"]);
    tx.rollback().await.unwrap();

    assert!(matches!(
        store.delete_project("app").await,
        Err(StoreError::Conflict(m)) if m.contains("3 secret(s)")
    ));
    for name in ["token", "api", "zz"] {
        store.delete_secret("app", name).await.unwrap();
    }
    assert!(matches!(
        store.delete_secret("app", "api").await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_project("app").await.unwrap();
}
on_both!(secrets_are_set_replaced_listed_resealed_and_deleted_per_project);

/// Purging history removes ended instances older than the cut-off with their task instances,
/// attempts and events, in batches, children after their parents, and keeps what is recent,
/// not ended, waiting for a command, or of another project; a dry run counts the same.
async fn purge_removes_old_ended_history(db: &TestDb) {
    use crate::{PurgeScope, Purged};
    let store = db.store().await;
    let etl = crate::testing::applied(&store, V1).await;
    let day = 24 * 3600 * 1_000_000_i64;
    let now = now_us();
    let mut ids = Vec::new();
    for _ in 0..6 {
        let id = store
            .create_instance(NewInstance {
                workflow: &etl,
                params: BTreeMap::new(),
                overrides: Default::default(),
            })
            .await
            .unwrap();
        ids.push(id.0);
    }
    sqlx::query("DELETE FROM command")
        .execute(&store.write)
        .await
        .unwrap();
    let set = |id: i64, state: &str, ended: Option<i64>, project: &str| {
        let store = store.clone();
        let (state, project) = (state.to_string(), project.to_string());
        async move {
            sqlx::query("UPDATE workflow_instance SET state = $1, ended_at = $2, project = $3 WHERE id = $4")
                .bind(state)
                .bind(ended)
                .bind(project)
                .bind(id)
                .execute(&store.write)
                .await
                .unwrap();
        }
    };
    let (old, parent, child, recent, running, waiting) =
        (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);
    set(old, "succeeded", Some(now - 100 * day), "default").await;
    set(parent, "failed", Some(now - 95 * day), "default").await;
    set(child, "failed", Some(now - 96 * day), "default").await;
    set(recent, "failed", Some(now - day), "default").await;
    set(running, "running", None, "default").await;
    set(waiting, "failed", Some(now - 100 * day), "default").await;
    sqlx::query("UPDATE workflow_instance SET parent_instance_id = $1 WHERE id = $2")
        .bind(parent)
        .bind(child)
        .execute(&store.write)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO command (kind, workflow_instance_id, target, created_at) \
         VALUES ('recover', $1, NULL, $2)",
    )
    .bind(waiting)
    .bind(now)
    .execute(&store.write)
    .await
    .unwrap();
    for (n, wfi) in [old, old, child, recent].into_iter().enumerate() {
        let tid = 9000 + n as i64;
        sqlx::query(
            "INSERT INTO task_instance (id, workflow_instance_id, task_name, state, attempt, \
             submitted_at) VALUES ($1, $2, $3, 'succeeded', 2, $4)",
        )
        .bind(tid)
        .bind(wfi)
        .bind(format!("t{n}"))
        .bind(now)
        .execute(&store.write)
        .await
        .unwrap();
        for attempt in 1..=2_i64 {
            sqlx::query(
                "INSERT INTO task_attempt (task_instance_id, attempt, state, ended_at) \
                 VALUES ($1, $2, 'failed', $3)",
            )
            .bind(tid)
            .bind(attempt)
            .bind(now)
            .execute(&store.write)
            .await
            .unwrap();
        }
    }
    let scope = PurgeScope {
        ended_before: now - 90 * day,
        ..Default::default()
    };
    let expected = Purged {
        instances: 3,
        task_instances: 3,
        attempts: 6,
        events: 3,
    };
    assert_eq!(store.count_purgeable(&scope).await.unwrap(), expected);
    let other_project = PurgeScope {
        project: Some("elsewhere".into()),
        ..scope.clone()
    };
    assert_eq!(
        store.purge_instances(&other_project, 10).await.unwrap(),
        Purged::default()
    );
    let all_but_default = PurgeScope {
        except_projects: vec!["default".into()],
        ..scope.clone()
    };
    assert_eq!(
        store.purge_instances(&all_but_default, 10).await.unwrap(),
        Purged::default()
    );

    // One instance a batch: the child becomes eligible once its parent is gone.
    let mut total = Purged::default();
    let mut batches = 0;
    loop {
        let done = store.purge_instances(&scope, 1).await.unwrap();
        if done.instances == 0 {
            break;
        }
        assert_eq!(done.instances, 1);
        total.add(done);
        batches += 1;
    }
    assert_eq!((total, batches), (expected, 3));
    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM workflow_instance ORDER BY id")
        .fetch_all(&store.read)
        .await
        .unwrap();
    assert_eq!(left, vec![recent, running, waiting]);
    assert_eq!(count(&store, "SELECT count(*) FROM task_instance").await, 1);
    assert_eq!(count(&store, "SELECT count(*) FROM task_attempt").await, 2);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM event WHERE workflow_instance_id IS NOT NULL"
        )
        .await,
        3
    );
    assert_eq!(
        store.count_purgeable(&scope).await.unwrap(),
        Purged::default()
    );
}
on_both!(purge_removes_old_ended_history);
