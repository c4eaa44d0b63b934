//! Resolution of a task's text for one run: `${name}` from the four param sources and the
//! system params, `$[...]` against the schedule time. The master calls [`resolve_task`] once
//! per attempt and hands the result to a worker.
//!
//! # Where a name's value comes from
//! `system.*` names always take the system's value. Any other name takes the first value
//! found in: start-time params, the task's (local) params, upstream output params, the
//! workflow's (global) params.
//!
//! # Values are expanded
//! A start-time, local or global value may itself use `${other}` and `$[...]`
//! (`dt: "$[yyyyMMdd-1]"`, `path: "/data/${dt}"`); it is expanded when first used, and a
//! name that refers back to itself is an error. Upstream output values are taken verbatim:
//! they were printed by a task that has already run.

use super::expr::{eval_time_expr, ExprError};
use super::system::{is_system_param, system_params, SystemContext};
use super::text::{pieces, Piece};
use super::{ResolvedTask, UndefinedParams};
use crate::spec::{TaskSpec, WorkflowSpec};
use chrono::DateTime;
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// Why a task's params cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// `${name}` with no value from any source.
    #[error(transparent)]
    Undefined(#[from] UndefinedParams),
    /// A `$[...]` that cannot be evaluated.
    #[error("task `{task}`: {error}")]
    BadExpression {
        /// The task whose text (or one of whose params) holds it.
        task: String,
        /// The expression and what is wrong with it.
        error: ExprError,
    },
    /// A param whose value refers, directly or not, to itself.
    #[error("task `{task}`: param `{}` refers to itself: {}", chain[0], chain.iter().map(|n| format!("${{{n}}}")).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// The task being resolved.
        task: String,
        /// The names on the loop, the first repeated at the end.
        chain: Vec<String>,
    },
}

/// Expands texts for one task, memoising param values and collecting every problem.
pub(crate) struct Resolver<'a> {
    task: &'a str,
    /// The sources in precedence order, each with whether its values are expanded.
    layers: [(&'a BTreeMap<String, String>, bool); 4],
    system: BTreeMap<String, String>,
    at: DateTime<Tz>,
    done: BTreeMap<String, String>,
    visiting: Vec<String>,
    missing: Vec<String>,
    problems: Vec<ParamError>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(
        workflow: &'a WorkflowSpec,
        task: &'a TaskSpec,
        start: &'a BTreeMap<String, String>,
        upstream: &'a BTreeMap<String, String>,
        ctx: &SystemContext,
    ) -> Self {
        Resolver {
            task: &task.name,
            layers: [
                (start, true),
                (&task.params, true),
                (upstream, false),
                (&workflow.params, true),
            ],
            system: system_params(ctx),
            at: ctx.schedule_time,
            done: BTreeMap::new(),
            visiting: Vec::new(),
            missing: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// The value of `name`, expanded; `None` when no source defines it.
    fn value(&mut self, name: &str) -> Option<String> {
        if is_system_param(name) {
            return self.system.get(name).cloned();
        }
        if let Some(v) = self.done.get(name) {
            return Some(v.clone());
        }
        let (raw, expand) = self
            .layers
            .iter()
            .find_map(|(map, expand)| map.get(name).map(|v| (v.clone(), *expand)))?;
        if !expand {
            return Some(raw);
        }
        if let Some(pos) = self.visiting.iter().position(|n| n == name) {
            let mut chain = self.visiting[pos..].to_vec();
            chain.push(name.to_string());
            let error = ParamError::Cycle {
                task: self.task.to_string(),
                chain,
            };
            if !self.problems.contains(&error) {
                self.problems.push(error);
            }
            return Some(String::new());
        }
        self.visiting.push(name.to_string());
        let value = self.text(&raw);
        self.visiting.pop();
        self.done.insert(name.to_string(), value.clone());
        Some(value)
    }

    /// `text` with every reference and expression replaced. Problems are recorded, not
    /// returned, so that one pass finds them all; what cannot be resolved becomes empty.
    pub(crate) fn text(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for piece in pieces(text, true) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(name) => match self.value(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        if !self.missing.iter().any(|m| m == name) {
                            self.missing.push(name.to_string());
                        }
                    }
                },
                Piece::Expr(e) => match eval_time_expr(e, &self.at) {
                    Ok(v) => out.push_str(&v),
                    Err(error) => {
                        let error = ParamError::BadExpression {
                            task: self.task.to_string(),
                            error,
                        };
                        if !self.problems.contains(&error) {
                            self.problems.push(error);
                        }
                    }
                },
            }
        }
        out
    }

    /// Every param the task can see, expanded, system params included.
    pub(crate) fn all(&mut self) -> BTreeMap<String, String> {
        let mut names: Vec<String> = self
            .layers
            .iter()
            .flat_map(|(map, _)| map.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        let mut out = self.system.clone();
        for name in names {
            if let Some(v) = self.value(&name) {
                out.insert(name, v);
            }
        }
        out
    }

    /// The problems found so far: bad expressions and loops first, then undefined names.
    pub(crate) fn finish(self) -> Vec<ParamError> {
        let mut problems = self.problems;
        if !self.missing.is_empty() {
            problems.push(ParamError::Undefined(UndefinedParams {
                task: self.task.to_string(),
                names: self.missing,
            }));
        }
        problems
    }

    /// `Ok(value)` when nothing went wrong, else the first problem.
    fn into_result<T>(self, value: T) -> Result<T, ParamError> {
        match self.finish().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(value),
        }
    }

    /// The task's kind and env with every text resolved.
    pub(crate) fn task(&mut self, task: &TaskSpec) -> ResolvedTask {
        let kind = match task.kind.body() {
            Some(body) => task.kind.with_body(self.text(body)),
            None => task.kind.clone(),
        };
        let env = task
            .env
            .iter()
            .map(|(k, v)| (k.clone(), self.text(v)))
            .collect();
        ResolvedTask { kind, env }
    }
}

