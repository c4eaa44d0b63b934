//! `Probe`: what a worker says it knows of an attempt, and why a master may trust it (RUNNING:
//! it runs; ENDED: its Finished event exists; UNKNOWN: nothing of it is left here). And a
//! dispatch of an attempt that ended here does not run it again.

use std::path::Path;
use std::time::Duration;

use baton_proto::{AttemptId, AttemptStatus, ProbeRequest};
use tokio::net::TcpListener;

use crate::testkit::*;
use crate::Worker;

use AttemptStatus::{Ended, Running, Unknown};

fn probe_request(ids: &[AttemptId], master: &str) -> ProbeRequest {
    ProbeRequest {
        ids: ids.to_vec(),
        master_addr: master.to_string(),
    }
}

/// Probes attempt 1 of each of `tids`, by a master that gives no address.
fn probe(worker: &Worker, tids: &[i64]) -> Vec<AttemptStatus> {
    let ids: Vec<AttemptId> = tids.iter().map(|t| attempt_id(*t)).collect();
    worker.probe(probe_request(&ids, ""))
}

/// The same dispatch for the task's attempt 2 (what a master sends after a write-off).
fn next_attempt(mut req: baton_proto::DispatchRequest) -> baton_proto::DispatchRequest {
    req.id.as_mut().expect("requests carry an id").attempt = 2;
    req
}

fn probe_attempt(worker: &Worker, tid: i64, attempt: u32) -> Vec<AttemptStatus> {
    let mut id = attempt_id(tid);
    id.attempt = attempt;
    worker.probe(probe_request(&[id], ""))
}

/// A dispatch of a shell task that appends a line to `runs` each time it runs.
fn counted(tid: i64, runs: &Path, master: &str) -> baton_proto::DispatchRequest {
    let mut req = request(tid, shell("echo run >> \"$RUNS\""), master);
    req.env.insert("RUNS".into(), runs.display().to_string());
    req
}

fn runs(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

#[tokio::test]
async fn probe_says_running_then_ended_and_unknown_for_what_it_never_saw() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let worker = worker(dir.path());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(worker.clone(), listener, async {
        let _ = stopped.await;
    }));
    let mut client = member_client(&worker, addr).await;
    let mut master = TestMaster::start().await;
    let go = dir.path().join("go");
    worker.dispatch(waiting(1, &go, &master.addr)).unwrap();
    worker.dispatch(request(3, noop(), &master.addr)).unwrap();
    master.started(1).await;
    master.finished(3).await;

    let mut other_attempt = attempt_id(1);
    other_attempt.attempt = 2;
    let ids = [attempt_id(1), attempt_id(2), other_attempt, attempt_id(3)];
    let reply = client
        .probe(probe_request(&ids, ""))
        .await
        .unwrap()
        .into_inner();
    let expected = [Running, Unknown, Unknown, Ended].map(|s| s as i32);
    assert_eq!(reply.statuses, expected);

    std::fs::write(&go, b"").unwrap();
    master.finished(1).await;
    let reply = client
        .probe(probe_request(&ids, ""))
        .await
        .unwrap()
        .into_inner();
    let expected = [Ended, Unknown, Unknown, Ended].map(|s| s as i32);
    assert_eq!(reply.statuses, expected);
    assert_eq!(probe(&worker, &[]), []);

    stop.send(()).unwrap();
    within("the server to stop", server).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_dispatch_of_an_attempt_that_ended_here_does_not_run_it_again() {
    let dir = tempfile::tempdir().unwrap();
    // Only a dispatch can send the events somewhere else than the dead master.
    let worker = worker_with(dir.path(), |c| c.reroute_after = Duration::from_secs(3600));
    let dead = free_addr().to_string();
    let mut master = TestMaster::start().await;
    let log = dir.path().join("runs");
    worker.dispatch(counted(1, &log, &dead)).unwrap();
    until("the attempt to end", || worker.running() == 0).await;
    let reporter = &worker.inner().reporter;
    until("a failed delivery", || reporter.failures() >= 1).await;
    assert_eq!(reporter.pending(), 2);
    assert_eq!(probe(&worker, &[1]), [Ended], "its Finished event waits");

    // The new owner dispatches it again: nothing runs, and the waiting events go to it.
    let mut again = counted(1, &log, &master.addr);
    again.id.as_mut().unwrap().epoch = 2;
    worker.dispatch(again.clone()).unwrap();
    assert_eq!(worker.running(), 0, "started again");
    master.finished(1).await;
    within("delivery", reporter.flushed()).await;
    assert_eq!(
        probe(&worker, &[1]),
        [Ended],
        "acknowledged, and remembered"
    );

    // Once more, after the acknowledgement.
    worker.dispatch(again).unwrap();
    assert_eq!(worker.running(), 0, "started again");
    assert_eq!(reporter.pending(), 0);
    assert_eq!(summary(&master.seen), [(1, "started"), (1, "finished")]);
    assert_eq!(runs(&log), 1);
}

