//! A watchdog process per worker that kills the attempts' process groups when the worker dies.
//!
//! A worker that is killed (SIGKILL, a crash, the OOM killer) cannot kill its attempts, and the
//! master runs them again elsewhere: without help the old attempts would go on and overlap
//! their reruns. So the worker starts one small companion process, the running program itself
//! re-executed with the hidden subcommand [`SUBCOMMAND`], which reads a pipe from the worker:
//! `+PGID` when an attempt's group starts, `-PGID` just before its leader is reaped. When the
//! pipe reaches end of file (every copy of the write end is closed, which the kernel does when
//! the worker process dies, whichever thread was running), the watchdog kills every group still
//! registered with SIGKILL, then every process that carries this worker's `BATON_WORKER`
//! marker (see [`crate::orphans`]) and started before that moment (not those of a new life of
//! the worker, restarted on the same id meanwhile), and exits.
//!
//! Why one watchdog per worker and not a supervisor process per attempt: the same guarantee
//! without a second exec on every attempt's start, which is the worker's hot path. Why not
//! `PR_SET_PDEATHSIG`: it fires when the forking *thread* exits (runtime threads come and go)
//! and reaches one process, not a group.
//!
//! No attempt escapes: the write end is close-on-exec, so a task process forked but not yet
//! executed still holds it and delays the end of file until it has executed its program, with
//! the marker in its environment; the marker scan then finds it even if the worker died before
//! registering its group.
//!
//! A group may also hold a lease (`~PGID MS`): unless the worker sends it again within `MS`
//! milliseconds, the watchdog kills the group while the worker lives on. A service's group
//! holds one (see [`crate::supervisor`]), so that a worker that is paused (SIGSTOP) or hung,
//! and so cannot renew it, loses its services before the cluster, which counts the worker dead
//! after its session timeout, starts them again elsewhere: two copies never run at once.
//!
//! A program that embeds the worker must call [`run_if_invoked`] first thing in `main`; in any
//! other program (the crates' test binaries) workers run without a watchdog.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, signal, SigHandler, Signal};
use nix::unistd::Pid;

/// The hidden first argument that makes the program a watchdog (followed by the worker's id).
pub const SUBCOMMAND: &str = "__baton-watchdog";

/// Set by [`run_if_invoked`]: this program can be re-executed as a watchdog.
static SELF_EXEC: AtomicBool = AtomicBool::new(false);

/// Runs the watchdog when the program was started as one, returning its exit code; otherwise
/// returns `None` at once and lets this program's workers start watchdogs by re-executing it.
pub fn run_if_invoked() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(SUBCOMMAND)) {
        SELF_EXEC.store(true, Ordering::SeqCst);
        return None;
    }
    let Some(worker_id) = args.next().and_then(|id| id.into_string().ok()) else {
        let _ = writeln!(std::io::stderr(), "usage: {SUBCOMMAND} WORKER_ID");
        return Some(ExitCode::from(2));
    };
    // Only the end of the pipe ends a watchdog: not a Ctrl-C or a SIGTERM sent to a whole
    // service, which the worker handles itself (and may survive).
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: ignoring a signal installs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    let groups = watch(std::io::stdin().lock());
    let killed = kill_groups(&groups) + crate::orphans::reap_orphans_started_until_now(&worker_id);
    if killed > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "baton watchdog: worker {worker_id} went away; killed {killed} process groups of its attempts"
        );
    }
    Some(ExitCode::SUCCESS)
}

/// The leases of groups: when each must be renewed by.
type Leases = Arc<Mutex<HashMap<i32, Instant>>>;

/// How often the watchdog looks for leases that ran out.
const LEASE_CHECK: Duration = Duration::from_millis(20);

/// Reads `+PGID`, `-PGID` and `~PGID MS` lines until end of input (or a read error, which
/// also means the worker is gone), killing meanwhile each group whose lease ran out; returns
/// the groups registered and not removed.
fn watch(input: impl BufRead) -> BTreeSet<i32> {
    let mut groups = BTreeSet::new();
    let leases = Leases::default();
    let done = Arc::new(AtomicBool::new(false));
    let reaper = {
        let (leases, done) = (leases.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(LEASE_CHECK);
                end_expired(&leases);
            }
        })
    };
    for line in input.lines() {
        let Ok(line) = line else { break };
        let (op, rest) = line.split_at(line.len().min(1));
        let mut fields = rest.split_whitespace().map(str::parse::<i32>);
        match (op, fields.next(), fields.next()) {
            ("+", Some(Ok(pgid)), None) if pgid > 1 => {
                groups.insert(pgid);
            }
            ("-", Some(Ok(pgid)), None) => {
                groups.remove(&pgid);
                leases.lock().expect("leases poisoned").remove(&pgid);
            }
            ("~", Some(Ok(pgid)), Some(Ok(ms))) if groups.contains(&pgid) && ms > 0 => {
                let until = Instant::now() + Duration::from_millis(ms.unsigned_abs().into());
                leases.lock().expect("leases poisoned").insert(pgid, until);
            }
            _ => {
                let _ = writeln!(std::io::stderr(), "baton watchdog: ignoring `{line}`");
            }
        }
    }
    done.store(true, Ordering::SeqCst);
    let _ = reaper.join();
    groups
}

