//! `GET /api/v1/metrics` on a standalone: lifecycle events counted by kind as a workflow runs
//! (retries included), requests timed by route, the members, the master's and the worker's
//! own series in the same scrape; the text passes
//! `promtool check metrics`; without a token the answer is 401.

mod common;
use common::prom::*;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn scrape(server: &Standalone) -> String {
    exposition(
        server
            .request(reqwest::Method::GET, "/metrics")
            .send()
            .unwrap(),
    )
}

#[test]
fn metrics_count_lifecycle_events_and_requests_and_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::start(&dir.path().join("data"), None, &[]);
    let anonymous = reqwest::blocking::get(format!("{}/api/v1/metrics", server.api)).unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "metrics need a token like every route"
    );

    // The first scrape starts the count: what happens after it is counted.
    let before = scrape(&server);
    assert_eq!(
        sample(
            &before,
            r#"baton_lifecycle_events_total{kind="task_succeeded"}"#
        ),
        Some(0.0),
        "{before}"
    );
    let file = write(
        dir.path(),
        "retry.yaml",
        "name: retry\ntasks:\n  - {name: a, type: shell, retries: 1, retry_interval: 10ms, command: '[ \"$BATON_ATTEMPT\" -gt 1 ]'}\n  - {name: b, type: noop, depends_on: [a]}\n",
    );
    let id = server.start_workflow(&file, "retry", &[]);
    assert_eq!(server.wait_end(id, LONG)["instance"]["state"], "succeeded");
    let counted = |text: &str, kind: &str| {
        sample(
            text,
            &format!("baton_lifecycle_events_total{{kind=\"{kind}\"}}"),
        )
        .unwrap_or(0.0)
    };
    let text = wait_for("the run's events to be counted", LONG, || {
        let text = scrape(&server);
        // The master records its metrics just after the commit that the event log shows.
        let ended = counted(&text, "instance_succeeded") >= 1.0
            && sum(&text, "baton_task_duration_seconds_count") >= 3.0;
        ended.then_some(text)
    });
    assert_eq!(counted(&text, "task_succeeded"), 2.0, "{text}");
    assert_eq!(counted(&text, "task_retrying"), 1.0, "{text}");
    assert_eq!(
        counted(&text, "task_failed"),
        0.0,
        "a retried failure is not a failure: {text}"
    );
    assert!(counted(&text, "task_dispatched") >= 2.0, "{text}");
    assert!(
        text.contains(r#"baton_http_request_duration_seconds_count{method="POST",route="/api/v1/workflows/{name}/start",status="2xx"} 1"#),
        "requests are timed by route, not by path: {text}"
    );
    // A standalone is one member, shown as its master.
    let members = |role: &str| sample(&text, &format!("baton_cluster_members{{role=\"{role}\"}}"));
    assert_eq!(members("master"), Some(1.0), "{text}");
    assert_eq!(members("worker"), Some(0.0), "{text}");

    // The standalone's master and worker are in the same scrape, under names of their own.
    assert_eq!(
        sum(&text, "baton_master_dispatches_total"),
        3.0,
        "a's two attempts and b's: {text}"
    );
    assert_eq!(
        sum(&text, "baton_task_dispatch_latency_seconds_count"),
        3.0,
        "three attempts waited for a worker: {text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"baton_worker_attempts_total{outcome="failed",type="shell"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "baton_master_retries_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "baton_master_registry_session"),
        Some(1.0),
        "{text}"
    );
    promtool_check(&text);
}
