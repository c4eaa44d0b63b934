//! A cluster of real processes (api, masters, workers) on one PostgreSQL database: work is
//! spread, and it survives masters and workers killed with SIGKILL.

mod common;
use common::cluster::{Cluster, Options};
use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A chain of three tasks, each writing its start and end to a sink outside Baton.
fn chain(dir: &Path) -> std::path::PathBuf {
    let sink = dir.join("sink");
    let step = |name: &str, deps: &str| {
        format!(
            "  - name: {name}\n    type: shell\n    depends_on: [{deps}]\n    script: |\n      echo \"$BATON_TASK_INSTANCE_ID $BATON_ATTEMPT start\" >> {s}\n      sleep 0.3\n      echo \"$BATON_TASK_INSTANCE_ID $BATON_ATTEMPT end\" >> {s}\n",
            s = sink.display()
        )
    };
    let text = format!(
        "name: chain\ntasks:\n{}{}{}",
        step("a", ""),
        step("b", "a"),
        step("c", "b")
    );
    write(dir, "chain.yaml", &text)
}

/// (task instance, attempt) → how many times each event was written to the sink.
fn sink(dir: &Path) -> BTreeMap<(i64, i64), (usize, usize)> {
    let mut seen: BTreeMap<(i64, i64), (usize, usize)> = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("sink"))
        .unwrap_or_default()
        .lines()
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let key = (f[0].parse().unwrap(), f[1].parse().unwrap());
        let e = seen.entry(key).or_default();
        if f[2] == "start" {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    seen
}

