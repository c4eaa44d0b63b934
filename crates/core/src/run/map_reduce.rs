//! The rules of a map-reduce task (`map_reduce:`), pure. Its row runs in the master through
//! three phases, each a set of items run under [`crate::run::map`]'s rules: the split step
//! (one item, the task's own script, `task[split]`), the sub-tasks it added (one item each,
//! `task[NAME]`, running `run`), and the reduce (one item, `task[reduce]`, running
//! `reduce` with the sub-tasks' outputs). This module is what each phase is made of, what it
//! sees, the list the task's row keeps, and the task's end.

use crate::params::{Subtask, SubtaskError, SubtaskSet};
use crate::run::map::{Item, ItemRules, MapOutcome};
use crate::spec::map_reduce::{
    Phase, SUBTASKS_OUTPUTS_PARAM, SUBTASK_ARGS_PARAM, SUBTASK_NAME_PARAM,
};
use crate::spec::{MapFailure, MapReduceSpec};

/// The place a split step's row has among its task's items (`MapRole::Item`'s index).
pub const SPLIT_INDEX: i64 = -1;
/// The place the reduce's row has among its task's items.
pub const REDUCE_INDEX: i64 = -2;
/// The name of the split step's item (`task[split]`), which no sub-task may take.
pub const SPLIT_NAME: &str = "split";
/// The name of the reduce's item (`task[reduce]`), which no sub-task may take.
pub const REDUCE_NAME: &str = "reduce";

/// Why the sub-tasks a split step reported cannot run; its attempt fails with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A sub-task over a limit, or not one.
    #[error(transparent)]
    Subtask(#[from] SubtaskError),
    /// More sub-tasks than `max_items`.
    #[error("the split step added {count} sub-tasks, more than this task's limit of {limit} (map_reduce.max_items)")]
    TooMany {
        /// How many it added.
        count: usize,
        /// `max_items`.
        limit: u32,
    },
    /// A sub-task named as the split or reduce item is.
    #[error(
        "addTask: `{name}` is the name of the task's own {name} step: choose another sub-task name"
    )]
    Reserved {
        /// `split` or `reduce`.
        name: String,
    },
}

/// The sub-tasks a split step reported, checked again in the master (a worker may be buggy,
/// or older): the limits of [`SubtaskSet`], `max_items`, and the reserved names.
pub fn check_subtasks(
    spec: &MapReduceSpec,
    reported: Vec<Subtask>,
) -> Result<Vec<Subtask>, SplitError> {
    let mut set = SubtaskSet::new();
    for subtask in reported {
        if subtask.name == SPLIT_NAME || subtask.name == REDUCE_NAME {
            return Err(SplitError::Reserved { name: subtask.name });
        }
        set.add(subtask)?;
    }
    if set.len() > spec.max_items as usize {
        return Err(SplitError::TooMany {
            count: set.len(),
            limit: spec.max_items,
        });
    }
    Ok(set.into_list())
}

/// The list the task's row keeps once its split step succeeded (JSON, one `{"name",
/// "args"}` per sub-task, in the order added), so that a master rebuilding the instance runs
/// the same sub-tasks.
pub fn list(subtasks: &[Subtask]) -> String {
    serde_json::Value::Array(
        subtasks
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "args": s.args}))
            .collect(),
    )
    .to_string()
}

/// The items of a kept [`list`]; `None` when it cannot be read (a hand-edited store).
pub fn items(list: &str) -> Option<Vec<Item>> {
    let values: Vec<serde_json::Value> = serde_json::from_str(list).ok()?;
    values
        .into_iter()
        .map(|value| {
            let name = value.get("name")?.as_str()?.to_string();
            value.get("args")?.as_str()?;
            Some(Item { value, text: name })
        })
        .collect()
}

/// The one item of the split or reduce phase.
pub fn single(phase: Phase) -> Vec<Item> {
    let name = match phase {
        Phase::Split => SPLIT_NAME,
        Phase::Run | Phase::Reduce => REDUCE_NAME,
    };
    vec![Item {
        value: serde_json::Value::Null,
        text: name.to_string(),
    }]
}

/// The rules a phase's items run under: the sub-tasks `parallel` and `failure`; the split
/// and reduce are one item.
pub fn rules(spec: &MapReduceSpec, phase: Phase) -> ItemRules {
    match phase {
        Phase::Run => ItemRules {
            parallel: spec.parallel,
            failure: spec.failure,
        },
        Phase::Split | Phase::Reduce => ItemRules {
            parallel: None,
            failure: MapFailure::End,
        },
    }
}

/// An item's name between its task's brackets, and its row's place among the task's items.
pub fn item_name(phase: Phase, item: &Item, index: usize) -> (String, i64) {
    match phase {
        Phase::Split => (SPLIT_NAME.into(), SPLIT_INDEX),
        Phase::Reduce => (REDUCE_NAME.into(), REDUCE_INDEX),
        Phase::Run => (item.text.clone(), i64::try_from(index).unwrap_or(i64::MAX)),
    }
}

/// The params an item of `phase` sees, above every other source: a sub-task's name and
/// args; the reduce's `subtasks.outputs` (`outputs`, the sub-tasks' outputs list).
pub fn binding(phase: Phase, item: &Item, outputs: &str) -> Vec<(String, String)> {
    match phase {
        Phase::Split => Vec::new(),
        Phase::Run => {
            let args = item.value.get("args").and_then(|a| a.as_str());
            vec![
                (SUBTASK_NAME_PARAM.into(), item.text.clone()),
                (SUBTASK_ARGS_PARAM.into(), args.unwrap_or_default().into()),
            ]
        }
        Phase::Reduce => vec![(SUBTASKS_OUTPUTS_PARAM.into(), outputs.to_string())],
    }
}

