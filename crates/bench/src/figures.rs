//! What the benchmarks print, and the measurements of processes they take from /proc.

use std::fmt::Write;

/// Lines of `name: value`, printed at once.
#[derive(Default)]
pub struct Figures(String);

impl Figures {
    /// Adds one line.
    pub fn add(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.0, "{name}: {value}");
    }

    /// Prints every line.
    pub fn print(self) {
        print!("{}", self.0);
    }

    /// The p50, p99 and max of sorted milliseconds, as `{prefix}_p50_ms` and so on.
    pub fn add_ms(&mut self, prefix: &str, sorted_ms: &[f64]) {
        self.add(
            &format!("{prefix}_p50_ms"),
            format!("{:.2}", quantile(sorted_ms, 0.50)),
        );
        self.add(
            &format!("{prefix}_p99_ms"),
            format!("{:.2}", quantile(sorted_ms, 0.99)),
        );
        self.add(
            &format!("{prefix}_max_ms"),
            format!("{:.2}", quantile(sorted_ms, 1.0)),
        );
    }
}

/// The `p` quantile (0 to 1, nearest rank) of sorted values; 0 if there are none.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let last = sorted.len() - 1;
    // Nearest rank: p is within 0..=1, so the index is within 0..=last.
    let i = ((last as f64) * p.clamp(0.0, 1.0)).round() as usize;
    sorted[i.min(last)]
}

/// Microseconds as sorted milliseconds.
pub fn sorted_ms(us: impl IntoIterator<Item = i64>) -> Vec<f64> {
    let mut ms: Vec<f64> = us.into_iter().map(|u| u as f64 / 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms
}

/// How many cores the machine has.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The peak resident memory of a process, in MB, from /proc (0 if it cannot be read).
pub fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux).
const TICKS: f64 = 100.0;

/// utime + stime + cutime + cstime of a process, in seconds (0 if it cannot be read): the
/// process and its reaped children (a worker's tasks).
pub fn process_cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (in parentheses): state is the first, utime the 12th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    rest.split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum::<f64>()
        / TICKS
}

/// The whole machine's CPU time so far: (busy, total) in seconds of all cores.
pub fn machine_cpu_s() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0.0, 0.0);
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: f64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / TICKS, total / TICKS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 51.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
