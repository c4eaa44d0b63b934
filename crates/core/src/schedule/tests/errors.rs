//! Error rows: each kind of bad field, with the exact message a user sees.

use super::super::{parse_timezone, Cron, CronError, CronField, FieldProblem};

#[rustfmt::skip]
const ERRORS: &[(&str, &str)] = &[
    ("", "expected 5 or 6 fields, found 0"),
    ("* * * *", "expected 5 or 6 fields, found 4"),
    ("0 0 0 * * * 2026", "expected 5 or 6 fields, found 7"),
    ("60 * * * * *", "second field: 60 is out of range 0-59"),
    ("0 60 * * * *", "minute field: 60 is out of range 0-59"),
    ("0 0 25 * * *", "hour field: 25 is out of range 0-23"),
    ("0 25 * * *", "hour field: 25 is out of range 0-23"),
    ("0 0 0 32 * *", "day-of-month field: 32 is out of range 1-31"),
    ("0 0 0 0 * *", "day-of-month field: 0 is out of range 1-31"),
    ("0 0 0 * 13 *", "month field: 13 is out of range 1-12"),
    ("0 0 0 * 0 *", "month field: 0 is out of range 1-12"),
    ("0 0 0 ? * 8", "day-of-week field: 8 is out of range 0-7"),
    ("0 0 0 ? * 1-9", "day-of-week field: 9 is out of range 0-7"),
    ("0 0 0 32W * ?", "day-of-month field: 32 is out of range 1-31"),
    ("0 0 99999999999999999999 * * *", "hour field: '99999999999999999999' is not a valid value (expected 0-23)"),
    ("0 0 x * * *", "hour field: 'x' is not a valid value (expected 0-23)"),
    ("0 0 1.5 * * *", "hour field: '1.5' is not a valid value (expected 0-23)"),
    ("0 0 -1 * * *", "hour field: '-1' is not a valid value (expected 0-23)"),
    ("0 0 5- * * *", "hour field: '5-' is not a valid value (expected 0-23)"),
    ("0 0 0 * Foo *", "month field: 'Foo' is not a valid value (expected 1-12 or JAN-DEC)"),
    ("0 0 0 * JANUARY *", "month field: 'JANUARY' is not a valid value (expected 1-12 or JAN-DEC)"),
    ("0 0 0 ? * fun", "day-of-week field: 'fun' is not a valid value (expected 0-7 or SUN-SAT, with 0 and 7 Sunday)"),
    ("0 0 0 5L * ?", "day-of-month field: '5L' is only allowed in the day-of-week field"),
    ("0 0 0 W * ?", "day-of-month field: 'W' is not a valid value (expected 1-31, L, L-n, nW or LW)"),
    ("0 0 1,,2 * * *", "hour field: empty item in the list '1,,2'"),
    ("0 0 1, * * *", "hour field: empty item in the list '1,'"),
    ("0 0 */0 * * *", "hour field: step 0 is out of range 1-23"),
    ("0 */60 * * * *", "minute field: step 60 is out of range 1-59"),
    ("0 0 0 ? * */7", "day-of-week field: step 7 is out of range 1-6"),
    ("0 0 */ * * *", "hour field: '*/' is not a valid value (expected a step of 1 or more)"),
    ("0 0 */x * * *", "hour field: 'x' is not a valid value (expected a step of 1 or more)"),
    ("0 0 17-9 * * *", "hour field: range 17-9 runs backwards"),
    ("0 0 0 * DEC-JAN *", "month field: range DEC-JAN runs backwards"),
    ("0 0 0 ? * FRI-MON", "day-of-week field: range FRI-MON runs backwards"),
    ("0 ? * * * *", "minute field: '?' is only allowed in the day-of-month and day-of-week fields"),
    ("0 0 L * * *", "hour field: 'L' is only allowed in the day-of-month field"),
    ("0 0 LW * * *", "hour field: 'LW' is only allowed in the day-of-month field"),
    ("0 0 0 * 5L *", "month field: '5L' is only allowed in the day-of-week field"),
    ("15W 0 0 * * *", "second field: '15W' is only allowed in the day-of-month field"),
    ("0 0 0 * 1#2 *", "month field: '1#2' is only allowed in the day-of-week field"),
    ("0 0 0 MON#1 * *", "day-of-month field: 'MON#1' is only allowed in the day-of-week field"),
    ("0 0 0 ? * 15W", "day-of-week field: '15W' is only allowed in the day-of-month field"),
    ("0 0 0 ? * L-2", "day-of-week field: 'L-2' is only allowed in the day-of-month field"),
    ("0 0 0 1,? * *", "day-of-month field: '?' must be the whole field, not part of a list"),
    ("0 0 0 * * ?,MON", "day-of-week field: '?' must be the whole field, not part of a list"),
    ("0 0 0 ? * MON#6", "day-of-week field: 'MON#6': the number after '#' must be 1-5"),
    ("0 0 0 ? * 1#0", "day-of-week field: '1#0': the number after '#' must be 1-5"),
    ("0 0 0 ? * 1#", "day-of-week field: '1#': the number after '#' must be 1-5"),
    ("0 0 0 ? * X#1", "day-of-week field: 'X' is not a valid value (expected 0-7 or SUN-SAT, with 0 and 7 Sunday)"),
    ("0 0 0 L-31 * ?", "day-of-month field: 'L-31': the offset after 'L-' must be 0-30"),
    ("0 0 0 L-x * ?", "day-of-month field: 'L-x': the offset after 'L-' must be 0-30"),
    ("0 0 0 ? * L", "day-of-week field: 'L' alone is ambiguous: write 'SAT' for Saturdays, or '5L' / 'FRIL' for the last Friday of the month"),
    ("0 0 0 ? * ?", "day-of-month and day-of-week fields: both are '?'; put '*' or a value in one of them"),
    ("0 0 0 30 2 *", "the expression never fires: no date matches its day-of-month, month and day-of-week fields"),
    ("0 0 0 31 4,6,9,11 ?", "the expression never fires: no date matches its day-of-month, month and day-of-week fields"),
    ("0 0 0 L-29 FEB ?", "the expression never fires: no date matches its day-of-month, month and day-of-week fields"),
];

