//! What one start may change about one instance: its failure strategy, its priority and the
//! worker group of its tasks (`baton workflow start --failure-strategy end --priority high
//! --worker-group g`), and the preview of a start (a dry run) that says what would run.
//!
//! The overrides are kept with the instance, so that every master that runs it (the first,
//! one that adopts it after a failover, one that recovers it) reads the same values; the
//! functions here are the one place that says which value wins.

use crate::dag::{Dag, Scope, TaskIndex};
use crate::ids::{TaskInstanceId, WorkflowInstanceId};
use crate::params::{is_system_param, upstream_outputs, RunScope, SystemContext};
use crate::spec::{valid_name, FailureStrategy, Priority, TaskSpec, WorkflowSpec};
use chrono::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The values a start gives in place of the workflow's, for that one instance. Each is
/// optional: what is not given comes from the workflow file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartOverrides {
    /// In place of the workflow's `failure_strategy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_strategy: Option<FailureStrategy>,
    /// In place of the workflow's `priority` (the instance's place among other instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// In place of the `worker_group` of every task a worker runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_group: Option<String>,
}

/// An override that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// A worker group name that no file could name either.
    #[error("worker group `{0}` is not a valid name (letters, digits, `_`, `-`, `.`; at most 100 characters)")]
    BadWorkerGroup(String),
}

impl StartOverrides {
    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == StartOverrides::default()
    }

    /// Refuses an override no workflow file could say. A worker group that no worker serves
    /// is accepted, as it is in a file: the tasks wait, saying so, until one joins.
    pub fn check(&self) -> Result<(), OverrideError> {
        match &self.worker_group {
            Some(group) if !valid_name(group) => Err(OverrideError::BadWorkerGroup(group.clone())),
            _ => Ok(()),
        }
    }

    /// The failure strategy of the instance.
    pub fn failure_strategy(&self, spec: &WorkflowSpec) -> FailureStrategy {
        self.failure_strategy.unwrap_or(spec.failure_strategy)
    }

    /// The priority of the instance.
    pub fn priority(&self, spec: &WorkflowSpec) -> Priority {
        self.priority.unwrap_or(spec.priority)
    }

    /// The worker group whose workers run `task` in this instance.
    pub fn worker_group<'a>(&'a self, task: &'a TaskSpec) -> &'a str {
        self.worker_group.as_deref().unwrap_or(&task.worker_group)
    }
}

/// The value of one param as a dry run sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "known", rename_all = "snake_case")]
pub enum PreviewValue {
    /// Known before the run: this value.
    Now {
        /// The value.
        value: String,
    },
    /// Only known at run time: it uses a time expression, a `${system.*}` param or an output
    /// param of an upstream task.
    AtRunTime,
}

/// One task a start would run, as a dry run shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPreview {
    /// The task's name.
    pub name: String,
    /// Its type, as written in the file.
    pub task_type: String,
    /// The worker group that would run it; `None` for a type the master runs itself.
    pub worker_group: Option<String>,
    /// The tasks (in scope or not) it waits for.
    pub depends_on: Vec<String>,
    /// Every param it would see, by name (system params left out).
    pub params: BTreeMap<String, PreviewValue>,
}

/// What a start would do, without doing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The failure strategy the instance would have.
    pub failure_strategy: FailureStrategy,
    /// Its priority.
    pub priority: Priority,
    /// The tasks in scope, in dependency order (a task after every task it depends on).
    pub tasks: Vec<TaskPreview>,
}

/// The tasks a start from `from` runs with `scope`, or every task when `from` is `None`; an
/// unknown task is `Err` with its name.
pub fn tasks_in_scope<'a>(
    dag: &Dag,
    from: Option<&'a str>,
    scope: Scope,
) -> Result<Vec<TaskIndex>, &'a str> {
    match from {
        None => Ok((0..dag.len()).collect()),
        Some(task) => {
            let index = dag.index_of(task).ok_or(task)?;
            Ok(dag.select(index, scope))
        }
    }
}

