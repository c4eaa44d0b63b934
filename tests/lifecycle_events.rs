//! The lifecycle event log end to end on `baton standalone`: every change in the life of an
//! instance and of each task attempt (submitted, started, dispatched, retrying, succeeded,
//! killed, stopped, paused, resumed) is an event, in the order it happened, and an unknown
//! kind is refused; a schedule fire and a backfill (its start, each instance, its end) are
//! events too.

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

    let unknown = server
        .request(reqwest::Method::GET, "/events?kind=task_faild")
        .send()
        .unwrap();
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

/// The events of a workflow (by name), oldest first, of one kind or every kind.
fn events_of_workflow(server: &Standalone, workflow: &str, kind: Option<&str>) -> Vec<Value> {
    let kind = kind.map(|k| format!("&kind={k}")).unwrap_or_default();
    let page = server.get(&format!(
        "/events?workflow={workflow}&after=0&limit=1000{kind}"
    ));
    page["events"].as_array().expect("a page of events").clone()
}

#[test]
fn a_schedule_fire_submits_an_instance() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "tick.yaml",
        "name: tick\nschedule: {cron: '* * * * * *'}\ntasks:\n  - {name: t, type: noop}\n",
    );
    server.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let fired = wait_for("a fire", LONG, || {
        let fired = events_of_workflow(&server, "tick", Some("schedule_fired"));
        fired.first().cloned()
    });
    server.ok(&["schedule", "offline", "tick"]);
    let id = fired["workflow_instance_id"]
        .as_i64()
        .expect("a fire names its instance");
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    let events = events_of(&server, id);
    assert_eq!(
        kinds(&events)[..3],
        ["instance_submitted", "schedule_fired", "instance_started"],
        "{events:?}"
    );
    let page = server.get(&format!("/events?instance={id}&kind=instance_submitted"));
    let submitted = &page["events"][0];
    assert_eq!(submitted["message"], "submitted, fired by its schedule");
    assert_eq!(submitted["workflow"], "tick");
    assert_eq!(
        submitted["detail"]["schedule_time_us"].as_i64(),
        common::time_us(&view["instance"]["schedule_time"]),
        "{submitted:#}"
    );
}

#[test]
fn a_backfill_starts_submits_each_instance_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "daily.yaml",
        "name: daily\ntasks:\n  - {name: t, type: noop}\n",
    );
    server.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let id: i64 = server
        .ok(&[
            "backfill",
            "daily",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-03",
            "--parallel",
            "2",
        ])
        .trim()
        .parse()
        .expect("the backfill's id");
    wait_for("the backfill to finish", LONG, || {
        (server.get(&format!("/backfills/{id}"))["state"] == "done").then_some(())
    });
    let events = events_of_workflow(&server, "daily", None);
    let of = |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["kind"] == kind).collect() };
    let (started, ended) = (of("backfill_started"), of("backfill_ended"));
    assert_eq!((started.len(), ended.len()), (1, 1), "{events:#?}");
    assert_eq!(started[0]["detail"]["backfill_id"], id);
    assert_eq!(started[0]["detail"]["instances"], 3);
    assert_eq!(ended[0]["detail"]["backfill_id"], id);
    assert_eq!(ended[0]["detail"]["state"], "done");
    assert_eq!(
        ended[0]["detail"]["by_state"]["succeeded"], 3,
        "{:#}",
        ended[0]
    );

    let submitted = of("instance_submitted");
    assert_eq!(submitted.len(), 3, "{events:#?}");
    let filled: Vec<i64> = server.get(&format!("/backfills/{id}"))["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let mut named: Vec<i64> = submitted
        .iter()
        .map(|e| e["workflow_instance_id"].as_i64().unwrap())
        .collect();
    named.sort();
    let mut expected = filled.clone();
    expected.sort();
    assert_eq!(named, expected, "one per instance of the backfill");
    let id_of = |e: &Value| e["id"].as_i64().unwrap();
    for e in &submitted {
        assert_eq!(e["message"], format!("submitted by backfill {id}"));
        assert_eq!(e["detail"]["backfill_id"], id);
        assert!(
            id_of(started[0]) < id_of(e) && id_of(e) < id_of(ended[0]),
            "{events:#?}"
        );
    }
    let last_end = events
        .iter()
        .filter(|e| e["kind"] == "instance_succeeded")
        .map(id_of)
        .max()
        .unwrap();
    assert!(
        last_end < id_of(ended[0]),
        "it ends after its last instance"
    );
}
