//! `$[...]` time expressions, evaluated against a task's schedule time, because daily batch
//! jobs name their partitions by dates relative to the run ("yesterday", "last month's end")
//! and must get the same dates when an old day is re-run.
//!
//! # The time
//! The schedule time is a `DateTime<Tz>` in the workflow's zone: the calendar (days, weeks,
//! months) is that zone's wall clock, and the zone is needed for `timestamp(...)`.
//!
//! # Forms
//! - `$[FORMAT]`: the schedule time in a [pattern](super::pattern) such as `yyyyMMdd`.
//! - `$[FORMAT+N]`, `$[FORMAT-N]`: N days later or earlier. N may be a product or quotient
//!   of whole numbers: `7*2` days, `1/24` (an hour), `30/24/60` (half an hour). A whole
//!   number of days moves the calendar date and keeps the wall-clock time; any other offset
//!   moves the instant by that many seconds (so an hour across a DST change is a real hour).
//! - `add_months(FORMAT,N)`: N months later (or earlier); the day is clamped to the month's
//!   end (Jan 31 + 1 month = Feb 28 or 29).
//! - `month_begin(FORMAT,N)`, `month_end(FORMAT,N)`: first or last day of the month N months
//!   away.
//! - `this_week(FORMAT)`, `last_week(FORMAT)`: Monday of this or last week (weeks start on
//!   Monday); `week_begin(FORMAT,N)`, `week_end(FORMAT,N)`: Monday or Sunday of the week N
//!   weeks away.
//! - `this_day(FORMAT)`, `last_day(FORMAT)`: the day itself, or the day before.
//! - `timestamp(FORMAT)`: Unix seconds of the schedule time with the fields FORMAT does not
//!   show reset (`timestamp(yyyy-MM-dd)` is local midnight).
//!
//! Every function keeps the time of day; only the date moves.

use super::pattern::Pattern;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone,
};
use chrono_tz::Tz;

/// A `$[...]` that cannot be evaluated: the expression as written and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("$[{expr}]: {reason}")]
pub struct ExprError {
    /// The text between `$[` and `]`.
    pub expr: String,
    /// What is wrong, in words.
    pub reason: String,
}

/// The functions `$[name(...)]` may call, for messages.
const FUNCTIONS: &str = "add_months, month_begin, month_end, this_week, last_week, week_begin, week_end, this_day, last_day, timestamp";

/// Evaluates the expression inside `$[...]` (without the brackets) at `at`.
pub fn eval_time_expr(expr: &str, at: &DateTime<Tz>) -> Result<String, ExprError> {
    eval(expr.trim(), at).map_err(|reason| ExprError {
        expr: expr.to_string(),
        reason,
    })
}

fn eval(expr: &str, at: &DateTime<Tz>) -> Result<String, String> {
    if expr.is_empty() {
        return Err("empty expression".into());
    }
    match split_call(expr) {
        Some((name, args)) => call(name, args, at),
        None => offset_form(expr, at),
    }
}

/// `name(args)` when `expr` looks like a call: a lowercase name that is a known function or
/// has an `_` (so that a format such as `yyyy(MM)` stays a format).
fn split_call(expr: &str) -> Option<(&str, &str)> {
    let open = expr.find('(')?;
    let name = &expr[..open];
    let looks_like_call = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        && (name.contains('_') || name == "timestamp");
    (looks_like_call && expr.ends_with(')')).then(|| (name, &expr[open + 1..expr.len() - 1]))
}

fn call(name: &str, args: &str, at: &DateTime<Tz>) -> Result<String, String> {
    let local = at.naive_local();
    let one = |f: &dyn Fn(&str) -> Result<String, String>| match args.rsplit_once(',') {
        Some((_, n)) if whole(n).is_ok() => Err(format!(
            "`{name}` takes only a format, as in {name}(yyyyMMdd)"
        )),
        _ => f(args.trim()),
    };
    let two = |f: &dyn Fn(&str, i64) -> Result<String, String>| match args.rsplit_once(',') {
        Some((format, n)) => f(format.trim(), whole(n)?),
        None => Err(format!(
            "`{name}` takes a format and a number, as in {name}(yyyyMMdd,-1)"
        )),
    };
    let fmt = |format: &str, t: NaiveDateTime| Ok(Pattern::parse(format)?.format(&t));
    match name {
        "this_day" => one(&|f| fmt(f, local)),
        "last_day" => one(&|f| fmt(f, add_days(local, -1)?)),
        "this_week" => one(&|f| fmt(f, monday(local)?)),
        "last_week" => one(&|f| fmt(f, monday(add_days(local, -7)?)?)),
        "week_begin" => two(&|f, n| fmt(f, monday(add_days(local, weeks(n)?)?)?)),
        "week_end" => two(&|f, n| fmt(f, add_days(monday(add_days(local, weeks(n)?)?)?, 6)?)),
        "add_months" => two(&|f, n| fmt(f, add_months(local, n)?)),
        "month_begin" => two(&|f, n| {
            let t = add_months(local, n)?;
            fmt(f, t.with_day(1).expect("day 1 exists"))
        }),
        "month_end" => two(&|f, n| {
            let t = add_months(local, n)?;
            fmt(
                f,
                t.with_day(days_in_month(t.year(), t.month()))
                    .expect("last day exists"),
            )
        }),
        "timestamp" => one(&|f| timestamp(f, &local, at.timezone())),
        _ => Err(format!("unknown function `{name}` (known: {FUNCTIONS})")),
    }
}

