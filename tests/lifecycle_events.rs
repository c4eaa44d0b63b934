//! The lifecycle event log end to end on `baton standalone`: every change in the life of an
//! instance and of each task attempt (submitted, started, dispatched, retrying, succeeded,
//! killed, stopped, paused, resumed) is an event, in the order it happened, and an unknown
//! kind is refused.

mod common;
use common::*;
use serde_json::Value;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// The events of one instance, oldest first: (kind, task name).
fn events_of(server: &Standalone, id: i64) -> Vec<(String, String)> {
    let page = server.get(&format!("/events?instance={id}&after=0&limit=1000"));
    page["events"]
        .as_array()
        .expect("a page of events")
        .iter()
        .map(|e: &Value| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["task_name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn kinds(events: &[(String, String)]) -> Vec<&str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn a_run_with_a_retry_records_every_step_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "flaky.yaml",
        "name: flaky\ntasks:\n  - name: first\n    type: shell\n    retries: 1\n    retry_interval: 100ms\n    command: test \"$BATON_ATTEMPT\" = 2\n  - name: second\n    type: noop\n    depends_on: [first]\n",
    );
    let id = server.start_workflow(&file, "flaky", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    let events = events_of(&server, id);
    assert_eq!(
        kinds(&events),
        vec![
            "instance_submitted",
            "instance_started",
            "task_dispatched",
            "task_started",
            "task_retrying",
            "task_dispatched",
            "task_started",
            "task_succeeded",
            // A noop ends where it starts: the worker reports no start.
            "task_dispatched",
            "task_succeeded",
            "instance_succeeded",
        ],
        "{events:?}"
    );
    assert_eq!(events[4].1, "first");
    assert_eq!(events[8].1, "second");
    // The notable ones are in the instance's view: the retry, nothing routine.
    let shown: Vec<&str> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(shown, vec!["task_retrying"], "{view:#}");

    let unknown =
        reqwest::blocking::get(format!("{}/api/v1/events?kind=task_faild", server.api)).unwrap();
    assert_eq!(unknown.status(), 400);
    let body: Value = unknown.json().unwrap();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("unknown event kind `task_faild`") && message.contains("task_failed"),
        "{body}"
    );
}

#[test]
fn pause_resume_and_stop_are_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &["--kill-grace", "1s"]);
    let file = write(
        dir.path(),
        "slow.yaml",
        "name: slow\ntasks:\n  - name: quick\n    type: shell\n    command: sleep 2\n  - name: long\n    type: shell\n    command: sleep 1000\n    depends_on: [quick]\n",
    );
    let id = server.start_workflow(&file, "slow", &[]);
    server.ok(&["instance", "pause", &id.to_string()]);
    wait_for("the instance to pause", LONG, || {
        (server.instance(id)["instance"]["state"] == "paused").then_some(())
    });
    server.ok(&["instance", "resume", &id.to_string()]);
    wait_for("the long task to run", LONG, || {
        let view = server.instance(id);
        let tasks = view["tasks"].as_array()?;
        let long = tasks.iter().find(|t| t["task_name"] == "long")?;
        (long["state"] == "running").then_some(())
    });
    server.ok(&["instance", "stop", &id.to_string()]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "stopped", "{view:#}");
    let events = events_of(&server, id);
    let k = kinds(&events);
    let at = |kind: &str| {
        k.iter()
            .position(|x| *x == kind)
            .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
    };
    assert!(at("instance_paused") < at("instance_resumed"), "{events:?}");
    assert!(at("instance_resumed") < at("task_killed"), "{events:?}");
    assert_eq!(k.last(), Some(&"instance_stopped"), "{events:?}");
    assert_eq!(events[at("task_killed")].1, "long");
}
