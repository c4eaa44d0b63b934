//! From local matches to real instants in a time zone, with DST handled as Vixie cron does.
//!
//! Every fire is a whole second. Local time runs monotonically with real time except at two
//! kinds of transition:
//! - a *gap* (spring forward): local times that never happen. A [`FixedTime`] job due in the
//!   gap fires at the first instant after it; a [`Repeating`] job simply has no fires there.
//! - a *fold* (fall back): local times that happen twice, first with the earlier offset and
//!   then with the later one. A [`FixedTime`] job fires at the first occurrence only; a
//!   [`Repeating`] job fires at both.
//!
//! Mapping each local time to its first occurrence (or, in a gap, to the end of the gap) is
//! monotonic, so "the next first-occurrence fire" is a plain forward search in local time.
//! Second occurrences only matter while `after` is inside a fold, and there they are searched
//! separately; the answer is the earlier of the two.
//!
//! [`FixedTime`]: DstBehaviour::FixedTime
//! [`Repeating`]: DstBehaviour::Repeating

use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::{GapInfo, Tz};

use super::cron::{Cron, DstBehaviour};

const ONE_SECOND: TimeDelta = TimeDelta::seconds(1);

/// The first fire of `cron` in `tz` strictly after `after`, ignoring start and end dates.
pub(crate) fn next_fire(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Fires are whole seconds, so "after 12:00:00.5" is "after 12:00:00".
    let after = after.with_nanosecond(0)?;
    // Not `naive_local()`, which panics past the end of the calendar.
    let offset = tz.offset_from_utc_datetime(&after.naive_utc()).fix();
    let local = after.naive_utc().checked_add_offset(offset)?;
    let fold = Fold::around(tz, local);
    let in_repeat = fold.as_ref().is_some_and(|f| f.second_occurrence == after);

    // The first local time whose first occurrence is later than `after`: the next second,
    // or, when `after` is in the repeat of a fold, the end of the fold (every first
    // occurrence inside it is already past).
    let from = match &fold {
        Some(f) if in_repeat => f.end,
        _ => local.checked_add_signed(ONE_SECOND)?,
    };
    let first = match cron.dst {
        DstBehaviour::FixedTime => first_occurrence_or_gap_end(cron, tz, from),
        DstBehaviour::Repeating => first_occurrence(cron, tz, from),
    };
    let second = match (cron.dst, &fold) {
        (DstBehaviour::Repeating, Some(fold)) => fold.next_second_occurrence(cron, tz, after),
        _ => None,
    };
    match (first, second) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// For [`DstBehaviour::FixedTime`]: the first occurrence of the next matching local time at
/// or after `from`, or the end of the gap when that local time is skipped.
fn first_occurrence_or_gap_end(cron: &Cron, tz: Tz, from: NaiveDateTime) -> Option<DateTime<Utc>> {
    let local = cron.next_local_match(from)?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at.with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, local).map(|end| end.with_timezone(&Utc)),
    }
}

/// For [`DstBehaviour::Repeating`]: the first occurrence of the next matching local time at
/// or after `from` that exists, skipping gaps.
fn first_occurrence(cron: &Cron, tz: Tz, mut from: NaiveDateTime) -> Option<DateTime<Utc>> {
    loop {
        let local = cron.next_local_match(from)?;
        match tz.from_local_datetime(&local) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return Some(at.with_timezone(&Utc))
            }
            LocalResult::None => {
                from = match gap_end(tz, local).map(|end| end.naive_local()) {
                    Some(end) if end > local => end,
                    _ => local.checked_add_signed(ONE_SECOND)?,
                };
            }
        }
    }
}

/// The first real instant after the gap that `local` falls in.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Tz>> {
    GapInfo::new(&local, &tz)?.end
}

/// A run of local times that happen twice, found around one of them.
struct Fold {
    /// The first repeated local time.
    start: NaiveDateTime,
    /// The first local time after the fold that happens once.
    end: NaiveDateTime,
    /// The second real occurrence of the local time the fold was found around.
    second_occurrence: DateTime<Utc>,
}

impl Fold {
    /// The fold containing `local`, if `local` is a repeated local time.
    fn around(tz: Tz, local: NaiveDateTime) -> Option<Fold> {
        let LocalResult::Ambiguous(first, second) = tz.from_local_datetime(&local) else {
            return None;
        };
        let width = (second.with_timezone(&Utc) - first.with_timezone(&Utc)).num_seconds();
        let repeated = |offset: i64| {
            local
                .checked_add_signed(TimeDelta::seconds(offset))
                .is_some_and(|at| matches!(tz.from_local_datetime(&at), LocalResult::Ambiguous(..)))
        };
        // `local - width` is before the fold and `local + width` after it.
        let start = first_true(-width, 0, repeated);
        let end = first_true(1, width, |i| !repeated(i));
        Some(Fold {
            start: local.checked_add_signed(TimeDelta::seconds(start))?,
            end: local.checked_add_signed(TimeDelta::seconds(end))?,
            second_occurrence: second.with_timezone(&Utc),
        })
    }

    /// For [`DstBehaviour::Repeating`]: the first second occurrence, in this fold, of a
    /// matching local time that is later than `after`.
    fn next_second_occurrence(
        &self,
        cron: &Cron,
        tz: Tz,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        // Second occurrences use the later offset; the one of `after` + 1 s reads as this.
        let later_offset = self.second_occurrence.with_timezone(&tz).offset().fix();
        let after_local = after.naive_utc().checked_add_signed(TimeDelta::seconds(
            i64::from(later_offset.local_minus_utc()) + 1,
        ))?;
        let local = cron.next_local_match(after_local.max(self.start))?;
        if local >= self.end {
            return None;
        }
        match tz.from_local_datetime(&local) {
            LocalResult::Ambiguous(_, second) => Some(second.with_timezone(&Utc)),
            _ => None,
        }
    }
}

/// The smallest `i` in `low..=high` for which `pred` holds, given that `pred` is false then
/// true over the range and true at `high`.
fn first_true(mut low: i64, mut high: i64, pred: impl Fn(i64) -> bool) -> i64 {
    while low < high {
        let mid = low + (high - low) / 2;
        if pred(mid) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    high
}
