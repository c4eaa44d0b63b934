//! Params: `${name}` references and `$[...]` time expressions in commands, scripts and env
//! values, where their values come from, and the output params tasks set for their
//! downstream tasks. Everything here is a pure function: the caller supplies the times.
//!
//! - [`RunScope::resolve_task`] is what the master calls for each attempt: start-time params win over
//!   the task's (local), which win over upstream output params, which win over the
//!   workflow's (global); `${system.*}` ([`SystemContext`]) and `$[...]` ([`eval_time_expr`])
//!   are resolved too, and param values may use both.
//! - [`check`] lists, before anything runs, every reference and expression that would fail;
//!   [`check_start`] checks start-time values against the workflow's declared params.
//! - [`parse_set_values`] is what the worker calls on each line of task output, under the
//!   [`limits`] on output params.
//! - [`references`], [`substitute`] and [`check_all`] are the earlier `${name}`-only API,
//!   kept for its callers.
//!
//! A value is data wherever it goes: in a shell command, a python script or a `switch`
//! condition a reference is embedded so that the language never reads the value as code
//! ([`embed`]); in env values and in other params' values it is replaced by its text.
//!
//! Only `${identifier}` is a reference (letters, digits, `_`, `.`); other shell forms such as
//! `${var:-x}`, `${#arr[@]}` or `$HOME` are left to bash. `$${name}` writes a literal `${name}`.
//! In resolved text every `$[...]` (up to the first `]` on its line) is a time expression,
//! so bash's obsolete `$[1+2]` arithmetic must be written `$((1+2))`; `$$[x]` writes a
//! literal `$[x]`.

mod check;
pub mod embed;
mod expr;
pub mod limits;
mod output;
mod pattern;
mod resolve;
pub mod secrets;
mod start;
mod subtasks;
mod system;
mod text;

pub use check::{check, upstream_outputs};
pub use embed::cel::Binding;
pub use expr::{eval_time_expr, ExprError};
pub use output::{declared_outputs, parse_set_values, unclosed_set_value};
pub use resolve::{ParamError, RunScope};
pub use start::{check_start, StartParamError};
pub use subtasks::{
    is_subtask_name, parse_add_tasks, parse_subtasks_file, Subtask, SubtaskError, SubtaskSet,
    MAX_SUBTASKS, MAX_SUBTASKS_BYTES, MAX_SUBTASK_ARGS_BYTES, MAX_SUBTASK_NAME_BYTES,
    SUBTASKS_FILE,
};
pub use system::{is_system_param, system_params, SystemContext, SYSTEM_PARAMS};

use crate::spec::WorkflowSpec;
use std::collections::{BTreeMap, BTreeSet};
use text::{is_ident, pieces, Piece};

/// Whether `name` can be a param's name (letters, digits, `_`, `.`; not starting with a
/// digit or a dot): what `${name}` refers to.
pub fn is_param_name(name: &str) -> bool {
    is_ident(name)
}

/// The param names referenced in `text`, in order, without repeats.
pub fn references(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in pieces(text, false) {
        if let Piece::Ref(name) = p {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Replaces every reference by its value; the error lists the names that have none.
pub fn substitute(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<String> = Vec::new();
    for p in pieces(text, false) {
        match p {
            Piece::Text(t) | Piece::Expr(t) => out.push_str(t),
            Piece::Ref(name) => match lookup(name) {
                Some(v) => out.push_str(&v),
                None => {
                    if !missing.iter().any(|m| m == name) {
                        missing.push(name.to_string())
                    }
                }
            },
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// A task with every reference resolved, ready to hand to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTask {
    /// The task's kind, its command or script with references embedded as data.
    pub kind: crate::spec::TaskKind,
    /// The task's env with values substituted, and the values its program refers to (as
    /// `BATON_PARAM_<name>`, see [`embed::env_name`]).
    pub env: BTreeMap<String, String>,
    /// A `sql` task's statements, each with its bound values (empty for other types): the
    /// values are never part of the statements' text.
    pub statements: Vec<embed::sql::BoundStatement>,
}

/// A `switch` condition ready to evaluate: the values it refers to are variables, never
/// part of the program.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The CEL program.
    pub program: String,
    /// Its variables and their values.
    pub bindings: Vec<(String, Binding)>,
    /// The condition with the values written in, for people (never evaluated).
    pub shown: String,
}

/// An undefined `${name}` in a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task `{task}`: undefined param{} {} (define it under `params`, pass `--param NAME=VALUE`, or write `$${{NAME}}` for a literal)", if names.len() > 1 { "s" } else { "" }, names.iter().map(|n| format!("`${{{n}}}`")).collect::<Vec<_>>().join(", "))]
pub struct UndefinedParams {
    /// The task whose text refers to them.
    pub task: String,
    /// The names without a value.
    pub names: Vec<String>,
}

/// Checks, before anything runs, that every `${name}` of every task of the workflow has a
/// value with these start-time params. System params count as defined, and so do output
/// params an upstream task sets in its text (see [`check`]). Returns one error per task
/// that has undefined names; [`check`] also reports bad `$[...]` expressions and loops.
pub fn check_all(
    workflow: &WorkflowSpec,
    start: &BTreeMap<String, String>,
) -> Vec<UndefinedParams> {
    check(workflow, start, &BTreeSet::new())
        .into_iter()
        .filter_map(|e| match e {
            ParamError::Undefined(u) => Some(u),
            _ => None,
        })
        .collect()
}

/// Parses `KEY=VALUE` as given to `--param`.
pub fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if is_ident(k) => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("bad param `{text}`: write it as NAME=VALUE")),
    }
}

#[cfg(test)]
mod tests;
