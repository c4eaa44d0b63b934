//! Project secrets end to end with a real `baton standalone`: `baton secret set` (the value on
//! stdin), `list` (names only), `delete`; an http task's `${secret.NAME}` header and body
//! arrive at a local receiver with the value, while the value is in no API answer, event,
//! server log line or task log (the receiver echoes it back: the log shows `***`); a secret
//! anywhere else is refused when the workflow is applied; a viewer lists but cannot set.

mod common;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver saw: the Authorization header and the body of each call.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A receiver on a loopback port that answers with what it got.
fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/hook", post(hook))
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
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let auth = headers
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    seen.lock().unwrap().push((auth.clone(), body.clone()));
    Json(json!({"auth": auth, "body": body}))
}

#[test]
fn a_secret_reaches_the_receiver_and_nothing_else() {
    let (base, seen) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let s = Standalone::start(
        &dir.path().join("data"),
        None,
        &["--http-allow-host", "127.0.0.1"],
    );
    let value = format!("tok-{}-Zq9", std::process::id());
    let env = [
        ("BATON_SERVER", s.api.as_str()),
        ("BATON_TOKEN", s.token.as_str()),
    ];
    let out = baton_in(
        &config,
        &["secret", "set", "token"],
        &format!("{value}\n"),
        &env,
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let out = baton_in(&config, &["secret", "set", "other"], "x", &env);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = baton_in(&config, &["secret", "set", "empty"], "", &env);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an empty value is refused: {:?}",
        text(&out)
    );

    let file = write(
        dir.path(),
        "hook.yaml",
        &format!(
            "name: hook\ntasks:\n  - name: call\n    type: http\n    method: POST\n    url: {base}/hook\n    headers: {{Authorization: 'Bearer ${{secret.token}}'}}\n    body: {{key: '${{secret.token}}', n: 1}}\n    outputs: {{echo: /auth}}\n  - {{name: after, type: shell, depends_on: [call], command: 'echo \"got ${{echo}}\"'}}\n"
        ),
    );
    let id = s.start_workflow(&file, "hook", &[]);
    let view = s.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "succeeded", "{view:#}");
    let calls = seen.lock().unwrap().clone();
    assert_eq!(
        calls,
        [(format!("Bearer {value}"), json!({"key": value, "n": 1}))],
        "the receiver got the value"
    );
    let call_log = s.ok(&["logs", &Standalone::task(&view, "call")["id"].to_string()]);
    assert!(
        call_log.contains("Bearer ***"),
        "the echo is masked: {call_log}"
    );
    let after_log = s.ok(&["logs", &Standalone::task(&view, "after")["id"].to_string()]);
    assert!(after_log.contains("got Bearer ***"), "{after_log}");

    let listed = s.ok(&["secret", "list"]);
    assert!(
        listed.contains("token") && listed.contains("other"),
        "{listed}"
    );
    let api_list = s.get("/secrets?project=default").to_string();
    let events = s.get("/events?limit=500").to_string();
    let instance = s.instance(id).to_string();
    let audit = s.get("/audit?limit=500").to_string();
    for (what, text) in [
        ("secret list", &listed),
        ("the API's list", &api_list),
        ("the event log", &events),
        ("the instance", &instance),
        ("the audit log", &audit),
        ("the http task's log", &call_log),
        ("the next task's log", &after_log),
        ("the server's log", &s.log_text()),
    ] {
        assert!(!text.contains(&value), "{what} shows the secret: {text}");
    }

    // A viewer lists the names but cannot set one.
    let viewer = s
        .ok(&[
            "token",
            "create",
            "--project",
            "default",
            "--role",
            "viewer",
            "--expires",
            "1h",
        ])
        .trim()
        .to_string();
    let as_viewer = |method: reqwest::Method, path: &str| {
        s.client
            .request(method, format!("{}/api/v1{path}", s.api))
            .bearer_auth(&viewer)
    };
    let listing = as_viewer(reqwest::Method::GET, "/secrets").send().unwrap();
    assert_eq!(listing.status(), 200);
    assert!(!listing.text().unwrap().contains(&value));
    let status = as_viewer(reqwest::Method::PUT, "/secrets/x")
        .json(&json!({"value": "v"}))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 403, "a viewer cannot set a secret");

    // A secret anywhere but an http task's headers and body is refused at apply.
    let leaky = write(
        dir.path(),
        "leaky.yaml",
        "name: leaky\ntasks:\n  - {name: s, type: shell, command: 'echo ${secret.token}'}\n  - {name: h, type: http, url: 'https://h.test/${secret.token}'}\n",
    );
    let out = s.cli(&["workflow", "apply", "-f", leaky.to_str().unwrap()]);
    let (_, err) = text(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    for expected in [
        "task `s`: `${secret.token}` cannot be used in `command`: secrets are only for http task headers and bodies",
        "task `h`: `${secret.token}` cannot be used in `url`",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }

    // A deleted secret fails the next run, saying which is missing.
    s.ok(&["secret", "delete", "token"]);
    assert!(!s.ok(&["secret", "list"]).contains("token"));
    let id = s.start_workflow(&file, "hook", &[]);
    let view = s.wait_end(id, Duration::from_secs(60));
    assert_eq!(view["instance"]["state"], "failed", "{view:#}");
    let message = Standalone::task(&view, "call")["message"].to_string();
    assert!(message.contains("has no secret `token`"), "{message}");
}
