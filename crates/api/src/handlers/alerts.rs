//! `/alerts/…?project=P`: a project's alert channels, its rules, and the deliveries made from
//! the event log. A channel's secret is taken once, when it is created, sealed with the
//! server's secret key for that one channel, and never shown or logged again; it is opened
//! only to send (by the delivery loop of every master, and here to test).

use super::{check_name, project_or_default, ApiResult};
use super::{Path, Query};
use crate::{paging, ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use baton_alerts::channel::secret_context;
use baton_alerts::{Alert, Channel};
use baton_api_model::time::from_us;
use baton_api_model::{
    AlertAttempt, AlertChannel, AlertChannelList, AlertChannelRequest, AlertChannelSettings,
    AlertDelivery, AlertDeliveryList, AlertDeliveryQuery, AlertQuery, AlertRule, AlertRuleList,
    AlertRuleRequest, AlertTest, Cursor, DeliveryState, ErrorBody, PageQuery,
};
use baton_store::{AlertChannelRecord, AlertRuleRecord, DeliveryStatus, NewAlertChannel};

fn corrupt(context: &'static str, detail: String) -> ApiError {
    ApiError::Store(baton_store::StoreError::Corrupt { context, detail })
}

fn shown(r: AlertChannelRecord) -> Result<AlertChannel, ApiError> {
    let settings: AlertChannelSettings = serde_json::from_str(&r.settings)
        .map_err(|e| corrupt("alert_channel.settings", e.to_string()))?;
    Ok(AlertChannel {
        kind: r
            .kind
            .parse()
            .map_err(|e| corrupt("alert_channel.kind", e))?,
        settings,
        has_secret: r.secret.is_some(),
        created_at: from_us(r.created_at),
        updated_at: from_us(r.updated_at),
        project: r.project,
        name: r.name,
    })
}

fn missing(project: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!(
        "alert channel `{name}` not found in project `{project}`"
    ))
}

/// `POST /alerts/channels?project=P`: creates a channel (its secret sealed).
#[utoipa::path(post, path = "/alerts/channels", tag = "alerts", params(AlertQuery),
    request_body = AlertChannelRequest,
    responses((status = 201, description = "Created (without its secret)", body = AlertChannel),
        (status = 400, description = "A bad name, type, setting or secret", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "The name is taken in the project", body = ErrorBody),
        (status = 503, description = "A secret, but the server has no secret key", body = ErrorBody)))]
pub(crate) async fn create_channel(
    State(state): State<ApiState>,
    Query(q): Query<AlertQuery>,
    req: Result<Json<AlertChannelRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<AlertChannel>), ApiError> {
    // The parser's own message can quote a value (the secret): it is not passed on.
    let req = match req {
        Ok(Json(r)) => r,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(ApiError::TooLarge),
        Err(_) => {
            return Err(ApiError::bad(
                "bad_request",
                "alert channel: the body must be a JSON object {\"name\", \"type\", \
                 \"settings\"?, \"secret\"?}, `type` one of webhook, slack, feishu, dingtalk, \
                 wecom, pagerduty, email, script, `settings` with only the fields of the API's \
                 AlertChannelSettings",
            ))
        }
    };
    let project = project_or_default(q.project);
    check_name("alert channel", &req.name).map_err(|e| e.at("name"))?;
    Channel::build(&req.name, req.kind, &req.settings, req.secret.as_deref()).map_err(|e| {
        ApiError::field(
            "bad_channel",
            e.field.path(),
            format!("alert channel `{}`: {e}", req.name),
        )
    })?;
    let secret = match req
        .secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(secret) => {
            let keyring = state.keyring.as_deref().ok_or_else(|| {
                ApiError::Unavailable(
                    "this server has no secret key (--secret-key-file), so it cannot keep a \
                     channel's secret"
                        .into(),
                )
            })?;
            let sealed = keyring
                .seal_text(&secret_context(&project, &req.name), secret)
                .map_err(|e| ApiError::Unavailable(format!("cannot seal the secret: {e}")))?;
            Some(sealed)
        }
    };
    let settings = serde_json::to_string(&req.settings)
        .map_err(|e| corrupt("alert channel settings", e.to_string()))?;
    let record = state
        .store
        .create_alert_channel(NewAlertChannel {
            project: &project,
            name: &req.name,
            kind: req.kind.as_str(),
            settings: &settings,
            secret: secret.as_deref(),
        })
        .await?;
    tracing::info!(
        "alert channel {project}/{} ({}) created, {}",
        record.name,
        req.kind,
        if record.secret.is_some() {
            "with a sealed secret"
        } else {
            "without a secret"
        }
    );
    Ok((StatusCode::CREATED, Json(shown(record)?)))
}

