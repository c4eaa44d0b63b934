//! The workflow file as written: every field optional, unknown fields refused, so that serde
//! reports a misspelt field or a bad value with its line and column.

use super::yaml::{self, Step};
use super::{FailoverPolicy, FailureStrategy, Priority, Problem, TimeoutStrategy};
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTask {
    /// Fields whose value could not be read (already reported): checks that need them are
    /// skipped, so that one mistake is not reported twice.
    #[serde(skip)]
    pub broken: Vec<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub command: Option<String>,
    pub script: Option<String>,
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
    // Logic task types (see logic.rs).
    pub workflow: Option<String>,
    pub version: Option<i64>,
    pub dependence: Option<super::Dependence>,
    #[serde(default, with = "crate::duration::option")]
    pub check_interval: Option<Duration>,
    pub condition: Option<super::Condition>,
    #[serde(default, deserialize_with = "super::logic::opt_one_or_many")]
    pub success: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::logic::opt_one_or_many")]
    pub failure: Option<Vec<String>>,
    pub cases: Option<Vec<super::SwitchCase>>,
    #[serde(default, deserialize_with = "super::logic::opt_one_or_many")]
    pub default: Option<Vec<String>>,
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
struct Reader<'d> {
    doc: &'d yaml::Document,
    problems: Vec<Problem>,
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
        let (mut raw, _) = self.fields::<RawWorkflow>(map, &[], None);
        raw.params = self.params(params);
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
        let (mut raw, broken) = self.fields::<RawTask>(map, &path, Some(&name));
        raw.broken = broken;
        raw
    }

    /// Reads `T` from `map`, each field on its own so that one bad value does not hide the
    /// others; returns what could be read and the names of the fields that could not.
    fn fields<T: DeserializeOwned + Default>(
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
