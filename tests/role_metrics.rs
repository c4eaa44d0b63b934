//! `--metrics-listen` on a cluster's master and worker (real processes on PostgreSQL): after a
//! workflow with a retry, the histograms count every attempt, the dispatches equal the
//! attempts run, the worker's outbox is empty again, `/health` and `/health/ready` answer,
//! every other path is a 404, and each exposition passes `promtool check metrics`. The Grafana
//! dashboard uses only series that these scrapes (and the API's) show.

mod common;
use common::prom::*;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// GET `path` on a metrics listener: its status and body.
fn get(address: &str, path: &str) -> (u16, String) {
    let r = reqwest::blocking::get(format!("http://{address}{path}")).unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn scrape(address: &str) -> String {
    exposition(reqwest::blocking::get(format!("http://{address}/metrics")).unwrap())
}

/// Every `baton_…` name in the `expr`s of the dashboard's panels.
fn dashboard_metric_names() -> std::collections::BTreeSet<String> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/baton-dashboard.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "the dashboard has its panels: {exprs:?}");
    let mut names = std::collections::BTreeSet::new();
    for expr in exprs {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("baton_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            names.insert(name);
        }
    }
    names
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_exprs(i, out)),
        _ => {}
    }
}

#[test]
fn master_and_worker_serve_their_metrics_and_health() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(baton_store::testing::TestDb::postgres());
    let dir = tempfile::tempdir().unwrap();
    let master_metrics = format!("127.0.0.1:{}", free_port());
    let worker_metrics = format!("127.0.0.1:{}", free_port());
    let mut launch = baton_testkit::Launch::new(baton_bin(), dir.path(), &db.url);
    launch.masters = 1;
    launch.workers = 1;
    launch.session_timeout = "3s".into();
    launch.heartbeat_interval = "500ms".into();
    launch.master_args = vec!["--metrics-listen".into(), master_metrics.clone()];
    launch.worker_args = vec![
        "--kill-grace".into(),
        "1s".into(),
        "--metrics-listen".into(),
        worker_metrics.clone(),
    ];
    let c = baton_testkit::Cluster::start(launch).unwrap_or_else(|e| panic!("{e}"));

    for address in [&master_metrics, &worker_metrics] {
        assert_eq!(get(address, "/health"), (200, "live\n".into()));
        let (status, body) = wait_for("ready", LONG, || {
            let answer = get(address, "/health/ready");
            (answer.0 == 200).then_some(answer)
        });
        assert_eq!((status, body.as_str()), (200, "ready\n"));
        assert_eq!(get(address, "/nothing").0, 404, "only the three routes");
        assert_eq!(get(address, "/api/v1/metrics").0, 404);
    }

    let file = write(
        dir.path(),
        "metrics.yaml",
        "name: metrics\ntasks:\n  - {name: a, type: shell, command: 'echo hello'}\n  - {name: b, type: shell, depends_on: [a], retries: 1, retry_interval: 10ms, command: '[ \"$BATON_ATTEMPT\" -gt 1 ]'}\n  - {name: c, type: noop}\n",
    );
    c.ok(&["workflow", "apply", "-f", file.to_str().unwrap()]);
    let id: i64 = c
        .ok(&["workflow", "start", "metrics"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(c.wait_all(&[id], LONG)[&id], "succeeded");

    // a, b twice, c: four attempts on the worker.
    let master = wait_for("the master to count four attempts", LONG, || {
        let text = scrape(&master_metrics);
        (sum(&text, "baton_task_duration_seconds_count") >= 4.0).then_some(text)
    });
    let worker = wait_for("the worker's outbox to be empty", LONG, || {
        let text = scrape(&worker_metrics);
        let empty = sample(&text, "baton_worker_outbox_depth") == Some(0.0);
        (empty && sum(&text, "baton_worker_attempts_total") >= 4.0).then_some(text)
    });

    assert_eq!(
        sample(&worker, "baton_worker_log_archive_waiting"),
        Some(0.0),
        "no archive, nothing waits for one: {worker}"
    );
    assert_eq!(
        sample(&master, "baton_master_dispatches_total"),
        Some(4.0),
        "one dispatch per attempt run: {master}"
    );
    assert_eq!(
        sample(
            &master,
            r#"baton_task_dispatch_latency_seconds_count{worker_group="default"}"#
        ),
        Some(4.0),
        "{master}"
    );
    let duration = |labels: &str| {
        sample(
            &master,
            &format!("baton_task_duration_seconds_count{{{labels}}}"),
        )
    };
    assert_eq!(duration(r#"outcome="succeeded",type="shell""#), Some(2.0));
    assert_eq!(duration(r#"outcome="failed",type="shell""#), Some(1.0));
    assert_eq!(duration(r#"outcome="succeeded",type="noop""#), Some(1.0));
    assert_eq!(sample(&master, "baton_master_retries_total"), Some(1.0));
    assert_eq!(sample(&master, "baton_master_registry_session"), Some(1.0));
    assert_eq!(sample(&master, "baton_master_attempts_running"), Some(0.0));
    assert_eq!(sample(&master, "baton_master_instances_running"), Some(0.0));
    assert_eq!(
        sample(
            &master,
            r#"baton_master_ready_queue_depth{worker_group="default"}"#
        ),
        Some(0.0)
    );
    let refused = sum(&master, "baton_master_dispatch_refusals_total");
    assert_eq!(refused, 0.0, "{master}");
    let slots = sample(&worker, "baton_worker_attempt_slots").unwrap();
    assert!(slots >= 1.0, "{worker}");
    assert_eq!(
        sample(
            &master,
            r#"baton_master_free_slots{worker_group="default"}"#
        ),
        Some(slots),
        "every slot of the one worker is free again: {master}"
    );
    assert!(
        master.contains("baton_schedule_lateness_seconds_count 0"),
        "{master}"
    );

    let ended = |labels: &str| sample(&worker, &format!("baton_worker_attempts_total{{{labels}}}"));
    assert_eq!(
        ended(r#"outcome="succeeded",type="shell""#),
        Some(2.0),
        "{worker}"
    );
    assert_eq!(
        ended(r#"outcome="failed",type="shell""#),
        Some(1.0),
        "{worker}"
    );
    assert_eq!(
        ended(r#"outcome="succeeded",type="noop""#),
        Some(1.0),
        "{worker}"
    );
    assert_eq!(sample(&worker, "baton_worker_attempts_running"), Some(0.0));
    assert_eq!(sample(&worker, "baton_worker_registry_session"), Some(1.0));
    let logged = sample(&worker, "baton_worker_log_bytes_total").unwrap();
    assert!(logged >= "hello\n".len() as f64, "{worker}");

    promtool_check(&master);
    promtool_check(&worker);

    // The API's own series come from its `GET /metrics`.
    let api = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/metrics", c.api_url))
        .bearer_auth(&c.token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    promtool_check(&api);
    let mut shown = series_names(&master);
    shown.extend(series_names(&worker));
    shown.extend(series_names(&api));
    let unknown: Vec<_> = dashboard_metric_names()
        .into_iter()
        .filter(|name| !shown.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "the dashboard uses series Baton does not show: {unknown:?}\nshown: {shown:?}"
    );
}

#[test]
fn a_master_is_not_ready_while_its_database_is_down() {
    let pg = pg::OwnPostgres::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The registry is etcd, so that the master keeps its session while the database is down.
    let etcd = rt.block_on(baton_registry::testing::EtcdServer::start());
    let dir = tempfile::tempdir().unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut launch = baton_testkit::Launch::new(baton_bin(), dir.path(), &pg.url());
    launch.registry = format!("etcd://{}", etcd.host());
    launch.masters = 1;
    launch.workers = 0;
    launch.master_args = vec!["--metrics-listen".into(), metrics.clone()];
    let c = baton_testkit::Cluster::start(launch).unwrap_or_else(|e| panic!("{e}"));
    let ready = |want: u16| {
        wait_for(&format!("/health/ready to answer {want}"), LONG, || {
            let (status, body) = get(&metrics, "/health/ready");
            (status == want).then_some(body)
        })
    };
    assert_eq!(ready(200), "ready\n");

    pg.stop();
    assert_eq!(ready(503), "not ready: database unreachable\n");
    assert_eq!(get(&metrics, "/health").0, 200, "still live");
    let text = scrape(&metrics);
    assert_eq!(sample(&text, "baton_master_registry_session"), Some(1.0));

    pg.start_again();
    assert_eq!(ready(200), "ready\n");
    drop(c);
    drop(etcd);
}
