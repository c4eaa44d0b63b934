//! The logic tasks, run by the engine itself: a sub-workflow's child instance, a dependent
//! task's checks and timeout, and a conditions task's branch.

use super::harness::*;
use baton_core::{TaskState, WorkflowInstanceId, WorkflowState};
use baton_proto::{DispatchRequest, Outcome};
use std::time::Duration;

const CHILD: &str = "name: child\ntasks:\n  - {name: work, type: shell, command: 'true'}\n";

/// The instance a dispatch belongs to.
fn instance_of(d: &DispatchRequest) -> WorkflowInstanceId {
    WorkflowInstanceId(d.id.expect("an attempt id").workflow_instance_id)
}

async fn a_sub_workflow_runs_its_child_and_ends_with_it_passing_its_outputs_on() {
    let mut h = Harness::standalone().await;
    h.store.applied(CHILD).await;
    let parent = "name: parent\ntasks:\n  - {name: run_child, type: sub_workflow, workflow: child}\n  - {name: after, type: shell, depends_on: [run_child], command: 'true'}\n";
    let id = h.start(parent).await;
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty(), "{:?}", names(&tick));
    assert_eq!(h.task(id, "run_child").await.state, TaskState::Running);

    // The child's start was queued in that tick; the next one takes it.
    let work = dispatched(&h.tick().await, "work").clone();
    let child = instance_of(&work);
    assert_ne!(child, id);
    let done = with_outputs(
        finished(&work, Outcome::Succeeded, h.now()),
        &[("rows", "9")],
    );
    h.tick_with(vec![done]).await;
    assert_eq!(h.state(child).await, WorkflowState::Succeeded);

    // The child's end is a command to its parent, taken in the next tick.
    let tick = h.tick().await;
    let run_child = h.task(id, "run_child").await;
    assert_eq!(run_child.state, TaskState::Succeeded);
    assert_eq!(run_child.outputs.get("rows").map(String::as_str), Some("9"));
    let after = dispatched(&tick, "after").clone();
    h.tick_with(vec![finished(&after, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(h.state(id).await, WorkflowState::Succeeded);
}

async fn a_sub_workflow_whose_child_fails_fails_and_its_downstream_does_not_run() {
    let mut h = Harness::standalone().await;
    h.store.applied(CHILD).await;
    let parent = "name: parent\ntasks:\n  - {name: run_child, type: sub_workflow, workflow: child}\n  - {name: after, type: shell, depends_on: [run_child], command: 'true'}\n";
    let id = h.start(parent).await;
    h.tick().await;
    let work = dispatched(&h.tick().await, "work").clone();
    h.tick_with(vec![finished(&work, Outcome::Failed, h.now())])
        .await;
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty(), "{:?}", names(&tick));
    assert_eq!(h.task(id, "run_child").await.state, TaskState::Failed);
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn a_dependent_task_checks_at_its_interval_until_its_workflow_has_succeeded() {
    let mut h = Harness::standalone().await;
    let upstream = "name: upstream\ntasks:\n  - {name: load, type: shell, command: 'true'}\n";
    let waits = "name: waits\ntasks:\n  - name: dep\n    type: dependent\n    check_interval: 10s\n    timeout: 10m\n    dependence: {workflow: upstream, date: today}\n  - {name: after, type: shell, depends_on: [dep], command: 'true'}\n";
    let id = h.start(waits).await;
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty());
    h.advance(Duration::from_secs(10));
    h.tick().await;
    let dep = h.task(id, "dep").await;
    assert_eq!(dep.state, TaskState::Running);
    let message = dep.message.unwrap_or_default();
    assert!(message.starts_with("waiting for"), "{message}");

    // The upstream workflow runs and succeeds today: the next check finds it.
    let up = h.start(upstream).await;
    let load = dispatched(&h.tick().await, "load").clone();
    h.tick_with(vec![finished(&load, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(h.state(up).await, WorkflowState::Succeeded);
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty(), "not before the next check");
    h.advance(Duration::from_secs(10));
    let tick = h.tick().await;
    assert_eq!(h.task(id, "dep").await.state, TaskState::Succeeded);
    assert_eq!(names(&tick), vec!["after"]);
}

async fn a_dependent_task_whose_dependency_never_comes_fails_at_its_timeout() {
    let mut h = Harness::standalone().await;
    let waits = "name: waits\ntasks:\n  - name: dep\n    type: dependent\n    check_interval: 1s\n    timeout: 3s\n    dependence: {workflow: never, date: last_1_days}\n";
    let id = h.start(waits).await;
    h.tick().await;
    for _ in 0..4 {
        h.advance(Duration::from_secs(1));
        h.tick().await;
    }
    let dep = h.task(id, "dep").await;
    assert_eq!(dep.state, TaskState::Failed);
    let message = dep.message.unwrap_or_default();
    assert!(message.starts_with("timed out; not met"), "{message}");
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn a_conditions_task_takes_its_failure_branch_when_its_upstream_failed() {
    let mut h = Harness::standalone().await;
    let yaml = "name: c\nfailure_strategy: continue\ntasks:\n  - {name: verify, type: shell, command: 'false'}\n  - {name: check, type: conditions, depends_on: [verify], success: publish, failure: alert}\n  - {name: publish, type: shell, command: 'true'}\n  - {name: alert, type: shell, command: 'true'}\n";
    let id = h.start(yaml).await;
    let verify = dispatched(&h.tick().await, "verify").clone();
    let tick = h
        .tick_with(vec![finished(&verify, Outcome::Failed, h.now())])
        .await;
    assert_eq!(names(&tick), vec!["alert"]);
    assert_eq!(h.task(id, "check").await.state, TaskState::Succeeded);
    assert_eq!(h.task(id, "publish").await.state, TaskState::Skipped);
}

on_both_stores!(
    a_sub_workflow_runs_its_child_and_ends_with_it_passing_its_outputs_on,
    a_sub_workflow_whose_child_fails_fails_and_its_downstream_does_not_run,
    a_dependent_task_checks_at_its_interval_until_its_workflow_has_succeeded,
    a_dependent_task_whose_dependency_never_comes_fails_at_its_timeout,
    a_conditions_task_takes_its_failure_branch_when_its_upstream_failed,
);
