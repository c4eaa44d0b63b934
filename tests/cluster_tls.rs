//! Mutual TLS on the cluster's gRPC: with the TLS files on every member, the api, masters and
//! workers speak TLS to each other (a workflow runs, its log is read from the worker), and a
//! caller that knows the cluster secret but speaks plain gRPC, or brings a certificate of
//! another CA, is refused by the worker.

mod common;
use baton_proto::auth::{ClusterKey, Prove};
use baton_proto::worker_client::WorkerClient;
use baton_testkit::tls::{CertFiles, TestCa};
use common::*;
use std::time::Duration;

const WORKFLOW: &str =
    "name: over-tls\ntasks:\n  - {name: hello, type: shell, command: 'echo hello over tls'}\n";

/// Whether a `Probe` of the worker at `address`, proving the right secret, is answered when
/// made over `tls` (plain gRPC when none).
fn probe_answered(address: &str, secret_file: &std::path::Path, tls: Option<&CertFiles>) -> bool {
    let key = ClusterKey::read(secret_file).unwrap();
    let tls = tls.map(|f| baton_proto::tls::ClusterTls::read(&f.cert, &f.key, &f.ca).unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let endpoint = baton_proto::tls::endpoint(address, tls.as_ref())
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(5));
        let Ok(channel) = endpoint.connect().await else {
            return false;
        };
        let mut client = WorkerClient::with_interceptor(channel, Prove(key));
        let probe = baton_proto::ProbeRequest::default();
        client.probe(probe).await.is_ok()
    })
}

#[test]
fn members_speak_mutual_tls_and_refuse_plain_or_foreign_callers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("baton test cluster").unwrap();
    let member = ca.issue(dir.path(), "member").unwrap();
    let mut launch = baton_testkit::Launch::new(baton_bin(), dir.path(), &db.url);
    launch.masters = 1;
    launch.workers = 1;
    launch.common_args = member.cluster_args();
    let c = baton_testkit::Cluster::start(launch).unwrap_or_else(|e| panic!("{e}"));

    let file = write(dir.path(), "over-tls.yaml", WORKFLOW);
    c.ok(&["workflow", "apply", "--file", file.to_str().unwrap()]);
    let id: i64 = c
        .ok(&["workflow", "start", "over-tls"])
        .trim()
        .parse()
        .unwrap();
    let ended = c.wait_all(&[id], Duration::from_secs(60));
    assert_eq!(ended[&id], "succeeded", "{}", c.logs());
    let detail = c.get(&format!("/instances/{id}")).unwrap();
    let task = detail["tasks"][0]["id"].to_string();
    let log = c.ok(&["logs", &task]);
    assert!(
        log.contains("hello over tls"),
        "the api read the log: {log}"
    );

    let worker = &c.workers[0].address;
    let secret = dir.path().join("cluster.secret");
    assert!(
        probe_answered(worker, &secret, Some(&member)),
        "a member's certificate is answered"
    );
    assert!(
        !probe_answered(worker, &secret, None),
        "plain gRPC is refused, even with the secret"
    );
    let foreign = TestCa::new("another cluster").unwrap();
    let stranger = foreign.issue(dir.path(), "stranger").unwrap();
    let mixed = CertFiles {
        ca: member.ca.clone(),
        ..stranger
    };
    assert!(
        !probe_answered(worker, &secret, Some(&mixed)),
        "a certificate of another CA is refused"
    );
}

#[test]
fn a_member_with_unreadable_tls_files_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(dir.path(), "s", "a-long-enough-cluster-secret\n");
    let not_pem = write(dir.path(), "cert.pem", "not a certificate\n");
    let args = [
        "worker",
        "--database",
        "postgres://127.0.0.1/none",
        "--cluster-secret-file",
        secret.to_str().unwrap(),
        "--cluster-tls-cert",
        not_pem.to_str().unwrap(),
        "--cluster-tls-key",
        not_pem.to_str().unwrap(),
        "--cluster-ca",
        not_pem.to_str().unwrap(),
    ];
    let out = baton(&args, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("cert.pem holds no PEM certificate"),
        "{stderr}"
    );

    let out = baton(&args[..7], &[]);
    let out_text = text(&out);
    assert_eq!(out.status.code(), Some(2), "{out_text:?}");
    let out = baton(&[&args[..5], &args[7..9]].concat(), &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--cluster-tls-cert") && stderr.contains("--cluster-ca"),
        "names what is missing: {stderr}"
    );
}
