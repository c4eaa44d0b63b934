//! The worker's state: which attempts run, where their events go, and the operations the gRPC
//! service and the embedding process call.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_core::{Attempt, AttemptKey, TaskInstanceId, WorkflowInstanceId};
use baton_proto::{
    dispatch_request, task_event, AttemptId, AttemptStatus, DispatchRequest, Finished, PingReply,
    ProbeRequest, ReadLogReply, ReadLogRequest, Started, TaskEvent,
};
use tokio::sync::watch;

use crate::archiver::Archiver;
use crate::attempt::{self, Job};
use crate::config::WorkerConfig;
use crate::error::{DispatchError, OpenError};
use crate::executors;
use crate::logfile::{self, LogIndex};
use crate::metrics::WorkerMetrics;
use crate::outbox::SEGMENT_BYTES;
use crate::reporter::{Reporter, Settings, Trace};
use crate::service::WorkerService;
use crate::watchdog::Watchdog;
use crate::workdir::WorkDirs;

/// The worker's gRPC service, behind the check of membership.
pub type WorkerGrpc = tonic::service::interceptor::InterceptedService<
    baton_proto::worker_server::WorkerServer<WorkerService>,
    baton_proto::auth::Check,
>;

/// How long `shutdown` keeps trying to deliver events of attempts it had to kill, when its
/// grace was already used up waiting for them.
const FLUSH_AFTER_KILL: Duration = Duration::from_secs(1);

/// Longest wait of the log retention for the archive's uploads to catch up before a sweep.
const ARCHIVE_CATCH_UP: Duration = Duration::from_secs(60);

/// How many attempts the log index remembers before it falls back to directory scans.
const LOG_INDEX_CAPACITY: usize = 100_000;

/// The key of the attempt a protocol message is about.
pub(crate) fn key_of(id: &AttemptId) -> AttemptKey {
    AttemptKey::new(TaskInstanceId(id.task_instance_id), Attempt(id.attempt))
}

/// Why a running attempt is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Kill on request: SIGTERM, grace, SIGKILL.
    Kill,
    /// The worker is going away: SIGKILL now (a service: SIGTERM, grace, SIGKILL, since
    /// nothing waited for it to end).
    Shutdown,
    /// The cluster gave this worker up and runs the attempt elsewhere: SIGKILL now, and no
    /// event about it any more.
    SessionLost,
}

/// A running attempt as the worker tracks it.
struct Entry {
    wfi: WorkflowInstanceId,
    /// Identity (with the owner's epoch) and master the events go to; a re-dispatch by a new
    /// owner changes both.
    id: AttemptId,
    master_addr: String,
    started: Option<Started>,
    stop: watch::Sender<Option<Stop>>,
    /// Killed on a session loss: its events are no longer wanted.
    lost: bool,
}

/// Shared by every clone of a [`Worker`] and every attempt task.
pub(crate) struct Inner {
    pub(crate) config: WorkerConfig,
    attempts: Mutex<HashMap<AttemptKey, Entry>>,
    /// Attempts this worker told a probe it does not know (locked after `attempts`): their
    /// masters run new attempts instead, so a late dispatch of one is refused.
    written_off: Mutex<HashMap<AttemptKey, std::time::Instant>>,
    /// Number of running attempts, watched by `shutdown` and `kill_all`.
    running: watch::Sender<usize>,
    stopping: AtomicBool,
    pub(crate) reporter: Reporter,
    index: Mutex<LogIndex>,
    pub(crate) workdirs: WorkDirs,
    /// Kills the attempts' process groups if this worker dies; `None` where it cannot run.
    pub(crate) watchdog: Option<Arc<Watchdog>>,
    /// What every task inherits of this process's environment (read once).
    pub(crate) base_env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    /// What the worker's metrics count and show.
    pub(crate) metrics: WorkerMetrics,
    /// Ships ended attempts' logs to the archive, when there is one.
    pub(crate) archiver: Option<Archiver>,
}

impl Inner {
    /// How many attempts run right now.
    pub(crate) fn running_now(&self) -> usize {
        *self.running.borrow()
    }

    fn event(&self, id: AttemptId, event: task_event::Event) -> TaskEvent {
        TaskEvent {
            id: Some(id),
            worker: self.config.id.clone(),
            event: Some(event),
        }
    }

    /// Records that the attempt's process started and tells its master.
    pub(crate) fn started(&self, key: AttemptKey, started: Started) {
        let mut attempts = self.attempts.lock().expect("attempt table poisoned");
        if let Some(entry) = attempts.get_mut(&key) {
            entry.started = Some(started);
            if !entry.lost {
                let event = self.event(entry.id, task_event::Event::Started(started));
                self.reporter.send(&entry.master_addr, event);
            }
        }
    }