/// `FORMAT`, or `FORMAT` followed by `+N`/`-N` where N is an arithmetic term.
fn offset_form(expr: &str, at: &DateTime<Tz>) -> Result<String, String> {
    let split = expr
        .char_indices()
        .filter(|&(_, c)| c == '+' || c == '-')
        .find(|&(i, _)| is_term(expr[i + 1..].trim()));
    let Some((i, sign)) = split else {
        return Ok(Pattern::parse(expr)?.format(&at.naive_local()));
    };
    let pattern = Pattern::parse(expr[..i].trim_end())?;
    let (num, den) = term(expr[i + 1..].trim())?;
    let num = if sign == '-' { -num } else { num };
    let seconds = num
        .checked_mul(86_400)
        .ok_or_else(|| "offset out of range".to_string())?;
    if seconds % den != 0 {
        return Err("the offset is not a whole number of seconds".into());
    }
    let seconds = seconds / den;
    let t = if seconds % 86_400 == 0 {
        add_days(
            at.naive_local(),
            i64::try_from(seconds / 86_400).map_err(|_| "offset out of range")?,
        )?
    } else {
        let delta = i64::try_from(seconds)
            .ok()
            .and_then(Duration::try_seconds)
            .ok_or("offset out of range")?;
        at.checked_add_signed(delta)
            .ok_or("the result is out of range")?
            .naive_local()
    };
    Ok(pattern.format(&t))
}

/// True for `D`, `D*D`, `D/D/D`…: whole numbers joined by `*` or `/`.
fn is_term(text: &str) -> bool {
    !text.is_empty()
        && text
            .split(['*', '/'])
            .all(|n| !n.trim().is_empty() && n.trim().chars().all(|c| c.is_ascii_digit()))
}

/// The value of a term as a fraction, evaluated left to right.
fn term(text: &str) -> Result<(i128, i128), String> {
    let mut value: (i128, i128) = (1, 1);
    let mut op = '*';
    let mut rest = text;
    loop {
        let end = rest.find(['*', '/']).unwrap_or(rest.len());
        let n: i128 = rest[..end]
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("`{}` is too large", rest[..end].trim()))?
            .into();
        value = if op == '*' {
            (value.0 * n, value.1)
        } else if n == 0 {
            return Err("division by zero".into());
        } else {
            (value.0, value.1 * n)
        };
        if value.1 > 1_000_000_000_000 || value.0.abs() > 1_000_000_000_000_000 {
            return Err("offset out of range".into());
        }
        match rest[end..].chars().next() {
            Some(c) => {
                op = c;
                rest = &rest[end + 1..];
            }
            None => return Ok(value),
        }
    }
}

/// A function's count argument: an optional sign and a term that is a whole number.
fn whole(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(b) => (true, b.trim()),
        None => (false, text.strip_prefix('+').unwrap_or(text).trim()),
    };
    if !is_term(body) {
        return Err(format!("`{text}` is not a whole number"));
    }
    let (num, den) = term(body)?;
    if num % den != 0 {
        return Err(format!("`{text}` is not a whole number"));
    }
    let n = i64::try_from(num / den).map_err(|_| format!("`{text}` is out of range"))?;
    Ok(if negative { -n } else { n })
}

fn weeks(n: i64) -> Result<i64, String> {
    n.checked_mul(7).ok_or_else(|| "out of range".to_string())
}

fn add_days(t: NaiveDateTime, days: i64) -> Result<NaiveDateTime, String> {
    Duration::try_days(days)
        .and_then(|d| t.checked_add_signed(d))
        .ok_or_else(|| "the result is out of range".to_string())
}

/// The Monday of `t`'s week, at the same time of day.
fn monday(t: NaiveDateTime) -> Result<NaiveDateTime, String> {
    add_days(t, -i64::from(t.weekday().num_days_from_monday()))
}

/// Days in a month of the proleptic Gregorian calendar.
pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    (28..=31)
        .rev()
        .find(|&d| NaiveDate::from_ymd_opt(year, month, d).is_some())
        .unwrap_or(28)
}

/// `t` moved by `months`, the day clamped to the new month's last day.
pub(crate) fn add_months(t: NaiveDateTime, months: i64) -> Result<NaiveDateTime, String> {
    let out_of_range = || "the result is out of range".to_string();
    let index = i64::from(t.year()) * 12 + i64::from(t.month0());
    let index = index.checked_add(months).ok_or_else(out_of_range)?;
    let year = i32::try_from(index.div_euclid(12)).map_err(|_| out_of_range())?;
    let month = index.rem_euclid(12) as u32 + 1;
    let day = t.day().min(days_in_month(year, month));
    NaiveDate::from_ymd_opt(year, month, day)
        .map(|d| d.and_time(t.time()))
        .ok_or_else(out_of_range)
}

/// Unix seconds of `local` with the fields `format` does not show reset. A wall-clock time
/// skipped by a DST change is read with the offset in force before it, as Java does.
fn timestamp(format: &str, local: &NaiveDateTime, tz: Tz) -> Result<String, String> {
    let kept = Pattern::parse(format)?
        .truncate(local)
        .ok_or("this format keeps a day that does not exist")?;
    let instant = match tz.from_local_datetime(&kept) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
        LocalResult::None => {
            let before = tz
                .from_local_datetime(&(kept - Duration::days(1)))
                .earliest()
                .ok_or("the time does not exist in the workflow's zone")?;
            let offset = before.offset().fix();
            kept.and_local_timezone(offset)
                .single()
                .ok_or("the time does not exist in the workflow's zone")?
                .with_timezone(&tz)
        }
    };
    Ok(instant.timestamp().to_string())
}