/// `GET /alerts/channels?project=P`: a page of the project's channels, by name.
#[utoipa::path(get, path = "/alerts/channels", tag = "alerts", params(AlertQuery, PageQuery),
    responses((status = 200, description = "A page of channels", body = AlertChannelList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_channels(
    State(state): State<ApiState>,
    Query(q): Query<AlertQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<AlertChannelList> {
    let project = project_or_default(q.project);
    let limit = page.limit()?;
    let after = page.cursor()?.map(Cursor::key).transpose()?;
    let list = state
        .store
        .list_alert_channels(&project, after.as_deref(), i64::from(limit) + 1)
        .await?;
    let (list, next_cursor) = paging::fetched(list, limit, |d| Cursor::Key(d.name.clone()));
    let channels = list.into_iter().map(shown).collect::<Result<_, _>>()?;
    Ok(Json(AlertChannelList {
        channels,
        next_cursor,
    }))
}

/// `GET /alerts/channels/{name}?project=P`: one channel (never its secret).
#[utoipa::path(get, path = "/alerts/channels/{name}", tag = "alerts",
    params(("name" = String, Path, description = "The channel"), AlertQuery),
    responses((status = 200, description = "The channel", body = AlertChannel),
        (status = 404, description = "No such channel", body = ErrorBody)))]
pub(crate) async fn show_channel(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<AlertQuery>,
) -> ApiResult<AlertChannel> {
    let project = project_or_default(q.project);
    let record = state
        .store
        .get_alert_channel(&project, &name)
        .await?
        .ok_or_else(|| missing(&project, &name))?;
    Ok(Json(shown(record)?))
}

/// `DELETE /alerts/channels/{name}?project=P`: deletes a channel and its sealed secret.
#[utoipa::path(delete, path = "/alerts/channels/{name}", tag = "alerts",
    params(("name" = String, Path, description = "The channel"), AlertQuery),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such channel", body = ErrorBody)))]
pub(crate) async fn delete_channel(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<AlertQuery>,
) -> Result<StatusCode, ApiError> {
    let project = project_or_default(q.project);
    match state.store.delete_alert_channel(&project, &name).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(baton_store::StoreError::NotFound(_)) => Err(missing(&project, &name)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /alerts/channels/{name}/test?project=P`: sends a test message now.
#[utoipa::path(post, path = "/alerts/channels/{name}/test", tag = "alerts",
    params(("name" = String, Path, description = "The channel"), AlertQuery),
    responses((status = 200, description = "Whether the channel took it, and what failed", body = AlertTest),
        (status = 404, description = "No such channel", body = ErrorBody)))]
pub(crate) async fn test_channel(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<AlertQuery>,
) -> ApiResult<AlertTest> {
    let project = project_or_default(q.project);
    if state
        .store
        .get_alert_channel(&project, &name)
        .await?
        .is_none()
    {
        return Err(missing(&project, &name));
    }
    let channel = match baton_alerts::deliver::load_channel(
        &state.store,
        state.keyring.as_deref(),
        &project,
        &name,
    )
    .await
    {
        Ok(c) => c,
        Err(message) => return Ok(Json(AlertTest { ok: false, message })),
    };
    let at = chrono::Utc::now().to_rfc3339();
    let alert = Alert::test(&project, &name, at);
    let outcome = state.alert_sender.send(&channel, &alert).await;
    Ok(Json(match outcome {
        Ok(message) => AlertTest { ok: true, message },
        Err(message) => AlertTest { ok: false, message },
    }))
}

fn rule_shown(r: AlertRuleRecord) -> AlertRule {
    AlertRule {
        id: r.id,
        project: r.project,
        workflow: r.workflow,
        on: r.on,
        channel: r.channel,
        created_at: from_us(r.created_at),
    }
}

/// `POST /alerts/rules?project=P`: sends these events of the project (or of one workflow)
/// to a channel.
#[utoipa::path(post, path = "/alerts/rules", tag = "alerts", params(AlertQuery),
    request_body = AlertRuleRequest,
    responses((status = 201, description = "Created", body = AlertRule),
        (status = 400, description = "No event, or a bad channel or workflow name", body = ErrorBody),
        (status = 404, description = "No such project or channel", body = ErrorBody)))]
pub(crate) async fn create_rule(
    State(state): State<ApiState>,
    Query(q): Query<AlertQuery>,
    req: Result<Json<AlertRuleRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<AlertRule>), ApiError> {
    let req = super::body(req, "bad_request", "alert rule: ")?;
    let project = project_or_default(q.project);
    if req.on.is_empty() {
        return Err(ApiError::field(
            "bad_rule",
            "on",
            format!(
                "alert rule: `on` names no event (one or more of: {})",
                baton_core::alert::known_kinds()
            ),
        ));
    }
    check_name("alert channel", &req.channel).map_err(|e| e.at("channel"))?;
    if let Some(w) = &req.workflow {
        check_name("workflow", w).map_err(|e| e.at("workflow"))?;
    }
    if state
        .store
        .get_alert_channel(&project, &req.channel)
        .await?
        .is_none()
    {
        return Err(missing(&project, &req.channel));
    }
    let mut on = req.on.clone();
    on.dedup();
    let rule = state
        .store
        .create_alert_rule(&project, req.workflow.as_deref(), &on, &req.channel)
        .await?;
    Ok((StatusCode::CREATED, Json(rule_shown(rule))))
}

/// `GET /alerts/rules?project=P`: a page of the project's rules, by id.
#[utoipa::path(get, path = "/alerts/rules", tag = "alerts", params(AlertQuery, PageQuery),
    responses((status = 200, description = "A page of rules", body = AlertRuleList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_rules(
    State(state): State<ApiState>,
    Query(q): Query<AlertQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<AlertRuleList> {
    let project = project_or_default(q.project);
    let limit = page.limit()?;
    let after = page.cursor()?.map(Cursor::id).transpose()?.unwrap_or(0);
    let list = state
        .store
        .list_alert_rules(&project, after, i64::from(limit) + 1)
        .await?;
    let (list, next_cursor) = paging::fetched(list, limit, |r| Cursor::Id(r.id));
    Ok(Json(AlertRuleList {
        rules: list.into_iter().map(rule_shown).collect(),
        next_cursor,
    }))
}

/// `DELETE /alerts/rules/{id}?project=P`: deletes a project rule.
#[utoipa::path(delete, path = "/alerts/rules/{id}", tag = "alerts",
    params(("id" = i64, Path, description = "The rule"), AlertQuery),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such rule in the project", body = ErrorBody)))]
pub(crate) async fn delete_rule(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(q): Query<AlertQuery>,
) -> Result<StatusCode, ApiError> {
    let project = project_or_default(q.project);
    match state.store.delete_alert_rule(&project, id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(baton_store::StoreError::NotFound(_)) => Err(ApiError::NotFound(format!(
            "alert rule {id} not found in project `{project}`"
        ))),
        Err(e) => Err(e.into()),
    }
}

fn state_of(s: DeliveryStatus) -> DeliveryState {
    match s {
        DeliveryStatus::Pending => DeliveryState::Pending,
        DeliveryStatus::Sent => DeliveryState::Sent,
        DeliveryStatus::Failed => DeliveryState::Failed,
    }
}

/// `GET /alerts/deliveries?project=P[&workflow=W]`: a page of deliveries, newest first, each
/// with its attempts and their errors.
#[utoipa::path(get, path = "/alerts/deliveries", tag = "alerts", params(AlertDeliveryQuery, PageQuery),
    responses((status = 200, description = "A page of deliveries", body = AlertDeliveryList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_deliveries(
    State(state): State<ApiState>,
    Query(q): Query<AlertDeliveryQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<AlertDeliveryList> {
    let project = project_or_default(q.project);
    let limit = page.limit()?;
    let before = page.cursor()?.map(Cursor::id).transpose()?;
    let list = state
        .store
        .list_deliveries(
            &project,
            q.workflow.as_deref(),
            before,
            i64::from(limit) + 1,
        )
        .await?;
    let (list, next_cursor) = paging::fetched(list, limit, |d| Cursor::Id(d.id));
    let ids: Vec<i64> = list.iter().map(|d| d.id).collect();
    let mut attempts = state.store.delivery_attempts(&ids).await?;
    let deliveries = list
        .into_iter()
        .map(|d| AlertDelivery {
            id: d.id,
            attempts: attempts
                .remove(&d.id)
                .unwrap_or_default()
                .into_iter()
                .map(|a| AlertAttempt {
                    n: a.n,
                    at: from_us(a.at),
                    ok: a.ok,
                    error: a.error,
                })
                .collect(),
            next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| from_us(d.next_at)),
            state: state_of(d.status),
            created_at: from_us(d.created_at),
            project: d.delivery.project,
            workflow: d.delivery.workflow,
            instance_id: d.delivery.instance_id,
            event_id: d.delivery.event_id,
            kind: d.delivery.kind,
            rule: d.delivery.rule,
            channel: d.delivery.channel,
        })
        .collect();
    Ok(Json(AlertDeliveryList {
        deliveries,
        next_cursor,
    }))
}
