//! Logic tasks on a cluster of two masters and two workers on PostgreSQL: sub_workflow
//! children are started by whichever master takes their start command, their ends reach the
//! parent's owner (forwarded when another master took the `child_ended` command), and all of
//! it survives a master killed with SIGKILL; a dependent task is met by another workflow's
//! success, also after its instance was adopted.

mod common;
use common::cluster::{Cluster, Options};
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

fn start_cluster(dir: &Path, database: &str) -> Cluster {
    Cluster::start(
        dir,
        Options {
            database,
            registry: "db",
            masters: 2,
            workers: 2,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    )
}

fn start(c: &Cluster, workflow: &str, params: &[&str]) -> i64 {
    let mut args = vec!["workflow", "start", workflow];
    for p in params {
        args.push("--param");
        args.push(p);
    }
    c.ok(&args).trim().parse().expect("an instance id")
}

fn view(c: &Cluster, id: i64) -> Value {
    c.get(&format!("/instances/{id}"))
        .unwrap_or_else(|e| panic!("GET instance {id}: {e}\n{}", c.logs()))
}

/// The task of that name in an instance view, if it has a row yet.
fn task<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v["tasks"]
        .as_array()?
        .iter()
        .find(|t| t["task_name"] == name)
}

/// Parent instance id → its child instances (as listed), for every instance of `child`.
fn children(c: &Cluster) -> BTreeMap<i64, Vec<Value>> {
    let list = c
        .get("/instances?workflow=child&limit=1000")
        .unwrap_or_else(|e| panic!("listing children: {e}"));
    let mut by_parent: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for i in list["instances"].as_array().unwrap() {
        let parent = i["parent_instance_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("a child instance names its parent: {i}"));
        by_parent.entry(parent).or_default().push(i.clone());
    }
    by_parent
}

/// The lines of a sink file, each split at its first space: instance id → the rest, in order.
fn sink(path: &Path) -> BTreeMap<i64, Vec<String>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let (id, rest) = line.split_once(' ').unwrap_or((line, ""));
        out.entry(id.parse().unwrap_or_else(|_| panic!("sink line `{line}`")))
            .or_default()
            .push(rest.to_string());
    }
    out
}

/// Applies the `child` and `parent` workflows. The child's task sleeps `nap` seconds and
/// sets `total=9`; the parent's `after` task writes the `total` it sees to `parents.sink`.
fn apply_parent_and_child(c: &Cluster, dir: &Path) {
    let d = dir.display();
    let child = write(
        dir,
        "child.yaml",
        &format!(
            "name: child\nparams: {{nap: 0}}\ntasks:\n  - name: work\n    type: shell\n    command: |\n      echo \"$BATON_WORKFLOW_INSTANCE_ID work\" >> {d}/children.sink\n      sleep ${{nap}}\n      echo '${{setValue(total=9)}}'\n"
        ),
    );
    let parent = write(
        dir,
        "parent.yaml",
        &format!(
            "name: parent\nparams: {{nap: 0}}\ntasks:\n  - {{name: run_child, type: sub_workflow, workflow: child}}\n  - {{name: after, type: shell, depends_on: [run_child], command: 'echo \"$BATON_WORKFLOW_INSTANCE_ID total=${{total}}\" >> {d}/parents.sink'}}\n"
        ),
    );
    c.ok(&[
        "workflow",
        "apply",
        "-f",
        child.to_str().unwrap(),
        "-f",
        parent.to_str().unwrap(),
    ]);
}

