//! Reading task logs from the worker that holds them, through its `ReadLog` RPC.

use crate::ApiError;
use baton_proto::auth::{ClusterKey, MemberChannel};
use baton_proto::worker_client::WorkerClient;
use baton_proto::{ReadLogReply, ReadLogRequest};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// gRPC clients by worker address, made once.
#[derive(Clone)]
pub(crate) struct LogReader {
    clients: Arc<Mutex<HashMap<String, WorkerClient<MemberChannel>>>>,
    /// Proves to workers that the API is a member of their cluster.
    pub(crate) key: ClusterKey,
    /// The cluster's mutual TLS, if it has it.
    pub(crate) tls: Option<baton_proto::tls::ClusterTls>,
}

impl LogReader {
    /// A reader whose calls prove `key`.
    pub(crate) fn new(key: ClusterKey) -> LogReader {
        LogReader {
            clients: Arc::default(),
            key,
            tls: None,
        }
    }

    fn client(&self, address: &str) -> Result<WorkerClient<MemberChannel>, ApiError> {
        let mut clients = self.clients.lock().expect("log client map");
        if let Some(c) = clients.get(address) {
            return Ok(c.clone());
        }
        let endpoint = baton_proto::tls::endpoint(address, self.tls.as_ref())
            .map_err(|e| ApiError::Unavailable(format!("bad worker address `{address}`: {e}")))?
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10));
        let client = baton_proto::sizes::worker_client(endpoint.connect_lazy(), self.key.clone());
        clients.insert(address.to_string(), client.clone());
        Ok(client)
    }

    /// Reads up to `limit` bytes from `offset` of one attempt's log on `worker` (with
    /// `from_end`, `offset` bytes before its end).
    pub async fn read(
        &self,
        worker: &str,
        task_instance_id: i64,
        attempt: u32,
        offset: u64,
        limit: u32,
        from_end: bool,
    ) -> Result<ReadLogReply, ApiError> {
        let mut client = self.client(worker)?;
        let reply = client
            .read_log(ReadLogRequest {
                task_instance_id,
                attempt,
                offset,
                limit,
                from_end,
            })
            .await
            .map_err(|s| {
                ApiError::Unavailable(format!(
                    "cannot read the log from worker {worker}: {}",
                    s.message()
                ))
            })?;
        Ok(reply.into_inner())
    }
}
