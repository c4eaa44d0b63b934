//! Sizes in a real run, on a standalone node and on a cluster whose database URL comes from a
//! file: output params over their limits fail the task with the limit in its log and its
//! attempt; a dispatch larger than a worker accepts fails its task at once; either way the
//! node stays healthy and the next workflow runs.

mod common;
use common::cluster::{Cluster, Options};
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// Two tasks over the limits on output params (too many; a value too large), and one after the
/// first.
const OUTPUTS: &str = r#"name: outputs
failure_strategy: continue
tasks:
  - name: many
    type: shell
    command: 'for i in $(seq 0 1000); do echo "\${setValue(k$i=$i)}"; done'
  - name: after_many
    type: noop
    depends_on: [many]
  - name: large
    type: python
    script: |
      print("${setValue(blob=" + "x" * 70000 + ")}")
"#;

/// A workflow whose tasks succeed and pass a param on.
const FOLLOWING: &str = "name: ok\ntasks:\n  - {name: a, type: shell, command: 'echo \"\\${setValue(rows=42)}\"'}\n  - {name: b, type: shell, command: 'test ${rows} = 42', depends_on: [a]}\n";

/// The message of a task that set one output param too many.
const TOO_MANY: &str =
    "the task set more than 1000 output params (the most one task may set); `k1000` is one too many";

/// The message of a task that set a value of 70000 bytes.
const TOO_LARGE: &str =
    "output param `blob` has a value of 70000 bytes or more, more than the 64 KiB a value may have";

/// A workflow whose last task's dispatch is about 4.7 MiB: five tasks each set 15 values of
/// 64 KiB (within every limit), and `wide` uses all 75. Also the names of the five.
fn wide() -> (String, Vec<String>) {
    let mut yaml = String::from("name: wide\ntasks:\n");
    let mut uses = Vec::new();
    for t in 0..5 {
        yaml.push_str(&format!(
            "  - name: up{t}\n    type: python\n    script: |\n"
        ));
        for i in 0..15 {
            yaml.push_str(&format!(
                "      print(\"${{setValue(v{t}_{i}=\" + \"x\" * 65536 + \")}}\")\n"
            ));
            uses.push(format!("${{v{t}_{i}}}"));
        }
    }
    let ups: Vec<String> = (0..5).map(|t| format!("up{t}")).collect();
    yaml.push_str(&format!(
        "  - name: wide\n    type: shell\n    retries: 3\n    depends_on: [{}]\n    command: echo {}\n",
        ups.join(", "),
        uses.join(" ")
    ));
    (yaml, ups)
}

/// True for the message of a dispatch over 4 MiB (about 4.7 MiB).
fn is_too_large_dispatch(message: &str) -> bool {
    message.starts_with("the task's dispatch is 4.")
        && message.ends_with(
            " MiB, more than the 4 MiB a worker accepts: shorten the command or its params",
        )
}

/// A standalone node whose database URL is in a 0600 file (`--database-file`).
fn node(dir: &Path) -> Standalone {
    let url = format!("sqlite://{}/meta.db", dir.display());
    let file = write(dir, "database", &format!("{url}\n"));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let data = dir.join("data");
    Standalone::start(&data, None, &["--database-file", file.to_str().unwrap()])
}

/// The message of the task's only attempt, as its detail shows it.
fn attempt_message(server: &Standalone, view: &serde_json::Value, task: &str) -> String {
    let id = Standalone::task(view, task)["id"].as_i64().unwrap();
    let detail = server.get(&format!("/task-instances/{id}"));
    let attempts = detail["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{detail:#}");
    attempts[0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A workflow whose tasks succeed and pass a param on: the node still runs work.
fn a_following_workflow_runs(server: &Standalone, dir: &Path) {
    let ok = write(dir, "ok.yaml", FOLLOWING);
    let id = server.start_workflow(&ok, "ok", &[]);
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
}

#[test]
fn outputs_over_their_limits_fail_the_task_saying_which_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path());
    let file = write(dir.path(), "outputs.yaml", OUTPUTS);
    let id = server.start_workflow(&file, "outputs", &[]);
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");

    let many = Standalone::task(&view, "many");
    assert_eq!(many["state"], "failed", "{view:#}");
    let too_many = TOO_MANY;
    assert_eq!(many["message"], too_many, "{view:#}");
    assert_eq!(attempt_message(&server, &view, "many"), too_many);
    let log = server.ok(&["logs", &many["id"].to_string()]);
    assert!(
        log.contains(&format!("[baton] {too_many}: the task fails")),
        "{log}"
    );
    let after = view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_name"] == "after_many");
    assert!(
        after.is_none_or(|t| t["state"] != "succeeded"),
        "nothing downstream runs on refused outputs: {view:#}"
    );

    let large = Standalone::task(&view, "large");
    assert_eq!(large["state"], "failed", "{view:#}");
    assert_eq!(large["message"], TOO_LARGE);

    a_following_workflow_runs(&server, dir.path());
}

