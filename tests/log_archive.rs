//! Logs that outlive their worker: ended attempts' logs go to the log archive, and the API
//! reads them there (ranges included) once the worker is gone with its data directory. On a
//! real S3-compatible server (moto, `make moto`) for a cluster, and on standalone's default
//! `file://` archive beside its database.

mod common;
use baton_core::{Attempt, AttemptKey, TaskInstanceId, WorkflowInstanceId};
use baton_logstore::{ArchiveUrl, LogArchive};
use baton_testkit::moto::Moto;
use common::*;
use std::path::Path;
use std::time::Duration;

/// The bucket and prefix of the S3 tests.
const BUCKET: &str = "baton-logs";
const PREFIX: &str = "cluster/test";

/// A workflow whose one task prints 20 000 numbered lines with multibyte characters (more
/// than one page of `baton logs`).
fn chatty(dir: &Path) -> std::path::PathBuf {
    write(
        dir,
        "chatty.yaml",
        "name: chatty\ntasks:\n  - name: talk\n    type: shell\n    command: 'for i in $(seq 1 20000); do echo \"line $i: 日志 ok\"; done'\n",
    )
}

/// What the task of [`chatty`] prints.
fn expected() -> Vec<u8> {
    (1..=20000)
        .map(|i| format!("line {i}: 日志 ok\n"))
        .collect::<String>()
        .into_bytes()
}

fn attempt_one(tid: i64) -> AttemptKey {
    AttemptKey::new(TaskInstanceId(tid), Attempt(1))
}

/// Waits until the archive holds the whole log of attempt 1 of `tid`.
fn wait_archived(archive: &LogArchive, wfi: i64, tid: i64, len: u64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    wait_for("the log to be archived", Duration::from_secs(60), || {
        let read = archive.read(
            WorkflowInstanceId(wfi),
            attempt_one(tid),
            baton_logstore::ReadFrom::Start(0),
            0,
        );
        rt.block_on(read).ok().flatten().filter(|r| r.len == len)
    });
}

/// A range of a task's log as raw bytes, with its `baton-next-offset` and `baton-complete`.
fn raw_range(api: &str, token: &str, tid: i64, offset: u64, limit: u64) -> (Vec<u8>, u64, bool) {
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "{api}/api/v1/task-instances/{tid}/log?offset={offset}&limit={limit}"
        ))
        .bearer_auth(token)
        .header("accept", "application/octet-stream")
        .send()
        .unwrap();
    assert!(
        r.status().is_success(),
        "{}: {}",
        r.status(),
        r.text().unwrap()
    );
    let header = |name: &str| r.headers()[name].to_str().unwrap().to_string();
    let next: u64 = header("baton-next-offset").parse().unwrap();
    let complete = header("baton-complete") == "true";
    (r.bytes().unwrap().to_vec(), next, complete)
}

/// The reads every test makes once the worker's copy is gone: whole (`baton logs`), ranges
/// in the middle and at the end, past the end, and the JSON form.
fn check_reads(api: &str, token: &str, tid: i64, cli: impl Fn(&[&str]) -> std::process::Output) {
    let want = expected();
    let out = cli(&["logs", &tid.to_string()]);
    assert!(
        out.status.success(),
        "baton logs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout == want, "baton logs prints the exact bytes");

    let (data, next, complete) = raw_range(api, token, tid, 1000, 5000);
    assert!(data == want[1000..6000], "a range in the middle");
    assert_eq!((next, complete), (6000, false));
    let len = want.len() as u64;
    let (data, next, complete) = raw_range(api, token, tid, len - 10, 5000);
    assert!(data == want[want.len() - 10..], "the end");
    assert_eq!((next, complete), (len, true));
    let (data, next, complete) = raw_range(api, token, tid, len + 100, 10);
    assert!(data.is_empty());
    assert_eq!((next, complete), (len, true));
    // The log's tail, as the web UI opens it (`offset=-N`), read from the archive too.
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "{api}/api/v1/task-instances/{tid}/log?offset=-25&limit=5000"
        ))
        .bearer_auth(token)
        .header("accept", "application/octet-stream")
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let header = |name: &str| r.headers()[name].to_str().unwrap().to_string();
    let (offset, size) = (header("baton-offset"), header("baton-size"));
    let tail = r.bytes().unwrap().to_vec();
    assert!(
        (22..=25).contains(&tail.len()) && want.ends_with(&tail),
        "the last bytes"
    );
    assert_eq!(offset, (want.len() - tail.len()).to_string());
    assert_eq!(size, len.to_string());

    let v: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!(
            "{api}/api/v1/task-instances/{tid}/log?offset=0&limit=40"
        ))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let text = v["data"].as_str().unwrap();
    assert!(want.starts_with(text.as_bytes()), "{v}");
    assert_eq!(v["next_offset"].as_u64(), Some(text.len() as u64), "{v}");
}

/// Deletes an object of the test bucket, as a lifecycle rule or an operator would.
fn delete_object(moto: &Moto, key: &str, rt: &tokio::runtime::Runtime) {
    use object_store::ObjectStore;
    let mut s3 = object_store::aws::AmazonS3Builder::new().with_bucket_name(BUCKET);
    for (name, value) in moto.env() {
        s3 = s3.with_config(name.to_ascii_lowercase().parse().unwrap(), value);
    }
    let s3 = s3.build().unwrap();
    rt.block_on(s3.delete(&object_store::path::Path::from(key)))
        .unwrap();
}

