//! Durations in the workflow file: `30s`, `10m`, `1h 30m` (humantime), or a bare number of
//! seconds. Parsed during deserialization so a bad one is reported with its line and column.

use serde::{de, Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// The longest duration a file may give (100 years of 365 days): long enough for any timeout
/// or interval, and far within what the store (microseconds in an `i64`) and the protocol
/// (milliseconds in a `u64`) can hold, so no conversion downstream can overflow.
pub const MAX: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How a duration is written, for error messages.
const HOW: &str = "write 250ms, 30s, 10m, 1h 30m or a number of seconds";

/// Parses a duration as written in a workflow file: humantime units or a bare number of
/// seconds, at most [`MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        return from_secs(secs, text);
    }
    let d = humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => too_long(text),
        _ => format!("`{text}` is not a duration: {HOW}"),
    })?;
    bounded(d, text)
}

/// A bare number of seconds (YAML gives numbers unquoted).
fn from_secs(secs: f64, text: &str) -> Result<Duration, String> {
    if secs.is_sign_negative() && secs != 0.0 {
        return Err(format!("`{text}` is not a duration: it is negative; {HOW}"));
    }
    if secs.is_nan() {
        return Err(format!("`{text}` is not a duration: {HOW}"));
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) => bounded(d, text),
        Err(_) => Err(too_long(text)),
    }
}

fn bounded(d: Duration, text: &str) -> Result<Duration, String> {
    if d > MAX {
        return Err(too_long(text));
    }
    Ok(d)
}

fn too_long(text: &str) -> String {
    format!("`{text}` is too long for a duration: at most 100 years (36500 days)")
}

/// A duration in whole microseconds, saturating at `i64::MAX`: the unit of every stored time.
/// Durations from users are bounded where they are parsed; this keeps the arithmetic on them
/// from wrapping whatever they are.
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A duration in whole milliseconds, saturating at `u64::MAX` (the unit of the protocol's
/// timeouts).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Formats a duration the way the workflow file writes it.
pub fn format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// A duration as YAML gives it: a number (of seconds) or text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Secs(u64),
    Number(f64),
    Text(String),
}

impl Raw {
    fn into_duration(self) -> Result<Duration, String> {
        match self {
            Raw::Secs(s) => bounded(Duration::from_secs(s), &s.to_string()),
            Raw::Number(n) => from_secs(n, &n.to_string()),
            Raw::Text(t) => parse(&t),
        }
    }
}

/// Reads a [`Raw`], with a message in the file's terms for anything else (a list, a map).
fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
    Raw::deserialize(d).map_err(|_| de::Error::custom(format!("not a duration: {HOW}")))
}

/// serde helper for `Option<Duration>` fields.
pub mod option {
    use super::*;

    /// Reads an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(deserialize_with = "raw")] Raw);
        match Option::<Wrapped>::deserialize(d)? {
            None => Ok(None),
            Some(Wrapped(r)) => r.into_duration().map(Some).map_err(de::Error::custom),
        }
    }

    /// Writes an optional duration as text.
    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&format(*d)),
            None => s.serialize_none(),
        }
    }
}

/// serde helper for required `Duration` fields.
pub mod required {
    use super::*;

    /// Reads a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        raw(d)?.into_duration().map_err(de::Error::custom)
    }

    /// Writes a duration as text.
    pub fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_bare_seconds() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("45").unwrap(), Duration::from_secs(45));
    }

    #[test]
    fn bad_duration_says_how_to_write_it() {
        assert_eq!(
            parse("10x").unwrap_err(),
            "`10x` is not a duration: write 250ms, 30s, 10m, 1h 30m or a number of seconds"
        );
        assert!(parse("-5").unwrap_err().contains("negative"));
    }

    #[test]
    fn durations_are_bounded_where_they_are_parsed() {
        assert_eq!(parse("36500d").unwrap(), MAX);
        assert_eq!(parse("1.5").unwrap(), Duration::from_millis(1500));
        for text in [
            "36501d",
            "18446744073709551615",
            "99999999999999999999999999 years",
            "1e300",
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                e.contains("too long") && e.contains("100 years"),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn yaml_numbers_and_texts_are_read_and_checked() {
        #[derive(Deserialize, Debug)]
        struct F {
            #[serde(default, with = "super::option")]
            t: Option<Duration>,
        }
        let read = |y: &str| {
            serde_yaml::from_str::<F>(y)
                .map(|f| f.t)
                .map_err(|e| e.to_string())
        };
        assert_eq!(read("t: 45").unwrap(), Some(Duration::from_secs(45)));
        assert_eq!(read("t: 0.25").unwrap(), Some(Duration::from_millis(250)));
        assert_eq!(read("t: 10m").unwrap(), Some(Duration::from_secs(600)));
        assert!(read("t: 18446744073709551615")
            .unwrap_err()
            .contains("too long"));
        assert!(read("t: -3").unwrap_err().contains("negative"));
        assert!(read("t: [1]").unwrap_err().contains("not a duration"));
    }
}
