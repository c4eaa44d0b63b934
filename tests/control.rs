//! Control of ended instances: recover runs only what failed or did not run, mark-success lets
//! a recover go past a failed task, rerun runs everything again as a new instance.

mod common;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn count(dir: &std::path::Path, what: &str) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == what)
        .count()
}

#[test]
fn recover_mark_success_and_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "flaky.yaml",
        &format!(
            "name: flaky\ntasks:\n  - name: a\n    type: shell\n    command: |\n      echo a >> {d}/runs; echo '${{setValue(n=7)}}'\n  - {{name: b, type: shell, depends_on: [a], command: 'echo b >> {d}/runs; test -f {d}/ok'}}\n  - {{name: c, type: shell, depends_on: [b], command: 'echo c-${{n}} >> {d}/runs'}}\n"
        ),
    );
    let id = server.start_workflow(&file, "flaky", &[]);
    assert_eq!(server.wait_end(id, LONG)["instance"]["state"], "failed");
    let out = server.cli(&["instance", "recover", "999999"]);
    assert_eq!(out.status.code(), Some(1));

    // The cause is fixed: recover runs b (attempt 2) and c, not a; a's output still flows.
    std::fs::write(dir.path().join("ok"), "").unwrap();
    assert!(server
        .ok(&["instance", "recover", &id.to_string()])
        .contains("recovering"));
    // The recover is a command for the master: the instance is `failed` until it is taken.
    let view = wait_for("the recovered instance to succeed", LONG, || {
        let v = server.instance(id);
        (v["instance"]["state"] == "succeeded").then_some(v)
    });
    assert_eq!(
        (
            count(dir.path(), "a"),
            count(dir.path(), "b"),
            count(dir.path(), "c-7")
        ),
        (1, 2, 1)
    );
    assert_eq!(Standalone::task(&view, "b")["attempt"], 2);
    let again = server.cli(&["instance", "recover", &id.to_string()]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a succeeded instance cannot be recovered"
    );
    assert!(text(&again).1.contains("only a failed or stopped instance"));

    // Mark-success: b fails again in a new instance; marked, the recover runs only c.
    std::fs::remove_file(dir.path().join("ok")).unwrap();
    let id2: i64 = server
        .ok(&["workflow", "start", "flaky"])
        .trim()
        .parse()
        .unwrap();
    let v = server.wait_end(id2, LONG);
    let b = Standalone::task(&v, "b")["id"].to_string();
    server.ok(&["task", "mark-success", &b]);
    server.ok(&["instance", "recover", &id2.to_string()]);
    wait_for("the second instance to succeed", LONG, || {
        (server.instance(id2)["instance"]["state"] == "succeeded").then_some(())
    });
    assert_eq!(
        (
            count(dir.path(), "a"),
            count(dir.path(), "b"),
            count(dir.path(), "c-7")
        ),
        (2, 3, 2)
    );

    // Rerun: a new instance runs everything.
    let id3: i64 = server
        .ok(&["instance", "rerun", &id2.to_string()])
        .trim()
        .parse()
        .unwrap();
    assert_ne!(id3, id2);
    server.wait_end(id3, LONG);
    assert_eq!((count(dir.path(), "a"), count(dir.path(), "b")), (3, 4));
}

#[test]
fn pause_lets_running_tasks_finish_and_resume_runs_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "p.yaml",
        &format!(
            "name: p\ntasks:\n  - {{name: a, type: shell, command: 'while [ ! -f {d}/go ]; do sleep 0.05; done; echo a >> {d}/runs'}}\n  - {{name: b, type: shell, depends_on: [a], command: 'echo b >> {d}/runs'}}\n"
        ),
    );
    let id = server.start_workflow(&file, "p", &[]);
    wait_for("a to run", LONG, || {
        (server.instance(id)["tasks"][0]["state"] == "running").then_some(())
    });
    assert!(server
        .ok(&["instance", "pause", &id.to_string()])
        .contains("pausing"));
    wait_for("pausing", LONG, || {
        (server.instance(id)["instance"]["state"] == "pausing").then_some(())
    });
    std::fs::write(dir.path().join("go"), "").unwrap();
    let v = wait_for("paused", LONG, || {
        let v = server.instance(id);
        (v["instance"]["state"] == "paused").then_some(v)
    });
    assert_eq!(
        Standalone::task(&v, "a")["state"],
        "succeeded",
        "the running task finished"
    );
    assert_eq!(
        v["not_started"],
        serde_json::json!(["b"]),
        "nothing new started"
    );
    let again = server.cli(&["instance", "pause", &id.to_string()]);
    assert_eq!(again.status.code(), Some(1));
    server.ok(&["instance", "resume", &id.to_string()]);
    assert_eq!(server.wait_end(id, LONG)["instance"]["state"], "succeeded");
    assert_eq!(count(dir.path(), "b"), 1);
}

