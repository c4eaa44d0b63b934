//! Logic tasks in the engine. `conditions` and `switch` decide their branch the moment they
//! are ready; `sub_workflow` starts a child instance and ends as the child ends (told by a
//! `child_ended` command); `dependent` looks in the store at each check interval until its
//! dependencies are met or its timeout passes. None of them goes to a worker.

use crate::attempts::{attempt_of, Facts};
use crate::engine::{Engine, Inst, Tick};
use baton_core::attempt::TaskEnd;
use baton_core::dag::TaskIndex;
use baton_core::duration::micros;
use baton_core::run::{Node, Step};
use baton_core::spec::{Dependence, Expect, Relation};
use baton_core::{params, TaskInstanceId, TaskKind, TaskState, WorkflowInstanceId, WorkflowState};
use baton_store::{CommandKind, DependencyQuery, EngineTx, NewChild, StoreError, WorkflowRecord};
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// How a logic task ended.
enum LogicEnd {
    /// A branching task chose (a branch index, or none).
    Branch(Option<usize>),
    Succeeded(BTreeMap<String, String>),
    Failed,
    Killed,
}

impl Engine {
    /// The first step of a logic task whose row was just queued (or queued again by a
    /// recover). Returns the steps of the instance it leads to.
    pub(crate) async fn start_logic(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: TaskIndex,
        t: &mut Tick,
    ) -> Result<Vec<Step>, StoreError> {
        let Some(inst) = self.instances.get(&id) else {
            return Ok(Vec::new());
        };
        let spec = inst.version.spec.tasks[index].clone();
        match &spec.kind {
            TaskKind::Conditions { condition, .. } => {
                let (end, message) = decide_conditions(inst, index, condition.as_ref());
                Ok(self.end_logic(id, index, end, &message, t))
            }
            TaskKind::Switch { cases, default } => {
                let Some((end, message)) = decide_switch(inst, id, index, cases, default) else {
                    return Ok(Vec::new());
                };
                Ok(self.end_logic(id, index, end, &message, t))
            }
            TaskKind::SubWorkflow { workflow, version } => {
                self.start_child(tx, id, index, workflow, *version, t).await
            }
            TaskKind::Dependent { .. } => {
                let attempt = self.begin_logic(id, index, "checking its dependencies", t);
                if let Some((task, attempt)) = attempt {
                    self.checks.push(Reverse((self.now(), task, attempt)));
                }
                Ok(Vec::new())
            }
            // Not logic tasks: they go to workers.
            TaskKind::Shell { .. }
            | TaskKind::Python { .. }
            | TaskKind::Noop
            | TaskKind::Http(_)
            | TaskKind::Service(_)
            | TaskKind::Sql(_) => Ok(Vec::new()),
        }
    }

    /// Marks a long-running logic task as running; returns its id and attempt.
    fn begin_logic(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        message: &str,
        t: &mut Tick,
    ) -> Option<(TaskInstanceId, i64)> {
        let now = self.attempt(id, index)?;
        let facts = Facts {
            message: Some(message),
            ..Facts::default()
        };
        let _ = self.carry_out(id, index, now.begin_in_master(), facts, t);
        let slot = self.instances.get(&id)?.slots[index].as_ref()?;
        Some((slot.id, slot.attempt))
    }

    /// Starts the child instance of a `sub_workflow` task, or fails the task when no child can
    /// run: the workflow does not exist, it would run inside itself, or its params are wrong.
    async fn start_child(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: TaskIndex,
        workflow: &str,
        version: Option<i64>,
        t: &mut Tick,
    ) -> Result<Vec<Step>, StoreError> {
        let Some(inst) = self.instances.get(&id) else {
            return Ok(Vec::new());
        };
        let project = inst.version.spec.project.clone();
        let Some(child) = self.store.get_workflow(&project, workflow, version).await? else {
            let message = no_such_workflow(&project, workflow, version);
            return Ok(self.end_logic(id, index, LogicEnd::Failed, &message, t));
        };
        if let Some(message) = self.runs_inside_itself(tx, id, &child.name).await? {
            return Ok(self.end_logic(id, index, LogicEnd::Failed, &message, t));
        }
        let new = match self.new_child(id, index, &child) {
            None => return Ok(Vec::new()),
            Some(Err(message)) => {
                return Ok(self.end_logic(id, index, LogicEnd::Failed, &message, t));
            }
            Some(Ok(new)) => new,
        };
        let child_id = tx.create_child(new).await?;
        self.record_child_submitted(id, index, child_id, &child);
        let message = format!(
            "runs child instance {child_id} (`{}` version {})",
            child.name, child.version
        );
        self.begin_logic(id, index, &message, t);
        Ok(Vec::new())
    }

