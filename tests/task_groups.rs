//! Task groups: at most N tasks of a group run at once, and a task of a group that does not
//! exist waits visibly.

mod common;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

#[test]
fn a_task_group_limits_how_many_of_its_tasks_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &["--slots", "8"]);
    server.ok(&["taskgroup", "create", "db", "--slots", "2"]);
    // Each task takes a token dir (mkdir is atomic) and records how many were held with it.
    let body = format!(
        "n=$(ls {d}/tokens 2>/dev/null | wc -l); mkdir -p {d}/tokens; touch {d}/tokens/$BATON_TASK_INSTANCE_ID; n=$(ls {d}/tokens | wc -l); echo $n >> {d}/seen; sleep 0.3; rm {d}/tokens/$BATON_TASK_INSTANCE_ID"
    );
    let mut yaml = String::from("name: grouped\ntasks:\n");
    for i in 0..6 {
        yaml.push_str(&format!(
            "  - name: t{i}\n    type: shell\n    task_group: db\n    command: '{body}'\n"
        ));
    }
    let file = write(dir.path(), "grouped.yaml", &yaml);
    let id = server.start_workflow(&file, "grouped", &[]);
    assert_eq!(server.wait_end(id, LONG)["instance"]["state"], "succeeded");
    let seen: Vec<usize> = std::fs::read_to_string(dir.path().join("seen"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(seen.len(), 6);
    assert!(
        seen.iter().all(|n| *n <= 2),
        "never more than 2 at once: {seen:?}"
    );
    assert!(server.ok(&["taskgroup", "list"]).contains("db"));

    let missing = write(
        dir.path(),
        "missing.yaml",
        "name: missing\ntasks:\n  - {name: t, type: shell, command: 'true', task_group: nope}\n",
    );
    let id = server.start_workflow(&missing, "missing", &[]);
    wait_for("the wait to show", LONG, || {
        let v = server.instance(id);
        (v["tasks"][0]["message"] == "waiting: task group `nope` does not exist").then_some(())
    });
    server.ok(&["taskgroup", "create", "nope", "--slots", "1"]);
    assert_eq!(server.wait_end(id, LONG)["instance"]["state"], "succeeded");
}
