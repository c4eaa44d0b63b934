//! Task types the worker runs, one module each. An executor turns a dispatched task into a plan:
//! a process to start (shell, python) or nothing to start at all (noop).

pub(crate) mod noop;
pub(crate) mod python;
pub(crate) mod shell;

use baton_proto::dispatch_request::Kind;

use crate::config::WorkerConfig;
use crate::process::ProcessSpec;

/// How an attempt is carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Start this process and follow it.
    Process(ProcessSpec),
    /// Succeed at once without a process.
    Noop,
}

/// The plan for a task of kind `kind`.
pub(crate) fn plan(kind: &Kind, config: &WorkerConfig) -> Plan {
    match kind {
        Kind::Shell(task) => shell::plan(task),
        Kind::Python(task) => python::plan(task, &config.python),
        Kind::Noop(_) => noop::plan(),
    }
}
