//! The logic task types (`sub_workflow`, `dependent`, `conditions`, `switch`): their fields
//! and their checks. They run inside the master, not on workers: they only read and create
//! state, and the branching ones decide which downstream tasks run.

use super::{Problem, TaskKind, TaskSpec};
use crate::dependence::DateCycle;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What a `dependent` task waits for: a tree of `and` / `or` over single dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, try_from = "RawDependence")]
pub enum Dependence {
    /// Every part is met.
    And {
        /// The parts.
        and: Vec<Dependence>,
    },
    /// At least one part is met.
    Or {
        /// The parts.
        or: Vec<Dependence>,
    },
    /// One workflow (or one task of it) succeeded for a date cycle.
    On(DependItem),
}

/// One dependency: a succeeded instance of `workflow` (or a succeeded `task` in one) whose
/// schedule time falls in the `date` window around this instance's schedule time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependItem {
    /// The workflow's name.
    pub workflow: String,
    /// Its project (default: this workflow's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// One task of it, rather than the whole instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The window: `today`, `last_1_days`, `this_week`, `last_month`, …
    pub date: DateCycle,
}

/// A `dependence` node as written: one map whose keys say which kind it is, so that a
/// mistake gets a message that names it (not "did not match any variant").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDependence {
    and: Option<Vec<Dependence>>,
    or: Option<Vec<Dependence>>,
    workflow: Option<String>,
    project: Option<String>,
    task: Option<String>,
    date: Option<DateCycle>,
}

impl TryFrom<RawDependence> for Dependence {
    type Error = String;
    fn try_from(raw: RawDependence) -> Result<Self, String> {
        let item = raw.workflow.is_some()
            || raw.project.is_some()
            || raw.task.is_some()
            || raw.date.is_some();
        match (raw.and, raw.or, item) {
            (Some(and), None, false) => Ok(Dependence::And { and }),
            (None, Some(or), false) => Ok(Dependence::Or { or }),
            (None, None, true) => match (raw.workflow, raw.date) {
                (Some(workflow), Some(date)) => Ok(Dependence::On(DependItem {
                    workflow,
                    project: raw.project,
                    task: raw.task,
                    date,
                })),
                (None, _) => Err("a dependency needs `workflow`".into()),
                (_, None) => Err(
                    "a dependency needs `date` (today, last_1_days, this_week, last_month, …)"
                        .into(),
                ),
            },
            _ => Err(
                "each part of `dependence` is either `and: [...]`, `or: [...]`, or one \
                      dependency `{workflow, task (optional), date}`"
                    .into(),
            ),
        }
    }
}

impl Dependence {
    /// Every single dependency in the tree, in order.
    pub fn items(&self) -> Vec<&DependItem> {
        match self {
            Dependence::And { and: parts } | Dependence::Or { or: parts } => {
                parts.iter().flat_map(|p| p.items()).collect()
            }
            Dependence::On(item) => vec![item],
        }
    }

    /// Whether the tree is met, given whether each item (in [`Dependence::items`] order) is.
    pub fn met(&self, items: &mut impl Iterator<Item = bool>) -> bool {
        match self {
            // Every part consumes its items, whatever the outcome, so that the order holds.
            Dependence::And { and: parts } => {
                let met: Vec<bool> = parts.iter().map(|p| p.met(items)).collect();
                met.into_iter().all(|m| m)
            }
            Dependence::Or { or: parts } => {
                let met: Vec<bool> = parts.iter().map(|p| p.met(items)).collect();
                met.into_iter().any(|m| m)
            }
            Dependence::On(_) => items.next().unwrap_or(false),
        }
    }
}

/// How the states of a `conditions` task's upstream tasks combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Every listed task ended as expected.
    #[default]
    And,
    /// At least one did.
    Or,
}

/// The end a `conditions` task expects of one upstream task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// It succeeded.
    Success,
    /// It failed (after its retries).
    Failure,
}

/// When a `conditions` task takes its `success` branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// How the tasks' outcomes combine.
    #[serde(default)]
    pub relation: Relation,
    /// Upstream task → the end expected of it.
    pub tasks: BTreeMap<String, Expect>,
}