#[tokio::test]
async fn an_attempt_killed_on_a_session_loss_is_unknown_and_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    let pidfile = dir.path().join("1.pid");
    let mut req = request(
        1,
        shell("echo $$ > \"$PIDFILE\"; exec sleep 1000"),
        &master.addr,
    );
    req.env
        .insert("PIDFILE".into(), pidfile.display().to_string());
    worker.dispatch(req).unwrap();
    let pid = read_pid(&pidfile).await;
    master.started(1).await;
    assert_eq!(probe(&worker, &[1]), [Running]);

    worker.session_lost();
    // Being killed: it will never report its end.
    assert_eq!(probe(&worker, &[1]), [Unknown]);
    until("the attempt to die", || process_gone(pid)).await;
    until("the slot to be free", || worker.running() == 0).await;
    assert_eq!(probe(&worker, &[1]), [Unknown]);

    // So the master runs a new attempt, and it runs; the old one stays written off.
    worker
        .dispatch(next_attempt(request(1, shell("true"), &master.addr)))
        .unwrap();
    let finished = master.finished(1).await;
    assert_eq!(finished.outcome, baton_proto::Outcome::Succeeded as i32);
    assert_eq!(probe_attempt(&worker, 1, 2), [Ended]);
    assert_eq!(probe(&worker, &[1]), [Unknown]);
}

#[tokio::test]
async fn a_probe_makes_the_prober_the_owner_of_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker_with(dir.path(), |c| c.reroute_after = Duration::from_secs(3600));
    let dead = free_addr().to_string();
    let mut adopter = TestMaster::start().await;
    let go = dir.path().join("go");
    worker.dispatch(waiting(1, &go, &dead)).unwrap();
    let reporter = &worker.inner().reporter;
    until("a failed delivery", || reporter.failures() >= 1).await;

    // A probe that changes nothing: an unknown attempt, or no address.
    assert_eq!(
        worker.probe(probe_request(&[attempt_id(2)], &adopter.addr)),
        [Unknown]
    );
    assert_eq!(probe(&worker, &[1]), [Running]);
    assert_eq!(
        worker.probe(probe_request(&[attempt_id(1)], "bad address")),
        [Running]
    );
    assert_eq!(reporter.pending(), 1);

    assert_eq!(
        worker.probe(probe_request(&[attempt_id(1)], &adopter.addr)),
        [Running]
    );
    adopter.started(1).await;
    std::fs::write(&go, b"").unwrap();
    adopter.finished(1).await;
    within("delivery", reporter.flushed()).await;
    assert_eq!(summary(&adopter.seen), [(1, "started"), (1, "finished")]);
}

