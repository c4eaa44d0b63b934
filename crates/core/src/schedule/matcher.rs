//! Calendar matching in local (wall-clock) time, with no time zone: which dates match the
//! day fields, and the first matching local time at or after a given one. The zone and its
//! DST jumps are applied on top of this in [`dst`](super::dst).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

use super::cron::Cron;

/// How far ahead a search looks before concluding there is no further match. Weekdays and
/// leap years repeat every 400 years, so an expression that matches at all matches within
/// any window this long (the rarest real case, `29 2 *` on a given weekday, recurs within
/// decades).
const HORIZON_YEARS: i32 = 401;

impl Cron {
    /// The first local time at or after `from` (to the second) that matches every field, or
    /// `None` if there is none within [`HORIZON_YEARS`] or before the end of the calendar.
    pub(crate) fn next_local_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let horizon = from.year().checked_add(HORIZON_YEARS)?;
        let mut date = from.date();
        let mut earliest = from.time();
        loop {
            if date.year() > horizon {
                return None;
            }
            if self.months & (1 << date.month()) == 0 {
                date = first_of_next_month(date)?;
                earliest = NaiveTime::MIN;
                continue;
            }
            if self.day_matches(date) {
                if let Some(time) = self.next_time_of_day(earliest) {
                    return Some(date.and_time(time));
                }
            }
            date = date.succ_opt()?;
            earliest = NaiveTime::MIN;
        }
    }

    /// Whether a local date and time matches every field.
    #[cfg(test)]
    pub(crate) fn matches(&self, at: NaiveDateTime) -> bool {
        self.months & (1 << at.month()) != 0
            && self.day_matches(at.date())
            && self.hours & (1 << at.hour()) != 0
            && self.minutes & (1 << at.minute()) != 0
            && self.seconds & (1 << at.second()) != 0
    }

    /// The first matching time of day at or after `from`, on any matching day.
    fn next_time_of_day(&self, from: NaiveTime) -> Option<NaiveTime> {
        let (h0, m0, s0) = (from.hour(), from.minute(), from.second());
        for h in bits_from(u64::from(self.hours), h0) {
            let m_from = if h == h0 { m0 } else { 0 };
            for m in bits_from(self.minutes, m_from) {
                let s_from = if (h, m) == (h0, m0) { s0 } else { 0 };
                if let Some(s) = bits_from(self.seconds, s_from).next() {
                    return NaiveTime::from_hms_opt(h, m, s);
                }
            }
        }
        None
    }

    /// The day-of-month and day-of-week fields together: when both are restricted (neither
    /// `*` nor `?`) a day matches if either does, as classic cron has it; otherwise the
    /// restricted one decides.
    fn day_matches(&self, date: NaiveDate) -> bool {
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => self.day_of_month_matches(date) || self.day_of_week_matches(date),
            (true, false) => self.day_of_month_matches(date),
            (false, true) => self.day_of_week_matches(date),
            (false, false) => true,
        }
    }

    fn day_of_month_matches(&self, date: NaiveDate) -> bool {
        let dom = &self.dom;
        let day = date.day();
        let last = days_in_month(date);
        let from_end = last - day;
        dom.days & (1 << day) != 0
            || dom.last_minus & (1 << from_end) != 0
            || (dom.last_weekday && day == nearest_weekday(date, last, last))
            || bits_from(u64::from(dom.nearest_weekday), 1)
                .take_while(|&d| d <= last)
                .any(|d| day == nearest_weekday(date, d, last))
    }

    fn day_of_week_matches(&self, date: NaiveDate) -> bool {
        let dow = &self.dow;
        let weekday = 1u8 << date.weekday().num_days_from_sunday();
        let day = date.day();
        let nth = ((day - 1) / 7 + 1) as usize;
        dow.days & weekday != 0
            || (dow.last & weekday != 0 && day + 7 > days_in_month(date))
            || dow.nth[nth] & weekday != 0
    }
}

/// `dW`: day `d` of `date`'s month if it is Monday-Friday, else the nearest Monday-Friday in
/// the same month (Saturday the 1st gives Monday the 3rd; Sunday the last gives the Friday
/// before). With `d` = `last` this is `LW`, the last weekday of the month.
fn nearest_weekday(date: NaiveDate, d: u32, last: u32) -> u32 {
    match date.with_day(d).map(|target| target.weekday()) {
        Some(Weekday::Sat) if d == 1 => 3,
        Some(Weekday::Sat) => d - 1,
        Some(Weekday::Sun) if d == last => d - 2,
        Some(Weekday::Sun) => d + 1,
        _ => d,
    }
}

/// The number of days in `date`'s month.
fn days_in_month(date: NaiveDate) -> u32 {
    match date.month() {
        4 | 6 | 9 | 11 => 30,
        2 if date.leap_year() => 29,
        2 => 28,
        _ => 31,
    }
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    let (year, month) = match date.month() {
        12 => (date.year().checked_add(1)?, 1),
        m => (date.year(), m + 1),
    };
    NaiveDate::from_ymd_opt(year, month, 1)
}

/// The set bits of `bits` at or above `from`, lowest first.
fn bits_from(bits: u64, from: u32) -> impl Iterator<Item = u32> {
    let mut rest = if from >= 64 { 0 } else { bits >> from << from };
    std::iter::from_fn(move || {
        if rest == 0 {
            return None;
        }
        let bit = rest.trailing_zeros();
        rest &= rest - 1;
        Some(bit)
    })
}
