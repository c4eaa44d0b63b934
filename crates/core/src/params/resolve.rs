//! Resolution of a task's text for one run: `${name}` from the four param sources and the
//! system params, `$[...]` against the schedule time. The master calls [`RunScope::resolve_task`] once
//! per attempt and hands the result to a worker. In a shell command, a python script and a
//! `switch` condition a reference is embedded as data ([`super::embed`]); in env values and
//! in param values it is replaced by its text.
//!
//! # Where a name's value comes from
//! `system.*` names always take the system's value. Any other name takes the first value
//! found in: start-time params, the task's (local) params, upstream output params, the
//! workflow's (global) params.
//!
//! # Values are expanded
//! A local or global value (written by the workflow's author) may itself use `${other}` and
//! `$[...]` (`dt: "$[yyyyMMdd-1]"`, `path: "/data/${dt}"`); it is expanded when first used,
//! and a name that refers back to itself is an error. A start-time value (the caller's data)
//! has only its `$[...]` evaluated: a `${name}` in it is text. Upstream output values are
//! taken verbatim: they were printed by a task that has already run.

use super::embed::{bash, cel, env_name, http, python, sql, MARK};
use super::expr::{eval_time_expr, ExprError};
use super::system::{is_system_param, system_params, SystemContext};
use super::text::{pieces, Piece};
use super::{Condition, ResolvedTask, UndefinedParams};
use crate::spec::{HttpSpec, SqlSpec, TaskKind, TaskSpec, WorkflowSpec};
use chrono::DateTime;
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// Most bytes a text may expand to (a param's value, an env value): values that refer to
/// others twice over (`a1: ${a2}${a2}`, `a2: ${a3}${a3}`, …) double at each level, and must
/// not take the master's memory with them.
pub const MAX_EXPANDED_BYTES: usize = 1 << 20;

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
    /// A reference that cannot be written into the task's program so that its value stays
    /// data (see [`super::embed`]).
    #[error("task `{task}`: `${{{param}}}` cannot be substituted here: {reason}")]
    Unsafe {
        /// The task whose program holds it.
        task: String,
        /// The param.
        param: String,
        /// Why, and what to write instead.
        reason: String,
    },
    /// A text that expands to more than [`MAX_EXPANDED_BYTES`].
    #[error("task `{task}`: a param or env value expands to more than {limit} bytes (do its params refer to each other many times over?)")]
    TooLarge {
        /// The task being resolved.
        task: String,
        /// The limit.
        limit: usize,
    },
    /// `${secret.NAME}` of a secret the project does not have.
    #[error(
        "task `{task}`: the project has no secret `{name}` (set it with `baton secret set {name}`)"
    )]
    UnknownSecret {
        /// The task.
        task: String,
        /// The secret's name.
        name: String,
    },
    /// A `sql` task whose text holds no statement (only blanks and `;`).
    #[error("task `{task}`: its `sql` holds no statement")]
    NoStatements {
        /// The task.
        task: String,
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

/// How the values of a param source are expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expand {
    /// `${name}` and `$[...]` (the workflow's and the task's own params).
    All,
    /// Only `$[...]`: a start-time value is the caller's data, and a `${name}` in it is
    /// text, not a reference to another param.
    TimeOnly,
    /// Nothing (output params: printed by a task that has run).
    Nothing,
}

/// Where `${secret.NAME}` takes its value.
#[derive(Debug, Clone, Copy)]
enum SecretValues<'a> {
    /// Checking before a run: every secret counts as set, its value is unknown.
    Checking,
    /// The values the master opened for the dispatch, by name.
    Given(&'a BTreeMap<String, String>),
}

/// No secrets (a task that uses none).
static NO_SECRETS: BTreeMap<String, String> = BTreeMap::new();

