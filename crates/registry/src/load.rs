//! The host's load as members report it in heartbeats (cpu, memory, load average), read from
//! Linux's `/proc`, so that the dispatcher can prefer the least loaded worker.

use crate::Load;
use std::sync::Mutex;

/// CPU time counters from the `cpu` line of `/proc/stat`: (busy, total) in clock ticks.
fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields[3] + fields.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// (used, total) memory in MiB from `/proc/meminfo`.
fn memory_mb(meminfo: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let total_kb = field("MemTotal:")?;
    let available_kb = field("MemAvailable:").or_else(|| field("MemFree:"))?;
    Some((
        total_kb.saturating_sub(available_kb) / 1024,
        total_kb / 1024,
    ))
}

/// The one-minute load average from `/proc/loadavg`.
fn load1(loadavg: &str) -> Option<f32> {
    loadavg.split_whitespace().next()?.parse().ok()
}

/// CPU counters at the previous call, so that each call measures the CPU use since the last.
static LAST_CPU: Mutex<Option<(u64, u64)>> = Mutex::new(None);

/// The host's load now: CPU use since the previous call (since boot on the first), memory
/// and the one-minute load average. `running` and `slots` are left at 0 for the caller to
/// fill. Fields that cannot be read (not Linux) are 0.
pub fn host_load() -> Load {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let mut load = Load::default();
    if let Some((busy, total)) = cpu_ticks(&read("/proc/stat")) {
        let mut last = LAST_CPU.lock().unwrap_or_else(|p| p.into_inner());
        let (prev_busy, prev_total) = last.unwrap_or((0, 0));
        let (d_busy, d_total) = (
            busy.saturating_sub(prev_busy),
            total.saturating_sub(prev_total),
        );
        if d_total > 0 {
            load.cpu = (d_busy as f32 / d_total as f32).clamp(0.0, 1.0);
        }
        *last = Some((busy, total));
    }
    if let Some((used, total)) = memory_mb(&read("/proc/meminfo")) {
        load.memory_used_mb = used;
        load.memory_total_mb = total;
    }
    load.load1 = load1(&read("/proc/loadavg")).unwrap_or(0.0);
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
        assert_eq!(cpu_ticks(stat), Some((150, 1000)));
        let meminfo = "MemTotal:       2048000 kB\nMemFree: 10 kB\nMemAvailable:   1024000 kB\n";
        assert_eq!(memory_mb(meminfo), Some((1000, 2000)));
        assert_eq!(load1("0.52 0.40 0.30 1/100 42"), Some(0.52));
    }

    #[test]
    fn reads_this_host() {
        let load = host_load();
        if cfg!(target_os = "linux") {
            assert!(load.memory_total_mb > 0 && load.memory_used_mb <= load.memory_total_mb);
            assert!((0.0..=1.0).contains(&load.cpu));
        }
        assert_eq!((load.running, load.slots), (0, 0));
    }
}
