//! Backfill: one instance per day (or per fire time of the schedule) over a range, with its
//! schedule time; progress; parallel runs; stop.

mod common;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn lines(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(dir.join("runs"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn backfill_runs_each_day_with_its_date_and_can_be_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let daily = write(
        dir.path(),
        "daily.yaml",
        &format!("name: daily\ntimezone: Asia/Shanghai\ntasks:\n  - {{name: t, type: shell, command: 'echo ${{system.biz.curdate}} $[yyyy-MM-dd] >> {d}/runs'}}\n"),
    );
    server.ok(&["workflow", "apply", "-f", daily.to_str().unwrap()]);
    let id = server.ok(&[
        "backfill",
        "daily",
        "--from",
        "2026-01-30",
        "--to",
        "2026-02-02",
        "--parallel",
        "2",
    ]);
    let id = id.trim().to_string();
    wait_for("the backfill to finish", LONG, || {
        let b = server.get(&format!("/backfills/{id}"));
        (b["state"] == "done").then_some(())
    });
    assert_eq!(
        lines(dir.path()),
        [
            "20260130 2026-01-30",
            "20260131 2026-01-31",
            "20260201 2026-02-01",
            "20260202 2026-02-02"
        ]
    );
    let shown = server.ok(&["backfill", "show", &id]);
    assert!(shown.contains("done 4"), "{shown}");

    // A schedule's fire times, not days: two fires a day on the dates given.
    let twice = write(
        dir.path(),
        "twice.yaml",
        &format!("name: twice\nschedule: {{cron: '0 0 6,18 * * *', online: false}}\ntasks:\n  - {{name: t, type: shell, command: 'echo twice ${{system.schedule.time}} >> {d}/runs'}}\n"),
    );
    server.ok(&["workflow", "apply", "-f", twice.to_str().unwrap()]);
    let id2 = server
        .ok(&["backfill", "twice", "--dates", "2026-03-01,2026-03-05"])
        .trim()
        .to_string();
    wait_for("the second backfill", LONG, || {
        (server.get(&format!("/backfills/{id2}"))["state"] == "done").then_some(())
    });
    let got: Vec<String> = lines(dir.path())
        .into_iter()
        .filter(|l| l.starts_with("twice"))
        .collect();
    assert_eq!(
        got,
        [
            "twice 20260301060000",
            "twice 20260301180000",
            "twice 20260305060000",
            "twice 20260305180000"
        ]
    );

    // Stop: a long serial backfill stops as a whole.
    let slow = write(
        dir.path(),
        "slow.yaml",
        "name: slow\ntasks:\n  - {name: t, type: shell, command: 'sleep 30'}\n",
    );
    server.ok(&["workflow", "apply", "-f", slow.to_str().unwrap()]);
    let id3 = server
        .ok(&[
            "backfill",
            "slow",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
        ])
        .trim()
        .to_string();
    wait_for("the first instance to run", LONG, || {
        (server.get(&format!("/backfills/{id3}"))["progress"]["running"].as_i64() == Some(1))
            .then_some(())
    });
    server.ok(&["backfill", "stop", &id3]);
    wait_for("its instance to stop", LONG, || {
        (server.get(&format!("/backfills/{id3}"))["progress"]["stopped"].as_i64() == Some(1))
            .then_some(())
    });
    let b = server.get(&format!("/backfills/{id3}"));
    assert_eq!(
        (b["state"].as_str(), b["started"].as_i64()),
        (Some("stopped"), Some(1))
    );
    // Every date is counted once: the one stopped, the 30 that will never start.
    let p = &b["progress"];
    let counted: i64 = [
        "succeeded",
        "failed",
        "stopped",
        "running",
        "waiting",
        "cancelled",
    ]
    .iter()
    .map(|k| p[k].as_i64().unwrap())
    .sum();
    assert_eq!(counted, 31, "{b:#}");
    assert_eq!(p["cancelled"].as_i64(), Some(30), "{b:#}");
    let shown = server.ok(&["backfill", "show", &id3]);
    assert!(shown.contains("stopped 1  cancelled 30"), "{shown}");
    // Its instance, by id and the schedule time it stands for.
    let instance = b["instances"][0]["id"].as_i64().unwrap();
    assert!(shown.contains(&format!("\n{instance} ")), "{shown}");
    let listed = server.ok(&["backfill", "list"]);
    let row = listed.lines().find(|l| l.starts_with(&id3)).unwrap();
    assert!(
        row.contains("default/slow"),
        "the workflow's name: {listed}"
    );
    let first_day = common::time_us(&b["instances"][0]["schedule_time"]).unwrap();
    assert_eq!(
        Some(first_day),
        common::time_us(&server.instance(instance)["instance"]["schedule_time"])
    );
    let env = [("TZ", "UTC"), ("BATON_TOKEN", server.token.as_str())];
    let show = common::baton(
        &[
            "instance",
            "show",
            &instance.to_string(),
            "--server",
            &server.api,
        ],
        &env,
    );
    assert!(
        text(&show)
            .0
            .contains("schedule time 2026-01-01 00:00:00.000 +00:00"),
        "{:?}",
        text(&show)
    );
    let list = common::baton(
        &[
            "instance",
            "list",
            "--workflow",
            "slow",
            "--server",
            &server.api,
        ],
        &env,
    );
    assert!(
        text(&list).0.contains("2026-01-01 00:00:00.000 +00:00"),
        "{:?}",
        text(&list)
    );

    let bad = server.cli(&[
        "backfill",
        "daily",
        "--from",
        "2026-02-02",
        "--to",
        "2026-01-01",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).1.contains("is before"), "{:?}", text(&bad));
}
