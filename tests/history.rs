//! Ended history goes: `baton history purge` removes (or, dry, counts) instances that ended
//! before a time with their tasks and events, and keeps the rest; the master's
//! `--instance-retention` does it on its own for instances that ended longer ago than that,
//! and the standalone's worker removes their logs.

mod common;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn status(server: &Standalone, id: i64) -> u16 {
    server
        .request(reqwest::Method::GET, &format!("/instances/{id}"))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Sets an instance's end, as if it had ended that long ago (the process is not running).
fn ended_days_ago(data_dir: &std::path::Path, id: i64, days: i64) {
    let url = format!("sqlite://{}", data_dir.join("baton.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let ago = chrono::Utc::now().timestamp_micros() - days * 24 * 3600 * 1_000_000;
        let done = sqlx::query("UPDATE workflow_instance SET ended_at = $1 WHERE id = $2")
            .bind(ago)
            .bind(id)
            .execute(&mut db)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    });
}

#[test]
fn purge_by_hand_and_retention_remove_only_old_ended_instances() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Standalone::start(&data, None, &[]);
    let file = write(
        dir.path(),
        "h.yaml",
        "name: h\ntasks:\n  - {name: a, type: shell, command: 'echo one'}\n  - {name: b, type: noop, depends_on: [a]}\n",
    );
    let ids: Vec<i64> = (0..3)
        .map(|_| {
            let id = server.start_workflow(&file, "h", &[]);
            server.wait_end(id, LONG);
            id
        })
        .collect();
    let first = server.instance(ids[0]);
    let first_end =
        chrono::DateTime::parse_from_rfc3339(first["instance"]["ended_at"].as_str().unwrap())
            .unwrap()
            + chrono::Duration::microseconds(1);
    let first_end = first_end.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);

    let out = server.ok(&["history", "purge", "--before", "2000-01-01", "--dry-run"]);
    assert!(out.starts_with("would remove 0 instances"), "{out}");
    let out = server.ok(&["history", "purge", "--before", &first_end, "--dry-run"]);
    assert!(
        out.starts_with("would remove 1 instances") && out.contains("2 task instances"),
        "{out}"
    );
    assert_eq!(status(&server, ids[0]), 200, "a dry run removes nothing");

    let bad = server.cli(&["history", "purge", "--before", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).1.contains("is not a time"), "{}", text(&bad).1);

    let out = server.ok(&[
        "history",
        "purge",
        "--before",
        &first_end,
        "--project",
        "default",
    ]);
    assert!(out.starts_with("removed 1 instances"), "{out}");
    assert_eq!(status(&server, ids[0]), 404);
    assert_eq!(status(&server, ids[1]), 200);
    let listed = server.get("/instances?workflow=h");
    assert_eq!(listed["instances"].as_array().unwrap().len(), 2, "{listed}");
    let events = |id: i64| {
        let v = server.get(&format!("/events?instance={id}"));
        v["events"].as_array().expect("a list of events").len()
    };
    assert_eq!(events(ids[0]), 0, "its events went with it");
    assert!(events(ids[1]) > 0, "the others' stay");

    // Retention: the second instance ended 100 days ago, the third just now.
    server.kill();
    ended_days_ago(&data, ids[1], 100);
    let logs = |id: i64| data.join("logs").join(id.to_string());
    assert!(logs(ids[1]).is_dir(), "the worker kept its log");
    written_days_ago(&logs(ids[1]), 100);
    server
        .extra
        .extend(["--instance-retention".to_string(), "90d".to_string()]);
    server.restart();
    wait_for("retention to remove the old instance", LONG, || {
        (status(&server, ids[1]) == 404).then_some(())
    });
    assert_eq!(status(&server, ids[2]), 200, "a recent instance is kept");
    wait_for("the old instance's logs to go", LONG, || {
        (!logs(ids[1]).exists()).then_some(())
    });
    assert!(logs(ids[2]).is_dir(), "a recent instance's logs stay");
}

/// Sets the times of everything under `dir` to that long ago.
fn written_days_ago(dir: &std::path::Path, days: u64) {
    let t = std::time::SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            }
            std::fs::File::open(entry.path())
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        std::fs::File::open(&d).unwrap().set_modified(t).unwrap();
    }
}
