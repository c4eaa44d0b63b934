//! One attempt from acceptance to its Finished event: log and work directory, the process or
//! the in-process run, timeout and kill, and the outcome with its output params.
//!
//! Output params (`${setValue(key=value)}` lines, see [`crate::outputs`]) are scanned in all of
//! a process's output, stdout and stderr alike; an in-process task returns its own. Either way
//! they are reported only when the attempt succeeded: a failed, killed or timed out attempt (or
//! one that could not start) reports none, so downstream tasks never see values from a run that
//! did not complete.

use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use baton_proto::{now_us, Finished, Outcome, Started, TimedOut, TimeoutStrategy};
use nix::sys::signal::Signal;
use tokio::sync::{oneshot, watch};

use crate::executors::{InProcess, InProcessEnd, Plan};
use crate::logfile::{self, CappedLog, Copied, LazyLog};
use crate::outputs::{self, Scanner};
use crate::process::{self, ProcessSpec};
use crate::worker::{Inner, Stop};
use baton_core::{AttemptKey, WorkflowInstanceId};

/// How long output may keep flowing after the task's process group was killed (only a process
/// that left the group, e.g. with `setsid`, can still hold the pipe) before the worker stops
/// reading and ends the attempt anyway.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Longest wait for an in-process task's work after a kill or a timeout dropped it (asking a
/// database to cancel a statement) before the attempt reports its end anyway.
const AFTER_DROP_LIMIT: Duration = Duration::from_secs(15);

/// Everything an attempt needs besides its plan, taken from its dispatch.
pub(crate) struct Job {
    pub key: AttemptKey,
    /// The task type, for the metrics.
    pub kind: &'static str,
    pub workflow_instance: WorkflowInstanceId,
    pub workflow_name: String,
    pub task_name: String,
    pub env: HashMap<String, String>,
    pub timeout: Option<Duration>,
    /// What reaching `timeout` does.
    pub timeout_strategy: TimeoutStrategy,
    /// The split step of a map-reduce task: its sub-tasks are collected and reported.
    pub collect_subtasks: bool,
}

/// Runs the attempt and reports its end; the slot is freed when Finished is queued.
pub(crate) async fn run(
    inner: Arc<Inner>,
    job: Job,
    plan: Plan,
    stop: watch::Receiver<Option<Stop>>,
) {
    let log = LazyLog::new(logfile::log_path(
        &inner.config.data_dir,
        job.workflow_instance,
        job.key,
    ))
    .counting(inner.metrics.log_bytes());
    let finished = match plan {
        Plan::Process(spec) => in_work_dir(&inner, &job, &spec, log, stop).await,
        Plan::InProcess(executor) => run_in_process(&inner, &job, executor, log, stop).await,
        Plan::Service(service) => crate::supervisor::run(&inner, &job, &service, log, stop).await,
    };
    tracing::debug!(
        task_instance = %job.key.task_instance,
        attempt = %job.key.attempt,
        outcome = ?Outcome::try_from(finished.outcome).unwrap_or_default(),
        "attempt ended"
    );
    let outcome = Outcome::try_from(finished.outcome).unwrap_or_default();
    inner.metrics.attempt_ended(job.kind, outcome);
    // Marked for the archive before its end is reported: a crash after the report still
    // finds the marker.
    if let Some(archiver) = &inner.archiver {
        archiver.ended(job.workflow_instance, job.key);
    }
    inner.finish(job.key, finished);
}

/// Runs a process in the attempt's own work directory, removed when it ends.
async fn in_work_dir(
    inner: &Inner,
    job: &Job,
    spec: &ProcessSpec,
    log: LazyLog,
    stop: watch::Receiver<Option<Stop>>,
) -> Finished {
    let work = inner.workdirs.path(job.workflow_instance, job.key);
    if let Err(e) = inner.workdirs.acquire(&work) {
        let message = format!(
            "could not create the work directory {}: {e}",
            work.display()
        );
        return failed_to_start(log, message).await;
    }
    let finished = run_process(inner, job, spec, log, &work, stop).await;
    inner.workdirs.release(work);
    finished
}

/// What cut an attempt short.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Interrupted {
    /// It reached its timeout (strategy fail or both).
    TimedOut(Duration),
    /// It was asked to stop.
    Stopped(Stop),
}

