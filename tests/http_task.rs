//! The http task against a real HTTP server on loopback: a request with params in its URL,
//! headers and JSON body (a hostile value arrives exactly, and never changes the request's
//! shape), outputs from the response for the next task, an unexpected status, loopback refused
//! unless the worker allows it, a redirect to a metadata address refused, a timeout.

mod common;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver saw of each hook call: the path's value, the header, the body.
type Seen = Arc<Mutex<Vec<(String, String, serde_json::Value)>>>;

/// A receiver on a loopback port, served from its own thread for the test's life.
fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/hooks/{dt}", post(hook))
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/metadata",
            get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data/") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(120)).await;
                "late"
            }),
        )
        .with_state(seen.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{addr}"), seen)
}

async fn hook(
    State(seen): State<Seen>,
    Path(dt): Path<String>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> impl IntoResponse {
    let day = headers
        .get("x-day")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    seen.lock().unwrap().push((dt.clone(), day, body));
    (
        StatusCode::CREATED,
        Json(serde_json::json!({"id": format!("job-{dt}"), "n": 2})),
    )
}

/// `baton run` of `file` with `args`: exit code and everything printed.
fn run(file: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["run", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = baton(&all, &[]);
    let (stdout, stderr) = text(&out);
    (out.status.code(), format!("{stdout}\n{stderr}"))
}

#[test]
fn a_request_carries_values_as_data_and_its_outputs_reach_the_next_task() {
    let (base, seen) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let file = write(
        dir.path(),
        "hooks.yaml",
        &format!(
            "name: hooks\nparams: {{dt: '2026-01-31'}}\ntasks:\n  - name: notify\n    type: http\n    method: POST\n    url: {base}/hooks/${{dt}}\n    headers: {{X-Day: '${{dt}}'}}\n    body: {{date: '${{dt}}', n: 1}}\n    expect_status: [201]\n    outputs: {{job_id: /id, n: /n}}\n  - name: after\n    type: shell\n    depends_on: [notify]\n    command: echo \"got ${{job_id}} ${{n}}\" > {}\n",
            out.display()
        ),
    );
    let hostile = "a/b c?d=e#f\"}'$(id)";
    let (code, printed) = run(
        &file,
        &[
            "--http-allow-host",
            "127.0.0.1",
            "--logs",
            "--param",
            &format!("dt={hostile}"),
        ],
    );
    assert_eq!(code, Some(0), "{printed}");
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (path_value, header, body) = &calls[0];
    assert_eq!(path_value, hostile, "one path segment, exactly the value");
    assert_eq!(header, hostile);
    assert_eq!(body, &serde_json::json!({"date": hostile, "n": 1}));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("got job-{hostile} 2\n")
    );
    assert!(
        printed.contains("< 201 Created"),
        "the log shows the status: {printed}"
    );
}

#[test]
fn loopback_is_refused_unless_allowed_and_a_bad_status_or_redirect_fails_the_task() {
    let (base, seen) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let one = |name: &str, url: &str, extra: &str| {
        write(
            dir.path(),
            &format!("{name}.yaml"),
            &format!("name: {name}\ntasks:\n  - {{name: call, type: http, url: '{url}'{extra}}}\n"),
        )
    };
    let hook = one(
        "hook",
        &format!("{base}/hooks/x"),
        ", method: POST, body: {}",
    );
    let (code, printed) = run(&hook, &[]);
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("is a loopback address"), "{printed}");
    assert!(printed.contains("--http-allow-host 127.0.0.1"), "{printed}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reached the server"
    );

    let allow = ["--http-allow-host", "127.0.0.1"];
    let fail = one("fail", &format!("{base}/fail"), "");
    let (code, printed) = run(&fail, &allow);
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("unexpected status 503 Service Unavailable (expected 2xx)"),
        "{printed}"
    );

    let metadata = one("metadata", &format!("{base}/metadata"), "");
    let (code, printed) = run(&metadata, &allow);
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("redirect refused"), "{printed}");
    assert!(printed.contains("169.254.169.254"), "{printed}");
}

#[test]
fn a_request_past_its_timeout_is_dropped_and_the_task_times_out() {
    let (base, _) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "slow.yaml",
        &format!(
            "name: slow\ntasks:\n  - {{name: call, type: http, url: '{base}/slow', timeout: 1s}}\n"
        ),
    );
    let started = std::time::Instant::now();
    let (code, printed) = run(&file, &["--http-allow-host", "127.0.0.1"]);
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("timed_out") || printed.contains("timed out"),
        "{printed}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "ended by the timeout, not the server"
    );
}
