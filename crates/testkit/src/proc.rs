//! One `baton` process with its log in a file, started, killed and restarted by the caller.

use crate::LaunchError;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};

/// One role process (`baton api|master|worker|standalone …`), its output appended to a log
/// file. Dropping it kills it.
pub struct Proc {
    /// A short name for messages (`master0`).
    pub name: String,
    /// host:port it listens on; for a cluster role, also its id in the registry.
    pub address: String,
    /// Its command line after the binary, role first.
    pub args: Vec<String>,
    /// The process while it runs.
    pub child: Option<Child>,
    /// Set in its environment (the api's `BATON_ADMIN_PASSWORD`).
    pub env: Vec<(String, String)>,
    baton: PathBuf,
    log: PathBuf,
    log_filter: Option<String>,
}

/// `n` distinct free loopback addresses. The ports are held until all are chosen, so that two
/// roles never get the same one.
pub fn reserve_addresses(n: usize) -> Result<Vec<String>, LaunchError> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").map_err(LaunchError::Port))
        .collect::<Result<Vec<_>, _>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr().map_err(LaunchError::Port)?.to_string()))
        .collect()
}

impl Proc {
    /// A process not started yet: `baton` with `args`, logging to `log` (`BATON_LOG` set to
    /// `log_filter` when given).
    pub fn new(
        baton: PathBuf,
        name: impl Into<String>,
        address: impl Into<String>,
        args: Vec<String>,
        log: PathBuf,
        log_filter: Option<String>,
    ) -> Proc {
        Proc {
            name: name.into(),
            address: address.into(),
            args,
            child: None,
            env: Vec::new(),
            baton,
            log,
            log_filter,
        }
    }

    /// Starts it (again, after [`Proc::kill`]: same address, same arguments).
    pub fn spawn(&mut self) -> Result<(), LaunchError> {
        let what = format!("baton {}", self.args.first().map_or("", String::as_str));
        let err = |source| LaunchError::Spawn {
            what: what.clone(),
            source,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(err)?;
        let mut cmd = Command::new(&self.baton);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(err)?)
            .stderr(log)
            // Its own process group: a Ctrl-C at the terminal reaches only the caller, which
            // then kills its children itself.
            .process_group(0);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(filter) = &self.log_filter {
            cmd.env("BATON_LOG", filter);
        }
        self.child = Some(cmd.spawn().map_err(err)?);
        Ok(())
    }

    /// Its pid while it runs.
    pub fn pid(&self) -> nix::unistd::Pid {
        let id = self.child.as_ref().expect("the process is running").id();
        nix::unistd::Pid::from_raw(i32::try_from(id).expect("pids fit in i32"))
    }

    /// Its pid, if it runs.
    pub fn os_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, as a crash; returns once the process is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends a signal (SIGTERM for a graceful stop, SIGSTOP to freeze it…).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), sig).expect("signal a child process");
    }

    /// Kills it and starts it again, for tests (the caller that must handle a failure uses
    /// [`Proc::kill`] and [`Proc::spawn`]).
    ///
    /// # Panics
    /// If it cannot be started again.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.spawn() {
            panic!("restarting {}: {e}", self.name);
        }
    }

    /// Set when the process has exited by itself.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok()?
    }

    /// What it printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines it printed.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
