//! The logic task types in a running standalone: switch and conditions take one branch and
//! skip the others, sub_workflow runs a child instance (params down, outputs back, stop
//! passed on), dependent waits for another workflow and fails with what was missing.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn runs(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn state<'a>(view: &'a serde_json::Value, task: &str) -> &'a str {
    Standalone::task(view, task)["state"].as_str().unwrap()
}

#[test]
fn switch_and_conditions_take_one_branch_and_skip_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let switch = write(
        dir.path(),
        "route.yaml",
        &format!(
            r#"name: route
extra_params: allow
tasks:
  - name: count
    type: shell
    command: echo '${{setValue(rows=42)}}'
  - name: route
    type: switch
    depends_on: [count]
    cases:
      - {{when: '${{rows}} > 100', then: big}}
      - {{when: '${{rows}} > 0', then: small}}
    default: none
  - {{name: big, type: shell, command: 'echo big >> {d}/runs'}}
  - {{name: small, type: shell, command: 'echo small >> {d}/runs'}}
  - {{name: none, type: shell, command: 'echo none >> {d}/runs'}}
  - {{name: report, type: shell, depends_on: [big, small], command: 'echo report >> {d}/runs'}}
"#
        ),
    );
    let id = server.start_workflow(&switch, "route", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    assert_eq!(state(&view, "big"), "skipped");
    assert_eq!(state(&view, "none"), "skipped");
    assert_eq!(state(&view, "small"), "succeeded");
    let route = Standalone::task(&view, "route");
    assert!(
        route["message"]
            .as_str()
            .unwrap()
            .contains("case 2 holds (`42 > 0`)"),
        "{route}"
    );
    assert_eq!(runs(dir.path()), ["small", "report"]);
    // It ran in the master: no log, but `baton logs` says what it did.
    let log = server.ok(&["logs", &route["id"].to_string()]);
    assert!(log.contains("[baton] no log: case 2 holds"), "{log}");

    // A start-time param wins over the upstream output: no case holds, the default runs,
    // and the join after the two skipped branches is skipped too.
    std::fs::remove_file(dir.path().join("runs")).unwrap();
    let id = server.start_workflow(&switch, "route", &["rows=-1"]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    assert_eq!(state(&view, "report"), "skipped");
    assert_eq!(runs(dir.path()), ["none"]);

    // A failure before a conditions task takes its failure branch; the run succeeds.
    std::fs::remove_file(dir.path().join("runs")).unwrap();
    let conditions = write(
        dir.path(),
        "cond.yaml",
        &format!(
            r#"name: cond
failure_strategy: end
tasks:
  - {{name: load, type: shell, command: 'exit 3'}}
  - {{name: check, type: conditions, depends_on: [load], success: publish, failure: alert}}
  - {{name: publish, type: shell, command: 'echo publish >> {d}/runs'}}
  - {{name: alert, type: shell, command: 'echo alert >> {d}/runs'}}
"#
        ),
    );
    let id = server.start_workflow(&conditions, "cond", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    assert_eq!(state(&view, "load"), "failed");
    assert_eq!(state(&view, "publish"), "skipped");
    assert_eq!(runs(dir.path()), ["alert"]);
}

#[test]
fn bad_logic_tasks_are_refused_with_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "bad.yaml",
        "name: bad\ntasks:\n  - {name: a, type: noop}\n  - {name: s, type: switch, depends_on: [a], cases: [{when: 'true', then: ghost}]}\n  - {name: d, type: dependent, dependence: {workflow: x, date: someday}}\n",
    );
    let out = server.cli(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = text(&out);
    assert!(err.contains("unknown date `someday`"), "{err}");
    let file = write(
        dir.path(),
        "bad.yaml",
        "name: bad\ntasks:\n  - {name: a, type: noop}\n  - {name: s, type: switch, depends_on: [a], cases: [{when: 'true', then: ghost}]}\n",
    );
    let out = server.cli(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let (_, err) = text(&out);
    assert!(
        err.contains("task `s`") && err.contains("`ghost`, which is not a task"),
        "{err}"
    );
    let list = server.ok(&["workflow", "list"]);
    assert!(!list.contains("bad"), "nothing was stored: {list}");
}

#[test]
fn sub_workflows_pass_params_down_outputs_back_and_stops_through() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let child = write(
        dir.path(),
        "child.yaml",
        &format!(
            "name: child\nparams: {{dt: none, nap: 0}}\ntasks:\n  - name: work\n    type: shell\n    command: |\n      echo \"child dt=${{dt}}\" >> {d}/runs\n      sleep ${{nap}}\n      echo '${{setValue(total=9)}}'\n"
        ),
    );
    server.ok(&["workflow", "apply", "-f", child.to_str().unwrap()]);
    let parent = write(
        dir.path(),
        "parent.yaml",
        &format!(
            "name: parent\nparams: {{dt: '20260101', nap: 0}}\ntasks:\n  - {{name: run_child, type: sub_workflow, workflow: child}}\n  - {{name: after, type: shell, depends_on: [run_child], command: 'echo after total=${{total}} >> {d}/runs'}}\n"
        ),
    );
    let id = server.start_workflow(&parent, "parent", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    assert_eq!(runs(dir.path()), ["child dt=20260101", "after total=9"]);
    let task = Standalone::task(&view, "run_child");
    assert_eq!(task["outputs"]["total"], "9", "{task}");
    let children = server.get("/instances?workflow=child");
    let child_view = &children["instances"][0];
    assert_eq!(child_view["parent_instance_id"], id, "{children:#}");
    assert_eq!(child_view["state"], "succeeded");

    // Stopping the parent stops the child.
    let id = server.start_workflow(&parent, "parent", &["nap=1000"]);
    let child_id = wait_for("the child to run", LONG, || {
        let list = server.get("/instances?workflow=child&state=running");
        list["instances"][0]["id"].as_i64()
    });
    wait_for("the child's task to run", LONG, || {
        let v = server.instance(child_id);
        (Standalone::task(&v, "work")["state"] == "running").then_some(())
    });
    server.ok(&["instance", "stop", &id.to_string()]);
    assert_eq!(server.wait_end(id, LONG)["instance"]["state"], "stopped");
    assert_eq!(
        server.wait_end(child_id, LONG)["instance"]["state"],
        "stopped"
    );

    // A child that does not exist fails the task, saying so.
    let orphan = write(
        dir.path(),
        "orphan.yaml",
        "name: orphan\ntasks:\n  - {name: run, type: sub_workflow, workflow: nowhere}\n",
    );
    let id = server.start_workflow(&orphan, "orphan", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "failed");
    let message = Standalone::task(&view, "run")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("workflow `nowhere` does not exist"),
        "{message}"
    );

    // A param the parent passes must keep the child's rule: the task fails naming it, and no
    // child instance is made.
    let strict = write(
        dir.path(),
        "strict.yaml",
        "name: strict\nparams:\n  day: {type: date, required: true}\ntasks:\n  - {name: a, type: noop}\n",
    );
    server.ok(&["workflow", "apply", "-f", strict.to_str().unwrap()]);
    let caller = write(
        dir.path(),
        "caller.yaml",
        "name: caller\ntasks:\n  - {name: run, type: sub_workflow, workflow: strict, params: {day: '31/01/2026'}}\n",
    );
    let id = server.start_workflow(&caller, "caller", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    let message = Standalone::task(&view, "run")["message"].as_str().unwrap();
    assert!(
        message.contains("param `day`: `31/01/2026` is not a date written YYYY-MM-DD"),
        "{message}"
    );
    let children = server.get("/instances?workflow=strict");
    assert_eq!(children["instances"], serde_json::json!([]), "{children:#}");
}

#[test]
fn dependent_waits_for_another_workflow_and_times_out_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let upstream = write(
        dir.path(),
        "upstream.yaml",
        "name: upstream\ntasks:\n  - {name: load, type: noop}\n",
    );
    server.ok(&["workflow", "apply", "-f", upstream.to_str().unwrap()]);
    let waits = write(
        dir.path(),
        "waits.yaml",
        &format!(
            "name: waits\ntasks:\n  - name: dep\n    type: dependent\n    check_interval: 200ms\n    timeout: 60s\n    dependence:\n      and:\n        - {{workflow: upstream, task: load, date: today}}\n        - or:\n            - {{workflow: upstream, date: today}}\n            - {{workflow: never, date: last_1_days}}\n  - {{name: after, type: shell, depends_on: [dep], command: 'echo after >> {d}/runs'}}\n"
        ),
    );
    let id = server.start_workflow(&waits, "waits", &[]);
    let waiting = wait_for("the dependent task to wait", LONG, || {
        let v = server.instance(id);
        let task = v["tasks"]
            .as_array()?
            .iter()
            .find(|t| t["task_name"] == "dep")?
            .clone();
        let message = task["message"].as_str()?.to_string();
        message.starts_with("waiting for").then_some(message)
    });
    assert!(
        waiting.contains("task `load` of `upstream` succeeded for today"),
        "{waiting}"
    );
    assert_eq!(server.instance(id)["instance"]["state"], "running");
    assert!(runs(dir.path()).is_empty());

    let up = server.start_workflow(&upstream, "upstream", &[]);
    assert_eq!(server.wait_end(up, LONG)["instance"]["state"], "succeeded");
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    assert_eq!(runs(dir.path()), ["after"]);

    let never = write(
        dir.path(),
        "never.yaml",
        "name: never-met\ntasks:\n  - name: dep\n    type: dependent\n    check_interval: 200ms\n    timeout: 1s\n    dependence: {workflow: never, date: last_1_days}\n",
    );
    let id = server.start_workflow(&never, "never-met", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "failed");
    let message = Standalone::task(&view, "dep")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("timed out; not met: `never` succeeded for last_1_days"),
        "{message}"
    );
    // Its timeout is a `task_timeout` event, which alerts can be about.
    let events = server.get(&format!("/events?instance={id}&kind=task_timeout"));
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["task_name"], "dep");
}

