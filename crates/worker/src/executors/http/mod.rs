//! HTTP tasks: one request sent from inside the worker (no process). The response's status
//! decides the outcome (`expect_status`, any 2xx by default); its status line and the start of
//! its body go to the task's log; output params are read from the JSON body by JSON pointer.
//! Where a request may go is the worker's [`HttpPolicy`]; redirects are followed up to
//! [`MAX_REDIRECTS`], each checked the same way. A timeout or a kill drops the request.
//!
//! The headers are never logged. The values of the project secrets the request carries (the
//! dispatch's `redact`) are written `***` in the response the log shows, in messages and in
//! output params, so that a server echoing a secret back does not put it in the log or the
//! store.

mod policy;

pub use policy::HttpPolicy;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use baton_proto::HttpTask;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use super::{InProcess, InProcessEnd, Plan, Run};
use crate::logfile::CappedLog;

/// Most redirects one request follows.
pub const MAX_REDIRECTS: usize = 5;
/// Most bytes of a response read (for its outputs); the rest is not read.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Most bytes of a response body written to the log.
pub const LOGGED_BODY_BYTES: usize = 64 * 1024;

/// A worker's HTTP client, built once on first use (it holds the connection pool and the
/// TLS roots) with the worker's policy.
#[derive(Debug, Clone, Default)]
pub struct HttpClient {
    policy: Arc<HttpPolicy>,
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
}

impl HttpClient {
    /// A client that keeps to `policy`.
    pub fn new(policy: HttpPolicy) -> HttpClient {
        HttpClient {
            policy: Arc::new(policy),
            client: Arc::default(),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| build_client(self.policy.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn build_client(policy: Arc<HttpPolicy>) -> Result<reqwest::Client, String> {
    let redirects = policy.clone();
    reqwest::Client::builder()
        // A proxy would resolve names itself, past the policy's checks.
        .no_proxy()
        .dns_resolver(Arc::new(policy::CheckedResolver(policy)))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            let host = attempt.url().host_str().unwrap_or_default().to_string();
            match redirects.check_host(&host) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(format!("redirect refused: {e}")),
            }
        }))
        .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Sends `task`'s request with `client`.
pub(crate) fn plan(task: &HttpTask, client: &HttpClient) -> Plan {
    Plan::InProcess(Box::new(HttpRun {
        task: task.clone(),
        client: client.clone(),
    }))
}

#[derive(Debug)]
struct HttpRun {
    task: HttpTask,
    client: HttpClient,
}

impl InProcess for HttpRun {
    fn run<'a>(self: Box<Self>, log: &'a mut CappedLog) -> Run<'a> {
        Box::pin(async move {
            match self.send(log).await {
                Ok(outputs) => InProcessEnd::Succeeded(
                    outputs
                        .into_iter()
                        .map(|(name, value)| (name, self.hide(&value)))
                        .collect(),
                ),
                Err(message) => InProcessEnd::Failed(self.hide(&message)),
            }
        })
    }
}

impl HttpRun {
    /// `text` with each secret value the request carries written `***`.
    fn hide(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.task.redact.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }

    /// A response body as the log may show it: its secret values written `***`.
    fn hide_bytes(&self, body: Vec<u8>) -> Vec<u8> {
        if self.task.redact.iter().all(String::is_empty) {
            return body;
        }
        self.hide(&String::from_utf8_lossy(&body)).into_bytes()
    }

