//! Services, tick by tick: a healthy report starts the downstream while the service's row
//! stays running, a restart is an event only, and a master that starts again remembers that
//! the service was up.

use super::harness::*;
use baton_core::{TaskState, WorkflowState};
use baton_proto::{task_event, DispatchRequest, Outcome, TaskEvent};

const SERVED: &str = "name: served
tasks:
  - {name: server, type: service, command: ./serve}
  - {name: prep, type: shell, command: 'true'}
  - {name: check, type: shell, command: 'true', depends_on: [server, prep]}
";

fn healthy(d: &DispatchRequest, at_us: i64) -> TaskEvent {
    let mut e = started(d, at_us);
    e.event = Some(task_event::Event::Healthy(baton_proto::Healthy {
        at_us,
        pid: 1,
    }));
    e
}

fn restarted(d: &DispatchRequest, at_us: i64) -> TaskEvent {
    let mut e = started(d, at_us);
    e.event = Some(task_event::Event::Restarted(baton_proto::Restarted {
        at_us,
        pid: 2,
        reason: "exited with code 1".into(),
        restarts: 1,
    }));
    e
}

async fn a_healthy_service_starts_its_downstream_and_runs_on_until_stopped() {
    let mut h = Harness::standalone().await;
    let id = h.start(SERVED).await;
    let tick = h.tick().await;
    let (server, prep) = (
        dispatched(&tick, "server").clone(),
        dispatched(&tick, "prep").clone(),
    );
    let Some(baton_proto::dispatch_request::Kind::Service(spec)) = &server.kind else {
        panic!("a service is dispatched as one: {server:?}");
    };
    assert_eq!(
        (spec.command.as_str(), spec.backoff_min_ms),
        ("./serve", 1000)
    );
    let tick = h
        .tick_with(vec![
            started(&server, h.now()),
            finished(&prep, Outcome::Succeeded, h.now()),
        ])
        .await;
    assert!(
        tick.dispatches.is_empty(),
        "check waits for the server to be up"
    );

    let tick = h.tick_with(vec![healthy(&server, h.now())]).await;
    assert_eq!(
        names(&tick),
        vec!["check"],
        "check goes once the server is up"
    );
    assert_eq!(h.task(id, "server").await.state, TaskState::Running);
    let check = dispatched(&tick, "check").clone();
    h.tick_with(vec![restarted(&server, h.now()), healthy(&server, h.now())])
        .await;
    h.tick_with(vec![finished(&check, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(
        h.state(id).await,
        WorkflowState::Running,
        "the service runs on"
    );
    let kinds = h.event_kinds(id).await;
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(
        (count("task_healthy"), count("task_restarted")),
        (2, 1),
        "{kinds:?}"
    );

    h.store.request_stop(id).await.unwrap();
    let tick = h.tick().await;
    assert_eq!(tick.kills.len(), 1, "the service is killed");
    h.tick_with(vec![finished(&server, Outcome::Killed, h.now())])
        .await;
    assert_eq!(h.state(id).await, WorkflowState::Stopped);
    assert_eq!(h.task(id, "server").await.state, TaskState::Killed);
}

async fn a_master_that_starts_again_remembers_the_service_was_up() {
    let mut h = Harness::standalone().await;
    h.start(SERVED).await;
    let tick = h.tick().await;
    let server = dispatched(&tick, "server").clone();
    let prep = dispatched(&tick, "prep").clone();
    h.tick_with(vec![
        started(&server, h.now()),
        started(&prep, h.now()),
        healthy(&server, h.now()),
    ])
    .await;

    // Standalone: what ran went with the worker; both run again.
    let mut h = h.restart().await;
    let tick = h.tick().await;
    let mut sent = names(&tick);
    sent.sort_unstable();
    assert_eq!(sent, vec!["prep", "server"]);
    let prep = dispatched(&tick, "prep").clone();
    assert_eq!(dispatched(&tick, "server").id.unwrap().attempt, 2);
    let tick = h
        .tick_with(vec![finished(&prep, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(
        names(&tick),
        vec!["check"],
        "the server was up: check need not wait"
    );
}

on_both_stores!(
    a_healthy_service_starts_its_downstream_and_runs_on_until_stopped,
    a_master_that_starts_again_remembers_the_service_was_up,
);
