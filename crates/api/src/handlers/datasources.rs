//! `/datasources?project=P`: a project's data sources. A password is taken once, when a data
//! source is created (on its own or inside the URL), sealed with the server's secret key
//! (`baton-secrets`) for that one record, and never shown or logged again.

use super::{check_name, project_or_default, ApiResult};
use super::{Path, Query};
use crate::{paging, ApiError, ApiState};
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use baton_api_model::time::from_us;
use baton_api_model::{
    Cursor, DataSource, DataSourceList, DataSourceQuery, DataSourceRequest, DataSourceTest,
    DataSourceType, ErrorBody, PageQuery,
};
use baton_datasource::{DataSourceUrl, Kind};
use baton_store::SealedKind;
use baton_store::{DataSourceRecord, NewDataSource};

use baton_datasource::secret_context;

fn kind_of(t: DataSourceType) -> Kind {
    match t {
        DataSourceType::Postgresql => Kind::Postgresql,
        DataSourceType::Mysql => Kind::Mysql,
        DataSourceType::Sqlite => Kind::Sqlite,
    }
}

fn type_of(kind: Kind) -> DataSourceType {
    match kind {
        Kind::Postgresql => DataSourceType::Postgresql,
        Kind::Mysql => DataSourceType::Mysql,
        Kind::Sqlite => DataSourceType::Sqlite,
    }
}

fn stored_kind(r: &DataSourceRecord) -> Result<Kind, ApiError> {
    r.kind.parse().map_err(|e: baton_datasource::UrlError| {
        ApiError::Store(baton_store::StoreError::Corrupt {
            context: "datasource.kind",
            detail: e.to_string(),
        })
    })
}

fn shown(r: DataSourceRecord) -> Result<DataSource, ApiError> {
    Ok(DataSource {
        kind: type_of(stored_kind(&r)?),
        has_password: r.secret.is_some(),
        created_at: from_us(r.created_at),
        updated_at: from_us(r.updated_at),
        project: r.project,
        name: r.name,
        url: r.url,
    })
}

/// The data source `name` of `project`, or the API's not-found for it.
async fn record_of(
    state: &ApiState,
    project: &str,
    name: &str,
) -> Result<baton_store::DataSourceRecord, ApiError> {
    state
        .store
        .get_datasource(project, name)
        .await?
        .ok_or_else(|| missing(project, name))
}

fn missing(project: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!(
        "data source `{name}` not found in project `{project}`"
    ))
}

/// `POST /datasources?project=P`: creates a data source.
#[utoipa::path(post, path = "/datasources", tag = "datasources", params(DataSourceQuery),
    request_body = DataSourceRequest,
    responses((status = 201, description = "Created (without its password)", body = DataSource),
        (status = 400, description = "A bad name, type or URL", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "The name is taken in the project", body = ErrorBody),
        (status = 503, description = "A password, but the server has no secret key", body = ErrorBody)))]
