//! Processes a previous life of this worker left running. When a worker dies without killing
//! its attempts (SIGKILL, a crash), their process groups live on; the master runs those
//! attempts again elsewhere, so the old ones must not go on. A restarted worker finds them by
//! the `BATON_WORKER` variable every attempt carries, and kills their whole process groups.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;

/// The environment variable naming the worker that started a process.
pub const MARKER: &str = "BATON_WORKER";

/// Kills the process groups of processes marked as started by worker `worker_id`, except our
/// own. Returns how many groups were killed. Call it before the worker takes dispatches.
pub fn reap_orphans(worker_id: &str) -> usize {
    reap(worker_id, u64::MAX)
}

/// Like [`reap_orphans`], for processes started before this moment only: what a worker that
/// just died left, and never what a new life of it, already started again on the same id, runs.
pub(crate) fn reap_orphans_started_until_now(worker_id: &str) -> usize {
    // Clock ticks since boot, the unit of a process's start time; one tick of margin.
    let now = uptime_ticks().map_or(u64::MAX, |t| t + 1);
    reap(worker_id, now)
}

fn reap(worker_id: &str, started_by: u64) -> usize {
    let needle = format!("{MARKER}={worker_id}");
    let own_group = nix::unistd::getpgrp().as_raw();
    let me = std::process::id() as i32;
    let mut groups = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            continue;
        }
        if let Some((pgid, started)) = group_and_start(pid) {
            if pgid > 1 && pgid != own_group && started <= started_by {
                groups.insert(pgid);
            }
        }
    }
    for pgid in &groups {
        tracing::warn!(
            "killing process group {pgid}, left running by a previous life of worker {worker_id}"
        );
        let _ = killpg(Pid::from_raw(*pgid), Signal::SIGKILL);
    }
    groups.len()
}

/// The process group of `pid` and its start time in clock ticks since boot, from
/// `/proc/PID/stat` (fields 5 and 22; the command before them is in parentheses).
fn group_and_start(pid: i32) -> Option<(i32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// The time since boot in clock ticks (the unit of `/proc/PID/stat`'s start time).
fn uptime_ticks() -> Option<u64> {
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_sec = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
    // Whole ticks: the fraction of a tick is below the resolution of start times.
    Some((secs * per_sec as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn kills_marked_groups_and_nothing_else() {
        use std::os::unix::process::CommandExt;
        let id = format!("test-worker-{}", std::process::id());
        let mut marked = std::process::Command::new("sleep")
            .arg("300")
            .env(MARKER, &id)
            .process_group(0)
            .spawn()
            .unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("300")
            .env(MARKER, format!("{id}-other"))
            .process_group(0)
            .spawn()
            .unwrap();
        assert_eq!(reap_orphans_started_until_now(&id), 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if marked.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the marked process is still alive"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            other.try_wait().unwrap().is_none(),
            "an unmarked process was killed"
        );
        other.kill().unwrap();
        other.wait().unwrap();
    }

    #[test]
    fn a_process_started_after_the_moment_is_spared() {
        use std::os::unix::process::CommandExt;
        let id = format!("test-worker-later-{}", std::process::id());
        let mut later = std::process::Command::new("sleep")
            .arg("300")
            .env(MARKER, &id)
            .process_group(0)
            .spawn()
            .unwrap();
        assert_eq!(reap(&id, 0), 0, "started after boot's first tick");
        assert!(later.try_wait().unwrap().is_none());
        later.kill().unwrap();
        later.wait().unwrap();
    }
}
