//! `GET /health` says the process answers; `GET /health/ready` says whether it can work: it
//! answers 503 once its database does not, without saying why to a caller it does not know.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baton_api::{ApiState, Members};
use baton_store::testing::TestDb;
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let r = app.clone().oneshot(request).await.unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn readiness_follows_the_database_and_health_does_not() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let app = baton_api::router(ApiState::new(
        store.clone(),
        Arc::new(|| {}),
        Members::Fixed(Vec::new()),
    ));
    let (status, body) = get(&app, "/api/v1/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");

    store.close().await;
    let (status, body) = get(&app, "/api/v1/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert_eq!(message, "not ready: the database does not answer");
    let (status, _) = get(&app, "/api/v1/health").await;
    assert_eq!(status, StatusCode::OK, "the process still answers");
}
