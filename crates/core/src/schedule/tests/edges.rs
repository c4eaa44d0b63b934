//! The rest of the API: start/end windows, limits, the DST classification, serde, and
//! instants at the ends of the calendar (nothing may panic).

use chrono::{DateTime, Utc};

use super::super::{parse_timezone, Cron, DstBehaviour, Schedule};
use super::utc;

fn schedule(expr: &str, zone: &str) -> Schedule {
    Schedule::new(Cron::parse(expr).unwrap(), parse_timezone(zone).unwrap())
}

#[test]
fn start_and_end_bound_the_fires() {
    let mut daily = schedule("0 0 12 * * *", "UTC");
    daily.start = Some(utc("2026-03-10T12:00:00Z"));
    daily.end = Some(utc("2026-03-12T12:00:00Z"));
    // Before the start: the first fire is the one exactly at the start.
    assert_eq!(
        daily.next_after(utc("2026-01-01T00:00:00Z")),
        Some(utc("2026-03-10T12:00:00Z"))
    );
    // The end is inclusive, and nothing comes after it.
    assert_eq!(
        daily.next_after(utc("2026-03-11T12:00:00Z")),
        Some(utc("2026-03-12T12:00:00Z"))
    );
    assert_eq!(daily.next_after(utc("2026-03-12T12:00:00Z")), None);
    let all = daily.fires_between(
        utc("2020-01-01T00:00:00Z"),
        utc("2030-01-01T00:00:00Z"),
        100,
    );
    assert_eq!(all.len(), 3);
    assert_eq!(daily.preview(utc("2020-01-01T00:00:00Z"), 10).len(), 3);
    // A start between seconds: the first fire is not before it.
    daily.start = Some(utc("2026-03-10T12:00:00.250Z"));
    assert_eq!(
        daily.next_after(utc("2026-01-01T00:00:00Z")),
        Some(utc("2026-03-11T12:00:00Z"))
    );
}

#[test]
fn fires_between_is_half_open_and_limited() {
    let hourly = schedule("0 0 * * * *", "UTC");
    let (from, to) = (utc("2026-01-01T00:00:00Z"), utc("2026-01-01T03:00:00Z"));
    let fires = hourly.fires_between(from, to, 100);
    assert_eq!(
        fires,
        [utc("2026-01-01T01:00:00Z"), utc("2026-01-01T02:00:00Z"), to]
    );
    assert_eq!(hourly.fires_between(from, to, 2).len(), 2);
    assert!(hourly.fires_between(from, to, 0).is_empty());
    assert!(hourly.fires_between(to, from, 10).is_empty());
    assert!(hourly.preview(from, 0).is_empty());
    let after: Vec<_> = hourly.fires_after(from).take(3).collect();
    assert_eq!(after, fires);
}

#[test]
fn preview_prints_local_time_with_offset() {
    let s = schedule("0 30 2 * * *", "America/New_York");
    let lines: Vec<String> = s
        .preview(utc("2026-03-07T00:00:00Z"), 2)
        .iter()
        .map(|f| f.to_rfc3339())
        .collect();
    assert_eq!(
        lines,
        ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00"]
    );
}

#[test]
fn dst_behaviour_follows_the_time_fields() {
    let behaviour = |expr: &str| Cron::parse(expr).unwrap().dst_behaviour();
    for fixed in [
        "0 30 2 * * *",
        "30 2 * * *",
        "0 0,30 1,2 * * *",
        "0 0 1-3 * * *",
        "0 0-59 2 * * ?",
    ] {
        assert_eq!(behaviour(fixed), DstBehaviour::FixedTime, "{fixed}");
    }
    for repeating in [
        "0 0 * * * *",
        "0 0 */2 * * *",
        "0 0 0/2 * * *",
        "0 0 1-5/2 * * *",
        "0 * 2 * * *",
        "* 30 2 * * *",
        "*/10 30 2 * * *",
        "* * * * *",
    ] {
        assert_eq!(behaviour(repeating), DstBehaviour::Repeating, "{repeating}");
    }
}

#[test]
fn text_round_trips() {
    let cron: Cron = "  0  30 2 ? * MON-FRI ".parse().unwrap();
    assert_eq!(cron.to_string(), "0 30 2 ? * MON-FRI");
    assert_eq!(cron.as_str(), "0 30 2 ? * MON-FRI");
    let json = serde_json::to_string(&cron).unwrap();
    assert_eq!(json, "\"0 30 2 ? * MON-FRI\"");
    assert_eq!(serde_json::from_str::<Cron>(&json).unwrap(), cron);
    let bad = serde_json::from_str::<Cron>("\"0 0 25 * * *\"")
        .unwrap_err()
        .to_string();
    assert!(bad.contains("hour field: 25 is out of range 0-23"), "{bad}");
    // Equivalent spellings parse to the same sets.
    let a = Cron::parse("0 0 9 ? * MON-FRI").unwrap();
    let b = Cron::parse("0 0 9 ? * 1-5").unwrap();
    assert_eq!(
        (a.seconds, a.minutes, a.hours, a.months, a.dow),
        (b.seconds, b.minutes, b.hours, b.months, b.dow)
    );
}

#[test]
fn the_ends_of_the_calendar_do_not_panic() {
    let extremes = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        utc("9999-12-31T23:59:59Z"),
    ];
    for zone in [
        "UTC",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
        "America/New_York",
        "Australia/Lord_Howe",
    ] {
        for expr in [
            "* * * * * *",
            "0 30 2 * * *",
            "0 0 0 29 2 ?",
            "0 0 0 ? * 5L",
            "0 0 0 LW * ?",
        ] {
            let s = schedule(expr, zone);
            for at in extremes {
                let fires = s.preview(at, 3);
                assert!(
                    fires.windows(2).all(|w| w[0] < w[1]),
                    "`{expr}` in {zone} after {at}"
                );
            }
        }
    }
    assert_eq!(
        schedule("* * * * * *", "UTC").next_after(DateTime::<Utc>::MAX_UTC),
        None
    );
}

#[test]
fn far_future_dst_is_still_handled() {
    // 2040-03-11 is the second Sunday of March 2040.
    let s = schedule("0 30 2 * * *", "America/New_York");
    let lines: Vec<String> = s
        .preview(utc("2040-03-10T12:00:00Z"), 2)
        .iter()
        .map(|f| f.to_rfc3339())
        .collect();
    assert_eq!(
        lines,
        ["2040-03-11T03:00:00-04:00", "2040-03-12T02:30:00-04:00"]
    );
}
