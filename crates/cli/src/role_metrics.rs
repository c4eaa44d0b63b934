//! `--metrics-listen ADDR` of `baton master` and `baton worker`: a small HTTP listener of
//! three routes, `GET /metrics` (the role's registry in Prometheus's text format),
//! `GET /health` (the process answers) and `GET /health/ready` (it can do its work: 503
//! otherwise); anything else is a 404. It has no authentication, so it is off by default and
//! meant for a private address that only Prometheus reaches. It goes through the API's
//! listener (`baton_api::serve`), so a slow or idle client is cut off as there.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for the database's answer to the readiness check.
const DATABASE_CHECK: Duration = Duration::from_secs(2);

/// What `GET /health/ready` checks.
#[derive(Clone)]
pub enum Readiness {
    /// A master: it holds its registry session and its database answers.
    Master {
        metrics: baton_master::MasterMetrics,
        store: baton_store::Store,
    },
    /// A worker: it holds its registry session.
    Worker(baton_worker::WorkerMetrics),
}

impl Readiness {
    /// What is not ready, if anything (never why, so that nothing internal leaks).
    async fn not_ready(&self) -> Option<&'static str> {
        match self {
            Readiness::Master { metrics, store } => {
                if !metrics.session_held() {
                    return Some("registry session not held");
                }
                match tokio::time::timeout(DATABASE_CHECK, store.ping()).await {
                    Ok(Ok(())) => None,
                    Ok(Err(_)) | Err(_) => Some("database unreachable"),
                }
            }
            Readiness::Worker(metrics) => {
                (!metrics.session_held()).then_some("registry session not held")
            }
        }
    }
}

#[derive(Clone)]
struct Served {
    registry: Arc<prometheus::Registry>,
    readiness: Readiness,
}

/// The routes of the listener.
fn router(registry: prometheus::Registry, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "live\n" }))
        .route("/health/ready", get(ready))
        .with_state(Served {
            registry: Arc::new(registry),
            readiness,
        })
}

async fn metrics(State(s): State<Served>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        render(&[&s.registry]),
    )
}

async fn ready(State(s): State<Served>) -> impl IntoResponse {
    match s.readiness.not_ready().await {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(what) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {what}\n"),
        ),
    }
}

/// The registries' metrics in Prometheus's text format.
pub fn render(registries: &[&prometheus::Registry]) -> String {
    let families: Vec<_> = registries.iter().flat_map(|r| r.gather()).collect();
    let mut out = String::new();
    prometheus::TextEncoder::new()
        .encode_utf8(&families, &mut out)
        .expect("metrics encode as text");
    out
}

/// Binds `address` now (so that a taken port stops the start), then serves in the background
/// until the process ends.
pub async fn start(
    address: SocketAddr,
    registry: prometheus::Registry,
    readiness: Readiness,
) -> anyhow::Result<SocketAddr> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} (metrics)"))?;
    let bound = listener.local_addr()?;
    let app = router(registry, readiness);
    tokio::spawn(baton_api::serve::serve(
        listener,
        app,
        baton_api::serve::HttpConfig::default(),
        std::future::pending(),
    ));
    tracing::info!("metrics on http://{bound}/metrics (no authentication: keep it private)");
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn get_status(app: &Router, path: &str) -> (StatusCode, String) {
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn serves_metrics_and_health_and_nothing_else() {
        let worker = tempfile::tempdir().unwrap();
        let w = baton_worker::Worker::open(baton_worker::WorkerConfig::new("w", worker.path()))
            .unwrap();
        let metrics = w.metrics().clone();
        let app = router(
            metrics.registry().clone(),
            Readiness::Worker(metrics.clone()),
        );
        let (status, text) = get_status(&app, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("baton_worker_outbox_depth 0"), "{text}");
        assert_eq!(get_status(&app, "/health").await.0, StatusCode::OK);
        assert_eq!(
            get_status(&app, "/api/v1/metrics").await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(get_status(&app, "/").await.0, StatusCode::NOT_FOUND);
        let (status, text) = get_status(&app, "/health/ready").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
        assert!(text.contains("registry session"), "{text}");
        metrics.set_session(true);
        assert_eq!(get_status(&app, "/health/ready").await.0, StatusCode::OK);
    }
}
