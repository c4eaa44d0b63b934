//! The workflow definition: what a user writes in a workflow file, checked once, so that
//! everything downstream (store, master, worker) can trust it.
//!
//! Parsing goes through [`file`], a literal mirror of the YAML with every field optional and
//! unknown fields refused; [`WorkflowSpec::from_yaml`] then checks it as a whole and reports
//! every problem it finds, each naming the file and the task.

pub mod broadcast;
mod file;
pub mod kinds;
pub mod logic;
pub mod map;
pub mod map_reduce;
pub mod param_rule;
pub mod schedule;
mod validate;
mod yaml;

pub use kinds::http::{HttpMethod, HttpSpec};
pub use kinds::service::{Backoff, HealthProbe, HealthSpec, RestartPolicy, ServiceSpec};
pub use kinds::sql::{SqlOutputs, SqlSpec};
pub use kinds::task_types;
pub use logic::{Condition, DependItem, Dependence, Expect, Relation, SwitchCase};
pub use map::{reference_of as map_reference, MapFailure, MapSpec, Over};
pub use map_reduce::MapReduceSpec;
pub use param_rule::{ExtraParams, ParamDecl, ParamRule};
pub use schedule::{Concurrency, Misfire, ScheduleSpec, Trigger};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub use validate::valid_name;

/// What to do with the rest of a workflow instance when a task fails after its retries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureStrategy {
    /// Kill the running tasks and fail the workflow at once.
    #[default]
    End,
    /// Let independent branches run on; the failed task's downstream does not run.
    Continue,
}

impl FailureStrategy {
    /// The name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureStrategy::End => "end",
            FailureStrategy::Continue => "continue",
        }
    }
}

impl std::str::FromStr for FailureStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "end" => Ok(Self::End),
            "continue" => Ok(Self::Continue),
            _ => Err(format!("unknown failure strategy `{s}` (end, continue)")),
        }
    }
}

/// Dispatch priority of a workflow or a task: when worker slots are short, higher goes first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Goes last.
    Lowest,
    /// Below the default.
    Low,
    /// The default.
    #[default]
    Medium,
    /// Above the default.
    High,
    /// Goes first.
    Highest,
}

impl Priority {
    /// The name used in files, the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Lowest => "lowest",
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Highest => "highest",
        }
    }
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lowest" => Ok(Self::Lowest),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "highest" => Ok(Self::Highest),
            _ => Err(format!(
                "unknown priority `{s}` (highest, high, medium, low, lowest)"
            )),
        }
    }
}

/// What a task does, by type. Each type carries only the fields it uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskKind {
    /// Run by `bash -c`: a one-line `command` or a multi-line `script` (the same to bash).
    Shell {
        /// The text given to bash.
        command: String,
    },
    /// Run by `python3 -u -c`.
    Python {
        /// The program.
        script: String,
    },
    /// Does nothing and succeeds: a join point, and the engine's own cost in benchmarks.
    Noop,
    /// Sends one HTTP request from a worker; succeeds on an expected status.
    Http(HttpSpec),
    /// Runs SQL statements on one of the project's data sources from a worker.
    Sql(SqlSpec),
    /// A long-running process a worker supervises (restarts, health checks) until the
    /// instance is stopped; its downstream tasks start once it is healthy.
    Service(ServiceSpec),
    /// Runs another workflow as a child instance; ends as the child ends, with its outputs.
    SubWorkflow {
        /// The child workflow's name (same project).
        workflow: String,
        /// A pinned version (default: the latest when the task starts).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<i64>,
    },
    /// Waits until other workflows have succeeded for a date cycle; fails at its `timeout`.
    Dependent {
        /// What must have succeeded.
        dependence: Dependence,
        /// How often to look again.
        #[serde(
            with = "crate::duration::required",
            default = "logic::default_check_interval"
        )]
        check_interval: Duration,
    },
    /// After its upstream tasks end (well or not), takes the `success` or `failure` branch;
    /// the other branch is skipped.
    Conditions {
        /// When to take `success` (default: every upstream task succeeded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        condition: Option<Condition>,
        /// Tasks that run when the condition holds.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        success: Vec<String>,
        /// Tasks that run when it does not.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        failure: Vec<String>,
    },
    /// Takes the branch of the first case whose condition holds, or the default; the other
    /// branches are skipped.
    Switch {
        /// Conditions and their branches, in order.
        cases: Vec<SwitchCase>,
        /// The branch when no case holds (none: every branch is skipped).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        default: Vec<String>,
    },
}