#[tokio::test]
async fn a_finished_event_waiting_from_a_previous_life_is_ended() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let log = dir.path().join("runs");

    let first = worker(dir.path());
    first.dispatch(counted(1, &log, &addr.to_string())).unwrap();
    until("the attempt to end", || first.running() == 0).await;
    assert_eq!(probe(&first, &[1]), [Ended]);
    close(first).await;

    // Nobody has acknowledged anything: the new life knows it ended from its outbox.
    let worker = worker(dir.path());
    assert_eq!(worker.inner().reporter.pending(), 2);
    assert_eq!(probe(&worker, &[1, 2]), [Ended, Unknown]);
    worker
        .dispatch(counted(1, &log, &addr.to_string()))
        .unwrap();
    assert_eq!(worker.running(), 0, "started again");

    let mut master = TestMaster::start_on(TcpListener::bind(addr).await.unwrap());
    master.finished(1).await;
    within("delivery", worker.inner().reporter.flushed()).await;
    assert_eq!(probe(&worker, &[1, 2]), [Ended, Unknown]);
    assert_eq!(summary(&master.seen), [(1, "started"), (1, "finished")]);
    assert_eq!(runs(&log), 1);
}

#[test]
fn the_leftovers_of_a_run_that_died_with_the_previous_life_are_unknown_and_dropped() {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let pidfile = dir.path().join("1.pid");

    // First life: the attempt starts while no master listens, and the worker dies with its
    // runtime, its Started event unacknowledged.
    let first = runtime();
    let pid = first.block_on(async {
        let worker = worker(dir.path());
        let mut req = request(
            1,
            shell("echo $$ > \"$PIDFILE\"; exec sleep 1000"),
            &addr.to_string(),
        );
        req.env
            .insert("PIDFILE".into(), pidfile.display().to_string());
        worker.dispatch(req).unwrap();
        let pid = read_pid(&pidfile).await;
        until("the Started event", || {
            worker.inner().reporter.pending() == 1
        })
        .await;
        pid
    });
    drop(first);
    // What reaping the orphans does when the CLI starts a worker.
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL).unwrap();

    let second = runtime();
    second.block_on(async {
        let worker = worker(dir.path());
        assert_eq!(worker.inner().reporter.pending(), 1);
        assert_eq!(probe(&worker, &[1]), [Unknown]);
        within(
            "the leftover to be dropped",
            worker.inner().reporter.flushed(),
        )
        .await;

        // The master runs a new attempt; only the new run is reported.
        let mut master = TestMaster::start_on(TcpListener::bind(addr).await.unwrap());
        worker
            .dispatch(next_attempt(request(1, shell("true"), &addr.to_string())))
            .unwrap();
        master.finished(1).await;
        within("delivery", worker.inner().reporter.flushed()).await;
        assert_eq!(summary(&master.seen), [(1, "started"), (1, "finished")]);
        assert_eq!(probe_attempt(&worker, 1, 2), [Ended]);
    });
}

#[tokio::test]
async fn a_dispatch_arriving_after_its_deadline_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let worker = crate::testkit::worker_with(dir.path(), |_| {});
    let mut late = crate::testkit::request(91, crate::testkit::shell("true"), "127.0.0.1:1");
    late.deadline_us = baton_proto::now_us() - 1;
    let err = worker.dispatch(late).unwrap_err();
    assert!(matches!(err, crate::DispatchError::TooLate), "{err}");
    let mut on_time = crate::testkit::request(92, crate::testkit::shell("true"), "127.0.0.1:1");
    on_time.deadline_us = baton_proto::now_us() + 10_000_000;
    assert!(worker.dispatch(on_time).is_ok());
}

#[tokio::test]
async fn a_dispatch_of_an_attempt_a_probe_was_told_unknown_is_refused() {
    // The master writes off what the worker does not know and runs a new attempt: the old
    // one's dispatch, overtaken by the probe, must not run as well.
    let dir = tempfile::tempdir().unwrap();
    let worker = crate::testkit::worker_with(dir.path(), |_| {});
    assert_eq!(probe(&worker, &[93]), [AttemptStatus::Unknown]);
    let late = crate::testkit::request(93, crate::testkit::shell("true"), "127.0.0.1:1");
    let err = worker.dispatch(late).unwrap_err();
    assert!(matches!(err, crate::DispatchError::WrittenOff), "{err}");
    assert_eq!(probe(&worker, &[93]), [AttemptStatus::Unknown]);
    let other = crate::testkit::request(94, crate::testkit::shell("true"), "127.0.0.1:1");
    assert!(worker.dispatch(other).is_ok());
}
