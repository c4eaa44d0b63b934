//! Noop tasks: placeholders in a DAG (joins, markers) that succeed at once, inside the worker,
//! without a process or a log.

use super::{InProcess, InProcessEnd, Plan, Run};
use crate::logfile::CappedLog;

/// Succeeds at once.
pub(crate) fn plan() -> Plan {
    Plan::InProcess(Box::new(Noop))
}

/// The noop executor.
#[derive(Debug)]
struct Noop;

impl InProcess for Noop {
    fn run<'a>(self: Box<Self>, _log: &'a mut CappedLog) -> Run<'a> {
        Box::pin(std::future::ready(InProcessEnd::Succeeded(
            Default::default(),
        )))
    }
}
