//! `/backfills` and `/workflows/{name}/backfill`: run a workflow for past schedule times.

use super::{project_or_default, workflow_of, ApiResult};
use super::{Path, Query};
use crate::{paging, ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use baton_api_model::time::from_us;
use baton_api_model::{
    Backfill, BackfillCreated, BackfillInstance, BackfillList, BackfillProgress, BackfillRequest,
    BackfillState, BackfillStopped, Cursor, ErrorBody, PageQuery, WorkflowQuery,
};
use baton_core::spec::schedule::parse_instant;
use baton_core::WorkflowState;
use baton_store::BackfillRecord;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// At most this many instances in one backfill.
const MAX_BACKFILL: usize = 10_000;

/// `POST /workflows/{name}/backfill`: one instance per fire time of the workflow's cron
/// schedule in the dates given (one per day without a cron schedule).
#[utoipa::path(post, path = "/workflows/{name}/backfill", tag = "backfills",
    params(("name" = String, Path, description = "The workflow's name"),
        ("project" = Option<String>, Query, description = "The project (default `default`)")),
    request_body = BackfillRequest,
    responses((status = 201, description = "Created", body = BackfillCreated),
        (status = 400, description = "A bad range, date or parallel; a required param", body = ErrorBody),
        (status = 404, description = "No such workflow", body = ErrorBody)))]