/// Kills the groups whose lease ran out (their leaders are not reaped while registered, so
/// the ids are theirs), and forgets those leases.
fn end_expired(leases: &Leases) {
    let now = Instant::now();
    let mut leases = leases.lock().expect("leases poisoned");
    let expired: Vec<i32> = leases
        .iter()
        .filter(|(_, until)| **until <= now)
        .map(|(pgid, _)| *pgid)
        .collect();
    for pgid in expired {
        leases.remove(&pgid);
        if killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok() {
            let _ = writeln!(
                std::io::stderr(),
                "baton watchdog: the worker did not renew the lease of process group {pgid}; killed it"
            );
        }
    }
}

/// SIGKILL to each group; returns how many still existed.
fn kill_groups(groups: &BTreeSet<i32>) -> usize {
    groups
        .iter()
        .filter(|pgid| killpg(Pid::from_raw(**pgid), Signal::SIGKILL) != Err(Errno::ESRCH))
        .count()
}

/// The worker's end: the running watchdog and the pipe to it.
pub(crate) struct Watchdog {
    /// `None` once writing failed (the watchdog died); attempts then run unguarded.
    pipe: Mutex<Option<ChildStdin>>,
    child: Mutex<Option<Child>>,
}

impl Watchdog {
    /// Starts the watchdog of worker `worker_id`, or returns `None` (with the reason logged)
    /// when this program cannot be one or it does not start.
    pub(crate) fn start(worker_id: &str) -> Option<Watchdog> {
        if !SELF_EXEC.load(Ordering::SeqCst) {
            tracing::debug!("no watchdog: this program does not call run_if_invoked");
            return None;
        }
        // The running program's own file, even if it was replaced on disk since it started.
        let mut command = Command::new("/proc/self/exe");
        // Named in `ps` as the program the worker runs in.
        if let Some(name) = std::env::args_os().next() {
            command.arg0(name);
        }
        let spawned = command
            .arg(SUBCOMMAND)
            .arg(worker_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Out of the worker's group, so that a Ctrl-C to the terminal does not reach it.
            .process_group(0)
            .spawn();
        match spawned {
            Ok(mut child) => Some(Watchdog {
                pipe: Mutex::new(child.stdin.take()),
                child: Mutex::new(Some(child)),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "could not start the watchdog; if this worker dies, its attempts' processes will run on until it restarts");
                None
            }
        }
    }

    /// Registers the process group of an attempt that just started.
    pub(crate) fn watch(&self, pgid: i32) {
        self.send(format_args!("+{pgid}\n"));
    }

    /// Gives a registered group a lease of `within` from now (renewed by calling this again):
    /// the watchdog kills the group if it is not renewed in time.
    pub(crate) fn lease(&self, pgid: i32, within: Duration) {
        let ms = within.as_millis().clamp(1, i32::MAX as u128);
        self.send(format_args!("~{pgid} {ms}\n"));
    }

    /// Removes a group whose leader is about to be reaped (after which its id can be reused).
    pub(crate) fn unwatch(&self, pgid: i32) {
        self.send(format_args!("-{pgid}\n"));
    }

    fn send(&self, line: std::fmt::Arguments<'_>) {
        let mut pipe = self.pipe.lock().expect("watchdog pipe poisoned");
        let Some(writer) = pipe.as_mut() else { return };
        if let Err(e) = writer.write_fmt(line) {
            tracing::error!(error = %e, "the watchdog is gone; if this worker dies, its attempts' processes will run on until it restarts");
            *pipe = None;
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // The end of file tells the watchdog to clean up and exit; reap it off this thread.
        drop(self.pipe.lock().map(|mut p| p.take()));
        if let Some(mut child) = self.child.lock().ok().and_then(|mut c| c.take()) {
            std::thread::spawn(move || child.wait());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_groups_left_at_end_of_input_are_the_ones_still_registered() {
        let input = "+100\n+200\n-100\n+300\nnonsense\n+1\n-999\n";
        assert_eq!(watch(input.as_bytes()), BTreeSet::from([200, 300]));
    }

    #[test]
    fn a_lease_not_renewed_kills_its_group_while_the_worker_lives() {
        let mut leased = std::process::Command::new("sleep")
            .arg("1000")
            .process_group(0)
            .spawn()
            .unwrap();
        let mut renewed = std::process::Command::new("sleep")
            .arg("1000")
            .process_group(0)
            .spawn()
            .unwrap();
        let (a, b) = (leased.id() as i32, renewed.id() as i32);
        let (read, mut write) = std::io::pipe().unwrap();
        let watcher = std::thread::spawn(move || watch(std::io::BufReader::new(read)));
        writeln!(write, "+{a}\n~{a} 100\n+{b}\n~{b} 100").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while leased.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the unrenewed group lives on");
            writeln!(write, "~{b} 100").unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            renewed.try_wait().unwrap().is_none(),
            "a renewed lease holds"
        );
        drop(write);
        let left = watcher.join().unwrap();
        assert_eq!(left, BTreeSet::from([a, b]), "killed, but not unregistered");
        renewed.kill().unwrap();
        renewed.wait().unwrap();
    }

    #[test]
    fn killing_reaches_every_process_of_a_registered_group() {
        let mut leader = std::process::Command::new("bash")
            .args(["-c", "sleep 1000 & sleep 1000"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id() as i32;
        let groups = watch(format!("+{pgid}\n").as_bytes());
        assert_eq!(kill_groups(&groups), 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while leader.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the group's leader is still alive"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // The background child goes too: soon nothing is left in the group.
        while killpg(Pid::from_raw(pgid), None::<Signal>) != Err(Errno::ESRCH) {
            assert!(
                Instant::now() < deadline,
                "a process of the group is still alive"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
