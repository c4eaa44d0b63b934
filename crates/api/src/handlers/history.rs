//! `/history/purge`: removes ended history older than a time, by hand.

use super::ApiResult;
use crate::{ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use baton_api_model::{time, ErrorBody, PurgeOutcome, PurgeRequest};
use baton_store::{PurgeScope, Purged};
use std::time::{Duration, Instant};

/// Instances removed per transaction.
const BATCH: i64 = 200;

/// How long one request purges before it answers (`finished: false`: send it again), so that
/// no request outlives a client's timeout.
const TIME_BUDGET: Duration = Duration::from_secs(20);

/// `POST /history/purge`: removes the instances that ended before `before` (of one project, or
/// all), with their task instances, attempts and events, in short batches; or, with
/// `dry_run`, counts them.
#[utoipa::path(post, path = "/history/purge", tag = "history", request_body = PurgeRequest,
    responses((status = 200, description = "Removed (or counted)", body = PurgeOutcome),
        (status = 400, description = "A bad time or project", body = ErrorBody)))]
pub(crate) async fn purge_history(
    State(state): State<ApiState>,
    req: Result<Json<PurgeRequest>, JsonRejection>,
) -> ApiResult<PurgeOutcome> {
    let req = super::body(req, "bad_request", "purge: ")?;
    if let Some(p) = &req.project {
        if !baton_core::spec::valid_name(p) {
            return Err(ApiError::bad(
                "bad_project",
                format!("bad project name `{p}`: use letters, digits, _ - . (at most 100)"),
            ));
        }
    }
    let scope = PurgeScope {
        ended_before: time::to_us(req.before),
        project: req.project,
        except_projects: Vec::new(),
    };
    let (counts, finished) = if req.dry_run {
        (state.store.count_purgeable(&scope).await?, true)
    } else {
        let deadline = Instant::now() + TIME_BUDGET;
        state
            .store
            .purge_until(&scope, BATCH, Some(deadline))
            .await?
    };
    Ok(Json(outcome(counts, req.dry_run, finished)))
}

fn outcome(p: Purged, dry_run: bool, finished: bool) -> PurgeOutcome {
    PurgeOutcome {
        dry_run,
        finished,
        instances: p.instances,
        task_instances: p.task_instances,
        attempts: p.attempts,
        events: p.events,
    }
}
