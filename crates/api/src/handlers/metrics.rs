//! `GET /metrics`: the API process's Prometheus metrics (see [`crate::metrics`]). Scraped with
//! a token, like every other route (`authorization: {credentials_file: …}` in Prometheus's
//! scrape config, `metrics_path: /api/v1/metrics`).

use crate::handlers::cluster::live_members;
use crate::{ApiError, ApiState};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "cluster",
    responses((status = 200, description = "Metrics in Prometheus's text format (version 0.0.4)", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    state.start_counting_events();
    let members = live_members(&state).await?;
    state.metrics.set_members(&members);
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(&state.more_metrics),
    ))
}
