//! `timeout_strategy` end to end on `baton standalone`: `warn` lets the task run on and
//! records a `task_timeout` event, `both` records it and fails the task, and a strategy
//! without a timeout is refused; the events show in the API, `baton events` (also
//! `--follow`) and `baton instance show`.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn events_of(view: &Value) -> Vec<Value> {
    view["events"].as_array().cloned().unwrap_or_default()
}

#[test]
fn warn_records_an_event_and_the_task_runs_on_while_both_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &["--kill-grace", "1s"]);

    // Follow the events from before anything happens.
    let follower = server.follow(&["events", "--follow", "--kind", "task_timeout"]);
    let lines = &follower.lines;

    let warn = write(
        dir.path(),
        "warn.yaml",
        "name: lenient\ntasks:\n  - name: slow\n    type: shell\n    timeout: 1s\n    timeout_strategy: warn\n    script: |\n      sleep 3\n      echo done\n",
    );
    let id = server.start_workflow(&warn, "lenient", &[]);
    // The event is there while the task still runs: an alert, not a post-mortem.
    let event = wait_for("the task_timeout event", LONG, || {
        let v = server.get(&format!("/events?kind=task_timeout&instance={id}"));
        v["events"].as_array().and_then(|e| e.first().cloned())
    });
    let view = server.instance(id);
    assert_eq!(
        Standalone::task(&view, "slow")["state"],
        "running",
        "the task goes on after its timeout: {view:#}"
    );
    assert_eq!(event["kind"], "task_timeout");
    assert_eq!(event["workflow"], "lenient");
    assert_eq!(event["task_name"], "slow");
    assert_eq!(event["attempt"], 1);
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .starts_with("timed out after 1s; the task goes on"),
        "{event}"
    );

    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    let slow = Standalone::task(&view, "slow");
    assert_eq!(
        (slow["state"].as_str(), slow["attempt"].as_i64()),
        (Some("succeeded"), Some(1))
    );
    assert_eq!(slow["exit_code"], 0);
    let events = events_of(&view);
    assert_eq!(events.len(), 1, "one event for the one timeout: {view:#}");
    assert_eq!(events[0]["task_instance_id"], slow["id"]);
    let log = server.ok(&["logs", &slow["id"].to_string()]);
    assert_eq!(log, "done\n");

    let both = write(
        dir.path(),
        "both.yaml",
        "name: strict\ntasks:\n  - name: stuck\n    type: shell\n    timeout: 1s\n    timeout_strategy: both\n    command: sleep 1000\n",
    );
    let strict = server.start_workflow(&both, "strict", &[]);
    let view = server.wait_end(strict, LONG);
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    let stuck = Standalone::task(&view, "stuck");
    assert_eq!(stuck["state"], "failed");
    assert_eq!(stuck["message"], "timed out after 1s");
    // The instance's notable events: the timeout, then the task's and the instance's failure.
    let events = events_of(&view);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        vec!["task_timeout", "task_failed", "instance_failed"],
        "{view:#}"
    );
    assert_eq!(events[0]["task_name"], "stuck");
    assert!(events[0]["message"]
        .as_str()
        .unwrap()
        .ends_with("(timeout_strategy: both)"));

    // The list: newest first, filtered and paged.
    let all = server.get("/events?kind=task_timeout");
    let names: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["task_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["stuck", "slow"]);
    let page = server.get("/events?kind=task_timeout&limit=1");
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a full page has a next cursor");
    let next = server.get(&format!(
        "/events?kind=task_timeout&limit=1&cursor={cursor}"
    ));
    assert_eq!(next["events"][0]["task_name"], "slow");
    let last = server.get(&format!(
        "/events?kind=task_timeout&limit=1&cursor={}",
        next["next_cursor"].as_str().unwrap()
    ));
    assert!(last["events"].as_array().unwrap().is_empty(), "{last}");
    assert!(last.get("next_cursor").is_none(), "the end: {last}");
    // An unknown kind is refused, naming the known ones.
    let refused = server.get("/events?kind=other");
    assert_eq!(refused["error"]["code"], "bad_kind", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("task_timeout"),
        "{refused}"
    );
    let out = server.cli(&["events", "--kind", "task_faild"]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("unknown event kind `task_faild`"),
        "{:?}",
        text(&out)
    );

    // The CLI: `baton events`, and the instance's events in `instance show`.
    let printed = server.ok(&["events", "--since", "10m", "--kind", "task_timeout"]);
    let printed: Vec<&str> = printed.lines().collect();
    assert_eq!(printed.len(), 2, "{printed:?}");
    assert!(
        printed[0].contains("task_timeout") && printed[0].contains("task slow"),
        "oldest first: {printed:?}"
    );
    assert!(printed[1].contains("task stuck"), "{printed:?}");
    let shown = server.ok(&["instance", "show", &id.to_string()]);
    assert!(
        shown.contains("events:") && shown.contains("task_timeout"),
        "{shown}"
    );
    let out = server.cli(&["events", "--since", "last tuesday"]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));

    // `--follow` printed both as they came.
    let mut followed = Vec::new();
    while followed.len() < 2 {
        match lines.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => followed.push(line),
            Err(e) => panic!("baton events --follow printed only {followed:?}: {e}"),
        }
    }
    assert!(followed[0].contains("task slow"), "{followed:?}");
    assert!(followed[1].contains("task stuck"), "{followed:?}");
    drop(follower);
}

#[test]
fn a_strategy_without_a_timeout_is_refused_and_exports_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let bad = write(
        dir.path(),
        "bad.yaml",
        "name: bad\ntasks:\n  - {name: nolimit, type: shell, command: 'true', timeout_strategy: warn}\n",
    );
    let out = server.cli(&["workflow", "apply", "-f", path(&bad)]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(
        text(&out)
            .1
            .contains("bad.yaml: task `nolimit`: `timeout_strategy: warn` needs a `timeout`"),
        "{:?}",
        text(&out)
    );
    let out = server.cli(&["run", path(&bad)]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));

    let good = write(
        dir.path(),
        "good.yaml",
        "name: good\ntasks:\n  - {name: a, type: shell, command: 'true', timeout: 5s, timeout_strategy: warn}\n  - {name: b, type: shell, command: 'true', timeout: 5s}\n",
    );
    server.ok(&["workflow", "apply", "-f", path(&good)]);
    let exported = server.ok(&["workflow", "export", "good"]);
    assert_eq!(
        exported.matches("timeout_strategy").count(),
        1,
        "the default is not written: {exported}"
    );
    assert!(exported.contains("timeout_strategy: warn"), "{exported}");
    let again = write(dir.path(), "good.exported.yaml", &exported);
    assert!(server
        .ok(&["workflow", "apply", "-f", path(&again)])
        .contains("unchanged"));
}