/// Every parent in `parents` succeeded with exactly one child that succeeded and whose
/// work ran once, and its `after` task saw `total=9` once. Returns parent → (its owner, its
/// child's owner).
fn check_parents(c: &Cluster, dir: &Path, parents: &[i64]) -> BTreeMap<i64, (String, String)> {
    let by_parent = children(c);
    let parent_sink = sink(&dir.join("parents.sink"));
    let child_sink = sink(&dir.join("children.sink"));
    let mut owners = BTreeMap::new();
    for id in parents {
        let v = view(c, *id);
        assert_eq!(
            v["instance"]["state"],
            "succeeded",
            "parent {id}: {v:#}\n{}",
            c.logs()
        );
        let kids = by_parent.get(id).cloned().unwrap_or_default();
        assert_eq!(
            kids.len(),
            1,
            "parent {id} has exactly one child: {kids:#?}\n{}",
            c.logs()
        );
        let kid = &kids[0];
        let kid_id = kid["id"].as_i64().unwrap();
        assert_eq!(kid["state"], "succeeded", "child {kid_id} of {id}: {kid:#}");
        let run_child = task(&v, "run_child").expect("run_child has a row");
        assert_eq!(run_child["state"], "succeeded", "{run_child}");
        assert_eq!(run_child["outputs"]["total"], "9", "{run_child}");
        assert_eq!(
            kid["parent_task_instance_id"], run_child["id"],
            "child {kid_id} belongs to run_child of {id}"
        );
        assert_eq!(
            run_child["message"],
            format!("child instance {kid_id} succeeded"),
            "{run_child}"
        );
        assert_eq!(
            parent_sink.get(id).map(Vec::as_slice),
            Some(&["total=9".to_string()][..]),
            "the after task of parent {id} ran once and saw total=9"
        );
        assert_eq!(
            child_sink.get(&kid_id).map(Vec::len),
            Some(1),
            "the work of child {kid_id} ran once"
        );
        let owner = |x: &Value| x["owner"].as_str().unwrap_or("-").to_string();
        owners.insert(*id, (owner(&v["instance"]), owner(kid)));
    }
    owners
}

/// The ids a query of one integer column returns, run with psql.
fn psql_ids(url: &str, sql: &str) -> BTreeSet<i64> {
    let out = std::process::Command::new("psql")
        .args([url, "-X", "-A", "-t", "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql: {:?}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Watches the command table for `child_ended` commands targeted at a master: the ones a
/// live master forwarded to the dead owner of their parent, which only an adoption can hand
/// on.
struct CommandWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<BTreeSet<i64>>,
}

impl CommandWatch {
    fn start(url: &str, target: &str) -> CommandWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sql = format!(
            "SELECT workflow_instance_id FROM command WHERE kind = 'child_ended' AND target = '{target}'"
        );
        let url = url.to_string();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = BTreeSet::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                seen.extend(psql_ids(&url, &sql));
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        });
        CommandWatch { stop, thread }
    }

    fn stop(self) -> BTreeSet<i64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[test]