    async fn send(&self, log: &mut CappedLog) -> Result<HashMap<String, String>, String> {
        let t = &self.task;
        let url = reqwest::Url::parse(&t.url).map_err(|e| format!("bad url `{}`: {e}", t.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{}` is not an http or https URL", t.url));
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("`{}` names no host", t.url))?;
        self.client.policy.check_host(host)?;
        let method = reqwest::Method::from_bytes(t.method.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", t.method))?;
        log.write(format!("> {method} {}\n", shown(&url)).as_bytes())
            .await;
        let mut request = self
            .client
            .client()?
            .request(method, url)
            .headers(headers(t)?);
        if let Some(body) = &t.body {
            request = request.body(body.clone());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| format!("request failed: {}", error_chain(&e)))?;
        let status = response.status();
        log.write(format!("< {status}\n").as_bytes()).await;
        let body = read_capped(&mut response).await?;
        let logged = self.hide_bytes(body.clone());
        let shown_body = &logged[..logged.len().min(LOGGED_BODY_BYTES)];
        log.write(shown_body).await;
        if logged.len() > LOGGED_BODY_BYTES {
            log.write(
                format!(
                    "\n[baton] {} more bytes of the response not shown\n",
                    logged.len() - LOGGED_BODY_BYTES
                )
                .as_bytes(),
            )
            .await;
        } else if !logged.is_empty() && !logged.ends_with(b"\n") {
            log.write(b"\n").await;
        }
        let expected = if t.expect_status.is_empty() {
            status.is_success()
        } else {
            t.expect_status.contains(&u32::from(status.as_u16()))
        };
        if !expected {
            return Err(format!(
                "unexpected status {status} ({})",
                expectation(&t.expect_status)
            ));
        }
        outputs(&t.outputs, &body)
    }
}

/// The request's headers; JSON content type for a JSON body that names none.
fn headers(t: &HttpTask) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in &t.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header `{name}` is not valid in a header"))?;
        map.insert(name, value);
    }
    if t.body_is_json && !map.contains_key(CONTENT_TYPE) {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(map)
}

/// The URL as the log shows it: without its query, which may hold a token.
fn shown(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    let had_query = shown.query().is_some();
    shown.set_query(None);
    let _ = shown.set_password(None);
    if had_query {
        format!("{shown}?…")
    } else {
        shown.to_string()
    }
}

fn expectation(expect: &[u32]) -> String {
    if expect.is_empty() {
        "expected 2xx".into()
    } else {
        let list: Vec<String> = expect.iter().map(u32::to_string).collect();
        format!("expected {}", list.join(" or "))
    }
}

/// The error and its causes, in one line (reqwest's own message is only the outermost).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The body, up to [`MAX_RESPONSE_BYTES`].
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the response failed: {}", error_chain(&e)))?
    {
        let room = MAX_RESPONSE_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(body)
}

/// The output params: each pointer's value in the JSON body (a string as it is, anything
/// else as JSON text), under the limits every task's outputs keep.
fn outputs(
    pointers: &HashMap<String, String>,
    body: &[u8],
) -> Result<HashMap<String, String>, String> {
    if pointers.is_empty() {
        return Ok(HashMap::new());
    }
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("the task takes outputs from the response, which is not JSON: {e}"))?;
    let mut out = HashMap::new();
    for (name, pointer) in pointers {
        let value = json
            .pointer(pointer)
            .ok_or_else(|| format!("output `{name}`: the response has nothing at `{pointer}`"))?;
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.insert(name.clone(), text);
    }
    baton_core::params::limits::check_outputs(&out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_read_by_pointer_strings_as_they_are() {
        let body = br#"{"id": "j-1", "n": 3, "list": [{"x": true}]}"#;
        let pointers = HashMap::from([
            ("id".to_string(), "/id".to_string()),
            ("n".to_string(), "/n".to_string()),
            ("x".to_string(), "/list/0/x".to_string()),
        ]);
        let out = outputs(&pointers, body).unwrap();
        assert_eq!(out["id"], "j-1");
        assert_eq!(out["n"], "3");
        assert_eq!(out["x"], "true");
        let missing = HashMap::from([("y".to_string(), "/nope".to_string())]);
        assert!(outputs(&missing, body)
            .unwrap_err()
            .contains("nothing at `/nope`"));
        assert!(outputs(&pointers, b"<html>")
            .unwrap_err()
            .contains("not JSON"));
    }

    #[test]
    fn the_secrets_a_request_carries_are_masked_in_what_is_shown() {
        let run = HttpRun {
            task: HttpTask {
                redact: vec!["t0k".into(), String::new()],
                ..HttpTask::default()
            },
            client: HttpClient::default(),
        };
        assert_eq!(run.hide("Bearer t0k, again t0k"), "Bearer ***, again ***");
        assert_eq!(
            run.hide_bytes(br#"{"auth":"Bearer t0k"}"#.to_vec()),
            br#"{"auth":"Bearer ***"}"#.to_vec()
        );
        let plain = HttpRun {
            task: HttpTask::default(),
            client: HttpClient::default(),
        };
        assert_eq!(
            plain.hide_bytes(vec![0xff, 0x00]),
            [0xff, 0x00],
            "bytes kept as they are"
        );
    }

    #[test]
    fn the_log_never_shows_a_query_or_a_password() {
        let url = reqwest::Url::parse("https://u:pw@h.test/a?token=s3cret").unwrap();
        assert_eq!(shown(&url), "https://u@h.test/a?…");
    }
}
