//! The `schedule:` block of a workflow file: when the workflow fires by itself.

use crate::duration;
use crate::schedule::{parse_timezone, Cron, Schedule};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What to do with fires missed while no master ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Drop them.
    Skip,
    /// Run once, for the latest missed fire time.
    #[default]
    FireOnce,
    /// Run each of them, oldest first, at most `max_catchup`.
    FireAll,
}

/// What a fire does while an earlier instance of the same schedule still runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concurrency {
    /// Start another instance alongside.
    #[default]
    Allow,
    /// Drop this fire.
    Skip,
    /// Start it when the earlier ones have ended.
    Queue,
    /// Stop the earlier ones, then start.
    Replace,
}

/// A checked schedule block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// A cron expression (5 or 6 fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Fire every interval, measured from one fire to the next.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed_rate: Option<Duration>,
    /// Fire the interval after the previous instance ended.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed_delay: Option<Duration>,
    /// IANA zone of the cron expression (default: the workflow's `timezone`, else UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// No fire before this (`2026-01-01` or RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// No fire after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Offline schedules do not fire.
    #[serde(default = "yes")]
    pub online: bool,
    /// Fires missed while no master ran.
    #[serde(default)]
    pub misfire: Misfire,
    /// With `misfire: fire_all`, at most this many catch-up instances.
    #[serde(default = "ten")]
    pub max_catchup: u32,
    /// A fire while an earlier instance still runs.
    #[serde(default)]
    pub concurrency: Concurrency,
}

fn yes() -> bool {
    true
}
fn ten() -> u32 {
    10
}

/// When a schedule fires, resolved.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// On cron fire times.
    Cron(Schedule),
    /// Every interval from the first fire.
    FixedRate(Duration),
    /// The interval after each instance ends.
    FixedDelay(Duration),
}

impl ScheduleSpec {
    /// Checks the block; each problem is a message for the user.
    pub fn check(&self, workflow_tz: Option<&str>) -> Vec<String> {
        let mut problems = Vec::new();
        let kinds = [self.cron.is_some(), self.fixed_rate.is_some(), self.fixed_delay.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            problems.push("schedule: give exactly one of `cron`, `fixed_rate`, `fixed_delay`".into());
        }
        if let Some(c) = &self.cron {
            if let Err(e) = Cron::parse(c) {
                problems.push(format!("schedule: cron `{c}`: {e}"));
            }
        }
        for d in [self.fixed_rate, self.fixed_delay].into_iter().flatten() {
            if d < Duration::from_secs(1) {
                problems.push("schedule: a fixed rate or delay must be at least 1s".into());
            }
        }
        let tz = match self.zone(workflow_tz) {
            Ok(tz) => Some(tz),
            Err(e) => {
                problems.push(format!("schedule: {e}"));
                None
            }
        };
        if let Some(tz) = tz {
            for (what, v) in [("start", &self.start), ("end", &self.end)] {
                if let Some(text) = v {
                    if let Err(e) = parse_instant(text, tz) {
                        problems.push(format!("schedule: {what}: {e}"));
                    }
                }
            }
        }
        problems
    }

    /// The zone of the schedule.
    pub fn zone(&self, workflow_tz: Option<&str>) -> Result<Tz, String> {
        match self.timezone.as_deref().or(workflow_tz) {
            Some(name) => parse_timezone(name).map_err(|e| e.to_string()),
            None => Ok(chrono_tz::UTC),
        }
    }

    /// The start and end bounds.
    pub fn bounds(&self, tz: Tz) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let b = |v: &Option<String>| v.as_deref().and_then(|t| parse_instant(t, tz).ok());
        (b(&self.start), b(&self.end))
    }

    /// The trigger of a checked block.
    pub fn trigger(&self, workflow_tz: Option<&str>) -> Result<Trigger, String> {
        if let Some(c) = &self.cron {
            let tz = self.zone(workflow_tz)?;
            let cron = Cron::parse(c).map_err(|e| e.to_string())?;
            let (start, end) = self.bounds(tz);
            let mut schedule = Schedule::new(cron, tz);
            schedule.start = start;
            schedule.end = end;
            return Ok(Trigger::Cron(schedule));
        }
        if let Some(d) = self.fixed_rate {
            return Ok(Trigger::FixedRate(d));
        }
        if let Some(d) = self.fixed_delay {
            return Ok(Trigger::FixedDelay(d));
        }
        Err("schedule: no `cron`, `fixed_rate` or `fixed_delay`".into())
    }
}

/// `2026-01-01` (midnight in `tz`) or an RFC 3339 instant.
pub fn parse_instant(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is neither a date (2026-01-31) nor an RFC 3339 time"))?;
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("`{text}` does not exist in {tz}"))
}
