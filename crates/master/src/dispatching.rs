//! The engine's side of dispatch: each attempt the queue hands out (by priority, to a worker
//! with a free slot) takes a slot of its task group, has its params resolved, is recorded as
//! dispatched and becomes a request sent after the commit. A request larger than a worker
//! accepts is not sent: its attempt fails at once, without a retry, saying its size.
//!
//! A `sql` task's data source is looked up here, in the tick's transaction, and its password
//! opened with the master's keyring: the connection goes into that one request and nowhere
//! else (not the store, not the event log, not a log line). A data source that is missing,
//! or a password this master cannot open, fails the attempt saying so. The project secrets an
//! http task's headers and body use (`${secret.NAME}`) are read and opened the same way.

use crate::attempts::Facts;
use crate::engine::{Engine, Tick};
use baton_core::attempt::DispatchTooLarge;
use baton_core::dag::TaskIndex;
use baton_core::duration::{micros, millis};
use baton_core::params::ResolvedTask;
use baton_core::{TaskInstanceId, TaskKind, WorkflowInstanceId};
use baton_proto::sizes::MAX_DISPATCH_BYTES;
use baton_proto::{dispatch_request, AttemptId, DispatchRequest};
use baton_store::{EngineTx, StoreError};
use prost::Message;
use std::collections::{BTreeMap, HashMap};

/// What became of one attempt the queue handed out.
enum Handed {
    /// Recorded as dispatched; the request goes after the commit.
    Sent(Box<DispatchRequest>),
    /// Not sent, and nothing to do (its instance ended or paused, or it failed at once).
    Dropped,
    /// Its task group has no free slot: it waits in the queue, with this message.
    Waiting(String),
}

impl Engine {
    /// Hands queued attempts to workers while slots last.
    pub(crate) async fn dispatch(
        &mut self,
        tx: &mut dyn EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        // Free slots of the task groups met in this tick (read under their row locks).
        let mut group_free: HashMap<String, i64> = HashMap::new();
        let mut waiting: Vec<(TaskInstanceId, String)> = Vec::new();
        for (task, worker) in self.dispatcher.take_gone() {
            self.fail_gone(tx, task, &worker, t).await?;
        }
        while let Some((task, worker)) = self.dispatcher.next() {
            let worker_id = self.dispatcher.worker(worker).endpoint.id.clone();
            match self
                .hand_out(tx, task, &worker_id, &mut group_free, t)
                .await?
            {
                Handed::Sent(request) => t.dispatches.push((worker, *request)),
                Handed::Dropped => self.dispatcher.release(&worker_id),
                Handed::Waiting(message) => {
                    self.dispatcher.release(&worker_id);
                    waiting.push((task, message));
                }
            }
        }
        for (task, message) in waiting {
            self.wait_in_queue(task, message);
        }
        self.mark_starved();
        Ok(())
    }