/// Expands texts for one task, memoising param values and collecting every problem.
pub(crate) struct Resolver<'a> {
    task: &'a str,
    /// The sources in precedence order, each with how its values are expanded.
    layers: [(&'a BTreeMap<String, String>, Expand); 4],
    system: BTreeMap<String, String>,
    at: DateTime<Tz>,
    done: BTreeMap<String, String>,
    visiting: Vec<String>,
    missing: Vec<String>,
    problems: Vec<ParamError>,
    secrets: SecretValues<'a>,
    /// Set while an http task's headers and body are resolved: the one place a secret may
    /// stand.
    in_payload: bool,
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
                (start, Expand::TimeOnly),
                (&task.params, Expand::All),
                (upstream, Expand::Nothing),
                (&workflow.params, Expand::All),
            ],
            system: system_params(ctx),
            at: ctx.schedule_time,
            done: BTreeMap::new(),
            visiting: Vec::new(),
            missing: Vec::new(),
            problems: Vec::new(),
            secrets: SecretValues::Checking,
            in_payload: false,
        }
    }

    /// Resolves `${secret.NAME}` with `secrets` (the master's, at dispatch).
    fn with_secrets(mut self, secrets: &'a BTreeMap<String, String>) -> Self {
        self.secrets = SecretValues::Given(secrets);
        self
    }

    /// The value of `${secret.NAME}`: only in an http task's headers and body.
    fn secret(&mut self, reference: &str, name: &str) -> String {
        if !self.in_payload {
            self.note(ParamError::Unsafe {
                task: self.task.to_string(),
                param: reference.to_string(),
                reason: "secrets are only for http task headers and bodies".into(),
            });
            return String::new();
        }
        match self.secrets {
            SecretValues::Checking => String::new(),
            SecretValues::Given(values) => match values.get(name) {
                Some(value) => value.clone(),
                None => {
                    self.note(ParamError::UnknownSecret {
                        task: self.task.to_string(),
                        name: name.to_string(),
                    });
                    String::new()
                }
            },
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
        match expand {
            Expand::Nothing => return Some(raw),
            Expand::TimeOnly => {
                let value = self.times_only(&raw);
                self.done.insert(name.to_string(), value.clone());
                return Some(value);
            }
            Expand::All => {}
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

    /// `text` with every reference and expression replaced by its text (for env values and
    /// param values: places where the result is data). Problems are recorded, not returned,
    /// so that one pass finds them all; what cannot be resolved becomes empty.
    pub(crate) fn text(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for piece in pieces(text, true) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(name) => out.push_str(&self.reference(name)),
                Piece::Expr(e) => out.push_str(&self.expression(e)),
            }
            if out.len() > MAX_EXPANDED_BYTES {
                self.note(ParamError::TooLarge {
                    task: self.task.to_string(),
                    limit: MAX_EXPANDED_BYTES,
                });
                return String::new();
            }
        }
        out
    }

    /// `text` with its time expressions replaced and everything else, `${name}` included,
    /// as it is.
    fn times_only(&mut self, text: &str) -> String {
        super::text::expand_times(text, |e| self.expression(e))
    }

    /// The value of `name`, or empty with the name noted as missing.
    fn reference(&mut self, name: &str) -> String {
        if let Some(secret) = super::secrets::secret_name(name) {
            return self.secret(name, secret);
        }
        self.value(name).unwrap_or_else(|| {
            if !self.missing.iter().any(|m| m == name) {
                self.missing.push(name.to_string());
            }
            String::new()
        })
    }

    /// The value of a time expression, or empty with the problem noted.
    fn expression(&mut self, e: &str) -> String {
        eval_time_expr(e, &self.at).unwrap_or_else(|error| {
            self.note(ParamError::BadExpression {
                task: self.task.to_string(),
                error,
            });
            String::new()
        })
    }

    fn note(&mut self, problem: ParamError) {
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// `program` (of a task or a condition) with its time expressions replaced by their
    /// text and every reference by a [`MARK`], and the references' names and values in order.
    fn skeleton(&mut self, program: &str) -> (String, Vec<(String, String)>) {
        let mut skeleton = String::with_capacity(program.len());
        let mut refs = Vec::new();
        if program.contains(MARK) {
            self.note(ParamError::Unsafe {
                task: self.task.to_string(),
                param: String::new(),
                reason: format!(
                    "the text holds the character U+{:04X}, which Baton reserves",
                    u32::from(MARK)
                ),
            });
        }
        for piece in pieces(program, true) {
            match piece {
                Piece::Text(t) => skeleton.push_str(t),
                Piece::Ref(name) => {
                    let value = self.reference(name);
                    refs.push((name.to_string(), value));
                    skeleton.push(MARK);
                }
                Piece::Expr(e) => skeleton.push_str(&self.expression(e)),
            }
        }
        (skeleton, refs)
    }

    /// A shell command with each reference written as its environment variable, quoted for
    /// where it stands; the variables go to `exports`.
    fn bash(&mut self, command: &str, exports: &mut BTreeMap<String, String>) -> String {
        let (skeleton, refs) = self.skeleton(command);
        let contexts = bash::contexts(&skeleton);
        let mut out = String::with_capacity(skeleton.len());
        for (i, part) in skeleton.split(MARK).enumerate() {
            out.push_str(part);
            let (Some((name, value)), Some(&context)) = (refs.get(i), contexts.get(i)) else {
                continue;
            };
            let var = env_name(name);
            match bash::embed(context, &var, value) {
                Ok(text) => out.push_str(&text),
                Err(reason) => self.note(ParamError::Unsafe {
                    task: self.task.to_string(),
                    param: name.clone(),
                    reason: reason.to_string(),
                }),
            }
            exports.insert(var, value.clone());
        }
        out
    }

    /// A python script with each reference written as a string literal of its value; the
    /// values go to `exports` too, for scripts that read them from the environment.
    fn python(&mut self, script: &str, exports: &mut BTreeMap<String, String>) -> String {
        let (skeleton, refs) = self.skeleton(script);
        let contexts = python::contexts(&skeleton);
        let mut out = String::with_capacity(skeleton.len());
        for (i, part) in skeleton.split(MARK).enumerate() {
            out.push_str(part);
            let (Some((name, value)), Some(context)) = (refs.get(i), contexts.get(i)) else {
                continue;
            };
            out.push_str(&python::embed(context, value));
            exports.insert(env_name(name), value.clone());
        }
        out
    }

    /// An `http` task's request with every reference resolved where it stands (see
    /// [`super::embed::http`]).
    /// A URL with its references percent-encoded, none allowed before its path.
    fn url(&mut self, text: &str) -> String {
        let mut url = String::with_capacity(text.len());
        let path_at = http::path_start(text);
        for piece in pieces(text, true) {
            match piece {
                Piece::Text(t) => url.push_str(t),
                Piece::Ref(name) => {
                    let at = name.as_ptr() as usize - text.as_ptr() as usize;
                    if at < path_at {
                        self.note(ParamError::Unsafe {
                            task: self.task.to_string(),
                            param: name.to_string(),
                            reason: "a param cannot stand in a URL's scheme, host or port: write the host in the file".into(),
                        });
                    }
                    url.push_str(&http::url_value(&self.reference(name)));
                }
                Piece::Expr(e) => url.push_str(&http::url_value(&self.expression(e))),
            }
        }
        url
    }

    fn http(&mut self, spec: &HttpSpec) -> HttpSpec {
        let url = self.url(&spec.url);
        self.in_payload = true;
        let mut headers = BTreeMap::new();
        for (name, value) in &spec.headers {
            let value = self.text(value);
            if let Err(reason) = http::header_value(&value) {
                self.note(ParamError::Unsafe {
                    task: self.task.to_string(),
                    param: format!("header {name}"),
                    reason: reason.to_string(),
                });
            }
            headers.insert(name.clone(), value);
        }
        let body = spec.body.as_ref().map(|b| self.json(b));
        let body_text = spec.body_text.as_ref().map(|t| self.text(t));
        self.in_payload = false;
        HttpSpec {
            method: spec.method,
            url,
            headers,
            body,
            body_text,
            expect_status: spec.expect_status.clone(),
            outputs: spec.outputs.clone(),
        }
    }

    /// A `sql` task's statements, each reference a bound value (see [`super::embed::sql`]).
    fn sql(&mut self, spec: &SqlSpec) -> Vec<sql::BoundStatement> {
        let (skeleton, refs) = self.skeleton(&spec.sql);
        let values: Vec<String> = refs.iter().map(|(_, v)| v.clone()).collect();
        match sql::statements(&skeleton, &values) {
            Ok(statements) if statements.is_empty() => {
                self.note(ParamError::NoStatements {
                    task: self.task.to_string(),
                });
                statements
            }
            Ok(statements) => statements,
            Err((index, reason)) => {
                self.note(ParamError::Unsafe {
                    task: self.task.to_string(),
                    param: refs.get(index).map(|(n, _)| n.clone()).unwrap_or_default(),
                    reason: reason.to_string(),
                });
                Vec::new()
            }
        }
    }

    /// A JSON value with every string (keys too) resolved as text: a value stays inside the
    /// string it stands in.
    fn json(&mut self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.json(v)).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (self.text(k), self.json(v)))
                    .collect(),
            ),
            Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
        }
    }

    /// A `switch` condition with each reference written as a variable bound to its value.
    pub(crate) fn condition(&mut self, text: &str) -> Condition {
        let (skeleton, refs) = self.skeleton(text);
        let contexts = cel::contexts(&skeleton);
        let mut program = String::with_capacity(skeleton.len());
        let mut shown = String::with_capacity(skeleton.len());
        let mut bindings = Vec::new();
        for (i, part) in skeleton.split(MARK).enumerate() {
            program.push_str(part);
            shown.push_str(part);
            let (Some((_, value)), Some(context)) = (refs.get(i), contexts.get(i)) else {
                continue;
            };
            let var = format!("baton_param_{i}");
            let (text, binding) = cel::embed(context, &var, value);
            program.push_str(&text);
            shown.push_str(value);
            bindings.push((var, binding));
        }
        Condition {
            program,
            bindings,
            shown,
        }
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

    /// A service's command (and health command) embedded as a shell task's, its health URL
    /// as an http task's.
    fn service(
        &mut self,
        spec: &crate::spec::ServiceSpec,
        exports: &mut BTreeMap<String, String>,
    ) -> crate::spec::ServiceSpec {
        use crate::spec::HealthProbe;
        let mut resolved = spec.clone();
        resolved.command = self.bash(&spec.command, exports);
        if let Some(health) = &mut resolved.health {
            health.probe = match &health.probe {
                HealthProbe::Http(url) => HealthProbe::Http(self.url(url)),
                HealthProbe::Command(cmd) => HealthProbe::Command(self.bash(cmd, exports)),
            };
        }
        resolved
    }

    /// The task's kind and env with every text resolved: the program of a shell or python
    /// task with its references embedded as data, its env values substituted, and the
    /// values its program refers to exported (which win over an env entry of the same name).
    pub(crate) fn task(&mut self, task: &TaskSpec) -> ResolvedTask {
        let mut exports = BTreeMap::new();
        let mut statements = Vec::new();
        let kind = match &task.kind {
            TaskKind::Shell { command } => TaskKind::Shell {
                command: self.bash(command, &mut exports),
            },
            TaskKind::Python { script } => TaskKind::Python {
                script: self.python(script, &mut exports),
            },
            TaskKind::Http(spec) => TaskKind::Http(self.http(spec)),
            TaskKind::Service(spec) => TaskKind::Service(self.service(spec, &mut exports)),
            TaskKind::Sql(spec) => {
                statements = self.sql(spec);
                task.kind.clone()
            }
            TaskKind::Noop
            | TaskKind::SubWorkflow { .. }
            | TaskKind::Dependent { .. }
            | TaskKind::Conditions { .. }
            | TaskKind::Switch { .. } => task.kind.clone(),
        };
        self.export_start_params(&mut exports);
        let mut env: BTreeMap<String, String> = task
            .env
            .iter()
            .map(|(k, v)| (k.clone(), self.text(v)))
            .collect();
        env.extend(exports);
        ResolvedTask {
            kind,
            env,
            statements,
        }
    }

    /// Adds every start-time param to `exports`, referenced or not, so that a program can
    /// read any value it was started with from its environment. One that cannot be resolved
    /// and is not referenced is left out, without failing the task.
    fn export_start_params(&mut self, exports: &mut BTreeMap<String, String>) {
        let start = self.layers[0].0;
        for name in start.keys() {
            let var = env_name(name);
            if exports.contains_key(&var) || is_system_param(name) {
                continue;
            }
            let known = self.problems.len();
            if let Some(value) = self.value(name) {
                if self.problems.len() == known {
                    exports.insert(var, value);
                }
            }
            self.problems.truncate(known);
        }
    }
}