/// The state of the task of that name, if it has a row yet.
fn task_state(view: &serde_json::Value, task: &str) -> Option<String> {
    view["tasks"]
        .as_array()?
        .iter()
        .find(|t| t["task_name"] == task)
        .map(|t| t["state"].as_str().unwrap_or("").to_string())
}

#[test]
fn pausing_a_parent_pauses_its_running_child_and_resuming_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    // The child's first task waits for a gate file; its second runs after it.
    let child = write(
        dir.path(),
        "gated.yaml",
        &format!(
            "name: gated\ntasks:\n  - name: first\n    type: shell\n    command: |\n      while [ ! -e {d}/gate ]; do sleep 0.05; done\n      echo first >> {d}/runs\n  - name: second\n    type: shell\n    depends_on: [first]\n    command: |\n      echo second >> {d}/runs\n      echo '${{setValue(total=9)}}'\n"
        ),
    );
    server.ok(&["workflow", "apply", "-f", child.to_str().unwrap()]);
    let holder = write(
        dir.path(),
        "holder.yaml",
        &format!(
            "name: holder\ntasks:\n  - {{name: run_child, type: sub_workflow, workflow: gated}}\n  - {{name: after, type: shell, depends_on: [run_child], command: 'echo after total=${{total}} >> {d}/runs'}}\n"
        ),
    );
    let id = server.start_workflow(&holder, "holder", &[]);
    let child_id = wait_for("the child to run", LONG, || {
        let list = server.get("/instances?workflow=gated&state=running");
        list["instances"][0]["id"].as_i64()
    });
    wait_for("the child's first task to run", LONG, || {
        let v = server.instance(child_id);
        (task_state(&v, "first")? == "running").then_some(())
    });

    // Pause the parent: it is paused at once (its only running task is the child, which
    // takes the pause); the child is pausing while its running task goes on.
    server.ok(&["instance", "pause", &id.to_string()]);
    wait_for("the parent to be paused", LONG, || {
        (server.instance(id)["instance"]["state"] == "paused").then_some(())
    });
    wait_for("the child to be pausing", LONG, || {
        let state = server.instance(child_id)["instance"]["state"].clone();
        assert_ne!(state, "paused", "the child paused with a task running");
        (state == "pausing").then_some(())
    });
    let v = server.instance(child_id);
    assert_eq!(task_state(&v, "first").as_deref(), Some("running"), "{v:#}");
    assert_eq!(task_state(&v, "second"), None, "{v:#}");

    // The running task finishes; nothing new starts: the child is paused.
    write(dir.path(), "gate", "");
    let v = wait_for("the child to be paused", LONG, || {
        let v = server.instance(child_id);
        (v["instance"]["state"] == "paused").then_some(v)
    });
    assert_eq!(
        task_state(&v, "first").as_deref(),
        Some("succeeded"),
        "{v:#}"
    );
    assert_eq!(task_state(&v, "second"), None, "nothing new started: {v:#}");
    assert_eq!(runs(dir.path()), ["first"]);
    let parent = server.instance(id);
    assert_eq!(parent["instance"]["state"], "paused", "{parent:#}");
    assert_eq!(state(&parent, "run_child"), "running");
    assert_eq!(task_state(&parent, "after"), None, "{parent:#}");

    // Resume the parent: the child resumes, and both succeed.
    server.ok(&["instance", "resume", &id.to_string()]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    let child_view = server.wait_end(child_id, LONG);
    assert_eq!(
        child_view["instance"]["state"], "succeeded",
        "{child_view:#}"
    );
    assert_eq!(runs(dir.path()), ["first", "second", "after total=9"]);
    assert_eq!(
        Standalone::task(&view, "run_child")["outputs"]["total"],
        "9",
        "{view:#}"
    );
}
