//! `map_reduce:` on a shell or python task: map-reduce in one task. The task's own script is
//! the split step: it runs once, on a worker, and adds sub-tasks at run time
//! (`${addTask(name=N, args=A)}` lines, or `$BATON_TASK_DIR/subtasks.jsonl`, read in
//! [`crate::params::parse_add_tasks`]). Each sub-task is an item of the task, running the
//! `run` script; once they all succeeded, the `reduce` script runs once with their outputs.
//! This module is the field as a file writes it and its checks at apply; the rules of its
//! run are in [`crate::run::map_reduce`].

use super::file::Reader;
use super::map::{MapFailure, DEFAULT_MAX_ITEMS, MAX_ITEMS_LIMIT};
use super::yaml::Step;
use super::{TaskKind, TaskSpec};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

/// A task's `map_reduce:`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapReduceSpec {
    /// The script each sub-task runs (a task of the same type as the split step), which
    /// sees `${subtask.name}` and `${subtask.args}`.
    pub run: String,
    /// The script run once every sub-task succeeded, which sees `${subtasks.outputs}`.
    pub reduce: String,
    /// At most this many sub-tasks at once (none: as many as worker slots allow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u32>,
    /// More sub-tasks fail the task.
    #[serde(default = "default_max_items")]
    pub max_items: u32,
    /// What a failed sub-task does to the others.
    #[serde(default, skip_serializing_if = "is_end")]
    pub failure: MapFailure,
}

fn default_max_items() -> u32 {
    DEFAULT_MAX_ITEMS
}

fn is_end(f: &MapFailure) -> bool {
    *f == MapFailure::End
}

/// The param a sub-task's name is in.
pub const SUBTASK_NAME_PARAM: &str = "subtask.name";
/// The param a sub-task's args are in.
pub const SUBTASK_ARGS_PARAM: &str = "subtask.args";
/// The param the reduce reads the sub-tasks' outputs from.
pub const SUBTASKS_OUTPUTS_PARAM: &str = "subtasks.outputs";

/// Which script of a map-reduce task a slot runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The task's own script, adding the sub-tasks.
    Split,
    /// `run`, once per sub-task.
    Run,
    /// `reduce`, once at the end.
    Reduce,
}

impl MapReduceSpec {
    /// The task as a slot of `phase` runs it: `task` with its script (command) replaced by
    /// the phase's.
    pub fn task_of(&self, task: &TaskSpec, phase: Phase) -> TaskSpec {
        let body = match phase {
            Phase::Split => return task.clone(),
            Phase::Run => &self.run,
            Phase::Reduce => &self.reduce,
        };
        let kind = match &task.kind {
            TaskKind::Shell { .. } => TaskKind::Shell {
                command: body.clone(),
            },
            TaskKind::Python { .. } => TaskKind::Python {
                script: body.clone(),
            },
            other => other.clone(),
        };
        TaskSpec {
            kind,
            ..task.clone()
        }
    }
}

/// `map_reduce:` as written: every field optional, so that each missing one is reported.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapReduce {
    run: Option<String>,
    reduce: Option<String>,
    parallel: Option<u32>,
    max_items: Option<u32>,
    failure: Option<MapFailure>,
}

