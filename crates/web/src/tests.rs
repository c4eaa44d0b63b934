//! The service over injected asset sources: a built UI (a small map) and none.

use super::*;
use axum::http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

const INDEX: &str =
    "<!doctype html><div id=root></div><script type=module src=/assets/index-abc123.js></script>";

fn built() -> Ui {
    Ui::with_assets(|path: &str| -> Option<Cow<'static, [u8]>> {
        match path {
            "index.html" => Some(Cow::Borrowed(INDEX.as_bytes())),
            "assets/index-abc123.js" => Some(Cow::Borrowed(b"console.log(1)")),
            "assets/index-abc123.css" => Some(Cow::Borrowed(b"body{}")),
            "favicon.svg" => Some(Cow::Borrowed(b"<svg/>")),
            _ => None,
        }
    })
}

fn not_built_ui() -> Ui {
    Ui::with_assets(|_: &str| -> Option<Cow<'static, [u8]>> { None })
}

async fn get(ui: &Ui, method: Method, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let response = ui.clone().router().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn header<'a>(h: &'a axum::http::HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_typed() {
    let (status, h, body) = get(&built(), Method::GET, "/assets/index-abc123.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "console.log(1)");
    assert_eq!(header(&h, "cache-control"), IMMUTABLE);
    assert_eq!(header(&h, "content-type"), "text/javascript; charset=utf-8");
    let (_, h, _) = get(&built(), Method::GET, "/assets/index-abc123.css").await;
    assert_eq!(header(&h, "content-type"), "text/css; charset=utf-8");
    assert_eq!(header(&h, "cache-control"), IMMUTABLE);
}

#[tokio::test]
async fn index_is_not_cached_and_every_answer_is_locked_down() {
    for path in ["/", "/index.html"] {
        let (status, h, body) = get(&built(), Method::GET, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, INDEX);
        assert_eq!(header(&h, "cache-control"), NO_CACHE);
        assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
        assert_eq!(
            header(&h, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        assert_eq!(header(&h, "x-frame-options"), "DENY");
    }
    let (_, h, body) = get(&built(), Method::GET, "/favicon.svg").await;
    assert_eq!(body, "<svg/>");
    assert_eq!(header(&h, "cache-control"), NO_CACHE);
    assert_eq!(header(&h, "content-type"), "image/svg+xml");
}

#[tokio::test]
async fn the_apps_own_urls_fall_back_to_the_page() {
    for path in [
        "/projects",
        "/projects/demo/workflows/etl.v2",
        "/instances/12?task=a",
        "/apix",
    ] {
        let (status, h, body) = get(&built(), Method::GET, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, INDEX, "{path}");
        assert_eq!(header(&h, "cache-control"), NO_CACHE, "{path}");
    }
}

#[tokio::test]
async fn a_missing_asset_is_a_404_not_the_page() {
    let (status, h, body) = get(&built(), Method::GET, "/assets/index-old.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("<div id=root>"));
    assert_eq!(header(&h, "cache-control"), "");
}

#[tokio::test]
async fn api_paths_never_fall_back() {
    for path in ["/api", "/api/", "/api/x", "/api/v1/nope"] {
        let (status, _, body) = get(&built(), Method::GET, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("<div id=root>"), "{path}");
    }
    assert!(is_api_path("/api/v1/instances"));
    assert!(!is_api_path("/apis"));
}

#[tokio::test]
async fn only_get_and_head_are_answered() {
    let (status, h, _) = get(&built(), Method::POST, "/projects").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&h, "allow"), "GET, HEAD");
    let (status, _, _) = get(&built(), Method::HEAD, "/").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_build_the_page_says_how_to_build_it() {
    let ui = not_built_ui();
    assert!(!ui.is_built());
    for path in ["/", "/projects/demo"] {
        let (status, h, body) = get(&ui, Method::GET, path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("make ui"), "{body}");
        assert!(body.contains("npm ci &amp;&amp; npm run build"), "{body}");
        assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&h, "cache-control"), NO_CACHE);
        assert_eq!(
            header(&h, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
    }
    let (status, _, _) = get(&ui, Method::GET, "/api/v1/x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_embedded_ui_is_the_built_one_when_there_is_one() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist/index.html");
    let ui = Ui::embedded();
    assert_eq!(ui.is_built(), dist.exists());
    let (status, _, body) = get(&ui, Method::GET, "/projects").await;
    assert_eq!(status, StatusCode::OK);
    if dist.exists() {
        assert_eq!(body, std::fs::read_to_string(dist).unwrap());
    } else {
        assert_eq!(body, NOT_BUILT_PAGE);
    }
}
