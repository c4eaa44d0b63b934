//! Checks before a run: every task must resolve, so that a typo in `${name}` or `$[...]`
//! is refused at submit time instead of failing a task hours later.
//!
//! Output params are only known once upstream tasks run, so a name counts as defined when an
//! upstream task (direct or not) has `setValue(NAME=` in its text, or when the caller lists
//! it in `may_set` (for keys computed at run time). The schedule time is a placeholder:
//! expressions are checked for form, not for their values.

use super::resolve::{ParamError, Resolver};
use super::system::SystemContext;
use crate::ids::{TaskInstanceId, WorkflowInstanceId};
use crate::spec::{Items, TaskSpec, WorkflowSpec};
use chrono::TimeZone;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Every problem that would stop a task of `workflow` from resolving with these start-time
/// params, task by task in file order. `may_set` adds output param names upstream tasks may
/// set beyond those found in their text.
pub fn check(
    workflow: &WorkflowSpec,
    start: &BTreeMap<String, String>,
    may_set: &BTreeSet<String>,
) -> Vec<ParamError> {
    let ctx = placeholder_context(workflow);
    let by_name = ByName::of(workflow);
    workflow
        .tasks
        .iter()
        .flat_map(|task| check_task(workflow, &by_name, task, start, may_set, &ctx))
        .collect()
}

/// A workflow's tasks by name: the checks walk every task's upstream, and a search of the
/// task list per step would make a wide fan-in quadratic.
struct ByName<'a>(HashMap<&'a str, &'a TaskSpec>);

impl<'a> ByName<'a> {
    fn of(workflow: &'a WorkflowSpec) -> ByName<'a> {
        ByName(
            workflow
                .tasks
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&'a TaskSpec> {
        self.0.get(name).copied()
    }
}

/// The problems of one task; a map-reduce task's three scripts are each checked with the
/// params their slots see.
fn check_task(
    workflow: &WorkflowSpec,
    by_name: &ByName<'_>,
    task: &TaskSpec,
    start: &BTreeMap<String, String>,
    may_set: &BTreeSet<String>,
    ctx: &SystemContext,
) -> Vec<ParamError> {
    use crate::spec::map_reduce::{
        Phase, SUBTASKS_OUTPUTS_PARAM, SUBTASK_ARGS_PARAM, SUBTASK_NAME_PARAM,
    };
    // A mapped task's item (a broadcast item's worker) is bound for each item: defined,
    // whatever its value.
    let phases: Vec<(TaskSpec, Vec<String>)> = match task.items() {
        Some(Items::Map(map)) => vec![(task.clone(), map.item_params())],
        Some(Items::Broadcast) => vec![(
            task.clone(),
            vec![crate::run::broadcast::WORKER_PARAM.to_string()],
        )],
        Some(Items::MapReduce(mr)) => vec![
            (task.clone(), Vec::new()),
            (
                mr.task_of(task, Phase::Run),
                vec![SUBTASK_NAME_PARAM.into(), SUBTASK_ARGS_PARAM.into()],
            ),
            (
                mr.task_of(task, Phase::Reduce),
                vec![SUBTASKS_OUTPUTS_PARAM.into()],
            ),
        ],
        None => vec![(task.clone(), Vec::new())],
    };
    let mut problems = Vec::new();
    for (body, item) in phases {
        let upstream: BTreeMap<String, String> = outputs_upstream(by_name, task)
            .into_iter()
            .chain(may_set.iter().cloned())
            .chain(item)
            .map(|name| (name, String::new()))
            .collect();
        let mut r = Resolver::new(workflow, task, start, &upstream, ctx);
        r.task(&body);
        if let Some(map) = &task.map {
            for (_, list) in map.over.references() {
                r.text(list);
            }
        }
        if let crate::TaskKind::Switch { cases, .. } = &task.kind {
            for case in cases {
                r.condition(&case.when);
            }
        }
        problems.extend(r.finish());
    }
    // A child instance (or a sql task's first row) may pass back any output param: names
    // cannot be checked.
    if after_unknown_outputs(by_name, task) {
        problems.retain(|p| !matches!(p, ParamError::Undefined(_)));
    }
    problems
}

/// True when a task that sets outputs of unknown names (a sub_workflow, a sql task's
/// `first_row`) is upstream of `task`, directly or not.
fn after_unknown_outputs(by_name: &ByName<'_>, task: &TaskSpec) -> bool {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<&str> = task.depends_on.iter().map(String::as_str).collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(up) = by_name.get(name) {
            if up.kind.sets_unknown_outputs() {
                return true;
            }
            todo.extend(up.depends_on.iter().map(String::as_str));
        }
    }
    false
}

/// The names the tasks `task` depends on, directly or not, set according to their text.
pub fn upstream_outputs(workflow: &WorkflowSpec, task: &TaskSpec) -> BTreeSet<String> {
    outputs_upstream(&ByName::of(workflow), task)
}

fn outputs_upstream(by_name: &ByName<'_>, task: &TaskSpec) -> BTreeSet<String> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<&str> = task.depends_on.iter().map(String::as_str).collect();
    let mut names = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(up) = by_name.get(name) {
            // A mapped (or broadcast) task's items' outputs reach downstream as one JSON list.
            // A map-reduce task's are those its reduce sets.
            match up.items() {
                Some(Items::Map(_) | Items::Broadcast) => {
                    names.insert(crate::run::map::outputs_param(&up.name));
                }
                Some(Items::MapReduce(mr)) => {
                    let reduce = mr.task_of(up, crate::spec::map_reduce::Phase::Reduce);
                    names.extend(reduce.kind.output_names());
                }
                None => names.extend(up.kind.output_names()),
            }
            todo.extend(up.depends_on.iter().map(String::as_str));
        }
    }
    names
}

pub(super) fn placeholder_context(workflow: &WorkflowSpec) -> SystemContext {
    let at = chrono_tz::UTC
        .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .expect("a fixed valid time");
    SystemContext {
        schedule_time: at,
        start_time: at,
        workflow_name: workflow.name.clone(),
        workflow_instance_id: WorkflowInstanceId(0),
        task_instance_id: TaskInstanceId(0),
        attempt: 1,
    }
}
