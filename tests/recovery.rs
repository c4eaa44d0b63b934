//! Durability: SIGKILL `baton standalone` in the middle of a run, start it again on the same
//! data directory, and the run goes on without redoing what had finished.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn crash_and_resume(database: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let mut server = Standalone::start(&dir.path().join("data"), database, &[]);
    let file = write(
        dir.path(),
        "durable.yaml",
        &format!(
            "name: durable\ntasks:\n  - {{name: first, type: shell, command: 'echo first >> {d}/runs'}}\n  - name: middle\n    type: shell\n    depends_on: [first]\n    script: |\n      echo \"middle $BATON_ATTEMPT\" >> {d}/runs\n      if [ \"$BATON_ATTEMPT\" = 1 ]; then echo $$ > {d}/middle.pid; exec sleep 1000; fi\n  - {{name: last, type: shell, depends_on: [middle], command: 'echo last >> {d}/runs'}}\n"
        ),
    );
    let id = server.start_workflow(&file, "durable", &[]);
    let orphan: i32 = wait_for("the middle task to start", Duration::from_secs(60), || {
        std::fs::read_to_string(dir.path().join("middle.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    server.kill();
    // The worker's watchdog kills the attempt's process as soon as the node is gone.
    wait_for(
        "the crashed node's attempt to be killed",
        Duration::from_secs(10),
        || (!alive(orphan)).then_some(()),
    );

    server.restart();
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    assert_eq!(
        lines(&dir.path().join("runs")),
        ["first", "middle 1", "middle 2", "last"]
    );
    let middle = Standalone::task(&view, "middle");
    assert_eq!(middle["attempt"], 2);
    let history: Vec<(i64, String)> = view["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["task_instance_id"] == middle["id"])
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            (1, "need_failover".to_string()),
            (2, "succeeded".to_string())
        ]
    );
    assert_eq!(
        Standalone::task(&view, "first")["attempt"],
        1,
        "finished tasks are not run again"
    );
    // Definitions and history survived.
    assert!(server.ok(&["workflow", "list"]).contains("durable"));
    assert!(server.ok(&["instance", "list"]).contains(&id.to_string()));
}

#[test]
fn sigkill_and_restart_resumes_the_run_on_sqlite() {
    crash_and_resume(None);
}

#[test]
fn sigkill_and_restart_resumes_the_run_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    crash_and_resume(Some(&db.url));
    drop(db);
}

#[test]
fn a_stop_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "wf.yaml",
        "name: s\ntasks:\n  - {name: a, type: shell, command: 'sleep 1000'}\n",
    );
    let id = server.start_workflow(&file, "s", &[]);
    wait_for("the task to run", Duration::from_secs(60), || {
        (server.instance(id)["tasks"][0]["state"] == "running").then_some(())
    });
    server.kill();
    server.restart();
    server.ok(&["instance", "stop", &id.to_string()]);
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "stopped");
}

#[test]
fn a_sub_workflow_survives_a_crash_of_its_node() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let mut server = Standalone::start(&dir.path().join("data"), None, &[]);
    // The child's task waits for a gate, so that the crash finds it running.
    let child = write(
        dir.path(),
        "child.yaml",
        &format!(
            "name: child\ntasks:\n  - name: work\n    type: shell\n    command: |\n      while [ ! -f {d}/gate ]; do sleep 0.05; done\n      echo '${{setValue(total=9)}}'\n"
        ),
    );
    server.ok(&["workflow", "apply", "-f", child.to_str().unwrap()]);
    let parent = write(
        dir.path(),
        "parent.yaml",
        &format!(
            "name: parent\ntasks:\n  - {{name: run_child, type: sub_workflow, workflow: child}}\n  - {{name: after, type: shell, depends_on: [run_child], command: 'echo total=${{total}} >> {d}/runs'}}\n"
        ),
    );
    let id = server.start_workflow(&parent, "parent", &[]);
    wait_for("the child's task to run", Duration::from_secs(60), || {
        let list = server.get("/instances?workflow=child&state=running");
        let child = list["instances"][0]["id"].as_i64()?;
        let v = server.instance(child);
        (Standalone::task(&v, "work")["state"] == "running").then_some(())
    });
    server.kill();
    server.restart();
    std::fs::write(dir.path().join("gate"), "").unwrap();
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    assert_eq!(lines(&dir.path().join("runs")), ["total=9"]);
    let children = server.get("/instances?workflow=child");
    assert_eq!(
        children["instances"].as_array().unwrap().len(),
        1,
        "one child"
    );
}
