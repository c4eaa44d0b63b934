//! Project secrets: named values an http task's headers and body use as `${secret.NAME}`. A
//! value is write-only: it is sent when a secret is set and never comes back (answers hold
//! names and times only).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::{IntoParams, ToSchema};

/// Body of `PUT /secrets/{name}?project=P`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretRequest {
    /// The value, kept sealed; never shown again.
    pub value: String,
}

/// Its `Debug` never shows the value.
impl fmt::Debug for SecretRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRequest")
            .field("value", &"…")
            .finish()
    }
}

/// A secret as the API shows it: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Secret {
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last set (a re-seal under a new key included).
    pub updated_at: DateTime<Utc>,
}

/// Answer of `GET /secrets?project=P`, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    /// This page.
    pub secrets: Vec<Secret>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `?project=` of the secret routes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SecretQuery {
    /// The project (default `default`).
    pub project: Option<String>,
}
