//! `POST /workflows/{name}/start` with overrides, and its dry run
//! `POST /workflows/{name}/start/preview`: the overrides are kept with the instance and shown
//! by `GET /instances/{id}`; the preview answers what would run, refuses what the start would
//! refuse, and creates nothing.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baton_api::{ApiState, Members};
use baton_core::WorkflowSpec;
use baton_store::testing::TestDb;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

const FILE: &str = "name: etl\nfailure_strategy: continue\nparams:\n  region: {enum: [eu, us], default: eu}\n  day: $[yyyyMMdd]\n  batch: {type: int, min: 1, max: 10, required: true}\ntasks:\n  - {name: load, type: shell, command: 'echo ${region} ${batch} ${n}', depends_on: [check]}\n  - {name: extract, type: shell, command: 'echo setValue(n=1)', worker_group: io}\n  - {name: check, type: switch, depends_on: [extract], cases: [{when: 'true', then: [load]}]}\n";

struct World {
    app: axum::Router,
    token: String,
    _db: TestDb,
}

async fn world() -> World {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let token = common::admin_token(&store).await;
    let spec = WorkflowSpec::from_yaml(FILE, "etl.yaml").unwrap();
    store.apply_workflow(&spec, FILE).await.unwrap();
    let state = ApiState::new(store, Arc::new(|| {}), Members::Fixed(Vec::new()));
    World {
        app: baton_api::router(state),
        token,
        _db: db,
    }
}

impl World {
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let builder = Request::builder()
            .method(method)
            .uri(format!("/api/v1{uri}"))
            .header("authorization", format!("Bearer {}", self.token));
        let request = match body {
            Some(b) => builder
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let r = self.app.clone().oneshot(request).await.unwrap();
        let status = r.status();
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    async fn instance_count(&self) -> usize {
        let (status, list) = self.call("GET", "/instances", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["instances"].as_array().unwrap().len()
    }
}

#[tokio::test]
async fn a_start_keeps_its_overrides_and_the_instance_shows_them() {
    let w = world().await;
    let body = json!({"params": {"batch": "3"}, "failure_strategy": "end",
        "priority": "high", "worker_group": "nobody-serves-this"});
    let (status, started) = w.call("POST", "/workflows/etl/start", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let id = started["id"].as_i64().unwrap();
    let (status, detail) = w.call("GET", &format!("/instances/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let instance = &detail["instance"];
    assert_eq!(
        instance["overrides"],
        json!({"failure_strategy": "end", "priority": "high", "worker_group": "nobody-serves-this"})
    );
    assert_eq!(instance["priority"], "high");

    // Without overrides the instance has none, and the workflow's priority.
    let body = json!({"params": {"batch": "3"}});
    let (_, started) = w.call("POST", "/workflows/etl/start", Some(body)).await;
    let id = started["id"].as_i64().unwrap();
    let (_, detail) = w.call("GET", &format!("/instances/{id}"), None).await;
    assert!(detail["instance"].get("overrides").is_none(), "{detail}");
    assert_eq!(detail["instance"]["priority"], "medium");
}

#[tokio::test]
async fn a_bad_override_is_refused_saying_which() {
    let w = world().await;
    let body = json!({"params": {"batch": "3"}, "worker_group": "two words"});
    let (status, error) = w.call("POST", "/workflows/etl/start", Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["code"], "bad_override");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`two words`"),
        "{error}"
    );
    assert_eq!(error["error"]["problems"][0]["field"], "worker_group");
    let body = json!({"params": {"batch": "3"}, "priority": "urgent"});
    let (status, error) = w.call("POST", "/workflows/etl/start", Some(body)).await;
    assert!(status.is_client_error(), "{status} {error}");
    assert!(error.to_string().contains("urgent"), "{error}");
    assert_eq!(w.instance_count().await, 0, "nothing was started");
}

#[tokio::test]
async fn a_dry_run_lists_the_tasks_in_order_with_groups_and_params_and_starts_nothing() {
    let w = world().await;
    let body = json!({"params": {"batch": "3", "region": "us"}, "priority": "low"});
    let (status, p) = w
        .call("POST", "/workflows/etl/start/preview", Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["version"], 1);
    assert_eq!(p["params"], json!({"batch": "3", "region": "us"}));
    assert_eq!(p["failure_strategy"], "continue");
    assert_eq!(p["priority"], "low");
    let tasks = p["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["extract", "check", "load"], "dependency order");
    assert_eq!(tasks[0]["worker_group"], "io");
    assert_eq!(tasks[0]["task_type"], "shell");
    assert!(
        tasks[1].get("worker_group").is_none(),
        "the master runs a switch"
    );
    let load = &tasks[2];
    assert_eq!(load["depends_on"], json!(["check"]));
    let param = |name: &str| {
        load["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no param {name}: {load}"))
    };
    assert_eq!(
        param("region"),
        json!({"name": "region", "value": "us", "at_run_time": false})
    );
    assert_eq!(
        param("batch"),
        json!({"name": "batch", "value": "3", "at_run_time": false})
    );
    assert_eq!(param("day"), json!({"name": "day", "at_run_time": true}));
    assert_eq!(param("n"), json!({"name": "n", "at_run_time": true}));
    assert_eq!(w.instance_count().await, 0, "a dry run starts nothing");
}

#[tokio::test]
async fn a_dry_run_keeps_to_the_scope_and_applies_the_worker_group_override() {
    let w = world().await;
    let body = json!({"params": {"batch": "1"}, "from_task": "check", "scope": "self",
        "worker_group": "g", "failure_strategy": "end"});
    let (status, p) = w
        .call("POST", "/workflows/etl/start/preview", Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["failure_strategy"], "end");
    let names: Vec<&str> = p["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["check"]);
    let body = json!({"params": {"batch": "1"}, "worker_group": "g"});
    let (_, p) = w
        .call("POST", "/workflows/etl/start/preview", Some(body))
        .await;
    assert_eq!(p["tasks"][0]["worker_group"], "g");
}

#[tokio::test]
async fn a_refused_param_is_named_at_its_field() {
    let w = world().await;
    let body = json!({"params": {"batch": "11", "region": "mars"}});
    let (status, error) = w.call("POST", "/workflows/etl/start", Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["code"], "bad_params");
    let fields: Vec<&str> = error["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["params.batch", "params.region"]);
    let body = json!({"params": {"batch": "1"}, "from_task": "nope"});
    let (_, error) = w.call("POST", "/workflows/etl/start", Some(body)).await;
    assert_eq!(error["error"]["problems"][0]["field"], "from_task");
}

#[tokio::test]
async fn a_dry_run_refuses_what_the_start_refuses_with_the_same_error() {
    let w = world().await;
    let cases = [
        json!({}),
        json!({"params": {"batch": "11"}}),
        json!({"params": {"batch": "2", "region": "mars"}}),
        json!({"params": {"batch": "2", "other": "x"}}),
        json!({"params": {"batch": "2"}, "from_task": "nope"}),
        json!({"params": {"batch": "2"}, "worker_group": "a b"}),
    ];
    for body in cases {
        let (start_status, start) = w
            .call("POST", "/workflows/etl/start", Some(body.clone()))
            .await;
        let (status, preview) = w
            .call("POST", "/workflows/etl/start/preview", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {preview}");
        assert_eq!((start_status, &start), (status, &preview), "{body}");
    }
    let (status, _) = w
        .call("POST", "/workflows/nope/start/preview", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(w.instance_count().await, 0);
}
