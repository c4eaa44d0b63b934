//! The gRPC service workers talk to. A report is acknowledged only after the engine has
//! committed it, so a worker that gets no answer simply sends it again. Heartbeats let workers
//! keep a registry session without reaching the registry themselves (the database registry:
//! workers have no database access).

use crate::Msg;
use baton_proto::master_server::Master;
use baton_proto::{HeartbeatReply, HeartbeatRequest, ReportReply, ReportRequest};
use baton_registry::{Member, Registration, Registry, RegistryError, Role};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tonic::{Request, Response, Status};

/// Renews workers' registry sessions on their behalf.
#[derive(Clone)]
pub struct Registrar {
    /// The registry.
    pub registry: Arc<dyn Registry>,
    /// The current members, to tell workers where the masters are.
    pub members: watch::Receiver<Vec<Registration>>,
}

/// Hands worker reports to the engine and answers once they are durable.
pub struct ReportService {
    tx: mpsc::UnboundedSender<Msg>,
    registrar: Option<Registrar>,
}

impl ReportService {
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Msg>,
        registrar: Option<Registrar>,
    ) -> ReportService {
        ReportService { tx, registrar }
    }
}

fn unavailable(e: RegistryError) -> Status {
    Status::unavailable(e.to_string())
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
        let redirects = done
            .await
            .map_err(|_| Status::unavailable("the report was not recorded; send it again"))?;
        Ok(Response::new(ReportReply { redirects }))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatReply>, Status> {
        let Some(registrar) = &self.registrar else {
            return Err(Status::unimplemented(
                "this master has no registry (standalone)",
            ));
        };
        let request = request.into_inner();
        let member: Member = serde_json::from_str(&request.member_json)
            .map_err(|e| Status::invalid_argument(format!("bad member: {e}")))?;
        if member.role != Role::Worker {
            return Err(Status::invalid_argument(
                "only workers heartbeat through a master",
            ));
        }
        for (what, value) in [("id", &member.id), ("address", &member.address)] {
            if let Some(why) = crate::dispatch::bad_address(value) {
                return Err(Status::invalid_argument(format!(
                    "bad member {what}: {why}"
                )));
            }
        }
        let registry = &registrar.registry;
        let (session, session_lost) = if request.session.is_empty() {
            (
                registry.register(&member).await.map_err(unavailable)?,
                false,
            )
        } else {
            match registry.heartbeat(&member, &request.session).await {
                Ok(()) => (request.session, false),
                Err(RegistryError::SessionLost(_)) => {
                    (registry.register(&member).await.map_err(unavailable)?, true)
                }
                Err(e) => return Err(unavailable(e)),
            }
        };
        let masters = registrar
            .members
            .borrow()
            .iter()
            .filter(|r| r.member.role == Role::Master)
            .map(|r| r.member.address.clone())
            .collect();
        Ok(Response::new(HeartbeatReply {
            session,
            masters,
            session_lost,
        }))
    }
}
