//! Task groups: at most N tasks of a group run at once, and a task of a group that does not
//! exist waits visibly.

mod common;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// A workflow of 6 tasks of the group `db`. Each takes a token file in `dir/tokens` and
/// records how many tokens were held with its own (at most the group's slots, if it works).
fn grouped(dir: &std::path::Path) -> String {
    let d = dir.display();
    let body = format!(
        "mkdir -p {d}/tokens; touch {d}/tokens/$BATON_TASK_INSTANCE_ID; n=$(ls {d}/tokens | wc -l); echo $n >> {d}/seen; sleep 0.3; rm {d}/tokens/$BATON_TASK_INSTANCE_ID"
    );
    let mut yaml = String::from("name: grouped\ntasks:\n");
    for i in 0..6 {
        yaml.push_str(&format!(
            "  - name: t{i}\n    type: shell\n    task_group: db\n    command: '{body}'\n"
        ));
    }
    yaml
}

/// How many tokens each task saw held.
fn held(dir: &std::path::Path) -> Vec<usize> {
    std::fs::read_to_string(dir.join("seen"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

#[test]
fn a_task_group_limits_its_tasks_across_two_masters() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let c = common::cluster::Cluster::start(
        dir.path(),
        common::cluster::Options {
            database: &db.url,
            registry: "db",
            masters: 2,
            workers: 2,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    c.ok(&["taskgroup", "create", "db", "--slots", "2"]);
    let file = write(dir.path(), "grouped.yaml", &grouped(dir.path()));
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    // Started one by one, the instances are taken by both masters.
    let ids: Vec<i64> = (0..4)
        .map(|_| {
            c.ok(&["workflow", "start", "grouped"])
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let states = c.wait_all(&ids, LONG * 2);
    assert!(
        states.values().all(|s| s == "succeeded"),
        "{states:?}\n{}",
        c.logs()
    );
    let seen = held(dir.path());
    assert_eq!(seen.len(), 24);
    assert!(
        seen.iter().all(|n| *n <= 2),
        "never more than 2 at once, cluster-wide: {seen:?}"
    );
    drop(c);
    drop(db);
}

#[test]
fn a_task_group_limits_how_many_of_its_tasks_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &["--slots", "8"]);
    server.ok(&["taskgroup", "create", "db", "--slots", "2"]);
    let file = write(dir.path(), "grouped.yaml", &grouped(dir.path()));
    let id = server.start_workflow(&file, "grouped", &[]);
    assert_eq!(server.wait_end(id, LONG)["instance"]["state"], "succeeded");
    let seen = held(dir.path());
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
