//! One engine on a throwaway store, and the worker reports a test makes up.
//!
//! The store is a SQLite file in a temporary directory, or the in-memory store
//! ([`baton_store::memory::MemoryStore`]) when the test runs under [`on_both_stores!`],
//! which runs it once on each: the engine sees both through the same seam.

use crate::engine::{Engine, Tick};
use crate::{Clock, ClusterView, MasterConfig, Msg, WorkerEndpoint};
use baton_core::attempt::DispatchFailure;
use baton_core::{TaskInstanceId, WorkflowInstanceId};
use baton_proto::{task_event, AttemptId, DispatchRequest, Outcome, TaskEvent};
use baton_store::memory::MemoryStore;
use baton_store::testing::TestDb;
use baton_store::{
    AttemptRecord, EngineStore, EventFilter, EventRecord, InstanceRecord, NewInstance, StopRequest,
    Store, StoreError, TaskInstanceRecord, WorkflowRecord,
};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// The worker every test dispatches to.
pub const WORKER: &str = "127.0.0.1:1";

/// Which store the harnesses of a test run on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// The SQL store on a throwaway SQLite file (the default).
    Sqlite,
    /// The in-memory store.
    Memory,
}

thread_local! {
    /// The backend of the test running on this thread (a `#[tokio::test]` runs its future on
    /// the test's own thread).
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
}

/// Runs a test's body with its harnesses on `backend`.
pub async fn run_on(backend: Backend, test: impl std::future::Future<Output = ()>) {
    BACKEND.with(|b| b.set(backend));
    test.await;
}

/// Runs each of the named tests (`async fn NAME()` in the module) twice: in `sqlite::NAME` on
/// the SQL store and in `memory::NAME` on the in-memory one.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    $crate::tests::harness::run_on(
                        $crate::tests::harness::Backend::Sqlite,
                        super::$test(),
                    )
                    .await
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test]
                async fn $test() {
                    $crate::tests::harness::run_on(
                        $crate::tests::harness::Backend::Memory,
                        super::$test(),
                    )
                    .await
                }
            )*
        }
    };
}
pub(crate) use on_both_stores;

/// The store a test writes to and reads from around the engine: the SQL store or the
/// in-memory one, with the methods of the same names on both.
#[derive(Clone)]
pub enum TestStore {
    /// The SQL store.
    Sql(Store),
    /// The in-memory store.
    Memory(MemoryStore),
}

impl TestStore {
    /// The SQL store, for a test that reads what only it keeps (schedules, backfills,
    /// secrets): such a test runs on SQLite only.
    pub fn sql(&self) -> &Store {
        match self {
            TestStore::Sql(store) => store,
            TestStore::Memory(_) => panic!("this test needs the SQL store: run it on SQLite only"),
        }
    }

    /// The same store, as the engine holds it.
    fn for_engine(&self) -> Arc<dyn EngineStore> {
        match self {
            TestStore::Sql(store) => Arc::new(store.clone()),
            TestStore::Memory(store) => Arc::new(store.clone()),
        }
    }

    /// Applies a workflow file and returns its stored version.
    pub async fn applied(&self, yaml: &str) -> WorkflowRecord {
        match self {
            TestStore::Sql(store) => baton_store::testing::applied(store, yaml).await,
            TestStore::Memory(store) => store.applied(yaml).await,
        }
    }

    /// See [`Store::create_instance`].
    pub async fn create_instance(
        &self,
        new: NewInstance<'_>,
    ) -> Result<WorkflowInstanceId, StoreError> {
        match self {
            TestStore::Sql(store) => store.create_instance(new).await,
            TestStore::Memory(store) => store.create_instance(new).await,
        }
    }

    /// See [`Store::request_stop`].
    pub async fn request_stop(&self, id: WorkflowInstanceId) -> Result<StopRequest, StoreError> {
        match self {
            TestStore::Sql(store) => store.request_stop(id).await,
            TestStore::Memory(store) => store.request_stop(id).await,
        }
    }

    /// See [`Store::request_recover`].
    pub async fn request_recover(&self, id: WorkflowInstanceId) -> Result<(), StoreError> {
        match self {
            TestStore::Sql(store) => store.request_recover(id).await,
            TestStore::Memory(store) => store.request_recover(id).await,
        }
    }

    /// See [`Store::request_pause`].
    pub async fn request_pause(
        &self,
        id: WorkflowInstanceId,
        pause: bool,
    ) -> Result<(), StoreError> {
        match self {
            TestStore::Sql(store) => store.request_pause(id, pause).await,
            TestStore::Memory(store) => store.request_pause(id, pause).await,
        }
    }

    /// See [`Store::get_instance`].
    pub async fn get_instance(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Option<InstanceRecord>, StoreError> {
        match self {
            TestStore::Sql(store) => store.get_instance(id).await,
            TestStore::Memory(store) => store.get_instance(id).await,
        }
    }

    /// See [`Store::task_instances`].
    pub async fn task_instances(
        &self,
        id: WorkflowInstanceId,
    ) -> Result<Vec<TaskInstanceRecord>, StoreError> {
        match self {
            TestStore::Sql(store) => store.task_instances(id).await,
            TestStore::Memory(store) => store.task_instances(id).await,
        }
    }

    /// See [`Store::attempts`].
    pub async fn attempts(&self, id: WorkflowInstanceId) -> Result<Vec<AttemptRecord>, StoreError> {
        match self {
            TestStore::Sql(store) => store.attempts(id).await,
            TestStore::Memory(store) => store.attempts(id).await,
        }
    }

    /// See [`Store::get_schedule`].
    pub async fn get_schedule(
        &self,
        workflow: baton_core::WorkflowId,
    ) -> Result<Option<baton_store::ScheduleRecord>, StoreError> {
        match self {
            TestStore::Sql(store) => store.get_schedule(workflow).await,
            TestStore::Memory(store) => store.get_schedule(workflow).await,
        }
    }

    /// See [`Store::create_backfill`].
    pub async fn create_backfill(
        &self,
        workflow: baton_core::WorkflowId,
        times: &[i64],
        parallel: i64,
    ) -> Result<i64, StoreError> {
        match self {
            TestStore::Sql(store) => store.create_backfill(workflow, times, parallel).await,
            TestStore::Memory(store) => store.create_backfill(workflow, times, parallel).await,
        }
    }

    /// See [`Store::get_backfill`].
    pub async fn get_backfill(
        &self,
        id: i64,
    ) -> Result<Option<baton_store::BackfillRecord>, StoreError> {
        match self {
            TestStore::Sql(store) => store.get_backfill(id).await,
            TestStore::Memory(store) => store.get_backfill(id).await,
        }
    }

    /// See [`Store::list_events`].
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError> {
        match self {
            TestStore::Sql(store) => store.list_events(filter).await,
            TestStore::Memory(store) => store.list_events(filter).await,
        }
    }
}

/// An engine, its store and its hand-moved clock.
pub struct Harness {
    _db: Option<TestDb>,
    pub store: TestStore,
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
        match BACKEND.with(Cell::get) {
            Backend::Sqlite => {
                let db = TestDb::sqlite();
                let store = TestStore::Sql(db.store().await);
                Harness::on(Some(db), store, "m1", cluster, workers).await
            }
            Backend::Memory => {
                let store = TestStore::Memory(MemoryStore::new());
                Harness::on(None, store, "m1", cluster, workers).await
            }
        }
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
        store: TestStore,
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
        let mut engine = Engine::new(store.for_engine(), config, workers, events, tx);
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
        let workflow = self.store.applied(yaml).await;
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
        let workflow = self.store.applied(yaml).await;
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
