//! A service attempt (`type: service`): its process runs like a shell task's (same log, work
//! directory, environment, process group, watchdog), and this supervisor keeps it up until the
//! attempt is stopped. A process that exits is started again by the task's `restart` policy
//! after an exponential backoff (reset once a run stayed up [`BACKOFF_RESET_AFTER`]); a health
//! check that fails `failures` times in a row restarts it (SIGTERM, the kill grace, SIGKILL).
//! The master hears Started once, Healthy once per up period (at once without a check), and
//! Restarted at each restart; the attempt ends (Finished) only by a stop, a session loss, or
//! an exit its policy does not restart. Every restart is written to the attempt's log.
//!
//! On a cluster, each run's process group holds a lease the watchdog kills it at unless this
//! supervisor renews it in time ([`crate::WorkerConfig::service_lease`]): a paused or hung
//! worker loses its service before the cluster relaunches it elsewhere.
//!
//! Health checks over HTTP reach only the worker's own loopback (127.0.0.1, ::1, localhost),
//! which the file's check refuses otherwise and this module checks again: the worker's http
//! policy keeps tasks off loopback addresses, and a check reaches nothing else. Redirects are
//! not followed, no proxy is used and the body is not read.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use baton_core::spec::kinds::service::BACKOFF_RESET_AFTER;
use baton_core::spec::{Backoff, RestartPolicy};
use baton_proto::{health_check, now_us, Finished, Healthy, Outcome, Restarted, ServiceTask};
use nix::sys::signal::Signal;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::attempt::{exit_outcome, failed_to_start, process_env, Interrupted, Job, DRAIN_LIMIT};
use crate::logfile::{self, CappedLog, LazyLog};
use crate::outputs::Scanner;
use crate::process::{self, ProcessSpec, ProgramText, TaskProcess};
use crate::worker::{Inner, Stop};

/// How a service attempt runs: its process, when it is started again, and its health check.
#[derive(Debug, Clone)]
pub(crate) struct ServicePlan {
    pub process: ProcessSpec,
    pub restart: RestartPolicy,
    pub backoff: Backoff,
    pub health: Option<Health>,
}

/// A service's health check.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    pub probe: Probe,
    pub interval: Duration,
    pub failures: u32,
    pub timeout: Duration,
    pub start_period: Duration,
}

/// What one check runs.
#[derive(Debug, Clone)]
pub(crate) enum Probe {
    /// A GET of this URL (checked to be loopback when the attempt starts).
    Http(String),
    /// This command under `bash -c`.
    Command(String),
}

impl ServicePlan {
    /// The plan of a dispatched service (`bash` is the shell executor's).
    pub(crate) fn of(task: &ServiceTask, bash: &str) -> ServicePlan {
        let restart = match baton_proto::ServiceRestart::try_from(task.restart) {
            Ok(baton_proto::ServiceRestart::OnFailure) => RestartPolicy::OnFailure,
            Ok(baton_proto::ServiceRestart::Never) => RestartPolicy::Never,
            // An unknown value (a newer master) counts as the default.
            Ok(baton_proto::ServiceRestart::Always) | Err(_) => RestartPolicy::Always,
        };
        let min = Duration::from_millis(task.backoff_min_ms.max(1));
        let backoff = Backoff {
            min,
            max: Duration::from_millis(task.backoff_max_ms).max(min),
        };
        let health = task.health.as_ref().and_then(|h| {
            let probe = match h.probe.as_ref()? {
                health_check::Probe::Http(url) => Probe::Http(url.clone()),
                health_check::Probe::Command(cmd) => Probe::Command(cmd.clone()),
            };
            Some(Health {
                probe,
                interval: Duration::from_millis(h.interval_ms.max(10)),
                failures: h.failures.max(1),
                timeout: Duration::from_millis(h.timeout_ms.max(10)),
                start_period: Duration::from_millis(h.start_period_ms),
            })
        });
        ServicePlan {
            process: bash_c(bash, &task.command, ".baton-service.sh"),
            restart,
            backoff,
            health,
        }
    }
}

fn bash_c(bash: &str, command: &str, file_name: &'static str) -> ProcessSpec {
    ProcessSpec {
        program: bash.to_string(),
        args: Vec::new(),
        text: ProgramText {
            inline_flag: "-c",
            file_name,
            text: command.to_string(),
        },
    }
}

