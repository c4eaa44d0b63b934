//! `GET /api/v1/metrics` on a standalone: lifecycle events counted by kind as a workflow runs
//! (retries included), requests timed by route, the members; the text passes
//! `promtool check metrics`; without a token the answer is 401.

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn scrape(server: &Standalone) -> String {
    let r = server
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    r.text().unwrap()
}

/// The value of the sample `series` (name and labels as written), if it is there.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
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
        (counted(&text, "instance_succeeded") >= 1.0).then_some(text)
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

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is not installed: run `make promtool` (installs Debian's prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
