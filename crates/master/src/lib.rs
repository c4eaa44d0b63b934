//! Baton's master: takes commands from the store, runs each workflow instance's DAG in memory,
//! queues ready tasks by priority, dispatches them to workers over gRPC, and records every
//! state change in the store before acting on it.
//!
//! The engine is one tokio task that owns all in-memory state and works in ticks: it gathers
//! everything that happened (worker reports, commands, due retries), decides, commits the
//! decisions in one transaction, and only then sends dispatches and kills and acknowledges
//! reports. A task's end therefore makes its successors ready, durable and dispatched in the
//! same tick, and a crash at any point leaves the store consistent with what was done.

mod alerts;
mod attempts;
mod commands;
mod dispatch;
mod dispatching;
mod engine;
mod events;
mod failover;
mod lifecycle;
mod logic;
mod map_reduce;
mod mapping;
mod metrics;
mod pause;
mod recovery;
mod reports;
mod retention;
mod sending;
mod service;
mod specs;
mod steps;
mod trigger;

#[cfg(test)]
mod tests;

use baton_store::Store;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

pub use events::RunEvent;
pub use metrics::MasterMetrics;
pub use retention::{InstanceRetention, DEFAULT_EVENT_RETENTION};
pub use service::{Registrar, ReportService};

/// Where the engine reads the time (µs since the epoch): the system clock, or in tests one that
/// moves only when told, so that retry intervals and timers are tested without waiting.
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(std::sync::Arc::new(baton_store::now_us))
    }

    /// A clock that reads `read`.
    pub fn from_fn(read: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(std::sync::Arc::new(read))
    }

    /// The time now, in µs since the epoch.
    pub fn now_us(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_us())
    }
}

/// How a master identifies itself and where workers reach it.
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// Recorded as the owner of the instances this master runs.
    pub id: String,
    /// host:port of this master's gRPC server, given to workers for their reports.
    pub address: String,
    /// How often to look for commands without being woken (a fallback; wake-ups are immediate).
    pub command_poll: Duration,
    /// Part of a cluster: other masters may adopt this one's instances, attempts on workers
    /// outlive a restart of this master, and the worker list comes from the registry. False
    /// for standalone, where master and worker live and die together.
    pub cluster: bool,
    /// How a worker of a group is chosen.
    pub strategy: Strategy,
    /// A dispatch not acknowledged within this goes to another worker.
    pub dispatch_timeout: Duration,
    /// Events of the lifecycle log older than this are removed.
    pub event_retention: Duration,
    /// Ended instances older than this (by default, or for their project) are removed.
    pub instance_retention: InstanceRetention,
    /// Where the engine reads the time.
    pub clock: Clock,
    /// The cluster secret: workers' calls to this master must prove it, and its calls to
    /// workers do.
    pub cluster_key: baton_proto::auth::ClusterKey,
    /// Mutual TLS of the cluster's gRPC, when configured: the master's calls to workers go
    /// over it (its own server is built by its caller with [`baton_proto::tls::server`]).
    pub cluster_tls: Option<baton_proto::tls::ClusterTls>,
    /// The keys of secrets at rest: a `sql` task's dispatch carries its data source's password,
    /// opened with them. Without it, a data source with a password cannot be used.
    pub keyring: Option<std::sync::Arc<baton_secrets::Keyring>>,
    /// Where the engine records its metrics (served by the caller from
    /// [`MasterMetrics::registry`]).
    pub metrics: MasterMetrics,
}

/// How the dispatcher picks a worker of the task's group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Any worker with a free slot, at random.
    Random,
    /// Each worker in turn.
    RoundRobin,
    /// The least loaded: free slots first, then cpu and load average from heartbeats.
    #[default]
    LowestLoad,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "random" => Ok(Strategy::Random),
            "round_robin" => Ok(Strategy::RoundRobin),
            "lowest_load" => Ok(Strategy::LowestLoad),
            _ => Err(format!(
                "unknown dispatch strategy `{s}` (random, round_robin, lowest_load)"
            )),
        }
    }
}

/// What a master knows of the cluster, from the registry.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Ids (addresses) of the live masters, this one included.
    pub masters: Vec<String>,
    /// The live workers.
    pub workers: Vec<WorkerEndpoint>,
}

impl MasterConfig {
    /// A standalone config with the defaults (commands polled every second, lowest-load
    /// dispatch, 5 s dispatch timeout, events kept 30 days).
    pub fn new(id: impl Into<String>, address: impl Into<String>) -> Self {
        MasterConfig {
            id: id.into(),
            address: address.into(),
            command_poll: Duration::from_secs(1),
            cluster: false,
            strategy: Strategy::default(),
            dispatch_timeout: Duration::from_secs(5),
            event_retention: DEFAULT_EVENT_RETENTION,
            instance_retention: InstanceRetention::default(),
            clock: Clock::system(),
            cluster_key: baton_proto::auth::ClusterKey::fresh(),
            cluster_tls: None,
            keyring: None,
            metrics: MasterMetrics::new(),
        }
    }
}

