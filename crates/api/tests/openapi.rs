//! The OpenAPI document: every route of the router is in it (and answers as it says), and an
//! independent validator (Python's `openapi-spec-validator`) accepts it.

mod common;
use common::admin_token;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::{ApiState, Members};
use baton_store::testing::TestDb;
use http_body_util::BodyExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tower::ServiceExt;

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

/// The (method, path) pairs of the document.
fn documented() -> Vec<(Method, String)> {
    let doc = serde_json::to_value(baton_api::openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            out.push((m, path.clone()));
        }
    }
    out
}

/// A concrete URL for a templated path.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{name}", "nope")
        .replace("{project}", "nope")
        .replace("{user}", "nope")
}

/// A request with a JSON body `{}` and the token, to the router; its status and body.
async fn call(
    (app, token): &(axum::Router, String),
    method: Method,
    uri: &str,
) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let streaming = response
        .headers()
        .get("content-type")
        .is_some_and(|c| c.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        return (status, String::new());
    }
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn every_route_is_in_the_document_and_every_documented_route_is_served() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let token = admin_token(&store).await;
    let state = ApiState::new(store, Arc::new(|| {}), Members::Fixed(Vec::new()));
    let app = (baton_api::router(state), token);
    let documented = documented();
    assert!(documented.len() >= 30, "{documented:?}");
    let paths: std::collections::BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in METHODS {
            let (status, body) = call(&app, method.clone(), &concrete(path)).await;
            let in_doc = documented.iter().any(|(m, p)| *m == method && p == path);
            let served =
                status != StatusCode::METHOD_NOT_ALLOWED && !body.contains("no such endpoint");
            assert_eq!(
                served, in_doc,
                "{method} {path}: served {served} ({status} {body}), documented {in_doc}"
            );
        }
    }
    // Outside the documented paths there is nothing but the document and its reference.
    let (status, body) = call(&app, Method::GET, "/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no such endpoint"), "{body}");
    let (status, body) = call(&app, Method::GET, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(served, serde_json::to_value(baton_api::openapi()).unwrap());
    let (status, body) = call(&app, Method::GET, "/api/docs/").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("swagger"), "{body}");
}

/// A Python that has `openapi_spec_validator`: the system's, else a venv under the target
/// directory, made (from PyPI) the first time.
fn validator_python() -> PathBuf {
    let has = |python: &Path| {
        Command::new(python)
            .args(["-c", "import openapi_spec_validator"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let system = PathBuf::from("python3");
    if has(&system) {
        return system;
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi-venv");
    let python = venv.join("bin").join("python");
    if !has(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "openapi-spec-validator"])
            .status()
            .expect("pip runs");
        assert!(installed.success(), "pip install openapi-spec-validator");
    }
    python
}

#[test]
fn the_document_is_valid_openapi_3_1() {
    let doc = baton_api::openapi().to_pretty_json().unwrap();
    let value: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert!(
        value["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        value["openapi"]
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &doc).unwrap();
    let out = Command::new(validator_python())
        .args([
            "-c",
            "import sys, json\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator\n\
             validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\n\
             print('valid')",
        ])
        .arg(&file)
        .output()
        .expect("the validator runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn malformed_requests_get_the_api_error_shape() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let token = admin_token(&store).await;
    let state = ApiState::new(store, Arc::new(|| {}), Members::Fixed(Vec::new()));
    let app = (baton_api::router(state), token);
    for (method, uri, code, says) in [
        (Method::GET, "/api/v1/instances/abc", "bad_path", "abc"),
        (
            Method::GET,
            "/api/v1/events?since=yesterday",
            "bad_query",
            "since",
        ),
        (
            Method::GET,
            "/api/v1/events?kind=task_faild",
            "bad_kind",
            "task_failed",
        ),
        (
            Method::GET,
            "/api/v1/instances?state=faild",
            "bad_state",
            "faild",
        ),
        (
            Method::GET,
            "/api/v1/workflows?limit=0",
            "bad_query",
            "limit",
        ),
        (
            Method::POST,
            "/api/v1/task-groups",
            "bad_request",
            "task group",
        ),
    ] {
        let (status, body) = call(&app, method.clone(), uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
        assert_eq!(v["error"]["code"], code, "{method} {uri}: {body}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{method} {uri}: {body}"
        );
    }
}

#[test]
fn the_document_lists_the_event_kinds_and_states_a_filter_takes() {
    let doc = serde_json::to_value(baton_api::openapi()).unwrap();
    let param = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no `{name}`"))
            .clone()
    };
    let kinds: Vec<String> = baton_core::event::EventKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    for path in ["/api/v1/events", "/api/v1/events/stream"] {
        let listed: Vec<String> =
            serde_json::from_value(param(path, "kind")["schema"]["enum"].clone()).unwrap();
        assert_eq!(listed, kinds, "{path}");
    }
    let states = param("/api/v1/instances", "state")["schema"]["enum"].clone();
    assert!(
        states.as_array().unwrap().iter().any(|s| s == "succeeded"),
        "{states}"
    );
}

/// The web UI's typed client is generated from `ui/src/api/openapi.json`, committed: it
/// must be the document the server serves. `BATON_UPDATE_OPENAPI=1` writes it instead
/// (`npm run gen:api` in `ui/` does, then regenerates the types).
#[test]
fn committed_document() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/api/openapi.json");
    let served = serde_json::to_value(baton_api::openapi()).unwrap();
    if std::env::var_os("BATON_UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    assert!(
        committed == served,
        "{} is not the document the server serves: refresh it and the UI's types with \
         `cd ui && npm run gen:api` (or `BATON_UPDATE_OPENAPI=1 cargo test -p baton-api \
         --test openapi committed_document`, then `npm run gen:api -- --types-only`)",
        path.display()
    );
}
