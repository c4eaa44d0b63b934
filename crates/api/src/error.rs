//! API errors: a status code and a JSON body `{"error": {"code", "message", "problems"?}}`
//! ([`baton_api_model::ErrorBody`]) that says what went wrong and where.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use baton_api_model::{CursorError, ErrorBody, ErrorDetail};
use baton_core::spec::Problem;

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or the workflow is invalid.
    #[error("{message}")]
    BadRequest {
        /// Machine-readable kind.
        code: &'static str,
        /// What is wrong.
        message: String,
        /// Each problem in a workflow file.
        problems: Vec<Problem>,
    },
    /// A request whose fields are wrong (400): each problem names its field, so that a form
    /// can show it at the field (`params.NAME`, `worker_group`, `from_task`).
    #[error("{message}")]
    BadFields {
        /// Machine-readable kind.
        code: &'static str,
        /// Every problem, in words.
        message: String,
        /// Each field and what is wrong with it.
        fields: Vec<(String, String)>,
    },
    /// No valid credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A known caller without the right (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such object.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the object's state.
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error("the database failed: {0}")]
    Store(#[from] baton_store::StoreError),
    /// The request body is larger than [`crate::MAX_BODY_BYTES`].
    #[error(
        "the request body is larger than the limit of {} bytes",
        crate::MAX_BODY_BYTES
    )]
    TooLarge,
    /// A worker could not be reached.
    #[error("{0}")]
    Unavailable(String),
    /// Too many attempts (of a login) in a short time; try again after the duration.
    #[error("too many attempts: try again in {} s", .0.as_secs().max(1))]
    TooManyRequests(std::time::Duration),
    /// As many requests as the server takes at once are being answered (503): the caller
    /// should try again shortly.
    #[error(
        "the server is answering as many requests as it takes at once ({0}); try again shortly"
    )]
    Overloaded(usize),
    /// The request (its body included) took longer than the limit to arrive and be answered
    /// (408); the server stopped it.
    #[error(
        "the request took longer than {} to arrive and be answered, so the server stopped it",
        humantime::format_duration(*.0)
    )]
    RequestTimeout(std::time::Duration),
}

/// The `Retry-After` of a request shed because too many were in flight.
pub const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

impl ApiError {
    /// A plain bad request.
    pub fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// A bad request about one field of the body (`url`, `settings.to`), shown at that field
    /// by a form.
    pub fn field(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        let message = message.into();
        ApiError::BadFields {
            code,
            fields: vec![(field.into(), message.clone())],
            message,
        }
    }

    /// This error, said to be about `field` when it is a plain bad request (a name check's
    /// refusal, say); any other error as it is.
    pub fn at(self, field: &str) -> ApiError {
        match self {
            ApiError::BadRequest {
                code,
                message,
                problems,
            } if problems.is_empty() => ApiError::field(code, field, message),
            other => other,
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } | ApiError::BadFields { code, .. } => {
                (StatusCode::BAD_REQUEST, *code)
            }
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Store(baton_store::StoreError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            ApiError::Store(baton_store::StoreError::Conflict(_)) => {
                (StatusCode::CONFLICT, "conflict")
            }
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
        }
    }

    fn message(&self) -> String {
        match self {
            // A store's own not-found and conflict say what, without a prefix.
            ApiError::Store(
                e @ (baton_store::StoreError::NotFound(_) | baton_store::StoreError::Conflict(_)),
            ) => e.to_string(),
            other => other.to_string(),
        }
    }
}

impl From<CursorError> for ApiError {
    fn from(e: CursorError) -> Self {
        ApiError::bad("bad_query", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // A shed request is the flood itself: logging each would add to it.
        if status.is_server_error() && !matches!(self, ApiError::Overloaded(_)) {
            tracing::error!("api: {self}");
        }
        let problems = match &self {
            ApiError::BadRequest { problems, .. } => problems
                .iter()
                .filter_map(|p| serde_json::to_value(p).ok())
                .collect(),
            ApiError::BadFields { fields, .. } => fields
                .iter()
                .map(|(field, message)| serde_json::json!({"field": field, "message": message}))
                .collect(),
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: self.message(),
                problems,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match self {
            // Whole seconds, rounded up, as `Retry-After` counts.
            ApiError::TooManyRequests(wait) => {
                Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
            // Requests in flight end within moments: a client may try again soon.
            ApiError::Overloaded(_) => Some(OVERLOADED_RETRY_AFTER_SECS),
            ApiError::BadRequest { .. }
            | ApiError::BadFields { .. }
            | ApiError::Unauthorized(_)
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::Store(_)
            | ApiError::Unavailable(_)
            | ApiError::TooLarge
            | ApiError::RequestTimeout(_) => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
