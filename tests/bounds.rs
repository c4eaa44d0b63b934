//! Sizes in a real run, on a standalone node whose database URL comes from a file: output
//! params over their limits fail the task with the limit in its log and its attempt; a
//! dispatch larger than a worker accepts fails its task at once; either way the node stays
//! healthy and the next workflow runs.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

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
    let ok = write(
        dir,
        "ok.yaml",
        "name: ok\ntasks:\n  - {name: a, type: shell, command: 'echo \"\\${setValue(rows=42)}\"'}\n  - {name: b, type: shell, command: 'test ${rows} = 42', depends_on: [a]}\n",
    );
    let id = server.start_workflow(&ok, "ok", &[]);
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
}

#[test]
fn outputs_over_their_limits_fail_the_task_saying_which_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path());
    let file = write(
        dir.path(),
        "outputs.yaml",
        r#"name: outputs
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
"#,
    );
    let id = server.start_workflow(&file, "outputs", &[]);
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");

    let many = Standalone::task(&view, "many");
    assert_eq!(many["state"], "failed", "{view:#}");
    let too_many = "the task set more than 1000 output params (the most one task may set); `k1000` is one too many";
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
    assert_eq!(
        large["message"],
        "output param `blob` has a value of 70000 bytes or more, more than the 64 KiB a value may have"
    );

    a_following_workflow_runs(&server, dir.path());
}

#[test]
fn a_dispatch_larger_than_a_worker_accepts_fails_its_task_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = node(dir.path());
    // Five tasks each set 15 values of 64 KiB (within every limit); one task uses all 75,
    // which makes its dispatch about 4.7 MiB.
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
    assert!(
        message.starts_with("the task's dispatch is 4.")
            && message.ends_with(
                " MiB, more than the 4 MiB a worker accepts: shorten the command or its params"
            ),
        "{message}"
    );
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
