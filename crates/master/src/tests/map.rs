//! Mapped tasks (`map:`) in the engine: one task instance per item, started under
//! `parallel`, ended as `failure` says, stopped, paused, recovered and rebuilt after a
//! restart, with the items' outputs handed downstream as one list.

use super::harness::*;
use baton_core::{TaskState, WorkflowState};
use baton_proto::dispatch_request::Kind;
use baton_proto::{DispatchRequest, Outcome};
use std::time::Duration;

/// A map over three items, two at a time, and a task after it that reads their outputs.
const THREE: &str = "name: m\nparams: {parts: '[\"p1\",\"p2\",{\"k\":3}]'}\ntasks:\n  - {name: load, type: shell, command: 'echo ${part}', map: {over: '${parts}', as: part, parallel: 2}}\n  - {name: report, type: shell, depends_on: [load], command: 'echo ${load.outputs}'}\n";

/// The value a dispatched shell task gets for `${param}`: the command names its variable
/// (a value is data, never spliced into the command).
fn param<'a>(d: &'a DispatchRequest, param: &str) -> &'a str {
    let var = format!("BATON_PARAM_{}", param.replace('.', "__"));
    let Some(Kind::Shell(shell)) = &d.kind else {
        panic!("a shell dispatch: {d:?}");
    };
    assert!(
        shell.command.contains(&var),
        "{} has no {var}",
        shell.command
    );
    d.env
        .get(&var)
        .unwrap_or_else(|| panic!("no {var} in {:?}", d.env))
}

fn done(d: &DispatchRequest, h: &Harness) -> baton_proto::TaskEvent {
    finished(d, Outcome::Succeeded, h.now())
}

async fn items_run_under_parallel_and_downstream_reads_their_outputs_as_a_list() {
    let mut h = Harness::standalone().await;
    let id = h.start(THREE).await;
    let tick = h.tick().await;
    assert_eq!(names(&tick), vec!["load[0]", "load[1]"], "two at a time");
    assert_eq!(param(dispatched(&tick, "load[0]"), "part"), "p1");
    assert_eq!(param(dispatched(&tick, "load[1]"), "part"), "p2");
    assert_eq!(h.task(id, "load").await.state, TaskState::Running);

    let (first, second) = (
        dispatched(&tick, "load[0]").clone(),
        dispatched(&tick, "load[1]").clone(),
    );
    let tick = h
        .tick_with(vec![with_outputs(done(&first, &h), &[("rows", "10")])])
        .await;
    let third = dispatched(&tick, "load[2]").clone();
    assert_eq!(
        param(&third, "part"),
        r#"{"k":3}"#,
        "a non-string item is its JSON"
    );

    let tick = h
        .tick_with(vec![
            done(&second, &h),
            with_outputs(done(&third, &h), &[("rows", "30")]),
        ])
        .await;
    let load = h.task(id, "load").await;
    assert_eq!(load.state, TaskState::Succeeded);
    assert_eq!(load.message.as_deref(), Some("all 3 items succeeded"));
    let report = dispatched(&tick, "report");
    assert_eq!(
        param(report, "load.outputs"),
        r#"[{"rows":"10"},{},{"rows":"30"}]"#
    );
    h.tick_with(vec![done(report, &h)]).await;
    assert_eq!(h.state(id).await, WorkflowState::Succeeded);
    let item = h.task(id, "load[2]").await;
    assert_eq!(item.state, TaskState::Succeeded);
}

async fn a_failed_item_retries_then_stops_new_items_under_failure_end() {
    let mut h = Harness::standalone().await;
    let yaml = "name: m\nparams: {parts: '[1,2,3,4]'}\ntasks:\n  - {name: a, type: shell, command: 'run ${n}', retries: 1, retry_interval: 5s, map: {over: '${parts}', as: n, parallel: 1}}\n";
    let id = h.start(yaml).await;
    let first = dispatched(&h.tick().await, "a[0]").clone();
    h.tick_with(vec![finished(&first, Outcome::Failed, h.now())])
        .await;
    assert_eq!(h.task(id, "a[0]").await.state, TaskState::RetryWait);
    h.advance(Duration::from_secs(6));
    let again = dispatched(&h.tick().await, "a[0]").clone();
    assert_eq!(again.id.unwrap().attempt, 2, "the item's own retry");
    let tick = h
        .tick_with(vec![finished(&again, Outcome::Failed, h.now())])
        .await;
    assert!(tick.dispatches.is_empty(), "no item starts after a failure");
    let a = h.task(id, "a").await;
    assert_eq!(a.state, TaskState::Failed);
    assert_eq!(
        a.message.as_deref(),
        Some("1 of 4 items failed: [0]; 3 not started after the first failure (failure: end)")
    );
    assert_eq!(h.state(id).await, WorkflowState::Failed);
    assert_eq!(h.store.task_instances(id).await.unwrap().len(), 2);
}

