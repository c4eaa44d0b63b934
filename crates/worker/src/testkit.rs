//! Test helpers: a real (tiny) master gRPC server that records the events it receives, and
//! ways to wait on conditions with deadlines instead of sleeping and hoping.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_proto::master_server::{Master, MasterServer};
use baton_proto::{
    dispatch_request::Kind, task_event, AttemptId, DispatchRequest, Finished, NoopTask, PythonTask,
    Redirect, ReportReply, ReportRequest, ShellTask, Started, TaskEvent,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::{Worker, WorkerConfig};

/// The longest any test waits for something that should happen.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// Awaits `fut`, failing the test if it takes longer than [`DEADLINE`].
pub(crate) async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls `cond` until it holds, failing the test after [`DEADLINE`]. For conditions that have
/// no notification (another process's state, a file written by a task).
pub(crate) async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// How a test master answers for workflow instances it does not own: redirect to this
/// address (empty: nobody owns it yet).
type Rules = Arc<Mutex<HashMap<i64, String>>>;

struct Recorder {
    events: mpsc::UnboundedSender<TaskEvent>,
    rules: Rules,
    redirects: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl Master for Recorder {
    async fn report(
        &self,
        request: Request<ReportRequest>,
    ) -> Result<Response<ReportReply>, Status> {
        let rules = self.rules.lock().unwrap().clone();
        let mut redirected = HashSet::new();
        for event in request.into_inner().events {
            let wfi = event.id.expect("event without an id").workflow_instance_id;
            if rules.contains_key(&wfi) {
                redirected.insert(wfi);
            } else {
                let _ = self.events.send(event);
            }
        }
        self.redirects
            .fetch_add(redirected.len() as u64, Ordering::SeqCst);
        let redirects = redirected
            .into_iter()
            .map(|wfi| Redirect {
                workflow_instance_id: wfi,
                master_addr: rules[&wfi].clone(),
            })
            .collect();
        Ok(Response::new(ReportReply { redirects }))
    }

    async fn heartbeat(
        &self,
        _request: Request<baton_proto::HeartbeatRequest>,
    ) -> Result<Response<baton_proto::HeartbeatReply>, Status> {
        Err(Status::unimplemented("not in tests"))
    }
}

/// A master that records every event reported to it, except those of instances it was told
/// to redirect.
pub(crate) struct TestMaster {
    pub addr: String,
    events: mpsc::UnboundedReceiver<TaskEvent>,
    /// Every event received so far, in order.
    pub seen: Vec<TaskEvent>,
    rules: Rules,
    redirects: Arc<AtomicU64>,
    _stop: oneshot::Sender<()>,
}

impl TestMaster {
    /// Starts a master on a free port.
    pub(crate) async fn start() -> TestMaster {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        TestMaster::start_on(listener)
    }

    /// Starts a master on `listener`.
    pub(crate) fn start_on(listener: TcpListener) -> TestMaster {
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, events) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let rules = Rules::default();
        let redirects = Arc::new(AtomicU64::new(0));
        let recorder = Recorder {
            events: tx,
            rules: rules.clone(),
            redirects: redirects.clone(),
        };
        tokio::spawn(
            tonic::transport::Server::builder()
                // The real master's limit.
                .add_service(
                    MasterServer::new(recorder)
                        .max_decoding_message_size(baton_proto::sizes::MAX_REPORT_BYTES),
                )
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                }),
        );
        TestMaster {
            addr,
            events,
            seen: Vec::new(),
            rules,
            redirects,
            _stop: stop,
        }
    }

    /// From now on, answers events of instance `wfi` with a redirect to `to` ("" for "nobody
    /// owns it yet").
    pub(crate) fn redirect(&self, wfi: i64, to: &str) {
        self.rules.lock().unwrap().insert(wfi, to.to_string());
    }

    /// From now on, takes the events of instance `wfi`.
    pub(crate) fn accept(&self, wfi: i64) {
        self.rules.lock().unwrap().remove(&wfi);
    }

    /// How many instance redirects it has answered with.
    pub(crate) fn redirects(&self) -> u64 {
        self.redirects.load(Ordering::SeqCst)
    }

    /// The events received and not yet looked at, without waiting.
    pub(crate) fn drain(&mut self) -> Vec<TaskEvent> {
        let mut fresh = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event.clone());
            fresh.push(event);
        }
        fresh
    }

    /// The next event received.
    pub(crate) async fn next(&mut self) -> TaskEvent {
        let event = within("a task event", self.events.recv())
            .await
            .expect("master stopped");
        self.seen.push(event.clone());
        event
    }

    /// Waits for the (first) event of task instance `tid` that `pick` accepts, among those
    /// received so far or still to come.
    async fn find<T>(&mut self, tid: i64, pick: impl Fn(&task_event::Event) -> Option<T>) -> T {
        let matches = |e: &TaskEvent| {
            let id = e.id.expect("event without an id");
            if id.task_instance_id != tid {
                return None;
            }
            e.event.as_ref().and_then(&pick)
        };
        if let Some(found) = self.seen.iter().find_map(matches) {
            return found;
        }
        loop {
            let event = self.next().await;
            if let Some(found) = matches(&event) {
                return found;
            }
        }
    }

    /// Waits for the Finished event of task instance `tid`.
    pub(crate) async fn finished(&mut self, tid: i64) -> Finished {
        self.find(tid, |e| match e {
            task_event::Event::Finished(f) => Some(f.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for the TimedOut event of task instance `tid`.
    pub(crate) async fn timed_out(&mut self, tid: i64) -> baton_proto::TimedOut {
        self.find(tid, |e| match e {
            task_event::Event::TimedOut(t) => Some(t.clone()),
            _ => None,
        })
        .await
    }

    /// Waits for the Started event of task instance `tid`.
    pub(crate) async fn started(&mut self, tid: i64) -> Started {
        self.find(tid, |e| match e {
            task_event::Event::Started(s) => Some(*s),
            _ => None,
        })
        .await
    }
}

/// A worker writing under `dir`, with a short kill grace so kill tests are quick.
pub(crate) fn worker(dir: &Path) -> Worker {
    worker_with(dir, |_| {})
}

/// A worker writing under `dir`, with settings adjusted by `adjust`.
pub(crate) fn worker_with(dir: &Path, adjust: impl FnOnce(&mut WorkerConfig)) -> Worker {
    let mut config = WorkerConfig::new("test-worker", dir);
    config.kill_grace = Duration::from_secs(2);
    adjust(&mut config);
    Worker::new(config)
}

/// A dispatch of attempt 1 of task instance `tid` (in workflow instance 7) to `master`.
pub(crate) fn request(tid: i64, kind: Kind, master: &str) -> DispatchRequest {
    DispatchRequest {
        id: Some(AttemptId {
            workflow_instance_id: 7,
            task_instance_id: tid,
            attempt: 1,
            epoch: 1,
        }),
        workflow_name: "wf".into(),
        task_name: format!("task-{tid}"),
        kind: Some(kind),
        env: HashMap::new(),
        timeout_ms: 0,
        master_addr: master.into(),
        deadline_us: 0,
        timeout_strategy: 0,
        collect_subtasks: false,
    }
}

pub(crate) fn shell(command: &str) -> Kind {
    Kind::Shell(ShellTask {
        command: command.into(),
    })
}

pub(crate) fn python(script: &str) -> Kind {
    Kind::Python(PythonTask {
        script: script.into(),
    })
}

pub(crate) fn noop() -> Kind {
    Kind::Noop(NoopTask {})
}

/// A loopback address nothing listens on (yet).
pub(crate) fn free_addr() -> std::net::SocketAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    port.local_addr().unwrap()
}

/// A dispatch of a shell task that waits until the file `go` exists, so that a test decides
/// when it ends.
pub(crate) fn waiting(tid: i64, go: &Path, master: &str) -> DispatchRequest {
    let mut req = request(
        tid,
        shell("while [ ! -e \"$GO\" ]; do sleep 0.01; done"),
        master,
    );
    req.env.insert("GO".into(), go.display().to_string());
    req
}

/// Drops `worker` once nothing else holds its state (attempt tasks end just after their
/// Finished event is queued), so that its outbox is free for the next worker.
pub(crate) async fn close(worker: Worker) {
    until("the worker's tasks to let go of it", || {
        Arc::strong_count(worker.inner()) == 1
    })
    .await;
    drop(worker);
}

/// Task instance id and kind of each event, e.g. `(3, "started")`.
pub(crate) fn summary(events: &[TaskEvent]) -> Vec<(i64, &'static str)> {
    events
        .iter()
        .map(|e| {
            let kind = match e.event {
                Some(task_event::Event::Started(_)) => "started",
                Some(task_event::Event::Finished(_)) => "finished",
                Some(task_event::Event::TimedOut(_)) => "timed_out",
                Some(task_event::Event::Healthy(_)) => "healthy",
                Some(task_event::Event::Restarted(_)) => "restarted",
                None => "empty",
            };
            (e.id.unwrap().task_instance_id, kind)
        })
        .collect()
}

/// The attempt id `request` builds for `tid`.
pub(crate) fn attempt_id(tid: i64) -> AttemptId {
    request(tid, noop(), "").id.unwrap()
}

/// True when no process `pid` runs any more (gone, or a zombie waiting for its reaper).
pub(crate) fn process_gone(pid: i32) -> bool {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    if kill(Pid::from_raw(pid), None).is_err() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => true,
    }
}

/// Reads a pid a task wrote into `path`, once it is there.
pub(crate) async fn read_pid(path: &Path) -> i32 {
    let mut pid = None;
    until("the task to write its pid file", || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        pid.is_some()
    })
    .await;
    pid.unwrap()
}

/// A client of `worker`'s gRPC server at `addr`, proving membership with the worker's own
/// cluster key, as the worker's masters do.
pub(crate) async fn member_client(
    worker: &Worker,
    addr: std::net::SocketAddr,
) -> baton_proto::worker_client::WorkerClient<baton_proto::auth::MemberChannel> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap();
    let channel = within("connecting", endpoint.connect()).await.unwrap();
    baton_proto::sizes::worker_client(channel, worker.config().cluster_key.clone())
}

/// The whole log of attempt 1 of task instance `tid`, which must exist.
pub(crate) async fn log_of(worker: &Worker, tid: i64) -> String {
    let reply = worker
        .read_log(baton_proto::ReadLogRequest {
            task_instance_id: tid,
            attempt: 1,
            offset: 0,
            limit: 0,
            from_end: false,
        })
        .await
        .unwrap();
    assert!(reply.found);
    String::from_utf8(reply.data).unwrap()
}