    /// One attempt the queue handed out for `worker`.
    async fn hand_out(
        &mut self,
        tx: &mut dyn EngineTx,
        task: TaskInstanceId,
        worker: &str,
        group_free: &mut HashMap<String, i64>,
        t: &mut Tick,
    ) -> Result<Handed, StoreError> {
        let Some(&(id, index)) = self.tasks.get(&task) else {
            return Ok(Handed::Dropped);
        };
        if self.instances[&id].run.is_paused() {
            // Queued before the pause (a requeue after a lost worker, say): held.
            let steps = self.hold(id, index);
            self.apply(tx, id, steps, t).await?;
            return Ok(Handed::Dropped);
        }
        let group = self.instances[&id].spec_of(index).task_group.clone();
        if let Some(group) = group {
            if let Err(message) = take_group_slot(tx, group_free, group).await? {
                return Ok(Handed::Waiting(message));
            }
        }
        let secrets = match self.task_secrets(tx, id, index).await? {
            Ok(secrets) => secrets,
            Err(message) => return self.fail_to_prepare(tx, id, index, &message, t).await,
        };
        let resolved = match self.resolve(id, index, &secrets) {
            Ok(resolved) => resolved,
            // Checked when the instance was created; only a hand-edited store gets here.
            Err(message) => return self.fail_to_prepare(tx, id, index, &message, t).await,
        };
        let connection = match &resolved.kind {
            TaskKind::Sql(sql) => {
                let project = self.instances[&id].version.spec.project.clone();
                match self.sql_connection(tx, &project, &sql.datasource).await? {
                    Ok(connection) => Some(connection),
                    Err(message) => return self.fail_to_prepare(tx, id, index, &message, t).await,
                }
            }
            _ => None,
        };
        let extra = Extra {
            connection,
            redact: secrets.into_values().collect(),
        };
        match self.send(id, index, worker, resolved, extra, t) {
            Ok(handed) => Ok(handed),
            Err(too_large) => {
                let message = too_large.to_string();
                tracing::warn!("task {index} of instance {id} not dispatched: {message}");
                self.fail_to_prepare(tx, id, index, &message, t).await
            }
        }
    }

    /// Fails a queued attempt pinned to a worker that is gone (a broadcast item): it may run
    /// nowhere else.
    async fn fail_gone(
        &mut self,
        tx: &mut dyn EngineTx,
        task: TaskInstanceId,
        worker: &str,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(&(id, index)) = self.tasks.get(&task) else {
            return Ok(());
        };
        let message = baton_core::run::broadcast::gone_message(worker);
        tracing::warn!("task instance {task} not dispatched: {message}");
        self.fail_to_prepare(tx, id, index, &message, t).await?;
        Ok(())
    }

    /// Fails an attempt that cannot be dispatched at all, saying why (no retry: every attempt
    /// would fail the same way).
    async fn fail_to_prepare(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: TaskIndex,
        message: &str,
        t: &mut Tick,
    ) -> Result<Handed, StoreError> {
        let Some(now) = self.attempt(id, index) else {
            return Ok(Handed::Dropped);
        };
        let facts = Facts {
            message: Some(message),
            ..Facts::default()
        };
        let steps = self.carry_out(id, index, now.fail_to_prepare(), facts, t);
        self.apply(tx, id, steps, t).await?;
        Ok(Handed::Dropped)
    }

    /// Where a `sql` task of `project` connects to reach its data source `name`, its password
    /// opened; the error says, for the attempt's message, why it cannot.
    async fn sql_connection(
        &self,
        tx: &mut dyn EngineTx,
        project: &str,
        name: &str,
    ) -> Result<Result<baton_proto::SqlConnection, String>, StoreError> {
        let Some(record) = tx.datasource(project, name).await? else {
            return Ok(Err(format!(
                "data source `{name}` does not exist in project `{project}` (create it with \
                 `baton datasource create {name} --project {project} …`)"
            )));
        };
        let kind = match record.kind.parse::<baton_datasource::Kind>() {
            Ok(kind) => proto_kind(kind),
            Err(e) => return Ok(Err(format!("data source `{name}`: {e}"))),
        };
        let password = match &record.secret {
            None => None,
            Some(sealed) => {
                let Some(keyring) = self.config.keyring.as_deref() else {
                    return Ok(Err(format!(
                        "data source `{name}` has a password, and this master has no secret key \
                         to open it with: start the master with --secret-key-file (the API's key)"
                    )));
                };
                let context = baton_datasource::secret_context(project, name);
                match keyring.open_text(&context, sealed) {
                    Ok(password) => Some(password.to_string()),
                    Err(e) => {
                        return Ok(Err(format!(
                            "data source `{name}`: its password cannot be opened: {e}"
                        )))
                    }
                }
            }
        };
        Ok(Ok(baton_proto::SqlConnection {
            kind: kind as i32,
            url: record.url,
            password,
            name: name.to_string(),
        }))
    }

