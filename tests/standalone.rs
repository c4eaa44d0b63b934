//! `baton standalone` with the client commands: the tour, retries, timeouts, stop, failure
//! strategies, parallelism, logs.

mod common;
use common::*;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn apply_list_show_start_wait_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let v1 = "name: tour\nparams: {who: nobody}\ntasks:\n  - {name: hello, type: shell, command: 'echo hello ${who}'}\n";
    let file = write(dir.path(), "tour.yaml", v1);
    assert!(server
        .ok(&["workflow", "apply", "-f", path(&file)])
        .contains("created (version 1)"));
    assert!(server
        .ok(&["workflow", "apply", "-f", path(&file)])
        .contains("unchanged (version 1)"));
    write(
        dir.path(),
        "tour.yaml",
        &v1.replace("hello ${who}", "hi ${who}"),
    );
    assert!(server
        .ok(&["workflow", "apply", "-f", path(&file)])
        .contains("updated (version 2)"));
    let list = server.ok(&["workflow", "list"]);
    assert!(list.contains("tour") && list.contains(" 2 "), "{list}");
    assert!(server
        .ok(&["workflow", "show", "tour", "--version", "1"])
        .contains("echo hello"));

    let id: i64 = server
        .ok(&["workflow", "start", "tour", "--param", "who=you"])
        .trim()
        .parse()
        .unwrap();
    let out = server.cli(&["instance", "wait", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains(&format!("instance {id} succeeded")));

    let listed = server.ok(&[
        "instance",
        "list",
        "--workflow",
        "tour",
        "--state",
        "succeeded",
    ]);
    assert!(
        listed.contains(&id.to_string()) && listed.contains("default/tour"),
        "{listed}"
    );
    let shown = server.ok(&["instance", "show", &id.to_string()]);
    assert!(
        shown.contains("hello") && shown.contains("succeeded") && shown.contains("who=you"),
        "{shown}"
    );
    let view = server.instance(id);
    let task = Standalone::task(&view, "hello");
    assert_eq!(task["worker"].as_str(), Some(server.grpc.as_str()));
    assert_eq!(task["exit_code"], 0);
    let log = server.ok(&["logs", &task["id"].to_string()]);
    assert_eq!(log, "hi you\n");

    // Errors: unknown workflow (1), undefined param (2), bad state filter (2).
    let out = server.cli(&["workflow", "start", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out)
        .1
        .contains("workflow `nope` not found in project `default`"));
    let needs = write(
        dir.path(),
        "needs.yaml",
        "name: needs\ntasks:\n  - {name: a, type: shell, command: 'echo ${dt}'}\n",
    );
    server.ok(&["workflow", "apply", "-f", path(&needs)]);
    let out = server.cli(&["workflow", "start", "needs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("task `a`: undefined param `${dt}`"),
        "{:?}",
        text(&out)
    );
    // A start param the workflow does not declare is refused, naming it.
    let out = server.cli(&["workflow", "start", "needs", "-p", "dt=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("param `dt` is not declared by workflow `needs`"),
        "{:?}",
        text(&out)
    );
    // Declared params are checked against their rules, each problem named.
    let typed = write(
        dir.path(),
        "typed.yaml",
        "name: typed\nparams:\n  dt: {type: date, required: true}\n  rows: {type: int, max: 10, default: 1}\ntasks:\n  - {name: a, type: shell, command: 'echo ${dt} ${rows}'}\n",
    );
    server.ok(&["workflow", "apply", "-f", path(&typed)]);
    for (args, expected) in [
        (&[][..], "param `dt` is required (date (YYYY-MM-DD))"),
        (
            &["-p", "dt=1"][..],
            "param `dt`: `1` is not a date written YYYY-MM-DD",
        ),
        (
            &["-p", "dt=2026-01-31", "-p", "rows=11"][..],
            "param `rows`: 11 is out of range (int, at most 10)",
        ),
        (
            &["-p", "dt=2026-01-31", "-p", "dtt=1"][..],
            "param `dtt` is not declared by workflow `typed` (it declares dt, rows)",
        ),
    ] {
        let mut all = vec!["workflow", "start", "typed"];
        all.extend_from_slice(args);
        let out = server.cli(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {:?}", text(&out));
        assert!(
            text(&out).1.contains(expected),
            "{args:?}: {:?}",
            text(&out)
        );
    }
    // A backfill passes no params: a required one makes it impossible.
    let out = server.cli(&["backfill", "typed", "--dates", "2026-03-01"]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(
        text(&out)
            .1
            .contains("a backfill passes no params: param `dt` is required"),
        "{:?}",
        text(&out)
    );
    let id: i64 = server
        .ok(&[
            "workflow",
            "start",
            "typed",
            "-p",
            "dt=2026-01-31",
            "-p",
            "rows=10",
        ])
        .trim()
        .parse()
        .unwrap();
    let out = server.cli(&["instance", "wait", &id.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(
        server
            .cli(&["instance", "list", "--state", "bogus"])
            .status
            .code(),
        Some(2)
    );
    let out = server.cli(&["instance", "show", "999999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("workflow instance 999999 not found"));
}

#[test]
fn a_file_too_large_for_the_server_is_refused_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let mut yaml = String::from("name: huge\ntasks:\n");
    for i in 0..40_000 {
        yaml.push_str(&format!("  - {{name: task{i}, type: noop}}\n"));
    }
    let file = write(dir.path(), "huge.yaml", &yaml);
    let out = server.cli(&["workflow", "apply", "-f", path(&file)]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("more than the server accepts (1024 KiB)"),
        "{stderr}"
    );
    assert!(server.get("/workflows")["workflows"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_bad_file_means_nothing_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let files = dir.path().join("wf");
    std::fs::create_dir(&files).unwrap();
    write(
        &files,
        "a.yaml",
        "name: good\ntasks:\n  - {name: a, type: noop}\n",
    );
    write(
        &files,
        "b.yaml",
        "name: bad\ntasks:\n  - {name: a, type: noop, depends_on: [a2]}\n",
    );
    let out = server.cli(&["workflow", "apply", "-f", path(&files)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("b.yaml: task `a`: depends on `a2`"),
        "{:?}",
        text(&out)
    );
    assert_eq!(
        server.get("/workflows")["workflows"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn api_rejects_oversize_and_malformed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/api/v1/workflows", server.api);
    let huge = serde_json::json!({ "source": "x".repeat(2 << 20) });
    let r = client
        .post(&url)
        .bearer_auth(&server.token)
        .json(&huge)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // The server answers before reading the whole body and closes that connection.
    let client = reqwest::blocking::Client::new();
    let r = client
        .post(&url)
        .bearer_auth(&server.token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    let bad = serde_json::json!({ "source": "name: x\ntasks:\n  - {name: a, type: nope}\n", "file": "x.yaml" });
    let r = client
        .post(&url)
        .bearer_auth(&server.token)
        .json(&bad)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["error"]["code"], "invalid_workflow");
    assert_eq!(body["error"]["problems"][0]["task"], "a");
}

#[test]
fn retries_give_each_attempt_its_own_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "retry.yaml",
        "name: retry\ntasks:\n  - name: flaky\n    type: shell\n    retries: 2\n    retry_interval: 200ms\n    script: |\n      echo \"try $BATON_ATTEMPT\"\n      [ \"$BATON_ATTEMPT\" -ge 3 ]\n",
    );
    let id = server.start_workflow(&file, "retry", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded");
    let task = Standalone::task(&view, "flaky");
    assert_eq!(task["attempt"], 3);
    assert_eq!(task["retries_used"], 2);
    let states: Vec<_> = view["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["failed", "failed", "succeeded"]);
    let tid = task["id"].to_string();
    for attempt in 1..=3 {
        let log = server.ok(&["logs", &tid, "--attempt", &attempt.to_string()]);
        assert_eq!(log, format!("try {attempt}\n"));
    }
}

#[test]
fn exhausted_retries_fail_the_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "bad.yaml",
        "name: bad\ntasks:\n  - {name: a, type: shell, command: 'exit 7', retries: 1, retry_interval: 100ms}\n  - {name: b, type: noop, depends_on: [a]}\n",
    );
    let id = server.start_workflow(&file, "bad", &[]);
    let out = server.cli(&["instance", "wait", &id.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let view = server.instance(id);
    let a = Standalone::task(&view, "a");
    assert_eq!(
        (
            a["state"].as_str(),
            a["attempt"].as_i64(),
            a["exit_code"].as_i64()
        ),
        (Some("failed"), Some(2), Some(7))
    );
    assert_eq!(view["not_started"], serde_json::json!(["b"]));
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &["--kill-grace", "1s"]);
    let child_pid = dir.path().join("child.pid");
    let file = write(
        dir.path(),
        "slow.yaml",
        &format!(
            "name: slow\ntasks:\n  - name: sleepy\n    type: shell\n    timeout: 1s\n    script: |\n      sleep 1000 &\n      echo $! > {}\n      sleep 1000\n",
            child_pid.display()
        ),
    );
    let id = server.start_workflow(&file, "slow", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "failed");
    let task = Standalone::task(&view, "sleepy");
    assert_eq!(task["state"], "failed");
    assert!(
        task["message"].as_str().unwrap().contains("timed out"),
        "{task}"
    );
    let pid: i32 = std::fs::read_to_string(&child_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for(
        "the background child to be gone",
        Duration::from_secs(10),
        || (!alive(pid)).then_some(()),
    );
}

#[test]
fn stop_kills_running_tasks_and_their_children() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &["--kill-grace", "1s"]);
    let child_pid = dir.path().join("child.pid");
    let file = write(
        dir.path(),
        "stoppable.yaml",
        &format!(
            "name: stoppable\ntasks:\n  - name: forever\n    type: shell\n    script: |\n      sleep 1000 &\n      echo $! > {}\n      sleep 1000\n  - {{name: after, type: noop, depends_on: [forever]}}\n",
            child_pid.display()
        ),
    );
    let id = server.start_workflow(&file, "stoppable", &[]);
    let pid: i32 = wait_for("the task to start its child", LONG, || {
        std::fs::read_to_string(&child_pid)
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    assert!(alive(pid));
    assert!(server
        .ok(&["instance", "stop", &id.to_string()])
        .contains("stopping"));
    let out = server.cli(&["instance", "wait", &id.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).0.contains("stopped"));
    let view = server.instance(id);
    assert_eq!(Standalone::task(&view, "forever")["state"], "killed");
    assert_eq!(view["not_started"], serde_json::json!(["after"]));
    wait_for(
        "the background child to be gone",
        Duration::from_secs(10),
        || (!alive(pid)).then_some(()),
    );
    let again = server.cli(&["instance", "stop", &id.to_string()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).1.contains("already ended (stopped)"));
}

#[test]
fn failure_strategy_end_kills_the_other_running_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &["--kill-grace", "1s"]);
    let d = dir.path().display();
    let file = write(
        dir.path(),
        "end.yaml",
        &format!(
            "name: end\nfailure_strategy: end\ntasks:\n  - {{name: slow, type: shell, command: 'echo $$ > {d}/slow.pid; sleep 1000'}}\n  - name: bad\n    type: shell\n    script: |\n      while [ ! -f {d}/slow.pid ]; do sleep 0.05; done\n      exit 1\n  - {{name: after-bad, type: noop, depends_on: [bad]}}\n"
        ),
    );
    let id = server.start_workflow(&file, "end", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "failed");
    assert_eq!(Standalone::task(&view, "bad")["state"], "failed");
    assert_eq!(Standalone::task(&view, "slow")["state"], "killed");
    assert_eq!(view["not_started"], serde_json::json!(["after-bad"]));
    let pid: i32 = std::fs::read_to_string(dir.path().join("slow.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for(
        "the killed task to be gone",
        Duration::from_secs(10),
        || (!alive(pid)).then_some(()),
    );
}

#[test]
fn failure_strategy_continue_runs_independent_branches() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(
        dir.path(),
        "cont.yaml",
        "name: cont\nfailure_strategy: continue\ntasks:\n  - {name: bad, type: shell, command: 'exit 1'}\n  - {name: after-bad, type: noop, depends_on: [bad]}\n  - {name: other, type: shell, command: 'sleep 0.3'}\n  - {name: after-other, type: shell, command: 'true', depends_on: [other]}\n",
    );
    let id = server.start_workflow(&file, "cont", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "failed");
    assert_eq!(Standalone::task(&view, "bad")["state"], "failed");
    assert_eq!(Standalone::task(&view, "other")["state"], "succeeded");
    assert_eq!(Standalone::task(&view, "after-other")["state"], "succeeded");
    assert_eq!(view["not_started"], serde_json::json!(["after-bad"]));
}

/// Two ready tasks that each wait for the other to have started: they finish only if they
/// run at the same time.
#[test]
fn ready_tasks_run_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &["--slots", "2"]);
    let d = dir.path().display();
    let wait_other = |me: &str, other: &str| {
        format!("touch {d}/{me}; for i in $(seq 200); do [ -f {d}/{other} ] && exit 0; sleep 0.05; done; exit 1")
    };
    let file = write(
        dir.path(),
        "par.yaml",
        &format!(
            "name: par\ntasks:\n  - {{name: root, type: noop}}\n  - {{name: x, type: shell, depends_on: [root], command: '{}'}}\n  - {{name: y, type: shell, depends_on: [root], command: '{}'}}\n",
            wait_other("x", "y"),
            wait_other("y", "x")
        ),
    );
    let id = server.start_workflow(&file, "par", &[]);
    assert_eq!(server.wait_end(id, LONG)["instance"]["state"], "succeeded");
}

#[test]
fn logs_follow_prints_while_the_task_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let go = dir.path().join("go");
    let file = write(
        dir.path(),
        "follow.yaml",
        &format!(
            "name: follow\ntasks:\n  - name: talk\n    type: shell\n    script: |\n      echo first\n      while [ ! -f {} ]; do sleep 0.05; done\n      echo second\n",
            go.display()
        ),
    );
    let id = server.start_workflow(&file, "follow", &[]);
    let tid = wait_for("the task to run", LONG, || {
        let v = server.instance(id);
        let t = v["tasks"].as_array()?.first()?.clone();
        (t["state"] == "running").then(|| t["id"].to_string())
    });
    let mut child = std::process::Command::new(baton_bin())
        .args(["logs", &tid, "--follow"])
        .env("BATON_SERVER", &server.api)
        .env("BATON_TOKEN", &server.token)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut seen = String::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(seen.clone());
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the first line while running");
    assert_eq!(first, "first\n");
    std::fs::write(&go, "").unwrap();
    let status = wait_for("logs --follow to end", LONG, || child.try_wait().unwrap());
    assert!(status.success());
    let all: String = rx.try_iter().last().unwrap_or(first);
    assert_eq!(all, "first\nsecond\n");
}

#[test]
fn big_output_is_capped_with_a_marker() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(
        &dir.path().join("data"),
        None,
        &["--log-max-bytes", "10000"],
    );
    let file = write(
        dir.path(),
        "big.yaml",
        "name: big\ntasks:\n  - {name: loud, type: shell, command: 'head -c 5000000 /dev/zero | tr \"\\0\" x; echo'}\n",
    );
    let id = server.start_workflow(&file, "big", &[]);
    let view = server.wait_end(id, LONG);
    assert_eq!(view["instance"]["state"], "succeeded");
    let tid = Standalone::task(&view, "loud")["id"].to_string();
    let log = server.ok(&["logs", &tid]);
    assert!(log.len() < 11_000, "capped: {} bytes", log.len());
    assert!(log.starts_with("xxxx"));
    assert!(
        log.contains("log truncated"),
        "{}",
        &log[log.len().saturating_sub(200)..]
    );
}

#[test]
fn sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Standalone::start(&dir.path().join("data"), None, &[]);
    let status = server.terminate();
    assert!(
        status.success(),
        "exit status {status}: {}",
        server.log_text()
    );
    assert!(server.log_text().contains("stopped"));
}

#[test]
fn export_round_trips_through_apply_and_versions_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    server.ok(&["workflow", "apply", "-f", examples]);
    let scheduled = write(
        dir.path(),
        "nightly.yaml",
        "name: nightly\ntimezone: Europe/Berlin\nschedule: {cron: '0 0 2 * * *', misfire: skip, online: false}\ntasks:\n  - {name: a, type: shell, command: 'echo ${x}', params: {x: '$[yyyyMMdd-1]'}, timeout: 90s, retries: 2}\n  - {name: b, type: python, script: 'print(1)', depends_on: [a], failover: fail}\n",
    );
    server.ok(&["workflow", "apply", "-f", scheduled.to_str().unwrap()]);
    for (project, name) in [
        ("demo", "etl-retry"),
        ("demo", "branching"),
        ("demo", "nightly"),
        ("default", "fan-out-in"),
        ("default", "hello"),
        ("default", "nightly"),
        ("default", "sql-report"),
    ] {
        let yaml = server.ok(&["workflow", "export", name, "--project", project]);
        let file = write(dir.path(), &format!("{name}.exported.yaml"), &yaml);
        let out = server.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
        assert!(
            out.contains("unchanged (version 1)"),
            "{name}: {out}\n{yaml}"
        );
    }
    let changed = std::fs::read_to_string(&scheduled)
        .unwrap()
        .replace("print(1)", "print(2)");
    write(dir.path(), "nightly.yaml", &changed);
    server.ok(&["workflow", "apply", "-f", scheduled.to_str().unwrap()]);
    let versions = server.ok(&["workflow", "versions", "nightly"]);
    assert_eq!(
        versions.lines().count(),
        3,
        "a header and two versions: {versions}"
    );
    assert!(server
        .ok(&["workflow", "export", "nightly", "--version", "1"])
        .contains("print(1)"));
}
