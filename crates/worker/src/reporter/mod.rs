//! Delivery of task events to the masters that own their workflow instances.
//!
//! Each event is appended to the [`Outbox`] first, then queued under its workflow instance.
//! Every master address has a lane, a background task that sends batched `Report` calls
//! and retries with backoff until the master answers. An instance's events go, in order, to
//! the master believed to own it: the one named by its dispatch, unless an acknowledgement or
//! a redirect said otherwise. At most one batch per instance is in flight, so per instance
//! (and so per attempt) events are never reordered, even when they change masters half way.
//!
//! The answer of a master either takes an instance's events (they are acknowledged in the
//! outbox), or redirects them to the owner (sent there next), or says nobody owns the instance
//! yet (sent again after a backoff, to any known master). A master unreachable for longer than
//! `reroute_after` has its instances tried on the other known masters, which redirect them.

mod lane;
mod queue;
mod routing;
mod traces;

use baton_core::WorkflowInstanceId;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use baton_proto::TaskEvent;
use tokio::sync::watch;

use crate::error::{DispatchError, OpenError};
use crate::outbox::Outbox;
use crate::routes::{Masters, Owners};
use baton_core::AttemptKey;

use lane::{endpoint, sync_loop, sync_once, Lane};
use queue::{Done, Instance, Queued};
use traces::{Traces, ENDED_CAP};

pub(crate) use traces::Trace;

/// Most events sent in one `Report` call.
const MAX_BATCH: usize = 500;
/// Most outbox bytes of events sent in one `Report` call (one event more may go over it): a
/// Finished event carries up to 1 MiB of output params, and the master refuses requests over
/// [`baton_proto::sizes::MAX_REPORT_BYTES`].
const MAX_BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// First pause after a failed report; doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// First wait before sending again the events of an instance nobody owns yet; doubles up to
/// `MAX_HOLD`.
const FIRST_HOLD: Duration = Duration::from_millis(100);
const MAX_HOLD: Duration = Duration::from_secs(2);
/// How often written outbox records are synced to disk.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Pause before compacting again after a compaction failed.
const COMPACTION_RETRY: Duration = Duration::from_secs(5);

/// How delivery behaves; from the worker's config.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub reroute_after: Duration,
    pub report_timeout: Duration,
    pub segment_bytes: u64,
    /// Proves the worker's reports come from a member.
    pub key: baton_proto::auth::ClusterKey,
    /// The cluster's mutual TLS, if it has it.
    pub tls: Option<baton_proto::tls::ClusterTls>,
}

/// The worker's event delivery: outbox, routes and lanes.
pub(crate) struct Reporter {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Failed `Report` calls so far (lets tests see that a delivery was tried).
    failures: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("reporter state poisoned")
    }
}

struct State {
    me: Weak<Shared>,
    settings: Settings,
    /// None once closed: nothing is written or sent any more.
    outbox: Option<Outbox>,
    instances: HashMap<WorkflowInstanceId, Instance>,
    lanes: HashMap<String, Lane>,
    owners: Owners,
    masters: Masters,
    /// Which attempts have events waiting, and which ended here.
    traces: Traces,
    /// Events queued and not yet acknowledged.
    pending: watch::Sender<usize>,
    /// The last outbox write failed (said once, until writes work again).
    write_failing: bool,
    /// No compaction before then (the last one failed).
    compact_after: Option<Instant>,
}

impl Reporter {
    /// Opens the outbox in `dir` and starts sending what a previous life left in it. Must run
    /// inside a Tokio runtime.
    pub(crate) fn open(dir: &Path, settings: Settings) -> Result<Reporter, OpenError> {
        let (outbox, loaded) = Outbox::open(dir, settings.segment_bytes)?;
        let shared = Arc::new_cyclic(|me| Shared {
            state: Mutex::new(State {
                me: me.clone(),
                settings,
                outbox: Some(outbox),
                instances: HashMap::new(),
                lanes: HashMap::new(),
                owners: Owners::new(),
                masters: Masters::default(),
                traces: Traces::new(ENDED_CAP),
                pending: watch::Sender::new(0),
                write_failing: false,
                compact_after: None,
            }),
            failures: AtomicU64::new(0),
        });
        {
            let mut st = shared.lock();
            st.pending.send_replace(loaded.len());
            let mut wfis = Vec::new();
            for l in loaded {
                st.masters.saw(&l.target);
                let wfi = Queued::wfi(&l.event);
                let queued = Queued {
                    seq: l.seq,
                    bytes: l.bytes,
                    target: l.target,
                    event: l.event,
                    doomed: false,
                };
                st.traces.queued(wfi, queued.key(), queued.is_finished());
                let instance = st.instances.entry(wfi).or_default();
                if instance.queue.is_empty() {
                    wfis.push(wfi);
                }
                instance.queue.push_back(queued);
            }
            for wfi in wfis {
                st.schedule(wfi);
            }
        }
        tokio::spawn(sync_loop(Arc::downgrade(&shared)));
        Ok(Reporter { shared })
    }

