//! In-process tasks run under the same attempt rules as processes: a run that waits reports
//! Started, a timeout or a kill drops it at once, its log is capped, and a failure's message
//! reaches both the master and the log.

use std::collections::HashMap;
use std::time::Duration;

use baton_proto::{Outcome, TimeoutStrategy};

use crate::executors::testing::Scripted;
use crate::executors::InProcessEnd;
use crate::testkit::*;

fn scripted(log: &str, wait: Duration, end: InProcessEnd) -> Scripted {
    Scripted {
        log: log.as_bytes().to_vec(),
        wait,
        end,
        after_drop: None,
    }
}

/// Long enough that only dropping the run ends the attempt before the test's deadline.
const FOREVER: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_run_that_waits_reports_started_then_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    let outputs = HashMap::from([("rows".to_string(), "3".to_string())]);
    let run = scripted(
        "working\n",
        Duration::from_millis(50),
        InProcessEnd::Succeeded(outputs.clone()),
    );
    worker
        .dispatch_plan(request(1, noop(), &master.addr), run.plan())
        .unwrap();
    let started = master.started(1).await;
    assert_eq!(
        started.pid, 0,
        "an in-process task has no process of its own"
    );
    let finished = master.finished(1).await;
    assert_eq!(finished.outcome, Outcome::Succeeded as i32);
    assert_eq!(finished.outputs, outputs);
    assert_eq!(finished.started_at_us, started.at_us);
    assert_eq!(log_of(&worker, 1).await, "working\n");
}

#[tokio::test]
async fn a_failure_says_why_to_the_master_and_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    let run = scripted(
        "calling\n",
        Duration::ZERO,
        InProcessEnd::Failed("expected status 200, got 503".into()),
    );
    worker
        .dispatch_plan(request(1, noop(), &master.addr), run.plan())
        .unwrap();
    let finished = master.finished(1).await;
    assert_eq!(finished.outcome, Outcome::Failed as i32);
    assert_eq!(finished.message, "expected status 200, got 503");
    assert_eq!(finished.exit_code, None);
    assert!(finished.outputs.is_empty());
    assert_eq!(
        log_of(&worker, 1).await,
        "calling\n\n[baton] expected status 200, got 503\n"
    );
}

#[tokio::test]
async fn a_timeout_drops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    let mut req = request(1, noop(), &master.addr);
    req.timeout_ms = 200;
    let run = scripted("", FOREVER, InProcessEnd::Succeeded(HashMap::new()));
    worker.dispatch_plan(req, run.plan()).unwrap();
    let finished = master.finished(1).await;
    assert_eq!(finished.outcome, Outcome::TimedOut as i32);
    assert_eq!(finished.message, "timed out after 200ms");
    assert!(log_of(&worker, 1)
        .await
        .contains("[baton] timed out after 200ms"));
    assert_eq!(worker.running(), 0);
}

#[tokio::test]
async fn a_warn_timeout_reports_and_lets_the_run_finish() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    let mut req = request(1, noop(), &master.addr);
    req.timeout_ms = 50;
    req.timeout_strategy = TimeoutStrategy::Warn as i32;
    let run = scripted(
        "",
        Duration::from_millis(400),
        InProcessEnd::Succeeded(HashMap::new()),
    );
    worker.dispatch_plan(req, run.plan()).unwrap();
    let timed_out = master.timed_out(1).await;
    assert_eq!(timed_out.timeout_ms, 50);
    let finished = master.finished(1).await;
    assert_eq!(finished.outcome, Outcome::Succeeded as i32);
}

#[tokio::test]
async fn a_kill_drops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    let run = scripted("", FOREVER, InProcessEnd::Succeeded(HashMap::new()));
    worker
        .dispatch_plan(request(1, noop(), &master.addr), run.plan())
        .unwrap();
    master.started(1).await;
    assert!(worker.kill(attempt_id(1)));
    let finished = master.finished(1).await;
    assert_eq!(finished.outcome, Outcome::Killed as i32);
    assert_eq!(finished.message, "killed on request");
}

#[tokio::test]
async fn what_a_dropped_run_leaves_is_finished_after_a_kill_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    let mut run = scripted("", FOREVER, InProcessEnd::Succeeded(HashMap::new()));
    run.after_drop = Some("cancelled the statement".into());
    worker
        .dispatch_plan(request(1, noop(), &master.addr), run.plan())
        .unwrap();
    master.started(1).await;
    assert!(worker.kill(attempt_id(1)));
    let finished = master.finished(1).await;
    assert_eq!(finished.outcome, Outcome::Killed as i32);
    assert!(
        log_of(&worker, 1)
            .await
            .contains("[baton] cancelled the statement\n"),
        "the after-drop line is in the log"
    );

    let mut done = scripted(
        "ok\n",
        Duration::ZERO,
        InProcessEnd::Succeeded(HashMap::new()),
    );
    done.after_drop = Some("cancelled the statement".into());
    worker
        .dispatch_plan(request(2, noop(), &master.addr), done.plan())
        .unwrap();
    master.finished(2).await;
    assert_eq!(
        log_of(&worker, 2).await,
        "ok\n",
        "a run that ended leaves nothing"
    );
}

#[tokio::test]
async fn the_log_is_capped_like_a_process_output() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker_with(dir.path(), |c| c.log_max_bytes = 10);
    let mut master = TestMaster::start().await;
    let run = scripted(
        "0123456789abcdef",
        Duration::ZERO,
        InProcessEnd::Succeeded(HashMap::new()),
    );
    worker
        .dispatch_plan(request(1, noop(), &master.addr), run.plan())
        .unwrap();
    master.finished(1).await;
    let log = log_of(&worker, 1).await;
    assert_eq!(
        log,
        format!("0123456789{}", crate::logfile::truncation_marker(10))
    );
}