impl TaskKind {
    /// The name of the type, as written in the file.
    pub fn type_name(&self) -> &'static str {
        match self {
            TaskKind::Shell { .. } => "shell",
            TaskKind::Python { .. } => "python",
            TaskKind::Noop => "noop",
            TaskKind::Http(_) => "http",
            TaskKind::Sql(_) => "sql",
            TaskKind::Service(_) => "service",
            TaskKind::SubWorkflow { .. } => "sub_workflow",
            TaskKind::Dependent { .. } => "dependent",
            TaskKind::Conditions { .. } => "conditions",
            TaskKind::Switch { .. } => "switch",
        }
    }

    /// The output params the task says it sets: `setValue(NAME=` in its program, or the
    /// names of its `outputs`.
    pub fn output_names(&self) -> Vec<String> {
        match self {
            TaskKind::Shell { command: body } | TaskKind::Python { script: body } => {
                crate::params::declared_outputs(body)
            }
            TaskKind::Http(http) => http.outputs.keys().cloned().collect(),
            TaskKind::Sql(sql) => match sql.outputs {
                SqlOutputs::AllRows => vec![kinds::sql::ALL_ROWS_OUTPUT.to_string()],
                SqlOutputs::None | SqlOutputs::FirstRow => Vec::new(),
            },
            TaskKind::Noop
            | TaskKind::Service(_)
            | TaskKind::SubWorkflow { .. }
            | TaskKind::Dependent { .. }
            | TaskKind::Conditions { .. }
            | TaskKind::Switch { .. } => Vec::new(),
        }
    }

    /// Whether the task may set output params whose names cannot be known before it runs (a
    /// sub-workflow passes back its child's; a `sql` task's `first_row` names them after its
    /// columns): a downstream reference to an unknown name is then not refused at apply.
    pub fn sets_unknown_outputs(&self) -> bool {
        match self {
            TaskKind::SubWorkflow { .. } => true,
            TaskKind::Sql(sql) => sql.outputs == SqlOutputs::FirstRow,
            TaskKind::Shell { .. }
            | TaskKind::Python { .. }
            | TaskKind::Noop
            | TaskKind::Http(_)
            | TaskKind::Service(_)
            | TaskKind::Dependent { .. }
            | TaskKind::Conditions { .. }
            | TaskKind::Switch { .. } => false,
        }
    }

    /// The text in which `${param}` references are substituted.
    pub fn body(&self) -> Option<&str> {
        match self {
            TaskKind::Shell { command } => Some(command),
            TaskKind::Python { script } => Some(script),
            TaskKind::Service(s) => Some(&s.command),
            TaskKind::Noop
            | TaskKind::Http(_)
            | TaskKind::Sql(_)
            | TaskKind::SubWorkflow { .. }
            | TaskKind::Dependent { .. }
            | TaskKind::Conditions { .. }
            | TaskKind::Switch { .. } => None,
        }
    }
}

/// One node of the DAG, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Unique within the workflow.
    pub name: String,
    /// Type and type-specific fields.
    #[serde(flatten)]
    pub kind: TaskKind,
    /// Tasks that must succeed before this one runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Further attempts after a failure.
    #[serde(default)]
    pub retries: u32,
    /// Wait between a failure and the next attempt.
    #[serde(with = "crate::duration::required", default = "default_retry_interval")]
    pub retry_interval: Duration,
    /// An attempt running longer is killed and counts as failed.
    #[serde(
        default,
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// What reaching the timeout does: fail the attempt (default), only record a warning
    /// event while the task goes on, or both.
    #[serde(default, skip_serializing_if = "is_default")]
    pub timeout_strategy: TimeoutStrategy,
    /// Extra environment variables (values may use `${param}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Local params: override the workflow's, are overridden by start-time params.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// Only workers of this group run the task.
    #[serde(default = "default_group")]
    pub worker_group: String,
    /// Order among ready tasks when slots are short.
    #[serde(default)]
    pub priority: Priority,
    /// What happens when the worker running an attempt is lost.
    #[serde(default, skip_serializing_if = "is_default")]
    pub failover: FailoverPolicy,
    /// A pool with a cluster-wide limit of attempts running at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_group: Option<String>,
    /// Order among the group's waiting tasks (default: the task's priority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_group_priority: Option<Priority>,
    /// One task instance per item of a list decided at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapSpec>,
    /// One task instance on each live worker of the group (`broadcast: true`, read and
    /// checked in `spec/broadcast.rs`); never with `map`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub broadcast: bool,
    /// Map-reduce in one task: the script adds sub-tasks, each runs `run`, then `reduce`
    /// runs with their outputs (read and checked in `spec/map_reduce.rs`); never with `map`
    /// or `broadcast`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_reduce: Option<MapReduceSpec>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// What to do with an attempt whose worker was lost (died, or cut off from the cluster).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverPolicy {
    /// Run it again on another worker of the group (a new attempt).
    #[default]
    Rerun,
    /// Fail the task (for work that must not run twice).
    Fail,
}

