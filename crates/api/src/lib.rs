//! Baton's REST API (`/api/v1/…`, JSON): apply and read workflow definitions, start, list,
//! inspect and stop instances, read task logs from the workers that wrote them, and page or
//! follow the lifecycle event log. The CLI's client commands are built on it.
//!
//! The request and response types live in `baton-api-model`; the OpenAPI 3.1 document is
//! generated from them and the handlers' annotations (`GET /api/v1/openapi.json`), and
//! `/api/docs` serves an interactive reference to it.

mod access;
mod bootstrap;
mod convert;
mod error;
mod handlers;
mod logs;
mod metrics;
mod paging;
mod router;
pub mod serve;
mod throttle;
mod wake;

use baton_store::Store;
use std::sync::Arc;

pub use access::{Access, RouteAccess, Scope};
pub use bootstrap::{ensure_admin, FirstAdmin, ADMIN_USER};
pub use error::ApiError;
pub use handlers::datasources::{reseal, Resealed};
pub use router::{openapi, route_table};
pub use throttle::{LOGIN_ATTEMPTS_PER_ADDRESS, LOGIN_ATTEMPTS_PER_USER};
pub use wake::EventWaker;

pub use baton_api_model::MAX_BODY_BYTES;

/// Called after a command is written, so that a master in this process takes it at once.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// Where `GET /cluster` finds the members.
#[derive(Clone)]
pub enum Members {
    /// A cluster's registry.
    Registry(Arc<dyn baton_registry::Registry>),
    /// A fixed list (standalone: the one process), whose load is sampled at each request.
    Fixed(Vec<baton_registry::Registration>),
}

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    store: Store,
    notify: Notify,
    logs: logs::LogReader,
    members: Members,
    events: EventWaker,
    /// Host names (and `host:port`s) the API answers to besides loopback ones.
    public_hosts: Arc<Vec<String>>,
    /// The rate limits of login attempts.
    login_limits: Arc<throttle::LoginLimits>,
    /// Whether the session cookie is marked `Secure` (the listener speaks https).
    secure_cookies: bool,
    /// What `GET /metrics` answers.
    metrics: Arc<metrics::Metrics>,
    /// The metrics of the roles in this process besides the API's (a standalone's master
    /// and worker), answered by the same `GET /metrics`.
    more_metrics: Arc<Vec<prometheus::Registry>>,
    /// Set once the event log's counter runs (at the first scrape).
    counting_events: Arc<std::sync::Once>,
    /// The keys that seal and open data source passwords; without them none can be kept.
    keyring: Option<Arc<baton_secrets::Keyring>>,
    /// Sends the test messages of alert channels (under the server's send policy).
    alert_sender: baton_alerts::Sender,
}

impl ApiState {
    /// An API over `store`; `notify` wakes the masters after a command is written;
    /// `members` answers `GET /cluster`.
    pub fn new(store: Store, notify: Notify, members: Members) -> ApiState {
        ApiState {
            store,
            notify,
            logs: logs::LogReader::new(baton_proto::auth::ClusterKey::fresh()),
            members,
            events: EventWaker::default(),
            public_hosts: Arc::new(Vec::new()),
            login_limits: Arc::default(),
            secure_cookies: false,
            metrics: Arc::new(metrics::Metrics::new()),
            more_metrics: Arc::default(),
            counting_events: Arc::new(std::sync::Once::new()),
            keyring: None,
            alert_sender: baton_alerts::Sender::new(baton_alerts::SendPolicy::default(), None),
        }
    }

    /// Sends alert channels' test messages with `sender` (the server's `--alert-allow-host`
    /// and `--alert-script-dir`).
    pub fn with_alert_sender(mut self, sender: baton_alerts::Sender) -> ApiState {
        self.alert_sender = sender;
        self
    }

    /// Adds the metrics of other roles of this process (a standalone's master and worker) to
    /// `GET /metrics`: one scrape shows all. Their series names differ from the API's.
    pub fn with_metrics_of(mut self, registries: Vec<prometheus::Registry>) -> ApiState {
        self.more_metrics = Arc::new(registries);
        self
    }

    /// Starts counting lifecycle events for the metrics, once (on the first scrape, so that
    /// a server nobody scrapes reads nothing for them).
    fn start_counting_events(&self) {
        self.counting_events.call_once(|| {
            metrics::count_events(
                self.metrics.clone(),
                self.store.clone(),
                self.events.clone(),
            )
        });
    }

