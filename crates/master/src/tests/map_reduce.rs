//! Map-reduce tasks (`map_reduce:`) in the engine: the split step on a worker, one item per
//! sub-task it reported, then the reduce with their outputs; failures, retries, recovers
//! and restarts in each phase, a stop and a pause.

use super::harness::*;
use baton_core::{TaskState, WorkflowState};
use baton_proto::dispatch_request::Kind;
use baton_proto::{DispatchRequest, Outcome, TaskEvent};
use std::time::Duration;

/// A map-reduce task, two sub-tasks at a time, and a task after it that reads the reduce's
/// output.
const CRUNCH: &str = "name: mr\ntasks:\n  - name: crunch\n    type: shell\n    retries: 1\n    retry_interval: 5s\n    command: split\n    map_reduce:\n      run: 'work ${subtask.name} ${subtask.args}'\n      reduce: 'sum ${subtasks.outputs}'\n      parallel: 2\n  - {name: after, type: shell, depends_on: [crunch], command: 'echo ${total}'}\n";

fn command(d: &DispatchRequest) -> &str {
    let Some(Kind::Shell(shell)) = &d.kind else {
        panic!("a shell dispatch: {d:?}");
    };
    &shell.command
}

/// The value a dispatch gets for `${param}` (a value is data, in the env).
fn param<'a>(d: &'a DispatchRequest, param: &str) -> &'a str {
    let var = format!("BATON_PARAM_{}", param.replace('.', "__"));
    assert!(command(d).contains(&var), "{} has no {var}", command(d));
    &d.env[&var]
}

fn split_done(d: &DispatchRequest, h: &Harness, subtasks: &[(&str, &str)]) -> TaskEvent {
    let mut event = finished(d, Outcome::Succeeded, h.now());
    if let Some(baton_proto::task_event::Event::Finished(f)) = event.event.as_mut() {
        f.subtasks = subtasks
            .iter()
            .map(|(name, args)| baton_proto::Subtask {
                name: name.to_string(),
                args: args.to_string(),
            })
            .collect();
    }
    event
}

fn done(d: &DispatchRequest, h: &Harness, outputs: &[(&str, &str)]) -> TaskEvent {
    with_outputs(finished(d, Outcome::Succeeded, h.now()), outputs)
}

async fn the_split_adds_sub_tasks_which_run_then_the_reduce_sees_their_outputs() {
    let mut h = Harness::standalone().await;
    let id = h.start(CRUNCH).await;
    let tick = h.tick().await;
    assert_eq!(names(&tick), vec!["crunch[split]"]);
    let split = dispatched(&tick, "crunch[split]").clone();
    assert!(
        split.collect_subtasks,
        "the split's worker collects sub-tasks"
    );
    assert_eq!(command(&split), "split");
    assert_eq!(h.task(id, "crunch").await.state, TaskState::Running);

    let subtasks = [("p0", "0"), ("p1", "1"), ("p2", "two words")];
    let tick = h.tick_with(vec![split_done(&split, &h, &subtasks)]).await;
    assert_eq!(
        names(&tick),
        vec!["crunch[p0]", "crunch[p1]"],
        "two at a time"
    );
    let p0 = dispatched(&tick, "crunch[p0]").clone();
    assert!(!p0.collect_subtasks);
    assert!(command(&p0).starts_with("work "), "{}", command(&p0));
    assert_eq!(param(&p0, "subtask.name"), "p0");
    assert_eq!(param(&p0, "subtask.args"), "0");
    let p1 = dispatched(&tick, "crunch[p1]").clone();

    let tick = h.tick_with(vec![done(&p0, &h, &[("n", "0")])]).await;
    let p2 = dispatched(&tick, "crunch[p2]").clone();
    assert_eq!(param(&p2, "subtask.args"), "two words");
    let tick = h
        .tick_with(vec![done(&p1, &h, &[("n", "1")]), done(&p2, &h, &[])])
        .await;
    let reduce = dispatched(&tick, "crunch[reduce]").clone();
    assert!(command(&reduce).starts_with("sum "), "{}", command(&reduce));
    assert_eq!(
        param(&reduce, "subtasks.outputs"),
        r#"[{"n":"0"},{"n":"1"},{}]"#
    );
    let tick = h
        .tick_with(vec![done(&reduce, &h, &[("total", "1")])])
        .await;
    let crunch = h.task(id, "crunch").await;
    assert_eq!(crunch.state, TaskState::Succeeded);
    assert_eq!(
        crunch.message.as_deref(),
        Some("3 sub-tasks and the reduce succeeded")
    );
    assert_eq!(crunch.outputs.get("total").map(String::as_str), Some("1"));
    let after = dispatched(&tick, "after").clone();
    assert_eq!(param(&after, "total"), "1");
    h.tick_with(vec![done(&after, &h, &[])]).await;
    assert_eq!(h.state(id).await, WorkflowState::Succeeded);
    assert_eq!(h.task(id, "crunch[p1]").await.state, TaskState::Succeeded);
}

