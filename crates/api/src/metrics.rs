//! Prometheus metrics of the API process (`GET /api/v1/metrics`, text exposition format):
//! every lifecycle event counted by kind (read from the event log, like every other reader of
//! it, from this process's start on), the API's own requests by route, and the cluster's
//! members, slots and running tasks as their heartbeats say, read at each scrape.

use baton_core::event::EventKind;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How long the event counter waits for a wake-up before it reads the log anyway.
const FALLBACK_POLL: Duration = Duration::from_secs(2);
/// Events counted per read of the log.
const BATCH: i64 = 1000;

/// The API process's metrics, shared by its handlers.
pub(crate) struct Metrics {
    registry: Registry,
    events: IntCounterVec,
    requests: HistogramVec,
    members: IntGaugeVec,
    slots: IntGaugeVec,
    running: IntGaugeVec,
    /// The last event id counted; 0 until the first read of the log has found where it ends.
    counted: AtomicI64,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let registry = Registry::new();
        let events = IntCounterVec::new(
            Opts::new(
                "baton_lifecycle_events_total",
                "Lifecycle events recorded since this process started, by kind (instance and task outcomes, dispatches, retries, failovers, adoptions, schedule fires and misfires)",
            ),
            &["kind"],
        )
        .expect("a valid metric");
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "baton_http_request_duration_seconds",
                "Time to answer an API request, by route, method and status class",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["route", "method", "status"],
        )
        .expect("a valid metric");
        let members = gauge(
            "baton_cluster_members",
            "Live members of the cluster, by role",
            &["role"],
        );
        let slots = gauge(
            "baton_worker_slots",
            "Task slots of each live worker, as its last heartbeat said",
            &["worker", "group"],
        );
        let running = gauge(
            "baton_worker_running_tasks",
            "Attempts running on each live worker, as its last heartbeat said",
            &["worker", "group"],
        );
        for c in [
            Box::new(events.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(requests.clone()),
            Box::new(members.clone()),
            Box::new(slots.clone()),
            Box::new(running.clone()),
        ] {
            registry
                .register(c)
                .expect("each metric is registered once");
        }
        // Every kind is shown from the start (at 0), so a rate is defined before it happens.
        for kind in EventKind::ALL {
            events.with_label_values(&[kind.as_str()]);
        }
        Metrics {
            registry,
            events,
            requests,
            members,
            slots,
            running,
            counted: AtomicI64::new(0),
        }
    }

    /// Records one answered request.
    pub(crate) fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .with_label_values(&[route, method, class])
            .observe(took.as_secs_f64());
    }

    /// The members' gauges, set from what the registry knows now.
    pub(crate) fn set_members(&self, members: &[baton_registry::Registration]) {
        self.members.reset();
        self.slots.reset();
        self.running.reset();
        for role in [
            baton_registry::Role::Master,
            baton_registry::Role::Worker,
            baton_registry::Role::Api,
        ] {
            self.members.with_label_values(&[role.as_str()]).set(0);
        }
        for r in members {
            let m = &r.member;
            self.members.with_label_values(&[m.role.as_str()]).inc();
            if m.role == baton_registry::Role::Worker {
                let group = m.group.as_deref().unwrap_or_default();
                let labels = [m.id.as_str(), group];
                self.slots
                    .with_label_values(&labels)
                    .set(i64::from(m.load.slots));
                self.running
                    .with_label_values(&labels)
                    .set(i64::from(m.load.running));
            }
        }
    }

    /// Everything, with the families of `more` (other roles of this process), in
    /// Prometheus's text format.
    pub(crate) fn render(&self, more: &[Registry]) -> String {
        let mut families = self.registry.gather();
        families.extend(more.iter().flat_map(Registry::gather));
        let mut out = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&families, &mut out)
            .expect("metrics encode as text");
        out
    }

    /// Counts the events recorded since the last call (the first call only finds where the
    /// log ends: counts start at this process's start).
    async fn count_new_events(
        &self,
        store: &baton_store::Store,
    ) -> Result<(), baton_store::StoreError> {
        let mut after = self.counted.load(Ordering::Relaxed);
        if after == 0 {
            let newest = store
                .list_events(&baton_store::EventFilter {
                    limit: Some(1),
                    ..Default::default()
                })
                .await?;
            after = newest.first().map_or(-1, |e| e.id);
            self.counted.store(after, Ordering::Relaxed);
            return Ok(());
        }
        loop {
            let batch = store
                .list_events(&baton_store::EventFilter {
                    after: Some(after.max(0)),
                    limit: Some(BATCH),
                    ..Default::default()
                })
                .await?;
            for e in &batch {
                self.events
                    .with_label_values(&[e.event.kind.as_str()])
                    .inc();
                after = e.id;
            }
            self.counted.store(after, Ordering::Relaxed);
            if i64::try_from(batch.len()).unwrap_or(i64::MAX) < BATCH {
                return Ok(());
            }
        }
    }
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric")
}

/// Follows the event log for the counters, woken by `waker` (and every [`FALLBACK_POLL`]).
pub(crate) fn count_events(
    metrics: std::sync::Arc<Metrics>,
    store: baton_store::Store,
    waker: crate::EventWaker,
) {
    tokio::spawn(async move {
        let mut wakes = waker.subscribe();
        loop {
            if let Err(e) = metrics.count_new_events(&store).await {
                tracing::warn!("metrics: cannot read the event log: {e}");
            }
            let _ = tokio::time::timeout(FALLBACK_POLL, wakes.changed()).await;
        }
    });
}

/// The middleware that times every routed request by its route's pattern (not its path, so
/// that ids do not make a series each), up to its answer's head (a stream's body goes on).
pub(crate) async fn time_request(
    axum::extract::State(state): axum::extract::State<crate::ApiState>,
    route: axum::extract::MatchedPath,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().as_str().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.request(
        route.as_str(),
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
