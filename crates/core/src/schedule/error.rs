//! Errors for cron expressions and time zones. They name the field and the problem, because
//! the person reading them typed the expression into a workflow file or `baton schedule
//! preview` and needs to know what to fix.

use std::fmt;

use thiserror::Error;

/// One of the six cron fields, so that an error can say `hour field: …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    /// Seconds, 0-59 (the first of six fields; `0` when five fields are given).
    Second,
    /// Minutes, 0-59.
    Minute,
    /// Hours, 0-23.
    Hour,
    /// Day of the month, 1-31, with `L`, `L-n`, `nW` and `LW`.
    DayOfMonth,
    /// Month, 1-12 or `JAN`-`DEC`.
    Month,
    /// Day of the week, 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`, with `nL` and `n#k`.
    DayOfWeek,
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Second => "second",
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// What is wrong inside one field; shown after the field's name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldProblem {
    /// A number outside the field's range, such as hour 25.
    #[error("{value} is out of range {min}-{max}")]
    OutOfRange {
        /// The number as written.
        value: u64,
        /// The smallest value the field accepts.
        min: u32,
        /// The largest value the field accepts.
        max: u32,
    },
    /// Something that is neither a number nor a name the field knows.
    #[error("'{token}' is not a valid value (expected {expected})")]
    NotAValue {
        /// The offending text.
        token: String,
        /// What the field accepts, e.g. `0-23` or `1-12 or JAN-DEC`.
        expected: &'static str,
    },
    /// A list with an empty item, as in `1,,2` or `5,`.
    #[error("empty item in the list '{0}'")]
    Empty(String),
    /// A step of zero, or one at least as wide as the field, as in `*/0` or `*/60` minutes.
    #[error("step {step} is out of range 1-{max}")]
    StepOutOfRange {
        /// The step as written.
        step: u64,
        /// The widest step the field accepts.
        max: u32,
    },
    /// A range whose start is after its end, such as `17-9`.
    #[error("range {start}-{end} runs backwards")]
    Backwards {
        /// The start as written.
        start: String,
        /// The end as written.
        end: String,
    },
    /// A special character used in a field that does not support it, such as `L` in hours.
    #[error("'{token}' is only allowed in {allowed_in}")]
    NotAllowedHere {
        /// The offending text.
        token: String,
        /// The fields where it is allowed.
        allowed_in: &'static str,
    },
    /// `?` combined with other values; it must be the whole field.
    #[error("'?' must be the whole field, not part of a list")]
    QuestionMarkInList,
    /// `n#k` with k outside 1-5.
    #[error("'{0}': the number after '#' must be 1-5")]
    BadOccurrence(String),
    /// `L-n` with n outside 0-30.
    #[error("'{0}': the offset after 'L-' must be 0-30")]
    BadLastOffset(String),
    /// `L` alone in the day-of-week field, which Quartz reads as Saturday and others do not.
    #[error("'L' alone is ambiguous: write 'SAT' for Saturdays, or '5L' / 'FRIL' for the last Friday of the month")]
    LoneLastWeekday,
}

/// Why a cron expression or a time zone name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CronError {
    /// Not five or six whitespace-separated fields.
    #[error("expected 5 or 6 fields, found {found}")]
    FieldCount {
        /// How many fields the expression had.
        found: usize,
    },
    /// One field is malformed.
    #[error("{field} field: {problem}")]
    Field {
        /// The field at fault.
        field: CronField,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// Both day fields are `?`, so nothing says which days to fire on.
    #[error(
        "day-of-month and day-of-week fields: both are '?'; put '*' or a value in one of them"
    )]
    BothQuestionMarks,
    /// The fields are valid one by one but no date satisfies them, such as 30 February.
    #[error("the expression never fires: no date matches its day-of-month, month and day-of-week fields")]
    NeverFires,
    /// A time zone name that is not in the IANA database.
    #[error("unknown time zone '{name}': expected an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'{hint}")]
    UnknownTimeZone {
        /// The name as given.
        name: String,
        /// A suggestion (`; did you mean …?`), or empty.
        hint: String,
    },
}

impl CronError {
    /// Shorthand used by the parser: an error about one field.
    pub(crate) fn field(field: CronField, problem: FieldProblem) -> Self {
        CronError::Field { field, problem }
    }
}