/// How one run of the process ended.
enum RunEnd {
    /// It exited by itself.
    Exited(std::process::ExitStatus),
    /// Its health check failed this many times in a row (the last failure's words); it was
    /// stopped.
    Unhealthy(u32, String),
    /// The attempt was asked to stop; the process was stopped.
    Stopped(Stop),
    /// It could not be started, or its end could not be observed.
    Broken(String),
}

/// Runs a service attempt to its end.
pub(crate) async fn run(
    inner: &Inner,
    job: &Job,
    plan: &ServicePlan,
    log: LazyLog,
    stop: watch::Receiver<Option<Stop>>,
) -> Finished {
    let client = match plan.health.as_ref().map(|h| checker(h, &plan.process)) {
        Some(Err(message)) => return failed_to_start(log, message).await,
        Some(Ok(checker)) => Some(checker),
        None => None,
    };
    let work = inner.workdirs.path(job.workflow_instance, job.key);
    if let Err(e) = inner.workdirs.acquire(&work) {
        let message = format!(
            "could not create the work directory {}: {e}",
            work.display()
        );
        return failed_to_start(log, message).await;
    }
    let mut supervisor = Supervisor {
        inner,
        job,
        plan,
        checker: client,
        env: process_env(job, inner),
        work: work.clone(),
        stop,
        restarts: 0,
    };
    let finished = supervisor.supervise(log).await;
    inner.workdirs.release(work);
    finished
}

struct Supervisor<'a> {
    inner: &'a Inner,
    job: &'a Job,
    plan: &'a ServicePlan,
    checker: Option<Checker>,
    env: Vec<(OsString, OsString)>,
    /// The attempt's work directory, where the process and its checks run.
    work: std::path::PathBuf,
    stop: watch::Receiver<Option<Stop>>,
    /// Restarts in this attempt so far.
    restarts: u32,
}

