//! A cross-check of the DST rules against the most literal reading of them: step through
//! every real second (or minute) of the 30 hours around each transition, and fire where the
//! local time matches (repeating jobs: every time; fixed-time jobs: at its first occurrence),
//! plus, for fixed-time jobs, at the first instant after a stretch of skipped local time
//! that contained a match.

use chrono::offset::LocalResult;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::super::{parse_timezone, Cron, DstBehaviour, Schedule};
use super::utc;

/// (zone, instant of a transition).
const TRANSITIONS: &[(&str, &str)] = &[
    ("America/New_York", "2026-03-08T07:00:00Z"),
    ("America/New_York", "2026-11-01T06:00:00Z"),
    ("Europe/Berlin", "2026-03-29T01:00:00Z"),
    ("Europe/Berlin", "2026-10-25T01:00:00Z"),
    ("Australia/Sydney", "2026-04-04T16:00:00Z"),
    ("Australia/Sydney", "2026-10-03T16:00:00Z"),
    ("Australia/Lord_Howe", "2026-04-04T15:00:00Z"),
    ("Australia/Lord_Howe", "2026-10-03T15:30:00Z"),
    ("America/Santiago", "2026-04-05T03:00:00Z"),
    ("America/Santiago", "2026-09-06T04:00:00Z"),
    ("Pacific/Apia", "2011-12-30T10:00:00Z"),
];

const EXPRESSIONS: &[&str] = &[
    "0 30 2 * * *",
    "0 0 2 * * *",
    "0 30 1 * * *",
    "0 45 1 * * *",
    "0 0 0 * * *",
    "0 30 23 * * *",
    "0 0 12 * * *",
    "0 0,30 1,2 * * *",
    "0 0 1-3 * * *",
    "0 0-59 2 * * *",
    "0 0 * * * *",
    "0 */15 * * * *",
    "0 */30 1 * * *",
    "0 0 */2 * * *",
    "0 15,45 * * * *",
    "*/20 59 1 * * *",
    "30 * 2 * * *",
];

fn brute_force(cron: &Cron, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    // Transitions fall on whole minutes, so minutes suffice when only second 0 matches.
    let step = TimeDelta::seconds(if cron.seconds == 1 { 60 } else { 1 });
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
    let fixed = cron.dst_behaviour() == DstBehaviour::FixedTime;
    let mut fires = Vec::new();
    let mut t = from + step;
    while t <= to {
        let now = local(t);
        let first = match tz.from_local_datetime(&now) {
            LocalResult::Ambiguous(earlier, _) => earlier == t,
            _ => true,
        };
        let mut fire = cron.matches(now) && (first || !fixed);
        let mut skipped = local(t - step) + step;
        while fixed && !fire && skipped < now {
            fire = cron.matches(skipped);
            skipped += step;
        }
        if fire {
            fires.push(t);
        }
        t += step;
    }
    fires
}

#[test]
fn dst_days_agree_with_a_second_by_second_scan() {
    let mut failures = Vec::new();
    for &(zone, transition) in TRANSITIONS {
        let tz = parse_timezone(zone).unwrap();
        let transition = utc(transition);
        let (from, to) = (
            transition - TimeDelta::hours(15),
            transition + TimeDelta::hours(15),
        );
        for expr in EXPRESSIONS {
            let schedule = Schedule::new(Cron::parse(expr).unwrap(), tz);
            let expected = brute_force(&schedule.cron, tz, from, to);
            let got = schedule.fires_between(from, to, 100_000);
            if got != expected {
                let show = |fires: &[DateTime<Utc>]| -> Vec<String> {
                    fires
                        .iter()
                        .map(|f| f.with_timezone(&tz).to_rfc3339())
                        .collect()
                };
                failures.push(format!(
                    "`{expr}` in {zone} around {transition}:\n  expected {:?}\n  got      {:?}",
                    show(&expected),
                    show(&got)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A daily fixed-time job fires exactly once per local day, DST or not, in every zone.
#[test]
fn a_daily_job_fires_once_per_local_day_for_a_year() {
    let zones = [
        "UTC",
        "America/New_York",
        "Europe/Berlin",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Kolkata",
        "Pacific/Chatham",
    ];
    for zone in zones {
        let tz = parse_timezone(zone).unwrap();
        for expr in ["0 30 2 * * *", "0 0 0 * * *", "0 30 1 * * *", "0 0 2 * * *"] {
            let schedule = Schedule::new(Cron::parse(expr).unwrap(), tz);
            let from = tz.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).earliest().unwrap();
            let to = tz.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).earliest().unwrap();
            let fires = schedule.fires_between(from.to_utc(), to.to_utc(), 1000);
            let mut days: Vec<_> = fires
                .iter()
                .map(|f| f.with_timezone(&tz).date_naive())
                .collect();
            days.dedup();
            assert_eq!(fires.len(), 365, "`{expr}` in {zone}");
            assert_eq!(days.len(), 365, "`{expr}` in {zone}: two fires on one day");
        }
    }
}

/// Repeating jobs never return the same instant twice and always move forward.
#[test]
fn fires_strictly_increase_for_a_year() {
    for zone in ["America/New_York", "Australia/Lord_Howe", "Europe/Berlin"] {
        let tz = parse_timezone(zone).unwrap();
        let schedule = Schedule::new(Cron::parse("0 */10 * * * *").unwrap(), tz);
        let fires = schedule.fires_between(
            utc("2026-01-01T00:00:00Z"),
            utc("2027-01-01T00:00:00Z"),
            100_000,
        );
        // Every 10 minutes of real time, all year: the repeats and the gaps cancel out.
        assert_eq!(fires.len(), 365 * 24 * 6, "{zone}");
        assert!(
            fires
                .windows(2)
                .all(|w| w[1] - w[0] == TimeDelta::minutes(10)),
            "{zone}"
        );
    }
}