/// What starting `spec` with these params, overrides and tasks would run. The params are
/// expected to be checked already (`params::check_start`); a value is shown as known only
/// when it comes out the same whatever the run's times, ids and upstream outputs are.
pub fn preview(
    spec: &WorkflowSpec,
    start: &BTreeMap<String, String>,
    overrides: &StartOverrides,
    only: &[TaskIndex],
) -> Preview {
    let dag = Dag::new(spec);
    let tasks = dag
        .topological_order()
        .into_iter()
        .filter(|i| only.contains(i))
        .map(|i| task_preview(spec, &spec.tasks[i], start, overrides))
        .collect();
    Preview {
        failure_strategy: overrides.failure_strategy(spec),
        priority: overrides.priority(spec),
        tasks,
    }
}

fn task_preview(
    spec: &WorkflowSpec,
    task: &TaskSpec,
    start: &BTreeMap<String, String>,
    overrides: &StartOverrides,
) -> TaskPreview {
    let worker_group = (!task.kind.is_logic()).then(|| overrides.worker_group(task).to_string());
    TaskPreview {
        name: task.name.clone(),
        task_type: task.kind.type_name().to_string(),
        worker_group,
        depends_on: task.depends_on.clone(),
        params: preview_params(spec, task, start),
    }
}

/// Resolves the task's params under two different runs (times, ids, upstream outputs): what
/// agrees is known now, what differs (or does not resolve) is only known at run time.
fn preview_params(
    spec: &WorkflowSpec,
    task: &TaskSpec,
    start: &BTreeMap<String, String>,
) -> BTreeMap<String, PreviewValue> {
    let outputs = upstream_outputs(spec, task);
    let runs: Vec<Option<BTreeMap<String, String>>> = [(2001, "a"), (2002, "b")]
        .into_iter()
        .map(|(year, mark)| {
            let upstream = outputs
                .iter()
                .map(|n| (n.clone(), format!("\u{0}{mark}")))
                .collect();
            let ctx = context(spec, year);
            let scope = RunScope {
                workflow: spec,
                task,
                start,
                upstream: &upstream,
                ctx: &ctx,
            };
            scope.task_params().ok()
        })
        .collect();
    let [first, second] = [&runs[0], &runs[1]];
    let names: Vec<&String> = first
        .iter()
        .chain(second.iter())
        .flat_map(|m| m.keys())
        .collect();
    names
        .into_iter()
        .filter(|n| !is_system_param(n))
        .map(|name| {
            let a = first.as_ref().and_then(|m| m.get(name));
            let b = second.as_ref().and_then(|m| m.get(name));
            let value = match (a, b) {
                (Some(a), Some(b)) if a == b => PreviewValue::Now { value: a.clone() },
                _ => PreviewValue::AtRunTime,
            };
            (name.clone(), value)
        })
        .collect()
}

