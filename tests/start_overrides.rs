//! `baton workflow start` with overrides, against real processes: `--failure-strategy`
//! changes which tasks run, and still does after the server is SIGKILLed and started again;
//! `--worker-group` sends the tasks to the workers of that group (a cluster with a `gpu`
//! worker), and to none when no worker serves it; `--dry-run` says what would run and starts
//! nothing.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// `a` fails at once; `b` (independent) takes a few seconds; `c` follows `b`. The file says
/// `continue`.
fn continues(dir: &Path) -> std::path::PathBuf {
    let d = dir.display();
    write(
        dir,
        "fork.yaml",
        &format!(
            "name: fork\nfailure_strategy: continue\ntasks:\n  - {{name: a, type: shell, command: 'false'}}\n  - {{name: b, type: shell, command: 'sleep 4; echo b >> {d}/runs'}}\n  - {{name: c, type: shell, depends_on: [b], command: 'echo c >> {d}/runs'}}\n"
        ),
    )
}

fn states(view: &Value) -> Vec<(String, String)> {
    let mut states: Vec<(String, String)> = view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task_name"].as_str().unwrap().to_string(),
                t["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    states.sort();
    states
}

fn pair(name: &str, state: &str) -> (String, String) {
    (name.to_string(), state.to_string())
}

fn start(server: &Standalone, args: &[&str]) -> i64 {
    server
        .ok(&[&["workflow", "start"], args].concat())
        .trim()
        .parse()
        .expect("workflow start prints the instance id")
}

#[test]
fn a_failure_strategy_override_decides_which_tasks_run() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = continues(dir.path());
    server.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);

    let ended = start(&server, &["fork", "--failure-strategy", "end"]);
    let view = server.wait_end(ended, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    assert_eq!(view["instance"]["overrides"]["failure_strategy"], "end");
    assert_eq!(
        states(&view),
        [pair("a", "failed"), pair("b", "killed")],
        "under `end` the failure of a kills b, and c never runs"
    );
    let shown = server.ok(&["instance", "show", &ended.to_string()]);
    assert!(shown.contains("overrides failure_strategy=end"), "{shown}");

    let went_on = start(&server, &["fork"]);
    let view = server.wait_end(went_on, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    assert_eq!(
        states(&view),
        [
            pair("a", "failed"),
            pair("b", "succeeded"),
            pair("c", "succeeded")
        ],
        "the file's `continue` lets b and c run"
    );
    let runs = std::fs::read_to_string(dir.path().join("runs")).unwrap();
    assert_eq!(runs, "b\nc\n");
}

#[test]
fn a_failure_strategy_override_survives_a_sigkilled_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let mut server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "gate.yaml",
        &format!(
            "name: gate\nfailure_strategy: continue\ntasks:\n  - {{name: gate, type: shell, command: 'while [ ! -e {d}/go ]; do sleep 0.1; done; false'}}\n  - {{name: long, type: shell, command: 'sleep 1000'}}\n"
        ),
    );
    server.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let id = start(&server, &["gate", "--failure-strategy", "end"]);
    let both_running = |server: &Standalone| {
        let view = server.instance(id);
        let running = states(&view).iter().filter(|(_, s)| s == "running").count();
        (running == 2).then_some(())
    };
    wait_for("both tasks to run", Duration::from_secs(60), || {
        both_running(&server)
    });
    server.kill();
    server.restart();
    // The lost attempts run again; then the gate fails, and `end` (kept with the instance,
    // not the file's `continue`) kills `long` instead of letting it sleep on.
    wait_for("both tasks to run again", Duration::from_secs(60), || {
        both_running(&server)
    });
    std::fs::write(dir.path().join("go"), "").unwrap();
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    assert_eq!(
        states(&view),
        [pair("gate", "failed"), pair("long", "killed")]
    );
}

#[test]
fn a_dry_run_prints_what_would_run_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "plan.yaml",
        "name: plan\nparams:\n  rows: {type: int, min: 1, max: 10, required: true}\n  day: $[yyyyMMdd]\ntasks:\n  - {name: load, type: shell, command: 'echo ${rows} ${day}', depends_on: [extract]}\n  - {name: extract, type: shell, command: 'true', worker_group: io}\n",
    );
    server.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let out = server.ok(&[
        "workflow",
        "start",
        "plan",
        "--dry-run",
        "-p",
        "rows=3",
        "--worker-group",
        "g",
        "--priority",
        "high",
    ]);
    assert!(out.contains("nothing started"), "{out}");
    assert!(out.contains("priority high"), "{out}");
    let extract = out.find("\nextract ").expect("extract is listed");
    let load = out.find("\nload ").expect("load is listed");
    assert!(extract < load, "dependency order: {out}");
    let load_line = out[load + 1..].lines().next().unwrap();
    assert!(
        load_line.contains(" g "),
        "the override's group: {load_line}"
    );
    assert!(load_line.contains("rows=3"), "{load_line}");
    assert!(load_line.contains("day=(at run time)"), "{load_line}");

    // The same refusal as a real start, and no instance either way.
    let refused = server.cli(&["workflow", "start", "plan", "--dry-run", "-p", "rows=11"]);
    assert!(!refused.status.success());
    let (_, stderr) = text(&refused);
    assert!(stderr.contains("rows"), "{stderr}");
    let list = server.get("/instances");
    assert_eq!(list["instances"].as_array().unwrap().len(), 0, "{list}");
}

#[test]
fn a_worker_group_override_runs_the_tasks_on_that_groups_worker() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let mut launch = baton_testkit::Launch::new(baton_bin(), dir.path(), &db.url);
    launch.masters = 1;
    launch.workers = 2;
    launch.worker_groups = vec!["default".into(), "gpu".into()];
    let c = baton_testkit::Cluster::start(launch).unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "one.yaml",
        "name: one\ntasks:\n  - {name: t, type: shell, command: 'true'}\n",
    );
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let start = |args: &[&str]| -> i64 {
        c.ok(&[&["workflow", "start", "one"], args].concat())
            .trim()
            .parse()
            .unwrap()
    };
    let worker_of = |id: i64| {
        let ended = c.wait_all(&[id], Duration::from_secs(60));
        assert_eq!(ended[&id], "succeeded");
        let view = c.get(&format!("/instances/{id}")).unwrap();
        view["tasks"][0]["worker"].as_str().unwrap().to_string()
    };
    let gpu = start(&["--worker-group", "gpu"]);
    assert_eq!(worker_of(gpu), c.workers[1].address, "the gpu worker");
    let plain = start(&[]);
    assert_eq!(worker_of(plain), c.workers[0].address, "the file's group");

    // A group nobody serves still starts; its task waits, saying why.
    let waiting = start(&["--worker-group", "nobody"]);
    let message = wait_for("the task to wait", Duration::from_secs(30), || {
        let view = c.get(&format!("/instances/{waiting}")).ok()?;
        let message = view["tasks"][0]["message"].as_str()?.to_string();
        (view["instance"]["state"] == "running").then_some(message)
    });
    assert_eq!(message, "waiting: no live worker in group `nobody`");
    drop(c);
    drop(db);
}