    /// Why a child named `child` cannot start under instance `id`: it is already one of the
    /// instance's ancestors (or the instance itself), and would start itself again without end.
    async fn runs_inside_itself(
        &self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        child: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut ancestry = tx.ancestry(id).await?;
        let Some(inst) = self.instances.get(&id) else {
            return Ok(None);
        };
        ancestry.insert(0, inst.name.clone());
        if !ancestry.iter().any(|name| name == child) {
            return Ok(None);
        }
        ancestry.reverse();
        Ok(Some(format!(
            "`{child}` would run inside itself ({} -> {child})",
            ancestry.join(" -> ")
        )))
    }

    /// The child instance a `sub_workflow` task asks for, with the params it passes down
    /// (the task's own and those the child declares); the error says why its params cannot
    /// be resolved. `None`: the task has no row (nothing to start).
    fn new_child<'c>(
        &self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        child: &'c WorkflowRecord,
    ) -> Option<Result<NewChild<'c>, String>> {
        let inst = self.instances.get(&id)?;
        let spec = &inst.version.spec.tasks[index];
        let slot = inst.slots[index].as_ref()?;
        let visible = match inst.in_scope(id, index, |scope| scope.task_params())? {
            Ok(p) => p,
            Err(e) => return Some(Err(e.to_string())),
        };
        // Down go the task's own params and those the child declares.
        let passed: BTreeMap<String, String> = visible
            .into_iter()
            .filter(|(k, _)| spec.params.contains_key(k) || child.spec.declares(k))
            .collect();
        let refused = params::check_start(&child.spec, &passed);
        if !refused.is_empty() {
            let reasons: Vec<String> = refused.iter().map(ToString::to_string).collect();
            return Some(Err(reasons.join("; ")));
        }
        Some(Ok(NewChild {
            workflow: child,
            params: passed,
            priority: inst.priority,
            schedule_time: inst.schedule_time,
            parent: id,
            parent_task: slot.id,
        }))
    }

    /// Records the child's submission in the event log, as the store does for an instance it
    /// creates itself, so that a reader of the log sees where the child came from.
    fn record_child_submitted(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        child_id: WorkflowInstanceId,
        child: &WorkflowRecord,
    ) {
        let Some(inst) = self.instances.get(&id) else {
            return;
        };
        let submitted = baton_store::NewEvent::new(
            baton_core::EventKind::InstanceSubmitted,
            self.now(),
            format!(
                "child of instance {id} (task {})",
                inst.version.spec.tasks[index].name
            ),
        )
        .instance(child_id, &child.project, &child.name);
        self.writes.events.push(submitted);
    }

    /// Ends a logic task's attempt and returns the steps its end leads to.
    fn end_logic(
        &mut self,
        id: WorkflowInstanceId,
        index: TaskIndex,
        end: LogicEnd,
        message: &str,
        t: &mut Tick,
    ) -> Vec<Step> {
        let Some(slot) = self
            .instances
            .get(&id)
            .and_then(|i| i.slots[index].as_ref())
        else {
            return Vec::new();
        };
        let now = self.now();
        let (end, outputs) = match end {
            LogicEnd::Branch(chosen) => (TaskEnd::Branched { chosen }, None),
            LogicEnd::Succeeded(outputs) => (TaskEnd::Succeeded, Some(outputs)),
            LogicEnd::Failed => (TaskEnd::Failed, None),
            LogicEnd::Killed => (TaskEnd::Killed, None),
        };
        let facts = Facts {
            at: Some(now),
            started_at: slot.started_at.or(Some(now)),
            message: Some(message),
            outputs,
            ..Facts::default()
        };
        let change = attempt_of(slot).end_in_master(end);
        self.carry_out(id, index, change, facts, t)
    }

    /// The running logic tasks of an instance of this master: (index, task instance, kind).
    fn running_logic(&self, id: WorkflowInstanceId) -> Vec<(TaskIndex, TaskInstanceId, bool)> {
        let Some(inst) = self.instances.get(&id) else {
            return Vec::new();
        };
        inst.slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| {
                let slot = slot.as_ref()?;
                let kind = &inst.spec_of(i).kind;
                (slot.state == TaskState::Running && kind.is_logic()).then_some((
                    i,
                    slot.id,
                    matches!(kind, TaskKind::SubWorkflow { .. }),
                ))
            })
            .collect()
    }

    /// A kill of a logic task: a child instance is asked to stop (the task ends when it
    /// has); a dependent task ends at once. `None`: not a logic task.
    pub(crate) async fn kill_logic(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        index: TaskIndex,
        t: &mut Tick,
    ) -> Result<Option<Vec<Step>>, StoreError> {
        let Some((_, task, sub)) = self
            .running_logic(id)
            .into_iter()
            .find(|(i, _, _)| *i == index)
        else {
            return Ok(None);
        };
        if !sub {
            let message = "stopped while waiting for its dependencies";
            return Ok(Some(self.end_logic(
                id,
                index,
                LogicEnd::Killed,
                message,
                t,
            )));
        }
        match tx.child_of(task).await? {
            Some((child, state)) if !state.is_final() => {
                tx.queue_command(CommandKind::Stop, child).await?;
                Ok(Some(Vec::new()))
            }
            // Ended already: its child_ended command is on its way.
            Some(_) => Ok(Some(Vec::new())),
            None => Ok(Some(self.end_logic(
                id,
                index,
                LogicEnd::Killed,
                "stopped before its child started",
                t,
            ))),
        }
    }

    /// A pause or resume of an instance passes into its child instances.
    pub(crate) async fn pass_to_children(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        kind: CommandKind,
    ) -> Result<(), StoreError> {
        for (_, task, sub) in self.running_logic(id) {
            if !sub {
                continue;
            }
            if let Some((child, state)) = tx.child_of(task).await? {
                if !state.is_final() {
                    tx.queue_command(kind, child).await?;
                }
            }
        }
        Ok(())
    }

    /// A child of one of the instance's sub_workflow tasks may have ended: each task whose
    /// child has ended ends the same way, with the child's output params.
    pub(crate) async fn children_ended(
        &mut self,
        tx: &mut dyn EngineTx,
        id: WorkflowInstanceId,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        for (index, task, sub) in self.running_logic(id) {
            if !sub {
                continue;
            }
            let Some((child, state)) = tx.child_of(task).await? else {
                continue;
            };
            let (end, message) = match state {
                WorkflowState::Succeeded => (
                    LogicEnd::Succeeded(tx.instance_outputs(child).await?),
                    format!("child instance {child} succeeded"),
                ),
                WorkflowState::Failed => {
                    (LogicEnd::Failed, format!("child instance {child} failed"))
                }
                WorkflowState::Stopped => (
                    LogicEnd::Killed,
                    format!("child instance {child} was stopped"),
                ),
                _ => continue,
            };
            let steps = self.end_logic(id, index, end, &message, t);
            self.apply(tx, id, steps, t).await?;
        }
        Ok(())
    }

    /// The checks of dependent tasks that are due.
    pub(crate) async fn due_checks(
        &mut self,
        tx: &mut dyn EngineTx,
        t: &mut Tick,
    ) -> Result<(), StoreError> {
        let now = self.now();
        while let Some((task, attempt)) = crate::engine::pop_due(&mut self.checks, now) {
            let Some((id, index)) = self.current(task, attempt, TaskState::Running) else {
                continue;
            };
            let inst = &self.instances[&id];
            let slot = inst.slots[index]
                .as_ref()
                .expect("a current task has its instance and slot");
            let spec = &inst.version.spec.tasks[index];
            let TaskKind::Dependent {
                dependence,
                check_interval,
            } = &spec.kind
            else {
                continue;
            };
            let interval = micros(*check_interval);
            let deadline = spec
                .timeout
                .map(|d| slot.started_at.unwrap_or(now).saturating_add(micros(d)));
            let (met, missing) = look_up_dependencies(tx, inst, dependence).await?;
            if met {
                let steps = self.end_logic(
                    id,
                    index,
                    LogicEnd::Succeeded(BTreeMap::new()),
                    "every dependency is met",
                    t,
                );
                self.apply(tx, id, steps, t).await?;
            } else if deadline.is_some_and(|d| d <= now) {
                let message = format!("timed out; not met: {}", missing.join("; "));
                // Recorded as any attempt past its timeout is, so that alerts on
                // `task_timeout` hear of it; its failure follows.
                let timed_out =
                    baton_store::NewEvent::new(baton_core::EventKind::TaskTimeout, now, &message)
                        .instance(id, &inst.version.spec.project, &inst.name)
                        .task(task, &spec.name, attempt)
                        .once(format!("task_timeout:{task}:{attempt}"));
                self.writes.events.push(timed_out);
                let steps = self.end_logic(id, index, LogicEnd::Failed, &message, t);
                self.apply(tx, id, steps, t).await?;
            } else {
                self.show_waiting(id, index, format!("waiting for: {}", missing.join("; ")));
                let next = now
                    .saturating_add(interval)
                    .min(deadline.unwrap_or(i64::MAX));
                self.checks.push(Reverse((next, task, attempt)));
            }
        }
        Ok(())
    }

    /// Puts what a dependent task still waits for on its row, so that a user sees it, writing
    /// the row only when that changed.
    fn show_waiting(&mut self, id: WorkflowInstanceId, index: TaskIndex, message: String) {
        if let Some(slot) = self
            .instances
            .get_mut(&id)
            .and_then(|inst| inst.slots[index].as_mut())
        {
            if slot.message.as_deref() != Some(message.as_str()) {
                slot.message = Some(message);
                self.writes.touch(slot);
            }
        }
    }
}