async fn under_failure_continue_every_item_runs_and_the_task_fails() {
    let mut h = Harness::standalone().await;
    let yaml = "name: m\nparams: {parts: '[1,2,3]'}\ntasks:\n  - {name: a, type: shell, command: 'run ${n}', map: {over: '${parts}', as: n, failure: continue}}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    assert_eq!(names(&tick).len(), 3, "no parallel: all at once");
    let reports = vec![
        finished(dispatched(&tick, "a[0]"), Outcome::Succeeded, h.now()),
        finished(dispatched(&tick, "a[1]"), Outcome::Failed, h.now()),
        finished(dispatched(&tick, "a[2]"), Outcome::Succeeded, h.now()),
    ];
    h.tick_with(reports).await;
    let a = h.task(id, "a").await;
    assert_eq!(a.state, TaskState::Failed);
    assert_eq!(a.message.as_deref(), Some("1 of 3 items failed: [1]"));
    let kinds = h.event_kinds(id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "task_failed").count(),
        2,
        "{kinds:?}"
    );
}

async fn a_list_that_is_not_a_list_fails_the_task_saying_why() {
    let mut h = Harness::standalone().await;
    let yaml = "name: m\nparams: {parts: 'p1,p2'}\ntasks:\n  - {name: a, type: shell, command: 'run ${n}', map: {over: '${parts}', as: n}}\n";
    let id = h.start(yaml).await;
    assert!(h.tick().await.dispatches.is_empty());
    let a = h.task(id, "a").await;
    assert_eq!(a.state, TaskState::Failed);
    let message = a.message.unwrap_or_default();
    assert!(
        message.starts_with("map.over: `${parts}` is not a JSON list"),
        "{message}"
    );
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn an_empty_list_succeeds_at_once_and_downstream_sees_an_empty_list() {
    let mut h = Harness::standalone().await;
    let yaml = "name: m\nparams: {parts: '[]'}\ntasks:\n  - {name: a, type: shell, command: 'run ${n}', map: {over: '${parts}', as: n}}\n  - {name: b, type: shell, depends_on: [a], command: 'echo ${a.outputs}'}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    assert_eq!(param(dispatched(&tick, "b"), "a.outputs"), "[]");
    assert_eq!(
        h.task(id, "a").await.message.as_deref(),
        Some("the list is empty: no items to run")
    );
}

async fn a_list_from_an_upstream_output_is_mapped() {
    let mut h = Harness::standalone().await;
    let yaml = "name: m\ntasks:\n  - {name: list, type: shell, command: 'ls'}\n  - {name: a, type: shell, depends_on: [list], command: 'run ${n}', map: {over: '${parts}', as: n}}\n";
    let id = h.start(yaml).await;
    let list = dispatched(&h.tick().await, "list").clone();
    let out = with_outputs(done(&list, &h), &[("parts", r#"["x","y"]"#)]);
    let tick = h.tick_with(vec![out]).await;
    assert_eq!(param(dispatched(&tick, "a[0]"), "n"), "x");
    assert_eq!(param(dispatched(&tick, "a[1]"), "n"), "y");
    assert_eq!(h.task(id, "a").await.state, TaskState::Running);
}

async fn a_stop_kills_active_items_and_starts_no_more() {
    let mut h = Harness::standalone().await;
    let id = h.start(THREE).await;
    let tick = h.tick().await;
    h.store.request_stop(id).await.unwrap();
    let stop = h.tick().await;
    assert_eq!(stop.kills.len(), 2, "both running items are killed");
    let reports = vec![
        finished(dispatched(&tick, "load[0]"), Outcome::Killed, h.now()),
        finished(dispatched(&tick, "load[1]"), Outcome::Killed, h.now()),
    ];
    let after = h.tick_with(reports).await;
    assert!(after.dispatches.is_empty(), "load[2] never starts");
    assert_eq!(h.task(id, "load").await.state, TaskState::Killed);
    assert_eq!(h.state(id).await, WorkflowState::Stopped);
    assert_eq!(h.store.task_instances(id).await.unwrap().len(), 3);
}

async fn a_pause_lets_items_finish_starts_none_and_a_resume_goes_on() {
    let mut h = Harness::standalone().await;
    let id = h.start(THREE).await;
    let tick = h.tick().await;
    h.store.request_pause(id, true).await.unwrap();
    h.tick().await;
    assert_eq!(h.state(id).await, WorkflowState::Pausing);
    let reports = vec![
        done(dispatched(&tick, "load[0]"), &h),
        done(dispatched(&tick, "load[1]"), &h),
    ];
    let paused = h.tick_with(reports).await;
    assert!(paused.dispatches.is_empty(), "no item starts while paused");
    assert_eq!(h.state(id).await, WorkflowState::Paused);

    h.store.request_pause(id, false).await.unwrap();
    let resumed = h.tick().await;
    let last = dispatched(&resumed, "load[2]").clone();
    let tick = h.tick_with(vec![done(&last, &h)]).await;
    assert_eq!(names(&tick), vec!["report"]);
}

async fn a_pause_holds_an_items_retry_and_the_instance_is_paused() {
    let mut h = Harness::standalone().await;
    let yaml = "name: m\nparams: {parts: '[1,2]'}\ntasks:\n  - {name: a, type: shell, command: 'run ${n}', retries: 1, retry_interval: 5s, map: {over: '${parts}', as: n}}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    h.tick_with(vec![finished(
        dispatched(&tick, "a[0]"),
        Outcome::Failed,
        h.now(),
    )])
    .await;
    h.store.request_pause(id, true).await.unwrap();
    h.tick_with(vec![done(dispatched(&tick, "a[1]"), &h)]).await;
    assert_eq!(h.state(id).await, WorkflowState::Paused);
    assert_eq!(h.task(id, "a[0]").await.state, TaskState::Paused);
    h.advance(Duration::from_secs(10));
    assert!(h.tick().await.dispatches.is_empty(), "the retry is held");

    h.store.request_pause(id, false).await.unwrap();
    let resumed = h.tick().await;
    let retry = dispatched(&resumed, "a[0]").clone();
    assert_eq!(retry.id.unwrap().attempt, 2);
    h.tick_with(vec![done(&retry, &h)]).await;
    assert_eq!(h.state(id).await, WorkflowState::Succeeded);
}

async fn a_recover_runs_only_the_failed_items_again() {
    let mut h = Harness::standalone().await;
    let yaml = "name: m\nparams: {parts: '[1,2,3]'}\ntasks:\n  - {name: a, type: shell, command: 'run ${n}', map: {over: '${parts}', as: n, failure: continue}}\n  - {name: b, type: shell, depends_on: [a], command: 'echo ${a.outputs}'}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    let reports = vec![
        with_outputs(done(dispatched(&tick, "a[0]"), &h), &[("v", "0")]),
        finished(dispatched(&tick, "a[1]"), Outcome::Failed, h.now()),
        with_outputs(done(dispatched(&tick, "a[2]"), &h), &[("v", "2")]),
    ];
    h.tick_with(reports).await;
    assert_eq!(h.state(id).await, WorkflowState::Failed);

    h.store.request_recover(id).await.unwrap();
    let again = h.tick().await;
    assert_eq!(names(&again), vec!["a[1]"], "only the failed item");
    let item = dispatched(&again, "a[1]").clone();
    assert_eq!(item.id.unwrap().attempt, 2);
    let tick = h
        .tick_with(vec![with_outputs(done(&item, &h), &[("v", "1")])])
        .await;
    assert_eq!(
        param(dispatched(&tick, "b"), "a.outputs"),
        r#"[{"v":"0"},{"v":"1"},{"v":"2"}]"#
    );
    assert_eq!(h.task(id, "a").await.state, TaskState::Succeeded);
}

