//! Rebuilding the engine from the store: at start-up (after a crash or a clean stop) and after
//! a tick the store refused. The store is the truth; memory is only a cache of it.

use crate::attempts::{apply_to_row, attempt_of, Facts};
use crate::engine::{Engine, Inst, Slot, Tick};
use crate::MasterError;
use baton_core::attempt::{Change, Rules};
use baton_core::run::{InstanceRun, Node};
use baton_core::{EventKind, TaskState, WorkflowState};
use baton_store::{now_us, EngineTx, InstanceRecord, StoreError};
use std::cmp::Reverse;

impl Engine {
    /// Resumes every running or stopping instance after a start-up. Attempts that were on a
    /// worker are taken as lost (in standalone, the worker restarted with us) and run again as
    /// a new attempt.
    pub async fn recover(&mut self) -> Result<(), MasterError> {
        Ok(self.recover_with(!self.config.cluster).await?)
    }

    /// Rebuilds memory from the store. With `lost_in_flight`, attempts recorded as dispatched
    /// or running are written off and queued again; otherwise they are awaited.
    pub(crate) async fn recover_with(&mut self, lost_in_flight: bool) -> Result<(), StoreError> {
        let records = self.store.active_instances(Some(&self.config.id)).await?;
        let mut tx = self.store.begin_engine().await?;
        let mut tick = Tick::default();
        let mut loaded = Ok(());
        for record in records {
            loaded = self
                .load_instance(&mut tx, record, lost_in_flight, &mut tick)
                .await;
            if loaded.is_err() {
                break;
            }
        }
        if loaded.is_ok() {
            loaded = self.writes.flush(&mut tx).await;
        }
        if let Err(e) = loaded {
            // Release the row locks now, not when the pooled connection is next used.
            let _ = tx.rollback().await;
            return Err(e);
        }
        tx.commit().await?;
        if !tick.kills.is_empty() || !tick.published.is_empty() {
            tracing::info!(
                "recovery: {} kills, {} events",
                tick.kills.len(),
                tick.published.len()
            );
        }
        Ok(())
    }