/// Resolves a task for one attempt: its command or script and its env values, with
/// `${name}` (system params included) and `$[...]` replaced. `start` are the instance's
/// start-time params, `upstream` the output params its upstream tasks set. The error is the
/// first problem found (use [`check`](super::check) to list them all before a run).
pub fn resolve_task(
    workflow: &WorkflowSpec,
    task: &TaskSpec,
    start: &BTreeMap<String, String>,
    upstream: &BTreeMap<String, String>,
    ctx: &SystemContext,
) -> Result<ResolvedTask, ParamError> {
    let mut r = Resolver::new(workflow, task, start, upstream, ctx);
    let resolved = r.task(task);
    r.into_result(resolved)
}

/// Resolves any text as `task` would see it (a switch condition such as `${rows} > 100`,
/// a param passed to a sub-workflow).
pub fn resolve_text(
    workflow: &WorkflowSpec,
    task: &TaskSpec,
    start: &BTreeMap<String, String>,
    upstream: &BTreeMap<String, String>,
    ctx: &SystemContext,
    text: &str,
) -> Result<String, ParamError> {
    let mut r = Resolver::new(workflow, task, start, upstream, ctx);
    let out = r.text(text);
    r.into_result(out)
}

/// Every param `task` can see, by name, expanded, system params included: what a run
/// shows, and what a sub-workflow is given. Unlike [`resolve_task`], a broken param the
/// task never uses is an error here too.
pub fn task_params(
    workflow: &WorkflowSpec,
    task: &TaskSpec,
    start: &BTreeMap<String, String>,
    upstream: &BTreeMap<String, String>,
    ctx: &SystemContext,
) -> Result<BTreeMap<String, String>, ParamError> {
    let mut r = Resolver::new(workflow, task, start, upstream, ctx);
    let out = r.all();
    r.into_result(out)
}