/// The master's gRPC service, behind the check of membership.
pub type MasterGrpc = tonic::service::interceptor::InterceptedService<
    baton_proto::master_server::MasterServer<ReportService>,
    baton_proto::auth::Check,
>;

/// A worker the master may dispatch to.
#[derive(Debug, Clone)]
pub struct WorkerEndpoint {
    /// The worker's id (as it reports itself).
    pub id: String,
    /// host:port of its gRPC server.
    pub address: String,
    /// Its worker group.
    pub group: String,
    /// How many attempts it runs at once.
    pub slots: usize,
    /// Its last reported load: cpu (0..1) and one-minute load average.
    pub cpu: f32,
    /// One-minute load average of its host.
    pub load1: f32,
    /// Its registry session: a new one means the worker restarted or was cut off, and lost
    /// what it ran before.
    pub session: String,
}

/// A master failure.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] baton_store::StoreError),
    /// The engine has stopped.
    #[error("the master engine is not running")]
    Stopped,
}

pub(crate) enum Msg {
    /// Commands may be waiting in the store.
    Wake,
    /// Worker events, acknowledged once durable; the answer redirects the events of instances
    /// this master does not own.
    Report(
        Vec<baton_proto::TaskEvent>,
        oneshot::Sender<Vec<baton_proto::Redirect>>,
    ),
    /// The registry's current view of the cluster.
    View(ClusterView),
    /// This master's own registry session: alive, or lost (others consider it dead).
    Session(bool),
    /// A dispatch did not reach its worker (or was refused).
    DispatchFailed {
        task: baton_core::TaskInstanceId,
        attempt: i64,
        worker: String,
        failure: baton_core::attempt::DispatchFailure,
    },
    /// What a worker said of attempts this master believed were on it.
    Probed {
        worker: String,
        answers: Vec<(baton_core::TaskInstanceId, i64, baton_proto::AttemptStatus)>,
    },
    /// Stop dispatching, let running attempts end (up to the deadline), then stop.
    Shutdown {
        grace: Duration,
        done: oneshot::Sender<()>,
    },
}

/// A running master. Dropping it does not stop the engine; call [`Master::shutdown`].
#[derive(Clone)]
pub struct Master {
    tx: mpsc::UnboundedSender<Msg>,
    events: broadcast::Sender<RunEvent>,
    /// Checks the proof of membership of the calls its gRPC service takes.
    check: baton_proto::auth::Check,
}

/// Tells the engine that commands are waiting (cheap to clone, never blocks).
#[derive(Clone)]
pub struct Waker(mpsc::UnboundedSender<Msg>);

impl Waker {
    /// Wakes the engine.
    pub fn wake(&self) {
        let _ = self.0.send(Msg::Wake);
    }
}

impl Master {
    /// Resumes the instances this master owns in the store, then starts the engine.
    pub async fn start(
        store: Store,
        config: MasterConfig,
        workers: Vec<WorkerEndpoint>,
    ) -> Result<Master, MasterError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1 << 16);
        retention::spawn(
            store.clone(),
            config.event_retention,
            config.instance_retention.clone(),
        );
        let check = baton_proto::auth::Check::new(config.cluster_key.clone());
        let store: std::sync::Arc<dyn baton_store::EngineStore> = std::sync::Arc::new(store);
        let mut engine = engine::Engine::new(store, config, workers, events.clone(), tx.clone());
        engine.recover().await?;
        tokio::spawn(engine.run(rx));
        Ok(Master { tx, events, check })
    }

    /// Tells the engine what the registry sees (cluster mode).
    pub fn set_view(&self, view: ClusterView) {
        let _ = self.tx.send(Msg::View(view));
    }

    /// Tells the engine whether its registry session is alive. While it is lost, the master
    /// owns nothing: other masters are adopting its instances.
    pub fn set_session(&self, alive: bool) {
        let _ = self.tx.send(Msg::Session(alive));
    }

    /// A handle to wake the engine when commands are written.
    pub fn waker(&self) -> Waker {
        Waker(self.tx.clone())
    }

    /// Live events of every instance (task started and ended, instance finished).
    pub fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.events.subscribe()
    }

    /// The gRPC service workers report to; it refuses every call that does not prove
    /// membership of the cluster (see [`baton_proto::auth`]).
    pub fn service(&self, registrar: Option<Registrar>) -> MasterGrpc {
        let server = baton_proto::master_server::MasterServer::new(ReportService::new(
            self.tx.clone(),
            registrar,
        ))
        .max_decoding_message_size(baton_proto::sizes::MAX_REPORT_BYTES)
        .max_encoding_message_size(baton_proto::sizes::MAX_REPLY_BYTES);
        tonic::service::interceptor::InterceptedService::new(server, self.check.clone())
    }

    /// Stops dispatching, waits up to `grace` for running attempts to report, then stops the
    /// engine. Whatever still runs is resumed (as a new attempt) by the next start.
    pub async fn shutdown(&self, grace: Duration) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Shutdown { grace, done }).is_ok() {
            let _ = wait.await;
        }
    }
}
