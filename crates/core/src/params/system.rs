//! `${system.*}` params: facts about the run (its times, names and ids) that every task may
//! use without declaring them, as DolphinScheduler users expect.

use crate::ids::{TaskInstanceId, WorkflowInstanceId};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// What the engine knows about one attempt of one task, from which the system params and
/// the `$[...]` time expressions are computed. `crates/core` reads no clock, so the caller
/// supplies both times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemContext {
    /// The time the instance stands for, in the workflow's zone: the cron fire time for a
    /// scheduled run, the business date being back-filled, or the start time of a manual run.
    /// `$[...]` expressions are relative to it.
    pub schedule_time: DateTime<Tz>,
    /// When the workflow instance started, in the workflow's zone.
    pub start_time: DateTime<Tz>,
    /// The workflow's name.
    pub workflow_name: String,
    /// The running workflow instance.
    pub workflow_instance_id: WorkflowInstanceId,
    /// The task instance (shared by its attempts).
    pub task_instance_id: TaskInstanceId,
    /// The attempt number, 1 for the first run.
    pub attempt: u32,
}

/// Every system param name, so that checks can count them as defined.
pub const SYSTEM_PARAMS: &[&str] = &[
    "system.datetime",
    "system.biz.date",
    "system.biz.curdate",
    "system.workflow.name",
    "system.workflow.instance.id",
    "system.task.instance.id",
    "system.task.attempt",
    "system.schedule.time",
];

/// True for a name the system defines; such names are never looked up among user params.
pub fn is_system_param(name: &str) -> bool {
    SYSTEM_PARAMS.contains(&name)
}

/// The value of every system param for this context:
/// `system.datetime` start time as yyyyMMddHHmmss, `system.biz.date` schedule time − 1 day
/// as yyyyMMdd, `system.biz.curdate` schedule time as yyyyMMdd, `system.schedule.time`
/// schedule time as yyyyMMddHHmmss, and the name, ids and attempt as given.
pub fn system_params(ctx: &SystemContext) -> BTreeMap<String, String> {
    let schedule = ctx.schedule_time.naive_local();
    let biz = schedule
        .checked_sub_signed(Duration::days(1))
        .unwrap_or(schedule);
    [
        ("system.datetime", seconds(ctx.start_time.naive_local())),
        ("system.biz.date", day(biz)),
        ("system.biz.curdate", day(schedule)),
        ("system.workflow.name", ctx.workflow_name.clone()),
        (
            "system.workflow.instance.id",
            ctx.workflow_instance_id.to_string(),
        ),
        ("system.task.instance.id", ctx.task_instance_id.to_string()),
        ("system.task.attempt", ctx.attempt.to_string()),
        ("system.schedule.time", seconds(schedule)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `yyyyMMdd` (what `%Y%m%d` gives, without reading a format string for every dispatch).
fn day(at: NaiveDateTime) -> String {
    format!("{:04}{:02}{:02}", at.year(), at.month(), at.day())
}

/// `yyyyMMddHHmmss` (what `%Y%m%d%H%M%S` gives).
fn seconds(at: NaiveDateTime) -> String {
    format!(
        "{}{:02}{:02}{:02}",
        day(at),
        at.hour(),
        at.minute(),
        at.second()
    )
}
