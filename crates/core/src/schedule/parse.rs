//! Parsing cron text into [`Cron`]: split the fields, read each one into a bit set, and
//! reject anything unclear with an error that names the field.

use chrono::NaiveDate;

use super::cron::{Cron, DaysOfMonth, DaysOfWeek, DstBehaviour};
use super::error::{CronError, CronField, FieldProblem};

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const DAY_FIELDS: &str = "the day-of-month and day-of-week fields";
const DAY_OF_MONTH_FIELD: &str = "the day-of-month field";
const DAY_OF_WEEK_FIELD: &str = "the day-of-week field";

/// What one field accepts.
struct Spec {
    field: CronField,
    /// Smallest number accepted.
    min: u32,
    /// Largest number accepted (7 for day-of-week, an alias of Sunday).
    max: u32,
    /// Where `*` and an open step `a/b` stop (6 for day-of-week, so Sunday is not doubled).
    top: u32,
    names: &'static [&'static str],
    /// The number of the first name.
    name_base: u32,
    expected: &'static str,
}

const SECOND: Spec = Spec::numeric(CronField::Second, 0, 59, "0-59");
const MINUTE: Spec = Spec::numeric(CronField::Minute, 0, 59, "0-59");
const HOUR: Spec = Spec::numeric(CronField::Hour, 0, 23, "0-23");
const DAY_OF_MONTH: Spec = Spec::numeric(CronField::DayOfMonth, 1, 31, "1-31, L, L-n, nW or LW");
const MONTH: Spec = Spec {
    field: CronField::Month,
    min: 1,
    max: 12,
    top: 12,
    names: MONTH_NAMES,
    name_base: 1,
    expected: "1-12 or JAN-DEC",
};
const DAY_OF_WEEK: Spec = Spec {
    field: CronField::DayOfWeek,
    min: 0,
    max: 7,
    top: 6,
    names: WEEKDAY_NAMES,
    name_base: 0,
    expected: "0-7 or SUN-SAT, with 0 and 7 Sunday",
};

impl Spec {
    const fn numeric(field: CronField, min: u32, max: u32, expected: &'static str) -> Spec {
        Spec {
            field,
            min,
            max,
            top: max,
            names: &[],
            name_base: 0,
            expected,
        }
    }

    fn error(&self, problem: FieldProblem) -> CronError {
        CronError::field(self.field, problem)
    }
}

impl Cron {
    /// Parses a cron expression of 6 fields (`sec min hour day-of-month month day-of-week`)
    /// or the classic 5 (seconds are then 0). See the [module documentation](super) for the
    /// syntax. Exists so that a bad expression is refused where it is written, with the field
    /// and the problem named (`hour field: 25 is out of range 0-23`).
    pub fn parse(expr: &str) -> Result<Cron, CronError> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            found => return Err(CronError::FieldCount { found }),
        };
        let (minute, hour, dom_text, month, dow_text) =
            (rest[0], rest[1], rest[2], rest[3], rest[4]);

        let seconds = plain_field(second, &SECOND)?;
        let minutes = plain_field(minute, &MINUTE)?;
        let hours = plain_field(hour, &HOUR)? as u32;
        let months = plain_field(month, &MONTH)? as u16;
        if dom_text == "?" && dow_text == "?" {
            return Err(CronError::BothQuestionMarks);
        }
        let dom_restricted = !matches!(dom_text, "*" | "?");
        let dow_restricted = !matches!(dow_text, "*" | "?");
        let dom = if dom_restricted {
            day_of_month_field(dom_text)?
        } else {
            DaysOfMonth::default()
        };
        let dow = if dow_restricted {
            day_of_week_field(dow_text)?
        } else {
            DaysOfWeek::default()
        };
        let repeating = [second, minute, hour]
            .iter()
            .any(|f| f.contains(['*', '/']));

        let cron = Cron {
            source: fields.join(" "),
            seconds,
            minutes,
            hours,
            months,
            dom,
            dow,
            dom_restricted,
            dow_restricted,
            dst: if repeating {
                DstBehaviour::Repeating
            } else {
                DstBehaviour::FixedTime
            },
        };
        // Weekdays and leap years repeat every 400 years, and the search looks further than
        // that, so finding nothing from one start means nothing ever matches.
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        if epoch
            .and_then(|start| cron.next_local_match(start))
            .is_none()
        {
            return Err(CronError::NeverFires);
        }
        Ok(cron)
    }
}

