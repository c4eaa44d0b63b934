//! `map_reduce:` through real `baton` processes: a python split step adds 50 sub-tasks
//! (`${addTask(…)}` lines), which run 8 at a time, some failing their first attempt and
//! succeeding on their retry; the reduce reads every sub-task's outputs and its own output
//! reaches the task after it. A sink outside Baton (one file per attempt of a sub-task) shows
//! what ran; the same on a 2-master cluster whose master is SIGKILLed while the sub-tasks
//! run. Also: a bad `map_reduce:` refused at its line, a sub-task list from
//! `$BATON_TASK_DIR/subtasks.jsonl`, and a split adding more than `max_items`.

mod common;
use common::cluster::{Cluster, Options};
use common::pg::OwnPostgres;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The workflow: `crunch` splits into `count` sub-tasks; sub-task `partN` squares N (after
/// `pause` seconds) and leaves `sink/partN.ATTEMPT.PID`, failing its first attempt when N
/// ends in 7; the reduce writes the outputs it saw to `report.json` and sets `total`, which
/// `after` writes to `total`.
fn workflow(dir: &Path, count: usize, pause: f64) -> String {
    let d = dir.display();
    format!(
        r#"name: crunching
tasks:
  - name: crunch
    type: python
    retries: 1
    retry_interval: 1s
    script: |
      for p in range({count}):
          print("${{addTask(name=part%d, args=%d)}}" % (p, p))
    map_reduce:
      parallel: 8
      run: |
        import os, sys, time
        n = int(${{subtask.args}})
        attempt = os.environ["BATON_ATTEMPT"]
        open("{d}/sink/%s.%s.%d" % (${{subtask.name}}, attempt, os.getpid()), "w").close()
        time.sleep({pause})
        if n % 10 == 7 and attempt == "1":
            sys.exit(1)
        print("${{setValue(square=%d)}}" % (n * n))
      reduce: |
        import json
        outputs = json.loads(${{subtasks.outputs}})
        open("{d}/report.json", "w").write(json.dumps(outputs))
        print("${{setValue(total=%d)}}" % sum(int(o["square"]) for o in outputs))
  - name: after
    type: shell
    depends_on: [crunch]
    command: printf '%s' "${{total}}" > {d}/total
"#
    )
}

/// Attempts per sub-task, from the sink.
fn attempts(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("sink")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let mut parts = name.split('.');
        let (task, attempt) = (parts.next().unwrap(), parts.next().unwrap());
        seen.entry(task.to_string())
            .or_default()
            .push(attempt.to_string());
    }
    for attempts in seen.values_mut() {
        attempts.sort();
    }
    seen
}

