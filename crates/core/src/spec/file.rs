//! The workflow file as written: every field optional, unknown fields refused, so that serde
//! reports a misspelt field or a bad value with its line and column.

use super::kinds;
use super::yaml::{self, Step};
use super::{FailoverPolicy, FailureStrategy, Priority, Problem, TaskKind, TimeoutStrategy};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// A param or env value: any YAML scalar, kept as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub(super) fn into_string(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkflow {
    pub name: Option<String>,
    pub project: Option<String>,
    pub description: Option<String>,
    /// Read entry by entry (see [`Reader::params`]).
    #[serde(skip)]
    pub params: BTreeMap<String, RawParam>,
    pub extra_params: Option<super::ExtraParams>,
    pub failure_strategy: Option<FailureStrategy>,
    pub priority: Option<Priority>,
    pub timezone: Option<String>,
    pub schedule: Option<super::ScheduleSpec>,
    /// Read item by item (see [`Reader::workflow`]).
    #[serde(skip)]
    pub tasks: Vec<RawTask>,
    /// Read item by item (see [`Reader::alerts`]).
    #[serde(skip)]
    pub alerts: Vec<crate::alert::AlertRuleSpec>,
}

/// A workflow param as written: a default value, or a declaration with a rule.
#[derive(Debug)]
pub(super) enum RawParam {
    /// `name: value`.
    Value(Scalar),
    /// `name: {type: …, …}`, with where it stands for the checks' messages.
    Declared(RawParamDecl, Option<yaml::Pos>),
    /// A declaration whose fields could not all be read (already reported).
    Broken,
}

/// `name: {type: int, min: 1, default: 5, …}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParamDecl {
    #[serde(rename = "type")]
    pub kind: Option<ParamType>,
    pub default: Option<Scalar>,
    pub required: Option<bool>,
    #[serde(rename = "enum")]
    pub one_of: Option<Vec<Scalar>>,
    pub pattern: Option<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub description: Option<String>,
}

/// The `type:` of a declared param.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ParamType {
    String,
    Int,
    Number,
    Bool,
    Date,
}

/// The fields every task takes, whatever its type (`type`, `map` and `broadcast`, read apart, and those of
/// [`RawTask`], kept equal by a test): the rest of a task's mapping is its type's own (see
/// [`super::kinds`]).
pub(super) const COMMON_TASK_FIELDS: &[&str] = &[
    "name",
    "type",
    "depends_on",
    "retries",
    "retry_interval",
    "timeout",
    "timeout_strategy",
    "env",
    "params",
    "worker_group",
    "priority",
    "failover",
    "task_group",
    "task_group_priority",
    "map",
    "broadcast",
    "map_reduce",
];

/// A task as written: its common fields, and its type's own fields read into its kind.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTask {
    /// Fields whose value could not be read (already reported): checks that need them are
    /// skipped, so that one mistake is not reported twice.
    #[serde(skip)]
    pub broken: Vec<String>,
    /// What the type's own fields make; `None` when they could not (already reported).
    #[serde(skip)]
    pub kind: Option<TaskKind>,
    /// The task's `map:`, read apart so that its problems stand at their lines.
    #[serde(skip)]
    pub map: Option<super::MapSpec>,
    /// The task's `broadcast:`, read apart as `map:` is.
    #[serde(skip)]
    pub broadcast: bool,
    /// The task's `map_reduce:`, read apart as `map:` is.
    #[serde(skip)]
    pub map_reduce: Option<super::MapReduceSpec>,
    pub name: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub retries: Option<u32>,
    #[serde(default, with = "crate::duration::option")]
    pub retry_interval: Option<Duration>,
    #[serde(default, with = "crate::duration::option")]
    pub timeout: Option<Duration>,
    pub timeout_strategy: Option<TimeoutStrategy>,
    #[serde(default)]
    pub env: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub params: BTreeMap<String, Scalar>,
    pub worker_group: Option<String>,
    pub priority: Option<Priority>,
    pub failover: Option<FailoverPolicy>,
    pub task_group: Option<String>,
    pub task_group_priority: Option<Priority>,
}

