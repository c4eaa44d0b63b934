//! A task's process: started in its own process group with stdout and stderr on one pipe, and
//! ended so that nothing it started survives it.
//!
//! The group is always killed with SIGKILL after the leader exits, but *before* the leader is
//! reaped: while the leader is a zombie its pid (and so the group id) cannot be reused, so the
//! signal can never reach an unrelated process. Exit is observed through a pidfd, which does
//! not reap.

use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

use crate::watchdog::Watchdog;

/// What to run: a program, its arguments, and the program text it interprets (a shell
/// command, a python script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub text: ProgramText,
}

/// The text an interpreter runs. Up to [`INLINE_TEXT_MAX`] bytes it is passed inline after
/// `inline_flag` (`bash -c TEXT`); a longer one is written to a file in the attempt's working
/// directory, passed by path (`bash FILE`), since Linux refuses a single argument over 128 KiB
/// ("Argument list too long").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProgramText {
    /// The flag that makes the interpreter take its program from the next argument (`-c`).
    pub inline_flag: &'static str,
    /// The file name a long text is written to.
    pub file_name: &'static str,
    /// The text itself.
    pub text: String,
}

/// The longest program text passed as an argument; Linux's limit for one is 128 KiB.
pub(crate) const INLINE_TEXT_MAX: usize = 96 * 1024;

impl ProcessSpec {
    /// The arguments the program is started with: the text inline, or the path of the file
    /// it was written to (written here, readable by the worker's user only).
    fn argv(&self, cwd: &Path) -> io::Result<Vec<String>> {
        let mut argv = self.args.clone();
        if self.text.text.len() <= INLINE_TEXT_MAX {
            argv.push(self.text.inline_flag.to_string());
            argv.push(self.text.text.clone());
            return Ok(argv);
        }
        let path = cwd.join(self.text.file_name);
        write_private(&path, self.text.text.as_bytes())?;
        argv.push(path.to_string_lossy().into_owned());
        Ok(argv)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// A started task process.
pub(crate) struct TaskProcess {
    child: Child,
    pid: i32,
    /// Becomes readable when the leader exits (None on kernels without pidfd).
    pidfd: Option<AsyncFd<OwnedFd>>,
    exited: bool,
    /// Holds the group while the leader is not reaped, to kill it if the worker dies.
    watchdog: Option<Arc<Watchdog>>,
}

/// Starts `spec` in a new process group, in `cwd`, with exactly the environment `env` (nothing
/// inherited),
/// stdin from /dev/null, and stdout and stderr both writing into the returned pipe (one pipe, so
/// the log keeps the order the process wrote in). The group is registered with `watchdog`
/// until the leader is reaped.
pub(crate) fn spawn<I, K, V>(
    spec: &ProcessSpec,
    cwd: &Path,
    env: I,
    watchdog: Option<Arc<Watchdog>>,
) -> io::Result<(TaskProcess, pipe::Receiver)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    // Close-on-exec, so other tasks started meanwhile do not inherit (and hold open) our pipe.
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let reader = pipe::Receiver::from_owned_fd(read)?;
    let write_err = write.try_clone()?;
    let argv = spec.argv(cwd)?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&argv)
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::from(write_err))
        .process_group(0);
    let child = cmd.spawn()?;
    // The command holds our copies of the write end; drop them so the pipe closes when the
    // group is gone.
    drop(cmd);
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the child has no pid right after spawning"))?
        as i32;
    if let Some(w) = &watchdog {
        w.watch(pid);
    }
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::debug!(error = %e, "pidfd unavailable; falling back to reaping before killing the group");
            None
        }
    };
    Ok((
        TaskProcess {
            child,
            pid,
            pidfd,
            exited: false,
            watchdog,
        },
        reader,
    ))
}

fn pidfd_open(pid: i32) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new file descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the AsyncFd owns the descriptor, which stays open, unchanged, until it is dropped.
    Ok(unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?)
}

impl TaskProcess {
    /// The leader's pid, which is also the group id.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits until the leader has exited, without reaping it. Cancel-safe.
    pub(crate) async fn exited(&mut self) {
        if self.exited {
            return;
        }
        match &self.pidfd {
            Some(fd) => {
                // The pidfd turns readable once the process has exited; errors mean it is gone.
                let _ = fd.readable().await;
            }
            None => {
                // No pidfd: reaping here opens a tiny window for pid reuse before the group
                // is killed; acceptable on such old kernels.
                let _ = self.child.wait().await;
            }
        }
        self.exited = true;
    }

    /// Sends `signal` to the whole group; a group that is already gone is not an error.
    pub(crate) fn signal_group(&self, signal: Signal) {
        match killpg(Pid::from_raw(self.pid), signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => {
                tracing::warn!(pid = self.pid, ?signal, error = %e, "signalling the process group failed")
            }
        }
    }

    /// SIGTERM to the group, up to `grace` for the leader to exit (or until `urgent`
    /// completes), then SIGKILL to the group.
    pub(crate) async fn terminate(&mut self, grace: Duration, urgent: impl Future<Output = ()>) {
        self.signal_group(Signal::SIGTERM);
        tokio::select! {
            _ = tokio::time::timeout(grace, self.exited()) => {}
            _ = urgent => {}
        }
        self.signal_group(Signal::SIGKILL);
    }

    /// Waits for the leader to exit, kills whatever is left of its group, and reaps the leader.
    pub(crate) async fn finish(mut self) -> io::Result<ExitStatus> {
        self.exited().await;
        self.signal_group(Signal::SIGKILL);
        // Before reaping: once reaped, the group id may be reused by an unrelated process.
        if let Some(w) = &self.watchdog {
            w.unwatch(self.pid);
        }
        self.child.wait().await
    }
}
