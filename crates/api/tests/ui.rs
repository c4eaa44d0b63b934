//! The web UI is merged into the API's router: every path outside `/api` is the UI's (its
//! files or its page, with the UI's security headers), while `/api` keeps the API's own
//! answers, its JSON 404 included.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::{ApiState, Members};
use baton_store::testing::TestDb;
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

async fn call(
    app: &axum::Router,
    method: Method,
    uri: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_ui_answers_outside_api_and_api_paths_never_fall_back() {
    let db = TestDb::sqlite();
    let state = ApiState::new(
        db.store().await,
        Arc::new(|| {}),
        Members::Fixed(Vec::new()),
    );
    let app = baton_api::router(state);
    for path in ["/", "/projects/demo", "/instances/3?task=a"] {
        let (status, headers, body) = call(&app, Method::GET, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            body.contains("<html") || body.contains("<!doctype"),
            "{path}: {body}"
        );
        assert_eq!(headers["cache-control"], baton_web::NO_CACHE, "{path}");
        assert_eq!(
            headers["content-security-policy"],
            baton_web::CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers["x-frame-options"], "DENY");
    }
    for path in [
        "/api",
        "/api/x",
        "/api/v1/nothing-here",
        "/api/v1/projects/p/nope",
    ] {
        let (status, headers, body) = call(&app, Method::GET, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("no such endpoint"), "{path}: {body}");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
    }
    // The API's own routes still demand credentials; the UI's files need none.
    let (status, _, _) = call(&app, Method::GET, "/api/v1/projects").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&app, Method::POST, "/projects").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
