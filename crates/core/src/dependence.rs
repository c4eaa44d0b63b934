//! Date cycles of `dependent` tasks: the window of schedule times, around an instance's own
//! schedule time, in which another workflow must have succeeded (DolphinScheduler's
//! `today`, `last1Days`, `thisWeek`, `lastMonth`, … under snake_case names).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A window of time relative to a schedule time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DateCycle {
    /// The hour the schedule time is in.
    CurrentHour,
    /// The N whole hours before it.
    LastHours(u32),
    /// The day the schedule time is in.
    Today,
    /// The N whole days before it (`last_1_days` is yesterday).
    LastDays(u32),
    /// Monday to Sunday of its week.
    ThisWeek,
    /// The week before.
    LastWeek,
    /// One day of the week before (`last_monday` … `last_sunday`).
    LastWeekday(Weekday),
    /// Its month.
    ThisMonth,
    /// The month before.
    LastMonth,
    /// The first day of the month before.
    LastMonthBegin,
    /// The last day of the month before.
    LastMonthEnd,
}

const NAMES: &str = "current_hour, last_N_hours, today, last_N_days, this_week, last_week, \
                     last_monday … last_sunday, this_month, last_month, last_month_begin, \
                     last_month_end";

impl FromStr for DateCycle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("unknown date `{s}` (one of: {NAMES})");
        let count = |rest: &str, units: &[&str]| -> Option<u32> {
            let (n, unit) = rest.split_once('_')?;
            units.contains(&unit).then_some(())?;
            n.parse().ok().filter(|n| (1..=10_000).contains(n))
        };
        Ok(match s {
            "current_hour" => DateCycle::CurrentHour,
            "today" => DateCycle::Today,
            "this_week" => DateCycle::ThisWeek,
            "last_week" => DateCycle::LastWeek,
            "this_month" => DateCycle::ThisMonth,
            "last_month" => DateCycle::LastMonth,
            "last_month_begin" => DateCycle::LastMonthBegin,
            "last_month_end" => DateCycle::LastMonthEnd,
            _ => {
                let rest = s.strip_prefix("last_").ok_or_else(bad)?;
                if let Some(n) = count(rest, &["hour", "hours"]) {
                    DateCycle::LastHours(n)
                } else if let Some(n) = count(rest, &["day", "days"]) {
                    DateCycle::LastDays(n)
                } else {
                    DateCycle::LastWeekday(rest.parse::<Weekday>().map_err(|_| bad())?)
                }
            }
        })
    }
}

impl TryFrom<String> for DateCycle {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<DateCycle> for String {
    fn from(c: DateCycle) -> String {
        c.to_string()
    }
}

impl fmt::Display for DateCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateCycle::CurrentHour => f.write_str("current_hour"),
            DateCycle::LastHours(n) => write!(f, "last_{n}_hours"),
            DateCycle::Today => f.write_str("today"),
            DateCycle::LastDays(n) => write!(f, "last_{n}_days"),
            DateCycle::ThisWeek => f.write_str("this_week"),
            DateCycle::LastWeek => f.write_str("last_week"),
            DateCycle::LastWeekday(d) => {
                const DAYS: [&str; 7] = [
                    "monday",
                    "tuesday",
                    "wednesday",
                    "thursday",
                    "friday",
                    "saturday",
                    "sunday",
                ];
                write!(f, "last_{}", DAYS[d.num_days_from_monday() as usize])
            }
            DateCycle::ThisMonth => f.write_str("this_month"),
            DateCycle::LastMonth => f.write_str("last_month"),
            DateCycle::LastMonthBegin => f.write_str("last_month_begin"),
            DateCycle::LastMonthEnd => f.write_str("last_month_end"),
        }
    }
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

fn prev_month_start(d: NaiveDate) -> NaiveDate {
    month_start(month_start(d) - Duration::days(1))
}

fn next_month_start(d: NaiveDate) -> NaiveDate {
    month_start(month_start(d) + Duration::days(32))
}

/// The first instant at or after a local time (a time skipped by DST moves forward).
fn instant(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    let mut t = local;
    loop {
        if let Some(at) = tz.from_local_datetime(&t).earliest() {
            return at;
        }
        t += Duration::minutes(15);
    }
}

