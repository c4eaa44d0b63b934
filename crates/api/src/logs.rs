//! Reading task logs from the worker that holds them, through its `ReadLog` RPC, or from
//! the log archive once that worker is gone.

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
    /// Where workers ship the logs of ended attempts, if they do.
    pub(crate) archive: Option<baton_logstore::LogArchive>,
}

impl LogReader {
    /// A reader whose calls prove `key`.
    pub(crate) fn new(key: ClusterKey) -> LogReader {
        LogReader {
            clients: Arc::default(),
            key,
            tls: None,
            archive: None,
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

    /// Reads up to `limit` bytes from `offset` (with `from_end`, `offset` bytes before its
    /// end) of one attempt's log in the archive, in the worker's reply shape (an archived log is complete); `None` when there is no archive or
    /// it does not have the log.
    pub async fn archived(
        &self,
        wfi: baton_core::WorkflowInstanceId,
        key: baton_core::AttemptKey,
        offset: u64,
        limit: u32,
        from_end: bool,
    ) -> Result<Option<ReadLogReply>, ApiError> {
        let Some(archive) = &self.archive else {
            return Ok(None);
        };
        let from = if from_end {
            baton_logstore::ReadFrom::End(offset)
        } else {
            baton_logstore::ReadFrom::Start(offset)
        };
        let piece = archive
            .read(wfi, key, from, u64::from(limit))
            .await
            .map_err(|e| ApiError::Unavailable(format!("cannot read the log: {e}")))?;
        Ok(piece.map(|p| ReadLogReply {
            complete: p.next_offset >= p.len,
            next_offset: p.next_offset,
            offset: p.offset,
            size: p.len,
            data: p.data,
            found: true,
        }))
    }
}