/// Asks the store about each dependency of a dependent task of `inst`, in the window around
/// the instance's schedule time: whether the whole of `dependence` is met, and in words each
/// single dependency that is not.
async fn look_up_dependencies(
    tx: &mut dyn EngineTx,
    inst: &Inst,
    dependence: &Dependence,
) -> Result<(bool, Vec<String>), StoreError> {
    let project = &inst.version.spec.project;
    let at = chrono::DateTime::from_timestamp_micros(inst.schedule_time)
        .unwrap_or_default()
        .with_timezone(&inst.version.spec.tz());
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for item in dependence.items() {
        let (from, to) = item.date.window(at);
        let query = DependencyQuery {
            project: item.project.as_deref().unwrap_or(project),
            workflow: &item.workflow,
            task: item.task.as_deref(),
            from: from.timestamp_micros(),
            to: to.timestamp_micros(),
        };
        let met = tx.dependency_met(&query).await?;
        if !met {
            let what = match &item.task {
                Some(task) => format!("task `{task}` of `{}`", item.workflow),
                None => format!("`{}`", item.workflow),
            };
            missing.push(format!(
                "{what} succeeded for {} ({} to {})",
                item.date,
                from.format("%Y-%m-%d %H:%M %Z"),
                to.format("%Y-%m-%d %H:%M %Z")
            ));
        }
        results.push(met);
    }
    Ok((dependence.met(&mut results.into_iter()), missing))
}