#[test]
fn a_pause_holds_a_retry_until_the_resume() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    // Attempt 1 waits for a gate, then fails; attempt 2 succeeds.
    let file = write(
        dir.path(),
        "retry.yaml",
        &format!(
            "name: retry\ntasks:\n  - name: a\n    type: shell\n    retries: 2\n    retry_interval: 200ms\n    command: |\n      echo a$BATON_ATTEMPT >> {d}/runs\n      if [ $BATON_ATTEMPT = 1 ]; then while [ ! -f {d}/gate ]; do sleep 0.05; done; exit 1; fi\n"
        ),
    );
    let id = server.start_workflow(&file, "retry", &[]);
    wait_for("attempt 1 to run", LONG, || {
        (count(dir.path(), "a1") == 1).then_some(())
    });
    server.ok(&["instance", "pause", &id.to_string()]);
    wait_for("pausing", LONG, || {
        (server.instance(id)["instance"]["state"] == "pausing").then_some(())
    });
    std::fs::write(dir.path().join("gate"), "").unwrap();
    // The failure's retry is held: the instance is paused, not pausing with a retry running.
    let v = wait_for("paused", LONG, || {
        let v = server.instance(id);
        (v["instance"]["state"] == "paused").then_some(v)
    });
    let a = Standalone::task(&v, "a");
    assert_eq!(
        (a["state"].as_str(), a["attempt"].as_i64()),
        (Some("paused"), Some(1)),
        "{a}"
    );
    assert_eq!(count(dir.path(), "a2"), 0);
    server.ok(&["instance", "resume", &id.to_string()]);
    let v = server.wait_end(id, LONG);
    assert_eq!(v["instance"]["state"], "succeeded", "{v:#}");
    assert_eq!(Standalone::task(&v, "a")["attempt"], 2);
    assert_eq!((count(dir.path(), "a1"), count(dir.path(), "a2")), (1, 1));
}

#[test]
fn start_from_a_task_runs_only_its_scope() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let step = |n: &str, deps: &str| {
        format!("  - {{name: {n}, type: shell, depends_on: [{deps}], command: 'echo {n} >> {d}/runs'}}\n")
    };
    let file = write(
        dir.path(),
        "s.yaml",
        &format!(
            "name: s\ntasks:\n{}{}{}{}",
            step("a", ""),
            step("b", "a"),
            step("c", "b"),
            step("d", "a")
        ),
    );
    server.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let run = |extra: &[&str]| {
        let mut args = vec!["workflow", "start", "s", "--wait"];
        args.extend_from_slice(extra);
        server.ok(&args);
    };
    run(&["--from-task", "b"]);
    assert_eq!(
        (
            count(dir.path(), "a"),
            count(dir.path(), "b"),
            count(dir.path(), "c"),
            count(dir.path(), "d")
        ),
        (0, 1, 1, 0)
    );
    run(&["--from-task", "b", "--scope", "self"]);
    assert_eq!((count(dir.path(), "b"), count(dir.path(), "c")), (2, 1));
    run(&["--from-task", "c", "--scope", "upstream"]);
    assert_eq!(
        (
            count(dir.path(), "a"),
            count(dir.path(), "b"),
            count(dir.path(), "c"),
            count(dir.path(), "d")
        ),
        (1, 3, 2, 0)
    );
    let out = server.cli(&["workflow", "start", "s", "--from-task", "zz"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("workflow `s` has no task `zz`"));
    let out = server.cli(&[
        "workflow",
        "start",
        "s",
        "--from-task",
        "b",
        "--scope",
        "sideways",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
