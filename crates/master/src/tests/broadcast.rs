//! Broadcast tasks (`broadcast: true`) in the engine: one item per live worker of the
//! group, each dispatched to its own worker only, failed (never rerun elsewhere) when that
//! worker is gone, queued or running; rebuilt on the same workers after a restart and a
//! recover.

use super::harness::*;
use baton_core::{TaskState, WorkflowState};
use baton_proto::dispatch_request::Kind;
use baton_proto::{DispatchRequest, Outcome, TaskEvent};
use std::time::Duration;

const W1: &str = "127.0.0.1:1";
const W2: &str = "127.0.0.1:2";
const W3: &str = "127.0.0.1:3";

/// A broadcast task that prints its worker, and a task after it that reads the outputs.
const CLEAR: &str = "name: b\ntasks:\n  - {name: clear, type: shell, broadcast: true, retries: 1, retry_interval: 5s, command: 'echo ${system.worker.id}'}\n  - {name: report, type: shell, depends_on: [clear], command: 'echo ${clear.outputs}'}\n";

/// A cluster engine that sees these workers (one slot each, unless said).
async fn cluster(workers: &[(&str, usize)]) -> Harness {
    let mut h = Harness::with(true, vec![]).await;
    h.view(
        &["m1"],
        workers.iter().map(|(w, s)| worker(w, *s)).collect(),
    );
    h
}

/// The worker id a dispatched item reads as `${system.worker.id}`.
fn worker_param(d: &DispatchRequest) -> &str {
    let Some(Kind::Shell(shell)) = &d.kind else {
        panic!("a shell dispatch: {d:?}");
    };
    assert!(shell.command.contains("BATON_PARAM_system__worker__id"));
    &d.env["BATON_PARAM_system__worker__id"]
}

/// `event` as the item's own worker reports it (only that worker speaks for it).
fn from_its_worker(d: &DispatchRequest, mut event: TaskEvent) -> TaskEvent {
    event.worker = worker_param(d).to_string();
    event
}

/// The worker reports the item `d` ended so.
fn ended(h: &Harness, d: &DispatchRequest, outcome: Outcome) -> TaskEvent {
    from_its_worker(d, finished(d, outcome, h.now()))
}

/// `(task name, worker id)` of each dispatch of a tick, sorted.
fn sent_to(h: &Harness, tick: &crate::engine::Tick) -> Vec<(String, String)> {
    let mut sent: Vec<(String, String)> = tick
        .dispatches
        .iter()
        .map(|(w, d)| {
            let id = h.engine.dispatcher.worker(*w).endpoint.id.clone();
            (d.task_name.clone(), id)
        })
        .collect();
    sent.sort();
    sent
}

