//! The REST client behind the client commands: typed calls that decode the API's models,
//! raw byte reads (logs), and the event stream.

use crate::exit::Exit;
use anyhow::Context;
use baton_api_model::ErrorBody;
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use tokio_rustls::rustls;

/// A connection to a running Baton's API.
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// Without a whole-request timeout, for streams that stay open.
    streaming: reqwest::Client,
    /// Sent as `Authorization: Bearer` (`BATON_TOKEN`, or the login stored for this server).
    token: Option<String>,
}

/// No body (a command without parameters).
#[derive(Serialize)]
pub struct Empty {}

impl Client {
    /// A client for the server at `base` (e.g. `https://127.0.0.1:12345`), sending the
    /// token stored for it (or `BATON_TOKEN`) and trusting `ca` (else the CA kept in its
    /// context, if any) besides the system's CAs.
    pub fn new(base: &str, ca: Option<&Path>) -> anyhow::Result<Client> {
        let token = crate::contexts::token_for(base);
        let ca = ca
            .map(Path::to_path_buf)
            .or_else(|| crate::contexts::ca_for(base));
        Client::with_token(base, token, ca.as_deref())
    }

    /// A client for `base` that sends `token` (none: no credentials, as for a login) and
    /// trusts the CA certificates in the PEM file `ca` besides the system's.
    pub fn with_token(
        base: &str,
        token: Option<String>,
        ca: Option<&Path>,
    ) -> anyhow::Result<Client> {
        let roots = ca.map(ca_certificates).transpose()?.unwrap_or_default();
        let builder = || {
            roots.iter().fold(reqwest::Client::builder(), |b, c| {
                b.add_root_certificate(c.clone())
            })
        };
        let http = builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("setting up the HTTP client")?;
        let streaming = builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .context("setting up the HTTP client")?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            http,
            streaming,
            token,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    /// Sends a request and turns a failed one, or an error answer, into an [`Exit`] with
    /// the server's message (exit 2 for a 400, 1 otherwise).
    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> anyhow::Result<Response> {
        let request = match &self.token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        let response = request.send().await.map_err(|e| self.unreachable(e, url))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| format!("{status}: {text}"));
        if status == StatusCode::UNAUTHORIZED {
            return Err(Exit::Failed(self.login_hint(&message)).into());
        }
        Err(if status == StatusCode::BAD_REQUEST {
            Exit::BadInput(message).into()
        } else {
            Exit::Failed(message).into()
        })
    }

    /// What to do about a 401.
    fn login_hint(&self, message: &str) -> String {
        let base = &self.base;
        let what = if self.token.is_some() {
            "the login or token used is not valid (expired, revoked, or the user is disabled)"
        } else {
            "not logged in"
        };
        let first = message.split(';').next().unwrap_or(message);
        format!("{what} to {base} ({first}): run `baton login --server {base}`, or set BATON_TOKEN")
    }

    fn unreachable(&self, e: reqwest::Error, url: &str) -> anyhow::Error {
        if let Some(tls) = tls_error(&e) {
            let hint = if matches!(tls, rustls::Error::InvalidCertificate(_)) {
                "if its certificate is signed by a private CA (or self-signed), trust that CA \
                 with --ca-cert FILE or BATON_CA_CERT"
            } else {
                "does it speak https? (a server started without --tls-cert speaks http://)"
            };
            return anyhow::Error::new(Exit::Failed(format!(
                "cannot talk TLS with Baton at {} ({tls}): {hint}",
                self.base
            )));
        }
        if e.is_connect() || e.is_timeout() {
            anyhow::Error::new(Exit::Failed(format!(
                "cannot reach Baton at {} ({}); is `baton standalone` running? (set --server or BATON_SERVER)",
                self.base,
                root_cause(&e)
            )))
        } else {
            anyhow::Error::new(e).context(format!("calling {url}"))
        }
    }

    /// Calls `path` (under `/api/v1`) with an optional JSON body and decodes the answer.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<T> {
        let url = self.url(path);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(sized_body(body)?);
        }
        let response = self.send(request, &url).await?;
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        // A 204 has no body: it decodes as `()`.
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).with_context(|| format!("decoding the answer of {url}"))
    }

    /// `DELETE path`, decoded.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call::<Empty, T>(Method::DELETE, path, None).await
    }

    /// `PUT path` with a JSON body, decoded.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// `GET path`, decoded.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call::<Empty, T>(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body, decoded.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Every item of the paged list at `path` (whose query has no `cursor` or `limit`),
    /// page after page; `split` takes a page apart into its items and its `next_cursor`.
    pub async fn all_pages<P: DeserializeOwned, T>(
        &self,
        path: &str,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> anyhow::Result<Vec<T>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let limit = baton_api_model::MAX_LIMIT;
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let after = cursor
                .as_deref()
                .map(|c| format!("&cursor={}", encode(c)))
                .unwrap_or_default();
            let page: P = self
                .get(&format!("{path}{sep}limit={limit}{after}"))
                .await?;
            let (mut got, next) = split(page);
            items.append(&mut got);
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(items),
            }
        }
    }

    /// `GET path` asking for raw bytes (`application/octet-stream`): the answer, whose
    /// headers carry what else there is to know.
    pub async fn get_raw(&self, path: &str) -> anyhow::Result<Response> {
        let url = self.url(path);
        let request = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/octet-stream");
        self.send(request, &url).await
    }

    /// Opens a Server-Sent Events stream at `path`, resuming after `last_id` if given.
    pub async fn stream(&self, path: &str, last_id: Option<i64>) -> anyhow::Result<Response> {
        let url = self.url(path);
        let mut request = self
            .streaming
            .get(&url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        self.send(request, &url).await
    }
}

/// The TLS failure under a failed request, if that is what it was.
fn tls_error<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            // An I/O error's `source` skips the error it wraps, which is where rustls (and
            // the I/O errors around it) put theirs.
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The certificates of a PEM file given with `--ca-cert`.
fn ca_certificates(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let bad =
        |what: String| Exit::BadInput(format!("the CA certificate {}: {what}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| bad(format!("not PEM certificates: {}", root_cause(&e))))?;
    if certs.is_empty() {
        return Err(bad("it holds no `-----BEGIN CERTIFICATE-----`".into()).into());
    }
    Ok(certs)
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

/// `body` as JSON, refused here when the server would refuse it for its size (it closes the
/// connection while the request is still being sent, which the client would only see as a
/// broken pipe).
fn sized_body<B: Serialize>(body: &B) -> anyhow::Result<Vec<u8>> {
    let bytes = serde_json::to_vec(body).context("encoding the request")?;
    let limit = baton_api_model::MAX_BODY_BYTES;
    if bytes.len() > limit {
        return Err(Exit::BadInput(format!(
            "the request is {} KiB, more than the server accepts ({} KiB): split the workflow, or make it smaller",
            bytes.len() / 1024,
            limit / 1024
        ))
        .into());
    }
    Ok(bytes)
}
