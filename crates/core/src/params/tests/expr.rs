//! `$[...]` time expressions against fixed schedule times.

use super::at;
use crate::params::eval_time_expr;
use chrono_tz::Tz;
use chrono_tz::{America::Sao_Paulo, Asia::Shanghai, Europe::Berlin, UTC};

/// Checks each `(expression, expected)` at time `t`.
fn table(t: chrono::DateTime<Tz>, cases: &[(&str, &str)]) {
    for (expr, want) in cases {
        match eval_time_expr(expr, &t) {
            Ok(got) => assert_eq!(got, *want, "$[{expr}] at {t}"),
            Err(e) => panic!("$[{expr}] at {t}: {e}"),
        }
    }
}

#[test]
fn formats_and_day_offsets_on_an_ordinary_friday() {
    table(
        at(Shanghai, 2024, 3, 15, 13, 45, 30),
        &[
            ("yyyyMMdd", "20240315"),
            ("yyyy-MM-dd", "2024-03-15"),
            ("HHmmss", "134530"),
            ("yyyy-MM-dd HH:mm:ss", "2024-03-15 13:45:30"),
            (" yyyyMMdd ", "20240315"),
            ("yy/M/d", "24/3/15"),
            ("yyyy.MM.dd_HH", "2024.03.15_13"),
            ("MMM MMMM EEE EEEE", "Mar March Fri Friday"),
            ("hh:mm a", "01:45 PM"),
            ("yyyy'T'HH", "2024T13"),
            ("yyyyMMdd''", "20240315'"),
            ("'literal ''q'''", "literal 'q'"),
            ("ss.SSS", "30.000"),
            ("yyyyMMdd-1", "20240314"),
            ("yyyyMMdd+7", "20240322"),
            ("yyyyMMdd+7*2", "20240329"),
            ("yyyyMMdd + 1", "20240316"),
            ("yyyy-MM-dd-1", "2024-03-14"),
            ("yyyyMMdd-0", "20240315"),
            ("yyyyMMdd+24/24", "20240316"),
            ("HHmmss-1/24", "124530"),
            ("HHmmss+1/24/60", "134630"),
            ("HHmmss-1/24/60/60", "134529"),
            ("yyyy-MM-dd HH:mm:ss-90/24/60", "2024-03-15 12:15:30"),
            ("yyyyMMddHH+25/24", "2024031614"),
            ("yyyyMMddHH-11/24", "2024031502"),
            ("yyyyMMddHH-14/24", "2024031423"),
        ],
    );
}

#[test]
fn functions_on_an_ordinary_friday() {
    table(
        at(Shanghai, 2024, 3, 15, 13, 45, 30),
        &[
            ("add_months(yyyyMMdd,-1)", "20240215"),
            ("add_months(yyyyMMdd,12*1)", "20250315"),
            ("add_months(yyyyMMdd, -12*2)", "20220315"),
            ("add_months(yyyyMMdd,+1)", "20240415"),
            ("add_months(yyyy-MM-dd HH:mm,0)", "2024-03-15 13:45"),
            ("this_week(yyyy-MM-dd)", "2024-03-11"),
            ("last_week(yyyy-MM-dd)", "2024-03-04"),
            ("week_begin(yyyyMMdd,0)", "20240311"),
            ("week_begin(yyyyMMdd,1)", "20240318"),
            ("week_end(yyyyMMdd,0)", "20240317"),
            ("week_end(yyyyMMdd,-1)", "20240310"),
            ("month_begin(yyyyMMdd,0)", "20240301"),
            ("month_begin(yyyyMMdd,-3)", "20231201"),
            ("month_end(yyyyMMdd,0)", "20240331"),
            ("month_end(yyyyMMdd,-1)", "20240229"),
            ("month_end(yyyyMMddHHmm,1)", "202404301345"),
            ("this_day(yyyy-MM-dd)", "2024-03-15"),
            ("last_day(yyyyMMdd)", "20240314"),
            ("timestamp(yyyy-MM-dd HH:mm:ss)", "1710481530"),
            ("timestamp(yyyy-MM-dd)", "1710432000"),
            ("timestamp(yyyyMMdd00mmss)", "1710434730"),
        ],
    );
}

#[test]
fn month_ends_clamp() {
    table(
        at(UTC, 2024, 1, 31, 10, 0, 0),
        &[
            ("add_months(yyyyMMdd,1)", "20240229"),
            ("add_months(yyyyMMdd,13)", "20250228"),
            ("add_months(yyyyMMdd,-2)", "20231130"),
            ("add_months(yyyyMMdd,-1)", "20231231"),
            ("add_months(yyyyMMdd,2)", "20240331"),
            ("month_end(yyyyMMdd,1)", "20240229"),
            ("month_end(yyyyMMdd,13)", "20250228"),
            ("month_begin(yyyyMMdd,1)", "20240201"),
            ("yyyyMMdd+1", "20240201"),
        ],
    );
    table(
        at(UTC, 2023, 1, 31, 0, 0, 0),
        &[("add_months(yyyyMMdd,1)", "20230228")],
    );
}