/// Why a `sub_workflow` task fails when the workflow it names is not in its project.
fn no_such_workflow(project: &str, workflow: &str, version: Option<i64>) -> String {
    let which = match version {
        Some(v) => format!("version {v} of workflow `{workflow}`"),
        None => format!("workflow `{workflow}`"),
    };
    format!("{which} does not exist in project `{project}`")
}

/// Which branch a `conditions` task takes, and why.
fn decide_conditions(
    inst: &Inst,
    index: TaskIndex,
    condition: Option<&baton_core::spec::Condition>,
) -> (LogicEnd, String) {
    let dag = &inst.version.dag;
    let ended_as = |name: &str, expect: Expect| {
        let node = dag.index_of(name).map(|i| inst.run.node(i));
        match expect {
            Expect::Success => matches!(node, Some(Node::Succeeded | Node::Skipped)),
            Expect::Failure => matches!(node, Some(Node::Failed)),
        }
    };
    let holds = match condition {
        None => dag
            .predecessors(index)
            .iter()
            .all(|p| ended_as(dag.name(*p), Expect::Success)),
        Some(c) => {
            let mut each = c.tasks.iter().map(|(n, e)| ended_as(n, *e));
            match c.relation {
                Relation::And => each.all(|b| b),
                Relation::Or => each.any(|b| b),
            }
        }
    };
    let (chosen, label, verdict) = if holds {
        (0, "success", "holds")
    } else {
        (1, "failure", "does not hold")
    };
    let message = format!("the condition {verdict}: took the {label} branch");
    (LogicEnd::Branch(Some(chosen)), message)
}

/// Which branch a `switch` task takes (the first case whose condition holds, else the
/// default), and why; a case that cannot be read fails the task. `None`: the task has no row.
fn decide_switch(
    inst: &Inst,
    id: WorkflowInstanceId,
    index: TaskIndex,
    cases: &[baton_core::spec::SwitchCase],
    default: &[String],
) -> Option<(LogicEnd, String)> {
    for (i, case) in cases.iter().enumerate() {
        let resolved = inst
            .in_scope(id, index, |scope| scope.resolve_condition(&case.when))?
            .map_err(|e| e.to_string())
            .and_then(|c| baton_core::expr::eval(&c).map(|holds| (holds, c.shown)));
        match resolved {
            Ok((true, text)) => {
                let runs = cases[i].then.join(", ");
                let message = format!("case {} holds (`{text}`): runs {runs}", i + 1);
                return Some((LogicEnd::Branch(Some(i)), message));
            }
            Ok((false, _)) => {}
            Err(e) => return Some((LogicEnd::Failed, format!("case {}: {e}", i + 1))),
        }
    }
    Some(if default.is_empty() {
        let message = "no case holds and there is no default: every branch is skipped";
        (LogicEnd::Branch(None), message.to_string())
    } else {
        let message = format!("no case holds: runs the default {}", default.join(", "));
        (LogicEnd::Branch(Some(cases.len())), message)
    })
}
