//! Members of a cluster prove a shared secret on every gRPC call: a cluster role without a
//! secret does not start, and a worker with another secret is refused by the masters and
//! never receives work.

mod common;
use common::cluster::{Cluster, Options, Proc};
use common::*;
use std::time::Duration;

#[test]
fn a_cluster_role_without_a_secret_does_not_start() {
    let out = baton(
        &[
            "worker",
            "--database",
            "postgres://127.0.0.1/none",
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("no cluster secret"), "{stderr}");
    let out = baton(
        &["master", "--database", "postgres://127.0.0.1/none"],
        &[("BATON_CLUSTER_SECRET", "short")],
    );
    let (_, stderr) = text(&out);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("too short"), "{stderr}");
}

#[test]
fn a_worker_with_another_secret_is_refused_and_gets_no_work() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
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
    let other = write(dir.path(), "other.secret", "a-secret-of-another-cluster\n");
    let address = baton_testkit::reserve_addresses(1).unwrap().remove(0);
    let args: Vec<String> = [
        "worker",
        "--database",
        &db.url,
        "--session-timeout",
        "3s",
        "--heartbeat-interval",
        "500ms",
        "--cluster-secret-file",
        other.to_str().unwrap(),
        "--listen",
        &address,
        "--data-dir",
        dir.path().join("impostor").to_str().unwrap(),
        "--masters",
        &c.masters[0].address,
    ]
    .map(str::to_string)
    .to_vec();
    let mut impostor = Proc::new(
        baton_bin().into(),
        "impostor",
        address,
        args,
        dir.path().join("impostor.log"),
        Some("warn".into()),
    );
    impostor.spawn().unwrap();
    wait_for(
        "the master to refuse the impostor",
        Duration::from_secs(30),
        || {
            impostor
                .log_text()
                .contains(
                    "refused our heartbeat: not a member of this cluster: wrong cluster secret",
                )
                .then_some(())
        },
    );
    let status = c.ok(&["cluster", "status"]);
    assert_eq!(status.matches("worker ").count(), 1, "{status}");

    let file = write(
        dir.path(),
        "wide.yaml",
        "name: wide\ntasks:\n  - {name: a, type: shell, command: 'echo $BATON_WORKER'}\n  - {name: b, type: shell, command: 'echo $BATON_WORKER'}\n  - {name: c, type: shell, command: 'echo $BATON_WORKER'}\n",
    );
    c.ok(&["workflow", "apply", "--file", file.to_str().unwrap()]);
    let id: i64 = c.ok(&["workflow", "start", "wide"]).trim().parse().unwrap();
    let ended = c.wait_all(&[id], Duration::from_secs(60));
    assert_eq!(ended[&id], "succeeded");
    let detail = c.get(&format!("/instances/{id}")).unwrap();
    for task in detail["tasks"].as_array().unwrap() {
        assert_eq!(task["worker"], c.workers[0].address.as_str(), "{task}");
    }
    impostor.kill();
}
