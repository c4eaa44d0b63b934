//! The cluster under faults: an api, 2 masters and 3 workers on a PostgreSQL of the test's own
//! run 200 workflow instances of mixed shapes while a master and a worker are killed, a master
//! and a worker are paused past their session timeout, and PostgreSQL restarts. Then every
//! instance must have ended as its tasks dictate, with exactly one recorded outcome per
//! attempt, checked against a sink the tasks write outside Baton.

mod common;
use common::cluster::{Cluster, Options};
use common::pg::OwnPostgres;
use common::*;
use nix::sys::signal::Signal;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

fn workflows(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let sink = dir.join("sink");
    let s = sink.display();
    let mark = |what: &str| {
        format!("echo \"$BATON_TASK_INSTANCE_ID $BATON_ATTEMPT {what} $(date +%s%6N)\" >> {s}")
    };
    let task = |name: &str, deps: &str, body: &str| {
        format!(
            "  - name: {name}\n    type: shell\n    depends_on: [{deps}]\n    script: |\n      {}\n      {body}\n      {}\n",
            mark("start"),
            mark("end")
        )
    };
    let chain = format!(
        "name: chain\ntasks:\n{}{}{}",
        task("a", "", "sleep 0.3"),
        task("b", "a", "sleep 0.3"),
        task("c", "b", "sleep 0.3")
    );
    let mut fanout = format!("name: fanout\ntasks:\n{}", task("root", "", "sleep 0.1"));
    for i in 0..4 {
        fanout.push_str(&task(&format!("f{i}"), "root", "sleep 0.2"));
    }
    fanout.push_str("  - {name: join, type: noop, depends_on: [f0, f1, f2, f3]}\n");
    let retry = format!(
        "name: retry\ntasks:\n  - name: flaky\n    type: shell\n    retries: 3\n    retry_interval: 200ms\n    script: |\n      {}\n      if [ \"$BATON_ATTEMPT\" = 1 ]; then {}; exit 1; fi\n      sleep 0.2\n      {}\n",
        mark("start"),
        mark("end"),
        mark("end")
    );
    [("chain", chain), ("fanout", fanout), ("retry", retry)]
        .into_iter()
        .map(|(n, t)| (n.to_string(), write(dir, &format!("{n}.yaml"), &t)))
        .collect()
}

/// (task instance, attempt) → (starts, ends) with their times (µs).
type Sink = BTreeMap<(i64, i64), (Vec<i64>, Vec<i64>)>;

fn read_sink(dir: &Path) -> Sink {
    let mut sink: Sink = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("sink"))
        .unwrap_or_default()
        .lines()
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 4 {
            continue;
        }
        let key = (f[0].parse().unwrap(), f[1].parse().unwrap());
        let at: i64 = f[3].parse().unwrap();
        let e = sink.entry(key).or_default();
        if f[2] == "start" {
            e.0.push(at);
        } else {
            e.1.push(at);
        }
    }
    sink
}

fn ended(c: &Cluster, ids: &[i64]) -> usize {
    let Ok(v) = c.get("/instances?limit=1000") else {
        return 0;
    };
    v["instances"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| ids.contains(&i["id"].as_i64().unwrap_or(0)))
                .filter(|i| {
                    matches!(
                        i["state"].as_str(),
                        Some("succeeded" | "failed" | "stopped")
                    )
                })
                .count()
        })
        .unwrap_or(0)
}