#[test]
fn a_dispatch_larger_than_a_worker_accepts_fails_its_task_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path());
    let (yaml, ups) = wide();
    let file = write(dir.path(), "wide.yaml", &yaml);
    let id = server.start_workflow(&file, "wide", &[]);
    let view = server.wait_end(id, Duration::from_secs(120));
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    for up in &ups {
        assert_eq!(
            Standalone::task(&view, up)["state"],
            "succeeded",
            "{view:#}"
        );
    }
    let wide = Standalone::task(&view, "wide");
    assert_eq!(wide["state"], "failed", "{view:#}");
    assert_eq!(wide["attempt"], 1, "not retried: {view:#}");
    let message = wide["message"].as_str().unwrap();
    assert!(is_too_large_dispatch(message), "{message}");
    assert_eq!(attempt_message(&server, &view, "wide"), message);

    a_following_workflow_runs(&server, dir.path());
}

#[test]
fn a_database_file_others_may_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "database",
        "sqlite:///tmp/x.db?password=hunter2\n",
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data = dir.path().join("data");
    let out = baton(
        &["standalone", "--data-dir", data.to_str().unwrap()],
        &[("BATON_DATABASE_FILE", file.to_str().unwrap())],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("other users may read it (mode 0644)") && !stderr.contains("hunter2"),
        "{stderr}"
    );
}

#[test]
fn on_a_cluster_the_same_bounds_fail_the_tasks_and_the_cluster_goes_on() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    // Every member reads the database URL from a 0600 file (`--database-file`).
    let c = Cluster::start(
        dir.path(),
        Options {
            database: &db.url,
            registry: "db",
            masters: 1,
            workers: 1,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    let (wide_yaml, _) = wide();
    let outputs = write(dir.path(), "outputs.yaml", OUTPUTS);
    let wide = write(dir.path(), "wide.yaml", &wide_yaml);
    for file in [&outputs, &wide] {
        c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    }
    let start = |name: &str| -> i64 { c.ok(&["workflow", "start", name]).trim().parse().unwrap() };
    let ended = |id: i64| {
        wait_for(
            &format!("instance {id} to end"),
            Duration::from_secs(120),
            || {
                let v = c.get(&format!("/instances/{id}")).ok()?;
                let state = v["instance"]["state"].as_str()?.to_string();
                matches!(state.as_str(), "succeeded" | "failed" | "stopped").then_some(v)
            },
        )
    };
    let (o, w) = (start("outputs"), start("wide"));
    let o = ended(o);
    assert_eq!(Standalone::task(&o, "many")["message"], TOO_MANY, "{o:#}");
    assert_eq!(Standalone::task(&o, "large")["message"], TOO_LARGE, "{o:#}");
    let w = ended(w);
    let wide_task = Standalone::task(&w, "wide");
    assert_eq!(
        (&wide_task["state"], &wide_task["attempt"]),
        (&"failed".into(), &1.into())
    );
    assert!(
        is_too_large_dispatch(wide_task["message"].as_str().unwrap()),
        "{w:#}"
    );

    let ok = write(dir.path(), "ok.yaml", FOLLOWING);
    c.ok(&["workflow", "apply", "-f", ok.to_str().unwrap()]);
    let v = ended(start("ok"));
    assert_eq!(v["instance"]["state"], "succeeded", "{v:#}\n{}", c.logs());
}
