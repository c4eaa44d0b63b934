//! `POST /workflows:validate` on a real store, through the router: a valid file gets what it
//! would make, an invalid one every problem with its line and column, neither writes a
//! workflow or an audit row, and it needs the editor role of the file's project as an apply
//! does (a refusal is audited).

mod common;
use common::{admin_token, token_of};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::{ApiState, Members};
use baton_auth::Role;
use baton_store::testing::TestDb;
use baton_store::Store;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

const VALID: &str = "\
project: p
name: etl
params:
  day: '2024-01-01'
  n: {type: int, min: 1, required: true}
tasks:
  - {name: extract, type: shell, command: echo hi}
  - name: load
    type: http
    url: https://example.com/load
    depends_on: [extract]
";

const INVALID: &str = "\
project: p
name: etl
tasks:
  - name: a
    type: shell
    command: 'true'
    depends_on: [b]
  - name: b
    type: shell
    command: 'true'
    retry_interval: soon
    depends_on: [a]
";

async fn call(store: &Store, token: &str, source: &str) -> (StatusCode, Value) {
    let app = baton_api::router(ApiState::new(
        store.clone(),
        Arc::new(|| {}),
        Members::Fixed(Vec::new()),
    ));
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/workflows:validate")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "source": source }).to_string()))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn audit_rows(store: &Store) -> usize {
    let filter = baton_store::AuditFilter {
        limit: 100,
        ..Default::default()
    };
    store.list_audit(&filter).await.unwrap().len()
}

#[tokio::test]
async fn a_valid_file_gets_its_summary_and_nothing_is_written() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    store.create_project("p").await.unwrap();
    let token = admin_token(&store).await;
    let (status, body) = call(&store, &token, VALID).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["project"], "p");
    assert_eq!(body["name"], "etl");
    assert_eq!(
        body["tasks"],
        json!([
            {"name": "extract", "type": "shell", "depends_on": []},
            {"name": "load", "type": "http", "depends_on": ["extract"]},
        ])
    );
    assert_eq!(
        body["params"],
        json!([
            {"name": "day", "default": "2024-01-01", "required": false},
            {"name": "n", "rule": "int, at least 1", "required": true},
        ])
    );
    assert!(store.list_workflows(None).await.unwrap().is_empty());
    assert_eq!(audit_rows(&store).await, 0, "a dry run is not audited");
}

#[tokio::test]
async fn an_invalid_file_gets_every_problem_with_its_line_and_column() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    store.create_project("p").await.unwrap();
    let token = admin_token(&store).await;
    let (status, body) = call(&store, &token, INVALID).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_workflow");
    let problems = body["error"]["problems"].as_array().unwrap();
    let duration = problems
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("soon"))
        .unwrap_or_else(|| panic!("no problem about the duration: {body}"));
    assert_eq!(duration["line"], 11, "{duration}");
    assert_eq!(duration["task"], "b", "{duration}");
    assert_eq!(duration["column"], 5, "{duration}");
    assert!(store.list_workflows(None).await.unwrap().is_empty());
    assert_eq!(audit_rows(&store).await, 0);

    // The same file with the duration fixed still has its cycle (a problem of the whole).
    let cycle = INVALID.replace("    retry_interval: soon\n", "");
    let (status, body) = call(&store, &token, &cycle).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let problems = body["error"]["problems"].as_array().unwrap();
    let found = problems
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("cycle"))
        .unwrap_or_else(|| panic!("no problem about the cycle: {body}"));
    assert_eq!(found["message"], "dependency cycle: a -> b -> a", "{found}");
    assert_eq!(
        found["task"], "a",
        "the cycle's first task carries it: {found}"
    );
}

#[tokio::test]
async fn it_needs_the_editor_role_of_the_files_project_and_a_refusal_is_audited() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    store.create_project("p").await.unwrap();
    let viewer = store.create_user("v", "unused", false).await.unwrap();
    store.set_member("p", viewer, Role::Operator).await.unwrap();
    let editor = store.create_user("e", "unused", false).await.unwrap();
    store.set_member("p", editor, Role::Editor).await.unwrap();
    let (viewer, editor) = (
        token_of(&store, viewer, "t").await,
        token_of(&store, editor, "t").await,
    );
    let (status, body) = call(&store, &viewer, VALID).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(audit_rows(&store).await, 1, "the refusal is audited");
    let (status, body) = call(&store, &editor, VALID).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = VALID.replace("project: p", "project: q");
    store.create_project("q").await.unwrap();
    let (status, body) = call(&store, &editor, &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

/// The check has a path of its own (`/workflows:validate`), so a workflow may be named
/// `validate` and still be shown.
#[tokio::test]
async fn a_workflow_named_validate_is_still_shown() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    store.create_project("p").await.unwrap();
    let token = admin_token(&store).await;
    let text = "project: p\nname: validate\ntasks:\n  - {name: a, type: noop}\n";
    let spec = baton_core::WorkflowSpec::from_yaml(text, "v.yaml").unwrap();
    store.apply_workflow(&spec, text).await.unwrap();
    let app = baton_api::router(ApiState::new(
        store.clone(),
        Arc::new(|| {}),
        Members::Fixed(Vec::new()),
    ));
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/workflows/validate?project=p")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = call(&store, &token, text).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "validate");
}
