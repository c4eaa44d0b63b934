//! Each rule of the engine, one tick at a time.

use super::harness::*;
use baton_core::attempt::{DispatchFailure, Refusal};
use baton_core::{TaskState, WorkflowState};
use baton_proto::Outcome;
use std::time::Duration;

const CHAIN: &str = "name: chain\ntasks:\n  - {name: a, type: shell, command: 'true'}\n  - {name: b, type: shell, command: 'true', depends_on: [a]}\n";

async fn a_chain_runs_each_task_when_the_one_before_succeeded() {
    let mut h = Harness::standalone().await;
    let id = h.start(CHAIN).await;
    let tick = h.tick().await;
    assert_eq!(names(&tick), vec!["a"]);
    let a = dispatched(&tick, "a").clone();
    assert_eq!(h.task(id, "a").await.state, TaskState::Dispatched);

    let tick = h.tick_with(vec![started(&a, h.now())]).await;
    assert!(tick.dispatches.is_empty());
    assert_eq!(h.task(id, "a").await.state, TaskState::Running);

    let tick = h
        .tick_with(vec![finished(&a, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(
        names(&tick),
        vec!["b"],
        "b is dispatched in the tick a ended"
    );
    let b = dispatched(&tick, "b").clone();
    h.tick_with(vec![finished(&b, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(h.state(id).await, WorkflowState::Succeeded);
    assert_eq!(
        h.event_kinds(id).await,
        vec![
            "instance_submitted",
            "instance_started",
            "task_dispatched",
            "task_started",
            "task_succeeded",
            "task_dispatched",
            "task_succeeded",
            "instance_succeeded"
        ]
    );
}

async fn a_failure_waits_for_its_retry_interval_then_runs_the_next_attempt() {
    let mut h = Harness::standalone().await;
    let yaml = "name: r\ntasks:\n  - {name: a, type: shell, command: 'false', retries: 2, retry_interval: 30s}\n";
    let id = h.start(yaml).await;
    let first = dispatched(&h.tick().await, "a").clone();
    let tick = h
        .tick_with(vec![finished(&first, Outcome::Failed, h.now())])
        .await;
    assert!(tick.dispatches.is_empty());
    let a = h.task(id, "a").await;
    assert_eq!(
        (a.state, a.attempt, a.retries_used),
        (TaskState::RetryWait, 1, 1)
    );
    assert_eq!(a.next_retry_at, Some(h.now() + 30_000_000));

    h.advance(Duration::from_secs(29));
    assert!(h.tick().await.dispatches.is_empty(), "not due yet");
    h.advance(Duration::from_secs(1));
    let tick = h.tick().await;
    let second = dispatched(&tick, "a");
    assert_eq!(second.id.unwrap().attempt, 2);

    // The last retry fails the task and the instance.
    let second = second.clone();
    h.tick_with(vec![finished(&second, Outcome::Failed, h.now())])
        .await;
    h.advance(Duration::from_secs(30));
    let third = dispatched(&h.tick().await, "a").clone();
    assert_eq!(third.id.unwrap().attempt, 3);
    h.tick_with(vec![finished(&third, Outcome::Failed, h.now())])
        .await;
    let a = h.task(id, "a").await;
    assert_eq!((a.state, a.retries_used), (TaskState::Failed, 3));
    assert_eq!(h.state(id).await, WorkflowState::Failed);
    let kinds = h.event_kinds(id).await;
    let retrying = kinds.iter().filter(|k| *k == "task_retrying").count();
    assert_eq!(retrying, 2, "{kinds:?}");
    assert!(kinds.contains(&"task_failed".to_string()), "{kinds:?}");
}

async fn under_failure_strategy_end_a_failure_kills_the_running_tasks() {
    let mut h = Harness::standalone().await;
    let yaml = "name: e\ntasks:\n  - {name: a, type: shell, command: 'false'}\n  - {name: b, type: shell, command: 'sleep 100'}\n  - {name: c, type: noop, depends_on: [a]}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    let (a, b) = (
        dispatched(&tick, "a").clone(),
        dispatched(&tick, "b").clone(),
    );
    let tick = h
        .tick_with(vec![
            started(&b, h.now()),
            finished(&a, Outcome::Failed, h.now()),
        ])
        .await;
    assert_eq!(tick.kills.len(), 1, "b is killed");
    assert_eq!(
        tick.kills[0].1.task_instance_id,
        b.id.unwrap().task_instance_id
    );
    assert!(tick.dispatches.is_empty(), "c does not run");
    h.tick_with(vec![finished(&b, Outcome::Killed, h.now())])
        .await;
    assert_eq!(h.task(id, "b").await.state, TaskState::Killed);
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn under_failure_strategy_continue_independent_tasks_run_on() {
    let mut h = Harness::standalone().await;
    let yaml = "name: c\nfailure_strategy: continue\ntasks:\n  - {name: a, type: shell, command: 'false'}\n  - {name: b, type: shell, command: 'true'}\n  - {name: c, type: shell, command: 'true', depends_on: [b]}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    let (a, b) = (
        dispatched(&tick, "a").clone(),
        dispatched(&tick, "b").clone(),
    );
    let tick = h
        .tick_with(vec![
            finished(&a, Outcome::Failed, h.now()),
            finished(&b, Outcome::Succeeded, h.now()),
        ])
        .await;
    assert!(tick.kills.is_empty());
    let c = dispatched(&tick, "c").clone();
    h.tick_with(vec![finished(&c, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn a_pause_holds_a_retry_until_the_resume() {
    let mut h = Harness::standalone().await;
    let yaml = "name: p\ntasks:\n  - {name: a, type: shell, command: 'false', retries: 1, retry_interval: 10s}\n";
    let id = h.start(yaml).await;
    let first = dispatched(&h.tick().await, "a").clone();
    h.tick_with(vec![finished(&first, Outcome::Failed, h.now())])
        .await;
    h.store.request_pause(id, true).await.unwrap();
    h.tick().await;
    assert_eq!(h.state(id).await, WorkflowState::Paused);
    assert_eq!(h.task(id, "a").await.state, TaskState::Paused);

    h.advance(Duration::from_secs(60));
    assert!(h.tick().await.dispatches.is_empty(), "the retry is held");

    h.store.request_pause(id, false).await.unwrap();
    let tick = h.tick().await;
    assert_eq!(dispatched(&tick, "a").id.unwrap().attempt, 2);
    let kinds = h.event_kinds(id).await;
    let paused = kinds.iter().position(|k| k == "instance_paused");
    let resumed = kinds.iter().position(|k| k == "instance_resumed");
    assert!(paused.is_some() && paused < resumed, "{kinds:?}");
}

async fn a_stop_during_dispatch_kills_the_attempt_and_ends_stopped() {
    let mut h = Harness::standalone().await;
    let id = h.start(CHAIN).await;
    let a = dispatched(&h.tick().await, "a").clone();
    h.store.request_stop(id).await.unwrap();
    let tick = h.tick().await;
    assert_eq!(tick.kills.len(), 1);
    assert_eq!(h.state(id).await, WorkflowState::Stopping);
    h.tick_with(vec![finished(&a, Outcome::Killed, h.now())])
        .await;
    assert_eq!(h.state(id).await, WorkflowState::Stopped);
    assert_eq!(h.task(id, "a").await.state, TaskState::Killed);
    assert!(
        h.store.task_instances(id).await.unwrap().len() == 1,
        "b never started"
    );
}

async fn a_refused_dispatch_is_sent_again_and_an_unreachable_one_is_written_off() {
    let mut h = Harness::standalone().await;
    let id = h.start(CHAIN).await;
    let a = dispatched(&h.tick().await, "a").clone();
    let refused = DispatchFailure::Refused {
        refusal: Refusal::Busy,
        reason: "no free slot".into(),
    };
    h.tick_failed(vec![(&a, refused)]).await;
    // The worker rests briefly after a failed send; once it is usable, the same attempt goes.
    let again = wait_dispatch(&mut h, "a").await;
    assert_eq!(again.id.unwrap().attempt, 1, "the same attempt");

    let lost = DispatchFailure::Unreachable("connection refused".into());
    h.tick_failed(vec![(&again, lost)]).await;
    let third = wait_dispatch(&mut h, "a").await;
    assert_eq!(third.id.unwrap().attempt, 2, "a new attempt");
    let history = h.store.attempts(id).await.unwrap();
    let states: Vec<_> = history.iter().map(|a| (a.attempt, a.state)).collect();
    assert_eq!(states, vec![(1, TaskState::NeedFailover)]);
}

async fn a_dispatch_the_worker_cannot_run_fails_under_the_retries() {
    let mut h = Harness::standalone().await;
    let yaml = "name: u\ntasks:\n  - {name: a, type: shell, command: 'true', retries: 1, retry_interval: 5s}\n";
    let id = h.start(yaml).await;
    let unrunnable = || DispatchFailure::Refused {
        refusal: Refusal::Unrunnable,
        reason: "dispatch without a task kind".into(),
    };
    let first = dispatched(&h.tick().await, "a").clone();
    h.tick_failed(vec![(&first, unrunnable())]).await;
    let a = h.task(id, "a").await;
    assert_eq!((a.state, a.retries_used), (TaskState::RetryWait, 1));
    assert_eq!(
        a.message.as_deref(),
        Some("worker 127.0.0.1:1 cannot run this task: dispatch without a task kind")
    );

    h.advance(Duration::from_secs(5));
    let second = wait_dispatch(&mut h, "a").await;
    assert_eq!(second.id.unwrap().attempt, 2);
    h.tick_failed(vec![(&second, unrunnable())]).await;
    assert_eq!(h.task(id, "a").await.state, TaskState::Failed);
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn a_timeout_report_is_recorded_once_and_the_task_runs_on() {
    let mut h = Harness::standalone().await;
    let yaml = "name: t\ntasks:\n  - {name: a, type: shell, command: 'sleep 5', timeout: 1s, timeout_strategy: warn}\n";
    let id = h.start(yaml).await;
    let a = dispatched(&h.tick().await, "a").clone();
    h.tick_with(vec![started(&a, h.now()), timed_out(&a, h.now())])
        .await;
    h.tick_with(vec![timed_out(&a, h.now())]).await;
    assert_eq!(h.task(id, "a").await.state, TaskState::Running);
    let kinds = h.event_kinds(id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "task_timeout").count(),
        1,
        "{kinds:?}"
    );
}

async fn a_worker_lost_mid_attempt_reruns_it_on_another_worker() {
    let (w1, w2) = ("127.0.0.1:1", "127.0.0.1:2");
    let mut h = Harness::with(true, vec![]).await;
    h.view(&["m1"], vec![worker(w1, 1)]);
    let id = h.start(CHAIN).await;
    let a = dispatched(&h.tick().await, "a").clone();
    h.tick_with(vec![started(&a, h.now())]).await;
    // w1 leaves, w2 comes.
    h.view(&["m1"], vec![worker(w2, 1)]);
    let tick = h.tick().await;
    let rerun = dispatched(&tick, "a");
    assert_eq!(rerun.id.unwrap().attempt, 2);
    assert_eq!(tick.failovers, 1);
    let kinds = h.event_kinds(id).await;
    assert!(
        kinds.contains(&"task_need_failover".to_string()),
        "{kinds:?}"
    );
    let lost = h
        .store
        .list_events(&baton_store::EventFilter {
            kind: Some(baton_core::EventKind::WorkerLost),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].event.worker.as_deref(), Some(w1));
}

async fn a_task_that_says_failover_fail_fails_with_its_worker() {
    let (w1, w2) = ("127.0.0.1:1", "127.0.0.1:2");
    let mut h = Harness::with(true, vec![]).await;
    h.view(&["m1"], vec![worker(w1, 1)]);
    let yaml = "name: f\ntasks:\n  - {name: a, type: shell, command: 'true', failover: fail}\n";
    let id = h.start(yaml).await;
    let a = dispatched(&h.tick().await, "a").clone();
    h.tick_with(vec![started(&a, h.now())]).await;
    h.view(&["m1"], vec![worker(w2, 1)]);
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty());
    assert_eq!(h.task(id, "a").await.state, TaskState::Failed);
    assert_eq!(h.state(id).await, WorkflowState::Failed);
}

async fn a_live_master_adopts_the_instances_of_one_that_left() {
    let mut m1 = Harness::with(true, vec![]).await;
    m1.view(&["m1"], vec![worker(WORKER, 4)]);
    let id = m1.start(CHAIN).await;
    let a = dispatched(&m1.tick().await, "a").clone();
    m1.tick_with(vec![started(&a, m1.now())]).await;

    let mut m2 = m1.second("m2").await;
    m2.view(&["m2"], vec![worker(WORKER, 4)]);
    let tick = m2.tick().await;
    assert_eq!(tick.adopted, 1);
    assert_eq!(tick.probes.len(), 1, "m2 asks the worker about the attempt");
    let record = m2.store.get_instance(id).await.unwrap().unwrap();
    assert_eq!((record.owner.as_deref(), record.epoch), (Some("m2"), 2));

    // The worker's report of the attempt now goes to m2, which runs the rest.
    let done = finished(&a, Outcome::Succeeded, m2.now());
    let tick = m2.tick_with(vec![done]).await;
    assert_eq!(names(&tick), vec!["b"]);
    let adopted = m2
        .store
        .list_events(&baton_store::EventFilter {
            kind: Some(baton_core::EventKind::InstanceAdopted),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(adopted.len(), 1);
    assert_eq!(
        adopted[0].event.detail,
        Some(serde_json::json!({"from": "m1", "to": "m2", "epoch": 2}))
    );
}

async fn a_switch_runs_the_branch_whose_case_holds_and_skips_the_other() {
    let mut h = Harness::standalone().await;
    let yaml = "name: s\ntasks:\n  - name: route\n    type: switch\n    cases:\n      - {when: '2 > 1', then: big}\n    default: small\n  - {name: big, type: shell, command: 'true'}\n  - {name: small, type: shell, command: 'true'}\n";
    let id = h.start(yaml).await;
    let tick = h.tick().await;
    assert_eq!(names(&tick), vec!["big"]);
    assert_eq!(h.task(id, "small").await.state, TaskState::Skipped);
    assert_eq!(h.task(id, "route").await.state, TaskState::Succeeded);
    let big = dispatched(&tick, "big").clone();
    h.tick_with(vec![finished(&big, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(h.state(id).await, WorkflowState::Succeeded);
}

async fn a_report_from_another_worker_than_the_attempts_is_ignored() {
    let mut h = Harness::standalone().await;
    let id = h.start(CHAIN).await;
    let a = dispatched(&h.tick().await, "a").clone();
    let mut forged = finished(&a, Outcome::Succeeded, h.now());
    forged.worker = "127.0.0.1:9".into();
    h.tick_with(vec![forged]).await;
    assert_eq!(h.task(id, "a").await.state, TaskState::Dispatched);
    h.tick_with(vec![finished(&a, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(h.task(id, "a").await.state, TaskState::Succeeded);
}

async fn a_success_reported_with_outputs_over_the_limits_is_a_failure_with_the_reason() {
    let mut h = Harness::standalone().await;
    let yaml = "name: o\ntasks:\n  - {name: a, type: shell, command: 'true', retries: 1, retry_interval: 5s}\n  - {name: b, type: shell, command: 'true', depends_on: [a]}\n";
    let id = h.start(yaml).await;
    let first = dispatched(&h.tick().await, "a").clone();
    let too_big = "x".repeat(baton_core::params::limits::MAX_OUTPUT_VALUE_BYTES + 1);
    let report = with_outputs(
        finished(&first, Outcome::Succeeded, h.now()),
        &[("rows", "1"), ("blob", &too_big)],
    );
    let tick = h.tick_with(vec![report]).await;
    assert!(
        tick.dispatches.is_empty(),
        "b does not run on refused outputs"
    );
    let a = h.task(id, "a").await;
    assert_eq!((a.state, a.retries_used), (TaskState::RetryWait, 1));
    assert_eq!(
        a.message.as_deref(),
        Some("output param `blob` has a value of 65537 bytes or more, more than the 64 KiB a value may have")
    );
    assert!(a.outputs.is_empty(), "{:?}", a.outputs);

    // Its retry is an ordinary attempt: with outputs within the limits, b runs.
    h.advance(Duration::from_secs(5));
    let second = wait_dispatch(&mut h, "a").await;
    let report = with_outputs(
        finished(&second, Outcome::Succeeded, h.now()),
        &[("rows", "1")],
    );
    let tick = h.tick_with(vec![report]).await;
    assert_eq!(names(&tick), vec!["b"]);
    assert_eq!(h.task(id, "a").await.state, TaskState::Succeeded);
}

async fn a_dispatch_larger_than_a_worker_accepts_fails_its_task_at_once() {
    let mut h = Harness::standalone().await;
    let limit = baton_proto::sizes::MAX_DISPATCH_BYTES;
    let command = format!("echo {}", "x".repeat(limit + limit / 4));
    let yaml = format!(
        "name: big\nfailure_strategy: continue\ntasks:\n  - {{name: a, type: shell, command: '{command}', retries: 3}}\n  - {{name: small, type: shell, command: 'true'}}\n"
    );
    let id = h.start(&yaml).await;
    let tick = h.tick().await;
    assert_eq!(names(&tick), vec!["small"], "a is never sent");
    let a = h.task(id, "a").await;
    assert_eq!(
        (a.state, a.retries_used),
        (TaskState::Failed, 1),
        "no retry"
    );
    assert_eq!(
        a.message.as_deref(),
        Some("the task's dispatch is 5 MiB, more than the 4 MiB a worker accepts: shorten the command or its params")
    );

    // The engine goes on: the other task runs and the instance ends, failed.
    let small = dispatched(&tick, "small").clone();
    h.tick_with(vec![finished(&small, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(h.state(id).await, WorkflowState::Failed);
    let kinds = h.event_kinds(id).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "task_dispatched").count(),
        1,
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "task_failed"), "{kinds:?}");
}

on_both_stores!(
    a_chain_runs_each_task_when_the_one_before_succeeded,
    a_failure_waits_for_its_retry_interval_then_runs_the_next_attempt,
    under_failure_strategy_end_a_failure_kills_the_running_tasks,
    under_failure_strategy_continue_independent_tasks_run_on,
    a_pause_holds_a_retry_until_the_resume,
    a_stop_during_dispatch_kills_the_attempt_and_ends_stopped,
    a_refused_dispatch_is_sent_again_and_an_unreachable_one_is_written_off,
    a_dispatch_the_worker_cannot_run_fails_under_the_retries,
    a_timeout_report_is_recorded_once_and_the_task_runs_on,
    a_worker_lost_mid_attempt_reruns_it_on_another_worker,
    a_task_that_says_failover_fail_fails_with_its_worker,
    a_live_master_adopts_the_instances_of_one_that_left,
    a_switch_runs_the_branch_whose_case_holds_and_skips_the_other,
    a_report_from_another_worker_than_the_attempts_is_ignored,
    a_success_reported_with_outputs_over_the_limits_is_a_failure_with_the_reason,
    a_dispatch_larger_than_a_worker_accepts_fails_its_task_at_once,
);
