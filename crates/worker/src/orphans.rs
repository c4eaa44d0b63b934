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
        if let Some(pgid) = process_group(pid) {
            if pgid > 1 && pgid != own_group {
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

/// The process group of `pid`, from `/proc/PID/stat` (field 5, after the command in parentheses).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(2)?.parse().ok()
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
        assert_eq!(reap_orphans(&id), 1);
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
}