fn sub_workflows_spread_over_two_masters_and_survive_a_master_kill() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let mut c = start_cluster(dir.path(), &db.url);
    apply_parent_and_child(&c, dir.path());

    // Twenty parents, each with a short child: every end is right, and children ran under
    // either master.
    let first: Vec<i64> = (0..20).map(|_| start(&c, "parent", &[])).collect();
    let states = c.wait_all(&first, LONG);
    assert!(
        states.values().all(|s| s == "succeeded"),
        "{states:?}\n{}",
        c.logs()
    );
    let owners = check_parents(&c, dir.path(), &first);
    let masters: BTreeSet<&str> = c.masters.iter().map(|m| m.address.as_str()).collect();
    for (id, (parent, child)) in &owners {
        assert!(
            masters.contains(parent.as_str()) && masters.contains(child.as_str()),
            "parent {id} and its child ended under masters of the cluster: {parent}, {child}"
        );
    }
    let crossed = owners.values().filter(|(p, ch)| p != ch).count();
    eprintln!(
        "{crossed} of {} children ran under another master than their parent",
        owners.len()
    );
    assert!(
        crossed > 0,
        "some child ran under another master than its parent: {owners:#?}"
    );

    // Ten parents whose children sleep 2 s; one master dies while every child runs. The
    // survivor adopts the dead one's parents and children, and the `child_ended` commands
    // that were meant for (or forwarded to) the dead master reach it.
    let second: Vec<i64> = (0..10).map(|_| start(&c, "parent", &["nap=2"])).collect();
    // (On a loaded machine the first children may end before the last start: those count
    // as not working, their ends reached their parents' live owner.)
    let running = wait_for(
        "every child to have started, some still working",
        Duration::from_secs(60),
        || {
            let by_parent = children(&c);
            let mut running = BTreeMap::new();
            let mut working = 0;
            for id in &second {
                let kid = by_parent.get(id)?.first()?.clone();
                let ended = matches!(kid["state"].as_str(), Some("succeeded" | "failed"));
                if kid["state"] != "running" && !ended {
                    return None;
                }
                let v = c.get(&format!("/instances/{}", kid["id"])).ok()?;
                let work = task(&v, "work").map(|t| t["state"].as_str().unwrap_or(""));
                if work == Some("running") {
                    working += 1;
                }
                // An ended instance has no owner any more.
                let owner = |v: &Value| v.as_str().map(str::to_string);
                let parent_owner = owner(&view(&c, *id)["instance"]["owner"]);
                let kid_owner = owner(&kid["owner"]);
                let (parent_owner, kid_owner) = match (parent_owner, kid_owner) {
                    (Some(p), Some(k)) => (p, k),
                    (p, k) if ended => (p.unwrap_or_default(), k.unwrap_or_default()),
                    _ => return None,
                };
                running.insert(*id, (parent_owner, kid_owner, work == Some("running")));
            }
            (working > 0).then_some(running)
        },
    );
    // Kill the master that owns the most parents: its parents' children that run under the
    // other master end while the parent's owner is dead.
    let victim = c
        .masters
        .iter()
        .position(|m| {
            let mine = running.values().filter(|(p, _, _)| *p == m.address).count();
            mine * 2 >= running.len()
        })
        .unwrap();
    let dead = c.masters[victim].address.clone();
    let survivor = c.masters[1 - victim].address.clone();
    let orphaned_parents = running.values().filter(|(p, _, _)| *p == dead).count();
    // Children that run under the survivor and end within 2 s, before the survivor adopts
    // (the session timeout is 3 s): their `child_ended` goes to the dead owner first.
    let forwarded = running
        .values()
        .filter(|(p, ch, working)| *p == dead && *ch == survivor && *working)
        .count();
    let orphaned_children = running.values().filter(|(_, ch, _)| *ch == dead).count();
    eprintln!(
        "killing {dead}: it owns {orphaned_parents} parents ({forwarded} of them with a child \
         under {survivor}) and {orphaned_children} children"
    );
    c.masters[victim].kill();
    let killed_at = baton_store::now_us();
    let watch = CommandWatch::start(&db.url, &dead);
    let states = c.wait_all(&second, LONG);
    let held = watch.stop();
    eprintln!("child_ended commands seen targeted at the dead master (parent ids): {held:?}");
    assert!(
        states.values().all(|s| s == "succeeded"),
        "{states:?}\nbefore the kill (parent owner, child owner): {running:#?}\n{}",
        c.logs()
    );
    check_parents(&c, dir.path(), &second);
    // The path under test was taken: a live master forwarded a child's end to the dead owner
    // of its parent, and the adoption handed it on.
    for parent in &held {
        assert_eq!(
            running.get(parent).map(|(p, _, _)| p.as_str()),
            Some(dead.as_str()),
            "only the dead master's parents get commands targeted at it"
        );
    }
    if forwarded > 0 {
        assert!(
            !held.is_empty(),
            "{forwarded} children under the survivor ended while their parent's owner was \
             dead, yet no child_ended command was seen targeted at it"
        );
    }
    // Every command is taken in the end, none left behind for the dead master: the
    // adoption handed those meant for it on.
    let left = "SELECT workflow_instance_id FROM command";
    wait_for(
        "the command table to drain",
        Duration::from_secs(30),
        || psql_ids(&db.url, left).is_empty().then_some(()),
    );
    // Whatever ended after the kill ended under the survivor.
    let by_parent = children(&c);
    for id in &second {
        let parent = view(&c, *id)["instance"].clone();
        let kid = by_parent[id][0].clone();
        for i in [parent, kid] {
            if common::time_us(&i["ended_at"]).unwrap() > killed_at {
                assert_eq!(
                    i["owner"].as_str(),
                    Some(survivor.as_str()),
                    "instance {} ended under the survivor: {i:#}",
                    i["id"]
                );
            }
        }
    }
    if orphaned_parents + orphaned_children > 0 {
        assert!(
            c.masters[1 - victim]
                .log_text()
                .contains("adopted workflow instance"),
            "the survivor adopted the dead master's instances\n{}",
            c.logs()
        );
    }
    drop(c);
    drop(db);
}