impl Interrupted {
    /// The outcome and message it ends the attempt with.
    pub(crate) fn outcome(self) -> (Outcome, String) {
        match self {
            Interrupted::TimedOut(t) => (
                Outcome::TimedOut,
                format!("timed out after {}", baton_core::duration::format(t)),
            ),
            Interrupted::Stopped(Stop::Kill) => (Outcome::Killed, "killed on request".into()),
            Interrupted::Stopped(Stop::Shutdown) => (
                Outcome::Killed,
                "killed: the worker is shutting down".into(),
            ),
            Interrupted::Stopped(Stop::SessionLost) => (
                Outcome::Killed,
                "killed: the worker lost its session; the attempt runs elsewhere".into(),
            ),
        }
    }
}

/// What can interrupt a running attempt: its timeout and a stop request.
struct Interrupts {
    /// Armed until it goes off; with the `warn` strategy the attempt then runs on unbounded.
    timeout: Option<(tokio::time::Instant, Duration)>,
    stop: watch::Receiver<Option<Stop>>,
}

impl Interrupts {
    fn new(job: &Job, stop: watch::Receiver<Option<Stop>>) -> Self {
        Interrupts {
            timeout: job.timeout.map(|t| (tokio::time::Instant::now() + t, t)),
            stop,
        }
    }

    /// Waits for the next interruption. A timeout under `warn` (or `both`) reports a TimedOut
    /// event; under `warn` the attempt goes on, and this returns `None`.
    async fn next(&mut self, inner: &Inner, job: &Job) -> Option<Interrupted> {
        let timer = async {
            match self.timeout {
                Some((at, t)) => {
                    tokio::time::sleep_until(at).await;
                    t
                }
                None => std::future::pending().await,
            }
        };
        let stopped = async {
            match self.stop.wait_for(Option::is_some).await.map(|why| *why) {
                Ok(why) => why.expect("checked by wait_for"),
                // The sender lives in the attempt table until this attempt ends.
                Err(_) => std::future::pending().await,
            }
        };
        let reached = tokio::select! {
            t = timer => t,
            why = stopped => return Some(Interrupted::Stopped(why)),
        };
        self.timeout = None;
        let strategy = job.timeout_strategy;
        if strategy != TimeoutStrategy::Fail {
            inner.timed_out(job.key, timed_out_event(reached, strategy));
        }
        (strategy != TimeoutStrategy::Warn).then_some(Interrupted::TimedOut(reached))
    }

    /// Waits until a shutdown or session loss cuts a kill's grace short.
    async fn urgent(&mut self) {
        let _ = self
            .stop
            .wait_for(|s| matches!(s, Some(Stop::Shutdown | Stop::SessionLost)))
            .await;
    }
}

/// Runs an in-process task. One that completes without waiting (a noop) reports only its end;
/// one that waits reports Started first. A kill or a timeout drops the run at once.
async fn run_in_process(
    inner: &Inner,
    job: &Job,
    executor: Box<dyn InProcess>,
    log: LazyLog,
    stop: watch::Receiver<Option<Stop>>,
) -> Finished {
    let started_at_us = now_us();
    let mut log = CappedLog::new(log, inner.config.log_max_bytes);
    let mut interrupts = Interrupts::new(job, stop);
    let after_drop = executor.after_drop();
    let ended = {
        let mut run = executor.run(&mut log);
        match poll_once(&mut run).await {
            Some(end) => Ok(end),
            None => {
                let started = Started {
                    at_us: started_at_us,
                    pid: 0,
                };
                inner.started(job.key, started);
                loop {
                    tokio::select! {
                        end = &mut run => break Ok(end),
                        i = interrupts.next(inner, job) => if let Some(i) = i { break Err(i) },
                    }
                }
            }
        }
    };
    if let (Err(_), Some(after_drop)) = (&ended, after_drop) {
        let line = match tokio::time::timeout(AFTER_DROP_LIMIT, after_drop()).await {
            Ok(line) => line,
            Err(_) => Some(format!(
                "the work left after the stop did not end within {} s",
                AFTER_DROP_LIMIT.as_secs()
            )),
        };
        if let Some(line) = line {
            log.write(format!("[baton] {line}\n").as_bytes()).await;
        }
    }
    let (outcome, message, outputs) = match ended {
        Ok(InProcessEnd::Succeeded(outputs)) => {
            match baton_core::params::limits::check_outputs(&outputs) {
                Ok(()) => (Outcome::Succeeded, String::new(), outputs),
                Err(e) => (Outcome::Failed, e.to_string(), HashMap::new()),
            }
        }
        Ok(InProcessEnd::Failed(message)) => (Outcome::Failed, message, HashMap::new()),
        Err(interrupted) => {
            let (outcome, message) = interrupted.outcome();
            (outcome, message, HashMap::new())
        }
    };
    let mut log = log.into_inner();
    if outcome != Outcome::Succeeded {
        log.write(format!("\n[baton] {message}\n").as_bytes()).await;
    }
    log.close().await;
    Finished {
        started_at_us,
        ended_at_us: now_us(),
        outcome: outcome as i32,
        exit_code: None,
        message,
        outputs,
        subtasks: Vec::new(),
    }
}