    /// The values of the project secrets the task uses (an http task's headers and body),
    /// opened with the keyring; the error says, for the attempt's message, why they cannot be.
    async fn task_secrets(
        &self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: TaskIndex,
    ) -> Result<Result<BTreeMap<String, String>, String>, StoreError> {
        let inst = &self.instances[&id];
        let spec = &inst.version.spec;
        let names = baton_core::params::secrets::used(&inst.spec_of(index).kind);
        if names.is_empty() {
            return Ok(Ok(BTreeMap::new()));
        }
        let project = spec.project.clone();
        let Some(keyring) = self.config.keyring.as_deref() else {
            return Ok(Err(
                "the task uses project secrets, and this master has no secret key to open them with: start the master with --secret-key-file (the API's key)"
                    .into(),
            ));
        };
        let found = tx.secrets(&project, &names).await?;
        let mut values = BTreeMap::new();
        for name in names {
            let Some(record) = found.iter().find(|r| r.name == name) else {
                return Ok(Err(format!(
                    "project `{project}` has no secret `{name}` (set it with `baton secret set \
                     {name} --project {project}`)"
                )));
            };
            match keyring.open_text(
                &baton_secrets::project_secret_context(&project, &name),
                &record.sealed,
            ) {
                Ok(value) => values.insert(name, value.to_string()),
                Err(e) => return Ok(Err(format!("secret `{name}` cannot be opened: {e}"))),
            };
        }
        Ok(Ok(values))
    }

    /// The task's params, env and command, resolved for its current attempt.
    fn resolve(
        &self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        secrets: &BTreeMap<String, String>,
    ) -> Result<ResolvedTask, String> {
        let inst = &self.instances[&id];
        let item = inst.binding(index);
        let body = inst.phase_task(index);
        inst.in_scope(id, index, |scope| match (&item, &body) {
            (Some(params), Some(body)) => scope.resolve_item_as(body, params, secrets),
            (Some(params), None) => scope.resolve_item(params, secrets),
            (None, _) => scope.resolve_task_with_secrets(secrets),
        })
        .ok_or("the task has no row")?
        .map_err(|e| e.to_string())
    }

    /// Builds the attempt's request and records it as dispatched to `worker`; a request
    /// larger than a worker accepts is not recorded, and the caller fails the attempt.
    fn send(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        worker: &str,
        resolved: ResolvedTask,
        extra: Extra,
        t: &mut Tick,
    ) -> Result<Handed, DispatchTooLarge> {
        let Some(request) = self.request(id, index, resolved, extra) else {
            return Ok(Handed::Dropped);
        };
        let size = request.encoded_len();
        if size > MAX_DISPATCH_BYTES {
            return Err(DispatchTooLarge {
                size,
                limit: MAX_DISPATCH_BYTES,
            });
        }
        let Some(now) = self.attempt(id, index) else {
            return Ok(Handed::Dropped);
        };
        let facts = Facts {
            worker: Some(worker),
            ..Facts::default()
        };
        let _ = self.carry_out(id, index, now.dispatch(), facts, t);
        Ok(Handed::Sent(Box::new(request)))
    }

