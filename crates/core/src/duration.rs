//! Durations in the workflow file: `30s`, `10m`, `1h 30m` (humantime), or a bare number of
//! seconds. Parsed during deserialization so a bad one is reported with its line and column.

use serde::{de, Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Parses a duration as written in a workflow file.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("bad duration `{text}` ({e}); write it like `30s`, `10m` or `1h 30m`"))
}

/// Formats a duration the way the workflow file writes it.
pub fn format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Secs(u64),
    Text(String),
}

/// serde helper for `Option<Duration>` fields.
pub mod option {
    use super::*;

    /// Reads an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<Raw>::deserialize(d)? {
            None => Ok(None),
            Some(Raw::Secs(s)) => Ok(Some(Duration::from_secs(s))),
            Some(Raw::Text(t)) => parse(&t).map(Some).map_err(de::Error::custom),
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
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Duration::from_secs(s)),
            Raw::Text(t) => parse(&t).map_err(de::Error::custom),
        }
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
        let e = parse("ten minutes").unwrap_err();
        assert!(e.contains("`ten minutes`") && e.contains("30s"), "{e}");
    }
}