async fn no_sub_task_runs_the_reduce_with_an_empty_list() {
    let mut h = Harness::standalone().await;
    let id = h.start(CRUNCH).await;
    let split = dispatched(&h.tick().await, "crunch[split]").clone();
    let tick = h.tick_with(vec![split_done(&split, &h, &[])]).await;
    let reduce = dispatched(&tick, "crunch[reduce]").clone();
    assert_eq!(param(&reduce, "subtasks.outputs"), "[]");
    h.tick_with(vec![done(&reduce, &h, &[("total", "0")])])
        .await;
    assert_eq!(h.task(id, "crunch").await.state, TaskState::Succeeded);
}

async fn a_failing_sub_task_follows_the_retries_then_fails_the_task_naming_it() {
    let mut h = Harness::standalone().await;
    let id = h.start(CRUNCH).await;
    let split = dispatched(&h.tick().await, "crunch[split]").clone();
    let tick = h
        .tick_with(vec![split_done(&split, &h, &[("a", "1"), ("b", "2")])])
        .await;
    let (a, b) = (
        dispatched(&tick, "crunch[a]").clone(),
        dispatched(&tick, "crunch[b]").clone(),
    );
    h.tick_with(vec![
        done(&a, &h, &[]),
        finished(&b, Outcome::Failed, h.now()),
    ])
    .await;
    assert_eq!(h.task(id, "crunch[b]").await.state, TaskState::RetryWait);
    h.advance(Duration::from_secs(6));
    let again = dispatched(&h.tick().await, "crunch[b]").clone();
    assert_eq!(again.id.unwrap().attempt, 2, "the sub-task's own retry");
    let tick = h
        .tick_with(vec![finished(&again, Outcome::Failed, h.now())])
        .await;
    assert!(tick.dispatches.is_empty(), "no reduce after a failure");
    let crunch = h.task(id, "crunch").await;
    assert_eq!(crunch.state, TaskState::Failed);
    assert_eq!(
        crunch.message.as_deref(),
        Some("sub-tasks: 1 of 2 sub-tasks failed: [b]")
    );
    assert_eq!(h.state(id).await, WorkflowState::Failed);

    // A recover runs the failed sub-task again, then the reduce.
    h.store.request_recover(id).await.unwrap();
    let tick = h.tick().await;
    assert_eq!(names(&tick), vec!["crunch[b]"]);
    let b = dispatched(&tick, "crunch[b]").clone();
    let tick = h.tick_with(vec![done(&b, &h, &[("n", "2")])]).await;
    let reduce = dispatched(&tick, "crunch[reduce]").clone();
    assert_eq!(param(&reduce, "subtasks.outputs"), r#"[{},{"n":"2"}]"#);
}

async fn a_failed_split_or_one_over_max_items_fails_the_task_saying_so() {
    let mut h = Harness::standalone().await;
    let yaml = CRUNCH
        .replace("retries: 1", "retries: 0")
        .replace("parallel: 2", "max_items: 2");
    let id = h.start(&yaml).await;
    let split = dispatched(&h.tick().await, "crunch[split]").clone();
    let three = [("a", ""), ("b", ""), ("c", "")];
    let tick = h.tick_with(vec![split_done(&split, &h, &three)]).await;
    assert!(tick.dispatches.is_empty());
    let crunch = h.task(id, "crunch").await;
    assert_eq!(crunch.state, TaskState::Failed);
    assert_eq!(
        crunch.message.as_deref(),
        Some("the split step failed: the split step added 3 sub-tasks, more than this task's limit of 2 (map_reduce.max_items)")
    );
    let id = h.start(&yaml).await;
    let split = dispatched(&h.tick().await, "crunch[split]").clone();
    h.tick_with(vec![finished(&split, Outcome::Failed, h.now())])
        .await;
    let crunch = h.task(id, "crunch").await;
    assert_eq!(crunch.state, TaskState::Failed);
    assert!(
        crunch
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("the split step failed")),
        "{:?}",
        crunch.message
    );
}