fn start_many(c: &Cluster, n: usize) -> Vec<i64> {
    (0..n)
        .map(|_| {
            c.ok(&["workflow", "start", "chain"])
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

/// Every succeeded attempt in Baton's history ran exactly once in the sink.
fn check_history(c: &Cluster, ids: &[i64], dir: &Path) {
    let sink = sink(dir);
    for id in ids {
        let v = c.get(&format!("/instances/{id}")).unwrap();
        assert_eq!(v["instance"]["state"], "succeeded", "{v:#}\n{}", c.logs());
        for a in v["attempts"].as_array().unwrap() {
            let key = (
                a["task_instance_id"].as_i64().unwrap(),
                a["attempt"].as_i64().unwrap(),
            );
            if a["state"] == "succeeded" {
                assert_eq!(
                    sink.get(&key),
                    Some(&(1, 1)),
                    "attempt {key:?} ran once: {a}"
                );
            }
        }
    }
}

fn run_cluster(registry: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(
        dir.path(),
        Options {
            database: &db.url,
            registry,
            masters: 2,
            workers: 2,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    let status = c.ok(&["cluster", "status"]);
    assert_eq!(status.matches("master ").count(), 2, "{status}");
    assert_eq!(status.matches("worker ").count(), 2, "{status}");

    let api_load = |c: &Cluster| {
        let v = c.get("/cluster").ok()?;
        let api = c.api.address.clone();
        v["members"]
            .as_array()?
            .iter()
            .find(|m| m["id"] == api)
            .map(|m| m["load"].clone())
    };
    let api_at_start = wait_for("the api member", Duration::from_secs(10), || api_load(&c));

    let file = chain(dir.path());
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let mut first = start_many(&c, 20);
    // The api member's heartbeats carry its host's load of the moment, not that of its start.
    wait_for(
        "the api member's load to be sampled again",
        Duration::from_secs(30),
        || api_load(&c).filter(|l| *l != api_at_start),
    );
    // Both masters own some instances before one dies. Which master takes a start is
    // whichever polls first, so more are started (now and then) until both own some.
    let mut looks = 0;
    wait_for(
        "both masters to own instances",
        Duration::from_secs(60),
        || {
            let v = c.get("/cluster").ok()?;
            let owners = v["owners"].as_object()?;
            if owners.len() >= 2 {
                return Some(());
            }
            looks += 1;
            if looks % 20 == 0 {
                first.extend(start_many(&c, 5));
            }
            None
        },
    );
    c.masters[0].kill();
    let states = c.wait_all(&first, Duration::from_secs(120));
    assert!(
        states.values().all(|s| s == "succeeded"),
        "{states:?}\n{}",
        c.logs()
    );
    assert!(
        c.masters[1]
            .log_text()
            .contains("adopted workflow instance"),
        "the surviving master adopted the dead one's instances\n{}",
        c.logs()
    );

    let second = start_many(&c, 10);
    wait_for(
        "a task running on worker 0",
        Duration::from_secs(30),
        || {
            let v = c.get("/cluster").ok()?;
            let w0 = &c.workers[0].address;
            v["members"]
                .as_array()?
                .iter()
                .any(|m| m["id"] == *w0 && m["load"]["running"].as_u64() > Some(0))
                .then_some(())
        },
    );
    c.workers[0].kill();
    let states = c.wait_all(&second, Duration::from_secs(120));
    assert!(
        states.values().all(|s| s == "succeeded"),
        "{states:?}\n{}",
        c.logs()
    );

    let all: Vec<i64> = first.iter().chain(&second).copied().collect();
    check_history(&c, &all, dir.path());
    let failovers: usize = second
        .iter()
        .map(|id| {
            let v = c.get(&format!("/instances/{id}")).unwrap();
            v["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["state"] == "need_failover")
                .count()
        })
        .sum();
    assert!(
        failovers > 0,
        "the worker's attempts show as failovers\n{}",
        c.logs()
    );
    drop(c);
    drop(db);
}

#[test]
fn cluster_on_the_db_registry_survives_a_master_and_a_worker_kill() {
    run_cluster("db");
}

#[test]
fn cluster_on_the_etcd_registry_survives_a_master_and_a_worker_kill() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let etcd = rt.block_on(baton_registry::testing::EtcdServer::start());
    run_cluster(&format!("etcd://{}", etcd.host()));
    drop(etcd);
}

/// The worker running the only task of instance `id`, once it runs.
fn running_on(c: &Cluster, id: i64) -> String {
    wait_for("the task to run", Duration::from_secs(60), || {
        let v = c.get(&format!("/instances/{id}")).ok()?;
        let t = v["tasks"].as_array()?.first()?.clone();
        (t["state"] == "running").then(|| t["worker"].as_str().unwrap().to_string())
    })
}

fn exit_status(p: &mut common::cluster::Proc) -> std::process::ExitStatus {
    let child = p.child.as_mut().expect("running");
    wait_for(
        &format!("{} to exit", p.name),
        Duration::from_secs(60),
        || child.try_wait().unwrap(),
    )
}

#[test]
fn graceful_stops_hand_work_over_and_failover_fail_is_honoured() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(
        dir.path(),
        Options {
            database: &db.url,
            registry: "db",
            masters: 2,
            workers: 2,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    let slow = write(
        dir.path(),
        "slow.yaml",
        "name: slow\ntasks:\n  - {name: t, type: shell, command: 'sleep 2; echo done'}\n",
    );
    let once = write(
        dir.path(),
        "once.yaml",
        "name: once\ntasks:\n  - {name: t, type: shell, command: 'sleep 30', failover: fail}\n",
    );
    c.ok(&[
        "workflow",
        "apply",
        "-f",
        slow.to_str().unwrap(),
        "-f",
        once.to_str().unwrap(),
    ]);

    // A worker stopped with SIGTERM finishes its task and reports it.
    let id: i64 = c.ok(&["workflow", "start", "slow"]).trim().parse().unwrap();
    let worker = running_on(&c, id);
    let w = c.workers.iter().position(|p| p.address == worker).unwrap();
    c.workers[w].signal(nix::sys::signal::Signal::SIGTERM);
    assert!(exit_status(&mut c.workers[w]).success(), "{}", c.logs());
    let v = c.wait_all(&[id], Duration::from_secs(60));
    assert_eq!(v[&id], "succeeded");
    let view = c.get(&format!("/instances/{id}")).unwrap();
    assert_eq!(
        view["tasks"][0]["attempt"], 1,
        "finished where it started: {view:#}"
    );
    c.workers[w].restart();

    // A master stopped with SIGTERM hands its instance over; the task is not run again.
    let id: i64 = c.ok(&["workflow", "start", "slow"]).trim().parse().unwrap();
    running_on(&c, id);
    let owner = c.get(&format!("/instances/{id}")).unwrap()["instance"]["owner"]
        .as_str()
        .unwrap()
        .to_string();
    let m = c.masters.iter().position(|p| p.address == owner).unwrap();
    c.masters[m].signal(nix::sys::signal::Signal::SIGTERM);
    assert!(exit_status(&mut c.masters[m]).success(), "{}", c.logs());
    let v = c.wait_all(&[id], Duration::from_secs(60));
    assert_eq!(v[&id], "succeeded", "{}", c.logs());
    let view = c.get(&format!("/instances/{id}")).unwrap();
    assert_ne!(
        view["instance"]["owner"].as_str(),
        Some(owner.as_str()),
        "adopted"
    );
    assert_eq!(view["tasks"][0]["attempt"], 1);

    // A task that says `failover: fail` fails when its worker dies.
    let id: i64 = c.ok(&["workflow", "start", "once"]).trim().parse().unwrap();
    let worker = running_on(&c, id);
    let w = c.workers.iter().position(|p| p.address == worker).unwrap();
    c.workers[w].kill();
    let v = c.wait_all(&[id], Duration::from_secs(60));
    assert_eq!(v[&id], "failed", "{}", c.logs());
    let view = c.get(&format!("/instances/{id}")).unwrap();
    let t = &view["tasks"][0];
    assert_eq!(
        (t["state"].as_str(), t["attempt"].as_i64()),
        (Some("failed"), Some(1))
    );
    assert!(
        t["message"].as_str().unwrap().contains("failover: fail"),
        "{t}"
    );
    drop(c);
    drop(db);
}
