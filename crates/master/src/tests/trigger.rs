//! The trigger, tick by tick: a schedule's fire and a backfill's instances are submitted
//! with their lifecycle events at the engine's time, and a backfill ends once.

use super::harness::*;
use baton_core::{EventKind, WorkflowState};
use baton_proto::Outcome;
use baton_store::{EventFilter, EventRecord};
use serde_json::json;
use std::time::Duration;

const ONE: &str = "name: one\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";

/// The events of one kind, oldest first.
async fn of_kind(h: &Harness, kind: EventKind) -> Vec<EventRecord> {
    let filter = EventFilter {
        kind: Some(kind),
        after: Some(0),
        ..Default::default()
    };
    h.store.list_events(&filter).await.unwrap()
}

/// Runs the instance's one task `a` to success.
async fn run_a(h: &mut Harness, tick: &crate::engine::Tick) {
    let a = dispatched(tick, "a").clone();
    h.tick_with(vec![finished(&a, Outcome::Succeeded, h.now())])
        .await;
}

async fn a_schedule_fire_submits_its_instance_at_the_engine_time() {
    let mut h = Harness::standalone().await;
    let yaml = "name: tick\nschedule: {cron: '0 * * * * *'}\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
    let workflow = h.store.applied(yaml).await;
    let schedule = h.store.get_schedule(workflow.id).await.unwrap().unwrap();
    let due = schedule
        .next_fire_at
        .expect("an online schedule has a fire due");
    h.set_now(due + 250_000);
    let tick = h.tick().await;
    let fired = of_kind(&h, EventKind::ScheduleFired).await;
    assert_eq!(fired.len(), 1);
    let id = fired[0]
        .event
        .workflow_instance_id
        .expect("the fired instance");
    let about = (&fired[0].event.project, &fired[0].event.workflow);
    assert_eq!(
        about,
        (&Some("default".into()), &Some("tick".into())),
        "a fire is about its workflow"
    );
    let submitted = of_kind(&h, EventKind::InstanceSubmitted).await;
    assert_eq!(submitted.len(), 1);
    let e = &submitted[0].event;
    assert_eq!(e.workflow_instance_id, Some(id));
    assert_eq!(e.at, h.now(), "the engine's clock");
    assert_eq!(e.message, "submitted, fired by its schedule");
    assert_eq!(e.detail, Some(json!({"schedule_time_us": due})));
    assert_eq!(
        h.store
            .get_instance(id)
            .await
            .unwrap()
            .unwrap()
            .submitted_at,
        h.now()
    );
    assert_eq!(
        h.event_kinds(id).await,
        [
            "instance_submitted",
            "schedule_fired",
            "instance_started",
            "task_dispatched"
        ]
    );
    run_a(&mut h, &tick).await;
    assert_eq!(h.state(id).await, WorkflowState::Succeeded);
}

async fn a_backfill_submits_its_instances_in_turn_and_ends_once() {
    let mut h = Harness::standalone().await;
    let workflow = h.store.applied(ONE).await;
    let backfill = h
        .store
        .create_backfill(workflow.id, &[10_000_000, 20_000_000], 1)
        .await
        .unwrap();
    for (n, schedule_time) in [(1, 10_000_000), (2, 20_000_000)] {
        h.advance(Duration::from_secs(1));
        let tick = h.tick().await;
        let submitted = of_kind(&h, EventKind::InstanceSubmitted).await;
        assert_eq!(submitted.len(), n, "one at a time");
        let e = &submitted[n - 1].event;
        assert_eq!(e.at, h.now());
        assert_eq!(e.message, format!("submitted by backfill {backfill}"));
        assert_eq!(
            e.detail,
            Some(json!({"backfill_id": backfill, "schedule_time_us": schedule_time}))
        );
        let id = e.workflow_instance_id.unwrap();
        assert_eq!(
            h.event_kinds(id).await,
            ["instance_submitted", "instance_started", "task_dispatched"]
        );
        assert!(of_kind(&h, EventKind::BackfillEnded).await.is_empty());
        run_a(&mut h, &tick).await;
        assert_eq!(h.state(id).await, WorkflowState::Succeeded);
    }
    h.advance(Duration::from_secs(1));
    h.tick().await;
    h.tick().await;
    let ended = of_kind(&h, EventKind::BackfillEnded).await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].event.at, h.now());
    let detail = ended[0].event.detail.clone().unwrap();
    assert_eq!(detail["state"], "done");
    assert_eq!(detail["by_state"], json!({"succeeded": 2}));
    let started = of_kind(&h, EventKind::BackfillStarted).await;
    assert!(started[0].id < ended[0].id);
    let record = h.store.get_backfill(backfill).await.unwrap().unwrap();
    assert_eq!((record.state.as_str(), record.started), ("done", 2));
}

on_both_stores!(
    a_schedule_fire_submits_its_instance_at_the_engine_time,
    a_backfill_submits_its_instances_in_turn_and_ends_once,
);
