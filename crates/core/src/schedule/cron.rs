//! The parsed form of a cron expression: one bit set per field, so that matching a date or
//! finding the next matching time of day is a few bit operations, not a walk over lists.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::CronError;

/// A parsed cron expression, in local (wall-clock) time; pair it with a zone in a
/// [`Schedule`](super::Schedule) to get real fire instants.
///
/// Exists so that an expression is parsed and checked once, when a workflow file or an API
/// call is accepted, and every later question ("when next?") is cheap and cannot fail on
/// syntax. See the [module documentation](super) for the accepted syntax and its semantics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub(crate) source: String,
    /// Bit n set: second n matches.
    pub(crate) seconds: u64,
    /// Bit n set: minute n matches.
    pub(crate) minutes: u64,
    /// Bit n set: hour n matches.
    pub(crate) hours: u32,
    /// Bit n set: month n (1-12) matches.
    pub(crate) months: u16,
    pub(crate) dom: DaysOfMonth,
    pub(crate) dow: DaysOfWeek,
    /// The day-of-month field is something other than `*` or `?`.
    pub(crate) dom_restricted: bool,
    /// The day-of-week field is something other than `*` or `?`.
    pub(crate) dow_restricted: bool,
    pub(crate) dst: DstBehaviour,
}

/// The day-of-month field: plain days and the Quartz specials that depend on the month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DaysOfMonth {
    /// Bit d set: day d (1-31) matches.
    pub(crate) days: u32,
    /// Bit k set: `L-k` matches (the last day minus k; `L` is k = 0).
    pub(crate) last_minus: u32,
    /// Bit d set: `dW` matches (the weekday nearest to day d, within the month).
    pub(crate) nearest_weekday: u32,
    /// `LW`: the last Monday-Friday of the month.
    pub(crate) last_weekday: bool,
}

/// The day-of-week field, Sunday = 0: plain weekdays, `nL` and `n#k`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DaysOfWeek {
    /// Bit w set: weekday w matches.
    pub(crate) days: u8,
    /// Bit w set: the last weekday w of the month matches (`wL`).
    pub(crate) last: u8,
    /// `nth[k]` bit w set: the k-th weekday w of the month matches (`w#k`, k = 1-5).
    pub(crate) nth: [u8; 6],
}

/// How an expression behaves where the local clock jumps for daylight saving time, the way
/// Vixie cron does it. Exists because "02:30 every day" and "every 15 minutes" mean different
/// things on the day 02:30 happens twice or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DstBehaviour {
    /// The second, minute and hour fields are fixed values (single values, lists or ranges,
    /// no `*` and no step): the job is about a time of day. Where a local time repeats it
    /// fires once, at the first occurrence; where a local time is skipped it fires once, at
    /// the first instant after the gap (02:30 on the spring-forward day in New York fires at
    /// 03:00 EDT).
    FixedTime,
    /// The second, minute or hour field is `*` or a step (`*/2`, `0/15`, `1-5/2`): the job is
    /// about elapsed time. It fires at every real instant whose local time matches, so twice
    /// in a repeated hour, and not at all in skipped local time.
    Repeating,
}

impl Cron {
    /// The expression as it was written (fields separated by single spaces), for display and
    /// for storing back.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether this expression follows the fixed-time or the repeating rule at DST changes.
    pub fn dst_behaviour(&self) -> DstBehaviour {
        self.dst
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cron::parse(s)
    }
}

/// Serialized as the expression text, so workflow files and API bodies carry a plain string.
impl Serialize for Cron {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

/// Deserialized by parsing, so a bad expression in a file is reported with the field at fault.
impl<'de> Deserialize<'de> for Cron {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Cron::parse(&text).map_err(serde::de::Error::custom)
    }
}