    /// The dispatch of the task's current attempt.
    fn request(
        &self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        resolved: ResolvedTask,
        extra: Extra,
    ) -> Option<DispatchRequest> {
        let Some(kind) = dispatch_kind(resolved.kind, resolved.statements, extra) else {
            tracing::error!("task {index} of instance {id} runs in the master: a bug");
            return None;
        };
        let inst = &self.instances[&id];
        let spec = inst.spec_of(index);
        let slot = inst.slots[index].as_ref()?;
        Some(DispatchRequest {
            id: Some(AttemptId {
                workflow_instance_id: id.0,
                task_instance_id: slot.id.0,
                attempt: u32::try_from(slot.attempt).unwrap_or(u32::MAX),
                epoch: u64::try_from(inst.epoch).unwrap_or(0),
            }),
            workflow_name: inst.name.clone(),
            task_name: slot.task_name.clone(),
            kind: Some(kind),
            env: resolved.env.into_iter().collect(),
            timeout_ms: spec.timeout.map(millis).unwrap_or(0),
            timeout_strategy: crate::alerts::strategy(spec.timeout_strategy),
            master_addr: self.config.address.clone(),
            // Half the dispatch timeout: a dispatch still in flight when the master writes
            // the attempt off (after the whole timeout) is refused by the worker, with room
            // for clocks that disagree by less than half the timeout.
            deadline_us: self
                .now()
                .saturating_add(micros(self.config.dispatch_timeout) / 2),
            collect_subtasks: inst.is_split(index),
        })
    }

    /// A task whose group is full waits in the queue for a later tick, saying why.
    fn wait_in_queue(&mut self, task: TaskInstanceId, message: String) {
        let Some(&(id, index)) = self.tasks.get(&task) else {
            return;
        };
        self.enqueue(id, index);
        let Some(slot) = self
            .instances
            .get_mut(&id)
            .and_then(|inst| inst.slots[index].as_mut())
        else {
            return;
        };
        if slot.message.as_deref() != Some(message.as_str()) {
            slot.message = Some(message);
            self.writes.touch(slot);
        }
    }

    /// Queued attempts of a group without any live worker say so (a visible wait, not a
    /// silent hang).
    fn mark_starved(&mut self) {
        for group in self.dispatcher.starved_groups() {
            let message = format!("waiting: no live worker in group `{group}`");
            for task in self.dispatcher.queued_in(&group) {
                let Some(&(id, index)) = self.tasks.get(&task) else {
                    continue;
                };
                let Some(slot) = self
                    .instances
                    .get_mut(&id)
                    .and_then(|i| i.slots[index].as_mut())
                else {
                    continue;
                };
                if slot.message.as_deref() != Some(message.as_str()) {
                    slot.message = Some(message.clone());
                    self.writes.touch(slot);
                }
            }
        }
    }
}

/// Takes a slot of the task group, or says why the task must wait.
async fn take_group_slot(
    tx: &mut dyn EngineTx,
    group_free: &mut HashMap<String, i64>,
    group: String,
) -> Result<Result<(), String>, StoreError> {
    if !group_free.contains_key(&group) {
        let free = tx.task_group_free(std::slice::from_ref(&group)).await?;
        group_free.insert(group.clone(), free.get(&group).copied().unwrap_or(-1));
    }
    let free = group_free.get_mut(&group).expect("just read");
    if *free < 0 {
        return Ok(Err(format!("waiting: task group `{group}` does not exist")));
    }
    if *free == 0 {
        return Ok(Err(format!("waiting: task group `{group}` is full")));
    }
    *free -= 1;
    Ok(Ok(()))
}

/// What a dispatch carries beside the resolved task, opened by the master for it alone.
struct Extra {
    /// A sql task's connection to its data source.
    connection: Option<baton_proto::SqlConnection>,
    /// The values of the secrets an http task uses, for the worker to keep out of its log.
    redact: Vec<String>,
}

/// An http task as a worker receives it.
fn http_task(http: baton_core::spec::HttpSpec, redact: Vec<String>) -> baton_proto::HttpTask {
    let (body, body_is_json) = match (http.body, http.body_text) {
        (Some(json), _) => (Some(json.to_string()), true),
        (None, text) => (text, false),
    };
    baton_proto::HttpTask {
        method: http.method.as_str().to_string(),
        url: http.url,
        headers: http.headers.into_iter().collect(),
        body,
        body_is_json,
        expect_status: http.expect_status.into_iter().map(u32::from).collect(),
        outputs: http.outputs.into_iter().collect(),
        redact,
    }
}

