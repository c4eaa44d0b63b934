//! `map:` through real `baton` processes: checked at apply with the line of each problem; a
//! map over 200 items whose list comes from an upstream output, with retries, failed items,
//! and a recover that runs only those again; the same on a 2-master cluster whose master is
//! SIGKILLed while the items run. A sink outside Baton (one file per attempt of an item)
//! shows what ran.

mod common;
use common::cluster::{Cluster, Options};
use common::pg::OwnPostgres;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

#[test]
fn a_bad_map_is_refused_before_anything_runs_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused_by_run(dir.path(), "name: bad\nparams: {parts: '[1]'}\ntasks:\n  - name: load\n    type: shell\n    command: echo ${part}\n    map:\n      over: p1,p2\n      as: part\n      parallel: 0\n");
    assert!(
        stderr.contains("line 8") && stderr.contains("map.over: `p1,p2` is not a reference"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 10") && stderr.contains("map.parallel: 0"),
        "{stderr}"
    );
}

/// A workflow whose first task lists `items` numbers, mapped 16 at a time: an item whose
/// number ends in 3 fails its first attempt (then its retry succeeds); one whose number is
/// 7 modulo 50 fails until the file `fixed` exists. Every attempt of an item leaves a file
/// in `sink`; the task after the map writes the items' outputs to `report.json`.
fn workflow(dir: &Path, items: usize) -> String {
    let d = dir.display();
    format!(
        r#"name: mapped
tasks:
  - name: list
    type: shell
    command: echo '${{setValue(parts=['$(seq -s, 0 {last})'])}}'
  - name: load
    type: shell
    depends_on: [list]
    retries: 1
    retry_interval: 1s
    map: {{over: '${{parts}}', as: n, parallel: 16, failure: continue}}
    command: |
      n=${{n}}
      touch {d}/sink/$n.$BATON_ATTEMPT.$$
      if [ $((n % 10)) -eq 3 ] && [ ! -e {d}/sink/retried-$n ]; then touch {d}/sink/retried-$n; exit 1; fi
      if [ $((n % 50)) -eq 7 ] && [ ! -e {d}/fixed ]; then exit 1; fi
      echo '${{setValue(square='$((n * n))')}}'
  - name: report
    type: shell
    depends_on: [load]
    command: printf '%s' "${{load.outputs}}" > {d}/report.json
"#,
        last = items - 1
    )
}

/// Attempts per item, from the sink.
fn attempts(dir: &Path) -> BTreeMap<u32, usize> {
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("sink")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if let Some(n) = name.split('.').next().and_then(|n| n.parse().ok()) {
            *counts.entry(n).or_insert(0) += 1;
        }
    }
    counts
}

fn tasks_named<'a>(view: &'a Value, prefix: &str) -> Vec<&'a Value> {
    view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["task_name"].as_str().unwrap_or("").starts_with(prefix))
        .collect()
}

/// Every item of the mapped task `task`, read a page at a time from the API.
fn items(get: impl Fn(&str) -> Value, id: i64, task: &str, state: Option<&str>) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/instances/{id}/items?task={task}&limit=64");
        if let Some(state) = state {
            path.push_str(&format!("&state={state}"));
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = get(&path);
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return all,
        }
    }
}

/// Checks a finished first run: every item ran, the retried ones twice, the failing ones
/// failed after their retry, the mapped task says which.
fn check_first_run(dir: &Path, view: &Value, items: usize) {
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    let load = Standalone::task(view, "load");
    assert_eq!(load["state"], "failed");
    let failing: Vec<usize> = (0..items).filter(|n| n % 50 == 7).collect();
    let message = load["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with(&format!("{} of {items} items failed: [7]", failing.len())),
        "{message}"
    );
    let counts = attempts(dir);
    assert_eq!(counts.len(), items, "every item ran");
    for (n, count) in &counts {
        let expected = if n % 10 == 3 || n % 50 == 7 { 2 } else { 1 };
        assert_eq!(*count, expected, "attempts of item {n}");
    }
    assert!(
        tasks_named(view, "load[").is_empty(),
        "items are listed apart"
    );
    let counts = &load["map"]["mapped"];
    assert_eq!(counts["items"], items, "{load:#}");
    assert_eq!(counts["not_started"], 0);
}

/// After the recover: only the failed items ran again, and the report has every square.
fn check_recovered(dir: &Path, view: &Value, items: usize) {
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    for (n, count) in attempts(dir) {
        let expected = match (n % 10 == 3, n % 50 == 7) {
            (_, true) => 3,
            (true, false) => 2,
            (false, false) => 1,
        };
        assert_eq!(count, expected, "attempts of item {n} after the recover");
    }
    let report: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report.len(), items);
    for (n, outputs) in report.iter().enumerate() {
        assert_eq!(outputs["square"], (n * n).to_string(), "item {n}");
    }
}