/// A made-up run in `year`, with ids that differ by year.
fn context(spec: &WorkflowSpec, year: i32) -> SystemContext {
    let at = chrono_tz::UTC
        .with_ymd_and_hms(year, 3, 4, 5, 6, 7)
        .single()
        .expect("a fixed valid time");
    SystemContext {
        schedule_time: at,
        start_time: at,
        workflow_name: spec.name.clone(),
        workflow_instance_id: WorkflowInstanceId(i64::from(year)),
        task_instance_id: TaskInstanceId(i64::from(year)),
        attempt: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> WorkflowSpec {
        WorkflowSpec::from_yaml(text, "w.yaml").expect("a valid file")
    }

    const FILE: &str = "name: w\nfailure_strategy: continue\npriority: low\nparams:\n  region: eu\n  day: $[yyyyMMdd]\ntasks:\n  - {name: c, type: shell, command: 'echo ${region} ${x}', depends_on: [b], worker_group: gpu}\n  - {name: a, type: shell, command: 'echo setValue(x=1)'}\n  - {name: b, type: switch, depends_on: [a], cases: [{when: 'true', then: [c]}]}\n";

    #[test]
    fn nothing_overridden_keeps_the_files_values() {
        let s = spec(FILE);
        let none = StartOverrides::default();
        assert!(none.is_empty());
        assert_eq!(none.failure_strategy(&s), FailureStrategy::Continue);
        assert_eq!(none.priority(&s), Priority::Low);
        assert_eq!(none.worker_group(&s.tasks[0]), "gpu");
        assert_eq!(none.worker_group(&s.tasks[1]), "default");
    }

    #[test]
    fn overrides_win_over_the_file() {
        let s = spec(FILE);
        let o = StartOverrides {
            failure_strategy: Some(FailureStrategy::End),
            priority: Some(Priority::Highest),
            worker_group: Some("g".into()),
        };
        assert_eq!(o.failure_strategy(&s), FailureStrategy::End);
        assert_eq!(o.priority(&s), Priority::Highest);
        assert_eq!(o.worker_group(&s.tasks[0]), "g");
        assert_eq!(o.worker_group(&s.tasks[1]), "g");
    }

    #[test]
    fn a_bad_worker_group_name_is_refused_and_an_unserved_one_is_not() {
        let bad = StartOverrides {
            worker_group: Some("no spaces".into()),
            ..Default::default()
        };
        assert_eq!(
            bad.check(),
            Err(OverrideError::BadWorkerGroup("no spaces".into()))
        );
        let unserved = StartOverrides {
            worker_group: Some("nobody-serves-this".into()),
            ..Default::default()
        };
        assert_eq!(unserved.check(), Ok(()));
    }

    #[test]
    fn overrides_read_back_from_json_as_written() {
        let o = StartOverrides {
            failure_strategy: Some(FailureStrategy::End),
            priority: None,
            worker_group: Some("g".into()),
        };
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(text, r#"{"failure_strategy":"end","worker_group":"g"}"#);
        assert_eq!(serde_json::from_str::<StartOverrides>(&text).unwrap(), o);
        assert_eq!(
            serde_json::from_str::<StartOverrides>("{}").unwrap(),
            StartOverrides::default()
        );
    }

    #[test]
    fn a_preview_lists_tasks_in_dependency_order_with_their_groups() {
        let s = spec(FILE);
        let all: Vec<TaskIndex> = (0..s.tasks.len()).collect();
        let p = preview(&s, &BTreeMap::new(), &StartOverrides::default(), &all);
        let names: Vec<&str> = p.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(p.failure_strategy, FailureStrategy::Continue);
        assert_eq!(p.tasks[0].worker_group.as_deref(), Some("default"));
        assert_eq!(p.tasks[1].worker_group, None, "the master runs a switch");
        assert_eq!(p.tasks[1].task_type, "switch");
        assert_eq!(p.tasks[2].worker_group.as_deref(), Some("gpu"));
        let grouped = StartOverrides {
            worker_group: Some("g".into()),
            ..Default::default()
        };
        let p = preview(&s, &BTreeMap::new(), &grouped, &all);
        assert_eq!(p.tasks[2].worker_group.as_deref(), Some("g"));
        assert_eq!(p.tasks[1].worker_group, None);
    }

    #[test]
    fn a_preview_resolves_what_it_can_and_says_what_waits_for_the_run() {
        let s = spec(FILE);
        let all: Vec<TaskIndex> = (0..s.tasks.len()).collect();
        let start = BTreeMap::from([("region".to_string(), "us".to_string())]);
        let p = preview(&s, &start, &StartOverrides::default(), &all);
        let c = &p.tasks[2];
        assert_eq!(c.params["region"], PreviewValue::Now { value: "us".into() });
        assert_eq!(
            c.params["day"],
            PreviewValue::AtRunTime,
            "a time expression"
        );
        assert_eq!(c.params["x"], PreviewValue::AtRunTime, "an upstream output");
        assert!(c.params.keys().all(|k| !k.starts_with("system.")));
    }

    #[test]
    fn a_preview_keeps_only_the_tasks_in_scope() {
        let s = spec(FILE);
        let dag = Dag::new(&s);
        let only = tasks_in_scope(&dag, Some("b"), Scope::Downstream).unwrap();
        let p = preview(&s, &BTreeMap::new(), &StartOverrides::default(), &only);
        let names: Vec<&str> = p.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        assert_eq!(tasks_in_scope(&dag, Some("zz"), Scope::Only), Err("zz"));
        assert_eq!(tasks_in_scope(&dag, None, Scope::Only).unwrap().len(), 3);
    }
}
