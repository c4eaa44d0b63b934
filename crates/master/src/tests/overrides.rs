//! A start's overrides (failure strategy, priority, worker group) rule the instance's run,
//! also once another master adopts it or a recover runs it again.

use super::harness::*;
use crate::WorkerEndpoint;
use baton_core::start::StartOverrides;
use baton_core::{FailureStrategy, Priority, TaskState, WorkflowState};
use baton_proto::Outcome;

/// `a` fails while `b` runs; `c` waits for `a`. The file says `continue`.
const CONTINUES: &str = "name: o\nfailure_strategy: continue\ntasks:\n  - {name: a, type: shell, command: 'false'}\n  - {name: b, type: shell, command: 'sleep 100'}\n  - {name: c, type: noop, depends_on: [a]}\n";

const GPU: &str = "127.0.0.1:2";

fn in_group(id: &str, group: &str) -> WorkerEndpoint {
    WorkerEndpoint {
        group: group.into(),
        ..worker(id, 4)
    }
}

/// Runs `a` to its failure beside a running `b`, and says whether `b` was killed.
async fn a_fails_beside_b(h: &mut Harness) -> bool {
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
    let killed = !tick.kills.is_empty();
    if killed {
        h.tick_with(vec![finished(&b, Outcome::Killed, h.now())])
            .await;
    }
    killed
}

async fn a_failure_strategy_override_wins_over_the_files_and_holds_after_a_recover() {
    let mut h = Harness::standalone().await;
    let end = StartOverrides {
        failure_strategy: Some(FailureStrategy::End),
        ..Default::default()
    };
    let id = h.start_with(CONTINUES, end).await;
    assert!(a_fails_beside_b(&mut h).await, "under `end`, b is killed");
    assert_eq!(h.task(id, "b").await.state, TaskState::Killed);
    assert_eq!(h.state(id).await, WorkflowState::Failed);

    // The recover runs a and b again, still under the start's `end`.
    h.store.request_recover(id).await.unwrap();
    assert!(
        a_fails_beside_b(&mut h).await,
        "still `end` after the recover"
    );
    assert_eq!(h.state(id).await, WorkflowState::Failed);

    // Without the override the file's `continue` lets b run on.
    let plain = h.start(CONTINUES).await;
    assert!(
        !a_fails_beside_b(&mut h).await,
        "under `continue`, b runs on"
    );
    assert_eq!(h.task(plain, "b").await.state, TaskState::Running);
}

async fn a_priority_override_is_the_instances_priority() {
    let h = Harness::standalone().await;
    let high = StartOverrides {
        priority: Some(Priority::Highest),
        ..Default::default()
    };
    let id = h.start_with(CONTINUES, high.clone()).await;
    let record = h.store.get_instance(id).await.unwrap().unwrap();
    assert_eq!(record.priority, Priority::Highest);
    assert_eq!(record.overrides, high);
    let plain = h.start(CONTINUES).await;
    let record = h.store.get_instance(plain).await.unwrap().unwrap();
    assert_eq!(record.priority, Priority::Medium);
    assert!(record.overrides.is_empty());
}

async fn a_worker_group_override_waits_for_its_group_and_survives_an_adoption() {
    let mut m1 = Harness::with(true, vec![]).await;
    m1.view(&["m1"], vec![worker(WORKER, 4)]);
    let gpu = StartOverrides {
        worker_group: Some("gpu".into()),
        ..Default::default()
    };
    let id = m1.start_with(CONTINUES, gpu).await;
    let tick = m1.tick().await;
    assert!(
        tick.dispatches.is_empty(),
        "no worker serves `gpu`: the tasks wait, though the file's group has one"
    );
    assert_eq!(m1.state(id).await, WorkflowState::Running);
    let a = m1.task(id, "a").await;
    assert_eq!(a.state, TaskState::Submitted);
    assert_eq!(
        a.message.as_deref(),
        Some("waiting: no live worker in group `gpu`")
    );

    // m1 leaves; m2 adopts the instance and sends its tasks to the `gpu` worker only.
    let mut m2 = m1.second("m2").await;
    m2.view(&["m2"], vec![worker(WORKER, 4), in_group(GPU, "gpu")]);
    let tick = m2.tick().await;
    assert_eq!(tick.adopted, 1);
    let tick = if tick.dispatches.is_empty() {
        m2.tick().await
    } else {
        tick
    };
    let mut sent = names(&tick);
    sent.sort_unstable();
    assert_eq!(sent, vec!["a", "b"]);
    for task in ["a", "b"] {
        assert_eq!(
            m2.task(id, task).await.worker.as_deref(),
            Some(GPU),
            "{task}"
        );
    }
}

on_both_stores!(
    a_failure_strategy_override_wins_over_the_files_and_holds_after_a_recover,
    a_priority_override_is_the_instances_priority,
    a_worker_group_override_waits_for_its_group_and_survives_an_adoption,
);