/// Polls `run` once: its output if it is ready without waiting.
async fn poll_once<F: Future + Unpin>(run: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match Pin::new(&mut *run).poll(cx) {
        Poll::Ready(end) => Poll::Ready(Some(end)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

async fn run_process(
    inner: &Inner,
    job: &Job,
    spec: &ProcessSpec,
    log: LazyLog,
    work: &Path,
    stop: watch::Receiver<Option<Stop>>,
) -> Finished {
    let config = &inner.config;
    let started_at_us = now_us();
    let (mut proc, output) =
        match process::spawn(spec, work, process_env(job, inner), inner.watchdog.clone()) {
            Ok(p) => p,
            Err(e) => {
                let message = format!("could not start `{}`: {e}", spec.program);
                return failed_to_start(log, message).await;
            }
        };
    inner.started(
        job.key,
        Started {
            at_us: started_at_us,
            pid: proc.pid(),
        },
    );

    let (give_up, give_up_rx) = oneshot::channel();
    let mut copier = tokio::spawn(logfile::copy_output(
        output,
        CappedLog::new(log, config.log_max_bytes),
        give_up_rx,
        match job.collect_subtasks {
            true => Scanner::collecting_subtasks(),
            false => Scanner::new(),
        },
    ));

    let mut interrupts = Interrupts::new(job, stop);
    let interrupted = loop {
        tokio::select! {
            _ = proc.exited() => break None,
            i = interrupts.next(inner, job) => if let Some(i) = i { break Some(i) },
        }
    };
    match interrupted {
        None => {}
        Some(Interrupted::TimedOut(_) | Interrupted::Stopped(Stop::Kill)) => {
            proc.terminate(config.kill_grace, interrupts.urgent()).await
        }
        Some(Interrupted::Stopped(Stop::Shutdown | Stop::SessionLost)) => {
            proc.signal_group(Signal::SIGKILL)
        }
    }
    let status = proc.finish().await;

    // The group is gone, so the pipe closes as soon as the kernel has delivered what was in it.
    let copied = tokio::select! {
        r = &mut copier => r,
        _ = tokio::time::sleep(DRAIN_LIMIT) => {
            let _ = give_up.send(());
            copier.await
        }
    };

    let (outcome, exit_code, message) = match (interrupted, &status) {
        (Some(i), _) => {
            let (outcome, message) = i.outcome();
            (outcome, None, message)
        }
        (None, Err(e)) => (
            Outcome::Failed,
            None,
            format!("lost track of the process: {e}"),
        ),
        (None, Ok(status)) => exit_outcome(*status),
    };
    let exit_code = exit_code.or_else(|| status.as_ref().ok().and_then(|s| s.code()));

    let split = job.collect_subtasks.then_some(work);
    let (outcome, message, outputs, subtasks) = close_output(copied, outcome, message, split).await;
    Finished {
        started_at_us,
        ended_at_us: now_us(),
        outcome: outcome as i32,
        exit_code,
        message,
        outputs,
        subtasks,
    }
}

/// What a process's output makes of its attempt: its outcome and message, its output params
/// and (a split step) its sub-tasks.
type Closed = (
    Outcome,
    String,
    HashMap<String, String>,
    Vec<baton_proto::Subtask>,
);

/// Ends the log of a process's attempt, and decides what its output makes of its outcome:
/// output params over a limit fail a run that succeeded (the log and the message say which
/// limit); only a success passes its output params on. `split`: the attempt is a split step
/// running in that task directory, whose sub-tasks a success passes on (a sub-task that
/// cannot be taken fails it, saying why).
async fn close_output(
    copied: Result<Copied, tokio::task::JoinError>,
    mut outcome: Outcome,
    mut message: String,
    split: Option<&Path>,
) -> Closed {
    let Copied {
        log,
        abandoned,
        mut scanned,
    } = match copied {
        Ok(copied) => copied,
        Err(e) => {
            tracing::error!(error = %e, "the log copier failed");
            return (outcome, message, HashMap::new(), Vec::new());
        }
    };
    let mut log = log.into_inner();
    if abandoned {
        log.write(b"\n[baton] output still open after the task's process group was killed (did a process leave the group?); stopped reading\n").await;
    }
    if let Some(exceeded) = &scanned.exceeded {
        log.write(outputs::limit_line(exceeded).as_bytes()).await;
        if outcome == Outcome::Succeeded {
            (outcome, message) = (Outcome::Failed, exceeded.to_string());
        }
    }
    let mut subtasks = Vec::new();
    if let (Some(dir), Outcome::Succeeded) = (split, outcome) {
        match outputs::subtasks_of(&mut scanned, dir) {
            Ok(list) => subtasks = list.into_iter().map(wire_subtask).collect(),
            Err(e) => {
                log.write(outputs::subtask_line(&e).as_bytes()).await;
                (outcome, message) = (Outcome::Failed, e.to_string());
            }
        }
    }
    if outcome == Outcome::TimedOut || outcome == Outcome::Killed {
        log.write(format!("\n[baton] {message}\n").as_bytes()).await;
    }
    log.close().await;
    let outputs = match outcome {
        Outcome::Succeeded => scanned.outputs,
        Outcome::Failed | Outcome::TimedOut | Outcome::Killed | Outcome::Unspecified => {
            HashMap::new()
        }
    };
    (outcome, message, outputs, subtasks)
}

fn wire_subtask(s: baton_core::params::Subtask) -> baton_proto::Subtask {
    baton_proto::Subtask {
        name: s.name,
        args: s.args,
    }
}

/// The TimedOut event of an attempt that reached its timeout `t` (strategy warn or both).
fn timed_out_event(t: Duration, strategy: TimeoutStrategy) -> TimedOut {
    let after = baton_core::duration::format(t);
    let message = if strategy == TimeoutStrategy::Warn {
        format!("timed out after {after}; the task goes on (timeout_strategy: warn)")
    } else {
        format!("timed out after {after}; the task is killed (timeout_strategy: both)")
    };
    TimedOut {
        at_us: now_us(),
        timeout_ms: baton_core::duration::millis(t),
        message,
    }
}

/// Outcome, exit code and message of a process that ended by itself.
pub(crate) fn exit_outcome(status: std::process::ExitStatus) -> (Outcome, Option<i32>, String) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => (Outcome::Succeeded, Some(0), String::new()),
        (Some(code), _) => (
            Outcome::Failed,
            Some(code),
            format!("exited with code {code}"),
        ),
        (None, Some(signal)) => (Outcome::Failed, None, format!("killed by signal {signal}")),
        (None, None) => (Outcome::Failed, None, format!("ended with {status}")),
    }
}

/// The end of an attempt that could not start; the reason goes to its log too.
pub(crate) async fn failed_to_start(mut log: LazyLog, message: String) -> Finished {
    tracing::warn!(%message, "attempt could not start");
    log.write(format!("[baton] {message}\n").as_bytes()).await;
    log.close().await;
    let at = now_us();
    Finished {
        started_at_us: at,
        ended_at_us: at,
        outcome: Outcome::Failed as i32,
        exit_code: None,
        message,
        outputs: HashMap::new(),
        subtasks: Vec::new(),
    }
}

/// The process environment: the allowlisted part of the worker's own, the dispatch's
/// variables, and the attempt's identity, which a dispatch cannot override. `BATON_WORKER`
/// marks the process as this worker's, so that a restarted worker can find what its previous
/// life left running.
pub(crate) fn process_env(job: &Job, inner: &Inner) -> Vec<(OsString, OsString)> {
    let mut vars = inner.base_env.clone();
    vars.extend(
        job.env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    let identity = [
        (
            "BATON_WORKFLOW_INSTANCE_ID",
            job.workflow_instance.to_string(),
        ),
        ("BATON_TASK_INSTANCE_ID", job.key.task_instance.to_string()),
        ("BATON_ATTEMPT", job.key.attempt.to_string()),
        ("BATON_TASK_NAME", job.task_name.clone()),
        ("BATON_WORKFLOW_NAME", job.workflow_name.clone()),
        (crate::orphans::MARKER, inner.config.id.clone()),
    ];
    if job.collect_subtasks {
        // The split step's task directory (its work directory), where it may write
        // `subtasks.jsonl`.
        let dir = inner.workdirs.path(job.workflow_instance, job.key);
        vars.push(("BATON_TASK_DIR".into(), dir.into_os_string()));
    }
    vars.extend(
        identity
            .into_iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    vars
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    use baton_proto::{DispatchRequest, Outcome, ReadLogRequest};

    use crate::testkit::*;

    #[tokio::test]
    async fn shell_output_goes_to_the_log_and_success_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                shell("echo out; echo err >&2; echo out2"),
                &master.addr,
            ))
            .unwrap();
        let started = master.started(1).await;
        assert!(started.pid > 0);
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        assert_eq!(finished.exit_code, Some(0));
        assert_eq!(finished.started_at_us, started.at_us);
        assert!(finished.ended_at_us >= finished.started_at_us);
        assert!(master.seen.iter().all(|e| e.worker == "test-worker"));
        assert_eq!(log_of(&worker, 1).await, "out\nerr\nout2\n");
        assert_eq!(worker.running(), 0);
        // The work directory is removed once the attempt ends.
        until("the work directory to be removed", || {
            !dir.path().join("work/7-1-1").exists()
        })
        .await;
    }

    #[tokio::test]
    async fn a_non_zero_exit_fails_with_its_code() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, shell("exit 3"), &master.addr))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert_eq!(finished.exit_code, Some(3));
        assert_eq!(finished.message, "exited with code 3");
    }

    #[tokio::test]
    async fn death_by_signal_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, shell("kill -SEGV $$"), &master.addr))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert_eq!(finished.exit_code, None);
        assert_eq!(finished.message, "killed by signal 11");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_task() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_with(dir.path(), |c| c.kill_grace = Duration::from_secs(20));
        let mut master = TestMaster::start().await;
        let mut req = request(
            1,
            shell("echo begun; echo '${setValue(a=1)}'; sleep 1000"),
            &master.addr,
        );
        req.timeout_ms = 300;
        let begun = Instant::now();
        worker.dispatch(req).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::TimedOut as i32);
        assert_eq!(finished.message, "timed out after 300ms");
        assert!(finished.outputs.is_empty(), "{:?}", finished.outputs);
        assert!(
            begun.elapsed() < Duration::from_secs(15),
            "SIGTERM should do"
        );
        let log = log_of(&worker, 1).await;
        assert!(log.starts_with("begun\n"), "{log}");
        assert!(log.contains("[baton] timed out after 300ms"), "{log}");
    }

    #[tokio::test]
    async fn a_warn_timeout_reports_the_event_and_the_task_runs_on() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let mut req = request(1, shell("sleep 0.6; echo done"), &master.addr);
        req.timeout_ms = 100;
        req.timeout_strategy = baton_proto::TimeoutStrategy::Warn as i32;
        worker.dispatch(req).unwrap();
        let timed_out = master.timed_out(1).await;
        assert_eq!(timed_out.timeout_ms, 100);
        assert_eq!(
            timed_out.message,
            "timed out after 100ms; the task goes on (timeout_strategy: warn)"
        );
        assert_eq!(worker.running(), 1, "still running after the timeout");
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        assert_eq!(finished.exit_code, Some(0));
        assert!(timed_out.at_us < finished.ended_at_us);
        assert_eq!(
            summary(&master.seen),
            vec![(1, "started"), (1, "timed_out"), (1, "finished")]
        );
        assert_eq!(log_of(&worker, 1).await, "done\n");
    }

    #[tokio::test]
    async fn a_both_timeout_reports_the_event_then_kills() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let mut req = request(1, shell("sleep 1000"), &master.addr);
        req.timeout_ms = 100;
        req.timeout_strategy = baton_proto::TimeoutStrategy::Both as i32;
        worker.dispatch(req).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::TimedOut as i32);
        assert_eq!(finished.message, "timed out after 100ms");
        assert_eq!(
            summary(&master.seen),
            vec![(1, "started"), (1, "timed_out"), (1, "finished")]
        );
        let timed_out = master.timed_out(1).await;
        assert!(timed_out.message.ends_with("(timeout_strategy: both)"));
    }

    #[tokio::test]
    async fn a_fail_timeout_reports_no_timed_out_event() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let mut req = request(1, shell("sleep 1000"), &master.addr);
        req.timeout_ms = 100;
        worker.dispatch(req).unwrap();
        master.finished(1).await;
        assert_eq!(summary(&master.seen), vec![(1, "started"), (1, "finished")]);
    }

    #[tokio::test]
    async fn a_task_ignoring_sigterm_gets_sigkill_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_with(dir.path(), |c| c.kill_grace = Duration::from_millis(200));
        let mut master = TestMaster::start().await;
        let mut req = request(1, shell("trap '' TERM; sleep 1000"), &master.addr);
        req.timeout_ms = 100;
        worker.dispatch(req).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::TimedOut as i32);
        assert_eq!(finished.message, "timed out after 100ms");
    }

    #[tokio::test]
    async fn kill_reaches_background_children() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let pidfile = dir.path().join("bg.pid");
        let mut req = request(
            1,
            shell("sleep 1000 & echo $! > \"$PIDFILE\"; sleep 1000"),
            &master.addr,
        );
        req.env
            .insert("PIDFILE".into(), pidfile.display().to_string());
        worker.dispatch(req).unwrap();
        let leader = master.started(1).await.pid;
        let background = read_pid(&pidfile).await;
        assert!(!process_gone(background));
        assert!(worker.kill(attempt_id(1)));
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Killed as i32);
        assert_eq!(finished.message, "killed on request");
        until("the background child to die", || process_gone(background)).await;
        assert!(process_gone(leader));
        assert!(!worker.kill(attempt_id(1)), "no longer running");
    }

    #[tokio::test]
    async fn leftover_background_processes_die_when_the_task_ends() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let pidfile = dir.path().join("bg.pid");
        let mut req = request(
            1,
            shell("sleep 1000 & echo $! > \"$PIDFILE\"; echo done"),
            &master.addr,
        );
        req.env
            .insert("PIDFILE".into(), pidfile.display().to_string());
        worker.dispatch(req).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        let background = read_pid(&pidfile).await;
        until("the straggler to die", || process_gone(background)).await;
        // The straggler held the pipe open; killing the group closed it (no drain timeout note).
        assert_eq!(log_of(&worker, 1).await, "done\n");
    }

    #[tokio::test]
    async fn output_held_open_outside_the_group_does_not_hang_the_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        // `setsid` takes the sleep out of the task's group (it ends by itself a little later);
        // the script waits until that has happened before it exits.
        let pidfile = dir.path().join("detached.pid");
        let mut req = request(
            1,
            shell(
                "setsid bash -c 'echo $$ > \"$PIDFILE\"; exec sleep 4' &
                 while [ ! -s \"$PIDFILE\" ]; do sleep 0.01; done; echo done",
            ),
            &master.addr,
        );
        req.env
            .insert("PIDFILE".into(), pidfile.display().to_string());
        worker.dispatch(req).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        let log = log_of(&worker, 1).await;
        assert!(log.starts_with("done\n"), "{log}");
        assert!(log.contains("output still open"), "{log}");
    }

    #[tokio::test]
    async fn the_log_cap_truncates_but_the_task_runs_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_with(dir.path(), |c| c.log_max_bytes = 1000);
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                shell("head -c 300000 /dev/zero | tr '\\0' x; echo; echo finished >&2"),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        let log = log_of(&worker, 1).await;
        let expected = format!(
            "{}{}",
            "x".repeat(1000),
            crate::logfile::truncation_marker(1000)
        );
        assert_eq!(log, expected);
        assert!(log.ends_with(
            "\n[baton] log truncated: reached the limit of 1000 bytes; further output discarded\n"
        ));
    }

    #[tokio::test]
    async fn python_tasks_run() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                python("import os, sys\nprint('py', sys.version_info[0])\nprint('to stderr', file=sys.stderr)\nprint(os.environ['BATON_TASK_NAME'])"),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(
            finished.outcome,
            Outcome::Succeeded as i32,
            "{}",
            finished.message
        );
        assert_eq!(log_of(&worker, 1).await, "py 3\nto stderr\ntask-1\n");
    }

    #[tokio::test]
    async fn a_missing_interpreter_fails_without_starting() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_with(dir.path(), |c| c.python = "/nonexistent/python".into());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(1, python("print(1)"), &master.addr))
            .unwrap();
        let event = master.next().await;
        let Some(baton_proto::task_event::Event::Finished(finished)) = event.event else {
            panic!("expected Finished without Started, got {event:?}");
        };
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert!(
            finished
                .message
                .starts_with("could not start `/nonexistent/python`"),
            "{}",
            finished.message
        );
        assert!(log_of(&worker, 1).await.contains("could not start"));
    }

    #[tokio::test]
    async fn tasks_see_their_identity_the_dispatch_env_and_the_workers_env() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let mut req = request(
            42,
            shell("echo $BATON_WORKFLOW_INSTANCE_ID $BATON_TASK_INSTANCE_ID $BATON_ATTEMPT $BATON_TASK_NAME $BATON_WORKFLOW_NAME $FOO ${PATH:+path-set}; pwd"),
            &master.addr,
        );
        req.env.insert("FOO".into(), "bar baz".into());
        // The attempt's identity cannot be overridden by the dispatch.
        req.env.insert("BATON_ATTEMPT".into(), "99".into());
        worker.dispatch(req).unwrap();
        let finished = master.finished(42).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        let log = log_of(&worker, 42).await;
        let mut lines = log.lines();
        assert_eq!(lines.next(), Some("7 42 1 task-42 wf bar baz path-set"));
        let cwd = std::path::PathBuf::from(lines.next().unwrap());
        assert_eq!(
            cwd.canonicalize().ok(),
            None,
            "the work directory is gone after the attempt"
        );
        assert!(cwd.ends_with("work/7-42-1"), "{}", cwd.display());
    }

    #[tokio::test]
    async fn tasks_inherit_only_the_allowlisted_part_of_the_workers_env() {
        // Cargo sets it for the test process; it is not on the allowlist.
        let name = "CARGO_MANIFEST_DIR";
        let value = std::env::var(name).expect("cargo sets it for tests");
        let script = format!("echo \"path=${{PATH:+set}} other=${{{name}:-unset}}\"");
        let dir = tempfile::tempdir().unwrap();
        let mut master = TestMaster::start().await;

        let plain = worker(dir.path().join("plain").as_path());
        plain
            .dispatch(request(1, shell(&script), &master.addr))
            .unwrap();
        master.finished(1).await;
        assert_eq!(log_of(&plain, 1).await, "path=set other=unset\n");

        let passing = worker_with(dir.path().join("passing").as_path(), |c| {
            c.pass_env = vec![name.to_string()]
        });
        passing
            .dispatch(request(2, shell(&script), &master.addr))
            .unwrap();
        master.finished(2).await;
        assert_eq!(
            log_of(&passing, 2).await,
            format!("path=set other={value}\n")
        );
    }

    #[tokio::test]
    async fn noop_succeeds_at_once_with_an_empty_log() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker.dispatch(request(1, noop(), &master.addr)).unwrap();
        let event = master.next().await;
        let Some(baton_proto::task_event::Event::Finished(finished)) = event.event else {
            panic!("a noop reports only Finished, got {event:?}");
        };
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        assert!(finished.ended_at_us >= finished.started_at_us);
        assert!(finished.outputs.is_empty());
        let reply = worker
            .read_log(ReadLogRequest {
                task_instance_id: 1,
                attempt: 1,
                offset: 0,
                limit: 100,
                from_end: false,
            })
            .await
            .unwrap();
        assert!(reply.found && reply.complete && reply.data.is_empty());
    }

    fn outputs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn set_value_lines_become_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                shell(r#"echo '${setValue(rows=42)}'; echo "x \${setValue(a=1)} \${setValue(b=two words)}""#),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        assert_eq!(
            finished.outputs,
            outputs(&[("rows", "42"), ("a", "1"), ("b", "two words")])
        );
        // The lines stay in the log.
        assert_eq!(
            log_of(&worker, 1).await,
            "${setValue(rows=42)}\nx ${setValue(a=1)} ${setValue(b=two words)}\n"
        );
    }

    #[tokio::test]
    async fn python_tasks_set_outputs_on_stdout_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                python("import sys\nn = 6 * 7\nprint(f'${{setValue(rows={n})}}')\nprint('${setValue(err=on stderr)}', file=sys.stderr)\nsys.stdout.write('${setValue(last=no newline)}')"),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(
            finished.outcome,
            Outcome::Succeeded as i32,
            "{}",
            finished.message
        );
        assert_eq!(
            finished.outputs,
            outputs(&[("rows", "42"), ("err", "on stderr"), ("last", "no newline")])
        );
    }

    #[tokio::test]
    async fn a_key_set_twice_keeps_its_last_value() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                shell("echo '${setValue(k=first)}'; echo other; echo '${setValue(k=second)} ${setValue(k=third)}'"),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outputs, outputs(&[("k", "third")]));
    }

    #[tokio::test]
    async fn a_failed_attempt_reports_no_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                shell("echo '${setValue(rows=42)}'; exit 2"),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert!(finished.outputs.is_empty(), "{:?}", finished.outputs);
    }

    fn split(tid: i64, command: &str, master: &str) -> DispatchRequest {
        DispatchRequest {
            collect_subtasks: true,
            ..request(tid, shell(command), master)
        }
    }

    #[tokio::test]
    async fn a_split_step_reports_its_sub_tasks_from_lines_then_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let command = r#"for p in 0 1 2; do echo "\${addTask(name=part$p, args=$p)}"; done
