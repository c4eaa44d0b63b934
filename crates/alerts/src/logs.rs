//! The last lines of a failed task's log, read from the worker that wrote it (over the
//! cluster's gRPC, with its secret and TLS), within a short deadline: a log that cannot be
//! read in time, or at all, leaves the alert without it and never holds it back.

use crate::message::{log_tail, LOG_TAIL_BYTES};
use baton_proto::auth::{ClusterKey, MemberChannel};
use baton_proto::worker_client::WorkerClient;
use baton_proto::ReadLogRequest;
use baton_store::TaskInstanceRecord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long reading one task's log may take.
pub const LOG_DEADLINE: Duration = Duration::from_secs(3);
/// A log longer than this is not read to its end for an alert.
const MAX_READ: u64 = 8 << 20;
/// Bytes asked for per read.
const CHUNK: u32 = 1 << 20;

/// Reads the tails of logs from workers.
#[derive(Clone)]
pub struct LogTail {
    clients: Arc<Mutex<HashMap<String, WorkerClient<MemberChannel>>>>,
    key: ClusterKey,
    tls: Option<baton_proto::tls::ClusterTls>,
}

impl LogTail {
    /// Reads with the cluster's secret `key` (and its mutual TLS, when it has it).
    pub fn new(key: ClusterKey, tls: Option<baton_proto::tls::ClusterTls>) -> LogTail {
        LogTail {
            clients: Arc::default(),
            key,
            tls,
        }
    }

    fn client(&self, address: &str) -> Option<WorkerClient<MemberChannel>> {
        let mut clients = self.clients.lock().ok()?;
        if let Some(c) = clients.get(address) {
            return Some(c.clone());
        }
        let endpoint = baton_proto::tls::endpoint(address, self.tls.as_ref())
            .ok()?
            .connect_timeout(LOG_DEADLINE)
            .timeout(LOG_DEADLINE);
        let client = baton_proto::sizes::worker_client(endpoint.connect_lazy(), self.key.clone());
        clients.insert(address.to_string(), client.clone());
        Some(client)
    }

    /// The last lines of the log of `task`'s last attempt, if read within [`LOG_DEADLINE`].
    pub async fn tail(&self, task: &TaskInstanceRecord) -> Option<String> {
        let worker = task.worker.as_deref()?;
        let attempt = u32::try_from(task.attempt).ok()?;
        let mut client = self.client(worker)?;
        let read = async move {
            let mut kept: Vec<u8> = Vec::new();
            let mut offset = 0;
            while offset < MAX_READ {
                let reply = client
                    .read_log(ReadLogRequest {
                        task_instance_id: task.id.0,
                        attempt,
                        offset,
                        limit: CHUNK,
                        from_end: false,
                    })
                    .await
                    .ok()?
                    .into_inner();
                if !reply.found {
                    return None;
                }
                kept.extend_from_slice(&reply.data);
                let keep_from = kept.len().saturating_sub(2 * LOG_TAIL_BYTES);
                kept.drain(..keep_from);
                if reply.complete || reply.data.is_empty() || reply.next_offset <= offset {
                    break;
                }
                offset = reply.next_offset;
            }
            Some(log_tail(&String::from_utf8_lossy(&kept)))
        };
        tokio::time::timeout(LOG_DEADLINE, read)
            .await
            .ok()
            .flatten()
    }
}
