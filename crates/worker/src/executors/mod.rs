//! Task types the worker runs, one module each, behind one interface: an executor turns a
//! dispatched task into a [`Plan`], either a process the worker starts and follows (shell,
//! python), work it does inside its own process ([`InProcess`]: noop, `http`, `sql`), or a
//! process it keeps up (`service`, see [`crate::supervisor`]). The attempt around it (log, timeout, kill, report) is the same for both, so a
//! task type only says what it runs.
//!
//! Adding a task type on the worker means its module here and one arm in [`plan`]: the match
//! is over the dispatch's `kind`, generated from the protocol, with no catch-all, so a task
//! type in the protocol without an executor does not compile.

pub(crate) mod http;
pub(crate) mod noop;
pub(crate) mod python;
pub(crate) mod shell;
pub(crate) mod sql;
#[cfg(test)]
pub(crate) mod testing;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use baton_proto::dispatch_request::Kind;

use crate::config::WorkerConfig;
use crate::logfile::CappedLog;
use crate::process::ProcessSpec;

/// How an attempt is carried out.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Start this process and follow it.
    Process(ProcessSpec),
    /// Run this inside the worker.
    InProcess(Box<dyn InProcess>),
    /// Keep this process up until the attempt is stopped (see [`crate::supervisor`]).
    Service(crate::supervisor::ServicePlan),
}

/// What an in-process task's run produces, as the future [`InProcess::run`] returns.
pub(crate) type Run<'a> = Pin<Box<dyn Future<Output = InProcessEnd> + Send + 'a>>;

/// Work left to do once a killed or timed out run was dropped (see [`InProcess::after_drop`]):
/// its future's output is a line for the task's log.
pub(crate) type AfterDrop =
    Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send>;

/// A task type that runs inside the worker process rather than as a process of its own.
///
/// The attempt runs the future [`InProcess::run`] returns, and drops it when the attempt is
/// killed or times out: whatever the task holds (a connection, a request in flight) must be
/// released by dropping it, and what dropping does not stop (a statement running on a
/// database server) is stopped by [`InProcess::after_drop`]. A run that completes without
/// waiting (a noop) reports no Started event, only its end.
pub(crate) trait InProcess: Send + fmt::Debug {
    /// Runs the task, writing what a person should read to `log` (capped like a process's
    /// output).
    fn run<'a>(self: Box<Self>, log: &'a mut CappedLog) -> Run<'a>;

    /// What to do after the run was dropped by a kill or a timeout, taken before it starts;
    /// the attempt awaits it (within a bound) before it reports its end. None by default.
    fn after_drop(&self) -> Option<AfterDrop> {
        None
    }
}

/// How an in-process task ended by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InProcessEnd {
    /// It did its work; these are its output params.
    Succeeded(HashMap<String, String>),
    /// It did not; the message says why, in the user's words.
    Failed(String),
}

/// The plan for a task of kind `kind`. Exhaustive over the protocol's task kinds.
pub(crate) fn plan(kind: &Kind, config: &WorkerConfig) -> Plan {
    match kind {
        Kind::Shell(task) => shell::plan(task),
        Kind::Python(task) => python::plan(task, &config.python),
        Kind::Noop(_) => noop::plan(),
        Kind::Http(task) => http::plan(task, &config.http),
        Kind::Sql(task) => sql::plan(task),
        Kind::Service(task) => {
            Plan::Service(crate::supervisor::ServicePlan::of(task, shell::bash()))
        }
    }
}
