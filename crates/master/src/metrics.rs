//! The master's Prometheus metrics: what only the engine sees (how long attempts wait in the
//! queue and run, how late schedules fire, the queue and the slots as this master sees them,
//! its registry session, what it dispatched, what was refused, retried, failed over, adopted).
//!
//! The engine notes what a tick decided in [`Tick::observed`](crate::engine::Tick) and this
//! records it once the tick's transaction is committed (a refused tick did not happen); the
//! gauges are set after every tick. Every hook is O(1) but the gauges' pass over the groups and
//! workers, once a tick. The registry is served by the caller (`--metrics-listen`, or the API's
//! `GET /metrics` in a standalone).

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

/// Seconds an attempt waits from ready to running: from milliseconds to a backlog of minutes.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Seconds an attempt runs: from a noop to hours.
const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0,
];
/// Seconds between a schedule's fire time and its instance: a tick, or a long outage.
const LATENESS_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];

/// What a tick decided that a metric counts, recorded after its commit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Observation {
    /// An attempt of a task of worker group `group` started, `seconds` after it was queued.
    DispatchLatency { group: String, seconds: f64 },
    /// An attempt of a task of type `kind` ended as `outcome` after running `seconds`.
    TaskDuration {
        kind: &'static str,
        outcome: &'static str,
        seconds: f64,
    },
    /// A schedule's instance was created `seconds` after its fire time.
    Lateness(f64),
    /// An attempt was dispatched to a worker.
    Dispatch,
    /// A worker refused a dispatch, or could not be reached with it.
    Refusal(RefusalReason),
    /// A failed attempt waits for its retry.
    Retry,
}

/// Why a dispatch did not take, as a metric's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefusalReason {
    /// The worker had no free slot or was stopping.
    Busy,
    /// The dispatch came too late or was written off.
    Stale,
    /// The worker cannot run the task at all.
    Unrunnable,
    /// The worker did not answer.
    Unreachable,
}

impl RefusalReason {
    /// The reason for a failure the attempt rules were handed.
    pub(crate) fn of(failure: &baton_core::attempt::DispatchFailure) -> RefusalReason {
        use baton_core::attempt::{DispatchFailure, Refusal};
        match failure {
            DispatchFailure::Refused { refusal, .. } => match refusal {
                Refusal::Busy => RefusalReason::Busy,
                Refusal::Stale => RefusalReason::Stale,
                Refusal::Unrunnable => RefusalReason::Unrunnable,
            },
            DispatchFailure::Unreachable(_) => RefusalReason::Unreachable,
        }
    }

    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Busy => "busy",
            RefusalReason::Stale => "stale",
            RefusalReason::Unrunnable => "unrunnable",
            RefusalReason::Unreachable => "unreachable",
        }
    }

    const ALL: [RefusalReason; 4] = [
        RefusalReason::Busy,
        RefusalReason::Stale,
        RefusalReason::Unrunnable,
        RefusalReason::Unreachable,
    ];
}

/// The engine's state the gauges show, read once a tick.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Gauges {
    pub instances: usize,
    pub attempts: usize,
    /// Queued attempts per worker group.
    pub ready: BTreeMap<String, usize>,
    /// Free slots per worker group, as this master counts them.
    pub free: BTreeMap<String, usize>,
}

/// The master's metrics, in a registry of their own. Cheap to clone (every clone records into
/// the same series); handed to the engine in [`MasterConfig`](crate::MasterConfig).
#[derive(Clone)]
pub struct MasterMetrics {
    registry: Registry,
    dispatch_latency: HistogramVec,
    task_duration: HistogramVec,
    lateness: Histogram,
    instances: IntGauge,
    attempts: IntGauge,
    ready: IntGaugeVec,
    free_slots: IntGaugeVec,
    session: IntGauge,
    dispatches: IntCounter,
    refusals: IntCounterVec,
    retries: IntCounter,
    failovers: IntCounter,
    adoptions: IntCounter,
    /// Groups the per-group gauges have shown: one gone since shows 0, not its last value.
    groups: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for MasterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterMetrics")
    }
}

impl Default for MasterMetrics {
    fn default() -> Self {
        MasterMetrics::new()
    }
}

fn histogram(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    HistogramVec::new(opts, labels).expect("a valid metric")
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("a valid metric")
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("a valid metric")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric")
}

