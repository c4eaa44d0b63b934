//! Schedules in a running Baton: cron fires, exactly one instance per fire time (also with
//! two masters), misfires after downtime, online/offline.

mod common;
use common::cluster::{Cluster, Options};
use common::*;
use serde_json::Value;
use std::time::Duration;

const EVERY_SECOND: &str = "name: tick\nschedule:\n  cron: '* * * * * *'\n  misfire: fire_once\ntasks:\n  - {name: t, type: shell, command: 'echo ${system.schedule.time}'}\n";

/// schedule_time (µs) of every instance of `workflow`, sorted.
fn fire_times(instances: &Value, workflow: &str) -> Vec<i64> {
    let mut v: Vec<i64> = instances["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"] == workflow)
        .map(|i| {
            common::time_us(&i["schedule_time"]).expect("scheduled instances have a schedule time")
        })
        .collect();
    v.sort();
    v
}

fn assert_one_per_second(times: &[i64]) {
    for pair in times.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            1_000_000,
            "one instance per fire, none missing: {times:?}"
        );
    }
    assert!(
        times.iter().all(|t| t % 1_000_000 == 0),
        "fire times are whole seconds"
    );
}

#[test]
fn a_cron_schedule_fires_once_per_fire_time_and_stops_when_offline() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "tick.yaml", EVERY_SECOND);
    let mut server = Standalone::start(
        &dir.path().join("data"),
        None,
        &["--apply", file.to_str().unwrap()],
    );
    wait_for("four fires", Duration::from_secs(30), || {
        (fire_times(&server.get("/instances?limit=100"), "tick").len() >= 4).then_some(())
    });
    let listed = server.ok(&["schedule", "list"]);
    assert!(
        listed.contains("default/tick")
            && listed.contains("cron * * * * * *")
            && listed.contains("online"),
        "{listed}"
    );
    let preview = server.ok(&["schedule", "preview", "tick", "--count", "3"]);
    assert_eq!(preview.lines().count(), 3, "{preview}");
    server.ok(&["schedule", "offline", "tick"]);
    let at_stop = fire_times(&server.get("/instances?limit=1000"), "tick");
    // Once offline, no new fire: wait for two would-be fire times, then compare.
    let until = std::time::Instant::now() + Duration::from_millis(2500);
    wait_for("two seconds to pass", Duration::from_secs(10), || {
        (std::time::Instant::now() >= until).then_some(())
    });
    let later = fire_times(&server.get("/instances?limit=1000"), "tick");
    assert!(
        later.len() <= at_stop.len() + 1,
        "at most a fire in flight when it went offline"
    );
    assert_one_per_second(&later);

    // Downtime: the fires missed while no master ran make one instance (misfire: fire_once).
    server.ok(&["schedule", "online", "tick"]);
    wait_for("fires again", Duration::from_secs(30), || {
        (fire_times(&server.get("/instances?limit=1000"), "tick").len() > later.len() + 1)
            .then_some(())
    });
    server.kill();
    let down = baton_store::now_us();
    let wake = std::time::Instant::now() + Duration::from_secs(4);
    wait_for("downtime", Duration::from_secs(10), || {
        (std::time::Instant::now() >= wake).then_some(())
    });
    server.restart();
    let up = baton_store::now_us();
    wait_for("a fire after the restart", Duration::from_secs(30), || {
        fire_times(&server.get("/instances?limit=1000"), "tick")
            .iter()
            .any(|t| *t > up)
            .then_some(())
    });
    let all = fire_times(&server.get("/instances?limit=1000"), "tick");
    let in_downtime = all
        .iter()
        .filter(|t| **t > down + 1_000_000 && **t < up - 1_000_000)
        .count();
    assert!(
        in_downtime <= 1,
        "fire_once: at most one instance for the missed fires: {all:?}"
    );
    let distinct: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "never two instances for one fire time"
    );
}

#[test]
fn two_masters_fire_each_time_exactly_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(
        dir.path(),
        Options {
            database: &db.url,
            registry: "db",
            masters: 2,
            workers: 1,
            session_timeout: "3s",
            heartbeat_interval: "500ms",
        },
    );
    let file = write(dir.path(), "tick.yaml", EVERY_SECOND);
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    wait_for("six fires", Duration::from_secs(60), || {
        (fire_times(&c.get("/instances?limit=100").ok()?, "tick").len() >= 6).then_some(())
    });
    c.ok(&["schedule", "offline", "tick"]);
    let times = fire_times(&c.get("/instances?limit=1000").unwrap(), "tick");
    assert_one_per_second(&times);
    drop(c);
    drop(db);
}