    /// Takes charge of one instance as the store has it. With `lost_in_flight`, attempts
    /// recorded as dispatched or running are written off and queued again; otherwise they are
    /// awaited (their workers report to us).
    pub(crate) async fn load_instance(
        &mut self,
        tx: &mut EngineTx,
        record: InstanceRecord,
        lost_in_flight: bool,
        tick: &mut Tick,
    ) -> Result<(), StoreError> {
        {
            let id = record.id;
            let version = self
                .specs
                .get(&self.store, record.workflow_id, record.version)
                .await?;
            let dag = version.dag.clone();
            let mut nodes = match &record.only_tasks {
                Some(only) => crate::engine::outside_scope(&dag, only),
                None => vec![Node::Waiting; dag.len()],
            };
            let mut slots: Vec<Option<Slot>> = vec![None; dag.len()];
            let mut queue = Vec::new();
            // Logic tasks to start (queued again by a recover), and whether a sub-workflow
            // may have a child that ended while nobody listened.
            let mut logic_starts = Vec::new();
            let mut children = false;
            for task in tx.task_instances(id).await? {
                let Some(index) = dag.index_of(&task.task_name) else {
                    continue;
                };
                let mut slot = task.clone();
                let kind = &version.spec.tasks[index].kind;
                nodes[index] = match task.state {
                    TaskState::Succeeded => Node::Succeeded,
                    TaskState::Skipped => Node::Skipped,
                    TaskState::Running if kind.is_logic() => {
                        if matches!(kind, baton_core::TaskKind::Dependent { .. }) {
                            self.checks
                                .push(Reverse((self.now(), task.id, task.attempt)));
                        } else {
                            children = true;
                        }
                        Node::Active
                    }
                    state if kind.is_logic() && state.is_active() => {
                        logic_starts.push(index);
                        Node::Active
                    }
                    TaskState::Failed => Node::Failed,
                    TaskState::Killed => Node::Killed,
                    TaskState::RetryWait => {
                        let due = task.next_retry_at.unwrap_or_else(now_us);
                        self.retries.push(Reverse((due, task.id, task.attempt)));
                        Node::Active
                    }
                    TaskState::Dispatched | TaskState::Running if !lost_in_flight => {
                        if let Some(w) = &task.worker {
                            self.dispatcher.occupy(w);
                            // Dispatched by another master (or our previous life): make sure
                            // the worker has it.
                            self.probe_workers.insert(w.clone());
                        }
                        Node::Active
                    }
                    TaskState::Submitted | TaskState::Paused => {
                        queue.push(index);
                        Node::Active
                    }
                    TaskState::Dispatched | TaskState::Running | TaskState::NeedFailover => {
                        // Its worker stopped with this node: run it again.
                        let rerun = Rules {
                            failover: baton_core::FailoverPolicy::Rerun,
                            ..Rules::of(&version.spec.tasks[index])
                        };
                        let lost = attempt_of(&slot).lose(&rerun);
                        let change = match lost {
                            Change::Stale(_) => Change::Queued {
                                number: task.attempt + 1,
                            },
                            lost => lost,
                        };
                        let facts = Facts {
                            message: Some("lost: its worker stopped while it ran"),
                            ..Facts::default()
                        };
                        apply_to_row(&mut self.writes, &mut slot, &change, &facts);
                        queue.push(index);
                        Node::Active
                    }
                };
                if nodes[index] == Node::Active {
                    self.tasks.insert(task.id, (id, index));
                }
                slots[index] = Some(slot);
            }
            let stopping = record.state == WorkflowState::Stopping;
            let mut run = InstanceRun::restore(dag, version.spec.failure_strategy, nodes, stopping);
            if matches!(record.state, WorkflowState::Pausing | WorkflowState::Paused) {
                run.restore_paused();
            }
            for index in queue {
                let spec = &version.spec.tasks[index];
                let slot = slots[index].as_mut().expect("queued tasks have a slot");
                if run.is_paused() {
                    // Held by the pause until a resume.
                    let held = attempt_of(slot).hold();
                    apply_to_row(&mut self.writes, slot, &held, &Facts::default());
                    run.hold(index);
                    continue;
                }
                let release = attempt_of(slot).release();
                apply_to_row(&mut self.writes, slot, &release, &Facts::default());
                self.dispatcher.enqueue(
                    slot.id,
                    &spec.worker_group,
                    record.priority,
                    spec.queue_priority(),
                );
            }
            let inst = Inst {
                name: record.name,
                version,
                params: record.params,
                priority: record.priority,
                state: record.state,
                epoch: record.epoch,
                schedule_time: record
                    .schedule_time
                    .or(record.started_at)
                    .unwrap_or(record.submitted_at),
                started_at: record.started_at.unwrap_or(record.submitted_at),
                schedule_id: record.schedule_id,
                parent: record.parent_instance_id,
                run,
                slots,
            };
            self.resume(tx, id, inst, tick).await?;
            for index in logic_starts {
                let steps = self.start_logic(tx, id, index, tick).await?;
                self.apply(tx, id, steps, tick).await?;
            }
            if children {
                self.children_ended(tx, id, tick).await?;
            }
        }
        Ok(())
    }

    /// `recover`: an ended (failed or stopped) instance runs again what failed, was killed or
    /// did not run; what succeeded stays, outputs included. Each task run again gets a new
    /// attempt and a fresh retry budget.
    pub(crate) async fn recover_instance(
        &mut self,
        tx: &mut EngineTx,
        id: baton_core::WorkflowInstanceId,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let Some(record) = tx.instance(id).await? else {
            return Ok(());
        };
        let lease = baton_store::Lease {
            owner: &self.config.id,
            epoch: record.epoch + 1,
        };
        if !tx.reopen_instance(id, lease).await? {
            tracing::warn!("recover of instance {id} ignored: it is {}", record.state);
            return Ok(());
        }
        let mut again = Vec::new();
        for mut task in tx.task_instances(id).await? {
            if crate::attempts::reopen(&mut task) {
                again.push(task);
            }
        }
        tx.upsert_tasks(&again).await?;
        let Some(record) = tx.instance(id).await? else {
            return Ok(());
        };
        let message = format!("recovered: {} task(s) run again", again.len());
        let event =
            crate::lifecycle::of_record(&record, EventKind::InstanceRecovered, self.now(), message);
        self.writes.events.push(event);
        self.load_instance(tx, record, false, t).await
    }
}
