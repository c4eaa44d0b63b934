//! The workflow file as written: every field optional, unknown fields refused, so that serde
//! reports a misspelt field or a bad value with its line and column.

use super::{FailoverPolicy, FailureStrategy, Priority, Problem, TimeoutStrategy};
use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkflow {
    pub name: Option<String>,
    pub project: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub params: BTreeMap<String, Scalar>,
    pub failure_strategy: Option<FailureStrategy>,
    pub priority: Option<Priority>,
    pub timezone: Option<String>,
    pub schedule: Option<super::ScheduleSpec>,
    #[serde(default)]
    pub tasks: Vec<RawTask>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTask {
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

/// Parses the text, or explains (with line and column, and the task's name where the
/// problem is inside a task) why it cannot be read.
pub(super) fn parse(text: &str) -> Result<RawWorkflow, Vec<Problem>> {
    if text.trim().is_empty() {
        return Err(vec![problem(None, None, "the file is empty".into())]);
    }
    match serde_yaml::from_str::<RawWorkflow>(text) {
        Ok(raw) => Ok(raw),
        Err(e) => {
            let location = e.location();
            let mut message = e.to_string();
            // serde_yaml appends " at line L column C"; we print the location ourselves.
            if let Some(pos) = message.find(" at line ") {
                message.truncate(pos);
            }
            let task = task_named_in(&message, text);
            if task.is_some() {
                if let Some(rest) = message.split_once(": ").map(|(_, r)| r.to_string()) {
                    message = rest;
                }
            }
            Err(vec![problem(
                task,
                location.map(|l| (l.line(), l.column())),
                message,
            )])
        }
    }
}

fn problem(task: Option<String>, at: Option<(usize, usize)>, message: String) -> Problem {
    Problem {
        task,
        line: at.map(|a| a.0),
        column: at.map(|a| a.1),
        message,
    }
}

/// serde_yaml names the path of a bad value like `tasks[2].retries: ...`; turn the index into
/// the task's name when the file is well-formed enough to read it.
fn task_named_in(message: &str, text: &str) -> Option<String> {
    let rest = message.strip_prefix("tasks[")?;
    let index: usize = rest.split(']').next()?.parse().ok()?;
    let value: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let task = value.get("tasks")?.get(index)?;
    match task.get("name").and_then(|n| n.as_str()) {
        Some(name) => Some(name.to_string()),
        None => Some(format!("#{}", index + 1)),
    }
}