impl Reader<'_> {
    /// Reads and checks a task's `map_reduce:` (at `path`, the task's), each problem at its
    /// line; `other` names a `map:` or `broadcast:` the task also has. `Err(())` when it is
    /// wrong (already reported).
    pub(super) fn map_reduce(
        &mut self,
        value: Value,
        path: &[Step],
        task: &str,
        kind: Option<&TaskKind>,
        other: Option<&str>,
    ) -> Result<MapReduceSpec, ()> {
        let mut at = path.to_vec();
        at.push(Step::Key("map_reduce".into()));
        let field = |name: &str| {
            let mut p = at.clone();
            p.push(Step::Key(name.into()));
            p
        };
        let before = self.problems.len();
        if let Some(kind) =
            kind.filter(|k| !matches!(k, TaskKind::Shell { .. } | TaskKind::Python { .. }))
        {
            let message = format!(
                "a {} task cannot be a map-reduce (`map_reduce:` is for shell and python tasks)",
                kind.type_name()
            );
            self.report(task, &at, message);
        }
        if let Some(other) = other {
            let message = format!("`map_reduce:` and `{other}` cannot go together: a map-reduce task's items are the sub-tasks its script adds");
            self.report(task, &at, message);
        }
        let Value::Mapping(fields) = value else {
            let message = "`map_reduce` is a mapping such as `{run: …, reduce: …}`".into();
            self.report(task, &at, message);
            return Err(());
        };
        let (raw, broken) = self.fields::<RawMapReduce>(fields, &at, Some(task));
        for (name, given) in [("run", &raw.run), ("reduce", &raw.reduce)] {
            if given.is_none() && !broken.iter().any(|b| b == name) {
                let message = format!(
                    "`map_reduce` needs `{name}` (the script {})",
                    match name {
                        "run" => "each sub-task runs",
                        _ => "run once with the sub-tasks' outputs",
                    }
                );
                self.report(task, &at, message);
            }
        }
        if raw.parallel == Some(0) {
            let message = "map_reduce.parallel: 0 would run no sub-task: give 1 or more".into();
            self.report(task, &field("parallel"), message);
        }
        let max_items = raw.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
        if !(1..=MAX_ITEMS_LIMIT).contains(&max_items) {
            let message = format!(
                "map_reduce.max_items: {max_items} is out of range: from 1 to {MAX_ITEMS_LIMIT}"
            );
            self.report(task, &field("max_items"), message);
        }
        match (raw.run, raw.reduce) {
            (Some(run), Some(reduce)) if self.problems.len() == before && broken.is_empty() => {
                Ok(MapReduceSpec {
                    run,
                    reduce,
                    parallel: raw.parallel,
                    max_items,
                    failure: raw.failure.unwrap_or_default(),
                })
            }
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Items, WorkflowSpec};

    const TASK: &str = "name: w\ntasks:\n  - name: crunch\n    type: python\n    script: print(1)\n    map_reduce:\n      run: print('${subtask.args}')\n      reduce: print('${subtasks.outputs}')\n";

    fn error(text: &str) -> String {
        WorkflowSpec::from_yaml(text, "w.yaml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_map_reduce_reads_with_its_defaults_and_survives_export() {
        let spec = WorkflowSpec::from_yaml(TASK, "w").unwrap();
        let mr = spec.tasks[0].map_reduce.clone().unwrap();
        assert_eq!(mr.run, "print('${subtask.args}')");
        assert_eq!(mr.max_items, DEFAULT_MAX_ITEMS);
        assert_eq!((mr.parallel, mr.failure), (None, MapFailure::End));
        assert!(matches!(spec.tasks[0].items(), Some(Items::MapReduce(_))));
        assert!(crate::params::check_all(&spec, &Default::default()).is_empty());
        let back = WorkflowSpec::from_yaml(&spec.to_yaml().unwrap(), "w").unwrap();
        assert_eq!(back, spec);
        assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
        let full =
            format!("{TASK}      parallel: 8\n      max_items: 50\n      failure: continue\n");
        let mr = WorkflowSpec::from_yaml(&full, "w").unwrap().tasks[0]
            .map_reduce
            .clone()
            .unwrap();
        assert_eq!(
            (mr.parallel, mr.max_items, mr.failure),
            (Some(8), 50, MapFailure::Continue)
        );
    }

    #[test]
    fn each_phase_runs_its_own_script_as_the_same_type() {
        let spec = WorkflowSpec::from_yaml(TASK, "w").unwrap();
        let task = &spec.tasks[0];
        let mr = task.map_reduce.as_ref().unwrap();
        assert_eq!(mr.task_of(task, Phase::Split), *task);
        let run = mr.task_of(task, Phase::Run);
        assert_eq!(
            run.kind,
            TaskKind::Python {
                script: mr.run.clone()
            }
        );
        assert_eq!(run.name, "crunch");
        let reduce = mr.task_of(task, Phase::Reduce);
        assert_eq!(
            reduce.kind,
            TaskKind::Python {
                script: mr.reduce.clone()
            }
        );
    }

    #[test]
    fn run_and_reduce_are_required_and_limits_checked_at_their_line() {
        let e = error(&TASK.replace("      run: print('${subtask.args}')\n", ""));
        assert!(
            e.contains("line 6") && e.contains("`map_reduce` needs `run`"),
            "{e}"
        );
        let e = error(&TASK.replace("      reduce: print('${subtasks.outputs}')\n", ""));
        assert!(e.contains("needs `reduce`"), "{e}");
        let e = error(&format!("{TASK}      parallel: 0\n"));
        assert!(
            e.contains("line 9") && e.contains("map_reduce.parallel: 0"),
            "{e}"
        );
        let e = error(&format!("{TASK}      max_items: 100001\n"));
        assert!(e.contains("from 1 to 100000"), "{e}");
        let e = error(&format!("{TASK}      reduse: x\n"));
        assert!(e.contains("reduse"), "{e}");
        let e = error(&TASK.replace("    map_reduce:\n      run: print('${subtask.args}')\n      reduce: print('${subtasks.outputs}')\n", "    map_reduce: yes\n"));
        assert!(e.contains("`map_reduce` is a mapping"), "{e}");
    }

    #[test]
    fn only_shell_and_python_and_never_with_map_or_broadcast() {
        let e = error(&TASK.replace("type: python\n    script: print(1)", "type: noop"));
        assert!(
            e.contains("line 5") && e.contains("a noop task cannot be a map-reduce"),
            "{e}"
        );
        let e = error(&format!("{TASK}    broadcast: true\n"));
        assert!(
            e.contains("`map_reduce:` and `broadcast: true` cannot go together"),
            "{e}"
        );
        let text = TASK.replace("name: w\n", "name: w\nparams: {l: '[1]'}\n");
        let e = error(&format!("{text}    map: {{over: '${{l}}', as: x}}\n"));
        assert!(
            e.contains("`map_reduce:` and `map:` cannot go together"),
            "{e}"
        );
    }

    #[test]
    fn the_sub_task_params_are_defined_in_run_and_reduce_only() {
        let text = TASK.replace("script: print(1)", "script: print('${subtask.name}')");
        let spec = WorkflowSpec::from_yaml(&text, "w").unwrap();
        let undefined = crate::params::check_all(&spec, &Default::default());
        assert_eq!(undefined.len(), 1, "{undefined:?}");
        assert_eq!(undefined[0].names, vec![SUBTASK_NAME_PARAM.to_string()]);
        let text = TASK.replace(
            "${subtask.args}",
            "${subtask.args} ${subtasks.outputs} ${nope}",
        );
        let spec = WorkflowSpec::from_yaml(&text, "w").unwrap();
        let undefined = crate::params::check_all(&spec, &Default::default());
        let names: Vec<String> = undefined.into_iter().flat_map(|u| u.names).collect();
        assert_eq!(
            names,
            vec![SUBTASKS_OUTPUTS_PARAM.to_string(), "nope".to_string()]
        );
    }

    #[test]
    fn downstream_sees_the_outputs_the_reduce_sets() {
        let text = format!("{}  - name: after\n    type: shell\n    depends_on: [crunch]\n    command: echo ${{total}}\n", TASK.replace("print('${subtasks.outputs}')", "print('${setValue(total=1)}')"));
        let spec = WorkflowSpec::from_yaml(&text, "w").unwrap();
        assert!(crate::params::check_all(&spec, &Default::default()).is_empty());
    }
}