/// Parses the text: every problem found, each with its line and column and the task's name
/// where it is inside a task. Values that cannot be read are left out (and their fields named
/// in [`RawTask::broken`]), so that the checks after this one can go on with the rest; `Err`
/// only when the text cannot be read as YAML at all.
pub(super) fn parse(text: &str) -> Result<(RawWorkflow, Vec<Problem>), Vec<Problem>> {
    if text.trim().is_empty() {
        return Err(vec![problem(None, None, "the file is empty".into())]);
    }
    let doc = yaml::read(text).map_err(|e| {
        vec![problem(
            None,
            Some(e.at),
            format!("this is not valid YAML: {}", e.message),
        )]
    })?;
    let mut reader = Reader {
        doc: &doc,
        problems: Vec::new(),
    };
    let raw = reader.workflow();
    let mut problems = duplicates(&doc);
    problems.append(&mut reader.problems);
    // Not even a mapping: nothing else can be checked.
    let Some(raw) = raw else {
        return Err(problems);
    };
    problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column));
    Ok((raw, problems))
}

fn problem(task: Option<String>, at: Option<yaml::Pos>, message: String) -> Problem {
    Problem {
        task,
        line: at.map(|a| a.line),
        column: at.map(|a| a.column),
        message,
    }
}

/// Each key given twice, at its own line, named by its task.
fn duplicates(doc: &yaml::Document) -> Vec<Problem> {
    doc.duplicates
        .iter()
        .map(|d| {
            let (task, inner) = split_task(doc, &d.path);
            let mut field: Vec<String> = inner.iter().map(step_text).collect();
            field.push(d.key.clone());
            problem(
                task,
                Some(d.at),
                format!(
                    "`{}` is given twice (first at line {}); only the first is used",
                    field.join("."),
                    d.first.line
                ),
            )
        })
        .collect()
}

/// The task a path is inside (by name, else `#N`), and the rest of the path.
fn split_task<'p>(doc: &yaml::Document, path: &'p [Step]) -> (Option<String>, &'p [Step]) {
    match path {
        [Step::Key(tasks), Step::Index(i), rest @ ..] if tasks == "tasks" => {
            (Some(task_name(&doc.value["tasks"][*i], *i)), rest)
        }
        _ => (None, path),
    }
}

fn task_name(task: &Value, index: usize) -> String {
    match task.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => format!("#{}", index + 1),
    }
}

fn step_text(step: &Step) -> String {
    match step {
        Step::Key(k) => k.clone(),
        Step::Index(i) => format!("[{i}]"),
    }
}

/// Reads the document into the typed mirror, field by field, collecting what cannot be read.
pub(super) struct Reader<'d> {
    pub(super) doc: &'d yaml::Document,
    pub(super) problems: Vec<Problem>,
}

