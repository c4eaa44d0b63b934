//! Baton's worker: runs the task attempts masters dispatch to it, each in its own process
//! group with its own log and work directory, and reports what happens back to the master that
//! owns the attempt, retrying until the master acknowledges.
//!
//! Events go through an outbox on local disk (`data_dir/outbox/`), so that a restart loses
//! none, to the master that owns their workflow instance, following the masters' redirects.
//!
//! The CLI builds a [`WorkerConfig`], a [`Worker`] (with [`Worker::open`]), and mounts
//! [`Worker::service`] on a tonic server (or calls [`serve`]); standalone mode does the same
//! inside one process. In a cluster it also passes on what heartbeats say:
//! [`Worker::set_masters`] and [`Worker::session_lost`].

mod archiver;
mod attempt;
mod config;
mod error;
mod executors;
mod logfile;
mod metrics;
mod orphans;
mod outbox;
mod outputs;
mod process;
mod reporter;
mod routes;
mod service;
mod supervisor;
pub mod watchdog;
mod workdir;
mod worker;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use std::future::Future;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;

pub use archiver::ArchiveBackoff;
pub use config::{
    WorkerConfig, DEFAULT_KILL_GRACE, DEFAULT_LOG_MAX_BYTES, DEFAULT_REPORT_TIMEOUT,
    DEFAULT_REROUTE_AFTER, TASK_ENV_ALLOWLIST,
};
pub use error::{DispatchError, OpenError};
pub use executors::http::{HttpClient, HttpPolicy};
pub use metrics::WorkerMetrics;
pub use orphans::reap_orphans;
pub use service::WorkerService;
pub use worker::{Worker, WorkerGrpc};

/// Creates `path` and its missing parents with mode 0700 (this user only): a worker's data
/// directory, logs and outbox hold what tasks printed and what they reported.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Serves `worker` on an already bound listener until `shutdown` completes, so callers can bind
/// port 0 and learn the address before serving. Only the gRPC server stops; call
/// [`Worker::shutdown`] to stop the attempts. Over TLS when the worker's config has the
/// cluster's.
pub async fn serve(
    worker: Worker,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), baton_proto::tls::TlsError> {
    // Small messages both ways: Nagle's algorithm would only add latency.
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        if let Ok(stream) = &conn {
            let _ = stream.set_nodelay(true);
        }
        conn
    });
    baton_proto::tls::server(worker.config().cluster_tls.as_ref())?
        .add_service(worker.service())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
