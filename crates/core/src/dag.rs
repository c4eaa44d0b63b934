//! The DAG of a checked workflow, by index: what the engine walks when a task ends.

use crate::spec::WorkflowSpec;
use std::collections::HashMap;

/// Index of a task within its workflow (the order of the file).
pub type TaskIndex = usize;

/// Predecessors and successors of every task, by index. Built only from a checked
/// [`WorkflowSpec`], so every name resolves and there is no cycle.
#[derive(Debug, Clone)]
pub struct Dag {
    names: Vec<String>,
    index: HashMap<String, TaskIndex>,
    preds: Vec<Vec<TaskIndex>>,
    succs: Vec<Vec<TaskIndex>>,
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
        Dag {
            names,
            index,
            preds,
            succs,
        }
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

    /// Tasks that wait on `task`.
    pub fn successors(&self, task: TaskIndex) -> &[TaskIndex] {
        &self.succs[task]
    }
}
