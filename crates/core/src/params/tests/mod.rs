//! Tests of the params module, one file per concern.

mod check;
mod expr;
mod legacy;
mod output;
mod resolve;
mod system;
mod text;

use chrono::{DateTime, TimeZone};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// A wall-clock time in `tz`; panics on a time that does not exist or is ambiguous.
pub(super) fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Tz> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("an unambiguous local time")
}

/// A map from string pairs.
pub(super) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
