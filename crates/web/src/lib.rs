//! Baton's web UI, served at `/` by `baton standalone` and `baton api`.
//!
//! The UI is built by Vite from `ui/` into `ui/dist` (`make ui`); a release build embeds
//! that folder in the binary (rust-embed; a debug build reads it from disk). Without it,
//! `cargo build` still works and the UI's paths answer a short page saying how to build it.
//!
//! What is served:
//! - `/assets/…`: the hashed bundles, `Cache-Control: public, max-age=31536000, immutable`
//!   (a new build has new names); a missing one is a 404, never the page.
//! - `/` and any other path outside `/api`: `index.html` with `no-cache`, so that the
//!   single-page app's own URLs (`/projects/demo/…`) open the app (SPA fallback).
//! - `/api` and `/api/…` are never answered with the page: the API answers them (its JSON
//!   404 for an unknown one); if they reach this service anyway it answers a plain 404.
//!
//! Every answer carries a strict Content-Security-Policy (own origin only, no inline script
//! or style), `X-Content-Type-Options: nosniff` and `X-Frame-Options: DENY`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;
use std::sync::Arc;

/// The page's Content-Security-Policy: scripts, styles, images, fonts and connections
/// (the API, the event stream) from its own origin only; no inline script or style
/// attribute, no plugin, no framing, no form to elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The cache rule of the hashed bundles under `/assets/`.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The cache rule of `index.html` and every unhashed file.
pub const NO_CACHE: &str = "no-cache";

/// Where the UI's built files come from: the embedded `ui/dist`, or (in tests) a map.
pub trait AssetSource: Send + Sync + 'static {
    /// The file at `path` (relative to the build folder, e.g. `assets/index-abc.js`).
    fn get(&self, path: &str) -> Option<Cow<'static, [u8]>>;
}

/// The `ui/dist` folder, embedded in a release build (read from disk in a debug build);
/// empty when the UI was not built.
#[derive(rust_embed::RustEmbed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Dist;

/// The built UI of this binary ([`Dist`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Embedded;

impl AssetSource for Embedded {
    fn get(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        Dist::get(path).map(|f| f.data)
    }
}

impl<F> AssetSource for F
where
    F: Fn(&str) -> Option<Cow<'static, [u8]>> + Send + Sync + 'static,
{
    fn get(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        self(path)
    }
}

/// The UI service: answers a request for a path outside `/api` from its asset source.
#[derive(Clone)]
pub struct Ui {
    assets: Arc<dyn AssetSource>,
}

impl Default for Ui {
    fn default() -> Self {
        Ui::embedded()
    }
}

impl Ui {
    /// The UI built into this binary.
    pub fn embedded() -> Ui {
        Ui::with_assets(Embedded)
    }

    /// The UI of another asset source (tests inject one).
    pub fn with_assets(assets: impl AssetSource) -> Ui {
        Ui {
            assets: Arc::new(assets),
        }
    }

    /// Whether `index.html` is there (the UI was built).
    pub fn is_built(&self) -> bool {
        self.assets.get("index.html").is_some()
    }

    /// The answer to `method path`.
    pub fn respond(&self, method: &Method, path: &str) -> Response {
        let mut response = self.answer(method, path);
        secure(response.headers_mut());
        response
    }

    fn answer(&self, method: &Method, path: &str) -> Response {
        if is_api_path(path) {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        }
        if method != Method::GET && method != Method::HEAD {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let file = path.trim_start_matches('/');
        if file.starts_with("assets/") {
            return match self.assets.get(file) {
                Some(bytes) => asset(file, bytes, IMMUTABLE),
                None => plain(StatusCode::NOT_FOUND, "no such asset\n"),
            };
        }
        if !file.is_empty() && file != "index.html" {
            if let Some(bytes) = self.assets.get(file) {
                return asset(file, bytes, NO_CACHE);
            }
        }
        match self.assets.get("index.html") {
            Some(bytes) => asset("index.html", bytes, NO_CACHE),
            None => not_built(),
        }
    }

    /// An axum router answering every path from this UI (as a fallback: merge it under
    /// the API's routes, or give it as the router's fallback).
    pub fn router(self) -> axum::Router {
        axum::Router::new().fallback(move |req: Request| {
            let ui = self.clone();
            async move { ui.respond(req.method(), req.uri().path()) }
        })
    }
}

/// Whether `path` is the API's (`/api` or under `/api/`): never answered with the page.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// A file with its content type (from its name) and cache rule.
fn asset(name: &str, bytes: Cow<'static, [u8]>, cache: &'static str) -> Response {
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let content_type = match mime.type_() {
        mime_guess::mime::TEXT => format!("{mime}; charset=utf-8"),
        _ if mime.subtype() == mime_guess::mime::JAVASCRIPT
            || mime.subtype() == mime_guess::mime::JSON =>
        {
            format!("{mime}; charset=utf-8")
        }
        _ => mime.to_string(),
    };
    let mut r = Response::new(Body::from(bytes));
    let headers = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The page answered when `ui/dist` was not there at build time.
pub const NOT_BUILT_PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Baton: the web UI is not built</title></head><body>\
<h1>Baton's web UI is not built into this binary</h1>\
<p>Build it, then build Baton again:</p>\
<pre>make ui          # or: cd ui &amp;&amp; npm ci &amp;&amp; npm run build\ncargo build --release --bin baton</pre>\
<p><code>make run</code> does both. The API is at <a href=\"/api/v1/health\">/api/v1</a>, \
its reference at <a href=\"/api/docs/\">/api/docs</a>.</p></body></html>\n";

fn not_built() -> Response {
    let mut r = Response::new(Body::from(NOT_BUILT_PAGE));
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    r
}

/// The security headers of every answer.
fn secure(headers: &mut axum::http::HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

#[cfg(test)]
mod tests;