    /// The keys data source passwords are sealed with (the current one) and opened with (any):
    /// without them, a data source with a password is refused.
    pub fn with_keyring(mut self, keyring: baton_secrets::Keyring) -> ApiState {
        self.keyring = Some(Arc::new(keyring));
        self
    }

    /// Marks the session cookie `Secure`, so that a browser sends it only over https: for
    /// a listener that speaks TLS.
    pub fn with_secure_cookies(mut self, secure: bool) -> ApiState {
        self.secure_cookies = secure;
        self
    }

    /// The names the API may be reached by besides `localhost`, `127.0.0.1` and `[::1]`
    /// (`--public-host`): a request whose `Host` or `Origin` names another is refused, which
    /// closes DNS rebinding and cross-site requests from web pages.
    pub fn with_public_hosts(mut self, hosts: Vec<String>) -> ApiState {
        self.public_hosts = Arc::new(hosts);
        self
    }

    /// The same API, reading logs from workers with the cluster's secret (without it, the
    /// workers refuse its calls).
    pub fn with_cluster_key(mut self, key: baton_proto::auth::ClusterKey) -> ApiState {
        self.logs.key = key;
        self
    }

    /// The same API, reading the logs of ended attempts from `archive` when the worker that
    /// ran them cannot be reached or no longer has them.
    pub fn with_log_archive(mut self, archive: Option<baton_logstore::LogArchive>) -> ApiState {
        self.logs.archive = archive;
        self
    }

    /// The same API, reading logs from workers over the cluster's mutual TLS.
    pub fn with_cluster_tls(mut self, tls: Option<baton_proto::tls::ClusterTls>) -> ApiState {
        self.logs.tls = tls;
        self
    }

    /// The handle that tells the event streams new events may have been recorded (in
    /// standalone, the master in this process calls it after each tick that recorded some).
    pub fn event_waker(&self) -> EventWaker {
        self.events.clone()
    }

    /// Wakes the event streams on PostgreSQL's `NOTIFY baton_events`, sent by the masters in
    /// each transaction that records events (a cluster's `api` process). Runs in the
    /// background; the streams' slow poll covers what a broken connection misses.
    pub fn listen_events(&self, database_url: &str) {
        let waker = self.events.clone();
        self.store.on_events(database_url, move || waker.wake());
    }

    /// Starts the API server's housekeeping, every [`TIDY_EVERY`]: ended login sessions and
    /// long-dead API tokens are deleted, the login rate limits forget idle callers.
    pub fn keep_tidy(&self) {
        let state = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TIDY_EVERY);
            loop {
                every.tick().await;
                state.tidy().await;
            }
        });
    }

    async fn tidy(&self) {
        self.login_limits.forget_idle();
        match self
            .store
            .purge_credentials(baton_store::now_us(), KEEP_DEAD_TOKENS_US)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} ended sessions and old tokens"),
            Err(e) => tracing::warn!("cannot remove ended sessions: {e}"),
        }
    }
}

/// How often an event stream checks its credential again: a revoked token, an ended
/// session or a disabled user ends the stream, and changed roles change what it shows,
/// within this.
pub const EVENT_STREAM_RECHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// How often [`ApiState::keep_tidy`] tidies.
pub const TIDY_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
/// How long an expired or revoked API token stays listed before it is deleted (30 days).
pub const KEEP_DEAD_TOKENS_US: i64 = 30 * 24 * 3600 * 1_000_000;

/// The axum router serving `/api/v1`, `/api/v1/openapi.json` and `/api/docs`, and the web
/// UI (`baton-web`: public static files) at every other path.
pub fn router(state: ApiState) -> axum::Router {
    compressed(with_ui(router::router(state), baton_web::Ui::embedded()))
}

/// Answers compressed with gzip or brotli when the client takes them: JSON and the web UI's
/// files. tower-http's default predicate leaves out what must not be: the event stream
/// (`text/event-stream`, which would otherwise wait in the encoder's buffer), images, and
/// bodies under 32 bytes. Headers set by the routes (CSP, caching) pass through.
fn compressed(app: axum::Router) -> axum::Router {
    app.layer(tower_http::compression::CompressionLayer::new())
}

/// `api` with `ui` answering what none of its routes does: a path under `/api` is still
/// the API's JSON 404, never the UI's page; any other path is the UI's (its files, or its
/// page for the app's own URLs).
fn with_ui(api: axum::Router, ui: baton_web::Ui) -> axum::Router {
    api.fallback(move |request: axum::extract::Request| async move {
        let path = request.uri().path();
        if baton_web::is_api_path(path) {
            axum::response::IntoResponse::into_response(router::not_found().await)
        } else {
            ui.respond(request.method(), path)
        }
    })
}