pub(crate) async fn create_datasource(
    State(state): State<ApiState>,
    Query(q): Query<DataSourceQuery>,
    req: Result<Json<DataSourceRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<DataSource>), ApiError> {
    // The parser's own message can quote a value (a password given as a number, say): it is
    // not passed on.
    let req = match req {
        Ok(Json(r)) => r,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(ApiError::TooLarge),
        Err(_) => {
            return Err(ApiError::bad(
                "bad_request",
                "data source: the body must be a JSON object {\"name\", \"type\", \"url\", \
                 \"password\"?} of strings, `type` one of postgresql, mysql, sqlite",
            ))
        }
    };
    let project = project_or_default(q.project);
    check_name("data source", &req.name).map_err(|e| e.at("name"))?;
    let kind = kind_of(req.kind);
    let url = DataSourceUrl::parse(kind, &req.url)
        .map_err(|e| ApiError::field("bad_url", "url", e.to_string()))?;
    let password = url
        .password(req.password)
        .map_err(|e| ApiError::field("bad_password", "password", e.to_string()))?;
    let secret = match password {
        None => None,
        Some(password) => {
            let keyring = state.keyring.as_deref().ok_or_else(|| {
                ApiError::Unavailable(
                    "this server has no secret key (--secret-key-file), so it cannot keep a \
                     password"
                        .into(),
                )
            })?;
            let sealed = keyring
                .seal_text(&secret_context(&project, &req.name), &password)
                .map_err(|e| ApiError::Unavailable(format!("cannot seal the password: {e}")))?;
            Some(sealed)
        }
    };
    let record = state
        .store
        .create_datasource(NewDataSource {
            project: &project,
            name: &req.name,
            kind: kind.as_str(),
            url: &url.url,
            secret: secret.as_deref(),
        })
        .await?;
    tracing::info!(
        "data source {project}/{} ({kind}) created, {}",
        record.name,
        if record.secret.is_some() {
            "with a sealed password"
        } else {
            "without a password"
        }
    );
    Ok((StatusCode::CREATED, Json(shown(record)?)))
}

/// `GET /datasources?project=P`: a page of the project's data sources, by name.
#[utoipa::path(get, path = "/datasources", tag = "datasources", params(DataSourceQuery, PageQuery),
    responses((status = 200, description = "A page of data sources", body = DataSourceList),
        (status = 400, description = "A bad cursor or limit", body = ErrorBody)))]
pub(crate) async fn list_datasources(
    State(state): State<ApiState>,
    Query(q): Query<DataSourceQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<DataSourceList> {
    let project = project_or_default(q.project);
    let limit = page.limit()?;
    let after = page.cursor()?.map(Cursor::key).transpose()?;
    let list = state
        .store
        .list_datasources(&project, after.as_deref(), i64::from(limit) + 1)
        .await?;
    let (list, next_cursor) = paging::fetched(list, limit, |d| Cursor::Key(d.name.clone()));
    let datasources = list.into_iter().map(shown).collect::<Result<_, _>>()?;
    Ok(Json(DataSourceList {
        datasources,
        next_cursor,
    }))
}

/// `GET /datasources/{name}?project=P`: one data source (never its password).
#[utoipa::path(get, path = "/datasources/{name}", tag = "datasources",
    params(("name" = String, Path, description = "The data source"), DataSourceQuery),
    responses((status = 200, description = "The data source", body = DataSource),
        (status = 404, description = "No such data source", body = ErrorBody)))]
pub(crate) async fn show_datasource(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<DataSourceQuery>,
) -> ApiResult<DataSource> {
    let project = project_or_default(q.project);
    let record = record_of(&state, &project, &name).await?;
    Ok(Json(shown(record)?))
}

/// `DELETE /datasources/{name}?project=P`: deletes a data source and its sealed password.
#[utoipa::path(delete, path = "/datasources/{name}", tag = "datasources",
    params(("name" = String, Path, description = "The data source"), DataSourceQuery),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such data source", body = ErrorBody)))]