impl MasterMetrics {
    /// Fresh series (all at zero) in a new registry.
    pub fn new() -> MasterMetrics {
        let m = MasterMetrics {
            registry: Registry::new(),
            dispatch_latency: histogram(
                "baton_task_dispatch_latency_seconds",
                "Time from an attempt's queueing (ready) to its start on a worker, by worker group",
                LATENCY_BUCKETS,
                &["worker_group"],
            ),
            task_duration: histogram(
                "baton_task_duration_seconds",
                "Time from an attempt's start to its end, by task type and outcome",
                DURATION_BUCKETS,
                &["type", "outcome"],
            ),
            lateness: Histogram::with_opts(
                HistogramOpts::new(
                    "baton_schedule_lateness_seconds",
                    "Time from a schedule's fire time to the creation of its instance",
                )
                .buckets(LATENESS_BUCKETS.to_vec()),
            )
            .expect("a valid metric"),
            instances: gauge(
                "baton_master_instances_running",
                "Workflow instances this master owns and runs",
            ),
            attempts: gauge(
                "baton_master_attempts_running",
                "Attempts this master has dispatched to workers and not seen end",
            ),
            ready: gauge_vec(
                "baton_master_ready_queue_depth",
                "Attempts waiting in this master's queue for a worker, by worker group",
                &["worker_group"],
            ),
            free_slots: gauge_vec(
                "baton_master_free_slots",
                "Free worker slots as this master counts them, by worker group",
                &["worker_group"],
            ),
            session: gauge(
                "baton_master_registry_session",
                "1 while this master holds its registry session, else 0",
            ),
            dispatches: counter(
                "baton_master_dispatches_total",
                "Attempts dispatched to workers",
            ),
            refusals: IntCounterVec::new(
                Opts::new(
                    "baton_master_dispatch_refusals_total",
                    "Dispatches that did not take, by reason (busy, stale, unrunnable, unreachable)",
                ),
                &["reason"],
            )
            .expect("a valid metric"),
            retries: counter(
                "baton_master_retries_total",
                "Failed attempts that wait for a retry",
            ),
            failovers: counter(
                "baton_master_failovers_total",
                "Attempts written off with their lost worker",
            ),
            adoptions: counter(
                "baton_master_adoptions_total",
                "Workflow instances adopted from masters that left",
            ),
            groups: Arc::default(),
        };
        m.register_all();
        for reason in RefusalReason::ALL {
            m.refusals.with_label_values(&[reason.as_str()]);
        }
        m
    }

    fn register_all(&self) {
        let all: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.dispatch_latency.clone()),
            Box::new(self.task_duration.clone()),
            Box::new(self.lateness.clone()),
            Box::new(self.instances.clone()),
            Box::new(self.attempts.clone()),
            Box::new(self.ready.clone()),
            Box::new(self.free_slots.clone()),
            Box::new(self.session.clone()),
            Box::new(self.dispatches.clone()),
            Box::new(self.refusals.clone()),
            Box::new(self.retries.clone()),
            Box::new(self.failovers.clone()),
            Box::new(self.adoptions.clone()),
        ];
        for c in all {
            self.registry
                .register(c)
                .expect("each metric is registered once");
        }
    }

    /// The registry to serve (or gather with others).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether the engine last said it holds its registry session (always, standalone).
    pub fn session_held(&self) -> bool {
        self.session.get() == 1
    }

    /// Records what a committed tick decided.
    pub(crate) fn observe(&self, observed: &[Observation], adopted: usize, failovers: usize) {
        for o in observed {
            match o {
                Observation::DispatchLatency { group, seconds } => self
                    .dispatch_latency
                    .with_label_values(&[group])
                    .observe(*seconds),
                Observation::TaskDuration {
                    kind,
                    outcome,
                    seconds,
                } => self
                    .task_duration
                    .with_label_values(&[kind, outcome])
                    .observe(*seconds),
                Observation::Lateness(seconds) => self.lateness.observe(*seconds),
                Observation::Dispatch => self.dispatches.inc(),
                Observation::Refusal(reason) => {
                    self.refusals.with_label_values(&[reason.as_str()]).inc()
                }
                Observation::Retry => self.retries.inc(),
            }
        }
        self.adoptions.inc_by(adopted as u64);
        self.failovers.inc_by(failovers as u64);
    }

    /// Says whether this master holds its registry session: the engine does as it hears of
    /// it, and the holder of the session (the cli) on every change, also when
    /// `registry_disconnect = "wait"` keeps the engine from being told of a loss.
    pub fn set_session(&self, held: bool) {
        self.session.set(i64::from(held));
    }

    /// Sets the gauges to what the engine holds now.
    pub(crate) fn set_gauges(&self, g: &Gauges) {
        self.instances.set(count(g.instances));
        self.attempts.set(count(g.attempts));
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups.extend(g.ready.keys().chain(g.free.keys()).cloned());
        for group in groups.iter() {
            let of = |m: &BTreeMap<String, usize>| count(m.get(group).copied().unwrap_or(0));
            self.ready.with_label_values(&[group]).set(of(&g.ready));
            self.free_slots.with_label_values(&[group]).set(of(&g.free));
        }
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Seconds from `from_us` to `to_us`, 0 when the clocks put them the other way round.
pub(crate) fn seconds_between(from_us: i64, to_us: i64) -> f64 {
    to_us.saturating_sub(from_us).max(0) as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::attempt::{DispatchFailure, Refusal};

    #[test]
    fn seconds_are_never_negative() {
        assert_eq!(seconds_between(1_000_000, 3_500_000), 2.5);
        assert_eq!(
            seconds_between(3_000_000, 1_000_000),
            0.0,
            "clocks that disagree"
        );
    }

    #[test]
    fn each_dispatch_failure_has_its_reason_and_every_reason_is_shown_from_zero() {
        let refused = |refusal| DispatchFailure::Refused {
            refusal,
            reason: String::new(),
        };
        assert_eq!(
            RefusalReason::of(&refused(Refusal::Busy)),
            RefusalReason::Busy
        );
        assert_eq!(
            RefusalReason::of(&refused(Refusal::Stale)),
            RefusalReason::Stale
        );
        assert_eq!(
            RefusalReason::of(&refused(Refusal::Unrunnable)),
            RefusalReason::Unrunnable
        );
        assert_eq!(
            RefusalReason::of(&DispatchFailure::Unreachable("down".into())),
            RefusalReason::Unreachable
        );
        let m = MasterMetrics::new();
        let mut text = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&m.registry().gather(), &mut text)
            .unwrap();
        for reason in ["busy", "stale", "unrunnable", "unreachable"] {
            let line = format!("baton_master_dispatch_refusals_total{{reason=\"{reason}\"}} 0");
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