impl Supervisor<'_> {
    /// Starts the process and starts it again until the attempt ends.
    async fn supervise(&mut self, log: LazyLog) -> Finished {
        let started_at_us = now_us();
        let mut log = CappedLog::new(log, self.inner.config.log_max_bytes);
        // Restarts since the process last stayed up long enough to reset the backoff.
        let mut streak = 0u32;
        let mut why_restarted = String::new();
        loop {
            let (proc, output) = match self.spawn() {
                Ok(p) => p,
                Err(e) if self.restarts == 0 && why_restarted.is_empty() => {
                    let message = format!("could not start `{}`: {e}", self.plan.process.program);
                    return failed_to_start(log.into_inner(), message).await;
                }
                Err(e) => {
                    why_restarted = format!("could not start: {e}");
                    streak += 1;
                    if let Err(stopped) = self.back_off(&mut log, &why_restarted, streak).await {
                        return self.end(log, started_at_us, stopped, None).await;
                    }
                    continue;
                }
            };
            self.announce(proc.pid(), started_at_us, &why_restarted);
            let up_since = Instant::now();
            let (end, status, back) = self.follow(proc, output, log).await;
            log = back;
            if up_since.elapsed() >= BACKOFF_RESET_AFTER {
                streak = 0;
            }
            let (outcome, message) = match outcome_of(&end) {
                Ok(ended) => ended,
                Err(stopped) => return self.end(log, started_at_us, stopped, status).await,
            };
            let success = outcome == Outcome::Succeeded;
            why_restarted = match success {
                true => "exited with code 0".to_string(),
                false => message.clone(),
            };
            if !self.plan.restart.restarts(success) {
                let line = format!(
                    "\n[baton] the service {why_restarted}; not restarted (restart: {})\n",
                    self.plan.restart.as_str()
                );
                log.write(line.as_bytes()).await;
                return self
                    .finished(log, started_at_us, outcome, message, status)
                    .await;
            }
            streak += 1;
            if let Err(stopped) = self.back_off(&mut log, &why_restarted, streak).await {
                return self.end(log, started_at_us, stopped, status).await;
            }
        }
    }

    fn spawn(&self) -> std::io::Result<(TaskProcess, tokio::net::unix::pipe::Receiver)> {
        process::spawn(
            &self.plan.process,
            &self.work,
            self.env.clone(),
            self.inner.watchdog.clone(),
        )
    }

    /// Tells the master that the process started: Started the first time, Restarted after.
    fn announce(&mut self, pid: i32, started_at_us: i64, why: &str) {
        if why.is_empty() {
            let started = baton_proto::Started {
                at_us: started_at_us,
                pid,
            };
            self.inner.started(self.job.key, started);
        } else {
            self.restarts += 1;
            let restarted = Restarted {
                at_us: now_us(),
                pid,
                reason: why.to_string(),
                restarts: self.restarts,
            };
            self.inner.restarted(self.job.key, restarted);
        }
        if self.checker.is_none() {
            self.inner.healthy(
                self.job.key,
                Healthy {
                    at_us: now_us(),
                    pid,
                },
            );
        }
    }

    /// Follows one run of the process until it exits, fails its health checks, or the
    /// attempt is stopped; the process group is gone when this returns, and the log is back.
    async fn follow(
        &mut self,
        mut proc: TaskProcess,
        output: tokio::net::unix::pipe::Receiver,
        log: CappedLog,
    ) -> (RunEnd, Option<std::process::ExitStatus>, CappedLog) {
        let (give_up, give_up_rx) = oneshot::channel();
        let mut copier = tokio::spawn(logfile::copy_output(
            output,
            log,
            give_up_rx,
            Scanner::new(),
        ));
        let pid = proc.pid();
        let end = {
            let mut stop = self.stop.clone();
            let checks = watch_health(self, pid);
            tokio::select! {
                _ = proc.exited() => None,
                (n, last) = checks => Some(RunEnd::Unhealthy(n, last)),
                why = wait_stop(&mut stop) => Some(RunEnd::Stopped(why)),
                never = renew_lease(self.inner, pid) => match never {},
            }
        };
        if let Some(end) = &end {
            self.stop_run(&mut proc, end).await;
        }
        let status = proc.finish().await;
        let copied = tokio::select! {
            r = &mut copier => r,
            _ = tokio::time::sleep(DRAIN_LIMIT) => {
                let _ = give_up.send(());
                copier.await
            }
        };
        let log = self.log_back(copied);
        let end = match (end, &status) {
            (Some(end), _) => end,
            (None, Ok(status)) => RunEnd::Exited(*status),
            (None, Err(e)) => RunEnd::Broken(format!("lost track of the process: {e}")),
        };
        (end, status.ok(), log)
    }

    /// Stops a run that did not end by itself: SIGKILL for a session loss (another worker
    /// may run the service already), else SIGTERM, the kill grace, SIGKILL. A shutdown of
    /// the worker cuts short the grace of a kill or a restart; a service stopped by the
    /// shutdown itself gets its grace (the master did not wait for it: it never ends by
    /// itself), cut short only by a session loss.
    async fn stop_run(&self, proc: &mut TaskProcess, end: &RunEnd) {
        if let RunEnd::Stopped(Stop::SessionLost) = end {
            return proc.signal_group(Signal::SIGKILL);
        }
        let by_shutdown = matches!(end, RunEnd::Stopped(Stop::Shutdown));
        let mut urgent = self.stop.clone();
        let urgent = async move {
            let _ = urgent
                .wait_for(|s| match s {
                    Some(Stop::SessionLost) => true,
                    Some(Stop::Shutdown) => !by_shutdown,
                    Some(Stop::Kill) | None => false,
                })
                .await;
        };
        proc.terminate(self.inner.config.kill_grace, urgent).await
    }

    /// The log back from a run's copier.
    fn log_back(&self, copied: Result<logfile::Copied, tokio::task::JoinError>) -> CappedLog {
        match copied {
            Ok(copied) => copied.log,
            Err(e) => {
                // Never seen: the copier does not panic. The log starts again rather than
                // the attempt going on without one.
                tracing::error!(error = %e, "the log copier of a service failed");
                let path = logfile::log_path(
                    &self.inner.config.data_dir,
                    self.job.workflow_instance,
                    self.job.key,
                );
                CappedLog::new(LazyLog::new(path), self.inner.config.log_max_bytes)
            }
        }
    }

    /// Writes the restart to the log and waits the backoff; `Err` when a stop came meanwhile.
    async fn back_off(&mut self, log: &mut CappedLog, why: &str, streak: u32) -> Result<(), Stop> {
        let wait = self.plan.backoff.wait(streak);
        let line = format!(
            "\n[baton] the service {why}; restarting in {} (restart {})\n",
            baton_core::duration::format(wait),
            self.restarts + 1
        );
        log.write(line.as_bytes()).await;
        tokio::select! {
            _ = tokio::time::sleep(wait) => Ok(()),
            why = wait_stop(&mut self.stop) => Err(why),
        }
    }

    /// The end of an attempt stopped while no process ran (waiting to restart).
    async fn end(
        &self,
        mut log: CappedLog,
        started_at_us: i64,
        stopped: Stop,
        status: Option<std::process::ExitStatus>,
    ) -> Finished {
        let (outcome, message) = Interrupted::Stopped(stopped).outcome();
        log.write(format!("\n[baton] {message}\n").as_bytes()).await;
        self.finished(log, started_at_us, outcome, message, status)
            .await
    }

    async fn finished(
        &self,
        log: CappedLog,
        started_at_us: i64,
        outcome: Outcome,
        message: String,
        status: Option<std::process::ExitStatus>,
    ) -> Finished {
        log.into_inner().close().await;
        Finished {
            started_at_us,
            ended_at_us: now_us(),
            outcome: outcome as i32,
            exit_code: status.and_then(|s| s.code()),
            message,
            outputs: Default::default(),
            subtasks: Vec::new(),
        }
    }
}