#[test]
fn a_dependent_task_in_a_cluster_is_met_when_another_workflow_succeeds() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let mut c = start_cluster(dir.path(), &db.url);
    let d = dir.path().display();
    let upstream = write(
        dir.path(),
        "upstream.yaml",
        "name: upstream\ntasks:\n  - {name: load, type: shell, command: 'echo loaded'}\n",
    );
    let waits = write(
        dir.path(),
        "waits.yaml",
        &format!(
            "name: waits\ntasks:\n  - name: dep\n    type: dependent\n    check_interval: 200ms\n    timeout: 90s\n    dependence: {{workflow: upstream, task: load, date: today}}\n  - {{name: after, type: shell, depends_on: [dep], command: 'echo \"$BATON_WORKFLOW_INSTANCE_ID after\" >> {d}/waits.sink'}}\n"
        ),
    );
    c.ok(&[
        "workflow",
        "apply",
        "-f",
        upstream.to_str().unwrap(),
        "-f",
        waits.to_str().unwrap(),
    ]);
    let ids: Vec<i64> = (0..6).map(|_| start(&c, "waits", &[])).collect();
    let waiting = |c: &Cluster| {
        let mut owners = BTreeMap::new();
        for id in &ids {
            let v = c.get(&format!("/instances/{id}")).ok()?;
            let dep = task(&v, "dep")?;
            let message = dep["message"].as_str()?;
            if dep["state"] != "running" || !message.starts_with("waiting for") {
                return None;
            }
            assert!(
                message.contains("task `load` of `upstream` succeeded for today"),
                "{message}"
            );
            owners.insert(*id, v["instance"]["owner"].as_str()?.to_string());
        }
        Some(owners)
    };
    let owners = wait_for("every dependent task to wait", LONG, || waiting(&c));

    // One master dies while they wait: the survivor adopts its dependent tasks and checks
    // them on.
    let dead = owners.values().next().unwrap().clone();
    let victim = c.masters.iter().position(|m| m.address == dead).unwrap();
    let survivor = c.masters[1 - victim].address.clone();
    c.masters[victim].kill();
    wait_for("the survivor to own every waiting instance", LONG, || {
        let owners = waiting(&c)?;
        owners.values().all(|o| *o == survivor).then_some(())
    });
    assert!(
        std::fs::read_to_string(dir.path().join("waits.sink"))
            .unwrap_or_default()
            .is_empty(),
        "nothing ran past an unmet dependency"
    );

    let up = start(&c, "upstream", &[]);
    let states = c.wait_all(&[up], LONG);
    assert_eq!(states[&up], "succeeded", "{}", c.logs());
    let states = c.wait_all(&ids, LONG);
    assert!(
        states.values().all(|s| s == "succeeded"),
        "{states:?}\n{}",
        c.logs()
    );
    let sink = sink(&dir.path().join("waits.sink"));
    for id in &ids {
        assert_eq!(
            sink.get(id).map(Vec::as_slice),
            Some(&["after".to_string()][..]),
            "the after task of {id} ran once"
        );
        let v = view(&c, *id);
        let dep = task(&v, "dep").unwrap();
        assert_eq!(dep["state"], "succeeded", "{dep}");
        assert_eq!(dep["message"], "every dependency is met", "{dep}");
    }
    drop(c);
    drop(db);
}
