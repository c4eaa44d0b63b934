//! `http`: one HTTP request, run inside a worker. Its status is checked against
//! `expect_status` (any 2xx by default) and output params are taken from the JSON response
//! by JSON pointer.
//!
//! ```yaml
//! - name: notify
//!   type: http
//!   method: POST
//!   url: https://example.test/hooks/${dt}
//!   headers: {X-Run: "${system.workflow.instance.id}"}
//!   body: {date: "${dt}"}          # JSON; or `body_text:` for any other body
//!   expect_status: [200, 201]
//!   outputs: {job_id: /id}
//! ```

use super::{KindDef, KindReader};
use crate::spec::TaskKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(super) const KIND: KindDef = KindDef {
    name: "http",
    fields: &[
        "method",
        "url",
        "headers",
        "body",
        "body_text",
        "expect_status",
        "outputs",
    ],
    read,
};

/// The most output params one http task may take from its response.
pub const MAX_HTTP_OUTPUTS: usize = 100;

/// An HTTP method an `http` task may send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET` (the default).
    #[default]
    #[serde(alias = "get")]
    Get,
    /// `POST`.
    #[serde(alias = "post")]
    Post,
    /// `PUT`.
    #[serde(alias = "put")]
    Put,
    /// `PATCH`.
    #[serde(alias = "patch")]
    Patch,
    /// `DELETE`.
    #[serde(alias = "delete")]
    Delete,
    /// `HEAD`.
    #[serde(alias = "head")]
    Head,
}

impl HttpMethod {
    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Head => "HEAD",
        }
    }
}

/// What an `http` task sends and expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSpec {
    /// The method.
    #[serde(default)]
    pub method: HttpMethod,
    /// The URL (`http` or `https`); a `${param}` in it is percent-encoded.
    pub url: String,
    /// Request headers; a value with a line break is refused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (sent with `Content-Type: application/json` unless a header says
    /// otherwise); `${param}` inside its strings stays inside them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// A body sent as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// The statuses that count as success (empty: any 2xx).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<u16>,
    /// Output params taken from the JSON response: name → JSON pointer (`/id`, `/data/0/n`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    method: Option<HttpMethod>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<serde_json::Value>,
    body_text: Option<String>,
    #[serde(default)]
    expect_status: Vec<u16>,
    #[serde(default)]
    outputs: BTreeMap<String, String>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    let url = r.need(f.url, "a `url` (http://… or https://…)")?;
    let mut problems = Vec::new();
    let scheme_ok = ["http://", "https://"]
        .iter()
        .any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s));
    if !scheme_ok {
        problems.push(format!(
            "`url` must start with http:// or https:// and name a host (got `{url}`)"
        ));
    }
    if f.body.is_some() && f.body_text.is_some() {
        problems.push("give `body` (JSON) or `body_text`, not both".into());
    }
    for name in f.headers.keys() {
        if !valid_header_name(name) {
            problems.push(format!("`{name}` is not a valid header name"));
        }
    }
    for value in f.headers.values() {
        if value.contains(['\r', '\n', '\0']) {
            problems.push("a header value cannot hold a line break".into());
        }
    }
    if let Some(s) = f.expect_status.iter().find(|s| !(100..=599).contains(*s)) {
        problems.push(format!(
            "`expect_status`: {s} is not an HTTP status (100 to 599)"
        ));
    }
    if f.outputs.len() > MAX_HTTP_OUTPUTS {
        problems.push(format!(
            "`outputs` lists more than {MAX_HTTP_OUTPUTS} params"
        ));
    }
    for (name, pointer) in &f.outputs {
        if !crate::params::is_param_name(name) {
            problems.push(format!("`outputs`: `{name}` is not a param name"));
        }
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            problems.push(format!(
                "`outputs.{name}`: `{pointer}` is not a JSON pointer (write `/field`, `/list/0`, or `` for the whole body)"
            ));
        }
    }
    if !problems.is_empty() {
        for p in problems {
            r.problem(p);
        }
        return None;
    }
    Some(TaskKind::Http(HttpSpec {
        method: f.method.unwrap_or_default(),
        url,
        headers: f.headers,
        body: f.body,
        body_text: f.body_text,
        expect_status: f.expect_status,
        outputs: f.outputs,
    }))
}

/// An HTTP header name: a token (RFC 9110), at most 256 characters.
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
