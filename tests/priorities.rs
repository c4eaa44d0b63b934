//! Priorities end to end: with one worker slot busy, the waiting tasks go in the order
//! workflow-instance priority, then task priority, then the order they became ready; and the
//! instances a schedule fires take the schedule's priority.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Holds the only slot until the file `${gate}` exists.
const BLOCKER: &str = "name: blocker\npriority: lowest\nparams: {gate: ''}\ntasks:\n  - name: hold\n    type: shell\n    command: 'while [ ! -e ${gate} ]; do sleep 0.05; done'\n";

/// A one-task workflow of this priority that appends `${tag}` to `${sink}`.
fn one_task(name: &str, priority: &str) -> String {
    format!(
        "name: {name}\npriority: {priority}\nparams: {{sink: '', tag: ''}}\ntasks:\n  - {{name: t, type: shell, command: 'echo ${{tag}} >> ${{sink}}'}}\n"
    )
}

/// Tasks of every priority, written lowest first, none depending on another.
const MIXED: &str = "name: mixed\nparams: {sink: ''}\ntasks:\n\
  - {name: t-lowest, type: shell, priority: lowest, command: 'echo t-lowest >> ${sink}'}\n\
  - {name: t-low, type: shell, priority: low, command: 'echo t-low >> ${sink}'}\n\
  - {name: t-medium, type: shell, command: 'echo t-medium >> ${sink}'}\n\
  - {name: t-high, type: shell, priority: high, command: 'echo t-high >> ${sink}'}\n\
  - {name: t-highest, type: shell, priority: highest, command: 'echo t-highest >> ${sink}'}\n";

fn start(server: &Standalone, name: &str, params: &[String]) -> i64 {
    let mut args = vec!["workflow".to_string(), "start".into(), name.into()];
    for p in params {
        args.push("--param".into());
        args.push(p.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    server.ok(&args).trim().parse().expect("an instance id")
}

/// Waits until every task of the instance is waiting for a slot (`submitted`).
fn wait_waiting(server: &Standalone, id: i64, tasks: usize) {
    wait_for(
        &format!("instance {id}'s {tasks} task(s) to wait for a slot"),
        Duration::from_secs(30),
        || {
            let v = server.instance(id);
            let list = v["tasks"].as_array()?;
            (list.len() == tasks && list.iter().all(|t| t["state"] == "submitted")).then_some(())
        },
    );
}

fn sink_lines(sink: &Path) -> Vec<String> {
    std::fs::read_to_string(sink)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Starts the blocker with `gate` and waits until it holds the slot.
fn block(server: &Standalone, gate: &Path) -> i64 {
    let id = start(server, "blocker", &[format!("gate={}", gate.display())]);
    wait_for(
        "the blocker to hold the slot",
        Duration::from_secs(30),
        || {
            let v = server.instance(id);
            (Standalone::task(&v, "hold")["state"] == "running").then_some(())
        },
    );
    id
}

/// `started_at` of each task of the instance, by name.
fn started(view: &Value) -> Vec<(String, i64)> {
    view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task_name"].as_str().unwrap().to_string(),
                common::time_us(&t["started_at"]).expect("a started task"),
            )
        })
        .collect()
}

#[test]
fn a_high_priority_instance_and_task_go_before_the_waiting_low_ones() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("flows");
    std::fs::create_dir_all(&files).unwrap();
    write(&files, "blocker.yaml", BLOCKER);
    write(&files, "low.yaml", &one_task("low", "low"));
    write(&files, "high.yaml", &one_task("high", "high"));
    write(&files, "mixed.yaml", MIXED);
    let server = Standalone::start(
        &dir.path().join("data"),
        None,
        &["--slots", "1", "--apply", files.to_str().unwrap()],
    );

    // Instance priority: three low instances wait, then a high one arrives; it goes first.
    let sink = dir.path().join("instances.txt");
    let gate = dir.path().join("gate-1");
    let blocker = block(&server, &gate);
    let mut lows = Vec::new();
    for i in 1..=3 {
        let id = start(
            &server,
            "low",
            &[format!("sink={}", sink.display()), format!("tag=low-{i}")],
        );
        wait_waiting(&server, id, 1);
        lows.push(id);
    }
    let high = start(
        &server,
        "high",
        &[format!("sink={}", sink.display()), "tag=high".into()],
    );
    wait_waiting(&server, high, 1);
    std::fs::write(&gate, "").unwrap();
    let mut views = Vec::new();
    for id in [blocker, high].iter().chain(&lows) {
        let v = server.wait_end(*id, Duration::from_secs(60));
        assert_eq!(v["instance"]["state"], "succeeded", "{v:#}");
        views.push(v);
    }
    assert_eq!(
        sink_lines(&sink),
        ["high", "low-1", "low-2", "low-3"],
        "high first, then the low ones in the order they became ready"
    );
    let high_start = started(&views[1])[0].1;
    for low in &views[2..] {
        let low_start = started(low)[0].1;
        assert!(
            high_start < low_start,
            "the high instance started ({high_start}) before the low one ({low_start})"
        );
    }
    assert_eq!(views[1]["instance"]["priority"], "high");
    assert_eq!(views[2]["instance"]["priority"], "low");

    // Task priority within one instance: highest first, whatever the file order.
    let sink = dir.path().join("tasks.txt");
    let gate = dir.path().join("gate-2");
    let blocker = block(&server, &gate);
    let mixed = start(&server, "mixed", &[format!("sink={}", sink.display())]);
    wait_waiting(&server, mixed, 5);
    std::fs::write(&gate, "").unwrap();
    server.wait_end(blocker, Duration::from_secs(60));
    let v = server.wait_end(mixed, Duration::from_secs(60));
    assert_eq!(v["instance"]["state"], "succeeded", "{v:#}");
    let order = ["t-highest", "t-high", "t-medium", "t-low", "t-lowest"];
    assert_eq!(sink_lines(&sink), order);
    let mut by_start = started(&v);
    by_start.sort_by_key(|(_, at)| *at);
    let names: Vec<&str> = by_start.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, order, "started_at follows the priorities");
}
