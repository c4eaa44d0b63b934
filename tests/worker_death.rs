//! A worker process that dies (SIGKILL) takes its attempts' processes with it: a task and its
//! background child are gone within a second or two, before any restart, so a lost attempt
//! never overlaps the attempt that reruns it elsewhere.

mod common;
use common::cluster::{Cluster, Options};
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the processes of a dead worker's attempts may survive it ("about a second", with
/// room for a loaded machine).
const DEATH_LIMIT: Duration = Duration::from_secs(5);

/// A workflow whose one task runs `sleep 1000` with a background `sleep 1000`, every process
/// of it marked by `BATON_TEST_MARK=<marker>`.
fn sleeper(dir: &Path, marker: &str) -> PathBuf {
    write(
        dir,
        "sleeper.yaml",
        &format!(
            "name: sleeper\ntasks:\n  - name: sleep\n    type: shell\n    env: {{BATON_TEST_MARK: {marker}}}\n    command: 'sleep 1000 & sleep 1000'\n"
        ),
    )
}

/// A marker no other test's process carries.
fn unique_marker(what: &str) -> String {
    format!("{what}-{}-{:?}", std::process::id(), Instant::now())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
}

/// Waits until the task's processes run (bash and both sleeps, or the two sleeps if bash
/// exec'd the last one), returns them.
fn task_processes(marker: &str) -> Vec<i32> {
    wait_for(
        "the task's processes to start",
        Duration::from_secs(60),
        || {
            let pids = processes_with_env("BATON_TEST_MARK", marker);
            (pids.len() >= 2).then_some(pids)
        },
    )
}

/// Waits until none of the marked processes is alive, or panics naming the survivors.
fn all_gone(marker: &str, killed_at: Instant) {
    wait_for(
        "every process of the dead worker's attempt to be gone",
        DEATH_LIMIT,
        || {
            processes_with_env("BATON_TEST_MARK", marker)
                .is_empty()
                .then_some(())
        },
    );
    eprintln!(
        "attempt's processes gone {:?} after the worker",
        killed_at.elapsed()
    );
}

#[test]
fn a_standalone_killed_with_sigkill_takes_its_tasks_processes_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("standalone");
    let mut server = Standalone::start(&dir.path().join("data"), None, &[]);
    server.start_workflow(&sleeper(dir.path(), &marker), "sleeper", &[]);
    let pids = task_processes(&marker);
    assert!(pids.iter().all(|pid| alive(*pid)));

    let killed = Instant::now();
    server.kill();
    all_gone(&marker, killed);
}

#[test]
fn a_cluster_worker_killed_with_sigkill_takes_its_tasks_processes_with_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let marker = unique_marker("cluster");
    let mut c = Cluster::start(
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
    let file = sleeper(dir.path(), &marker);
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    c.ok(&["workflow", "start", "sleeper"]);
    task_processes(&marker);

    let killed = Instant::now();
    c.workers[0].kill();
    all_gone(&marker, killed);
}