#[test]
fn map_reduce_with_50_sub_tasks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sink")).unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(dir.path(), "crunching.yaml", &workflow(dir.path(), 50, 0.0));
    let id = server.start_workflow(&file, "crunching", &[]);
    let view = server.wait_end(id, Duration::from_secs(180));
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    let crunch = Standalone::task(&view, "crunch");
    assert_eq!(crunch["state"], "succeeded");
    assert_eq!(crunch["message"], "50 sub-tasks and the reduce succeeded");

    let seen = attempts(dir.path());
    assert_eq!(seen.len(), 50, "every sub-task ran: {seen:?}");
    for (task, attempts) in &seen {
        let n: usize = task.trim_start_matches("part").parse().unwrap();
        let expected: Vec<&str> = if n % 10 == 7 {
            vec!["1", "2"]
        } else {
            vec!["1"]
        };
        assert_eq!(attempts, &expected, "attempts of {task}");
    }
    check_report(dir.path(), 50);

    // The items page, 16 at a time: the reduce and split first, then the sub-tasks in order.
    let mut names: Vec<String> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = server.get(&format!(
            "/instances/{id}/items?task=crunch&limit=16{cursor}"
        ));
        for t in page["items"].as_array().unwrap() {
            names.push(t["task_name"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(names.len(), 52, "{names:?}");
    assert_eq!(
        &names[..3],
        ["crunch[reduce]", "crunch[split]", "crunch[part0]"]
    );
    assert_eq!(names[51], "crunch[part49]");
}

/// The reduce's report: every sub-task's outputs, in the order added.
fn check_report(dir: &Path, count: usize) {
    let report: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report.len(),
        count,
        "the reduce saw every sub-task's outputs"
    );
    for (n, outputs) in report.iter().enumerate() {
        assert_eq!(
            outputs["square"],
            (n * n).to_string(),
            "sub-task {n}, in order"
        );
    }
    let total: usize = (0..count).map(|n| n * n).sum();
    let written = std::fs::read_to_string(dir.join("total")).unwrap();
    assert_eq!(
        written,
        total.to_string(),
        "downstream sees the reduce's output"
    );
}

#[test]
fn map_reduce_on_a_cluster_survives_its_master_being_killed_mid_sub_tasks() {
    let pg = OwnPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sink")).unwrap();
    let mut c = Cluster::start(
        dir.path(),
        Options {
            database: &pg.url(),
            registry: "db",
            masters: 2,
            workers: 2,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    let file = write(dir.path(), "crunching.yaml", &workflow(dir.path(), 50, 0.3));
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let id: i64 = c
        .ok(&["workflow", "start", "crunching"])
        .trim()
        .parse()
        .unwrap();
    wait_for(
        "some sub-tasks to have run",
        Duration::from_secs(60),
        || (attempts(dir.path()).len() >= 10).then_some(()),
    );
    let owner = c.get(&format!("/instances/{id}")).unwrap()["instance"]["owner"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let index = c
        .masters
        .iter()
        .position(|m| m.address == owner)
        .unwrap_or(0);
    c.masters[index].kill();
    let states = c.wait_all(&[id], Duration::from_secs(180));
    assert_eq!(states[&id], "succeeded", "{}", c.logs());
    check_report(dir.path(), 50);
    let seen = attempts(dir.path());
    assert_eq!(seen.len(), 50, "every sub-task ran");
    // No attempt ran twice (an attempt written off as lost runs again as a new number).
    for (task, attempts) in &seen {
        let mut unique = attempts.clone();
        unique.dedup();
        assert_eq!(&unique, attempts, "an attempt of {task} ran twice");
    }
}

#[test]
fn sub_tasks_come_from_the_task_dir_file_too_and_max_items_bounds_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let yaml = format!(
        r#"name: from-file
failure_strategy: continue
tasks:
  - name: split
    type: shell
    command: |
      for c in a b c; do echo "{{\"name\": \"$c\", \"args\": \"$c$c\"}}"; done > "$BATON_TASK_DIR/subtasks.jsonl"
    map_reduce:
      run: echo '${{setValue(out='"${{subtask.args}}"')}}'
      reduce: printf '%s' "${{subtasks.outputs}}" > {d}/outputs.json
  - name: too-many
    type: shell
    command: for p in 1 2 3; do echo "\${{addTask(name=p$p)}}"; done
    map_reduce: {{run: 'true', reduce: 'true', max_items: 2}}
"#
    );
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(dir.path(), "from-file.yaml", &yaml);
    let id = server.start_workflow(&file, "from-file", &[]);
    let view = server.wait_end(id, Duration::from_secs(60));
    assert_eq!(
        Standalone::task(&view, "split")["state"],
        "succeeded",
        "{view:#}"
    );
    let outputs = std::fs::read_to_string(dir.path().join("outputs.json")).unwrap();
    assert_eq!(outputs, r#"[{"out":"aa"},{"out":"bb"},{"out":"cc"}]"#);
    let too_many = Standalone::task(&view, "too-many");
    assert_eq!(too_many["state"], "failed");
    assert_eq!(
        too_many["message"],
        "the split step failed: the split step added 3 sub-tasks, more than this task's limit of 2 (map_reduce.max_items)"
    );
}

#[test]
fn a_bad_map_reduce_is_refused_before_anything_runs_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused_by_run(dir.path(), "name: bad\ntasks:\n  - name: crunch\n    type: shell\n    command: split\n    map_reduce:\n      run: work\n      parallel: 0\n");
    assert!(
        stderr.contains("line 6") && stderr.contains("`map_reduce` needs `reduce`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 8") && stderr.contains("map_reduce.parallel: 0"),
        "{stderr}"
    );
}