#[test]
fn error_table() {
    let failures: Vec<String> = ERRORS
        .iter()
        .filter_map(|&(expr, expected)| match Cron::parse(expr) {
            Ok(cron) => Some(format!("`{expr}` parsed as {cron:?}")),
            Err(e) if e.to_string() == expected => None,
            Err(e) => Some(format!("`{expr}`:\n  expected {expected}\n  got      {e}")),
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors_are_structured_for_callers() {
    assert_eq!(
        Cron::parse("0 0 25 * * *"),
        Err(CronError::Field {
            field: CronField::Hour,
            problem: FieldProblem::OutOfRange {
                value: 25,
                min: 0,
                max: 23
            },
        })
    );
    assert_eq!(
        Cron::parse("1 2 3"),
        Err(CronError::FieldCount { found: 3 })
    );
}

#[test]
fn time_zones() {
    assert_eq!(
        parse_timezone("Europe/Berlin"),
        Ok(chrono_tz::Europe::Berlin)
    );
    assert_eq!(parse_timezone(" UTC "), Ok(chrono_tz::UTC));
    assert_eq!(
        parse_timezone("Australia/Lord_Howe"),
        Ok(chrono_tz::Australia::Lord_Howe)
    );
    assert_eq!(
        parse_timezone("Mars/Olympus").unwrap_err().to_string(),
        "unknown time zone 'Mars/Olympus': expected an IANA name such as 'Europe/Berlin', \
         'America/New_York' or 'UTC'"
    );
    assert_eq!(
        parse_timezone("europe/berlin").unwrap_err().to_string(),
        "unknown time zone 'europe/berlin': expected an IANA name such as 'Europe/Berlin', \
         'America/New_York' or 'UTC'; did you mean 'Europe/Berlin'?"
    );
    assert!(parse_timezone("").is_err());
    assert!(parse_timezone("+02:00").is_err());
}