async fn a_restarted_master_rebuilds_the_items_and_goes_on() {
    let mut h = Harness::standalone().await;
    let id = h.start(THREE).await;
    let tick = h.tick().await;
    h.tick_with(vec![done(dispatched(&tick, "load[0]"), &h)])
        .await;
    // load[1] and load[2] were on the worker when the master stopped.
    let mut again = h.restart().await;
    let tick = again.tick().await;
    let mut sent = names(&tick);
    sent.sort();
    assert_eq!(
        sent,
        vec!["load[1]", "load[2]"],
        "lost items run again, none twice"
    );
    assert_eq!(dispatched(&tick, "load[1]").id.unwrap().attempt, 2);
    let reports = vec![
        done(dispatched(&tick, "load[1]"), &again),
        done(dispatched(&tick, "load[2]"), &again),
    ];
    let tick = again.tick_with(reports).await;
    assert_eq!(names(&tick), vec!["report"]);
    assert_eq!(again.task(id, "load").await.state, TaskState::Succeeded);
}

#[tokio::test]
async fn a_restarted_master_fails_a_mapped_task_whose_kept_list_cannot_be_read() {
    let mut h = Harness::standalone().await;
    let id = h.start(THREE).await;
    h.tick().await;
    h.sql("UPDATE task_instance SET map_items = 'not a list' WHERE task_name = 'load'")
        .await;
    let mut again = h.restart().await;
    let tick = again.tick().await;
    assert!(names(&tick).is_empty(), "{:?}", names(&tick));
    let load = again.task(id, "load").await;
    assert_eq!(load.state, TaskState::Failed);
    assert!(
        load.message
            .as_deref()
            .unwrap_or_default()
            .contains("cannot be read again"),
        "{:?}",
        load.message
    );
    assert_eq!(
        again.state(id).await,
        baton_core::WorkflowState::Failed,
        "the instance ends instead of waiting forever"
    );
}

