//! What the engine hands its metrics, tick by tick on the test clock: a dispatch, the wait
//! from queued to started, the run from start to end, a retry, a refusal, a schedule's
//! lateness; and the gauges set from the engine's state.

use super::harness::*;
use crate::metrics::{Observation, RefusalReason};
use baton_core::attempt::{DispatchFailure, Refusal};
use baton_proto::Outcome;
use std::time::Duration;

const ONE: &str = "name: one\ntasks:\n  - {name: a, type: shell, command: 'true', retries: 1, retry_interval: 5s}\n";

async fn an_attempt_is_timed_from_its_queueing_to_its_start_and_from_its_start_to_its_end() {
    let mut h = Harness::standalone().await;
    h.start(ONE).await;
    let tick = h.tick().await;
    assert_eq!(tick.observed, vec![Observation::Dispatch]);
    let a = dispatched(&tick, "a").clone();

    h.advance(Duration::from_millis(1500));
    let tick = h.tick_with(vec![started(&a, h.now())]).await;
    assert_eq!(
        tick.observed,
        vec![Observation::DispatchLatency {
            group: "default".into(),
            seconds: 1.5
        }]
    );
    let start = h.now();
    h.advance(Duration::from_secs(3));
    let mut end = finished(&a, Outcome::Failed, h.now());
    if let Some(baton_proto::task_event::Event::Finished(f)) = &mut end.event {
        f.started_at_us = start;
    }
    let tick = h.tick_with(vec![end]).await;
    assert_eq!(
        tick.observed,
        vec![
            Observation::TaskDuration {
                kind: "shell",
                outcome: "failed",
                seconds: 3.0
            },
            Observation::Retry
        ]
    );

    // The retry is queued when due; it ends without a Started report (a run that completes
    // at once): its wait is counted to the start its end reports.
    h.advance(Duration::from_secs(5));
    let tick = h.tick().await;
    let second = dispatched(&tick, "a").clone();
    h.advance(Duration::from_secs(2));
    let tick = h
        .tick_with(vec![finished(&second, Outcome::Succeeded, h.now())])
        .await;
    assert_eq!(
        tick.observed,
        vec![
            Observation::TaskDuration {
                kind: "shell",
                outcome: "succeeded",
                seconds: 0.0
            },
            Observation::DispatchLatency {
                group: "default".into(),
                seconds: 2.0
            }
        ]
    );
}

async fn a_refused_dispatch_is_counted_by_its_reason_and_waits_from_its_first_queueing() {
    let mut h = Harness::standalone().await;
    h.start(ONE).await;
    let a = dispatched(&h.tick().await, "a").clone();
    let busy = DispatchFailure::Refused {
        refusal: Refusal::Busy,
        reason: "no free slot".into(),
    };
    h.advance(Duration::from_secs(1));
    let tick = h.tick_failed(vec![(&a, busy)]).await;
    assert!(
        tick.observed
            .contains(&Observation::Refusal(RefusalReason::Busy)),
        "{:?}",
        tick.observed
    );
    h.advance(Duration::from_secs(1));
    let again = wait_dispatch(&mut h, "a").await;
    let tick = h.tick_with(vec![started(&again, h.now())]).await;
    let waited = tick.observed.iter().find_map(|o| match o {
        Observation::DispatchLatency { seconds, .. } => Some(*seconds),
        _ => None,
    });
    assert_eq!(
        waited,
        Some(2.0),
        "from the first queueing, refusals included"
    );
}

async fn the_gauges_show_the_queue_the_slots_and_what_runs() {
    let mut h = Harness::with(false, vec![worker(WORKER, 1)]).await;
    h.start(ONE).await;
    h.start(ONE).await;
    let tick = h.tick().await;
    assert_eq!(tick.dispatches.len(), 1, "one slot");
    let metrics = h.engine.config.metrics.clone();
    metrics.set_gauges(&h.engine.gauges());
    let text = render(&metrics);
    for line in [
        "baton_master_instances_running 2",
        "baton_master_attempts_running 1",
        r#"baton_master_ready_queue_depth{worker_group="default"} 1"#,
        r#"baton_master_free_slots{worker_group="default"} 0"#,
        "baton_master_registry_session 1",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

async fn a_group_whose_workers_left_shows_no_free_slot() {
    let mut h = Harness::with(true, vec![worker(WORKER, 3)]).await;
    let metrics = h.engine.config.metrics.clone();
    metrics.set_gauges(&h.engine.gauges());
    assert!(render(&metrics).contains(r#"baton_master_free_slots{worker_group="default"} 3"#));
    h.view(&["m"], Vec::new());
    metrics.set_gauges(&h.engine.gauges());
    let text = render(&metrics);
    assert!(
        text.contains(r#"baton_master_free_slots{worker_group="default"} 0"#),
        "{text}"
    );
}

fn render(metrics: &crate::MasterMetrics) -> String {
    let mut text = String::new();
    prometheus::TextEncoder::new()
        .encode_utf8(&metrics.registry().gather(), &mut text)
        .unwrap();
    text
}

async fn a_schedule_fire_is_as_late_as_its_instance_is_after_its_fire_time() {
    let mut h = Harness::standalone().await;
    let yaml = "name: tick\nschedule: {cron: '0 * * * * *'}\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
    let workflow = h.store.applied(yaml).await;
    let schedule = h.store.get_schedule(workflow.id).await.unwrap().unwrap();
    let due = schedule.next_fire_at.expect("a fire due");
    h.set_now(due + 250_000);
    let tick = h.tick().await;
    assert!(
        tick.observed.contains(&Observation::Lateness(0.25)),
        "{:?}",
        tick.observed
    );
}

async fn what_a_committed_tick_observed_lands_in_its_series() {
    let metrics = crate::MasterMetrics::new();
    metrics.observe(
        &[
            Observation::Dispatch,
            Observation::Dispatch,
            Observation::Retry,
            Observation::Refusal(RefusalReason::Unreachable),
            Observation::Lateness(0.5),
            Observation::TaskDuration {
                kind: "sql",
                outcome: "killed",
                seconds: 2.0,
            },
            Observation::DispatchLatency {
                group: "gpu".into(),
                seconds: 0.25,
            },
        ],
        3,
        4,
    );
    let text = render(&metrics);
    for line in [
        "baton_master_dispatches_total 2",
        "baton_master_retries_total 1",
        r#"baton_master_dispatch_refusals_total{reason="unreachable"} 1"#,
        "baton_schedule_lateness_seconds_sum 0.5",
        r#"baton_task_duration_seconds_sum{outcome="killed",type="sql"} 2"#,
        r#"baton_task_dispatch_latency_seconds_count{worker_group="gpu"} 1"#,
        "baton_master_adoptions_total 3",
        "baton_master_failovers_total 4",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

on_both_stores!(
    a_schedule_fire_is_as_late_as_its_instance_is_after_its_fire_time,
    an_attempt_is_timed_from_its_queueing_to_its_start_and_from_its_start_to_its_end,
    a_refused_dispatch_is_counted_by_its_reason_and_waits_from_its_first_queueing,
    the_gauges_show_the_queue_the_slots_and_what_runs,
    a_group_whose_workers_left_shows_no_free_slot,
    what_a_committed_tick_observed_lands_in_its_series,
);
