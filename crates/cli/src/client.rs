//! The REST client behind the client commands.

use crate::exit::Exit;
use anyhow::Context;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A connection to a running Baton's API.
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:12345`).
    pub fn new(base: &str) -> Client {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Client {
            base: base.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// Calls `path` (under `/api/v1`) and decodes the answer; an error answer becomes an
    /// [`Exit`] carrying the server's message (exit 2 for a 400, 1 otherwise).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<T> {
        let url = format!("{}/api/v1{}", self.base, path);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                anyhow::Error::new(Exit::Failed(format!(
                    "cannot reach Baton at {} ({}); is `baton standalone` running? (set --server or BATON_SERVER)",
                    self.base,
                    root_cause(&e)
                )))
            } else {
                anyhow::Error::new(e).context(format!("calling {url}"))
            }
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{status}: {text}"));
            return Err(if status == StatusCode::BAD_REQUEST {
                Exit::BadInput(message).into()
            } else {
                Exit::Failed(message).into()
            });
        }
        serde_json::from_str(&text).with_context(|| format!("decoding the answer of {url}"))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Escapes a path segment or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
