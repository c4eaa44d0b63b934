//! One engine on a throwaway store, and the worker reports a test makes up.

use crate::engine::{Engine, Tick};
use crate::{Clock, ClusterView, MasterConfig, Msg, WorkerEndpoint};
use baton_core::attempt::DispatchFailure;
use baton_core::{TaskInstanceId, WorkflowInstanceId};
use baton_proto::{task_event, AttemptId, DispatchRequest, Outcome, TaskEvent};
use baton_store::testing::TestDb;
use baton_store::{NewInstance, Store, TaskInstanceRecord};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// The worker every test dispatches to.
pub const WORKER: &str = "127.0.0.1:1";

/// An engine, its store and its hand-moved clock.
pub struct Harness {
    _db: Option<TestDb>,
    pub store: Store,
    pub engine: Engine,
    clock: Arc<AtomicI64>,
    _rx: mpsc::UnboundedReceiver<Msg>,
}

/// A worker endpoint of the default group with `slots` slots.
pub fn worker(id: &str, slots: usize) -> WorkerEndpoint {
    WorkerEndpoint {
        id: id.to_string(),
        address: id.to_string(),
        group: "default".into(),
        slots,
        cpu: 0.0,
        load1: 0.0,
        session: "s1".into(),
    }
}

impl Harness {
    /// A standalone engine with one worker of 8 slots.
    pub async fn standalone() -> Harness {
        Harness::with(false, vec![worker(WORKER, 8)]).await
    }

    /// An engine; `cluster`: it takes part in a cluster (adoption, lost workers).
    pub async fn with(cluster: bool, workers: Vec<WorkerEndpoint>) -> Harness {
        let db = TestDb::sqlite();
        let store = db.store().await;
        Harness::on(Some(db), store, "m1", cluster, workers).await
    }

    /// Another master of the same cluster, on the same store.
    pub async fn second(&self, id: &str) -> Harness {
        Harness::on(None, self.store.clone(), id, true, Vec::new()).await
    }

    /// Runs one SQL statement on the store's database, behind the store's back.
    pub async fn sql(&self, statement: &str) {
        let db = self
            ._db
            .as_ref()
            .expect("the harness that made the database");
        db.execute(statement).await;
    }

    /// The same master started again on the same store (standalone: what was on a worker
    /// is taken as lost with it).
    pub async fn restart(&self) -> Harness {
        let workers = vec![worker(WORKER, 8)];
        let again = Harness::on(None, self.store.clone(), "m1", false, workers).await;
        again.set_now(self.now());
        again
    }

    async fn on(
        db: Option<TestDb>,
        store: Store,
        id: &str,
        cluster: bool,
        workers: Vec<WorkerEndpoint>,
    ) -> Harness {
        let clock = Arc::new(AtomicI64::new(1_800_000_000_000_000));
        let read = clock.clone();
        let config = MasterConfig {
            cluster,
            clock: Clock::from_fn(move || read.load(Ordering::SeqCst)),
            ..MasterConfig::new(id, id)
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let mut engine = Engine::new(store.clone(), config, workers, events, tx);
        engine.recover().await.expect("the engine recovers");
        // In a cluster, as if the registry had just confirmed this master's session.
        engine.session_alive = true;
        Harness {
            _db: db,
            store,
            engine,
            clock,
            _rx: rx,
        }
    }

    /// Moves the clock on.
    pub fn advance(&self, by: Duration) {
        let us = i64::try_from(by.as_micros()).expect("a test duration");
        self.clock.fetch_add(us, Ordering::SeqCst);
    }

    /// Sets the engine's clock to `at` (µs): for a test that needs a given time, such as the
    /// next fire of a schedule applied on the system clock.
    pub fn set_now(&self, at: i64) {
        self.clock.store(at, Ordering::SeqCst);
    }

    /// The time now by the engine's clock (µs).
    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    /// Applies a workflow file and submits an instance of it.
    pub async fn start(&self, yaml: &str) -> WorkflowInstanceId {
        let workflow = baton_store::testing::applied(&self.store, yaml).await;
        let new = NewInstance {
            workflow: &workflow,
            params: BTreeMap::new(),
            overrides: Default::default(),
        };
        self.store.create_instance(new).await.unwrap()
    }

    /// Applies a workflow file and submits an instance of it with these start overrides.
    pub async fn start_with(
        &self,
        yaml: &str,
        overrides: baton_core::start::StartOverrides,
    ) -> WorkflowInstanceId {
        let workflow = baton_store::testing::applied(&self.store, yaml).await;
        let new = NewInstance {
            workflow: &workflow,
            params: BTreeMap::new(),
            overrides,
        };
        self.store.create_instance(new).await.unwrap()
    }

    /// One tick that takes commands, with these worker reports.
    pub async fn tick_with(&mut self, reports: Vec<TaskEvent>) -> Tick {
        self.tick_all(reports, Vec::new()).await
    }

    /// One tick with nothing new but the time.
    pub async fn tick(&mut self) -> Tick {
        self.tick_all(Vec::new(), Vec::new()).await
    }

    /// One tick in which these dispatches failed.
    pub async fn tick_failed(&mut self, failed: Vec<(&DispatchRequest, DispatchFailure)>) -> Tick {
        let failed = failed
            .into_iter()
            .map(|(d, f)| {
                let id = d.id.expect("an attempt id");
                let task = TaskInstanceId(id.task_instance_id);
                (task, i64::from(id.attempt), WORKER.to_string(), f)
            })
            .collect();
        self.tick_all(Vec::new(), failed).await
    }

    async fn tick_all(
        &mut self,
        reports: Vec<TaskEvent>,
        failed: Vec<(TaskInstanceId, i64, String, DispatchFailure)>,
    ) -> Tick {
        let mut tick = Tick::default();
        let reports = if reports.is_empty() {
            Vec::new()
        } else {
            vec![reports]
        };
        self.engine
            .tick(true, reports, failed, Vec::new(), &mut tick)
            .await
            .expect("the tick commits");
        tick
    }

    /// Tells the engine what the registry sees.
    pub fn view(&mut self, masters: &[&str], workers: Vec<WorkerEndpoint>) {
        self.engine.set_view(ClusterView {
            masters: masters.iter().map(|m| m.to_string()).collect(),
            workers,
        });
    }

    /// The task instance of that name, as stored.
    pub async fn task(&self, id: WorkflowInstanceId, name: &str) -> TaskInstanceRecord {
        self.store
            .task_instances(id)
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.task_name == name)
            .unwrap_or_else(|| panic!("no task `{name}` in instance {id}"))
    }