/// The outcome and message of a run that ended by itself (or by its health checks); `Err`
/// with the stop when the attempt was asked to stop.
fn outcome_of(end: &RunEnd) -> Result<(Outcome, String), Stop> {
    match end {
        RunEnd::Stopped(stop) => Err(*stop),
        RunEnd::Exited(status) => {
            let (outcome, _, message) = exit_outcome(*status);
            Ok((outcome, message))
        }
        RunEnd::Unhealthy(n, last) => Ok((
            Outcome::Failed,
            format!("{n} health checks failed in a row (the last: {last})"),
        )),
        RunEnd::Broken(message) => Ok((Outcome::Failed, message.clone())),
    }
}

/// Keeps the watchdog's lease on the run's process group (see
/// [`crate::WorkerConfig::service_lease`]), renewed three times a lease; never returns.
async fn renew_lease(inner: &Inner, pgid: i32) -> std::convert::Infallible {
    if let (Some(watchdog), Some(lease)) = (&inner.watchdog, inner.config.service_lease) {
        loop {
            watchdog.lease(pgid, lease);
            tokio::time::sleep(lease / 3).await;
        }
    }
    std::future::pending().await
}

/// Waits until the attempt is asked to stop.
async fn wait_stop(stop: &mut watch::Receiver<Option<Stop>>) -> Stop {
    match stop.wait_for(Option::is_some).await.map(|why| *why) {
        Ok(Some(why)) => why,
        // The sender lives in the attempt table until this attempt ends.
        Ok(None) | Err(_) => std::future::pending().await,
    }
}

/// Checks a run's health every interval: reports Healthy at its first pass, and returns
/// once `failures` checks failed in a row (outside the start period), with the last reason.
/// Never returns without a check.
async fn watch_health(supervisor: &Supervisor<'_>, pid: i32) -> (u32, String) {
    let (inner, job) = (supervisor.inner, supervisor.job);
    let Some(checker) = &supervisor.checker else {
        return std::future::pending().await;
    };
    let health = &checker.health;
    let started = Instant::now();
    let mut reported = false;
    let mut failed = 0u32;
    let mut ticks = tokio::time::interval(health.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match checker.check(&supervisor.env, &supervisor.work).await {
            Ok(()) => {
                failed = 0;
                if !reported {
                    reported = true;
                    inner.healthy(
                        job.key,
                        Healthy {
                            at_us: now_us(),
                            pid,
                        },
                    );
                }
            }
            Err(why) if started.elapsed() >= health.start_period => {
                failed += 1;
                if failed >= health.failures {
                    return (failed, why);
                }
            }
            Err(_) => {}
        }
    }
}

/// Runs one health check.
struct Checker {
    health: Health,
    /// For `http` checks: the client and the URL.
    http: Option<(reqwest::Client, reqwest::Url)>,
    /// For `command` checks: what runs.
    command: Option<ProcessSpec>,
}

/// The checker of a health check; `Err` (for the attempt's log) when its URL is not this
/// host's.
fn checker(health: &Health, service: &ProcessSpec) -> Result<Checker, String> {
    let (http, command) = match &health.probe {
        Probe::Http(url) => (Some(http_client(url, health.timeout)?), None),
        Probe::Command(cmd) => (
            None,
            Some(bash_c(&service.program, cmd, ".baton-health.sh")),
        ),
    };
    Ok(Checker {
        health: health.clone(),
        http,
        command,
    })
}