async fn one_item_runs_on_each_live_worker_and_sees_its_id() {
    let mut h = cluster(&[(W3, 4), (W1, 4), (W2, 4)]).await;
    let id = h.start(CLEAR).await;
    let tick = h.tick().await;
    let expected: Vec<(String, String)> = [W1, W2, W3]
        .iter()
        .map(|w| (format!("clear[{w}]"), w.to_string()))
        .collect();
    assert_eq!(sent_to(&h, &tick), expected, "each on its own worker");
    for w in [W1, W2, W3] {
        assert_eq!(worker_param(dispatched(&tick, &format!("clear[{w}]"))), w);
    }
    let clear = h.task(id, "clear").await;
    assert_eq!(clear.state, TaskState::Running);
    assert_eq!(clear.message.as_deref(), Some("runs 3 items"));
    let reports = [W1, W2, W3]
        .iter()
        .map(|w| {
            let d = dispatched(&tick, &format!("clear[{w}]"));
            with_outputs(ended(&h, d, Outcome::Succeeded), &[("host", w)])
        })
        .collect();
    let tick = h.tick_with(reports).await;
    let clear = h.task(id, "clear").await;
    assert_eq!(clear.state, TaskState::Succeeded);
    assert_eq!(clear.message.as_deref(), Some("all 3 items succeeded"));
    let report = dispatched(&tick, "report");
    assert!(report
        .env
        .values()
        .any(|v| v.contains(&format!(r#"{{"host":"{W1}"}}"#))));
}

async fn a_worker_lost_mid_run_fails_its_item_only_and_nothing_runs_elsewhere() {
    let mut h = cluster(&[(W1, 4), (W2, 4), (W3, 4)]).await;
    let yaml = CLEAR.replace("retries: 1", "failover: rerun, retries: 1");
    let id = h.start(&yaml).await;
    let tick = h.tick().await;
    let items: Vec<DispatchRequest> = tick.dispatches.iter().map(|(_, d)| d.clone()).collect();
    let starts = items
        .iter()
        .map(|d| from_its_worker(d, started(d, h.now())))
        .collect();
    h.tick_with(starts).await;
    // W2 leaves the cluster while its item runs.
    h.view(&["m1"], vec![worker(W1, 4), worker(W3, 4)]);
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty(), "not rerun on another worker");
    let lost = h.task(id, &format!("clear[{W2}]")).await;
    assert_eq!(lost.state, TaskState::Failed);
    assert!(
        lost.message
            .as_deref()
            .unwrap_or("")
            .contains("not run again elsewhere"),
        "{:?}",
        lost.message
    );
    let others: Vec<_> = items
        .iter()
        .filter(|d| d.task_name != format!("clear[{W2}]"))
        .map(|d| ended(&h, d, Outcome::Succeeded))
        .collect();
    let tick = h.tick_with(others).await;
    assert!(tick.dispatches.is_empty());
    let clear = h.task(id, "clear").await;
    assert_eq!(clear.state, TaskState::Failed);
    assert_eq!(
        clear.message.as_deref(),
        Some(format!("1 of 3 items failed: [{W2}]").as_str())
    );
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn a_retry_stays_on_its_worker_and_fails_if_the_worker_is_gone() {
    let mut h = cluster(&[(W1, 1), (W2, 1)]).await;
    let id = h.start(CLEAR).await;
    let tick = h.tick().await;
    let on_w1 = dispatched(&tick, &format!("clear[{W1}]")).clone();
    let on_w2 = dispatched(&tick, &format!("clear[{W2}]")).clone();
    h.tick_with(vec![
        ended(&h, &on_w1, Outcome::Failed),
        ended(&h, &on_w2, Outcome::Failed),
    ])
    .await;
    h.advance(Duration::from_secs(6));
    // W2 is gone when the retries are due: only W1's runs, on W1.
    h.view(&["m1"], vec![worker(W1, 1), worker(W3, 1)]);
    let tick = h.tick().await;
    let name = format!("clear[{W1}]");
    assert_eq!(sent_to(&h, &tick), vec![(name.clone(), W1.to_string())]);
    assert_eq!(dispatched(&tick, &name).id.unwrap().attempt, 2);
    let gone = h.task(id, &format!("clear[{W2}]")).await;
    assert_eq!(gone.state, TaskState::Failed);
    assert_eq!(
        gone.message.as_deref(),
        Some(
            format!("worker `{W2}` is gone: a broadcast item runs only on its own worker").as_str()
        )
    );
}

async fn no_live_worker_in_the_group_fails_the_task_naming_the_group() {
    let mut h = cluster(&[(W1, 1)]).await;
    let yaml = "name: b\ntasks:\n  - {name: clear, type: shell, broadcast: true, worker_group: edge, command: 'true'}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty());
    let clear = h.task(id, "clear").await;
    assert_eq!(clear.state, TaskState::Failed);
    assert_eq!(
        clear.message.as_deref(),
        Some("broadcast: no live worker in group `edge` when the task became ready")
    );
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn a_master_that_has_not_heard_the_registry_yet_waits_for_it_before_choosing_workers() {
    let mut h = Harness::with(true, vec![]).await;
    let id = h.start(CLEAR).await;
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty());
    let clear = h.task(id, "clear").await;
    assert_eq!(
        clear.state,
        TaskState::Submitted,
        "it waits, it does not fail"
    );
    h.view(&["m1"], vec![worker(W1, 1), worker(W2, 1)]);
    let tick = h.tick().await;
    let expected: Vec<(String, String)> = [W1, W2]
        .iter()
        .map(|w| (format!("clear[{w}]"), w.to_string()))
        .collect();
    assert_eq!(sent_to(&h, &tick), expected, "the workers of the view");
    assert_eq!(
        h.task(id, "clear").await.message.as_deref(),
        Some("runs 2 items")
    );
}

async fn a_restart_and_a_recover_rerun_items_on_the_workers_chosen_at_first() {
    let mut h = Harness::standalone().await;
    let id = h.start(CLEAR.replace("retries: 1, ", "").as_str()).await;
    let name = format!("clear[{WORKER}]");
    let first = dispatched(&h.tick().await, &name).clone();
    h.tick_with(vec![started(&first, h.now())]).await;
    // The master stops with the item on the worker: rebuilt on the same worker.
    let mut again = h.restart().await;
    let tick = again.tick().await;
    let rerun = dispatched(&tick, &name).clone();
    assert_eq!(rerun.id.unwrap().attempt, 2);
    assert_eq!(worker_param(&rerun), WORKER);
    again
        .tick_with(vec![finished(&rerun, Outcome::Failed, again.now())])
        .await;
    assert_eq!(again.state(id).await, WorkflowState::Failed);
    let items = again.store.task_instances(id).await.unwrap();
    assert_eq!(items.len(), 2, "the task and its one item: {items:?}");

    again.store.request_recover(id).await.unwrap();
    let tick = again.tick().await;
    let recovered = dispatched(&tick, &name).clone();
    assert_eq!(recovered.id.unwrap().attempt, 3);
    assert_eq!(worker_param(&recovered), WORKER);
    let tick = again
        .tick_with(vec![finished(&recovered, Outcome::Succeeded, again.now())])
        .await;
    assert_eq!(names(&tick), vec!["report"]);
    assert_eq!(again.task(id, "clear").await.state, TaskState::Succeeded);
}

on_both_stores!(
    one_item_runs_on_each_live_worker_and_sees_its_id,
    a_worker_lost_mid_run_fails_its_item_only_and_nothing_runs_elsewhere,
    a_retry_stays_on_its_worker_and_fails_if_the_worker_is_gone,
    no_live_worker_in_the_group_fails_the_task_naming_the_group,
    a_master_that_has_not_heard_the_registry_yet_waits_for_it_before_choosing_workers,
    a_restart_and_a_recover_rerun_items_on_the_workers_chosen_at_first,
);