    /// Tells the attempt's master that it ran past its timeout (strategy warn or both). Goes
    /// through the outbox like every event, so it is not lost.
    pub(crate) fn timed_out(&self, key: AttemptKey, timed_out: baton_proto::TimedOut) {
        let attempts = self.attempts.lock().expect("attempt table poisoned");
        if let Some(entry) = attempts.get(&key) {
            if !entry.lost {
                let event = self.event(entry.id, task_event::Event::TimedOut(timed_out));
                self.reporter.send(&entry.master_addr, event);
            }
        }
    }

    /// Tells a service attempt's master that its process is up (once per up period).
    pub(crate) fn healthy(&self, key: AttemptKey, healthy: baton_proto::Healthy) {
        self.note(key, task_event::Event::Healthy(healthy));
    }

    /// Tells a service attempt's master that its process was started again.
    pub(crate) fn restarted(&self, key: AttemptKey, restarted: baton_proto::Restarted) {
        self.note(key, task_event::Event::Restarted(restarted));
    }

    /// Sends an event of a running attempt (not one a session loss killed) through the outbox.
    fn note(&self, key: AttemptKey, event: task_event::Event) {
        let attempts = self.attempts.lock().expect("attempt table poisoned");
        if let Some(entry) = attempts.get(&key) {
            if !entry.lost {
                let event = self.event(entry.id, event);
                self.reporter.send(&entry.master_addr, event);
            }
        }
    }

    /// Ends the attempt: queues its Finished event and frees its slot in one step, so that a
    /// master reacting to the event already finds the slot free.
    pub(crate) fn finish(&self, key: AttemptKey, finished: Finished) {
        let mut attempts = self.attempts.lock().expect("attempt table poisoned");
        if let Some(entry) = attempts.remove(&key) {
            if !entry.lost {
                let event = self.event(entry.id, task_event::Event::Finished(finished));
                self.reporter.send(&entry.master_addr, event);
            }
        }
        self.running.send_replace(attempts.len());
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Lets a new worker open the outbox at once; what is pending stays in it.
        self.reporter.close();
    }
}

/// A worker: runs the attempts masters dispatch to it and reports on them. Cheap to clone; all
/// clones share one state, so the gRPC service and the embedding process see the same attempts.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

impl Worker {
    /// Starts a worker with nothing running: opens its outbox (`data_dir/outbox/`, locked
    /// against a second worker on the same data directory) and starts sending again the
    /// events a previous life left unacknowledged, each to the master recorded with it. Other
    /// directories are created when the first attempt needs them. Must be called inside a
    /// Tokio runtime.
    pub fn open(config: WorkerConfig) -> Result<Worker, OpenError> {
        Worker::open_with(config, SEGMENT_BYTES)
    }

    /// Like [`Worker::open`], for callers that cannot handle the error: panics when the
    /// outbox cannot be opened (unwritable data directory, or another worker using it).
    pub fn new(config: WorkerConfig) -> Worker {
        Worker::open(config).unwrap_or_else(|e| panic!("cannot start the worker: {e}"))
    }

    /// [`Worker::open`] with the outbox compacting past `segment_bytes` (tests use less).
    pub(crate) fn open_with(config: WorkerConfig, segment_bytes: u64) -> Result<Worker, OpenError> {
        let reporter = Reporter::open(
            &config.data_dir.join("outbox"),
            Settings {
                reroute_after: config.reroute_after,
                report_timeout: config.report_timeout,
                segment_bytes,
                key: config.cluster_key.clone(),
                tls: config.cluster_tls.clone(),
            },
        )?;
        let inner = Arc::new(Inner {
            attempts: Mutex::new(HashMap::new()),
            written_off: Mutex::new(HashMap::new()),
            running: watch::Sender::new(0),
            stopping: AtomicBool::new(false),
            reporter,
            index: Mutex::new(LogIndex::new(LOG_INDEX_CAPACITY)),
            workdirs: WorkDirs::new(&config.data_dir),
            watchdog: Watchdog::start(&config.id).map(Arc::new),
            base_env: config.task_base_env(),
            metrics: WorkerMetrics::new(),
            archiver: config.log_archive.clone().map(|archive| {
                Archiver::start(archive, config.data_dir.clone(), config.archive_backoff)
            }),
            config,
        });
        inner.metrics.watch(Arc::downgrade(&inner));
        Ok(Worker { inner })
    }

    /// The worker's metrics, to serve; the holder of its registry session says there whether
    /// it holds it ([`WorkerMetrics::set_session`]).
    pub fn metrics(&self) -> &WorkerMetrics {
        &self.inner.metrics
    }