pub(crate) async fn delete_datasource(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<DataSourceQuery>,
) -> Result<StatusCode, ApiError> {
    let project = project_or_default(q.project);
    match state.store.delete_datasource(&project, &name).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(baton_store::StoreError::NotFound(_)) => Err(missing(&project, &name)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /datasources/{name}/test?project=P`: connects (within 10 s) and runs `SELECT 1`.
#[utoipa::path(post, path = "/datasources/{name}/test", tag = "datasources",
    params(("name" = String, Path, description = "The data source"), DataSourceQuery),
    responses((status = 200, description = "Whether it answered, and what failed", body = DataSourceTest),
        (status = 404, description = "No such data source", body = ErrorBody)))]
pub(crate) async fn test_datasource(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<DataSourceQuery>,
) -> ApiResult<DataSourceTest> {
    let project = project_or_default(q.project);
    let record = record_of(&state, &project, &name).await?;
    let kind = stored_kind(&record)?;
    let password = match &record.secret {
        None => None,
        Some(sealed) => {
            let Some(keyring) = state.keyring.as_deref() else {
                return Ok(Json(DataSourceTest {
                    ok: false,
                    message: "this server has no secret key (--secret-key-file), so it cannot \
                              open the data source's password"
                        .into(),
                }));
            };
            match keyring.open_text(&secret_context(&project, &name), sealed) {
                Ok(p) => Some(p),
                Err(e) => {
                    return Ok(Json(DataSourceTest {
                        ok: false,
                        message: e.to_string(),
                    }))
                }
            }
        }
    };
    let outcome = baton_datasource::test(
        kind,
        &record.url,
        password.as_deref().map(String::as_str),
        baton_datasource::TEST_TIMEOUT,
    )
    .await;
    Ok(Json(DataSourceTest {
        ok: outcome.ok,
        message: outcome.message,
    }))
}

/// What [`reseal`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Secrets now sealed with the current key.
    pub resealed: u64,
    /// Secrets that no configured key opens (left as they are).
    pub unopened: u64,
}

/// How many data sources [`reseal`] reads at a time.
const RESEAL_BATCH: i64 = 100;

/// Seals again, with the keyring's current key, every data source password and project secret
/// sealed with another key, in small batches; logs how many (never a value). Run at the API's start, so that a
/// previous key can be dropped once it has run with `--previous-secret-key-file`.
pub async fn reseal(
    store: &baton_store::Store,
    keyring: &baton_secrets::Keyring,
) -> Result<Resealed, baton_store::StoreError> {
    let current = keyring.current_id().as_str();
    let mut total = Resealed::default();
    for kind in SealedKind::ALL {
        let done = reseal_kind(store, keyring, kind).await?;
        if done.resealed > 0 || done.unopened > 0 {
            tracing::info!(
                "secrets: re-sealed {} {} with key {current}; {} could not be opened",
                done.resealed,
                plural(kind),
                done.unopened
            );
        }
        total.resealed += done.resealed;
        total.unopened += done.unopened;
    }
    Ok(total)
}

/// Seals again every value of `kind` sealed with another key than the current one.
async fn reseal_kind(
    store: &baton_store::Store,
    keyring: &baton_secrets::Keyring,
    kind: SealedKind,
) -> Result<Resealed, baton_store::StoreError> {
    let current = keyring.current_id().as_str();
    let mut done = Resealed::default();
    let mut after = 0;
    loop {
        let batch = store
            .sealed_to_reseal(kind, current, after, RESEAL_BATCH)
            .await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for v in batch {
            match keyring.reseal(&context(kind, &v.project, &v.name), &v.sealed) {
                Ok(new) => {
                    if store.reseal(kind, v.id, &v.sealed, &new).await? {
                        done.resealed += 1;
                    }
                }
                Err(e) => {
                    done.unopened += 1;
                    tracing::warn!(
                        "{} {}/{}: cannot be re-sealed: {e}",
                        singular(kind),
                        v.project,
                        v.name
                    );
                }
            }
        }
    }
    Ok(done)
}

/// The associated data a value of `kind` is sealed with: the record it belongs to.
fn context(kind: SealedKind, project: &str, name: &str) -> String {
    match kind {
        SealedKind::DataSource => secret_context(project, name),
        SealedKind::Secret => baton_secrets::project_secret_context(project, name),
        SealedKind::AlertChannel => baton_alerts::channel::secret_context(project, name),
    }
}

/// What a value of `kind` is, for the log.
fn singular(kind: SealedKind) -> &'static str {
    match kind {
        SealedKind::DataSource => "data source password",
        SealedKind::Secret => "project secret",
        SealedKind::AlertChannel => "alert channel secret",
    }
}

/// [`singular`], counted.
fn plural(kind: SealedKind) -> String {
    format!("{}(s)", singular(kind))
}