#[test]
fn leap_years() {
    table(
        at(UTC, 2024, 2, 29, 8, 0, 0),
        &[
            ("yyyyMMdd+1", "20240301"),
            ("yyyyMMdd-365", "20230301"),
            ("add_months(yyyyMMdd,12)", "20250228"),
            ("add_months(yyyyMMdd,48)", "20280229"),
            ("add_months(yyyyMMdd,-12)", "20230228"),
            ("month_end(yyyyMMdd,0)", "20240229"),
            ("month_end(yyyyMMdd,-12)", "20230228"),
        ],
    );
    table(
        at(UTC, 2100, 2, 10, 0, 0, 0),
        &[("month_end(yyyyMMdd,0)", "21000228")],
    );
    table(
        at(UTC, 2000, 2, 10, 0, 0, 0),
        &[("month_end(yyyyMMdd,0)", "20000229")],
    );
}

#[test]
fn year_boundary_on_a_monday() {
    // 2024-01-01 is a Monday.
    table(
        at(Shanghai, 2024, 1, 1, 0, 30, 0),
        &[
            ("yyyyMMdd-1", "20231231"),
            ("yyyyMMddHHmm-1/24", "202312312330"),
            ("this_week(yyyy-MM-dd)", "2024-01-01"),
            ("last_week(yyyy-MM-dd)", "2023-12-25"),
            ("week_begin(yyyyMMdd,-1)", "20231225"),
            ("week_end(yyyyMMdd,0)", "20240107"),
            ("month_begin(yyyyMMdd,-1)", "20231201"),
            ("month_end(yyyyMMdd,-1)", "20231231"),
            ("add_months(yyyyMMdd,-1)", "20231201"),
            ("last_day(yyyyMMdd)", "20231231"),
            ("yy", "24"),
        ],
    );
}

#[test]
fn year_boundary_on_a_sunday() {
    // 2023-12-31 is a Sunday: its week began on Monday the 25th.
    table(
        at(UTC, 2023, 12, 31, 23, 59, 59),
        &[
            ("this_week(yyyy-MM-dd)", "2023-12-25"),
            ("last_week(yyyy-MM-dd)", "2023-12-18"),
            ("week_begin(yyyyMMdd,1)", "20240101"),
            ("week_end(yyyyMMdd,0)", "20231231"),
            ("week_end(yyyyMMdd,1)", "20240107"),
            ("yyyyMMdd+1", "20240101"),
            ("yyyyMMddHHmmss+1/24/60/60", "20240101000000"),
            ("month_begin(yyyyMMdd,1)", "20240101"),
            ("add_months(yyyyMMdd,2)", "20240229"),
        ],
    );
}

#[test]
fn dst_hours_are_real_hours_and_days_are_calendar_days() {
    // Berlin springs forward at 02:00 on 2024-03-31: 03:30 CEST is 01:30 CET minus nothing.
    table(
        at(Berlin, 2024, 3, 31, 3, 30, 0),
        &[
            ("HH:mm-1/24", "01:30"),
            ("yyyyMMddHHmm-1", "202403300330"),
            ("yyyyMMddHHmm+1", "202404010330"),
            ("timestamp(yyyy-MM-dd)", "1711839600"),
        ],
    );
    // São Paulo sprang forward at midnight on 2018-11-04: local midnight did not exist, and
    // is read with the offset before the change (-03), like Java.
    table(
        at(Sao_Paulo, 2018, 11, 4, 10, 0, 0),
        &[("timestamp(yyyy-MM-dd)", "1541300400")],
    );
}

#[test]
fn bad_expressions_name_themselves() {
    let t = at(UTC, 2024, 3, 15, 0, 0, 0);
    let cases: &[(&str, &str)] = &[
        ("yyyyMMdd-x", "unknown letter `x`"),
        ("", "empty expression"),
        ("  ", "empty expression"),
        ("-1", "empty date format"),
        ("yyyyMMdd+1/7", "not a whole number of seconds"),
        ("yyyyMMdd+1/0", "division by zero"),
        ("yyyyMMdd+99999999999", "too large"),
        ("yyyyMMdd+999999999", "out of range"),
        ("yyyy'MM", "unclosed quote"),
        ("add_months(yyyyMMdd)", "takes a format and a number"),
        ("add_months(yyyyMMdd,x)", "`x` is not a whole number"),
        ("add_months(yyyyMMdd,1/2)", "`1/2` is not a whole number"),
        ("add_months(yyyyMMdd,)", "is not a whole number"),
        ("add_months(yyyyMMdd,99999999999)", "too large"),
        ("add_months(yyyyMMdd,999999999)", "out of range"),
        ("month_end(qq,0)", "unknown letter `q`"),
        ("this_week(yyyyMMdd,1)", "takes only a format"),
        ("next_week(yyyyMMdd)", "unknown function `next_week`"),
        ("Tyyyy", "unknown letter `T`"),
    ];
    for (expr, reason) in cases {
        let err = eval_time_expr(expr, &t).expect_err(expr);
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("$[{expr}]: ")),
            "{expr:?}: {text}"
        );
        assert!(text.contains(reason), "{expr:?}: {text}");
        assert_eq!(err.expr, *expr);
    }
}