/// A field without Quartz specials (second, minute, hour, month) as a bit set.
fn plain_field(text: &str, spec: &Spec) -> Result<u64, CronError> {
    let mut bits = 0;
    for item in items(text, spec)? {
        if let Some(allowed_in) = special(item) {
            let token = item.to_string();
            return Err(spec.error(FieldProblem::NotAllowedHere { token, allowed_in }));
        }
        bits |= item_bits(item, spec).map_err(|p| spec.error(p))?;
    }
    Ok(bits)
}

/// The day-of-month field: plain days plus `L`, `L-n`, `nW` and `LW`.
fn day_of_month_field(text: &str) -> Result<DaysOfMonth, CronError> {
    let spec = &DAY_OF_MONTH;
    let mut dom = DaysOfMonth::default();
    for item in items(text, spec)? {
        if item.eq_ignore_ascii_case("L") {
            dom.last_minus |= 1;
        } else if item.eq_ignore_ascii_case("LW") {
            dom.last_weekday = true;
        } else if let Some(offset) = strip_prefix_ci(item, "L-") {
            match number(offset) {
                Some(n) if n <= 30 => dom.last_minus |= 1 << n,
                _ => return Err(spec.error(FieldProblem::BadLastOffset(item.to_string()))),
            }
        } else if let Some(day) = strip_suffix_ci(item, 'W') {
            let day = value(day, item, spec).map_err(|p| spec.error(p))?;
            dom.nearest_weekday |= 1 << day;
        } else if let Some(allowed_in @ DAY_OF_WEEK_FIELD) = special(item) {
            let token = item.to_string();
            return Err(spec.error(FieldProblem::NotAllowedHere { token, allowed_in }));
        } else {
            dom.days |= item_bits(item, spec).map_err(|p| spec.error(p))? as u32;
        }
    }
    Ok(dom)
}

/// The day-of-week field: plain weekdays plus `nL` and `n#k`.
fn day_of_week_field(text: &str) -> Result<DaysOfWeek, CronError> {
    let spec = &DAY_OF_WEEK;
    let mut dow = DaysOfWeek::default();
    for item in items(text, spec)? {
        let weekday = |token: &str| {
            value(token, item, spec)
                .map(|w| w % 7)
                .map_err(|p| spec.error(p))
        };
        if item.eq_ignore_ascii_case("L") {
            return Err(spec.error(FieldProblem::LoneLastWeekday));
        } else if let Some((day, nth)) = item.split_once('#') {
            let w = weekday(day)?;
            match number(nth) {
                Some(k @ 1..=5) => dow.nth[k as usize] |= 1 << w,
                _ => return Err(spec.error(FieldProblem::BadOccurrence(item.to_string()))),
            }
        } else if let Some(day) = strip_suffix_ci(item, 'L') {
            dow.last |= 1 << weekday(day)?;
        } else if let Some(allowed_in @ DAY_OF_MONTH_FIELD) = special(item) {
            let token = item.to_string();
            return Err(spec.error(FieldProblem::NotAllowedHere { token, allowed_in }));
        } else {
            let bits = item_bits(item, spec).map_err(|p| spec.error(p))?;
            // 7 is Sunday, like 0.
            dow.days |= ((bits | bits >> 7) & 0x7f) as u8;
        }
    }
    Ok(dow)
}

