//! Cron schedules in a time zone: when a workflow fires. Pure logic, no clock: every
//! function takes the instant to count from, so the master's trigger, `baton schedule
//! preview` and backfill all get the same answers and tests can pin any date.
//!
//! # Syntax
//!
//! Six fields, `second minute hour day-of-month month day-of-week`, or the classic five
//! (`minute hour day-of-month month day-of-week`, seconds then being 0). Fields are separated
//! by whitespace; there is no year field.
//!
//! | field        | values                         | specials                       |
//! | ------------ | ------------------------------ | ------------------------------ |
//! | second       | 0-59                           |                                |
//! | minute       | 0-59                           |                                |
//! | hour         | 0-23                           |                                |
//! | day-of-month | 1-31                           | `?` `L` `L-n` `nW` `LW`        |
//! | month        | 1-12, `JAN`-`DEC`              |                                |
//! | day-of-week  | 0-7 (0 and 7 Sunday), `SUN`-`SAT` | `?` `nL` `n#k`              |
//!
//! In every field: `*` (any), a value, a range `a-b`, a step `*/s`, `a/s` (from `a` to the
//! top of the field) or `a-b/s`, and comma-separated lists of these. Names are
//! case-insensitive. A step must be at least 1 and less than the field's width.
//!
//! - **Weekdays are numbered as in classic cron: 0 = Sunday, 1 = Monday … 6 = Saturday, and
//!   7 = Sunday again.** Quartz's numbering (1 = Sunday … 7 = Saturday) is *not* used: a
//!   Quartz `6L` (last Friday) is written `5L` or `FRIL` here. Names avoid the question. A
//!   range ending in Sunday (`SAT-SUN`, `5-0`) runs to 7. `*` and `a/s` cover 0-6.
//! - `L` in day-of-month: the last day of the month; `L-n`: n days before it (0-30; no fire
//!   in a month too short for it); `LW`: the last Monday-Friday of the month.
//! - `nW`: the Monday-Friday nearest to day n, never leaving the month: `15W` on a Saturday
//!   fires on Friday the 14th, on a Sunday on Monday the 16th; `1W` on a Saturday fires on
//!   Monday the 3rd; `31W` on a Sunday fires on Friday the 29th. No fire in a month without
//!   day n.
//! - `nL` in day-of-week: the last weekday n of the month (`5L`, `FRIL`: last Friday).
//!   `L` alone is refused (Quartz reads it as Saturday; write `SAT`).
//! - `n#k`: the k-th weekday n of the month, k = 1-5 (`MON#2`, `2#1` = first Tuesday); no
//!   fire in a month without a fifth one.
//! - `?` means "no restriction" and is allowed only as the whole day-of-month or
//!   day-of-week field, not both.
//!
//! # Day-of-month and day-of-week together
//!
//! A day field is *restricted* unless it is exactly `*` or `?`. When both are restricted a
//! day matches if **either** matches (classic cron: `0 0 1 * MON` fires on the 1st and on
//! every Monday). When only one is restricted, it alone decides, which covers Quartz's form
//! (`0 0 12 ? * MON-FRI`) and the classic `* * 1 * *`. Unlike Vixie cron, a field such as
//! `*/2` counts as restricted. An expression that no date satisfies (`0 0 30 2 *`) is
//! refused.
//!
//! # Time zones and DST
//!
//! Fields are matched against local time in the schedule's IANA zone, and DST changes are
//! handled as Vixie cron does (see [`DstBehaviour`]): a job whose second, minute and hour are
//! fixed values fires once where a local hour repeats (at the first occurrence) and once at
//! the first instant after a skipped stretch of local time; a job with `*` or a step in its
//! second, minute or hour field fires at every real instant whose local time matches. No
//! instant is ever returned twice, and nothing panics, whatever the zone or date.

mod cron;
mod dst;
mod error;
mod matcher;
mod parse;
#[cfg(test)]
mod tests;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

pub use cron::{Cron, DstBehaviour};
pub use error::{CronError, CronField, FieldProblem};

/// A cron expression placed in a time zone and an optional validity window: what the
/// master's trigger asks "when next?" and what backfill and misfire catch-up enumerate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// When, in local time.
    pub cron: Cron,
    /// The IANA zone the cron is read in.
    pub tz: Tz,
    /// No fire before this instant (inclusive), if set.
    pub start: Option<DateTime<Utc>>,
    /// No fire after this instant (inclusive), if set.
    pub end: Option<DateTime<Utc>>,
}

impl Schedule {
    /// A schedule without start or end; set the public fields for a window.
    pub fn new(cron: Cron, tz: Tz) -> Schedule {
        Schedule {
            cron,
            tz,
            start: None,
            end: None,
        }
    }

    /// The first fire time strictly after `after`, within start/end; `None` when the
    /// schedule has ended (or, for a far-future `after`, the calendar has).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let after = match self.start {
            // Just before the start, so that a fire exactly at the start counts.
            Some(start) if after < start => start
                .checked_sub_signed(TimeDelta::nanoseconds(1))
                .unwrap_or(after),
            _ => after,
        };
        let fire = dst::next_fire(&self.cron, self.tz, after)?;
        match self.end {
            Some(end) if fire > end => None,
            _ => Some(fire),
        }
    }

    /// The fires strictly after `after`, in order, for as long as the caller keeps pulling:
    /// the building block of catch-up, backfill and preview.
    pub fn fires_after(&self, after: DateTime<Utc>) -> Fires<'_> {
        Fires {
            schedule: self,
            after: Some(after),
        }
    }

    /// Fire times in `(from, to]`, in order, at most `limit`: for misfire catch-up and
    /// backfill ranges, where the caller bounds the work.
    pub fn fires_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        self.fires_after(from)
            .take_while(|fire| *fire <= to)
            .take(limit)
            .collect()
    }

    /// The next `count` fires after `after`, in the schedule's zone, for `baton schedule
    /// preview` (which prints them as RFC 3339 with their offset, so DST shows).
    pub fn preview(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Tz>> {
        self.fires_after(after)
            .take(count)
            .map(|fire| fire.with_timezone(&self.tz))
            .collect()
    }
}

/// Iterator over a schedule's fires, from [`Schedule::fires_after`]. Ends when the schedule
/// does.
#[derive(Debug, Clone)]
pub struct Fires<'a> {
    schedule: &'a Schedule,
    after: Option<DateTime<Utc>>,
}

impl Iterator for Fires<'_> {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        let fire = self.schedule.next_after(self.after?);
        self.after = fire;
        fire
    }
}

/// Reads an IANA time zone name (`Europe/Berlin`, `UTC`), with an error that suggests the
/// right spelling when only the case is wrong; exists so the workflow file, the API and the
/// CLI reject unknown zones the same way.
pub fn parse_timezone(name: &str) -> Result<Tz, CronError> {
    let trimmed = name.trim();
    trimmed.parse::<Tz>().map_err(|_| {
        let hint = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
            .map(|tz| format!("; did you mean '{}'?", tz.name()))
            .unwrap_or_default();
        CronError::UnknownTimeZone {
            name: name.to_string(),
            hint,
        }
    })
}
