//! The gRPC service workers report to. A report is acknowledged only after the engine has
//! committed it, so a worker that gets no answer simply sends it again.

use crate::Msg;
use baton_proto::master_server::Master;
use baton_proto::{HeartbeatReply, HeartbeatRequest, ReportReply, ReportRequest};
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status};

/// Hands worker reports to the engine and answers once they are durable.
pub struct ReportService {
    tx: mpsc::UnboundedSender<Msg>,
}

impl ReportService {
    pub(crate) fn new(tx: mpsc::UnboundedSender<Msg>) -> ReportService {
        ReportService { tx }
    }
}

#[tonic::async_trait]
impl Master for ReportService {
    async fn report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<ReportReply>, Status> {
        let events = request.into_inner().events;
        if events.is_empty() {
            return Ok(Response::new(ReportReply::default()));
        }
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Msg::Report(events, ack))
            .map_err(|_| Status::unavailable("the master is stopping"))?;
        done.await
            .map_err(|_| Status::unavailable("the report was not recorded; send it again"))?;
        Ok(Response::new(ReportReply::default()))
    }

    async fn heartbeat(
        &self,
        _request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatReply>, Status> {
        Err(Status::unimplemented("this master has no registry (standalone)"))
    }
}
