//! The schedule tests. The core is a table of (expression, zone, instant) → the next fires,
//! written out by hand in local time with the offset, in `calendar.rs` (syntax, month ends,
//! leap years, `L`, `W`, `#`, names) and `dst.rs` (DST changes in several zones). Add a row
//! to extend them. `errors.rs` tables the error messages; `oracle.rs` cross-checks DST days
//! against a brute-force second-by-second scan.

mod calendar;
mod dst;
mod edges;
mod errors;
mod oracle;

use chrono::{DateTime, Utc};

use super::{parse_timezone, Cron, Schedule};

/// One row: after `after`, `expr` in zone `tz` fires at `fires` (RFC 3339 in the zone's local
/// time, as `baton schedule preview` prints them), in this order and with nothing between.
pub(super) struct Case {
    expr: &'static str,
    tz: &'static str,
    after: &'static str,
    fires: &'static [&'static str],
}

/// Shorthand for a table row.
pub(super) const fn case(
    expr: &'static str,
    tz: &'static str,
    after: &'static str,
    fires: &'static [&'static str],
) -> Case {
    Case {
        expr,
        tz,
        after,
        fires,
    }
}

pub(super) fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("bad instant {text}: {e}"))
        .with_timezone(&Utc)
}

/// Runs every row and reports all failures at once, each with its row.
pub(super) fn check_table(cases: &[Case]) {
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            check_case(c)
                .err()
                .map(|e| format!("row {i}: `{}` in {} after {}: {e}", c.expr, c.tz, c.after))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn check_case(case: &Case) -> Result<(), String> {
    let cron = Cron::parse(case.expr).map_err(|e| format!("parse: {e}"))?;
    let tz = parse_timezone(case.tz).map_err(|e| e.to_string())?;
    let after = utc(case.after);
    let schedule = Schedule::new(cron, tz);

    let preview: Vec<String> = schedule
        .preview(after, case.fires.len())
        .iter()
        .map(|fire| fire.to_rfc3339())
        .collect();
    if preview != case.fires {
        return Err(format!(
            "\n  expected {:?}\n  got      {:?}",
            case.fires, preview
        ));
    }
    // The other entry points agree with preview.
    let Some(last) = case.fires.last() else {
        return Ok(());
    };
    let expected: Vec<DateTime<Utc>> = case.fires.iter().map(|f| utc(f)).collect();
    let between = schedule.fires_between(after, utc(last), case.fires.len() + 10);
    if between != expected {
        return Err(format!("fires_between gave {between:?}"));
    }
    let mut at = after;
    for fire in &expected {
        let next = schedule.next_after(at);
        if next != Some(*fire) {
            return Err(format!("next_after({at}) gave {next:?}, expected {fire}"));
        }
        at = *fire;
    }
    Ok(())
}