/// A client that reaches `url` on loopback only, without redirects or proxies.
fn http_client(url: &str, timeout: Duration) -> Result<(reqwest::Client, reqwest::Url), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("health check URL `{url}`: {e}"))?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    if !baton_core::spec::kinds::service::is_loopback(&host) {
        return Err(format!(
            "health check URL `{url}`: `{host}` is not this host (a service is checked at 127.0.0.1, [::1] or localhost)"
        ));
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        // `localhost` is the loopback address, whatever a resolver says.
        .resolve("localhost", SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .user_agent(concat!("baton-health/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("could not build the health check's client: {e}"))?;
    Ok((client, parsed))
}

impl Checker {
    /// One check: `Err` says why it failed.
    async fn check(&self, env: &[(OsString, OsString)], work: &Path) -> Result<(), String> {
        if let Some((client, url)) = &self.http {
            return match client.get(url.clone()).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("{url} answered {}", r.status())),
                Err(e) if e.is_timeout() => Err(format!(
                    "{url} did not answer within {}",
                    baton_core::duration::format(self.health.timeout)
                )),
                Err(e) => Err(format!("{url}: {}", error_chain(&e))),
            };
        }
        match &self.command {
            Some(spec) => self.run_command(spec, env, work).await,
            None => Ok(()),
        }
    }

    /// Runs the check command in its own group, silenced, within the timeout.
    async fn run_command(
        &self,
        spec: &ProcessSpec,
        env: &[(OsString, OsString)],
        work: &Path,
    ) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new(&spec.program);
        cmd.arg(spec.text.inline_flag)
            .arg(&spec.text.text)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(work)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not run the check: {e}"))?;
        match tokio::time::timeout(self.health.timeout, child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("the check {}", exit_outcome(status).2)),
            Ok(Err(e)) => Err(format!("lost track of the check: {e}")),
            Err(_) => {
                if let Some(pid) = child.id() {
                    let group = nix::unistd::Pid::from_raw(pid as i32);
                    let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
                }
                Err(format!(
                    "the check did not end within {}",
                    baton_core::duration::format(self.health.timeout)
                ))
            }
        }
    }
}