/// What an attempt running past its task's `timeout` leads to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutStrategy {
    /// Kill the attempt; it fails (and is retried if the task has retries left).
    #[default]
    Fail,
    /// Let it run on; a `task_timeout` event is recorded for alerting.
    Warn,
    /// Record the `task_timeout` event, then kill the attempt, which fails.
    Both,
}

impl TimeoutStrategy {
    /// The name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutStrategy::Fail => "fail",
            TimeoutStrategy::Warn => "warn",
            TimeoutStrategy::Both => "both",
        }
    }

    /// Whether a timeout records a warning event.
    pub fn warns(self) -> bool {
        matches!(self, TimeoutStrategy::Warn | TimeoutStrategy::Both)
    }

    /// Whether a timeout kills the attempt.
    pub fn kills(self) -> bool {
        matches!(self, TimeoutStrategy::Fail | TimeoutStrategy::Both)
    }
}

/// How a task runs as many task instances of its own (items), when it does: what its items
/// are made of. A task with items runs no attempt itself; its items run under the rules of
/// [`crate::run::map`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Items<'a> {
    /// `map:`: one item per element of a list known when the task becomes ready.
    Map(&'a MapSpec),
    /// `broadcast: true`: one item per live worker of the task's group, pinned to it.
    Broadcast,
    /// `map_reduce:`: one item per sub-task its split step adds at run time, then the
    /// reduce.
    MapReduce(&'a MapReduceSpec),
}

impl TaskSpec {
    /// What the task's items are made of; `None` for a task that runs as itself.
    pub fn items(&self) -> Option<Items<'_>> {
        match (&self.map, self.broadcast, &self.map_reduce) {
            (Some(map), _, _) => Some(Items::Map(map)),
            (None, true, _) => Some(Items::Broadcast),
            (None, false, Some(mr)) => Some(Items::MapReduce(mr)),
            (None, false, None) => None,
        }
    }

    /// Its place among waiting tasks: `task_group_priority` for a task of a task group, else
    /// its priority.
    pub fn queue_priority(&self) -> Priority {
        match (&self.task_group, self.task_group_priority) {
            (Some(_), Some(p)) => p,
            _ => self.priority,
        }
    }
}

/// A whole workflow definition, checked: names valid and unique, dependencies known, no cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowSpec {
    /// Unique within the project.
    pub name: String,
    /// Namespace of the workflow.
    #[serde(default = "default_project")]
    pub project: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Global params: each one's default value (a declared param without a default, such as
    /// a required one, is not here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The params declared with a type or rule, checked at every start.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub param_rules: BTreeMap<String, ParamDecl>,
    /// Whether a start may pass params this workflow does not declare.
    #[serde(default, skip_serializing_if = "ExtraParams::is_refuse")]
    pub extra_params: ExtraParams,
    /// What a failure does to the rest of the instance.
    #[serde(default)]
    pub failure_strategy: FailureStrategy,
    /// Priority of the workflow's instances.
    #[serde(default)]
    pub priority: Priority,
    /// IANA time zone of the workflow's dates: `$[yyyyMMdd]` and the business date are
    /// computed in it. UTC when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// When the workflow fires by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    /// The DAG's nodes, in file order.
    pub tasks: Vec<TaskSpec>,
    /// Which events of its instances go to which of its project's alert channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<crate::alert::AlertRuleSpec>,
}

