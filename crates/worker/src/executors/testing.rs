//! An in-process executor for tests of how the worker runs in-process tasks: it writes to its
//! log, waits, and ends as told, so that Started, timeouts, kills and log caps can be checked
//! before a real in-process task type exists to check them with.

use std::time::Duration;

use super::{AfterDrop, InProcess, InProcessEnd, Plan, Run};
use crate::logfile::CappedLog;

/// Writes `log`, waits `wait`, then ends with `end`; dropped, its `after_drop` (if any)
/// gives this line for the log.
#[derive(Debug)]
pub(crate) struct Scripted {
    pub log: Vec<u8>,
    pub wait: Duration,
    pub end: InProcessEnd,
    pub after_drop: Option<String>,
}

impl Scripted {
    /// The plan that runs it.
    pub(crate) fn plan(self) -> Plan {
        Plan::InProcess(Box::new(self))
    }
}

impl InProcess for Scripted {
    fn after_drop(&self) -> Option<AfterDrop> {
        let line = self.after_drop.clone()?;
        Some(Box::new(move || Box::pin(async move { Some(line) })))
    }

    fn run<'a>(self: Box<Self>, log: &'a mut CappedLog) -> Run<'a> {
        Box::pin(async move {
            log.write(&self.log).await;
            if !self.wait.is_zero() {
                tokio::time::sleep(self.wait).await;
            }
            self.end
        })
    }
}
