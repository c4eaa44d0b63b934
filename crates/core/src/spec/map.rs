//! `map:` on a task: one task instance per item of a list known only when the task becomes
//! ready (a param, or an upstream task's output). This module is the field as a file writes
//! it and its checks at apply; the rules of a mapped run are in [`crate::run::map`].

use super::file::Reader;
use super::yaml::Step;
use super::{Problem, TaskKind};
use crate::params::{is_param_name, is_system_param};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::collections::BTreeMap;

/// The most items a `map:` may allow (`max_items`), so that no list can make a master carry
/// more task instances than it can hold.
pub const MAX_ITEMS_LIMIT: u32 = 100_000;
/// `max_items` when a file gives none.
pub const DEFAULT_MAX_ITEMS: u32 = 10_000;

/// What one failed item does to the other items of a mapped task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapFailure {
    /// Start no new item after the first failure (running items run on); the task fails.
    #[default]
    End,
    /// Run every item; the task fails if any failed.
    Continue,
}

/// What a `map:` goes over, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Over {
    /// One list: a `${name}` reference (a param or an upstream output) whose value is a
    /// JSON list; one item per element.
    List(String),
    /// The cross product of several lists, each under a name (`{region: ${regions}, day:
    /// ${days}}`): one item per combination, an object of one element of each list, every
    /// name a param inside the task. Combinations go in the order of the names, the last
    /// name's list changing fastest.
    Product(BTreeMap<String, String>),
}

impl Over {
    /// The `${name}` references written, each with the name it is under (none for a list).
    pub fn references(&self) -> Vec<(Option<&str>, &str)> {
        match self {
            Over::List(text) => vec![(None, text.as_str())],
            Over::Product(lists) => lists
                .iter()
                .map(|(name, text)| (Some(name.as_str()), text.as_str()))
                .collect(),
        }
    }
}

/// A task's `map:`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// The list, or the lists whose cross product the items are.
    pub over: Over,
    /// The name each item has inside the task (`${as}`): required over one list; over a
    /// product, the whole combination as a JSON object (each list's element is under its
    /// own name anyway).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// At most this many items at once (none: as many as worker slots allow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<u32>,
    /// A longer list fails the task.
    #[serde(default = "default_max_items")]
    pub max_items: u32,
    /// What a failed item does to the others.
    #[serde(default, skip_serializing_if = "is_end")]
    pub failure: MapFailure,
}

fn default_max_items() -> u32 {
    DEFAULT_MAX_ITEMS
}

fn is_end(f: &MapFailure) -> bool {
    *f == MapFailure::End
}

impl MapSpec {
    /// The name of the param a one-list `over` refers to (empty for a product).
    pub fn over_param(&self) -> &str {
        match &self.over {
            Over::List(text) => reference_name(text).unwrap_or_default(),
            Over::Product(_) => "",
        }
    }

    /// The params an item's task sees for its item: `as`, and over a product each list's
    /// name.
    pub fn item_params(&self) -> Vec<String> {
        let names = match &self.over {
            Over::List(_) => Vec::new(),
            Over::Product(lists) => lists.keys().cloned().collect(),
        };
        self.item.iter().cloned().chain(names).collect()
    }
}

/// The name in `text` when it is exactly one `${name}` reference (spaces around allowed),
/// for the messages about a list.
pub fn reference_of(text: &str) -> &str {
    reference_name(text).unwrap_or(text)
}

/// The name in `text` when it is exactly one `${name}` reference (spaces around allowed).
fn reference_name(text: &str) -> Option<&str> {
    let name = text.trim().strip_prefix("${")?.strip_suffix('}')?;
    is_param_name(name).then_some(name)
}

/// `map:` as written: every field optional, so that each missing one is reported.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    over: Option<Value>,
    #[serde(rename = "as")]
    item: Option<String>,
    parallel: Option<u32>,
    max_items: Option<u32>,
    failure: Option<MapFailure>,
}

/// Whether a task of this kind may be mapped: those a worker runs as a program (and `noop`,
/// for benchmarks). Logic tasks decide about branches of the whole instance, which items
/// cannot share.
fn mappable(kind: &TaskKind) -> bool {
    match kind {
        TaskKind::Shell { .. } | TaskKind::Python { .. } | TaskKind::Noop => true,
        TaskKind::Http(_)
        | TaskKind::Sql(_)
        | TaskKind::Service(_)
        | TaskKind::SubWorkflow { .. }
        | TaskKind::Dependent { .. }
        | TaskKind::Conditions { .. }
        | TaskKind::Switch { .. } => false,
    }
}