/// What one task of one run resolves against: the definition, the task, the instance's
/// start-time params, the output params its upstream tasks set, and the system context of
/// the attempt. Built once by the caller; each method resolves one thing.
#[derive(Debug, Clone, Copy)]
pub struct RunScope<'a> {
    /// The workflow's definition (its global params).
    pub workflow: &'a WorkflowSpec,
    /// The task (its local params, its program).
    pub task: &'a TaskSpec,
    /// The instance's start-time params.
    pub start: &'a BTreeMap<String, String>,
    /// The output params the task's upstream tasks set.
    pub upstream: &'a BTreeMap<String, String>,
    /// The attempt's system params and schedule time.
    pub ctx: &'a SystemContext,
}

impl<'a> RunScope<'a> {
    fn resolver(&self) -> Resolver<'a> {
        Resolver::new(
            self.workflow,
            self.task,
            self.start,
            self.upstream,
            self.ctx,
        )
    }

    /// Resolves the task for one attempt: its command or script and its env values, with
    /// `${name}` (system params included) and `$[...]` replaced. The error is the first
    /// problem found (use [`check`](super::check) to list them all before a run). A
    /// `${secret.NAME}` is an error here: see [`RunScope::resolve_task_with_secrets`].
    pub fn resolve_task(&self) -> Result<ResolvedTask, ParamError> {
        self.resolve_task_with_secrets(&NO_SECRETS)
    }

    /// As [`RunScope::resolve_task`], with the values of the project's secrets the task uses
    /// ([`super::secrets::used`]) by name: what the master does at dispatch, the result going
    /// into that dispatch alone.
    pub fn resolve_task_with_secrets(
        &self,
        secrets: &BTreeMap<String, String>,
    ) -> Result<ResolvedTask, ParamError> {
        let mut r = self.resolver().with_secrets(secrets);
        let resolved = r.task(self.task);
        r.into_result(resolved)
    }

    /// As [`RunScope::resolve_task_with_secrets`], for one item of a mapped task: `item` is
    /// its params, `(name, text)` ([`crate::run::map::binding`]), above every other source
    /// and never expanded (an item is data, like an output param).
    pub fn resolve_item(
        &self,
        item: &[(String, String)],
        secrets: &BTreeMap<String, String>,
    ) -> Result<ResolvedTask, ParamError> {
        let mut r = self.resolver().with_secrets(secrets);
        for (name, text) in item {
            r.done.insert(name.clone(), text.clone());
        }
        let resolved = r.task(self.task);
        r.into_result(resolved)
    }

    /// As [`RunScope::resolve_item`], running `body` instead of the task's own kind (a
    /// map-reduce task's sub-task or reduce runs its `run` or `reduce` script), in the
    /// task's scope.
    pub fn resolve_item_as(
        &self,
        body: &crate::spec::TaskSpec,
        item: &[(String, String)],
        secrets: &BTreeMap<String, String>,
    ) -> Result<ResolvedTask, ParamError> {
        let mut r = self.resolver().with_secrets(secrets);
        for (name, text) in item {
            r.done.insert(name.clone(), text.clone());
        }
        let resolved = r.task(body);
        r.into_result(resolved)
    }

    /// Resolves any text as the task would see it (a param passed to a sub-workflow).
    pub fn resolve_text(&self, text: &str) -> Result<String, ParamError> {
        let mut r = self.resolver();
        let out = r.text(text);
        r.into_result(out)
    }

    /// A `switch` condition as the task would evaluate it: its CEL program, with each
    /// reference a variable bound to the value (see [`super::embed::cel`]).
    pub fn resolve_condition(&self, text: &str) -> Result<Condition, ParamError> {
        let mut r = self.resolver();
        let out = r.condition(text);
        r.into_result(out)
    }

    /// Every param the task can see, by name, expanded, system params included: what a run
    /// shows, and what a sub-workflow is given. Unlike [`RunScope::resolve_task`], a broken
    /// param the task never uses is an error here too.
    pub fn task_params(&self) -> Result<BTreeMap<String, String>, ParamError> {
        let mut r = self.resolver();
        let out = r.all();
        r.into_result(out)
    }
}
