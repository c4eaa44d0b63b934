//! Delivery of task events to masters: one background task per master address drains a queue
//! into batched `Report` calls and retries each batch until the master acknowledges it, so
//! events are neither lost (while the worker runs) nor reordered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_proto::master_client::MasterClient;
use baton_proto::{ReportRequest, TaskEvent};
use tokio::sync::{mpsc, watch};
use tonic::transport::{Channel, Endpoint};

use crate::error::DispatchError;

/// Most events sent in one `Report` call.
const MAX_BATCH: usize = 500;
/// First pause after a failed report; doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The queues to every master this worker has heard from.
pub(crate) struct Reporters {
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<TaskEvent>>>,
    /// Events queued and not yet acknowledged, across all masters.
    pending: watch::Sender<usize>,
    /// Failed `Report` calls so far (lets tests see that a delivery was tried).
    failures: Arc<AtomicU64>,
}

impl Reporters {
    pub(crate) fn new() -> Self {
        Reporters {
            queues: Mutex::new(HashMap::new()),
            pending: watch::Sender::new(0),
            failures: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Makes sure a queue to `addr` exists (starting its task), so that a bad address is refused
    /// at dispatch time rather than discovered when the attempt ends.
    pub(crate) fn ensure(&self, addr: &str) -> Result<(), DispatchError> {
        let mut queues = self.queues.lock().expect("reporter map poisoned");
        self.queue(&mut queues, addr).map(|_| ())
    }

    /// Queues one event for `addr`. Never blocks; the event goes out in order after those queued
    /// before it for the same master.
    pub(crate) fn send(&self, addr: &str, event: TaskEvent) {
        let mut queues = self.queues.lock().expect("reporter map poisoned");
        match self.queue(&mut queues, addr) {
            Ok(tx) => {
                self.pending.send_modify(|n| *n += 1);
                if tx.send(event).is_err() {
                    self.pending.send_modify(|n| *n -= 1);
                    tracing::error!(addr, "event queue closed; event dropped");
                }
            }
            // Addresses are checked at dispatch, so this cannot happen for a running attempt.
            Err(e) => tracing::error!(addr, error = %e, "dropping an event for an unusable master"),
        }
    }

    /// The queue to `addr`, created with its delivery task on first use.
    fn queue<'m>(
        &self,
        queues: &'m mut HashMap<String, mpsc::UnboundedSender<TaskEvent>>,
        addr: &str,
    ) -> Result<&'m mpsc::UnboundedSender<TaskEvent>, DispatchError> {
        if !queues.contains_key(addr) {
            let channel = endpoint(addr)?.connect_lazy();
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(deliver(
                addr.to_string(),
                MasterClient::new(channel),
                rx,
                self.pending.clone(),
                self.failures.clone(),
            ));
            queues.insert(addr.to_string(), tx);
        }
        Ok(&queues[addr])
    }

    /// Waits until every queued event has been acknowledged.
    pub(crate) async fn flushed(&self) {
        let mut rx = self.pending.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Events queued and not yet acknowledged.
    pub(crate) fn pending(&self) -> usize {
        *self.pending.borrow()
    }

    #[cfg(test)]
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// The URL of a master's gRPC server from its `host:port` (a full `http://` URL is accepted too).
fn endpoint(addr: &str) -> Result<Endpoint, DispatchError> {
    let url = if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let bad = |reason: String| DispatchError::BadMasterAddr {
        addr: addr.to_string(),
        reason,
    };
    if addr.is_empty() {
        return Err(bad("empty".into()));
    }
    Ok(Endpoint::from_shared(url)
        .map_err(|e| bad(e.to_string()))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30)))
}

/// The delivery loop for one master: takes what is queued (up to `MAX_BATCH`), sends it, and
/// retries that same batch with backoff until it is acknowledged.
async fn deliver(
    addr: String,
    mut client: MasterClient<Channel>,
    mut rx: mpsc::UnboundedReceiver<TaskEvent>,
    pending: watch::Sender<usize>,
    failures: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        let mut backoff = FIRST_BACKOFF;
        let mut tries = 0u32;
        loop {
            let request = ReportRequest {
                events: batch.clone(),
            };
            match client.report(request).await {
                Ok(_) => break,
                Err(status) => {
                    failures.fetch_add(1, Ordering::Relaxed);
                    tries += 1;
                    // Warn on the 1st, 2nd, 4th, 8th... failure: visible, but no flood.
                    if tries.is_power_of_two() {
                        tracing::warn!(
                            master = %addr,
                            events = batch.len(),
                            tries,
                            error = %status,
                            "reporting task events failed; retrying"
                        );
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        if tries > 0 {
            tracing::info!(master = %addr, tries, "task events delivered after retrying");
        }
        let sent = batch.len();
        batch.clear();
        pending.send_modify(|n| *n -= sent);
    }
}

#[cfg(test)]
mod tests {
    use baton_proto::task_event::Event;
    use baton_proto::Outcome;
    use tokio::net::TcpListener;

    use crate::testkit::*;

    #[tokio::test]
    async fn events_wait_for_a_master_that_is_not_up_yet() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        // A free port with nothing listening on it (yet).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = port.local_addr().unwrap();
        drop(port);

        for tid in 1..=3 {
            worker
                .dispatch(request(tid, shell("echo hi"), &addr.to_string()))
                .unwrap();
        }
        let reporters = &worker.inner().reporters;
        until("a failed delivery", || reporters.failures() >= 1).await;
        until("the attempts to end", || worker.running() == 0).await;
        assert_eq!(reporters.pending(), 6);

        let mut master = TestMaster::start_on(TcpListener::bind(addr).await.unwrap());
        let mut events = Vec::new();
        for _ in 0..6 {
            events.push(master.next().await);
        }
        within("delivery to be acknowledged", reporters.flushed()).await;
        // Per attempt: Started, then Finished (succeeded); nothing lost, nothing doubled.
        for tid in 1..=3 {
            let mine: Vec<_> = events
                .iter()
                .filter(|e| e.id.unwrap().task_instance_id == tid)
                .collect();
            assert_eq!(mine.len(), 2);
            assert!(matches!(mine[0].event, Some(Event::Started(_))));
            match &mine[1].event {
                Some(Event::Finished(f)) => assert_eq!(f.outcome, Outcome::Succeeded as i32),
                other => panic!("expected Finished, got {other:?}"),
            }
        }
    }
}