    /// The tonic service to mount, e.g. `Server::builder().add_service(worker.service())`:
    /// it refuses every call that does not prove membership of the cluster (see
    /// [`baton_proto::auth`]).
    pub fn service(&self) -> WorkerGrpc {
        let check = baton_proto::auth::Check::new(self.inner.config.cluster_key.clone());
        let server =
            baton_proto::worker_server::WorkerServer::new(WorkerService::new(self.clone()))
                .max_decoding_message_size(baton_proto::sizes::MAX_DISPATCH_BYTES)
                .max_encoding_message_size(baton_proto::sizes::MAX_REPLY_BYTES);
        tonic::service::interceptor::InterceptedService::new(server, check)
    }

    /// The settings this worker runs with.
    pub fn config(&self) -> &WorkerConfig {
        &self.inner.config
    }

    /// Removes, now and then periodically until the process ends, the logs of workflow
    /// instances last written longer than `keep` ago (none of an attempt running here, none
    /// not archived yet), so that the logs of instances removed by retention do not stay on
    /// the worker's disk; with [`WorkerConfig::archive_retention`], from its `file://`
    /// archive too.
    pub fn spawn_log_retention(&self, keep: Duration) -> tokio::task::JoinHandle<()> {
        let every = (keep / 10).clamp(Duration::from_secs(60), Duration::from_secs(3600));
        let config = &self.inner.config;
        let archive_dir = match config.log_archive.as_ref().map(|a| a.url()) {
            Some(baton_logstore::ArchiveUrl::Directory(dir)) if config.archive_retention => {
                Some(dir.clone())
            }
            Some(_) | None => None,
        };
        let worker = self.clone();
        tokio::spawn(async move {
            loop {
                if let Some(archiver) = &worker.inner.archiver {
                    let _ = tokio::time::timeout(ARCHIVE_CATCH_UP, archiver.caught_up()).await;
                }
                let running: HashSet<WorkflowInstanceId> = {
                    let attempts = worker
                        .inner
                        .attempts
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    attempts.values().map(|e| e.wfi).collect()
                };
                let dir = worker.inner.config.data_dir.clone();
                let archive_dir = archive_dir.clone();
                let swept = tokio::task::spawn_blocking(move || {
                    let archived = match &archive_dir {
                        Some(archive) => logfile::sweep_dir(archive, keep, &running)?,
                        None => 0,
                    };
                    Ok::<_, std::io::Error>(logfile::sweep(&dir, keep, &running)? + archived)
                })
                .await;
                match swept {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!("removed the logs of {n} old workflow instances"),
                    Ok(Err(e)) => tracing::warn!("removing old logs failed (will try again): {e}"),
                    Err(e) => tracing::warn!("removing old logs failed (will try again): {e}"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// How many attempts run right now (each holds a slot).
    pub fn running(&self) -> usize {
        *self.inner.running.borrow()
    }

    /// Stops taking dispatches, lets running attempts end on their own for up to `grace`, kills
    /// what is still running then, and waits (within the same grace) for every event in the
    /// outbox to be acknowledged. Used for an orderly stop, so that short tasks are not cut off
    /// needlessly. What is still unacknowledged at the end stays in the outbox (synced to disk)
    /// for the next start.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + grace;
        if tokio::time::timeout_at(deadline, self.idle())
            .await
            .is_err()
        {
            tracing::info!(
                running = self.running(),
                "shutdown grace is over; killing the attempts still running"
            );
            self.kill_all().await;
        }
        let flush_until = deadline.max(tokio::time::Instant::now() + FLUSH_AFTER_KILL);
        if tokio::time::timeout_at(flush_until, self.inner.reporter.flushed())
            .await
            .is_err()
        {
            tracing::warn!(
                pending = self.inner.reporter.pending(),
                "stopping with task events not yet acknowledged by their master; they stay in the outbox for the next start"
            );
        }
        self.inner.reporter.sync().await;
    }

    /// Tells the worker which masters are alive (as heartbeats report them), so that events
    /// whose master is unreachable, or whose instance has no owner yet, have somewhere to go.
    /// Replaces the previous list; masters seen in dispatches are used only while it is empty.
    pub fn set_masters(&self, addrs: Vec<String>) {
        self.inner.reporter.set_masters(addrs);
    }

    /// The cluster considers this worker dead (its session expired) and runs its attempts
    /// elsewhere, so none of them may go on: each running attempt's process group gets SIGKILL
    /// at once, and their events not yet sent (and any they would still produce) are dropped,
    /// since the masters would refuse them. Events of attempts that ended before stay queued.
    /// Dispatches are taken again right away (the caller registers anew).
    pub fn session_lost(&self) {
        let attempts = &mut *self.inner.attempts.lock().expect("attempt table poisoned");
        let mut lost = HashSet::new();
        for (key, entry) in attempts.iter_mut() {
            entry.lost = true;
            entry.stop.send_replace(Some(Stop::SessionLost));
            lost.insert(*key);
        }
        let dropped = self.inner.reporter.drop_attempts(&lost);
        tracing::warn!(
            killed = lost.len(),
            dropped_events = dropped,
            "session lost: killed the running attempts and dropped their events"
        );
    }

    /// Kills every running attempt at once (SIGKILL to each process group) and waits until
    /// they are gone and their Finished events queued. Also stops taking dispatches: this is for
    /// a fatal stop, where leaving processes behind would be worse than cutting them off.
    pub async fn kill_all(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        {
            let attempts = self.inner.attempts.lock().expect("attempt table poisoned");
            for entry in attempts.values() {
                if !entry.lost {
                    entry.stop.send_replace(Some(Stop::Shutdown));
                }
            }
        }
        self.idle().await;
    }

    /// Waits until no attempt runs.
    async fn idle(&self) {
        let mut rx = self.inner.running.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Accepts an attempt and starts it in the background. A second dispatch of an attempt
    /// that is running is accepted without starting it again; if it comes from a new owner
    /// (epoch or master changed), later events go to that owner. So is a dispatch of an
    /// attempt that ended here (its Finished event waits, or was acknowledged and is still
    /// remembered): it is not run again, and its events still waiting go to the dispatcher.
    pub(crate) fn dispatch(&self, request: DispatchRequest) -> Result<(), DispatchError> {
        let config = &self.inner.config;
        self.accept(request, |kind| executors::plan(kind, config))
    }

    /// Dispatches an attempt that runs `plan`, whatever its kind says: for tests of how
    /// attempts run, with executors that only tests have.
    #[cfg(test)]
    pub(crate) fn dispatch_plan(
        &self,
        request: DispatchRequest,
        plan: executors::Plan,
    ) -> Result<(), DispatchError> {
        self.accept(request, |_| plan)
    }

    /// [`Worker::dispatch`], with the plan of the task's kind from `plan_of`.
    fn accept(
        &self,
        request: DispatchRequest,
        plan_of: impl FnOnce(&dispatch_request::Kind) -> executors::Plan,
    ) -> Result<(), DispatchError> {
        let id = request.id.ok_or(DispatchError::MissingId)?;
        let kind = request.kind.as_ref().ok_or(DispatchError::MissingKind)?;
        if request.deadline_us > 0 && baton_proto::now_us() > request.deadline_us {
            return Err(DispatchError::TooLate);
        }
        self.inner.reporter.dispatched(
            WorkflowInstanceId(id.workflow_instance_id),
            &request.master_addr,
        )?;
        let key = key_of(&id);
        let stop_rx = {
            let mut attempts = self.inner.attempts.lock().expect("attempt table poisoned");
            if self.is_written_off(key) {
                return Err(DispatchError::WrittenOff);
            }
            if let Some(entry) = attempts.get_mut(&key) {
                if entry.lost {
                    return Err(DispatchError::BeingKilled);
                }
                if entry.id != id || entry.master_addr != request.master_addr {
                    tracing::info!(?id, master = %request.master_addr, "attempt re-dispatched by a new owner; rerouting its events");
                    entry.id = id;
                    entry.master_addr = request.master_addr.clone();
                    if let Some(started) = entry.started {
                        let event = self.inner.event(id, task_event::Event::Started(started));
                        self.inner.reporter.send(&entry.master_addr, event);
                    }
                }
                return Ok(());
            }
            // Checked under the attempt table's lock, which `finish` holds while it queues the
            // Finished event: an attempt that is not in the table has ended or never ran.
            match self.inner.reporter.trace(key) {
                Trace::Ended => {
                    tracing::info!(?id, master = %request.master_addr, "attempt dispatched again after it ended here; not run again");
                    return Ok(());
                }
                Trace::Unfinished => {
                    // Events of a run that died (with a previous life of this worker, or on a
                    // session loss): that run is over, and this one starts afresh.
                    self.inner.reporter.drop_attempts(&HashSet::from([key]));
                }
                Trace::None => {}
            }
            if self.inner.stopping.load(Ordering::SeqCst) {
                return Err(DispatchError::Stopping);
            }
            if attempts.len() >= self.inner.config.slots {
                return Err(DispatchError::NoFreeSlot);
            }
            let (stop_tx, stop_rx) = watch::channel(None);
            attempts.insert(
                key,
                Entry {
                    wfi: WorkflowInstanceId(id.workflow_instance_id),
                    id,
                    master_addr: request.master_addr.clone(),
                    started: None,
                    stop: stop_tx,
                    lost: false,
                },
            );
            self.inner.running.send_replace(attempts.len());
            stop_rx
        };
        self.inner
            .index
            .lock()
            .expect("log index poisoned")
            .insert(key, WorkflowInstanceId(id.workflow_instance_id));
        let plan = plan_of(kind);
        self.start(id, request, plan, stop_rx);
        Ok(())
    }

    /// Starts an accepted attempt in the background.
    pub(crate) fn start(
        &self,
        id: AttemptId,
        request: DispatchRequest,
        plan: executors::Plan,
        stop_rx: watch::Receiver<Option<Stop>>,
    ) {
        let key = key_of(&id);
        let job = Job {
            key,
            kind: request
                .kind
                .as_ref()
                .map_or("unknown", crate::metrics::kind_label),
            workflow_instance: WorkflowInstanceId(id.workflow_instance_id),
            workflow_name: request.workflow_name,
            task_name: request.task_name,
            env: request.env,
            timeout: (request.timeout_ms > 0).then(|| Duration::from_millis(request.timeout_ms)),
            // An unknown value (a newer master) counts as the default.
            timeout_strategy: baton_proto::TimeoutStrategy::try_from(request.timeout_strategy)
                .unwrap_or_default(),
            collect_subtasks: request.collect_subtasks,
        };
        tracing::debug!(?id, task = %job.task_name, "attempt accepted");
        tokio::spawn(attempt::run(self.inner.clone(), job, plan, stop_rx));
    }

    /// Asks a running attempt to stop (SIGTERM, grace, SIGKILL to its group); false when it
    /// does not run here.
    pub(crate) fn kill(&self, id: AttemptId) -> bool {
        let attempts = self.inner.attempts.lock().expect("attempt table poisoned");
        match attempts.get(&key_of(&id)) {
            Some(entry) => {
                entry.stop.send_replace(Some(Stop::Kill));
                true
            }
            None => false,
        }
    }

    /// What this worker knows of each attempt in `request` (see `ProbeRequest`), in order:
    ///
    /// - `Running` while its process runs here (not once a session loss killed it);
    /// - `Ended` when its Finished event was queued here, in this life or a previous one:
    ///   the event waits in the outbox, or a master acknowledged it (the last 100 000 such
    ///   attempts are remembered; one whose event waits is never forgotten);
    /// - `Unknown` otherwise. Events of it that still wait (a Started event of a run that died
    ///   with a previous life, or was killed on a session loss) are dropped then, as on a
    ///   session loss: the prober runs it again, and only a report already in flight may still
    ///   bring one of them.
    ///
    /// With a `master_addr`, the prober is taken for the owner of the workflow instances of the
    /// attempts found running or ended, as a dispatch from it would: their events go to it.
    pub(crate) fn probe(&self, request: ProbeRequest) -> Vec<AttemptStatus> {
        let addr = request.master_addr.as_str();
        let route = match self.inner.reporter.check_addr(addr) {
            _ if addr.is_empty() => None,
            Ok(()) => Some(addr),
            Err(e) => {
                tracing::warn!(error = %e, "probe from an unusable master address; events are not rerouted to it");
                None
            }
        };
        let mut attempts = self.inner.attempts.lock().expect("attempt table poisoned");
        let mut statuses = Vec::with_capacity(request.ids.len());
        for id in &request.ids {
            let key = key_of(id);
            let status = match attempts.get_mut(&key) {
                Some(entry) if entry.lost => AttemptStatus::Unknown,
                Some(entry) => {
                    if let Some(addr) = route {
                        if entry.master_addr != addr {
                            addr.clone_into(&mut entry.master_addr);
                        }
                    }
                    AttemptStatus::Running
                }
                None => match self.inner.reporter.trace(key) {
                    Trace::Ended => AttemptStatus::Ended,
                    Trace::Unfinished => {
                        let dropped = self.inner.reporter.drop_attempts(&HashSet::from([key]));
                        tracing::info!(?id, dropped_events = dropped, "probed attempt did not end here and does not run; dropped its leftover events");
                        AttemptStatus::Unknown
                    }
                    Trace::None => AttemptStatus::Unknown,
                },
            };
            if status == AttemptStatus::Unknown {
                self.write_off(key);
            }
            if status != AttemptStatus::Unknown {
                if let Some(addr) = route {
                    if let Err(e) = self
                        .inner
                        .reporter
                        .dispatched(WorkflowInstanceId(id.workflow_instance_id), addr)
                    {
                        tracing::warn!(error = %e, "rerouting events to a prober failed");
                    }
                }
            }
            statuses.push(status);
        }
        statuses
    }

    fn is_written_off(&self, key: AttemptKey) -> bool {
        let written_off = self
            .inner
            .written_off
            .lock()
            .expect("written-off table poisoned");
        written_off.contains_key(&key)
    }

    /// Remembers an attempt answered as unknown; entries go after 10 minutes, far past any
    /// dispatch deadline.
    fn write_off(&self, key: AttemptKey) {
        let mut written_off = self
            .inner
            .written_off
            .lock()
            .expect("written-off table poisoned");
        let now = std::time::Instant::now();
        if written_off.len() >= 4096 {
            written_off.retain(|_, at| now.duration_since(*at) < Duration::from_secs(600));
        }
        written_off.insert(key, now);
    }

    /// Reads part of an attempt's log (see `ReadLogRequest`).
    pub(crate) async fn read_log(&self, request: ReadLogRequest) -> std::io::Result<ReadLogReply> {
        let (tid, attempt) = (request.task_instance_id, request.attempt);
        let key = AttemptKey::new(TaskInstanceId(tid), Attempt(attempt));
        // Whether it runs is decided before reading: if it had ended then, what is read is final.
        let (running, known_wfi) = {
            let attempts = self.inner.attempts.lock().expect("attempt table poisoned");
            match attempts.get(&key) {
                Some(entry) => (true, Some(entry.wfi)),
                None => (
                    false,
                    self.inner
                        .index
                        .lock()
                        .expect("log index poisoned")
                        .get(key),
                ),
            }
        };
        let limit = match u64::from(request.limit) {
            0 => logfile::MAX_READ,
            n => n.min(logfile::MAX_READ),
        };
        let from = if request.from_end {
            logfile::ReadFrom::End(request.offset)
        } else {
            logfile::ReadFrom::Start(request.offset)
        };
        let data_dir = self.inner.config.data_dir.clone();
        let (found_wfi, range) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            if let Some(wfi) = known_wfi {
                let path = logfile::log_path(&data_dir, wfi, key);
                return Ok((None, logfile::read_range(&path, from, limit)?));
            }
            match logfile::scan(&data_dir, key) {
                Some((wfi, path)) => Ok((Some(wfi), logfile::read_range(&path, from, limit)?)),
                None => Ok((None, None)),
            }
        })
        .await
        .map_err(std::io::Error::other)??;
        if let Some(wfi) = found_wfi {
            self.inner
                .index
                .lock()
                .expect("log index poisoned")
                .insert(key, wfi);
        }
        Ok(match range {
            Some(range) => ReadLogReply {
                complete: !running && range.next_offset >= range.len,
                next_offset: range.next_offset,
                offset: range.offset,
                size: range.len,
                data: range.data,
                found: true,
            },
            // It runs or ran here, and has printed nothing (the file is made on the first byte).
            None if known_wfi.is_some() => ReadLogReply {
                data: Vec::new(),
                next_offset: 0,
                complete: !running,
                found: true,
                ..ReadLogReply::default()
            },
            None => ReadLogReply::default(),
        })
    }

    /// Identity and load, for the master's health checks and load balancing.
    pub(crate) fn ping(&self) -> PingReply {
        PingReply {
            worker_id: self.inner.config.id.clone(),
            slots: u32::try_from(self.inner.config.slots).unwrap_or(u32::MAX),
            running: u32::try_from(self.running()).unwrap_or(u32::MAX),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use baton_proto::worker_client::WorkerClient;
    use baton_proto::{KillRequest, Outcome, PingRequest};
    use tokio::net::TcpListener;

    use super::*;
    use crate::testkit::*;

    fn read(tid: i64, offset: u64, limit: u32) -> ReadLogRequest {
        ReadLogRequest {
            task_instance_id: tid,
            attempt: 1,
            offset,
            limit,
            from_end: false,
        }
    }

    #[tokio::test]
    async fn read_log_pages_through_a_log_and_says_when_it_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, shell("printf 0123456789"), &master.addr))
            .unwrap();
        master.finished(1).await;

        let r = worker.read_log(read(1, 3, 4)).await.unwrap();
        assert!(r.found);
        assert_eq!(r.data, b"3456");
        assert_eq!(r.next_offset, 7);
        assert!(!r.complete, "more to read");
        let r = worker.read_log(read(1, 7, 100)).await.unwrap();
        assert_eq!(r.data, b"789");
        assert_eq!((r.offset, r.next_offset, r.size), (7, 10, 10));
        assert!(r.complete);
        // The last 4 bytes, for a viewer that opens the log at its end.
        let r = worker
            .read_log(ReadLogRequest {
                from_end: true,
                ..read(1, 4, 100)
            })
            .await
            .unwrap();
        assert_eq!(r.data, b"6789");
        assert_eq!((r.offset, r.next_offset, r.size), (6, 10, 10));
        assert!(r.complete);

        let r = worker.read_log(read(2, 0, 100)).await.unwrap();
        assert!(!r.found);
        let mut other_attempt = read(1, 0, 100);
        other_attempt.attempt = 2;
        assert!(!worker.read_log(other_attempt).await.unwrap().found);

        // After a restart the log is found by its path alone, and it is complete.
        close(worker).await;
        let restarted = crate::testkit::worker(dir.path());
        let r = restarted.read_log(read(1, 0, 0)).await.unwrap();
        assert!(r.found && r.complete);
        assert_eq!(r.data, b"0123456789");
    }

    #[tokio::test]
    async fn an_attempt_that_printed_nothing_has_an_empty_complete_log() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, shell("true"), &master.addr))
            .unwrap();
        master.finished(1).await;
        let r = worker.read_log(read(1, 0, 0)).await.unwrap();
        assert!(r.found && r.complete && r.data.is_empty());
        assert_eq!(r.next_offset, 0);
    }

