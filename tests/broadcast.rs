//! `broadcast: true` through real `baton` processes: refused at its line on a task type it
//! does not fit; on a 2-master cluster with 3 workers in one group, a broadcast task runs
//! exactly once on each worker; with one worker SIGKILLed while the items run, that item
//! fails, the others succeed, the task and the instance fail, and nothing runs again on
//! another worker; a recover then runs only that item, and it fails again: its worker is
//! gone. A sink outside Baton (one file per attempt, named by the worker its
//! `${system.worker.id}` says) shows what ran where.

mod common;
use common::cluster::{Cluster, Options};
use common::pg::OwnPostgres;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

#[test]
fn broadcast_is_refused_at_its_line_on_a_noop_task_and_with_map() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused_by_run(dir.path(), "name: bad\nparams: {l: '[1]'}\ntasks:\n  - name: n\n    type: noop\n    broadcast: true\n  - name: m\n    type: shell\n    command: echo ${x}\n    map: {over: '${l}', as: x}\n    broadcast: true\n");
    assert!(
        stderr.contains("line 6") && stderr.contains("a noop task cannot be broadcast"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 11") && stderr.contains("cannot go together"),
        "{stderr}"
    );
}

/// Each item leaves `sink/<run>+<worker>+<attempt>+<pid>`;
/// a run named in a `hold-<run>` file waits until the file `release` exists.
fn workflow(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"name: stamp
params: {{run: one}}
tasks:
  - name: stamp
    type: shell
    broadcast: true
    command: |
      w=${{system.worker.id}}
      touch "{d}/sink/${{run}}+$w+$BATON_ATTEMPT+$$"
      if [ -e {d}/hold-${{run}} ]; then
        while [ ! -e {d}/release ]; do sleep 0.1; done
      fi
      echo '${{setValue(worker='${{system.worker.id}}')}}'
"#
    )
}

/// Attempts per worker id (and their attempt numbers) of one run, from the sink.
fn ran(dir: &Path, run: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_worker: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("sink")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let parts: Vec<&str> = name.split('+').collect();
        if let [r, worker, attempt, _pid] = parts[..] {
            if r == run {
                by_worker
                    .entry(worker.to_string())
                    .or_default()
                    .push(attempt.into());
            }
        }
    }
    by_worker
}

/// The items of the instance's broadcast task, by worker id.
fn items(c: &Cluster, id: i64) -> BTreeMap<String, Value> {
    let page = c
        .get(&format!("/instances/{id}/items?task=stamp&limit=64"))
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let name = item["task_name"].as_str().unwrap();
            let worker = name
                .strip_prefix("stamp[")
                .and_then(|n| n.strip_suffix(']'))
                .unwrap_or_else(|| panic!("an item named by its worker: {name}"));
            (worker.to_string(), item.clone())
        })
        .collect()
}

fn start(c: &Cluster, run: &str) -> i64 {
    let param = format!("run={run}");
    c.ok(&["workflow", "start", "stamp", "--param", &param])
        .trim()
        .parse()
        .unwrap()
}

fn view(c: &Cluster, id: i64) -> Value {
    c.get(&format!("/instances/{id}")).unwrap()
}

