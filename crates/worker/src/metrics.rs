//! The worker's Prometheus metrics: what only the worker sees (its running attempts and slots,
//! the reports its outbox has not delivered yet, its attempts' outcomes by task type, the log
//! bytes its attempts wrote, and whether it holds its registry session). The gauges of its
//! state are read from the worker at each scrape; the counters are counted where things
//! happen. The registry is served by the caller (`--metrics-listen`, or the API's
//! `GET /metrics` in a standalone).

use baton_proto::{dispatch_request, Outcome};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use std::sync::Weak;

/// The worker's metrics, in a registry of their own. Cheap to clone (every clone records
/// into the same series).
#[derive(Clone)]
pub struct WorkerMetrics {
    registry: Registry,
    attempts: IntCounterVec,
    log_bytes: IntCounter,
    session: IntGauge,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerMetrics")
    }
}

impl WorkerMetrics {
    /// Fresh series in a new registry; the gauges of the worker's state come with
    /// [`WorkerMetrics::watch`].
    pub(crate) fn new() -> WorkerMetrics {
        let attempts = IntCounterVec::new(
            Opts::new(
                "baton_worker_attempts_total",
                "Attempts this worker ran to their end, by task type and outcome",
            ),
            &["type", "outcome"],
        )
        .expect("a valid metric");
        let log_bytes = IntCounter::new(
            "baton_worker_log_bytes_total",
            "Bytes of task output this worker wrote to attempt logs",
        )
        .expect("a valid metric");
        let session = IntGauge::new(
            "baton_worker_registry_session",
            "1 while this worker holds its registry session (its heartbeats are answered), else 0",
        )
        .expect("a valid metric");
        let registry = Registry::new();
        for c in [
            Box::new(attempts.clone()) as Box<dyn Collector>,
            Box::new(log_bytes.clone()),
            Box::new(session.clone()),
        ] {
            registry
                .register(c)
                .expect("each metric is registered once");
        }
        WorkerMetrics {
            registry,
            attempts,
            log_bytes,
            session,
        }
    }

    /// Adds the gauges read from the worker at each scrape (held weakly: the worker owns its
    /// metrics).
    pub(crate) fn watch(&self, inner: Weak<crate::worker::Inner>) {
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("a valid metric");
        let live = Live {
            inner,
            running: gauge(
                "baton_worker_attempts_running",
                "Attempts running on this worker now",
            ),
            slots: gauge(
                "baton_worker_attempt_slots",
                "Attempts this worker runs at once at most",
            ),
            outbox: gauge(
                "baton_worker_outbox_depth",
                "Reports (task events) in this worker's outbox not yet acknowledged by a master",
            ),
            archive: gauge(
                "baton_worker_log_archive_waiting",
                "Ended attempts' logs on this worker not yet in the log archive",
            ),
        };
        self.registry
            .register(Box::new(live))
            .expect("registered once");
    }

    /// The registry to serve (or gather with others).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Says whether the worker holds its registry session (set by whoever keeps it).
    pub fn set_session(&self, held: bool) {
        self.session.set(i64::from(held));
    }

    /// Whether the worker last said it holds its registry session.
    pub fn session_held(&self) -> bool {
        self.session.get() == 1
    }

    /// Counts an attempt's end.
    pub(crate) fn attempt_ended(&self, kind: &str, outcome: Outcome) {
        self.attempts
            .with_label_values(&[kind, outcome_label(outcome)])
            .inc();
    }

    /// The counter of log bytes, for the attempts' logs.
    pub(crate) fn log_bytes(&self) -> IntCounter {
        self.log_bytes.clone()
    }
}

/// The `outcome` label of an attempt's end.
fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::TimedOut => "timed_out",
        Outcome::Killed => "killed",
        Outcome::Unspecified => "unspecified",
    }
}

/// The `type` label of a dispatch: the task type's name as a workflow file writes it.
pub(crate) fn kind_label(kind: &dispatch_request::Kind) -> &'static str {
    match kind {
        dispatch_request::Kind::Shell(_) => "shell",
        dispatch_request::Kind::Python(_) => "python",
        dispatch_request::Kind::Noop(_) => "noop",
        dispatch_request::Kind::Http(_) => "http",
        dispatch_request::Kind::Sql(_) => "sql",
        dispatch_request::Kind::Service(_) => "service",
    }
}

/// The gauges of the worker's state, set from it as they are collected.
struct Live {
    inner: Weak<crate::worker::Inner>,
    running: IntGauge,
    slots: IntGauge,
    outbox: IntGauge,
    archive: IntGauge,
}

impl Live {
    fn gauges(&self) -> [&IntGauge; 4] {
        [&self.running, &self.slots, &self.outbox, &self.archive]
    }
}

impl Collector for Live {
    fn desc(&self) -> Vec<&Desc> {
        self.gauges().into_iter().flat_map(|g| g.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        if let Some(inner) = self.inner.upgrade() {
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            self.running.set(count(inner.running_now()));
            self.slots.set(count(inner.config.slots));
            self.outbox.set(count(inner.reporter.pending()));
            let waiting = inner.archiver.as_ref().map_or(0, |a| a.waiting());
            self.archive.set(i64::try_from(waiting).unwrap_or(i64::MAX));
        }
        self.gauges()
            .into_iter()
            .flat_map(|g| g.collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_and_kind_has_its_own_label() {
        let outcomes = [
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::TimedOut,
            Outcome::Killed,
            Outcome::Unspecified,
        ];
        let labels: std::collections::HashSet<_> =
            outcomes.iter().map(|o| outcome_label(*o)).collect();
        assert_eq!(labels.len(), outcomes.len());
        assert_eq!(
            kind_label(&dispatch_request::Kind::Noop(baton_proto::NoopTask {})),
            "noop"
        );
    }

    #[test]
    fn counted_ends_show_in_the_exposition_by_type_and_outcome() {
        let m = WorkerMetrics::new();
        m.attempt_ended("shell", Outcome::Failed);
        m.attempt_ended("shell", Outcome::Failed);
        m.log_bytes().inc_by(12);
        m.set_session(true);
        let mut text = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&m.registry().gather(), &mut text)
            .unwrap();
        assert!(
            text.contains(r#"baton_worker_attempts_total{outcome="failed",type="shell"} 2"#),
            "{text}"
        );
        assert!(text.contains("baton_worker_log_bytes_total 12"), "{text}");
        assert!(text.contains("baton_worker_registry_session 1"), "{text}");
        assert!(m.session_held());
    }
}