/// One case of a `switch`: if `when` holds, the tasks of `then` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchCase {
    /// A condition over params, such as `${rows} > 100` (a CEL expression once substituted).
    pub when: String,
    /// The branch: one task name or a list.
    #[serde(deserialize_with = "one_or_many")]
    pub then: Vec<String>,
}

/// A task name or a list of them.
pub(super) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// Same as [`one_or_many`], for optional fields.
pub(super) fn opt_one_or_many<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    one_or_many(d).map(Some)
}

/// How often a `dependent` task looks again, unless it says otherwise.
pub fn default_check_interval() -> Duration {
    Duration::from_secs(10)
}

fn at(task: &str, message: String) -> Problem {
    Problem {
        task: Some(task.to_string()),
        line: None,
        column: None,
        message,
    }
}

/// Checks that need the whole workflow: branches name tasks of it, each branch task waits
/// on its branching task (the edge is added here, so a file need not repeat it), every task
/// after a branching task is on one of its branches, and a sub-workflow is not the workflow
/// itself.
pub(super) fn check_workflow(workflow: &str, tasks: &mut [TaskSpec]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let index: HashMap<String, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let mut edges: Vec<(usize, String)> = Vec::new();
    for task in tasks.iter() {
        if let TaskKind::SubWorkflow { workflow: w, .. } = &task.kind {
            if w == workflow {
                problems.push(at(
                    &task.name,
                    "a workflow cannot run itself as a sub_workflow".into(),
                ));
            }
        }
        if let TaskKind::Conditions {
            condition: Some(c), ..
        } = &task.kind
        {
            for upstream in c.tasks.keys() {
                if !task.depends_on.contains(upstream) {
                    problems.push(at(
                        &task.name,
                        format!(
                            "the condition names `{upstream}`, which is not in its `depends_on`"
                        ),
                    ));
                }
            }
        }
        for (label, branch) in task.kind.branches() {
            for target in branch {
                match index.get(target) {
                    None => problems.push(at(
                        &task.name,
                        format!("branch `{label}` names `{target}`, which is not a task of this workflow"),
                    )),
                    Some(_) if target == &task.name => problems.push(at(
                        &task.name,
                        format!("branch `{label}` names the task itself"),
                    )),
                    Some(&i) => edges.push((i, task.name.clone())),
                }
            }
        }
    }
    for (i, from) in edges {
        if !tasks[i].depends_on.contains(&from) {
            tasks[i].depends_on.push(from);
        }
    }
    for task in tasks.iter() {
        for dep in &task.depends_on {
            let Some(&d) = index.get(dep) else { continue };
            let up = &tasks[d];
            let branches = up.kind.branches();
            if !branches.is_empty() && !branches.iter().any(|(_, b)| b.contains(&task.name)) {
                problems.push(at(
                    &task.name,
                    format!(
                        "depends on the {} task `{}` but is on none of its branches; name it in one",
                        up.kind.type_name(),
                        up.name
                    ),
                ));
            }
        }
    }
    problems
}

impl TaskKind {
    /// The branches of a `conditions` (success, then failure) or `switch` task (each case,
    /// then the default), with a label each; empty for the other types.
    pub fn branches(&self) -> Vec<(String, &[String])> {
        match self {
            TaskKind::Conditions {
                success, failure, ..
            } => vec![
                ("success".to_string(), success.as_slice()),
                ("failure".to_string(), failure.as_slice()),
            ],
            TaskKind::Switch { cases, default } => cases
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("case {}", i + 1), c.then.as_slice()))
                .chain(std::iter::once(("default".to_string(), default.as_slice())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// True for the types the master runs itself.
    pub fn is_logic(&self) -> bool {
        match self {
            TaskKind::SubWorkflow { .. }
            | TaskKind::Dependent { .. }
            | TaskKind::Conditions { .. }
            | TaskKind::Switch { .. } => true,
            TaskKind::Shell { .. }
            | TaskKind::Python { .. }
            | TaskKind::Noop
            | TaskKind::Http(_)
            | TaskKind::Service(_)
            | TaskKind::Sql(_) => false,
        }
    }
}
