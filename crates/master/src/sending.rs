//! After a tick's commit: what it decided goes out to the workers (dispatches, kills,
//! probes), each send in a task of its own, whose failure comes back as a message.

use crate::engine::{Engine, Tick};
use crate::Msg;
use baton_core::attempt::{DispatchFailure, Refusal};
use baton_core::TaskInstanceId;
use baton_proto::{AttemptId, DispatchRequest};
use std::time::Duration;

impl Engine {
    /// Performs what a committed tick decided.
    pub(crate) fn act(&mut self, tick: Tick) {
        let metrics = &self.config.metrics;
        metrics.observe(&tick.observed, tick.adopted, tick.failovers);
        for (worker, request) in tick.dispatches {
            self.send_dispatch(worker, request);
        }
        for (worker, id) in tick.kills {
            self.send_kill_to(worker, id);
        }
        for (worker, ids) in tick.probes {
            self.send_probe(worker, ids);
        }
        if tick.more_commands {
            let _ = self.self_tx.send(Msg::Wake);
        }
        for event in tick.published {
            let _ = self.events.send(event);
        }
    }

    /// Sends a dispatch; a refusal or an unreachable worker comes back as `DispatchFailed`.
    fn send_dispatch(&self, worker: usize, request: DispatchRequest) {
        let w = self.dispatcher.worker(worker);
        let mut client = w.client.clone();
        let worker_id = w.endpoint.id.clone();
        let tx = self.self_tx.clone();
        tokio::spawn(async move {
            let id = request.id.expect("dispatches carry an attempt id");
            let failure = match client.dispatch(request).await {
                Ok(reply) if reply.get_ref().accepted => return,
                Ok(reply) => {
                    let reply = reply.into_inner();
                    DispatchFailure::Refused {
                        refusal: refusal_of(reply.refusal()),
                        reason: reply.reason,
                    }
                }
                // Too large for the worker's (or this client's) limit (tonic says OUT_OF_RANGE;
                // other servers RESOURCE_EXHAUSTED): it was never taken, and sending it again
                // would be refused again. A dispatch is checked against the limit before it is
                // sent, so only a worker built with a lower one gets here.
                Err(status) if too_large(&status) => DispatchFailure::Refused {
                    refusal: Refusal::Unrunnable,
                    reason: format!("the dispatch is too large: {}", status.message()),
                },
                Err(status) => {
                    // It may have arrived after all: the attempt is written off, so make
                    // sure it does not run (best effort; a worker cut off for longer loses
                    // its session and kills it anyway).
                    let kill = baton_proto::KillRequest { id: Some(id) };
                    let mut killer = client.clone();
                    tokio::spawn(async move {
                        let _ = killer.kill(kill).await;
                    });
                    DispatchFailure::Unreachable(status.message().to_string())
                }
            };
            let _ = tx.send(Msg::DispatchFailed {
                task: TaskInstanceId(id.task_instance_id),
                attempt: i64::from(id.attempt),
                worker: worker_id,
                failure,
            });
        });
    }

    /// Sends a kill, again for a short while if the worker does not know the attempt yet (a
    /// kill can overtake its own dispatch).
    fn send_kill_to(&self, worker: String, id: AttemptId) {
        let Some(w) = self.dispatcher.worker_by_id(&worker) else {
            return;
        };
        let mut client = w.client.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                match client.kill(baton_proto::KillRequest { id: Some(id) }).await {
                    Ok(reply) if reply.get_ref().found => return,
                    Ok(_) => {}
                    Err(status) => tracing::warn!("kill on {worker}: {}", status.message()),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    /// Asks a worker about attempts; its answers come back as `Probed`.
    fn send_probe(&self, worker: String, ids: Vec<AttemptId>) {
        let Some(mut client) = self.dispatcher.client_for(&worker) else {
            return;
        };
        let tx = self.self_tx.clone();
        let address = self.config.address.clone();
        tokio::spawn(async move {
            let request = baton_proto::ProbeRequest {
                ids: ids.clone(),
                master_addr: address,
            };
            match client.probe(request).await {
                Ok(reply) => {
                    let answers = ids
                        .iter()
                        .zip(reply.into_inner().statuses)
                        .map(|(id, status)| {
                            let status = baton_proto::AttemptStatus::try_from(status)
                                .unwrap_or(baton_proto::AttemptStatus::Unknown);
                            let task = TaskInstanceId(id.task_instance_id);
                            (task, i64::from(id.attempt), status)
                        })
                        .collect();
                    let _ = tx.send(Msg::Probed { worker, answers });
                }
                // Unreachable: if it is gone, the registry will say so.
                Err(status) => tracing::warn!("probe of {worker}: {}", status.message()),
            }
        });
    }
}

/// True for a call refused for the size of its message, by either end.
fn too_large(status: &tonic::Status) -> bool {
    let code = status.code();
    code == tonic::Code::ResourceExhausted
        || (code == tonic::Code::OutOfRange
            && status.message().contains("message length too large"))
}

/// The rules' reading of a worker's refusal; a worker too old to say why counts as busy (what
/// every refusal meant before workers said why).
fn refusal_of(refusal: baton_proto::DispatchRefusal) -> Refusal {
    use baton_proto::DispatchRefusal as Proto;
    match refusal {
        Proto::Unspecified | Proto::Busy => Refusal::Busy,
        Proto::Stale => Refusal::Stale,
        Proto::Unrunnable => Refusal::Unrunnable,
    }
}