async fn a_restarted_master_goes_on_in_each_phase() {
    let mut h = Harness::standalone().await;
    let id = h.start(CRUNCH).await;
    h.tick().await;
    // The split was on the worker: run again after the restart.
    let mut h = h.restart().await;
    let split = dispatched(&h.tick().await, "crunch[split]").clone();
    assert_eq!(split.id.unwrap().attempt, 2);
    let tick = h
        .tick_with(vec![split_done(
            &split,
            &h,
            &[("a", "1"), ("b", "2"), ("c", "3")],
        )])
        .await;
    let a = dispatched(&tick, "crunch[a]").clone();
    h.tick_with(vec![done(&a, &h, &[("n", "1")])]).await;
    // b and c were on the worker.
    let mut h = h.restart().await;
    let tick = h.tick().await;
    let mut sent = names(&tick);
    sent.sort();
    assert_eq!(sent, vec!["crunch[b]", "crunch[c]"], "a does not run again");
    let reports = vec![
        done(dispatched(&tick, "crunch[b]"), &h, &[("n", "2")]),
        done(dispatched(&tick, "crunch[c]"), &h, &[("n", "3")]),
    ];
    let tick = h.tick_with(reports).await;
    assert!(tick
        .dispatches
        .iter()
        .any(|d| name(&d.1) == "crunch[reduce]"));
    // The reduce was on the worker: it runs again, with the same outputs.
    let mut h = h.restart().await;
    let tick = h.tick().await;
    assert_eq!(names(&tick), vec!["crunch[reduce]"]);
    let reduce = dispatched(&tick, "crunch[reduce]").clone();
    assert_eq!(
        param(&reduce, "subtasks.outputs"),
        r#"[{"n":"1"},{"n":"2"},{"n":"3"}]"#
    );
    h.tick_with(vec![done(&reduce, &h, &[("total", "6")])])
        .await;
    let crunch = h.task(id, "crunch").await;
    assert_eq!(crunch.state, TaskState::Succeeded);
    assert_eq!(crunch.outputs.get("total").map(String::as_str), Some("6"));
}

async fn a_stop_kills_the_running_sub_tasks_and_the_task() {
    let mut h = Harness::standalone().await;
    let id = h.start(CRUNCH).await;
    let split = dispatched(&h.tick().await, "crunch[split]").clone();
    let tick = h
        .tick_with(vec![split_done(
            &split,
            &h,
            &[("a", ""), ("b", ""), ("c", "")],
        )])
        .await;
    let running: Vec<DispatchRequest> = tick.dispatches.iter().map(|(_, d)| d.clone()).collect();
    assert_eq!(running.len(), 2);
    h.store.request_stop(id).await.unwrap();
    h.tick().await;
    let killed: Vec<TaskEvent> = running
        .iter()
        .map(|d| finished(d, Outcome::Killed, h.now()))
        .collect();
    h.tick_with(killed).await;
    assert_eq!(h.task(id, "crunch").await.state, TaskState::Killed);
    assert_eq!(h.state(id).await, WorkflowState::Stopped);
}

