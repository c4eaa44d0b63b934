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
            i["schedule_time"]
                .as_i64()
                .expect("scheduled instances have a schedule time")
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
