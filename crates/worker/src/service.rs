//! The gRPC face of a [`Worker`]: turns requests into calls on it.

use baton_proto::{
    DispatchReply, DispatchRequest, KillReply, KillRequest, PingReply, PingRequest, ProbeReply,
    ProbeRequest, ReadLogReply, ReadLogRequest,
};
use tonic::{Request, Response, Status};

use crate::Worker;

/// Implements the `Worker` gRPC service over a [`Worker`]; obtained from [`Worker::service`]
/// so the CLI (or a test) can mount it on any tonic server.
#[derive(Clone)]
pub struct WorkerService {
    worker: Worker,
}

impl WorkerService {
    /// Serves `worker`.
    pub fn new(worker: Worker) -> Self {
        WorkerService { worker }
    }
}

#[tonic::async_trait]
impl baton_proto::worker_server::Worker for WorkerService {
    async fn dispatch(
        &self,
        request: Request<DispatchRequest>,
    ) -> Result<Response<DispatchReply>, Status> {
        let reply = match self.worker.dispatch(request.into_inner()) {
            Ok(()) => DispatchReply {
                accepted: true,
                reason: String::new(),
                refusal: baton_proto::DispatchRefusal::Unspecified as i32,
            },
            Err(e) => {
                tracing::debug!(reason = %e, "dispatch refused");
                DispatchReply {
                    accepted: false,
                    reason: e.to_string(),
                    refusal: e.refusal() as i32,
                }
            }
        };
        Ok(Response::new(reply))
    }

    async fn kill(&self, request: Request<KillRequest>) -> Result<Response<KillReply>, Status> {
        let id = request
            .into_inner()
            .id
            .ok_or_else(|| Status::invalid_argument("kill without an attempt id"))?;
        Ok(Response::new(KillReply {
            found: self.worker.kill(id),
        }))
    }

    async fn read_log(
        &self,
        request: Request<ReadLogRequest>,
    ) -> Result<Response<ReadLogReply>, Status> {
        self.worker
            .read_log(request.into_inner())
            .await
            .map(Response::new)
            .map_err(|e| Status::internal(format!("reading the log failed: {e}")))
    }

    async fn ping(&self, _request: Request<PingRequest>) -> Result<Response<PingReply>, Status> {
        Ok(Response::new(self.worker.ping()))
    }

    async fn probe(&self, request: Request<ProbeRequest>) -> Result<Response<ProbeReply>, Status> {
        let statuses = self.worker.probe(request.into_inner());
        Ok(Response::new(ProbeReply {
            statuses: statuses.into_iter().map(|s| s as i32).collect(),
        }))
    }
}