/// The message a phase that did not succeed ends the task with: which phase, and why
/// (`why`: the split or reduce row's own message; the sub-tasks' outcome names them with
/// `name`).
pub fn failure_message(
    phase: Phase,
    outcome: &MapOutcome,
    why: Option<&str>,
    name: impl Fn(usize) -> String,
) -> String {
    let why = why.filter(|w| !w.is_empty()).map(|w| format!(": {w}"));
    let ended = match outcome {
        MapOutcome::Killed { .. } => "was killed",
        MapOutcome::Failed { .. } | MapOutcome::Succeeded { .. } => "failed",
    };
    match phase {
        Phase::Split => format!("the split step {ended}{}", why.unwrap_or_default()),
        Phase::Reduce => format!("the reduce {ended}{}", why.unwrap_or_default()),
        Phase::Run => {
            let text = outcome.message_naming(name).replace("items", "sub-tasks");
            format!("sub-tasks: {text}")
        }
    }
}

/// The message of a task whose reduce succeeded after `count` sub-tasks.
pub fn success_message(count: usize) -> String {
    format!("{count} sub-tasks and the reduce succeeded")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max_items: u32) -> MapReduceSpec {
        MapReduceSpec {
            run: "r".into(),
            reduce: "x".into(),
            parallel: Some(4),
            max_items,
            failure: MapFailure::Continue,
        }
    }

    fn st(name: &str, args: &str) -> Subtask {
        Subtask {
            name: name.into(),
            args: args.into(),
        }
    }

    #[test]
    fn the_kept_list_gives_back_the_sub_tasks_in_order_with_their_bindings() {
        let subtasks = check_subtasks(&spec(10), vec![st("b", "2"), st("a", "x y")]).unwrap();
        let kept = list(&subtasks);
        let got = items(&kept).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(item_name(Phase::Run, &got[1], 1), ("a".to_string(), 1));
        assert_eq!(
            binding(Phase::Run, &got[1], ""),
            vec![
                ("subtask.name".to_string(), "a".to_string()),
                ("subtask.args".to_string(), "x y".to_string())
            ]
        );
        assert_eq!(items(&list(&[])).unwrap(), Vec::new());
        assert_eq!(items("{not json"), None);
        assert_eq!(items(r#"[{"name": 1}]"#), None);
    }

    #[test]
    fn the_split_and_reduce_are_one_item_each_with_their_own_names_and_places() {
        let split = single(Phase::Split);
        assert_eq!(
            item_name(Phase::Split, &split[0], 0),
            ("split".into(), SPLIT_INDEX)
        );
        assert!(binding(Phase::Split, &split[0], "").is_empty());
        let reduce = single(Phase::Reduce);
        assert_eq!(
            item_name(Phase::Reduce, &reduce[0], 0),
            ("reduce".into(), REDUCE_INDEX)
        );
        assert_eq!(
            binding(Phase::Reduce, &reduce[0], "[{}]"),
            vec![("subtasks.outputs".to_string(), "[{}]".to_string())]
        );
        assert_eq!(rules(&spec(5), Phase::Run).parallel, Some(4));
        assert_eq!(rules(&spec(5), Phase::Reduce).failure, MapFailure::End);
    }

    #[test]
    fn more_than_max_items_reserved_names_and_conflicts_are_refused() {
        let e = check_subtasks(&spec(2), vec![st("a", ""), st("b", ""), st("c", "")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the split step added 3 sub-tasks, more than this task's limit of 2 (map_reduce.max_items)"
        );
        let e = check_subtasks(&spec(9), vec![st("reduce", "")]).unwrap_err();
        assert!(
            e.to_string()
                .contains("`reduce` is the name of the task's own reduce step"),
            "{e}"
        );
        let e = check_subtasks(&spec(9), vec![st("a", "1"), st("a", "2")]).unwrap_err();
        assert!(e.to_string().contains("added twice"), "{e}");
        let e = check_subtasks(&spec(9), vec![st("a b", "1")]).unwrap_err();
        assert!(e.to_string().contains("not a sub-task name"), "{e}");
        let same = check_subtasks(&spec(2), vec![st("a", "1"), st("a", "1")]).unwrap();
        assert_eq!(same.len(), 1);
    }

    #[test]
    fn a_failed_phase_says_which_and_why() {
        let failed = MapOutcome::Failed {
            failed: vec![1],
            items: 3,
            not_started: 0,
        };
        let names = ["p0", "p1", "p2"];
        assert_eq!(
            failure_message(Phase::Run, &failed, None, |i| names[i].to_string()),
            "sub-tasks: 1 of 3 sub-tasks failed: [p1]"
        );
        let one = MapOutcome::Failed {
            failed: vec![0],
            items: 1,
            not_started: 0,
        };
        assert_eq!(
            failure_message(Phase::Split, &one, Some("exited with code 2"), |i| i
                .to_string()),
            "the split step failed: exited with code 2"
        );
        let killed = MapOutcome::Killed {
            killed: 1,
            items: 1,
        };
        assert_eq!(
            failure_message(Phase::Reduce, &killed, None, |i| i.to_string()),
            "the reduce was killed"
        );
        assert_eq!(success_message(50), "50 sub-tasks and the reduce succeeded");
    }
}