async fn a_failed_reduce_fails_the_task_and_a_recover_runs_only_the_reduce_again() {
    let mut h = Harness::standalone().await;
    let yaml = CRUNCH.replace("retries: 1", "retries: 0");
    let id = h.start(&yaml).await;
    let split = dispatched(&h.tick().await, "crunch[split]").clone();
    let tick = h
        .tick_with(vec![split_done(&split, &h, &[("a", "1")])])
        .await;
    let a = dispatched(&tick, "crunch[a]").clone();
    let tick = h.tick_with(vec![done(&a, &h, &[("n", "1")])]).await;
    let reduce = dispatched(&tick, "crunch[reduce]").clone();
    h.tick_with(vec![finished(&reduce, Outcome::Failed, h.now())])
        .await;
    let crunch = h.task(id, "crunch").await;
    assert_eq!(crunch.state, TaskState::Failed);
    assert!(
        crunch
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("the reduce failed")),
        "{:?}",
        crunch.message
    );
    h.store.request_recover(id).await.unwrap();
    let tick = h.tick().await;
    assert_eq!(
        names(&tick),
        vec!["crunch[reduce]"],
        "neither split nor a again"
    );
    let reduce = dispatched(&tick, "crunch[reduce]").clone();
    assert_eq!(reduce.id.unwrap().attempt, 2);
    assert_eq!(param(&reduce, "subtasks.outputs"), r#"[{"n":"1"}]"#);
    let tick = h
        .tick_with(vec![done(&reduce, &h, &[("total", "1")])])
        .await;
    assert_eq!(names(&tick), vec!["after"]);
    assert_eq!(h.task(id, "crunch").await.state, TaskState::Succeeded);
}

async fn a_pause_lets_sub_tasks_finish_starts_none_and_a_resume_goes_on() {
    let mut h = Harness::standalone().await;
    let id = h.start(CRUNCH).await;
    let split = dispatched(&h.tick().await, "crunch[split]").clone();
    let tick = h
        .tick_with(vec![split_done(
            &split,
            &h,
            &[("a", ""), ("b", ""), ("c", "")],
        )])
        .await;
    let (a, b) = (
        dispatched(&tick, "crunch[a]").clone(),
        dispatched(&tick, "crunch[b]").clone(),
    );
    h.store.request_pause(id, true).await.unwrap();
    h.tick().await;
    let paused = h
        .tick_with(vec![done(&a, &h, &[]), done(&b, &h, &[])])
        .await;
    assert!(
        paused.dispatches.is_empty(),
        "no sub-task starts while paused"
    );
    assert_eq!(h.state(id).await, WorkflowState::Paused);
    h.store.request_pause(id, false).await.unwrap();
    let resumed = h.tick().await;
    let c = dispatched(&resumed, "crunch[c]").clone();
    let tick = h.tick_with(vec![done(&c, &h, &[])]).await;
    assert_eq!(names(&tick), vec!["crunch[reduce]"]);
}

on_both_stores!(
    the_split_adds_sub_tasks_which_run_then_the_reduce_sees_their_outputs,
    no_sub_task_runs_the_reduce_with_an_empty_list,
    a_failing_sub_task_follows_the_retries_then_fails_the_task_naming_it,
    a_failed_split_or_one_over_max_items_fails_the_task_saying_so,
    a_restarted_master_goes_on_in_each_phase,
    a_stop_kills_the_running_sub_tasks_and_the_task,
    a_failed_reduce_fails_the_task_and_a_recover_runs_only_the_reduce_again,
    a_pause_lets_sub_tasks_finish_starts_none_and_a_resume_goes_on,
);
