//! The conversion at the API's edge between the store's microseconds since the epoch and the
//! RFC 3339 times (and millisecond durations) the API speaks.

use chrono::{DateTime, Utc};

/// A store time (µs since the epoch) as a UTC time; a value out of chrono's range (never
/// written by Baton) reads as the epoch.
pub fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// [`from_us`] for an optional time.
pub fn opt_from_us(us: Option<i64>) -> Option<DateTime<Utc>> {
    us.map(from_us)
}

/// A UTC time as the store's microseconds since the epoch.
pub fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Whole milliseconds from `from` to `to`, when both are known and in order.
pub fn duration_ms(from: Option<i64>, to: Option<i64>) -> Option<i64> {
    match (from, to) {
        (Some(a), Some(b)) if b >= a => Some((b - a) / 1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_round_trip_as_rfc3339() {
        let t = from_us(1_767_323_045_678_901);
        assert_eq!(t.to_rfc3339(), "2026-01-02T03:04:05.678901+00:00");
        assert_eq!(to_us(t), 1_767_323_045_678_901);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-01-02T03:04:05.678901Z\""
        );
        assert_eq!(duration_ms(Some(1_000), Some(2_501_000)), Some(2_500));
        assert_eq!(duration_ms(Some(5), None), None);
    }
}
