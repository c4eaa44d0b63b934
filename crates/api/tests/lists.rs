//! What the web UI's lists read in one call: `GET /workflows` with each workflow's recent
//! runs, `GET /schedules?project=`, an instance's sub-workflow children in its answer; and
//! the answers compressed (gzip, brotli) when the client takes it, but not the event stream.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baton_api::{ApiState, Members};
use baton_core::{TaskInstanceId, WorkflowSpec};
use baton_store::testing::TestDb;
use baton_store::{NewChild, NewInstance, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

struct World {
    app: axum::Router,
    store: Store,
    token: String,
    _db: TestDb,
}

const DAILY: &str = "name: daily\nproject: p\nschedule: {cron: '0 0 2 * * *'}\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
const OTHER: &str = "name: other\nproject: q\nschedule: {cron: '0 0 3 * * *'}\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
const IDLE: &str = "name: idle\nproject: p\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";

async fn world() -> World {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let token = common::admin_token(&store).await;
    for project in ["p", "q"] {
        store.create_project(project).await.unwrap();
    }
    for text in [DAILY, OTHER, IDLE] {
        let spec = WorkflowSpec::from_yaml(text, "w.yaml").unwrap();
        store.apply_workflow(&spec, text).await.unwrap();
    }
    let state = ApiState::new(store.clone(), Arc::new(|| {}), Members::Fixed(Vec::new()));
    World {
        app: baton_api::router(state),
        store,
        token,
        _db: db,
    }
}

impl World {
    fn request(&self, uri: &str, encoding: Option<&str>) -> Request<Body> {
        let mut r = Request::get(format!("/api/v1{uri}"))
            .header("authorization", format!("Bearer {}", self.token));
        if let Some(e) = encoding {
            r = r.header("accept-encoding", e);
        }
        r.body(Body::empty()).unwrap()
    }

    async fn get(&self, uri: &str) -> Value {
        let r = self
            .app
            .clone()
            .oneshot(self.request(uri, None))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{uri}");
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn start(&self, project: &str, name: &str) -> baton_core::WorkflowInstanceId {
        let wf = self
            .store
            .get_workflow(project, name, None)
            .await
            .unwrap()
            .unwrap();
        let new = NewInstance {
            workflow: &wf,
            params: BTreeMap::new(),
            overrides: Default::default(),
        };
        self.store.create_instance(new).await.unwrap()
    }
}

#[tokio::test]
async fn the_workflows_list_gives_each_workflows_last_runs_newest_first() {
    let w = world().await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(w.start("p", "daily").await.0);
    }
    let list = w.get("/workflows?project=p").await;
    let workflows = list["workflows"].as_array().unwrap();
    let names: Vec<&str> = workflows
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["daily", "idle"]);
    let runs: Vec<i64> = workflows[0]["recent_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let newest: Vec<i64> = ids.iter().rev().take(10).copied().collect();
    assert_eq!(runs, newest, "the last 10, newest first");
    assert_eq!(workflows[0]["recent_runs"][0]["state"], "submitted");
    assert!(workflows[0]["recent_runs"][0]["submitted_at"].is_string());
    assert_eq!(workflows[1]["recent_runs"], serde_json::json!([]));

    let fewer = w.get("/workflows?project=p&runs=3").await;
    assert_eq!(
        fewer["workflows"][0]["recent_runs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let r = w
        .app
        .clone()
        .oneshot(w.request("/workflows?runs=51", None))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_projects_list_counts_workflows_and_open_instances() {
    let w = world().await;
    w.start("p", "daily").await;
    w.start("p", "idle").await;
    let list = w.get("/projects").await;
    let counts = |name: &str| {
        list["projects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["counts"].clone())
            .unwrap()
    };
    assert_eq!(
        counts("p"),
        serde_json::json!({"workflows": 2, "running": 2, "failed_24h": 0})
    );
    assert_eq!(
        counts("q"),
        serde_json::json!({"workflows": 1, "running": 0, "failed_24h": 0})
    );
}

#[tokio::test]
async fn the_schedules_list_keeps_to_the_project_asked_for() {
    let w = world().await;
    let names = |v: &Value| -> Vec<String> {
        v["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s["project"].as_str().unwrap(),
                    s["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(names(&w.get("/schedules").await), ["p/daily", "q/other"]);
    assert_eq!(names(&w.get("/schedules?project=p").await), ["p/daily"]);
    assert_eq!(names(&w.get("/schedules?project=q").await), ["q/other"]);
    assert!(names(&w.get("/schedules?project=nobody").await).is_empty());
}

#[tokio::test]
async fn an_instance_lists_its_sub_workflow_children() {
    let w = world().await;
    let parent = w.start("p", "daily").await;
    let child_wf = w
        .store
        .get_workflow("p", "idle", None)
        .await
        .unwrap()
        .unwrap();
    let mut tx = w.store.begin_engine().await.unwrap();
    let mut children = Vec::new();
    for task in [7, 8] {
        let child = NewChild {
            workflow: &child_wf,
            params: BTreeMap::new(),
            priority: baton_core::Priority::Medium,
            schedule_time: 0,
            parent,
            parent_task: TaskInstanceId(task),
        };
        children.push(tx.create_child(child).await.unwrap().0);
    }
    tx.commit().await.unwrap();
    let other = w.start("p", "daily").await;

    let detail = w.get(&format!("/instances/{}", parent.0)).await;
    let got: Vec<(i64, i64, String)> = detail["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_i64().unwrap(),
                c["parent_task_instance_id"].as_i64().unwrap(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (children[0], 7, "idle".to_string()),
            (children[1], 8, "idle".to_string())
        ]
    );
    let detail = w.get(&format!("/instances/{}", other.0)).await;
    assert_eq!(detail["children"], serde_json::json!([]));
}

#[tokio::test]
async fn json_and_the_uis_files_are_compressed_and_keep_their_headers() {
    let w = world().await;
    for encoding in ["gzip", "br"] {
        let r = w
            .app
            .clone()
            .oneshot(w.request("/workflows", Some(encoding)))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-encoding"], encoding);
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        assert!(
            serde_json::from_slice::<Value>(&bytes).is_err(),
            "the body is compressed"
        );
    }
    // Without Accept-Encoding, as before.
    let r = w
        .app
        .clone()
        .oneshot(w.request("/workflows", None))
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());

    // The UI's page: compressed, its CSP and caching as they were.
    let page = Request::get("/projects/p")
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .unwrap();
    let r = w.app.clone().oneshot(page).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["cache-control"], baton_web::NO_CACHE);
    assert_eq!(
        r.headers()["content-security-policy"],
        baton_web::CONTENT_SECURITY_POLICY
    );
}

#[tokio::test]
async fn the_event_stream_is_not_compressed_and_not_held_back() {
    let w = world().await;
    w.start("p", "daily").await;
    let r = w
        .app
        .clone()
        .oneshot(w.request("/events/stream?after=0", Some("gzip, br")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-encoding").is_none());
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // The first event arrives while the stream stays open: nothing waits in an encoder.
    let mut body = r.into_body();
    let mut seen = String::new();
    let first = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
                if seen.contains("instance_submitted") {
                    return;
                }
            }
        }
    })
    .await;
    assert!(first.is_ok(), "no event within 10 s; got {seen:?}");
}