impl DateCycle {
    /// The window `[from, to)` for an instance scheduled at `at`, in `at`'s time zone.
    pub fn window(self, at: DateTime<Tz>) -> (DateTime<Tz>, DateTime<Tz>) {
        let tz = at.timezone();
        let local = at.naive_local();
        let day = local.date();
        let midnight = |d: NaiveDate| instant(tz, d.and_hms_opt(0, 0, 0).expect("midnight"));
        let days = |from: NaiveDate, to: NaiveDate| (midnight(from), midnight(to));
        let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        match self {
            DateCycle::CurrentHour | DateCycle::LastHours(_) => {
                // Hours are real hours, counted back from the start of the current one.
                let hour = at
                    .with_minute(0)
                    .and_then(|t| t.with_second(0))
                    .and_then(|t| t.with_nanosecond(0))
                    .unwrap_or(at);
                match self {
                    DateCycle::LastHours(n) => (hour - Duration::hours(i64::from(n)), hour),
                    _ => (hour, hour + Duration::hours(1)),
                }
            }
            DateCycle::Today => days(day, day + Duration::days(1)),
            DateCycle::LastDays(n) => days(day - Duration::days(i64::from(n)), day),
            DateCycle::ThisWeek => days(monday, monday + Duration::days(7)),
            DateCycle::LastWeek => days(monday - Duration::days(7), monday),
            DateCycle::LastWeekday(d) => {
                let that = monday - Duration::days(7 - i64::from(d.num_days_from_monday()));
                days(that, that + Duration::days(1))
            }
            DateCycle::ThisMonth => days(month_start(day), next_month_start(day)),
            DateCycle::LastMonth => days(prev_month_start(day), month_start(day)),
            DateCycle::LastMonthBegin => {
                let first = prev_month_start(day);
                days(first, first + Duration::days(1))
            }
            DateCycle::LastMonthEnd => {
                let last = month_start(day) - Duration::days(1);
                days(last, month_start(day))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tz: Tz, s: &str) -> DateTime<Tz> {
        let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        tz.from_local_datetime(&local).earliest().unwrap()
    }

    fn window(cycle: &str, tz: Tz, s: &str) -> (String, String) {
        let (from, to) = cycle.parse::<DateCycle>().unwrap().window(at(tz, s));
        let f = |t: DateTime<Tz>| t.format("%Y-%m-%d %H:%M %z").to_string();
        (f(from), f(to))
    }

    #[test]
    fn windows_around_a_schedule_time() {
        let utc = chrono_tz::UTC;
        // 2026-03-18 is a Wednesday.
        let cases = [
            ("today", "2026-03-18 00:00 +0000", "2026-03-19 00:00 +0000"),
            (
                "last_1_days",
                "2026-03-17 00:00 +0000",
                "2026-03-18 00:00 +0000",
            ),
            (
                "last_7_days",
                "2026-03-11 00:00 +0000",
                "2026-03-18 00:00 +0000",
            ),
            (
                "this_week",
                "2026-03-16 00:00 +0000",
                "2026-03-23 00:00 +0000",
            ),
            (
                "last_week",
                "2026-03-09 00:00 +0000",
                "2026-03-16 00:00 +0000",
            ),
            (
                "last_monday",
                "2026-03-09 00:00 +0000",
                "2026-03-10 00:00 +0000",
            ),
            (
                "last_sunday",
                "2026-03-15 00:00 +0000",
                "2026-03-16 00:00 +0000",
            ),
            (
                "this_month",
                "2026-03-01 00:00 +0000",
                "2026-04-01 00:00 +0000",
            ),
            (
                "last_month",
                "2026-02-01 00:00 +0000",
                "2026-03-01 00:00 +0000",
            ),
            (
                "last_month_begin",
                "2026-02-01 00:00 +0000",
                "2026-02-02 00:00 +0000",
            ),
            (
                "last_month_end",
                "2026-02-28 00:00 +0000",
                "2026-03-01 00:00 +0000",
            ),
            (
                "current_hour",
                "2026-03-18 10:00 +0000",
                "2026-03-18 11:00 +0000",
            ),
            (
                "last_2_hours",
                "2026-03-18 08:00 +0000",
                "2026-03-18 10:00 +0000",
            ),
        ];
        for (cycle, from, to) in cases {
            assert_eq!(
                window(cycle, utc, "2026-03-18 10:30:00"),
                (from.to_string(), to.to_string()),
                "{cycle}"
            );
        }
        // January: last month is December of the year before.
        assert_eq!(
            window("last_month", utc, "2026-01-05 00:00:00"),
            (
                "2025-12-01 00:00 +0000".into(),
                "2026-01-01 00:00 +0000".into()
            )
        );
    }

    #[test]
    fn days_follow_the_local_calendar_across_dst() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // DST began on 2026-03-08: that day has 23 hours.
        assert_eq!(
            window("last_1_days", ny, "2026-03-09 06:00:00"),
            (
                "2026-03-08 00:00 -0500".into(),
                "2026-03-09 00:00 -0400".into()
            )
        );
        // São Paulo has no midnight on some DST days in the past: the window starts at 01:00.
        let sp: Tz = "America/Sao_Paulo".parse().unwrap();
        assert_eq!(
            window("today", sp, "2018-11-04 12:00:00").0,
            "2018-11-04 01:00 -0200"
        );
    }

    #[test]
    fn names_round_trip_and_bad_ones_are_explained() {
        for name in [
            "today",
            "last_3_days",
            "last_1_hours",
            "last_friday",
            "last_month_end",
        ] {
            assert_eq!(name.parse::<DateCycle>().unwrap().to_string(), name);
        }
        assert_eq!(
            "last_1_day".parse::<DateCycle>().unwrap(),
            DateCycle::LastDays(1)
        );
        let e = "yesterdays".parse::<DateCycle>().unwrap_err();
        assert!(
            e.contains("unknown date `yesterdays`") && e.contains("last_N_days"),
            "{e}"
        );
        assert!("last_0_days".parse::<DateCycle>().is_err());
    }
}