    /// The instance's state, as stored.
    pub async fn state(&self, id: WorkflowInstanceId) -> baton_core::WorkflowState {
        self.store.get_instance(id).await.unwrap().unwrap().state
    }

    /// The kinds of the instance's lifecycle events, oldest first.
    pub async fn event_kinds(&self, id: WorkflowInstanceId) -> Vec<String> {
        let filter = baton_store::EventFilter {
            instance: Some(id),
            after: Some(0),
            limit: Some(1000),
            ..Default::default()
        };
        let events = self.store.list_events(&filter).await.unwrap();
        events
            .iter()
            .map(|e| e.event.kind.as_str().to_string())
            .collect()
    }
}

/// Ticks until the task is dispatched (a worker rests briefly after a failed send).
pub async fn wait_dispatch(h: &mut Harness, task: &str) -> DispatchRequest {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let tick = h.tick().await;
        if let Some((_, d)) = tick.dispatches.iter().find(|(_, d)| d.task_name == task) {
            return d.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "`{task}` was never dispatched again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The name of the task a dispatch is for.
pub fn name(d: &DispatchRequest) -> &str {
    &d.task_name
}

/// The dispatches of a tick, by task name (in the tick's order).
pub fn names(tick: &Tick) -> Vec<&str> {
    tick.dispatches.iter().map(|(_, d)| name(d)).collect()
}

/// The dispatch of the task of that name in a tick.
pub fn dispatched<'a>(tick: &'a Tick, task: &str) -> &'a DispatchRequest {
    tick.dispatches
        .iter()
        .map(|(_, d)| d)
        .find(|d| d.task_name == task)
        .unwrap_or_else(|| panic!("`{task}` was not dispatched: {:?}", names(tick)))
}

fn event(d: &DispatchRequest, event: task_event::Event) -> TaskEvent {
    TaskEvent {
        id: Some(AttemptId {
            ..d.id.expect("an attempt id")
        }),
        worker: WORKER.into(),
        event: Some(event),
    }
}

/// The worker reports the attempt started.
pub fn started(d: &DispatchRequest, at_us: i64) -> TaskEvent {
    event(
        d,
        task_event::Event::Started(baton_proto::Started { at_us, pid: 1 }),
    )
}

/// The worker reports the attempt ended.
pub fn finished(d: &DispatchRequest, outcome: Outcome, at_us: i64) -> TaskEvent {
    let exit_code = match outcome {
        Outcome::Succeeded => Some(0),
        Outcome::Failed => Some(1),
        Outcome::Unspecified | Outcome::TimedOut | Outcome::Killed => None,
    };
    event(
        d,
        task_event::Event::Finished(baton_proto::Finished {
            started_at_us: at_us,
            ended_at_us: at_us,
            outcome: outcome as i32,
            exit_code,
            message: String::new(),
            outputs: Default::default(),
            subtasks: Vec::new(),
        }),
    )
}

/// The worker reports the attempt ran past its timeout (and goes on).
pub fn timed_out(d: &DispatchRequest, at_us: i64) -> TaskEvent {
    event(
        d,
        task_event::Event::TimedOut(baton_proto::TimedOut {
            at_us,
            timeout_ms: 1000,
            message: "timed out after 1s; the task goes on".into(),
        }),
    )
}

/// A Finished report with these output params.
pub fn with_outputs(mut event: TaskEvent, outputs: &[(&str, &str)]) -> TaskEvent {
    if let Some(task_event::Event::Finished(f)) = &mut event.event {
        f.outputs = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    event
}