/// The comma-separated items of a field, none of them empty.
fn items<'a>(text: &'a str, spec: &Spec) -> Result<Vec<&'a str>, CronError> {
    let items: Vec<&str> = text.split(',').collect();
    if items.iter().any(|item| item.is_empty()) {
        return Err(spec.error(FieldProblem::Empty(text.to_string())));
    }
    Ok(items)
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn strip_suffix_ci(text: &str, suffix: char) -> Option<&str> {
    let rest = text.strip_suffix(suffix.to_ascii_uppercase());
    rest.or_else(|| text.strip_suffix(suffix.to_ascii_lowercase()))
}

/// Recognises Quartz specials in a field that does not take them, for a clearer message
/// than "not a valid value"; returns where they are allowed.
fn special(item: &str) -> Option<&'static str> {
    let digits_then = |suffix: char| {
        strip_suffix_ci(item, suffix).is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
    };
    let last_of_month = item.eq_ignore_ascii_case("L") || item.eq_ignore_ascii_case("LW");
    if item == "?" {
        Some(DAY_FIELDS)
    } else if last_of_month || strip_prefix_ci(item, "L-").is_some() || digits_then('W') {
        Some(DAY_OF_MONTH_FIELD)
    } else if item.contains('#') || digits_then('L') {
        Some(DAY_OF_WEEK_FIELD)
    } else {
        None
    }
}

/// One list item: `*`, `v`, `a-b`, `*/s`, `a/s` or `a-b/s`, as a bit set.
fn item_bits(item: &str, spec: &Spec) -> Result<u64, FieldProblem> {
    if item == "?" {
        return Err(FieldProblem::QuestionMarkInList);
    }
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step_value(step, item, spec)?)),
        None => (item, None),
    };
    let (low, high) = if range == "*" {
        (spec.min, spec.top)
    } else if let Some((a, b)) = range.split_once('-') {
        let low = value(a, item, spec)?;
        let mut high = value(b, item, spec)?;
        if spec.field == CronField::DayOfWeek && high == 0 && low > 0 {
            high = 7; // SAT-SUN, 5-0: Sunday closes the week
        }
        if low > high {
            return Err(FieldProblem::Backwards {
                start: a.to_string(),
                end: b.to_string(),
            });
        }
        (low, high)
    } else {
        let low = value(range, item, spec)?;
        (
            low,
            if step.is_some() {
                spec.top.max(low)
            } else {
                low
            },
        )
    };
    let step = step.unwrap_or(1) as usize;
    Ok((low..=high).step_by(step).fold(0, |bits, v| bits | 1 << v))
}

/// A step after `/`: 1 up to the width of the field.
fn step_value(text: &str, item: &str, spec: &Spec) -> Result<u32, FieldProblem> {
    let max = spec.top - spec.min;
    match number(text) {
        Some(step) => match u32::try_from(step) {
            Ok(s) if (1..=max).contains(&s) => Ok(s),
            _ => Err(FieldProblem::StepOutOfRange { step, max }),
        },
        None => Err(FieldProblem::NotAValue {
            token: if text.is_empty() { item } else { text }.to_string(),
            expected: "a step of 1 or more",
        }),
    }
}

/// A number or a name within the field's range.
fn value(token: &str, item: &str, spec: &Spec) -> Result<u32, FieldProblem> {
    if let Some(v) = number(token) {
        return match u32::try_from(v) {
            Ok(v) if (spec.min..=spec.max).contains(&v) => Ok(v),
            _ => Err(FieldProblem::OutOfRange {
                value: v,
                min: spec.min,
                max: spec.max,
            }),
        };
    }
    match spec
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(token))
    {
        Some(i) => Ok(i as u32 + spec.name_base),
        None => Err(FieldProblem::NotAValue {
            // An empty range end (`5-`) reads better as the whole item.
            token: if token.is_empty() { item } else { token }.to_string(),
            expected: spec.expected,
        }),
    }
}

/// Decimal digits only (no sign, no spaces); `None` otherwise, when empty or on overflow.
fn number(text: &str) -> Option<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}