impl Reader<'_> {
    fn workflow(&mut self) -> Option<RawWorkflow> {
        let Value::Mapping(mut map) = self.doc.value.clone() else {
            self.problems.push(problem(
                None,
                self.doc.position(&[]),
                "a workflow file is a mapping of fields (`name:`, `tasks:`, ...)".into(),
            ));
            return None;
        };
        let tasks = map.remove("tasks");
        let params = map.remove("params");
        let alerts = map.remove("alerts");
        let (mut raw, _) = self.fields::<RawWorkflow>(map, &[], None);
        raw.params = self.params(params);
        raw.alerts = self.alerts(alerts);
        raw.tasks = match tasks {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| self.task(i, item))
                .collect(),
            Some(_) => {
                self.problems.push(problem(
                    None,
                    self.doc.position(&[Step::Key("tasks".into())]),
                    "`tasks` is a list of tasks (`- name: ...`)".into(),
                ));
                Vec::new()
            }
        };
        Some(raw)
    }

    /// The workflow's `alerts:`, rule by rule, each problem at the rule's line.
    fn alerts(&mut self, alerts: Option<Value>) -> Vec<crate::alert::AlertRuleSpec> {
        let items = match alerts {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Sequence(items)) => items,
            Some(_) => {
                self.problems.push(problem(
                    None,
                    self.doc.position(&[Step::Key("alerts".into())]),
                    "`alerts` is a list of rules (`- {on: [instance_failed], channels: [ops]}`)"
                        .into(),
                ));
                return Vec::new();
            }
        };
        let mut rules = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let at = self
                .doc
                .position(&[Step::Key("alerts".into()), Step::Index(i)]);
            match serde_yaml::from_value::<crate::alert::AlertRuleSpec>(item) {
                Ok(rule) => {
                    for message in rule.check(i + 1) {
                        self.problems.push(problem(None, at, message));
                    }
                    rules.push(rule);
                }
                Err(e) => {
                    let e = e.to_string().replace("unknown variant", "unknown event");
                    let message = format!(
                        "alert rule {}: {e} (a rule is `{{on: [{}], channels: [NAME, ...]}}`)",
                        i + 1,
                        crate::alert::known_kinds()
                    );
                    self.problems.push(problem(None, at, message));
                }
            }
        }
        rules
    }

    /// The workflow's `params:`, entry by entry: a scalar is a default value, a mapping a
    /// declaration read field by field.
    fn params(&mut self, params: Option<Value>) -> BTreeMap<String, RawParam> {
        let at = |name: &str| vec![Step::Key("params".into()), Step::Key(name.into())];
        let entries = match params {
            None | Some(Value::Null) => return BTreeMap::new(),
            Some(Value::Mapping(entries)) => entries,
            Some(_) => {
                self.problems.push(problem(
                    None,
                    self.doc.position(&[Step::Key("params".into())]),
                    "`params` is a mapping of names to values or declarations".into(),
                ));
                return BTreeMap::new();
            }
        };
        let mut read = BTreeMap::new();
        for (key, value) in entries {
            let Some(name) = key.as_str().map(str::to_string) else {
                self.problems.push(problem(
                    None,
                    self.doc.position(&[Step::Key("params".into())]),
                    "a param's name is text".into(),
                ));
                continue;
            };
            let param = match value {
                Value::Mapping(fields) => {
                    let path = at(&name);
                    let before = self.problems.len();
                    let (decl, broken) = self.fields::<RawParamDecl>(fields, &path, None);
                    for p in &mut self.problems[before..] {
                        p.message = format!("param `{name}`: {}", p.message);
                    }
                    if broken.is_empty() {
                        RawParam::Declared(decl, self.doc.position(&path))
                    } else {
                        RawParam::Broken
                    }
                }
                other => match serde_yaml::from_value::<Scalar>(other) {
                    Ok(v) => RawParam::Value(v),
                    Err(_) => {
                        self.problems.push(problem(
                            None,
                            self.doc.position(&at(&name)),
                            format!("param `{name}`: a value is a string, a number or a bool, or a declaration such as `{{type: int, default: 1}}`"),
                        ));
                        RawParam::Broken
                    }
                },
            };
            read.insert(name, param);
        }
        read
    }

    fn task(&mut self, index: usize, item: Value) -> RawTask {
        let path = [Step::Key("tasks".into()), Step::Index(index)];
        let name = task_name(&item, index);
        let Value::Mapping(map) = item else {
            self.problems.push(problem(
                Some(name),
                self.doc.position(&path),
                "a task is a mapping of fields (`name:`, `type:`, ...)".into(),
            ));
            return RawTask {
                broken: vec!["name".into(), "type".into()],
                ..RawTask::default()
            };
        };
        let mut common = Mapping::new();
        let mut own = Mapping::new();
        let mut type_value = None;
        let mut map_value = None;
        let mut broadcast_value = None;
        let mut map_reduce_value = None;
        for (key, value) in map {
            match key.as_str() {
                Some("type") => type_value = Some(value),
                Some("map") => map_value = Some(value),
                Some("broadcast") => broadcast_value = Some(value),
                Some("map_reduce") => map_reduce_value = Some(value),
                Some(k) if COMMON_TASK_FIELDS.contains(&k) => {
                    common.insert(key, value);
                }
                _ => {
                    own.insert(key, value);
                }
            }
        }
        let given: Vec<String> = common
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .chain(map_value.is_some().then(|| "map".to_string()))
            .collect();
        let (mut raw, broken) = self.fields::<RawTask>(common, &path, Some(&name));
        raw.broken = broken;
        raw.kind = self.kind(type_value, own, &path, &name);
        if matches!(raw.kind, Some(TaskKind::Service(_))) {
            self.refuse_for_service(&mut raw, &given, &path, &name);
        }
        let mapped = map_value.is_some();
        if let Some(value) = map_value {
            match self.map(value, &path, &name, raw.kind.as_ref()) {
                Ok(spec) => raw.map = Some(spec),
                Err(()) => raw.broken.push("map".into()),
            }
        }
        if let Some(value) = broadcast_value {
            match self.broadcast(value, &path, &name, raw.kind.as_ref(), mapped) {
                Ok(broadcast) => raw.broadcast = broadcast,
                Err(()) => raw.broken.push("broadcast".into()),
            }
        }
        if let Some(value) = map_reduce_value {
            let other = match (mapped, raw.broadcast) {
                (true, _) => Some("map:"),
                (false, true) => Some("broadcast: true"),
                (false, false) => None,
            };
            match self.map_reduce(value, &path, &name, raw.kind.as_ref(), other) {
                Ok(spec) => raw.map_reduce = Some(spec),
                Err(()) => raw.broken.push("map_reduce".into()),
            }
        }
        raw
    }

    /// The task's kind from its `type` and its own fields: every field it does not take,
    /// and every problem of those it does, reported at its line.
    fn kind(
        &mut self,
        type_value: Option<Value>,
        own: Mapping,
        path: &[Step],
        task: &str,
    ) -> Option<TaskKind> {
        let mut type_path = path.to_vec();
        type_path.push(Step::Key("type".into()));
        let known = || kinds::task_types().join(", ");
        let def = match &type_value {
            Some(Value::String(t)) => match kinds::find(t) {
                Some(def) => def,
                None => {
                    let message = format!("unknown type `{t}` (known types: {})", known());
                    self.push_at(task, &type_path, message);
                    return None;
                }
            },
            None => {
                self.push_at(task, path, format!("no `type` (one of: {})", known()));
                return None;
            }
            Some(_) => {
                let message = format!("`type` is the name of a task type (one of: {})", known());
                self.push_at(task, &type_path, message);
                return None;
            }
        };
        let mut foreign = false;
        for key in own.keys() {
            let field = key.as_str().unwrap_or_default();
            if def.fields.contains(&field) {
                continue;
            }
            foreign = true;
            let mut at = path.to_vec();
            at.push(Step::Key(field.to_string()));
            let message = foreign_field(def, field);
            self.push_at(task, &at, message);
        }
        // The fields it does take are checked too, so that one pass reports everything.
        let mut reader = kinds::KindReader {
            reader: self,
            fields: own
                .into_iter()
                .filter(|(k, _)| k.as_str().is_some_and(|f| def.fields.contains(&f)))
                .collect(),
            path: path.to_vec(),
            task: task.to_string(),
            type_name: def.name,
        };
        let kind = (def.read)(&mut reader);
        kind.filter(|_| !foreign)
    }

    /// The common fields a service does not take, each reported at its line: the task is
    /// then not read (its kind is dropped).
    fn refuse_for_service(
        &mut self,
        raw: &mut RawTask,
        given: &[String],
        path: &[Step],
        task: &str,
    ) {
        let mut refused = false;
        for (field, why) in kinds::service::REFUSED_FIELDS {
            if given.iter().any(|g| g == field) {
                let mut at = path.to_vec();
                at.push(Step::Key((*field).to_string()));
                self.push_at(task, &at, (*why).to_string());
                refused = true;
            }
        }
        if raw.failover == Some(FailoverPolicy::Fail) {
            let mut at = path.to_vec();
            at.push(Step::Key("failover".into()));
            let why = "a service is always relaunched on another worker when its worker is lost: it takes no `failover: fail`";
            self.push_at(task, &at, why.into());
            refused = true;
        }
        if refused {
            raw.kind = None;
        }
    }

    fn push_at(&mut self, task: &str, path: &[Step], message: String) {
        self.problems.push(problem(
            Some(task.to_string()),
            self.doc.position(path),
            message,
        ));
    }

    /// Reads `T` from `map`, each field on its own so that one bad value does not hide the
    /// others; returns what could be read and the names of the fields that could not.
    pub(super) fn fields<T: DeserializeOwned + Default>(
        &mut self,
        map: Mapping,
        path: &[Step],
        task: Option<&str>,
    ) -> (T, Vec<String>) {
        // Most files are right: one read of the whole mapping, one field at a time only when
        // it fails.
        if let Ok(raw) = serde_yaml::from_value::<T>(Value::Mapping(map.clone())) {
            return (raw, Vec::new());
        }
        let mut good = Mapping::new();
        let mut broken = Vec::new();
        for (key, value) in map {
            let one = Mapping::from_iter([(key.clone(), value.clone())]);
            match serde_yaml::from_value::<T>(Value::Mapping(one)) {
                Ok(_) => {
                    good.insert(key, value);
                }
                Err(e) => {
                    let name = key.as_str().unwrap_or_default().to_string();
                    let mut at = path.to_vec();
                    at.push(Step::Key(name.clone()));
                    self.problems.push(problem(
                        task.map(str::to_string),
                        self.doc.position(&at),
                        field_message(&name, &e.to_string()),
                    ));
                    broken.push(name);
                }
            }
        }
        match serde_yaml::from_value::<T>(Value::Mapping(good)) {
            Ok(raw) => (raw, broken),
            Err(e) => {
                // Fields fine one by one but not together: report it, read nothing.
                self.problems.push(problem(
                    task.map(str::to_string),
                    self.doc.position(path),
                    e.to_string(),
                ));
                (T::default(), broken)
            }
        }
    }
}