#[test]
fn a_map_of_200_items_from_an_upstream_output_retries_and_recovers_only_failed_items() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sink")).unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let file = write(dir.path(), "mapped.yaml", &workflow(dir.path(), 200));
    let id = server.start_workflow(&file, "mapped", &[]);
    let view = server.wait_end(id, Duration::from_secs(180));
    check_first_run(dir.path(), &view, 200);
    let all = items(|p| server.get(p), id, "load", None);
    let indexes: Vec<i64> = all
        .iter()
        .map(|t| t["map"]["item"]["index"].as_i64().unwrap())
        .collect();
    assert_eq!(
        indexes,
        (0..200).collect::<Vec<i64>>(),
        "every item once, in list order"
    );
    let failed = items(|p| server.get(p), id, "load", Some("failed"));
    let names: Vec<&str> = failed
        .iter()
        .map(|t| t["task_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["load[7]", "load[57]", "load[107]", "load[157]"]);
    let show = server.ok(&["instance", "show", &id.to_string()]);
    let counted =
        format!("load: 200 items: 4 failed, 196 succeeded (baton instance items {id} load)");
    assert!(show.contains(&counted), "{show}");
    // The mapped task has no outputs of its own to pass on: its items are marked instead.
    let load_id = Standalone::task(&view, "load")["id"].as_i64().unwrap();
    let refused = server
        .request(
            reqwest::Method::POST,
            &format!("/task-instances/{load_id}/mark-success"),
        )
        .send()
        .unwrap();
    assert_eq!(refused.status(), 409);
    let text = refused.text().unwrap();
    assert!(
        text.contains("mark its failed items succeeded instead"),
        "{text}"
    );
    let listed = server.ok(&[
        "instance",
        "items",
        &id.to_string(),
        "load",
        "--state",
        "failed",
    ]);
    assert_eq!(
        listed.lines().filter(|l| l.contains("load[")).count(),
        4,
        "{listed}"
    );
    assert!(
        tasks_named(&view, "report").is_empty(),
        "report waits for every item: {view:#}"
    );

    std::fs::write(dir.path().join("fixed"), "").unwrap();
    server.ok(&["instance", "recover", &id.to_string()]);
    let view = wait_for(
        "the recovered instance to end",
        Duration::from_secs(120),
        || {
            // The mapped task's second attempt has ended (its first ended before the recover).
            let v = server.instance(id);
            let load = Standalone::task(&v, "load");
            let ended = matches!(load["state"].as_str(), Some("succeeded" | "failed"));
            let final_ = matches!(
                v["instance"]["state"].as_str(),
                Some("succeeded" | "failed")
            );
            (load["attempt"] == 2 && ended && final_).then_some(v)
        },
    );
    check_recovered(dir.path(), &view, 200);
}

#[test]
fn a_map_on_a_cluster_survives_its_master_being_killed_and_runs_no_item_twice() {
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
    std::fs::write(dir.path().join("fixed"), "").unwrap();
    let file = write(dir.path(), "mapped.yaml", &workflow(dir.path(), 120));
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let id: i64 = c
        .ok(&["workflow", "start", "mapped"])
        .trim()
        .parse()
        .unwrap();
    wait_for("some items to have run", Duration::from_secs(60), || {
        (attempts(dir.path()).len() >= 20).then_some(())
    });
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
    // With `fixed` there, only the items ending in 3 fail once. An item may run once more
    // only if the failover wrote an attempt of it off as lost (its history shows it).
    let rows = items(|p| c.get(p).unwrap(), id, "load", None);
    assert_eq!(rows.len(), 120);
    let counts = attempts(dir.path());
    assert_eq!(counts.len(), 120, "every item ran");
    for (n, count) in counts {
        let row = &rows[usize::try_from(n).unwrap()];
        let detail = c.get(&format!("/task-instances/{}", row["id"])).unwrap();
        let written_off = detail["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["state"] == "need_failover")
            .count();
        // A written-off attempt may have run or not (a dispatch lost in flight).
        let base = usize::from(n % 10 == 3) + 1;
        assert!(
            (base..=base + written_off).contains(&count),
            "item {n} ran {count} times: {detail:#}"
        );
    }
    let mut runs: BTreeMap<String, usize> = BTreeMap::new();
    for entry in std::fs::read_dir(dir.path().join("sink")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if let Some((attempt, _pid)) = name.rsplit_once('.') {
            *runs.entry(attempt.to_string()).or_insert(0) += 1;
        }
    }
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "attempts that ran twice: {twice:?}");
}
