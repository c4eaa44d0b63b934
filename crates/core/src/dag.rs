//! The DAG of a checked workflow, by index: what the engine walks when a task ends.

use crate::spec::WorkflowSpec;
use std::collections::HashMap;

/// Index of a task within its workflow (the order of the file).
pub type TaskIndex = usize;

/// Which tasks a start from one task runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The task and everything downstream of it.
    #[default]
    Downstream,
    /// The task alone.
    #[serde(rename = "self")]
    Only,
    /// The task and everything upstream of it.
    Upstream,
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "downstream" => Ok(Scope::Downstream),
            "self" => Ok(Scope::Only),
            "upstream" => Ok(Scope::Upstream),
            _ => Err(format!("unknown scope `{s}` (self, downstream, upstream)")),
        }
    }
}

/// Predecessors and successors of every task, by index. Built only from a checked
/// [`WorkflowSpec`], so every name resolves and there is no cycle.
#[derive(Debug, Clone)]
pub struct Dag {
    names: Vec<String>,
    index: HashMap<String, TaskIndex>,
    preds: Vec<Vec<TaskIndex>>,
    succs: Vec<Vec<TaskIndex>>,
    /// Per task, the branches it chooses among (`conditions`, `switch`); empty otherwise.
    branches: Vec<Vec<Vec<TaskIndex>>>,
    /// Per task, whether it runs once its upstream tasks have ended, failed ones included
    /// (`conditions`), rather than once they have succeeded.
    after_end: Vec<bool>,
    /// Per task, whether a pause of the instance passes into it (`sub_workflow`): the
    /// instance counts as paused while only such tasks are active.
    passes_pause: Vec<bool>,
}

impl Dag {
    /// Builds the graph of a checked spec.
    pub fn new(spec: &WorkflowSpec) -> Dag {
        let names: Vec<String> = spec.tasks.iter().map(|t| t.name.clone()).collect();
        let index: HashMap<String, TaskIndex> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let mut preds = vec![Vec::new(); names.len()];
        let mut succs = vec![Vec::new(); names.len()];
        for (i, task) in spec.tasks.iter().enumerate() {
            for dep in &task.depends_on {
                let d = index[dep];
                preds[i].push(d);
                succs[d].push(i);
            }
        }
        let branches = spec
            .tasks
            .iter()
            .map(|t| {
                t.kind
                    .branches()
                    .into_iter()
                    .map(|(_, b)| b.iter().map(|n| index[n]).collect())
                    .collect()
            })
            .collect();
        let after_end = spec
            .tasks
            .iter()
            .map(|t| matches!(t.kind, crate::TaskKind::Conditions { .. }))
            .collect();
        let passes_pause = spec
            .tasks
            .iter()
            .map(|t| matches!(t.kind, crate::TaskKind::SubWorkflow { .. }))
            .collect();
        Dag {
            names,
            index,
            preds,
            succs,
            branches,
            after_end,
            passes_pause,
        }
    }

    /// Every task, each after all the tasks it depends on; among tasks free to go, the one
    /// first in the file goes first. What a dry run lists.
    pub fn topological_order(&self) -> Vec<TaskIndex> {
        let mut waiting: Vec<usize> = self.preds.iter().map(Vec::len).collect();
        let mut ready: std::collections::BTreeSet<TaskIndex> =
            (0..self.len()).filter(|&i| waiting[i] == 0).collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(task) = ready.pop_first() {
            order.push(task);
            for &next in &self.succs[task] {
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.insert(next);
                }
            }
        }
        order
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True for a workflow without tasks (never the case for a checked spec).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The task's name.
    pub fn name(&self, task: TaskIndex) -> &str {
        &self.names[task]
    }

    /// The index of the task of that name.
    pub fn index_of(&self, name: &str) -> Option<TaskIndex> {
        self.index.get(name).copied()
    }

    /// Tasks that must succeed before `task` runs.
    pub fn predecessors(&self, task: TaskIndex) -> &[TaskIndex] {
        &self.preds[task]
    }

    /// The tasks a start from `task` runs under `scope`.
    pub fn select(&self, task: TaskIndex, scope: Scope) -> Vec<TaskIndex> {
        let mut chosen = vec![false; self.len()];
        let mut stack = vec![task];
        while let Some(t) = stack.pop() {
            if std::mem::replace(&mut chosen[t], true) {
                continue;
            }
            match scope {
                Scope::Only => {}
                Scope::Downstream => stack.extend_from_slice(&self.succs[t]),
                Scope::Upstream => stack.extend_from_slice(&self.preds[t]),
            }
        }
        (0..self.len()).filter(|t| chosen[*t]).collect()
    }

    /// The branches `task` chooses among, in order (empty for a task that does not branch).
    pub fn branches(&self, task: TaskIndex) -> &[Vec<TaskIndex>] {
        &self.branches[task]
    }

    /// True when `task` runs after its upstream tasks end, however they end.
    pub fn runs_after_end(&self, task: TaskIndex) -> bool {
        self.after_end[task]
    }

    /// True when a pause of the instance passes into `task` (a child instance).
    pub fn passes_pause(&self, task: TaskIndex) -> bool {
        self.passes_pause[task]
    }

    /// True when a failure of `task` is handled: every task after it runs after its end
    /// (a `conditions` task), so the failure takes a branch rather than failing the run.
    pub fn failure_is_handled(&self, task: TaskIndex) -> bool {
        let succs = &self.succs[task];
        !succs.is_empty() && succs.iter().all(|s| self.after_end[*s])
    }

    /// Tasks that wait on `task`.
    pub fn successors(&self, task: TaskIndex) -> &[TaskIndex] {
        &self.succs[task]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topological_order_puts_each_task_after_its_dependencies_file_order_first() {
        // Written backwards: d -> c, b -> a (a depends on b and c), e alone.
        let spec = WorkflowSpec::from_yaml(
            "name: w\ntasks:\n  - {name: a, type: noop, depends_on: [b, c]}\n  - {name: e, type: noop}\n  - {name: c, type: noop, depends_on: [d]}\n  - {name: b, type: noop}\n  - {name: d, type: noop}\n",
            "t",
        )
        .unwrap();
        let dag = Dag::new(&spec);
        let order: Vec<&str> = dag
            .topological_order()
            .into_iter()
            .map(|i| dag.name(i))
            .collect();
        assert_eq!(order, ["e", "b", "d", "c", "a"]);
    }

    #[test]
    fn scopes_select_the_right_tasks() {
        // a -> b -> c, a -> d
        let spec = WorkflowSpec::from_yaml(
            "name: w\ntasks:\n  - {name: a, type: noop}\n  - {name: b, type: noop, depends_on: [a]}\n  - {name: c, type: noop, depends_on: [b]}\n  - {name: d, type: noop, depends_on: [a]}\n",
            "t",
        )
        .unwrap();
        let dag = Dag::new(&spec);
        assert_eq!(dag.select(1, Scope::Downstream), vec![1, 2]);
        assert_eq!(dag.select(1, Scope::Only), vec![1]);
        assert_eq!(dag.select(2, Scope::Upstream), vec![0, 1, 2]);
        assert_eq!("self".parse::<Scope>().unwrap(), Scope::Only);
        assert!("sideways".parse::<Scope>().is_err());
    }
}
