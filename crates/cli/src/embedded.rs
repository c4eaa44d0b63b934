//! An embedded node: store, master and worker in this process, master and worker talking gRPC
//! over loopback exactly as they would across hosts. `standalone` and `run` use it.

use crate::args::NodeArgs;
use anyhow::Context;
use baton_master::{Master, MasterConfig, WorkerEndpoint};
use baton_store::Store;
use baton_worker::{Worker, WorkerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;

/// What an embedded node needs.
pub struct NodeOptions {
    pub data_dir: PathBuf,
    pub database: Option<String>,
    pub grpc_listen: SocketAddr,
    pub node: NodeArgs,
    /// The keys of secrets at rest: the master opens a sql task's data source password with
    /// them.
    pub keyring: Option<baton_secrets::Keyring>,
    /// Where the worker ships the logs of ended attempts (none: they stay in the data
    /// directory's `logs/` only).
    pub log_archive: Option<baton_logstore::LogArchive>,
}

/// A running embedded node.
pub struct Node {
    pub store: Store,
    pub master: Master,
    pub worker: Worker,
    /// The master's metrics (the worker's are [`Worker::metrics`]).
    pub master_metrics: baton_master::MasterMetrics,
    grpc_stop: Option<oneshot::Sender<()>>,
    grpc_task: tokio::task::JoinHandle<()>,
}

/// Where an embedded node keeps its cluster secret.
pub fn secret_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("cluster.secret")
}

/// The node's cluster secret, made at its first start (mode 0600): its master and worker
/// prove it to each other, and a worker added to it later can be given the file.
fn data_dir_secret(data_dir: &std::path::Path) -> anyhow::Result<baton_proto::auth::ClusterKey> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = secret_path(data_dir);
    if !path.exists() {
        let secret = baton_proto::auth::ClusterKey::generate_secret()?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create the cluster secret {}", path.display()))?;
        writeln!(file, "{secret}")
            .with_context(|| format!("cannot write the cluster secret {}", path.display()))?;
    }
    Ok(baton_proto::auth::ClusterKey::read(&path)?)
}

/// The default store of a data directory.
pub fn default_database(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("baton.db").display())
}

impl Node {
    /// Opens the store, resumes what was running, and starts serving gRPC.
    pub async fn start(options: NodeOptions) -> anyhow::Result<Node> {
        baton_worker::create_private_dir(&options.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                options.data_dir.display()
            )
        })?;
        let database = options
            .database
            .clone()
            .unwrap_or_else(|| default_database(&options.data_dir));
        let store = Store::connect(&database).await?;
        let listener = tokio::net::TcpListener::bind(options.grpc_listen)
            .await
            .with_context(|| format!("cannot listen on {} (gRPC)", options.grpc_listen))?;
        let address = listener.local_addr()?.to_string();
        // We hold the address, so no live worker has this id: whatever carries it was left
        // running by a previous life of this node and is being run again.
        let reaped = baton_worker::reap_orphans(&address);
        if reaped > 0 {
            tracing::warn!("killed {reaped} task process groups left over from before a crash");
        }

        let cluster_key = data_dir_secret(&options.data_dir)?;
        let mut worker_config = WorkerConfig::new(address.clone(), &options.data_dir);
        worker_config.cluster_key = cluster_key.clone();
        if let Some(slots) = options.node.slots {
            worker_config.slots = slots.max(1);
        }
        worker_config.log_max_bytes = options.node.log_max_bytes;
        worker_config.kill_grace = options.node.kill_grace;
        worker_config.pass_env = options.node.task_env_pass.clone();
        worker_config.http = crate::args::http_client(&options.node.http, &[], &[]);
        worker_config.log_archive = options.log_archive.clone();
        // Standalone's archive is its own: its retention applies there too.
        worker_config.archive_retention = true;
        let slots = worker_config.slots;
        let worker = Worker::open(worker_config)?;
        worker.set_masters(vec![address.clone()]);
        // One process, no registry: the worker is as alive as its master.
        worker.metrics().set_session(true);
        if let Some(keep) = options.node.retention.log_retention() {
            worker.spawn_log_retention(keep);
        }

        let endpoint = WorkerEndpoint {
            id: address.clone(),
            address: address.clone(),
            group: baton_core::spec::DEFAULT_WORKER_GROUP.to_string(),
            slots,
            cpu: 0.0,
            load1: 0.0,
            session: String::new(),
        };
        let master_config = MasterConfig {
            event_retention: options.node.event_retention,
            instance_retention: options
                .node
                .retention
                .instance_retention(None, &Default::default()),
            cluster_key,
            keyring: options.keyring.clone().map(Arc::new),
            ..MasterConfig::new("standalone", address.clone())
        };
        let master_metrics = master_config.metrics.clone();
        let master = Master::start(store.clone(), master_config, vec![endpoint]).await?;

        let (grpc_stop, stopped) = oneshot::channel::<()>();
        let incoming = TcpListenerStream::new(listener).map(|conn| {
            if let Ok(stream) = &conn {
                let _ = stream.set_nodelay(true);
            }
            conn
        });
        let server = tonic::transport::Server::builder()
            .add_service(worker.service())
            .add_service(master.service(None));
        let grpc_task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = server
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
            {
                tracing::error!("gRPC server: {e}");
            }
        });
        tracing::info!(
            "master and worker on {address} ({slots} slots), store {}",
            baton_store::redact_url(&database)
        );
        Ok(Node {
            store,
            master,
            worker,
            master_metrics,
            grpc_stop: Some(grpc_stop),
            grpc_task,
        })
    }

    /// The registries of the node's master and worker, for the API's `GET /metrics`.
    pub fn registries(&self) -> Vec<prometheus::Registry> {
        vec![
            self.master_metrics.registry().clone(),
            self.worker.metrics().registry().clone(),
        ]
    }

    /// Wakes the master after the API writes a command.
    pub fn notify(&self) -> baton_api::Notify {
        let waker = self.master.waker();
        Arc::new(move || waker.wake())
    }

    /// Stops gracefully: no new dispatches; running attempts get `grace` to end and report;
    /// what still runs then is killed and will run again (a new attempt) at the next start.
    pub async fn stop(mut self, grace: Duration) {
        self.master.shutdown(grace).await;
        self.worker.kill_all().await;
        if let Some(stop) = self.grpc_stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.grpc_task).await;
        self.store.close().await;
    }
}
