//! Human output: times, durations and aligned tables.

use chrono::{Local, TimeZone};

/// A time in microseconds since the epoch, in local time with milliseconds.
pub fn time(us: Option<i64>) -> String {
    match us.and_then(|us| Local.timestamp_micros(us).single()) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
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
    fn tables_align() {
        let t = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    LONGER\nxyz  1");
    }
}