    /// Checks that events can be sent to `addr` (so that a bad address is refused at dispatch
    /// time rather than discovered when the attempt ends), and notes that `addr` owns `wfi`:
    /// the events of `wfi` go there from now on, including those already waiting.
    pub(crate) fn dispatched(
        &self,
        wfi: WorkflowInstanceId,
        addr: &str,
    ) -> Result<(), DispatchError> {
        let mut st = self.shared.lock();
        st.lane(addr)?;
        st.masters.saw(addr);
        st.route(wfi, addr);
        Ok(())
    }

    /// Checks that events could be sent to `addr`.
    pub(crate) fn check_addr(&self, addr: &str) -> Result<(), DispatchError> {
        let settings = self.shared.lock().settings.clone();
        endpoint(addr, &settings).map(|_| ())
    }

    /// What is known here of the attempt `key`: whether its Finished event was queued (and
    /// is waiting, or was acknowledged and is still remembered), or other events of it wait.
    pub(crate) fn trace(&self, key: AttemptKey) -> Trace {
        self.shared.lock().traces.trace(key)
    }

    /// Writes `event` (addressed to `addr` by its dispatch) to the outbox and queues it.
    /// Never blocks on the network; it goes out after the earlier events of its instance.
    pub(crate) fn send(&self, addr: &str, event: TaskEvent) {
        let mut st = self.shared.lock();
        let Some(outbox) = st.outbox.as_mut() else {
            tracing::error!(?event, "event after the reporter closed; dropped");
            return;
        };
        let (seq, written) = outbox.append(addr, &event);
        let bytes = match written {
            Ok(bytes) => {
                if std::mem::take(&mut st.write_failing) {
                    tracing::info!("outbox writes work again");
                }
                bytes
            }
            Err(e) => {
                st.write_error(e);
                0
            }
        };
        let wfi = Queued::wfi(&event);
        let queued = Queued {
            seq,
            bytes,
            target: addr.to_string(),
            event,
            doomed: false,
        };
        st.traces.queued(wfi, queued.key(), queued.is_finished());
        st.instances.entry(wfi).or_default().queue.push_back(queued);
        st.pending.send_modify(|n| *n += 1);
        st.schedule(wfi);
        st.maybe_compact();
    }

    /// Replaces the list of live masters (from heartbeats).
    pub(crate) fn set_masters(&self, addrs: Vec<String>) {
        let mut st = self.shared.lock();
        let settings = st.settings.clone();
        let valid = addrs
            .into_iter()
            .filter(|a| match endpoint(a, &settings) {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring a master address");
                    false
                }
            })
            .collect();
        st.masters.set_live(valid);
    }

    /// Forgets the events of the attempts `keys` that have not been sent, and those sent but
    /// not acknowledged yet should they need sending again, and that they ended here, if they
    /// did. Returns how many events were dropped.
    pub(crate) fn drop_attempts(&self, keys: &HashSet<AttemptKey>) -> usize {
        let mut st = self.shared.lock();
        let mut wfis = HashSet::new();
        for key in keys {
            st.traces.forget(*key);
            wfis.extend(st.traces.waiting_in(*key));
        }
        let mut done = Done::default();
        for wfi in wfis {
            let Some(instance) = st.instances.get_mut(&wfi) else {
                continue;
            };
            let in_flight = instance.in_flight;
            let mut at = 0;
            instance.queue.retain_mut(|q| {
                let keep = if !keys.contains(&q.key()) {
                    true
                } else if at < in_flight {
                    q.doomed = true;
                    true
                } else {
                    done.add(q);
                    false
                };
                at += 1;
                keep
            });
            if instance.queue.is_empty() && instance.in_flight == 0 {
                st.instances.remove(&wfi);
            }
        }
        let dropped = done.seqs.len();
        st.done(done);
        dropped
    }

    /// Waits until every queued event has been acknowledged.
    pub(crate) async fn flushed(&self) {
        let mut rx = self.shared.lock().pending.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Events queued and not yet acknowledged.
    pub(crate) fn pending(&self) -> usize {
        *self.shared.lock().pending.borrow()
    }

    /// Syncs what was written to the outbox to disk.
    pub(crate) async fn sync(&self) {
        sync_once(&self.shared).await;
    }

    /// Stops sending and writing for good, and releases the outbox (and its lock) at once, so
    /// that a new worker can open it. What is pending stays in it.
    pub(crate) fn close(&self) {
        let mut st = self.shared.lock();
        st.outbox = None;
        for lane in st.lanes.values() {
            lane.wake.notify_one();
        }
    }

    #[cfg(test)]
    pub(crate) fn failures(&self) -> u64 {
        self.shared
            .failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
