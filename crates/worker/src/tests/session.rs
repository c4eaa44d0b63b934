//! A worker that lost its session kills its attempts at once and forgets their events.

use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::testkit::*;
use crate::DispatchError;

#[tokio::test]
async fn session_loss_kills_running_attempts_and_drops_their_events() {
    let dir = tempfile::tempdir().unwrap();
    // A long kill grace: the session loss must not wait for it.
    let worker = worker_with(dir.path(), |c| c.kill_grace = Duration::from_secs(60));
    let addr = free_addr().to_string();

    // Ended before the loss: its events are kept.
    worker.dispatch(request(1, shell("true"), &addr)).unwrap();
    until("the attempt to end", || worker.running() == 0).await;
    // Running at the loss; the second one ignores SIGTERM and is being killed already.
    let mut pids = Vec::new();
    for (tid, script) in [
        (2, "echo $$ > \"$PIDFILE\"; exec sleep 1000"),
        (3, "trap '' TERM; echo $$ > \"$PIDFILE\"; sleep 1000"),
    ] {
        let pidfile = dir.path().join(format!("{tid}.pid"));
        let mut req = request(tid, shell(script), &addr);
        req.env
            .insert("PIDFILE".into(), pidfile.display().to_string());
        worker.dispatch(req).unwrap();
        pids.push(read_pid(&pidfile).await);
    }
    assert!(worker.kill(attempt_id(3)));

    let begun = Instant::now();
    worker.session_lost();
    until("the attempts to die", || {
        pids.iter().all(|p| process_gone(*p))
    })
    .await;
    until("the slots to be free", || worker.running() == 0).await;
    assert!(
        begun.elapsed() < Duration::from_secs(20),
        "waited for the grace"
    );

    // New dispatches are taken again.
    worker.dispatch(request(4, shell("true"), &addr)).unwrap();
    until("the new attempt to end", || worker.running() == 0).await;

    let mut master = TestMaster::start_on(TcpListener::bind(&addr).await.unwrap());
    within("delivery", worker.inner().reporter.flushed()).await;
    assert_eq!(
        summary(&master.drain()),
        [
            (1, "started"),
            (1, "finished"),
            (4, "started"),
            (4, "finished")
        ]
    );
}

#[tokio::test]
async fn events_already_sent_of_a_lost_attempt_are_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut master = TestMaster::start().await;
    worker
        .dispatch(request(1, shell("sleep 1000"), &master.addr))
        .unwrap();
    master.started(1).await;
    worker.session_lost();
    until("the slot to be free", || worker.running() == 0).await;
    // Re-dispatching the lost attempt while it dies is refused; afterwards it is a new run.
    let refused = DispatchError::BeingKilled.to_string();
    assert_eq!(refused, "the attempt is being killed after a session loss");
    worker
        .dispatch(request(2, shell("true"), &master.addr))
        .unwrap();
    master.finished(2).await;
    within("delivery", worker.inner().reporter.flushed()).await;
    assert_eq!(
        summary(&master.seen),
        [(1, "started"), (2, "started"), (2, "finished")]
    );
}