/// An error with its sources, for the log ("connection refused" is a source's words).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use baton_proto::dispatch_request::Kind;
    use baton_proto::{task_event, HealthCheck, Outcome, ServiceRestart, ServiceTask, TaskEvent};

    use crate::testkit::*;

    fn service(command: &str, restart: ServiceRestart, health: Option<HealthCheck>) -> Kind {
        Kind::Service(ServiceTask {
            command: command.into(),
            restart: restart as i32,
            backoff_min_ms: 100,
            backoff_max_ms: 400,
            health,
        })
    }

    fn check(probe: baton_proto::health_check::Probe, failures: u32) -> Option<HealthCheck> {
        Some(HealthCheck {
            probe: Some(probe),
            interval_ms: 100,
            failures,
            timeout_ms: 100,
            start_period_ms: 0,
        })
    }

    /// Waits until `n` events of task instance 1 match `pick`, and returns them.
    async fn events<T>(
        master: &mut TestMaster,
        n: usize,
        pick: impl Fn(&task_event::Event) -> Option<T>,
    ) -> Vec<T> {
        let of = |e: &TaskEvent| e.event.as_ref().and_then(&pick);
        loop {
            let found: Vec<T> = master.seen.iter().filter_map(of).collect();
            if found.len() >= n {
                return found;
            }
            master.next().await;
        }
    }

    fn restarted(e: &task_event::Event) -> Option<baton_proto::Restarted> {
        match e {
            task_event::Event::Restarted(r) => Some(r.clone()),
            _ => None,
        }
    }

    fn healthy(e: &task_event::Event) -> Option<baton_proto::Healthy> {
        match e {
            task_event::Event::Healthy(h) => Some(*h),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_crashing_service_is_restarted_with_a_growing_backoff_until_killed() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let kind = service("echo up $$; exit 1", ServiceRestart::Always, None);
        let t0 = Instant::now();
        worker.dispatch(request(1, kind, &master.addr)).unwrap();
        let first = master.started(1).await;
        let restarts = events(&mut master, 3, restarted).await;
        let elapsed = t0.elapsed();
        // 100ms, 200ms, then 400ms (the max) between the runs.
        assert!(elapsed >= Duration::from_millis(700), "{elapsed:?}");
        let numbers: Vec<u32> = restarts.iter().map(|r| r.restarts).collect();
        assert_eq!(numbers, [1, 2, 3]);
        assert!(restarts.iter().all(|r| r.reason == "exited with code 1"));
        assert!(restarts.iter().all(|r| r.pid != first.pid));
        // Without a health check, each run is healthy once started.
        events(&mut master, 4, healthy).await;
        assert!(worker.kill(attempt_id(1)));
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Killed as i32);
        assert_eq!(finished.started_at_us, first.at_us);
        let log = log_of(&worker, 1).await;
        assert!(log.starts_with(&format!("up {}\n", first.pid)), "{log}");
        for line in [
            "[baton] the service exited with code 1; restarting in 100ms (restart 1)",
            "[baton] the service exited with code 1; restarting in 200ms (restart 2)",
            "[baton] the service exited with code 1; restarting in 400ms (restart 3)",
        ] {
            assert!(log.contains(line), "{line} not in {log}");
        }
        assert!(log.ends_with("[baton] killed on request\n"), "{log}");
        assert_eq!(worker.running(), 0);
    }

    #[tokio::test]
    async fn an_exit_the_policy_does_not_restart_ends_the_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let never = service("exit 3", ServiceRestart::Never, None);
        worker.dispatch(request(1, never, &master.addr)).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert_eq!(finished.exit_code, Some(3));
        assert_eq!(finished.message, "exited with code 3");
        assert!(log_of(&worker, 1)
            .await
            .contains("[baton] the service exited with code 3; not restarted (restart: never)"));

        let on_failure = service(
            "if [ -e \"$MARK\" ]; then exit 0; fi; touch \"$MARK\"; exit 1",
            ServiceRestart::OnFailure,
            None,
        );
        let mut req = request(2, on_failure, &master.addr);
        req.env
            .insert("MARK".into(), dir.path().join("mark").display().to_string());
        worker.dispatch(req).unwrap();
        let finished = master.finished(2).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32, "{finished:?}");
        let restarts: Vec<_> = master
            .seen
            .iter()
            .filter(|e| e.id.unwrap().task_instance_id == 2)
            .filter_map(|e| e.event.as_ref().and_then(restarted))
            .collect();
        assert_eq!(
            restarts.len(),
            1,
            "one restart after the failure, none after exit 0"
        );
    }

    #[tokio::test]
    async fn failed_health_checks_restart_a_service_that_still_runs() {
        use baton_proto::health_check::Probe;
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let pids = dir.path().join("pids");
        let kind = service(
            "echo $$ >> \"$PIDS\"; exec sleep 1000",
            ServiceRestart::Always,
            check(Probe::Command("exit 1".into()), 2),
        );
        let mut req = request(1, kind, &master.addr);
        req.env.insert("PIDS".into(), pids.display().to_string());
        worker.dispatch(req).unwrap();
        let first = master.started(1).await;
        let restarts = events(&mut master, 1, restarted).await;
        assert!(
            restarts[0].reason.starts_with(
                "2 health checks failed in a row (the last: the check exited with code 1)"
            ),
            "{:?}",
            restarts[0]
        );
        until("the unhealthy process to be gone", || {
            process_gone(first.pid)
        })
        .await;
        assert!(
            !master
                .seen
                .iter()
                .any(|e| e.event.as_ref().and_then(healthy).is_some()),
            "never healthy"
        );
        worker.kill(attempt_id(1));
        master.finished(1).await;
        let log = log_of(&worker, 1).await;
        assert!(log.contains("2 health checks failed in a row"), "{log}");
    }

    #[tokio::test]
    async fn an_http_check_reports_healthy_once_the_server_answers_and_a_kill_stops_it() {
        use baton_proto::health_check::Probe;
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let port = free_addr().port();
        let kind = service(
            &format!("sleep 0.3; exec python3 -m http.server {port} --bind 127.0.0.1"),
            ServiceRestart::Always,
            check(Probe::Http(format!("http://127.0.0.1:{port}/")), 50),
        );
        worker.dispatch(request(1, kind, &master.addr)).unwrap();
        let started = master.started(1).await;
        let up = events(&mut master, 1, healthy).await;
        assert_eq!(up[0].pid, started.pid);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(worker.kill(attempt_id(1)));
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Killed as i32);
        assert!(process_gone(started.pid));
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[tokio::test]
    async fn a_health_url_of_another_host_fails_the_attempt_before_it_starts() {
        use baton_proto::health_check::Probe;
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let kind = service(
            "sleep 1000",
            ServiceRestart::Always,
            check(Probe::Http("http://169.254.169.254/latest".into()), 1),
        );
        worker.dispatch(request(1, kind, &master.addr)).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert!(
            finished.message.contains("is not this host"),
            "{}",
            finished.message
        );
    }
}