/// The most retries a task may have: its attempt numbers then always fit the protocol's and
/// the store's integers.
pub const MAX_RETRIES: u32 = 10_000;

/// The project used when a file names none.
pub const DEFAULT_PROJECT: &str = "default";
/// The worker group used when a task names none.
pub const DEFAULT_WORKER_GROUP: &str = "default";

fn default_project() -> String {
    DEFAULT_PROJECT.to_string()
}
fn default_group() -> String {
    DEFAULT_WORKER_GROUP.to_string()
}
fn default_retry_interval() -> Duration {
    Duration::from_secs(1)
}

/// One thing wrong with a workflow file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The task it concerns, if any.
    pub task: Option<String>,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}")?;
            if let Some(col) = self.column {
                write!(f, ", column {col}")?;
            }
            f.write_str(": ")?;
        }
        if let Some(task) = &self.task {
            write!(f, "task `{task}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A workflow file that cannot be accepted, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// The file (or other source) the text came from.
    pub source_name: String,
    /// Each problem, in file order where possible.
    pub problems: Vec<Problem>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {p}", self.source_name)?;
        }
        Ok(())
    }
}

impl WorkflowSpec {
    /// Parses and checks a workflow file. `source_name` (usually the path) starts every
    /// message. Nothing is accepted unless everything is right.
    pub fn from_yaml(text: &str, source_name: &str) -> Result<WorkflowSpec, SpecError> {
        let (raw, problems) = file::parse(text).map_err(|problems| SpecError {
            source_name: source_name.to_string(),
            problems,
        })?;
        validate::check(raw, problems).map_err(|problems| SpecError {
            source_name: source_name.to_string(),
            problems,
        })
    }

    /// The definition as a workflow file that applies back to an equal spec (what `workflow
    /// export` prints and what a schedule change stores as the new version's source):
    /// declared params are written back as declarations under `params:`.
    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        let mut file = serde_yaml::to_value(self)?;
        if let serde_yaml::Value::Mapping(fields) = &mut file {
            fields.remove("param_rules");
            if !self.param_rules.is_empty() {
                let params = self.params_as_written()?;
                fields.insert("params".into(), params);
            }
        }
        serde_yaml::to_string(&file)
    }

    /// `params:` as a file writes it: a plain default, or a declaration with its default.
    fn params_as_written(&self) -> Result<serde_yaml::Value, serde_yaml::Error> {
        use serde_yaml::{Mapping, Value};
        let mut params = Mapping::new();
        for (name, default) in &self.params {
            if !self.param_rules.contains_key(name) {
                params.insert(name.as_str().into(), default.as_str().into());
            }
        }
        for (name, decl) in &self.param_rules {
            let mut fields = match decl.rule.clone() {
                // The file says `enum: [...]` with no type.
                ParamRule::Enum { values } => {
                    Mapping::from_iter([("enum".into(), serde_yaml::to_value(values)?)])
                }
                other => match serde_yaml::to_value(other)? {
                    Value::Mapping(m) => m,
                    _ => Mapping::new(),
                },
            };
            if let Some(default) = self.params.get(name) {
                fields.insert("default".into(), default.as_str().into());
            }
            if decl.required {
                fields.insert("required".into(), true.into());
            }
            if !decl.description.is_empty() {
                fields.insert("description".into(), decl.description.as_str().into());
            }
            params.insert(name.as_str().into(), Value::Mapping(fields));
        }
        Ok(Value::Mapping(params))
    }

    /// True when `name` is one of the workflow's params (with a default or a rule).
    pub fn declares(&self, name: &str) -> bool {
        self.params.contains_key(name) || self.param_rules.contains_key(name)
    }

    /// Reads a spec stored as JSON by [`WorkflowSpec::to_json`].
    pub fn from_json(text: &str) -> Result<WorkflowSpec, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The canonical stored form: equal specs give equal text, which is how a changed
    /// definition is told from an unchanged one.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a workflow spec always serializes")
    }

    /// The workflow's time zone (UTC unless the file names one; checked when parsed).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(chrono_tz::UTC)
    }

    /// The task of that name.
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests;
