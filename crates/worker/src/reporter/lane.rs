//! The network side of delivery: one lane (a background task) per master address, sending
//! batched `Report` calls; and the background sync of the outbox.

use baton_core::WorkflowInstanceId;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use baton_proto::auth::MemberChannel;
use baton_proto::master_client::MasterClient;
use baton_proto::ReportRequest;
use tokio::sync::Notify;
use tonic::transport::Endpoint;

use super::{Settings, Shared, FIRST_BACKOFF, MAX_BACKOFF, SYNC_EVERY};
use crate::error::DispatchError;
use crate::outbox::Outbox;

/// One master's sending side.
pub(super) struct Lane {
    /// Instances with events to send to this master.
    pub(super) ready: VecDeque<WorkflowInstanceId>,
    pub(super) wake: Arc<Notify>,
    /// Start of the first of the calls that have failed in a row.
    pub(super) down_since: Option<Instant>,
}

/// The endpoint of a master's gRPC server from its `host:port` (a `http://` or `https://`
/// URL is accepted too: the cluster's TLS setting decides the scheme).
pub(super) fn endpoint(addr: &str, settings: &Settings) -> Result<Endpoint, DispatchError> {
    let host_port = ["http://", "https://"]
        .iter()
        .find_map(|scheme| addr.strip_prefix(scheme))
        .unwrap_or(addr);
    let bad = |reason: String| DispatchError::BadMasterAddr {
        addr: addr.to_string(),
        reason,
    };
    if host_port.is_empty() {
        return Err(bad("empty".into()));
    }
    let connect_timeout = settings
        .reroute_after
        .clamp(Duration::from_millis(200), Duration::from_secs(5));
    Ok(baton_proto::tls::endpoint(host_port, settings.tls.as_ref())
        .map_err(|e| bad(e.to_string()))?
        .tcp_nodelay(true)
        .connect_timeout(connect_timeout)
        .timeout(settings.report_timeout))
}

/// One master's lane: takes what is ready for it (up to `MAX_BATCH` events), sends it, and
/// applies the answer; after a failure, waits (with backoff) before the next call.
pub(super) async fn run_lane(
    shared: Arc<Shared>,
    addr: String,
    mut client: MasterClient<MemberChannel>,
    wake: Arc<Notify>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 0u32;
    loop {
        let batch = loop {
            {
                let mut st = shared.lock();
                if st.closed() {
                    return;
                }
                let batch = st.take_batch(&addr);
                if !batch.events.is_empty() {
                    break batch;
                }
            }
            wake.notified().await;
        };
        let began = Instant::now();
        let count = batch.events.len();
        let request = ReportRequest {
            events: batch.events,
        };
        match client.report(request).await {
            Ok(reply) => {
                if tries > 0 {
                    tracing::info!(master = %addr, tries, "task events delivered after retrying");
                }
                tries = 0;
                backoff = FIRST_BACKOFF;
                shared
                    .lock()
                    .delivered(&addr, &batch.parts, reply.into_inner().redirects);
            }
            Err(status) => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                tries += 1;
                // Warn on the 1st, 2nd, 4th, 8th... failure: visible, but no flood.
                if tries.is_power_of_two() {
                    tracing::warn!(
                        master = %addr,
                        events = count,
                        tries,
                        error = %status,
                        "reporting task events failed; retrying"
                    );
                }
                let wait = shared.lock().failed(&addr, &batch.parts, began, backoff);
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Syncs the outbox to disk every `SYNC_EVERY` while something was written, until it closes.
pub(super) async fn sync_loop(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(SYNC_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.lock().closed() {
            return;
        }
        sync_once(&shared).await;
    }
}

pub(super) async fn sync_once(shared: &Shared) {
    let file = shared.lock().outbox.as_mut().and_then(Outbox::take_dirty);
    if let Some(file) = file {
        match tokio::task::spawn_blocking(move || file.sync_data()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "syncing the outbox failed"),
            Err(e) => tracing::warn!(error = %e, "syncing the outbox failed"),
        }
    }
}