pub(crate) async fn create_backfill(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<WorkflowQuery>,
    req: Result<Json<BackfillRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<BackfillCreated>), ApiError> {
    let req = super::body(req, "bad_request", "backfill: ")?;
    let project = project_or_default(q.project);
    let workflow = workflow_of(&state, &project, &name, None).await?;
    // A backfill's instances run with no start-time params.
    let missing = baton_core::params::check_start(&workflow.spec, &Default::default());
    if let Some(first) = missing.first() {
        return Err(ApiError::bad(
            "bad_params",
            format!("a backfill passes no params: {first}"),
        ));
    }
    let parallel = req.parallel.unwrap_or(1);
    if parallel < 1 {
        return Err(ApiError::bad(
            "bad_parallel",
            "`parallel` must be at least 1",
        ));
    }
    let mut times = fire_times(&workflow.spec, &req)?;
    if req.reverse {
        times.reverse();
    }
    let id = state
        .store
        .create_backfill(workflow.id, &times, parallel)
        .await?;
    (state.notify)();
    let body = BackfillCreated {
        id,
        instances: times.len(),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// The schedule times (µs, ascending) a backfill request stands for.
fn fire_times(
    spec: &baton_core::WorkflowSpec,
    req: &BackfillRequest,
) -> Result<Vec<i64>, ApiError> {
    let tz = match &spec.schedule {
        Some(s) => s
            .zone(spec.timezone.as_deref())
            .map_err(|e| ApiError::bad("bad_schedule", e))?,
        None => spec.tz(),
    };
    let cron = match spec
        .schedule
        .as_ref()
        .map(|s| s.trigger(spec.timezone.as_deref()))
    {
        Some(Ok(baton_core::spec::Trigger::Cron(s))) => Some(s),
        _ => None,
    };
    let mut times: Vec<i64> = Vec::new();
    for (start, end) in days(req, tz)? {
        match &cron {
            Some(schedule) => {
                let before = |t: DateTime<Utc>| t - chrono::Duration::microseconds(1);
                let mut unbounded = schedule.clone();
                unbounded.start = None;
                unbounded.end = None;
                let fires = unbounded.fires_between(before(start), before(end), MAX_BACKFILL + 1);
                times.extend(fires.iter().map(|t| t.timestamp_micros()));
            }
            None => {
                let mut t = start;
                while t < end && times.len() <= MAX_BACKFILL {
                    times.push(t.timestamp_micros());
                    t = next_day(t, tz)?;
                }
            }
        }
        // Checked as the times are computed, not after: a range of centuries must not be
        // walked day by day first.
        times.sort_unstable();
        times.dedup();
        if times.len() > MAX_BACKFILL {
            break;
        }
    }
    if times.is_empty() {
        return Err(ApiError::bad(
            "empty_backfill",
            "no fire time in that range",
        ));
    }
    if times.len() > MAX_BACKFILL {
        return Err(ApiError::bad(
            "too_many",
            format!("more than {MAX_BACKFILL} instances in one backfill"),
        ));
    }
    Ok(times)
}

/// A span of whole days: its first midnight, and the midnight after its last day.
type Days = (DateTime<Utc>, DateTime<Utc>);

/// Whole days, [start, end), from the range or from each date given.
fn days(req: &BackfillRequest, tz: Tz) -> Result<Vec<Days>, ApiError> {
    let day = |text: &str| parse_instant(text, tz).map_err(|e| ApiError::bad("bad_date", e));
    if !req.dates.is_empty() {
        return req
            .dates
            .iter()
            .map(|d| {
                let start = day(d)?;
                Ok((start, next_day(start, tz)?))
            })
            .collect();
    }
    let (Some(from), Some(to)) = (&req.from, &req.to) else {
        return Err(ApiError::bad(
            "bad_range",
            "give `from` and `to`, or `dates`",
        ));
    };
    let (start, last) = (day(from)?, day(to)?);
    if last < start {
        return Err(ApiError::bad(
            "bad_range",
            format!("`to` ({to}) is before `from` ({from})"),
        ));
    }
    Ok(vec![(start, next_day(last, tz)?)])
}

/// Midnight of the day after `t`'s, in `tz`.
fn next_day(t: DateTime<Utc>, tz: Tz) -> Result<DateTime<Utc>, ApiError> {
    let local = t.with_timezone(&tz).date_naive() + chrono::Days::new(1);
    parse_instant(&local.format("%Y-%m-%d").to_string(), tz)
        .map_err(|e| ApiError::bad("bad_date", e))
}

/// A backfill as the API shows it: with its workflow's name, its instances, and every
/// schedule time counted once in its progress.
async fn backfill(
    state: &ApiState,
    record: BackfillRecord,
    with_instances: bool,
) -> Result<Backfill, ApiError> {
    let (project, workflow) = state
        .store
        .workflow_name(record.workflow_id)
        .await?
        .unwrap_or_else(|| {
            (
                "-".into(),
                format!("(deleted workflow {})", record.workflow_id),
            )
        });
    let instances = state.store.backfill_instances(record.id).await?;
    let backfill_state = match record.state.as_str() {
        "running" => BackfillState::Running,
        "stopped" => BackfillState::Stopped,
        _ => BackfillState::Done,
    };
    let progress = progress(&record, backfill_state, &instances);
    let instances = if with_instances {
        instances
            .into_iter()
            .map(|(id, t, s)| BackfillInstance {
                id: id.0,
                schedule_time: from_us(t),
                state: s,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Backfill {
        id: record.id,
        workflow_id: record.workflow_id.0,
        project,
        workflow,
        times: record.times.iter().copied().map(from_us).collect(),
        parallel: record.parallel,
        started: record.started,
        state: backfill_state,
        created_at: from_us(record.created_at),
        progress,
        instances,
    })
}

/// Every schedule time of the backfill in exactly one count.
fn progress(
    record: &BackfillRecord,
    state: BackfillState,
    instances: &[(baton_core::WorkflowInstanceId, i64, WorkflowState)],
) -> BackfillProgress {
    let mut p = BackfillProgress::default();
    for (_, _, s) in instances {
        match s {
            WorkflowState::Succeeded => p.succeeded += 1,
            WorkflowState::Failed => p.failed += 1,
            WorkflowState::Stopped => p.stopped += 1,
            WorkflowState::Submitted
            | WorkflowState::Running
            | WorkflowState::Pausing
            | WorkflowState::Paused
            | WorkflowState::Stopping => p.running += 1,
        }
    }
    let total = i64::try_from(record.times.len()).unwrap_or(i64::MAX);
    let not_started = (total - i64::try_from(instances.len()).unwrap_or(0)).max(0);
    match state {
        BackfillState::Running => p.waiting = not_started,
        BackfillState::Stopped | BackfillState::Done => p.cancelled = not_started,
    }
    p
}

/// `GET /backfills`: newest first.
#[utoipa::path(get, path = "/backfills", tag = "backfills", params(PageQuery),
    responses((status = 200, description = "A page of backfills", body = BackfillList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_backfills(
    State(state): State<ApiState>,
    caller: crate::access::Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<BackfillList> {
    let limit = page.limit()?;
    let before = page.cursor()?.map(Cursor::id).transpose()?;
    let records = state.store.list_backfills(before, i64::from(limit)).await?;
    let next_cursor = paging::next_by_id(records.len(), limit, records.last().map(|r| r.id));
    let mut backfills = Vec::with_capacity(records.len());
    for r in records {
        let b = backfill(&state, r, false).await?;
        // A page may come back shorter than `limit`: the cursor goes on past the hidden.
        if caller.sees(&b.project) {
            backfills.push(b);
        }
    }
    Ok(Json(BackfillList {
        backfills,
        next_cursor,
    }))
}

/// `GET /backfills/{id}`: a backfill, its progress and its instances.
#[utoipa::path(get, path = "/backfills/{id}", tag = "backfills",
    params(("id" = i64, Path, description = "The backfill")),
    responses((status = 200, description = "The backfill", body = Backfill),
        (status = 404, description = "No such backfill", body = ErrorBody)))]
pub(crate) async fn show_backfill(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<Backfill> {
    let record = state
        .store
        .get_backfill(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("backfill {id} not found")))?;
    Ok(Json(backfill(&state, record, true).await?))
}

/// `POST /backfills/{id}/stop`: no new instance starts; its running ones are stopped.
#[utoipa::path(post, path = "/backfills/{id}/stop", tag = "backfills",
    params(("id" = i64, Path, description = "The backfill")),
    responses((status = 200, description = "Stopped", body = BackfillStopped),
        (status = 404, description = "No such backfill", body = ErrorBody),
        (status = 409, description = "It is not running", body = ErrorBody)))]
pub(crate) async fn stop_backfill(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<BackfillStopped> {
    if state.store.get_backfill(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("backfill {id} not found")));
    }
    state.store.stop_backfill(id).await?;
    (state.notify)();
    Ok(Json(BackfillStopped {
        id,
        state: BackfillState::Stopped,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(from: &str, to: &str) -> BackfillRequest {
        BackfillRequest {
            from: Some(from.into()),
            to: Some(to.into()),
            dates: Vec::new(),
            parallel: None,
            reverse: false,
        }
    }

    #[test]
    fn a_range_of_millennia_is_refused_as_too_many() {
        let spec = baton_core::WorkflowSpec::from_yaml(
            "name: w\ntasks:\n  - {name: a, type: noop}\n",
            "w.yaml",
        )
        .unwrap();
        let err = fire_times(&spec, &request("0001-01-01", "9999-12-31")).unwrap_err();
        assert!(
            err.to_string().contains("more than 10000 instances"),
            "{err}"
        );
        assert_eq!(
            fire_times(&spec, &request("2026-01-01", "2026-01-03"))
                .unwrap()
                .len(),
            3
        );
    }
}