/// A request with a JSON body (or none) to the API: (status, answer).
fn call(server: &Standalone, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/api/v1{path}", server.api);
    let mut request = client
        .request(method.parse().unwrap(), url)
        .bearer_auth(&server.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn version_count(server: &Standalone, name: &str) -> usize {
    server.get(&format!("/workflows/{name}/versions"))["versions"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn a_schedule_is_set_and_deleted_through_the_api_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "nightly.yaml",
        "name: nightly\npriority: lowest\ntasks:\n  - {name: t, type: shell, command: 'true'}\n",
    );
    let server = Standalone::start(
        &dir.path().join("data"),
        None,
        &["--apply", file.to_str().unwrap()],
    );
    assert_eq!(version_count(&server, "nightly"), 1);

    // PUT: a new version with the block; the trigger fires it with the schedule's priority.
    let (status, r) = call(
        &server,
        "PUT",
        "/workflows/nightly/schedule",
        Some(serde_json::json!({"cron": "* * * * * *", "priority": "highest", "misfire": "skip"})),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["version"].as_i64(), r["outcome"].as_str()),
        (Some(2), Some("updated"))
    );
    let fired = wait_for(
        "a fire of the new schedule",
        Duration::from_secs(30),
        || {
            server.get("/instances?workflow=nightly")["instances"]
                .as_array()?
                .iter()
                .find(|i| i["schedule_time"].is_string())
                .cloned()
        },
    );
    assert_eq!(fired["priority"], "highest", "{fired}");
    assert_eq!(fired["version"], 2);
    let listed = server.get("/schedules");
    assert_eq!(
        listed["schedules"][0]["spec"]["priority"], "highest",
        "{listed}"
    );
    // The version is a workflow file like any other: exported, it applies back unchanged.
    let exported = server.ok(&["workflow", "export", "nightly"]);
    assert!(
        exported.contains("schedule:") && exported.contains("priority: highest"),
        "{exported}"
    );
    let again = write(dir.path(), "exported.yaml", &exported);
    let out = server.ok(&["workflow", "apply", "-f", again.to_str().unwrap()]);
    assert!(out.contains("unchanged"), "{out}");
    let (status, r) = call(
        &server,
        "PUT",
        "/workflows/nightly/schedule",
        Some(serde_json::json!({"cron": "* * * * * *", "priority": "highest", "misfire": "skip"})),
    );
    assert_eq!(
        (status, r["outcome"].as_str()),
        (200, Some("unchanged")),
        "{r}"
    );

    // Bad blocks: 400 with the same message as in a file, and nothing written.
    let (status, r) = call(
        &server,
        "PUT",
        "/workflows/nightly/schedule",
        Some(serde_json::json!({"cron": "0 0 25 * * *"})),
    );
    assert_eq!(status, 400, "{r}");
    let message = r["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("schedule: cron `0 0 25 * * *`: hour field: 25 is out of range 0-23"),
        "{message}"
    );
    let (status, r) = call(
        &server,
        "PUT",
        "/workflows/nightly/schedule",
        Some(serde_json::json!({"cron": "* * * * * *", "crontab": "x"})),
    );
    assert_eq!(status, 400, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `crontab`"),
        "{r}"
    );
    let out = server.cli(&["schedule", "set", "nightly", "--cron", "61 * * * *"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("cron `61 * * * *`: minute field: 61 is out of range 0-59"),
        "{stderr}"
    );
    let out = server.cli(&[
        "schedule",
        "set",
        "nightly",
        "--cron",
        "* * * * *",
        "--priority",
        "urgent",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("unknown variant `urgent`"),
        "{:?}",
        text(&out)
    );
    let out = server.cli(&["schedule", "set", "nightly"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "one of --cron, --fixed-rate, --fixed-delay"
    );
    assert_eq!(version_count(&server, "nightly"), 2, "nothing written");
    assert_eq!(
        server.get("/schedules")["schedules"][0]["spec"]["cron"],
        "* * * * * *"
    );

    // The CLI replaces the block (fields not given take their defaults).
    let out = server.ok(&[
        "schedule",
        "set",
        "nightly",
        "--fixed-rate",
        "1h",
        "--timezone",
        "Asia/Shanghai",
        "--start",
        "2026-01-01",
        "--concurrency",
        "queue",
        "--priority",
        "low",
        "--offline",
    ]);
    assert!(out.contains("schedule of nightly set (version 3)"), "{out}");
    let s = &server.get("/schedules")["schedules"][0];
    assert_eq!(s["online"], false, "{s}");
    assert_eq!(s["next_fire_at"], Value::Null, "{s}");
    assert_eq!(
        s["spec"],
        serde_json::json!({
            "fixed_rate": "1h", "timezone": "Asia/Shanghai", "start": "2026-01-01",
            "online": false, "misfire": "fire_once", "max_catchup": 10,
            "concurrency": "queue", "priority": "low"
        })
    );
    let listed = server.ok(&["schedule", "list"]);
    assert!(
        listed.contains("every 1h") && listed.contains("offline"),
        "{listed}"
    );

    // Delete: a new version without the block; the schedule is gone.
    let out = server.ok(&["schedule", "delete", "nightly"]);
    assert!(out.contains("deleted (version 4)"), "{out}");
    assert_eq!(server.get("/schedules")["schedules"], serde_json::json!([]));
    let v = server.get("/workflows/nightly");
    assert_eq!(v["spec"]["schedule"], Value::Null, "{v}");
    assert_eq!(v["spec"]["priority"], "lowest");
    let out = server.cli(&["schedule", "delete", "nightly"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("workflow `nightly` has no schedule"),
        "{:?}",
        text(&out)
    );
    let (status, _) = call(&server, "DELETE", "/workflows/nope/schedule", None);
    assert_eq!(status, 404);
    let (status, _) = call(
        &server,
        "PUT",
        "/workflows/nope/schedule",
        Some(serde_json::json!({"cron": "* * * * * *"})),
    );
    assert_eq!(status, 404);
    assert_eq!(version_count(&server, "nightly"), 4);
}