async fn a_cross_product_runs_one_item_per_combination_each_list_under_its_name() {
    let mut h = Harness::standalone().await;
    let yaml = "name: m\nparams: {regions: '[\"eu\",\"us\"]', days: '[1,2]'}\ntasks:\n  - {name: load, type: shell, command: 'echo ${region} ${day}', map: {over: {region: '${regions}', day: '${days}'}}}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    assert_eq!(
        names(&tick),
        vec!["load[0]", "load[1]", "load[2]", "load[3]"]
    );
    let seen: Vec<(&str, &str)> = ["load[0]", "load[1]", "load[2]", "load[3]"]
        .iter()
        .map(|n| {
            let d = dispatched(&tick, n);
            (param(d, "day"), param(d, "region"))
        })
        .collect();
    assert_eq!(
        seen,
        vec![("1", "eu"), ("1", "us"), ("2", "eu"), ("2", "us")]
    );
    let reports = tick.dispatches.iter().map(|(_, d)| done(d, &h)).collect();
    h.tick_with(reports).await;
    assert_eq!(h.task(id, "load").await.state, TaskState::Succeeded);
    assert_eq!(h.state(id).await, WorkflowState::Succeeded);
}

on_both_stores!(
    items_run_under_parallel_and_downstream_reads_their_outputs_as_a_list,
    a_failed_item_retries_then_stops_new_items_under_failure_end,
    under_failure_continue_every_item_runs_and_the_task_fails,
    a_list_that_is_not_a_list_fails_the_task_saying_why,
    an_empty_list_succeeds_at_once_and_downstream_sees_an_empty_list,
    a_list_from_an_upstream_output_is_mapped,
    a_stop_kills_active_items_and_starts_no_more,
    a_pause_lets_items_finish_starts_none_and_a_resume_goes_on,
    a_pause_holds_an_items_retry_and_the_instance_is_paused,
    a_recover_runs_only_the_failed_items_again,
    a_restarted_master_rebuilds_the_items_and_goes_on,
    a_cross_product_runs_one_item_per_combination_each_list_under_its_name,
);
