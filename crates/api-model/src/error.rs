//! The body of every error answer: `{"error": {"code", "message", "problems"?}}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, and where.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable kind (`not_found`, `invalid_workflow`, `bad_query`, …).
    pub code: String,
    /// For people: what is wrong and where.
    pub message: String,
    /// Each problem of a workflow file (file, line, column, task, message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<serde_json::Value>,
}