    #[tokio::test]
    async fn read_log_of_a_running_attempt_is_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, shell("echo first; sleep 1000"), &master.addr))
            .unwrap();
        let reply = within("the first line in the log", async {
            loop {
                let reply = worker.read_log(read(1, 0, 0)).await.unwrap();
                if reply.data == b"first\n" {
                    return reply;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(reply.found && !reply.complete);
        assert!(worker.kill(attempt_id(1)));
        master.finished(1).await;
        let r = worker.read_log(read(1, 0, 0)).await.unwrap();
        assert!(r.complete);
        assert!(r.data.starts_with(b"first\n"));
    }

    #[tokio::test]
    async fn a_duplicate_dispatch_does_not_start_the_attempt_again() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let req = request(1, shell("sleep 1000"), &master.addr);
        worker.dispatch(req.clone()).unwrap();
        let started = master.started(1).await;
        worker.dispatch(req.clone()).unwrap();
        assert_eq!(worker.running(), 1);

        // A new owner (higher epoch) re-dispatches it: it learns that it runs, and gets the end.
        let mut adopted = req.clone();
        adopted.id.as_mut().unwrap().epoch = 2;
        worker.dispatch(adopted).unwrap();
        let event = master.next().await;
        assert_eq!(event.id.unwrap().epoch, 2);
        assert_eq!(
            event.event,
            Some(task_event::Event::Started(started)),
            "the original start is re-announced"
        );
        assert_eq!(worker.running(), 1);
        assert!(worker.kill(attempt_id(1)));
        let event = master.next().await;
        assert_eq!(event.id.unwrap().epoch, 2);
        assert!(matches!(event.event, Some(task_event::Event::Finished(_))));
    }

    #[tokio::test]
    async fn dispatches_beyond_the_slots_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_with(dir.path(), |c| c.slots = 1);
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, shell("sleep 1000"), &master.addr))
            .unwrap();
        let refused = worker.dispatch(request(2, shell("true"), &master.addr));
        assert_eq!(refused, Err(DispatchError::NoFreeSlot));
        assert_eq!(DispatchError::NoFreeSlot.to_string(), "no free slot");
        assert!(worker.kill(attempt_id(1)));
        master.finished(1).await;
        // The slot is free as soon as Finished is queued.
        assert_eq!(worker.running(), 0);
        worker
            .dispatch(request(2, shell("true"), &master.addr))
            .unwrap();
        master.finished(2).await;
    }

    #[tokio::test]
    async fn malformed_dispatches_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut req = request(1, shell("true"), "127.0.0.1:1");
        req.id = None;
        assert_eq!(worker.dispatch(req), Err(DispatchError::MissingId));
        let mut req = request(1, shell("true"), "127.0.0.1:1");
        req.kind = None;
        assert_eq!(worker.dispatch(req), Err(DispatchError::MissingKind));
        let req = request(1, shell("true"), "");
        assert!(matches!(
            worker.dispatch(req),
            Err(DispatchError::BadMasterAddr { .. })
        ));
        assert_eq!(worker.running(), 0);
    }

    #[tokio::test]
    async fn shutdown_lets_short_tasks_finish() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, shell("sleep 0.2; echo ok"), &master.addr))
            .unwrap();
        let begun = Instant::now();
        within("shutdown", worker.shutdown(Duration::from_secs(20))).await;
        assert!(begun.elapsed() < Duration::from_secs(10));
        assert_eq!(worker.running(), 0);
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        assert_eq!(
            worker.dispatch(request(2, shell("true"), &master.addr)),
            Err(DispatchError::Stopping)
        );
    }

    #[tokio::test]
    async fn shutdown_kills_what_outlives_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, shell("sleep 1000"), &master.addr))
            .unwrap();
        master.started(1).await;
        within("shutdown", worker.shutdown(Duration::from_millis(100))).await;
        assert_eq!(worker.running(), 0);
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Killed as i32);
        assert_eq!(finished.message, "killed: the worker is shutting down");
    }

    #[tokio::test]
    async fn kill_all_returns_once_every_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        for tid in 1..=2 {
            worker
                .dispatch(request(
                    tid,
                    shell("trap '' TERM; sleep 1000"),
                    &master.addr,
                ))
                .unwrap();
        }
        let a = master.started(1).await.pid;
        let b = master.started(2).await.pid;
        within("kill_all", worker.kill_all()).await;
        assert_eq!(worker.running(), 0);
        assert!(process_gone(a) && process_gone(b));
        for tid in 1..=2 {
            assert_eq!(master.finished(tid).await.outcome, Outcome::Killed as i32);
        }
    }

    /// A worker serving gRPC on a loopback port of its own, named by that address.
    async fn serving(dir: &std::path::Path) -> (Worker, std::net::SocketAddr, Served) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let worker = worker_with(dir, |c| c.id = addr.to_string());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::serve(worker.clone(), listener, async {
            let _ = stopped.await;
        }));
        (worker, addr, Served { stop, server })
    }

    /// The gRPC server of [`serving`], until stopped.
    struct Served {
        stop: tokio::sync::oneshot::Sender<()>,
        server: tokio::task::JoinHandle<Result<(), baton_proto::tls::TlsError>>,
    }

    impl Served {
        async fn stop(self) {
            self.stop.send(()).unwrap();
            within("the server to stop", self.server)
                .await
                .unwrap()
                .unwrap();
        }
    }

    #[tokio::test]
    async fn the_grpc_service_answers_over_the_network() {
        let dir = tempfile::tempdir().unwrap();
        let (worker, addr, served) = serving(dir.path()).await;
        let mut master = TestMaster::start().await;
        // A caller that proves nothing, or proves another cluster's secret, is refused.
        let mut stranger = within(
            "connecting",
            WorkerClient::connect(format!("http://{addr}")),
        )
        .await
        .unwrap();
        let refused = stranger.ping(PingRequest {}).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        let refused = stranger
            .dispatch(request(9, shell("echo pwned"), &master.addr))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
        let other = worker_with(&dir.path().join("other"), |_| {});
        let mut impostor = member_client(&other, addr).await;
        let refused = impostor.ping(PingRequest {}).await.unwrap_err();
        assert!(
            refused.message().contains("wrong cluster secret"),
            "{refused:?}"
        );
        assert_eq!(worker.running(), 0, "nothing refused ran");

        let mut client = member_client(&worker, addr).await;
        let ping = client.ping(PingRequest {}).await.unwrap().into_inner();
        assert_eq!(ping.worker_id, addr.to_string());
        assert_eq!(ping.running, 0);
        assert_eq!(ping.slots as usize, worker.config().slots);
        assert_eq!(ping.version, env!("CARGO_PKG_VERSION"));

        let reply = client
            .dispatch(request(1, shell("echo hello"), &master.addr))
            .await
            .unwrap()
            .into_inner();
        assert!(reply.accepted, "{}", reply.reason);
        assert_eq!(master.finished(1).await.outcome, Outcome::Succeeded as i32);
        assert_eq!(master.seen[0].worker, addr.to_string());
        let log = client.read_log(read(1, 0, 0)).await.unwrap().into_inner();
        assert!(log.found && log.complete);
        assert_eq!(log.data, b"hello\n");
        let killed = client
            .kill(KillRequest {
                id: Some(attempt_id(1)),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!killed.found);

        let mut bad = request(2, shell("true"), &master.addr);
        bad.kind = None;
        let reply = client.dispatch(bad).await.unwrap().into_inner();
        assert!(!reply.accepted);
        assert_eq!(reply.reason, "dispatch without a task kind");

        served.stop().await;
    }

    #[tokio::test]
    async fn a_dispatch_over_the_size_limit_is_refused_before_it_is_read() {
        use baton_proto::sizes::MAX_DISPATCH_BYTES;
        let dir = tempfile::tempdir().unwrap();
        let (worker, addr, served) = serving(dir.path()).await;
        let mut master = TestMaster::start().await;
        // A noop carrying `n` bytes of env (a process could not even be given that much).
        let sized = |n: usize, tid: i64| {
            let mut request = request(tid, noop(), &master.addr);
            request.env.insert("BIG".into(), "x".repeat(n));
            request
        };

        // A client without the limit (a member of an older build, say) sends it: the server
        // refuses it whole, and nothing runs.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let mut unbounded = WorkerClient::with_interceptor(
            channel,
            baton_proto::auth::Prove(worker.config().cluster_key.clone()),
        );
        let refused = unbounded
            .dispatch(sized(MAX_DISPATCH_BYTES, 1))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::OutOfRange, "{refused:?}");
        assert!(
            refused
                .message()
                .contains("decoded message length too large"),
            "{refused:?}"
        );
        // A member's client does not send it whole: tonic stops encoding it and resets the
        // stream (the master checks the size before, so this is only the last guard).
        let mut client = member_client(&worker, addr).await;
        let refused = client.dispatch(sized(MAX_DISPATCH_BYTES, 2)).await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(worker.running(), 0);

        // Just under the limit: taken.
        let request = sized(MAX_DISPATCH_BYTES - 1024, 3);
        assert!(prost::Message::encoded_len(&request) <= MAX_DISPATCH_BYTES);
        let reply = client.dispatch(request).await.unwrap().into_inner();
        assert!(reply.accepted, "{}", reply.reason);
        assert_eq!(master.finished(3).await.outcome, Outcome::Succeeded as i32);

        served.stop().await;
    }
}