/// Waits until `more` further instances have ended (progress between faults).
fn progress(c: &Cluster, ids: &[i64], more: usize) {
    let base = ended(c, ids);
    let target = (base + more).min(ids.len());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while ended(c, ids) < target {
        assert!(
            std::time::Instant::now() < deadline,
            "{target} instances did not end\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until a task runs on the worker at `address` (so that its loss loses something),
/// starting more chains while none does (the earlier ones may all be done).
fn busy(c: &Cluster, address: &str, ids: &mut Vec<i64>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let attempt_until = std::time::Instant::now() + Duration::from_secs(3);
        while std::time::Instant::now() < attempt_until {
            if running_on(c, address) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no task ever ran on {address}\n{}",
            c.logs()
        );
        for _ in 0..6 {
            ids.push(
                c.ok(&["workflow", "start", "chain"])
                    .trim()
                    .parse()
                    .unwrap(),
            );
        }
    }
}

fn running_on(c: &Cluster, address: &str) -> bool {
    let Ok(list) = c.get("/instances?state=running&limit=50") else {
        return false;
    };
    for i in list["instances"].as_array().into_iter().flatten() {
        let Ok(v) = c.get(&format!("/instances/{}", i["id"])) else {
            continue;
        };
        let tasks = v["tasks"].as_array().cloned().unwrap_or_default();
        if tasks
            .iter()
            .any(|t| t["state"] == "running" && t["worker"] == address)
        {
            return true;
        }
    }
    false
}

fn member_gone(c: &Cluster, address: &str) {
    wait_for(
        &format!("{address} to leave the registry"),
        Duration::from_secs(60),
        || {
            let v = c.get("/cluster").ok()?;
            (!v["members"].as_array()?.iter().any(|m| m["id"] == address)).then_some(())
        },
    );
}

fn member_back(c: &Cluster, address: &str) {
    wait_for(
        &format!("{address} to be back in the registry"),
        Duration::from_secs(60),
        || {
            let v = c.get("/cluster").ok()?;
            v["members"]
                .as_array()?
                .iter()
                .any(|m| m["id"] == address)
                .then_some(())
        },
    );
}

fn chaos(registry: &str, pg: &OwnPostgres) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(
        dir.path(),
        Options {
            database: &pg.url(),
            registry,
            masters: 2,
            workers: 3,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    let files = workflows(dir.path());
    let mut ids = Vec::new();
    for (_, file) in &files {
        c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    }
    for i in 0..200 {
        let (name, _) = &files[i % files.len()];
        ids.push(
            c.ok(&["workflow", "start", name])
                .trim()
                .parse::<i64>()
                .unwrap(),
        );
    }

    // A master crashes, and comes back.
    progress(&c, &ids, 10);
    c.masters[0].kill();
    progress(&c, &ids, 10);
    c.masters[0].restart();
    member_back(&c, &c.masters[0].address.clone());
    // A worker crashes, and comes back.
    busy(&c, &c.workers[0].address.clone(), &mut ids);
    c.workers[0].kill();
    progress(&c, &ids, 10);
    c.workers[0].restart();
    member_back(&c, &c.workers[0].address.clone());
    // A master pauses past its session timeout.
    c.masters[1].signal(Signal::SIGSTOP);
    member_gone(&c, &c.masters[1].address.clone());
    progress(&c, &ids, 5);
    c.masters[1].signal(Signal::SIGCONT);
    member_back(&c, &c.masters[1].address.clone());
    // A worker pauses past its session timeout.
    busy(&c, &c.workers[1].address.clone(), &mut ids);
    c.workers[1].signal(Signal::SIGSTOP);
    member_gone(&c, &c.workers[1].address.clone());
    progress(&c, &ids, 5);
    c.workers[1].signal(Signal::SIGCONT);
    member_back(&c, &c.workers[1].address.clone());
    // PostgreSQL restarts.
    pg.restart();

    let states = c.wait_all(&ids, Duration::from_secs(300));
    let bad: Vec<_> = states.iter().filter(|(_, s)| *s != "succeeded").collect();
    assert!(
        bad.is_empty(),
        "every instance succeeds: {bad:?}\n{}",
        c.logs()
    );
    verify(&c, &ids, &read_sink(dir.path()));
}

/// The history Baton recorded, checked against the sink.
fn verify(c: &Cluster, ids: &[i64], sink: &Sink) {
    let mut failovers = 0;
    for id in ids {
        let v: Value = c.get(&format!("/instances/{id}")).unwrap();
        let ended_at = common::time_us(&v["instance"]["ended_at"]).unwrap();
        let mut history: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
        for a in v["attempts"].as_array().unwrap() {
            history
                .entry(a["task_instance_id"].as_i64().unwrap())
                .or_default()
                .push((
                    a["attempt"].as_i64().unwrap(),
                    a["state"].as_str().unwrap().to_string(),
                ));
        }
        for t in v["tasks"].as_array().unwrap() {
            let tid = t["id"].as_i64().unwrap();
            let n = t["attempt"].as_i64().unwrap();
            let attempts = history.remove(&tid).unwrap_or_default();
            // Exactly one recorded outcome per attempt, for every attempt.
            let numbers: Vec<i64> = attempts.iter().map(|(a, _)| *a).collect();
            assert_eq!(
                numbers,
                (1..=n).collect::<Vec<_>>(),
                "task instance {tid}: {attempts:?}"
            );
            assert_eq!(t["state"], "succeeded", "task instance {tid}");
            if t["task_name"] == "join" {
                continue;
            }
            for (attempt, state) in &attempts {
                if state == "need_failover" {
                    failovers += 1;
                }
                let (starts, ends) = sink.get(&(tid, *attempt)).cloned().unwrap_or_default();
                // Nothing started after its instance was done.
                assert!(
                    starts.iter().all(|s| *s <= ended_at),
                    "task instance {tid} attempt {attempt} ({state}) started at {starts:?} (ended \
                     {ends:?}), after instance {id} ended at {ended_at}; its attempts: {:#}\n{}",
                    v["attempts"],
                    c.logs()
                );
                if state == "succeeded" {
                    assert_eq!(
                        (starts.len(), ends.len()),
                        (1, 1),
                        "succeeded attempt {tid}/{attempt} ran exactly once: {starts:?} {ends:?}"
                    );
                }
            }
            // Two attempts of one task overlap only across a failover, whose old attempt was
            // not the one recorded as succeeded.
            for (i, (a1, s1)) in attempts.iter().enumerate() {
                for (a2, _) in attempts.iter().skip(i + 1) {
                    let (st1, en1) = sink.get(&(tid, *a1)).cloned().unwrap_or_default();
                    let (st2, _) = sink.get(&(tid, *a2)).cloned().unwrap_or_default();
                    let (Some(b1), Some(b2)) = (st1.first(), st2.first()) else {
                        continue;
                    };
                    let e1 = en1.first().copied().unwrap_or(i64::MAX);
                    if *b2 < e1 && *b1 <= *b2 {
                        assert_eq!(s1, "need_failover", "attempts {a1} and {a2} of task instance {tid} overlapped without a failover");
                    }
                }
            }
        }
    }
    assert!(failovers > 0, "failovers show in the history");
}

#[test]
fn chaos_on_the_db_registry() {
    let pg = OwnPostgres::start();
    chaos("db", &pg);
}

#[test]
fn chaos_on_the_etcd_registry() {
    let pg = OwnPostgres::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let etcd = rt.block_on(baton_registry::testing::EtcdServer::start());
    chaos(&format!("etcd://{}", etcd.host()), &pg);
    drop(etcd);
}