#[test]
fn broadcast_on_3_workers_runs_once_on_each_and_with_one_sigkilled_fails_only_its_item() {
    let pg = OwnPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sink")).unwrap();
    let mut c = Cluster::start(
        dir.path(),
        Options {
            database: &pg.url(),
            registry: "db",
            masters: 2,
            workers: 3,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    let workers: Vec<String> = c.workers.iter().map(|w| w.address.clone()).collect();
    let file = write(dir.path(), "stamp.yaml", &workflow(dir.path()));
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    // Each master learns the registry's workers a heartbeat after the API does, and either
    // may take an instance: runs until a run owned by each master had an item on each of
    // the 3.
    let mut seen_by: std::collections::BTreeSet<String> = Default::default();
    wait_for(
        "a broadcast run of each master to see all 3 workers",
        Duration::from_secs(60),
        || {
            let id = start(&c, "warm");
            c.wait_all(&[id], Duration::from_secs(60));
            if items(&c, id).len() == 3 {
                let owner = view(&c, id)["instance"]["owner"].as_str()?.to_string();
                seen_by.insert(owner);
            }
            (seen_by.len() == 2).then_some(())
        },
    );

    // Once on each worker, and nowhere twice.
    let id = start(&c, "one");
    let states = c.wait_all(&[id], Duration::from_secs(120));
    assert_eq!(states[&id], "succeeded", "{}", c.logs());
    let one = ran(dir.path(), "one");
    let mut expected: Vec<String> = workers.clone();
    expected.sort();
    assert_eq!(one.keys().cloned().collect::<Vec<_>>(), expected);
    for (worker, attempts) in &one {
        assert_eq!(attempts, &vec!["1".to_string()], "on {worker}");
    }
    let by_worker = items(&c, id);
    assert_eq!(by_worker.len(), 3);
    for (worker, item) in &by_worker {
        assert_eq!(item["state"], "succeeded", "{item:#}");
        assert_eq!(item["worker"], worker.as_str(), "ran on its own worker");
    }
    let stamp = Standalone::task(&view(&c, id), "stamp").clone();
    assert_eq!(stamp["message"], "all 3 items succeeded");

    // All 3 running, then one worker is SIGKILLed.
    std::fs::write(dir.path().join("hold-two"), "").unwrap();
    let id = start(&c, "two");
    wait_for("all 3 items to run", Duration::from_secs(60), || {
        (ran(dir.path(), "two").len() == 3).then_some(())
    });
    let killed = workers[1].clone();
    c.workers[1].kill();
    std::fs::write(dir.path().join("release"), "").unwrap();
    let states = c.wait_all(&[id], Duration::from_secs(120));
    assert_eq!(states[&id], "failed", "{}", c.logs());
    let by_worker = items(&c, id);
    for (worker, item) in &by_worker {
        if *worker == killed {
            assert_eq!(item["state"], "failed", "{item:#}");
            let message = item["message"].as_str().unwrap_or("");
            assert!(message.contains("not run again elsewhere"), "{item:#}");
        } else {
            assert_eq!(item["state"], "succeeded", "{item:#}");
        }
    }
    let stamp = Standalone::task(&view(&c, id), "stamp").clone();
    assert_eq!(stamp["state"], "failed");
    assert_eq!(
        stamp["message"],
        format!("1 of 3 items failed: [{killed}]").as_str()
    );
    let two = ran(dir.path(), "two");
    assert_eq!(two.keys().cloned().collect::<Vec<_>>(), expected);
    for (worker, attempts) in &two {
        assert_eq!(
            attempts,
            &vec!["1".to_string()],
            "nothing ran again on {worker}"
        );
    }

    // A recover runs only the failed item, on its own worker: gone, it fails again.
    c.ok(&["instance", "recover", &id.to_string()]);
    let stamp = wait_for(
        "the recovered broadcast task to end",
        Duration::from_secs(120),
        || {
            let v = view(&c, id);
            let stamp = Standalone::task(&v, "stamp").clone();
            let ended = matches!(stamp["state"].as_str(), Some("succeeded" | "failed"));
            let final_ = v["instance"]["state"] == "failed";
            (stamp["attempt"] == 2 && ended && final_).then_some(stamp)
        },
    );
    assert_eq!(stamp["state"], "failed", "{stamp:#}");
    let item = &items(&c, id)[&killed];
    assert_eq!(item["attempt"], 2, "{item:#}");
    let message = item["message"].as_str().unwrap_or("");
    assert_eq!(
        message,
        format!("worker `{killed}` is gone: a broadcast item runs only on its own worker"),
        "{item:#}"
    );
    assert_eq!(
        ran(dir.path(), "two"),
        two,
        "nothing ran: not elsewhere, not again"
    );
}