/// What is wrong with a field a task of type `def` does not take: another type's field, or
/// one no task takes (a misspelling, most likely).
fn foreign_field(def: &kinds::KindDef, field: &str) -> String {
    let own = match def.fields {
        [] => "it takes none of its own".to_string(),
        fields => format!("its own fields: {}", fields.join(", ")),
    };
    if kinds::any_takes(field) {
        format!("a {} task does not take `{field}` ({own})", def.name)
    } else {
        format!(
            "unknown field `{field}` (a {} task takes {}; {own})",
            def.name,
            COMMON_TASK_FIELDS.join(", ")
        )
    }
}

/// A field's error in the user's words: which field, and what is wrong with its value.
fn field_message(field: &str, error: &str) -> String {
    let error = error.replace("unknown variant", "unknown value");
    if error.starts_with("unknown field") {
        return error;
    }
    let error = error
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
        .replace("expected u64", "expected a whole number of 0 or more")
        .replace("expected i64", "expected a whole number");
    format!("`{field}`: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_task_fields_are_those_of_raw_task() {
        // serde lists the fields it expects when it meets one it does not know.
        let e = serde_yaml::from_str::<RawTask>("not_a_field: 1")
            .unwrap_err()
            .to_string();
        let listed = e.split("expected one of ").nth(1).unwrap_or_default();
        let mut fields: Vec<&str> = listed
            .split(", ")
            .map(|f| f.trim().trim_matches('`'))
            .map(|f| f.split('`').next().unwrap_or(f))
            .collect();
        fields.push("type");
        fields.push("map");
        fields.push("broadcast");
        fields.push("map_reduce");
        fields.sort_unstable();
        let mut common = COMMON_TASK_FIELDS.to_vec();
        common.sort_unstable();
        assert_eq!(fields, common, "{e}");
    }
}