#[test]
fn an_s3_archive_keeps_logs_and_reads_ranges_on_a_real_s3_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(moto) = Moto::start(dir.path()) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let url: ArchiveUrl = format!("s3://{BUCKET}/unit").parse().unwrap();
    let archive = LogArchive::open_with(&url, moto.env()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (wfi, key) = (WorkflowInstanceId(3), attempt_one(30));
    assert_eq!(
        rt.block_on(archive.read(wfi, key, baton_logstore::ReadFrom::Start(0), 10))
            .unwrap(),
        None
    );
    rt.block_on(archive.put(wfi, key, b"0123456789".to_vec()))
        .unwrap();
    let r = rt
        .block_on(archive.read(wfi, key, baton_logstore::ReadFrom::Start(3), 4))
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.data.as_slice(), r.next_offset, r.len),
        (&b"3456"[..], 7, 10)
    );
    let r = rt
        .block_on(archive.read(wfi, key, baton_logstore::ReadFrom::Start(8), 100))
        .unwrap()
        .unwrap();
    assert_eq!((r.data.as_slice(), r.next_offset), (&b"89"[..], 10));
    let r = rt
        .block_on(archive.read(wfi, key, baton_logstore::ReadFrom::Start(50), 1))
        .unwrap()
        .unwrap();
    assert_eq!((r.data.len(), r.next_offset), (0, 10));

    // A bucket that does not exist: an error that names the archive, without the keys.
    let missing: ArchiveUrl = "s3://no-such-bucket/x".parse().unwrap();
    let archive = LogArchive::open_with(&missing, moto.env()).unwrap();
    let e = rt
        .block_on(archive.put(wfi, key, b"x".to_vec()))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("log archive s3://no-such-bucket/x: "), "{e}");
    assert!(!e.contains("baton-test-secret"), "{e}");
}

#[test]
fn a_cluster_workers_log_reads_from_s3_after_the_worker_is_killed_and_its_data_removed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(moto) = Moto::start(dir.path()) else {
        return;
    };
    moto.create_bucket(BUCKET);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let archive_url = format!("s3://{BUCKET}/{PREFIX}");
    let mut launch = baton_testkit::Launch::new(baton_bin(), dir.path(), &db.url);
    launch.masters = 1;
    launch.workers = 1;
    launch.worker_args = vec!["--log-archive".into(), archive_url.clone()];
    launch.api_args = vec!["--log-archive".into(), archive_url.clone()];
    launch.env = moto.env();
    let mut c = baton_testkit::Cluster::start(launch).unwrap_or_else(|e| panic!("{e}"));
    let file = chatty(dir.path());
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let wfi: i64 = c
        .ok(&["workflow", "start", "chatty"])
        .trim()
        .parse()
        .unwrap();
    let states = c.wait_all(&[wfi], Duration::from_secs(120));
    assert_eq!(states[&wfi], "succeeded", "{}", c.logs());
    let view = c.get(&format!("/instances/{wfi}")).unwrap();
    let tid = view["tasks"][0]["id"].as_i64().unwrap();

    let url: ArchiveUrl = archive_url.parse().unwrap();
    let archive = LogArchive::open_with(&url, moto.env()).unwrap();
    assert_eq!(
        archive
            .key(WorkflowInstanceId(wfi), attempt_one(tid))
            .to_string(),
        format!("{PREFIX}/{wfi}/{tid}/1.log")
    );
    wait_archived(&archive, wfi, tid, expected().len() as u64);

    c.workers[0].kill();
    std::fs::remove_dir_all(dir.path().join("worker0")).unwrap();
    let cli = |args: &[&str]| c.cli(args);
    check_reads(&c.api_url, &c.token, tid, cli);

    // Gone from the archive too: the API says that neither could be read.
    delete_object(&moto, &format!("{PREFIX}/{wfi}/{tid}/1.log"), &rt);
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/task-instances/{tid}/log", c.api_url))
        .bearer_auth(&c.token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let body = r.text().unwrap();
    assert!(
        body.contains("cannot read the log from worker") && body.contains("not in the log archive"),
        "{body}"
    );
}

#[test]
fn standalone_archives_beside_its_database_and_reads_there_once_its_logs_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Standalone::start(&data, None, &[]);
    let wfi = server.start_workflow(&chatty(dir.path()), "chatty", &[]);
    let view = server.wait_end(wfi, Duration::from_secs(120));
    assert_eq!(view["instance"]["state"], "succeeded");
    let tid = Standalone::task(&view, "talk")["id"].as_i64().unwrap();
    let archived = data.join(format!("log-archive/{wfi}/{tid}/1.log"));
    let want = expected();
    wait_for("the log to be archived", Duration::from_secs(60), || {
        std::fs::read(&archived).ok().filter(|d| *d == want)
    });

    server.kill();
    std::fs::remove_dir_all(data.join("logs")).unwrap();
    server.restart();
    let cli = |args: &[&str]| server.cli(args);
    check_reads(&server.api, &server.token, tid, cli);
}