echo '{"name": "extra", "args": {"k": 1}}' > "$BATON_TASK_DIR/subtasks.jsonl"
echo '${setValue(n=3)}'"#;
        worker.dispatch(split(1, command, &master.addr)).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(
            finished.outcome,
            Outcome::Succeeded as i32,
            "{}",
            finished.message
        );
        let got: Vec<(&str, &str)> = finished
            .subtasks
            .iter()
            .map(|s| (s.name.as_str(), s.args.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("part0", "0"),
                ("part1", "1"),
                ("part2", "2"),
                ("extra", r#"{"k":1}"#)
            ]
        );
        assert_eq!(finished.outputs["n"], "3");
        // Not a split step: the same lines are plain output, and no task dir is given.
        let plain = request(
            2,
            shell("echo '${addTask(name=p, args=1)}'; echo \"dir=${BATON_TASK_DIR:-none}\""),
            &master.addr,
        );
        worker.dispatch(plain).unwrap();
        let finished = master.finished(2).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        assert!(finished.subtasks.is_empty());
        assert!(log_of(&worker, 2).await.ends_with("dir=none\n"));
    }

    #[tokio::test]
    async fn a_split_step_with_a_bad_sub_task_fails_saying_why_and_a_failed_one_reports_none() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        let command = "echo '${addTask(name=a, args=1)}'; echo '${addTask(name=a, args=2)}'";
        worker.dispatch(split(1, command, &master.addr)).unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert_eq!(
            finished.message,
            "addTask: sub-task `a` was added twice with different args"
        );
        assert!(finished.subtasks.is_empty());
        assert!(log_of(&worker, 1)
            .await
            .contains("[baton] addTask: sub-task `a`"));
        worker
            .dispatch(split(2, "echo '${addTask(name=a)}'; exit 3", &master.addr))
            .unwrap();
        let finished = master.finished(2).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert!(finished.subtasks.is_empty());
    }

    #[tokio::test]
    async fn lines_longer_than_the_scan_cap_are_survived() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        // A 1 MB line (with a pair at its start and one far past the scan cap), a 1 MB line
        // of `$`, then ordinary lines.
        worker
            .dispatch(request(
                1,
                shell(
                    "printf '${setValue(early=1)}'; head -c 1000000 /dev/zero | tr '\\0' x; \
                     echo '${setValue(late=1)}'; head -c 1000000 /dev/zero | tr '\\0' '$'; echo; \
                     echo '${setValue(after=2)}'",
                ),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(
            finished.outcome,
            Outcome::Succeeded as i32,
            "{}",
            finished.message
        );
        assert_eq!(finished.outputs, outputs(&[("early", "1"), ("after", "2")]));
    }

    #[tokio::test]
    async fn output_past_the_log_cap_is_still_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker_with(dir.path(), |c| c.log_max_bytes = 1000);
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                shell(
                    "head -c 300000 /dev/zero | tr '\\0' x; echo; echo '${setValue(rows=42)}' >&2",
                ),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Succeeded as i32);
        assert_eq!(finished.outputs, outputs(&[("rows", "42")]));
        let log = log_of(&worker, 1).await;
        assert!(!log.contains("setValue"), "{log}");
        assert!(log.ends_with(&crate::logfile::truncation_marker(1000)));
    }

    #[tokio::test]
    async fn outputs_past_the_limits_fail_the_attempt_saying_which_limit() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let mut master = TestMaster::start().await;
        worker
            .dispatch(request(
                1,
                shell("i=0; while [ $i -le 1000 ]; do echo \"\\${setValue(k$i=$i)}\"; i=$((i+1)); done"),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(1).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert_eq!(finished.exit_code, Some(0));
        assert!(
            finished.outputs.is_empty(),
            "a failed attempt passes nothing on"
        );
        assert_eq!(
            finished.message,
            "the task set more than 1000 output params (the most one task may set); `k1000` is one too many"
        );
        let log = log_of(&worker, 1).await;
        assert!(
            log.ends_with(&format!(
                "[baton] {}: the task fails (see \"Output params\" in the README for the limits)\n",
                finished.message
            )),
            "{}",
            &log[log.len() - 300..]
        );
        assert_eq!(log.matches("[baton]").count(), 1);

        // A value too large, in a python task's output.
        worker
            .dispatch(request(
                2,
                python("print('${setValue(big=' + 'x' * 70000 + ')}')"),
                &master.addr,
            ))
            .unwrap();
        let finished = master.finished(2).await;
        assert_eq!(finished.outcome, Outcome::Failed as i32);
        assert_eq!(
            finished.message,
            "output param `big` has a value of 70000 bytes or more, more than the 64 KiB a value may have"
        );
    }
}
