//! Reading task logs from the worker that holds them, through its `ReadLog` RPC.

use crate::ApiError;
use baton_proto::worker_client::WorkerClient;
use baton_proto::{ReadLogReply, ReadLogRequest};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::transport::Channel;

/// gRPC clients by worker address, made once.
#[derive(Clone, Default)]
pub(crate) struct LogReader {
    clients: Arc<Mutex<HashMap<String, WorkerClient<Channel>>>>,
}

impl LogReader {
    fn client(&self, address: &str) -> Result<WorkerClient<Channel>, ApiError> {
        let mut clients = self.clients.lock().expect("log client map");
        if let Some(c) = clients.get(address) {
            return Ok(c.clone());
        }
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| ApiError::Unavailable(format!("bad worker address `{address}`: {e}")))?
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10));
        let client = WorkerClient::new(endpoint.connect_lazy()).max_decoding_message_size(8 << 20);
        clients.insert(address.to_string(), client.clone());
        Ok(client)
    }

    /// Reads up to `limit` bytes from `offset` of one attempt's log on `worker`.
    pub async fn read(
        &self,
        worker: &str,
        task_instance_id: i64,
        attempt: u32,
        offset: u64,
        limit: u32,
    ) -> Result<ReadLogReply, ApiError> {
        let mut client = self.client(worker)?;
        let reply = client
            .read_log(ReadLogRequest {
                task_instance_id,
                attempt,
                offset,
                limit,
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
