//! Human output: times, durations and aligned tables. Times are printed in local time with
//! their UTC offset (`2026-01-02 09:00:00.000 +08:00`), so a reader never has to guess the
//! zone; `TZ=UTC` prints UTC.

use chrono::{DateTime, Local, TimeZone, Utc};

/// A time of the API in local time, with milliseconds and its offset; `-` when absent.
pub fn at(t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => t
            .with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S%.3f %:z")
            .to_string(),
        None => "-".to_string(),
    }
}

/// A duration in milliseconds, short; `-` when absent.
pub fn took(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => duration_us(ms.saturating_mul(1000)),
        None => "-".to_string(),
    }
}

/// How long ago `t` was, short (`850ms ago`); `-` when absent.
pub fn ago(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        Some(t) => format!("{} ago", took(Some((now - t).num_milliseconds().max(0)))),
        None => "-".to_string(),
    }
}

/// The clock time only, for progress lines.
pub fn clock(us: i64) -> String {
    match Local.timestamp_micros(us).single() {
        Some(t) => t.format("%H:%M:%S%.3f").to_string(),
        None => "-".to_string(),
    }
}

/// The duration between two times, short (`850ms`, `12.3s`, `4m05s`).
pub fn span(from: Option<i64>, to: Option<i64>) -> String {
    match (from, to) {
        (Some(a), Some(b)) if b >= a => duration_us(b - a),
        _ => "-".to_string(),
    }
}

/// A duration in microseconds, short.
pub fn duration_us(us: i64) -> String {
    let ms = us / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        if s < 3600 {
            format!("{}m{:02}s", s / 60, s % 60)
        } else {
            format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
        }
    }
}

/// Rows under a header, columns padded to the widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short() {
        assert_eq!(duration_us(850_000), "850ms");
        assert_eq!(duration_us(12_345_000), "12.3s");
        assert_eq!(duration_us(245_000_000), "4m05s");
        assert_eq!(span(Some(5), None), "-");
    }

    #[test]
    fn times_carry_their_offset() {
        let t = DateTime::from_timestamp(1_767_323_045, 0).unwrap();
        let printed = at(Some(t));
        let offset = t.with_timezone(&Local).format("%:z").to_string();
        assert!(printed.ends_with(&offset), "{printed}");
        assert!(printed.contains(':'), "{printed}");
        assert_eq!(at(None), "-");
        assert_eq!(took(Some(1500)), "1.5s");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    LONGER\nxyz  1");
    }
}