/// The protocol's name of a data source kind.
fn proto_kind(kind: baton_datasource::Kind) -> baton_proto::DataSourceKind {
    match kind {
        baton_datasource::Kind::Postgresql => baton_proto::DataSourceKind::Postgresql,
        baton_datasource::Kind::Mysql => baton_proto::DataSourceKind::Mysql,
        baton_datasource::Kind::Sqlite => baton_proto::DataSourceKind::Sqlite,
    }
}

/// A sql task as a worker receives it: its statements with their bound values, and where to
/// run them.
fn sql_task(
    sql: baton_core::spec::SqlSpec,
    statements: Vec<baton_core::params::embed::sql::BoundStatement>,
    connection: Option<baton_proto::SqlConnection>,
) -> baton_proto::SqlTask {
    use baton_core::spec::SqlOutputs;
    let outputs = match sql.outputs {
        SqlOutputs::None => baton_proto::SqlOutputs::None,
        SqlOutputs::FirstRow => baton_proto::SqlOutputs::FirstRow,
        SqlOutputs::AllRows => baton_proto::SqlOutputs::AllRows,
    };
    baton_proto::SqlTask {
        connection,
        statements: statements
            .into_iter()
            .map(|s| baton_proto::SqlStatement {
                parts: s.parts,
                args: s.args,
            })
            .collect(),
        outputs: outputs as i32,
        max_rows: sql.max_rows,
        transaction: sql.transaction,
    }
}

/// A service's dispatch: its command and how the worker keeps it up.
fn service_task(service: baton_core::spec::ServiceSpec) -> baton_proto::ServiceTask {
    use baton_core::duration::millis;
    use baton_core::spec::{HealthProbe, RestartPolicy};
    use baton_proto::{health_check::Probe, ServiceRestart};
    let restart = match service.restart {
        RestartPolicy::Always => ServiceRestart::Always,
        RestartPolicy::OnFailure => ServiceRestart::OnFailure,
        RestartPolicy::Never => ServiceRestart::Never,
    };
    let health = service.health.map(|h| baton_proto::HealthCheck {
        probe: Some(match h.probe {
            HealthProbe::Http(url) => Probe::Http(url),
            HealthProbe::Command(command) => Probe::Command(command),
        }),
        interval_ms: millis(h.interval),
        failures: h.failures,
        timeout_ms: millis(h.timeout),
        start_period_ms: millis(h.start_period),
    });
    baton_proto::ServiceTask {
        command: service.command,
        restart: restart as i32,
        backoff_min_ms: millis(service.restart_backoff.min),
        backoff_max_ms: millis(service.restart_backoff.max),
        health,
    }
}

/// The dispatch's form of a task that runs on a worker; `None` for a task the master runs
/// itself (a logic task). Exhaustive: a new task type must say where it runs.
fn dispatch_kind(
    kind: TaskKind,
    statements: Vec<baton_core::params::embed::sql::BoundStatement>,
    extra: Extra,
) -> Option<dispatch_request::Kind> {
    match kind {
        TaskKind::Shell { command } => {
            Some(dispatch_request::Kind::Shell(baton_proto::ShellTask {
                command,
            }))
        }
        TaskKind::Python { script } => {
            Some(dispatch_request::Kind::Python(baton_proto::PythonTask {
                script,
            }))
        }
        TaskKind::Noop => Some(dispatch_request::Kind::Noop(baton_proto::NoopTask {})),
        TaskKind::Service(service) => Some(dispatch_request::Kind::Service(service_task(service))),
        TaskKind::Http(http) => Some(dispatch_request::Kind::Http(http_task(http, extra.redact))),
        TaskKind::Sql(sql) => Some(dispatch_request::Kind::Sql(sql_task(
            sql,
            statements,
            extra.connection,
        ))),
        TaskKind::SubWorkflow { .. }
        | TaskKind::Dependent { .. }
        | TaskKind::Conditions { .. }
        | TaskKind::Switch { .. } => None,
    }
}
