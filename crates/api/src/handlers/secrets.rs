//! `/secrets?project=P`: a project's secrets, the values an http task's headers and body use
//! as `${secret.NAME}`. A value is taken when a secret is set, sealed with the server's secret
//! key (`baton-secrets`) for that one record, and never shown, returned or logged again.

use super::{check_name, project_or_default, ApiResult};
use super::{Path, Query};
use crate::{paging, ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use baton_api_model::time::from_us;
use baton_api_model::{
    Cursor, ErrorBody, PageQuery, Secret, SecretList, SecretQuery, SecretRequest,
};
use baton_secrets::project_secret_context;
use baton_store::SecretRecord;

/// The longest value a secret may have.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

fn shown(r: SecretRecord) -> Secret {
    Secret {
        project: r.project,
        name: r.name,
        created_at: from_us(r.created_at),
        updated_at: from_us(r.updated_at),
    }
}

/// `PUT /secrets/{name}?project=P`: sets a secret (creates it or replaces its value).
#[utoipa::path(put, path = "/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "The secret"), SecretQuery),
    request_body = SecretRequest,
    responses((status = 200, description = "Set (its value is not shown)", body = Secret),
        (status = 400, description = "A bad name or value", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 503, description = "The server has no secret key", body = ErrorBody)))]
pub(crate) async fn set_secret(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<SecretQuery>,
    req: Result<Json<SecretRequest>, JsonRejection>,
) -> ApiResult<Secret> {
    // The parser's own message can quote the value: it is not passed on.
    let req = match req {
        Ok(Json(r)) => r,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(ApiError::TooLarge),
        Err(_) => {
            return Err(ApiError::bad(
                "bad_request",
                "secret: the body must be a JSON object {\"value\": \"…\"}",
            ))
        }
    };
    let project = project_or_default(q.project);
    check_name("secret", &name).map_err(|e| e.at("name"))?;
    if !baton_core::params::is_param_name(&name) || name.contains('.') {
        return Err(ApiError::field(
            "bad_name",
            "name",
            format!(
                "bad secret name `{name}`: use letters, digits and _ (not starting with a digit), \
                 so that `${{secret.{name}}}` refers to it"
            ),
        ));
    }
    if req.value.is_empty() {
        return Err(ApiError::field(
            "bad_value",
            "value",
            "secret: the value is empty",
        ));
    }
    if req.value.len() > MAX_SECRET_BYTES {
        return Err(ApiError::field(
            "bad_value",
            "value",
            format!(
                "secret: the value is {} bytes, more than the {MAX_SECRET_BYTES} a secret may have",
                req.value.len()
            ),
        ));
    }
    let keyring = state.keyring.as_deref().ok_or_else(|| {
        ApiError::Unavailable(
            "this server has no secret key (--secret-key-file), so it cannot keep a secret".into(),
        )
    })?;
    let sealed = keyring
        .seal_text(&project_secret_context(&project, &name), &req.value)
        .map_err(|e| ApiError::Unavailable(format!("cannot seal the secret: {e}")))?;
    let record = state.store.set_secret(&project, &name, &sealed).await?;
    tracing::info!("secret {project}/{name} set (sealed)");
    Ok(Json(shown(record)))
}

/// `GET /secrets?project=P`: a page of the project's secrets by name (names and times only).
#[utoipa::path(get, path = "/secrets", tag = "secrets", params(SecretQuery, PageQuery),
    responses((status = 200, description = "A page of secrets, without their values", body = SecretList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_secrets(
    State(state): State<ApiState>,
    Query(q): Query<SecretQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<SecretList> {
    let project = project_or_default(q.project);
    let limit = page.limit()?;
    let after = page.cursor()?.map(Cursor::key).transpose()?;
    let list = state
        .store
        .list_secrets(&project, after.as_deref(), i64::from(limit) + 1)
        .await?;
    let (list, next_cursor) = paging::fetched(list, limit, |d| Cursor::Key(d.name.clone()));
    Ok(Json(SecretList {
        secrets: list.into_iter().map(shown).collect(),
        next_cursor,
    }))
}

/// `DELETE /secrets/{name}?project=P`: deletes a secret.
#[utoipa::path(delete, path = "/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "The secret"), SecretQuery),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such secret", body = ErrorBody)))]
pub(crate) async fn delete_secret(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<SecretQuery>,
) -> Result<StatusCode, ApiError> {
    let project = project_or_default(q.project);
    match state.store.delete_secret(&project, &name).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(baton_store::StoreError::NotFound(_)) => Err(ApiError::NotFound(format!(
            "secret `{name}` not found in project `{project}`"
        ))),
        Err(e) => Err(e.into()),
    }
}