impl Reader<'_> {
    /// Reads and checks a task's `map:` (at `path`, the task's), each problem at its line;
    /// `Err(())` when it is wrong (already reported).
    pub(super) fn map(
        &mut self,
        value: Value,
        path: &[Step],
        task: &str,
        kind: Option<&TaskKind>,
    ) -> Result<MapSpec, ()> {
        let mut at = path.to_vec();
        at.push(Step::Key("map".into()));
        let field = |name: &str| {
            let mut p = at.clone();
            p.push(Step::Key(name.into()));
            p
        };
        let before = self.problems.len();
        if let Some(kind) = kind.filter(|k| !mappable(k)) {
            self.report(
                task,
                &at,
                format!(
                    "a {} task cannot be mapped (`map:` is for shell, python and noop tasks)",
                    kind.type_name()
                ),
            );
        }
        let Value::Mapping(fields) = value else {
            self.report(
                task,
                &at,
                "`map` is a mapping such as `{over: ${list}, as: item}`".into(),
            );
            return Err(());
        };
        let (raw, broken) = self.fields::<RawMap>(fields, &at, Some(task));
        let over = match raw.over {
            Some(over) => self.over(over, task, &field("over")),
            None if broken.iter().any(|b| b == "over") => None,
            None => {
                let message = "`map` needs `over` (the list, e.g. `over: ${parts}`)".into();
                self.report(task, &at, message);
                None
            }
        };
        let product = matches!(over, Some(Over::Product(_)));
        let item = match raw.item {
            Some(name) => self.item_name(&name, task, &field("as"), "map.as"),
            None if broken.iter().any(|b| b == "as") || product => None,
            None => {
                let message = "`map` needs `as` (the item's name in the task, e.g. `as: part`)";
                self.report(task, &at, message.into());
                None
            }
        };
        if let (Some(Over::Product(lists)), Some(name)) = (&over, &item) {
            if lists.contains_key(name) {
                let message = format!(
                    "map.as: `{name}` is also the name of one of the lists of `over`: choose another name"
                );
                self.report(task, &field("as"), message);
            }
        }
        if raw.parallel == Some(0) {
            let message = "map.parallel: 0 would run no item: give 1 or more".into();
            self.report(task, &field("parallel"), message);
        }
        let max_items = raw.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
        if !(1..=MAX_ITEMS_LIMIT).contains(&max_items) {
            let message =
                format!("map.max_items: {max_items} is out of range: from 1 to {MAX_ITEMS_LIMIT}");
            self.report(task, &field("max_items"), message);
        }
        match over {
            Some(over) if self.problems.len() == before => Ok(MapSpec {
                over,
                item,
                parallel: raw.parallel,
                max_items,
                failure: raw.failure.unwrap_or_default(),
            }),
            _ => Err(()),
        }
    }

    /// `map.over`: one `${name}` reference, or a mapping of names to references (a cross
    /// product); `None` when it is wrong (reported at its line).
    fn over(&mut self, over: Value, task: &str, at: &[Step]) -> Option<Over> {
        match over {
            Value::String(text) => self.reference(&text, task, at, "map.over").map(Over::List),
            Value::Mapping(lists) if !lists.is_empty() => {
                let mut product = BTreeMap::new();
                let before = self.problems.len();
                for (name, text) in lists {
                    let (Value::String(name), Value::String(text)) = (name, text) else {
                        let message =
                            "map.over: each list of a cross product is `name: ${list}`".into();
                        self.report(task, at, message);
                        continue;
                    };
                    let mut path = at.to_vec();
                    path.push(Step::Key(name.clone()));
                    let what = format!("map.over.{name}");
                    let name = self.item_name(&name, task, &path, &what);
                    let text = self.reference(&text, task, &path, &what);
                    if let (Some(name), Some(text)) = (name, text) {
                        product.insert(name, text);
                    }
                }
                (self.problems.len() == before).then_some(Over::Product(product))
            }
            _ => {
                let message = "map.over: write the list as `${name}`, or a cross product of lists as `{region: ${regions}, day: ${days}}`".into();
                self.report(task, at, message);
                None
            }
        }
    }

    /// A list's reference, `${name}`; `None` when it is not one (reported).
    fn reference(&mut self, text: &str, task: &str, at: &[Step], what: &str) -> Option<String> {
        if reference_name(text).is_some() {
            return Some(text.trim().to_string());
        }
        let message = format!(
            "{what}: `{text}` is not a reference: write the list's param as `${{name}}` (a param or an upstream task's output holding a JSON list)"
        );
        self.report(task, at, message);
        None
    }

    /// A name an item is seen by inside its task (`as`, a product's list name); `None` when
    /// it cannot be one (reported).
    fn item_name(&mut self, name: &str, task: &str, at: &[Step], what: &str) -> Option<String> {
        let message = if is_system_param(name) || name.starts_with("system.") {
            format!("{what}: `{name}` would hide a system param: choose another name")
        } else if is_param_name(name) {
            return Some(name.to_string());
        } else {
            format!(
                "{what}: `{name}` is not a param name (a letter or `_`, then letters, digits, `_` or `.`)"
            )
        };
        self.report(task, at, message);
        None
    }

    pub(super) fn report(&mut self, task: &str, path: &[Step], message: String) {
        let at = self.doc.position(path);
        self.problems.push(Problem {
            task: Some(task.to_string()),
            line: at.map(|a| a.line),
            column: at.map(|a| a.column),
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WorkflowSpec;

    fn wf(map: &str) -> String {
        format!(
            "name: w\nparams: {{parts: '[1]'}}\ntasks:\n  - name: m\n    type: shell\n    command: echo ${{part}}\n    map: {map}\n"
        )
    }

    fn error(text: &str) -> String {
        WorkflowSpec::from_yaml(text, "w.yaml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_full_map_reads_with_its_fields() {
        let text =
            wf("{over: '${parts}', as: part, parallel: 8, max_items: 50, failure: continue}");
        let spec = WorkflowSpec::from_yaml(&text, "w.yaml").unwrap();
        let map = spec.tasks[0].map.clone().unwrap();
        assert_eq!(map.over_param(), "parts");
        assert_eq!(map.item.as_deref(), Some("part"));
        assert_eq!(map.parallel, Some(8));
        assert_eq!(map.max_items, 50);
        assert_eq!(map.failure, MapFailure::Continue);
    }

    const PRODUCT: &str = "name: w\nparams: {regions: '[\"eu\"]', days: '[1, 2]'}\ntasks:\n  - name: m\n    type: shell\n    command: echo ${region} ${day}\n    map:\n      over: {region: '${regions}', day: '${days}'}\n";

    #[test]
    fn a_cross_product_reads_each_list_under_its_name_and_needs_no_as() {
        let spec = WorkflowSpec::from_yaml(PRODUCT, "w").unwrap();
        let map = spec.tasks[0].map.clone().unwrap();
        let Over::Product(lists) = &map.over else {
            panic!("a product: {:?}", map.over);
        };
        assert_eq!(lists["region"], "${regions}");
        assert_eq!(lists["day"], "${days}");
        assert_eq!(map.item, None);
        assert_eq!(
            map.item_params(),
            vec!["day".to_string(), "region".to_string()]
        );
        assert!(crate::params::check_all(&spec, &Default::default()).is_empty());
        let back = WorkflowSpec::from_yaml(&spec.to_yaml().unwrap(), "w").unwrap();
        assert_eq!(back, spec);
        assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
    }

    #[test]
    fn a_cross_product_list_must_be_a_reference_under_a_param_name_at_its_line() {
        let bad = PRODUCT.replace("day: '${days}'", "day: 'mon,tue'");
        let e = error(&bad);
        assert!(e.contains("line 8"), "{e}");
        assert!(
            e.contains("map.over.day: `mon,tue` is not a reference"),
            "{e}"
        );
        let e = error(&PRODUCT.replace("day: '${days}'", "'my day': '${days}'"));
        assert!(
            e.contains("map.over.my day: `my day` is not a param name"),
            "{e}"
        );
        let e = error(&PRODUCT.replace("day: '${days}'", "system.task.attempt: '${days}'"));
        assert!(e.contains("would hide a system param"), "{e}");
        let e = error(&format!("{PRODUCT}      as: day\n"));
        assert!(
            e.contains("line 9") && e.contains("map.as: `day` is also the name"),
            "{e}"
        );
        let e = error(&PRODUCT.replace("{region: '${regions}', day: '${days}'}", "{}"));
        assert!(e.contains("a cross product of lists"), "{e}");
        let spec =
            WorkflowSpec::from_yaml(&PRODUCT.replace("days: '[1, 2]'", "x: '1'"), "w").unwrap();
        let undefined = crate::params::check_all(&spec, &Default::default());
        assert_eq!(undefined[0].names, vec!["days".to_string()]);
    }

    #[test]
    fn defaults_are_unlimited_parallel_ten_thousand_items_and_end() {
        let spec = WorkflowSpec::from_yaml(&wf("{over: '${parts}', as: part}"), "w").unwrap();
        let map = spec.tasks[0].map.clone().unwrap();
        assert_eq!(map.parallel, None);
        assert_eq!(map.max_items, DEFAULT_MAX_ITEMS);
        assert_eq!(map.failure, MapFailure::End);
    }

    #[test]
    fn a_map_survives_export_and_json() {
        let spec =
            WorkflowSpec::from_yaml(&wf("{over: '${parts}', as: part, parallel: 2}"), "w").unwrap();
        let back = WorkflowSpec::from_yaml(&spec.to_yaml().unwrap(), "w").unwrap();
        assert_eq!(back, spec);
        assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
    }

    #[test]
    fn over_must_be_a_reference_at_its_line() {
        let text = "name: w\ntasks:\n  - name: m\n    type: noop\n    map:\n      over: p1,p2\n      as: part\n";
        let e = error(text);
        assert!(e.contains("line 6"), "{e}");
        assert!(e.contains("is not a reference"), "{e}");
        assert!(e.contains("task `m`"), "{e}");
    }

    #[test]
    fn as_must_be_a_param_name_that_hides_no_system_param() {
        let e = error(&wf("{over: '${parts}', as: 'my part'}"));
        assert!(
            e.contains("line 7") && e.contains("not a param name"),
            "{e}"
        );
        let e = error(&wf("{over: '${parts}', as: system.task.attempt}"));
        assert!(e.contains("would hide a system param"), "{e}");
    }

    #[test]
    fn parallel_max_items_and_failure_are_range_checked() {
        let e = error(&wf("{over: '${parts}', as: part, parallel: 0}"));
        assert!(e.contains("map.parallel: 0"), "{e}");
        let e = error(&wf("{over: '${parts}', as: part, max_items: 0}"));
        assert!(e.contains("from 1 to 100000"), "{e}");
        let e = error(&wf("{over: '${parts}', as: part, max_items: 100001}"));
        assert!(e.contains("100001 is out of range"), "{e}");
        let e = error(&wf("{over: '${parts}', as: part, failure: stop}"));
        assert!(e.contains("failure") && e.contains("unknown value"), "{e}");
        let e = error(&wf("{over: '${parts}', as: part, parallel: -1}"));
        assert!(e.contains("parallel"), "{e}");
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let e = error(&wf("{as: part}"));
        assert!(e.contains("needs `over`"), "{e}");
        let e = error(&wf("{over: '${parts}'}"));
        assert!(e.contains("needs `as`"), "{e}");
        let e = error(&wf("{over: '${parts}', as: part, paralel: 2}"));
        assert!(e.contains("paralel"), "{e}");
        let e = error(&wf("[a, b]"));
        assert!(e.contains("`map` is a mapping"), "{e}");
    }

    #[test]
    fn only_shell_python_and_noop_tasks_are_mapped() {
        let text = "name: w\nparams: {l: '[]'}\ntasks:\n  - name: s\n    type: sub_workflow\n    workflow: child\n    map: {over: '${l}', as: x}\n";
        let e = error(text);
        assert!(e.contains("line 7"), "{e}");
        assert!(e.contains("a sub_workflow task cannot be mapped"), "{e}");
        for kind in ["python\n    script: print(1)", "noop"] {
            let text = format!(
                "name: w\nparams: {{l: '[]'}}\ntasks:\n  - name: m\n    type: {kind}\n    map: {{over: '${{l}}', as: x}}\n"
            );
            WorkflowSpec::from_yaml(&text, "w").unwrap();
        }
    }

    #[test]
    fn the_item_counts_as_defined_and_the_list_must_be() {
        let spec = WorkflowSpec::from_yaml(&wf("{over: '${parts}', as: part}"), "w").unwrap();
        assert!(crate::params::check_all(&spec, &Default::default()).is_empty());
        let text = wf("{over: '${nothing}', as: part}");
        let spec = WorkflowSpec::from_yaml(&text, "w").unwrap();
        let undefined = crate::params::check_all(&spec, &Default::default());
        assert_eq!(undefined.len(), 1, "{undefined:?}");
        assert_eq!(undefined[0].names, vec!["nothing".to_string()]);
    }

    #[test]
    fn an_upstream_output_is_a_list_a_map_may_go_over() {
        let text = "name: w\ntasks:\n  - name: list\n    type: shell\n    command: echo '${setValue(parts=[1,2])}'\n  - name: m\n    type: shell\n    depends_on: [list]\n    command: echo ${part}\n    map: {over: '${parts}', as: part}\n";
        let spec = WorkflowSpec::from_yaml(text, "w").unwrap();
        assert!(crate::params::check_all(&spec, &Default::default()).is_empty());
    }

    #[test]
    fn downstream_of_a_mapped_task_sees_its_outputs_list_not_its_items_outputs() {
        let text = "name: w\nparams: {l: '[1]'}\ntasks:\n  - name: load\n    type: shell\n    command: echo '${setValue(rows=1)}' ${x}\n    map: {over: '${l}', as: x}\n  - name: report\n    type: shell\n    depends_on: [load]\n    command: echo ${load.outputs} ${rows}\n";
        let spec = WorkflowSpec::from_yaml(text, "w").unwrap();
        let undefined = crate::params::check_all(&spec, &Default::default());
        assert_eq!(undefined.len(), 1, "{undefined:?}");
        assert_eq!(undefined[0].names, vec!["rows".to_string()]);
    }
}
