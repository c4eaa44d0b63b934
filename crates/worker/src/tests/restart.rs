//! Events survive the worker: a restart (or a crash) loses none and reorders none.

use std::io::Write;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::testkit::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The only outbox segment under `data_dir`.
fn segment(data_dir: &std::path::Path) -> std::path::PathBuf {
    let segments: Vec<_> = std::fs::read_dir(data_dir.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    assert_eq!(segments.len(), 1, "{segments:?}");
    segments[0].clone()
}

#[test]
fn events_of_a_crashed_worker_are_sent_by_its_next_life_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();

    // First life: two attempts run while no master listens; then the worker dies with its
    // runtime (tasks and all), nothing acknowledged.
    let first = runtime();
    first.block_on(async {
        let worker = worker(dir.path());
        for tid in 1..=2 {
            worker
                .dispatch(request(tid, shell("echo hi"), &addr.to_string()))
                .unwrap();
            until("the attempt to end", || worker.running() == 0).await;
        }
        let reporter = &worker.inner().reporter;
        until("a failed delivery", || reporter.failures() >= 1).await;
        assert_eq!(reporter.pending(), 4);
        close(worker).await;
    });
    drop(first);

    // A crash in the middle of a write leaves a torn record behind the last whole one.
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(segment(dir.path()))
        .unwrap();
    torn.write_all(&[0xE7, 200, 0, 0, 0, 1, 2, 3, 4, 5, 6])
        .unwrap();
    drop(torn);

    let second = runtime();
    second.block_on(async {
        let worker = worker(dir.path());
        assert_eq!(worker.inner().reporter.pending(), 4);
        let mut master = TestMaster::start_on(TcpListener::bind(addr).await.unwrap());
        within("delivery", worker.inner().reporter.flushed()).await;
        let events = master.drain();
        assert_eq!(
            summary(&events),
            [
                (1, "started"),
                (1, "finished"),
                (2, "started"),
                (2, "finished")
            ]
        );
        let started = master.started(1).await;
        let finished = master.finished(1).await;
        assert_eq!(finished.started_at_us, started.at_us);
        assert!(events.iter().all(|e| e.worker == "test-worker"));
        close(worker).await;

        // Acknowledged means gone: a third life has nothing to send.
        assert_eq!(worker_pending(dir.path()).await, 0);
    });
}

#[tokio::test]
async fn shutdown_leaves_unacknowledged_events_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let worker = worker(dir.path());
    worker
        .dispatch(request(1, shell("true"), &addr.to_string()))
        .unwrap();
    until("the attempt to end", || worker.running() == 0).await;
    within("shutdown", worker.shutdown(Duration::from_millis(200))).await;
    assert_eq!(worker.inner().reporter.pending(), 2);
    close(worker).await;

    let worker = crate::testkit::worker(dir.path());
    let mut master = TestMaster::start_on(TcpListener::bind(addr).await.unwrap());
    master.finished(1).await;
    within("delivery", worker.inner().reporter.flushed()).await;
    assert_eq!(summary(&master.drain()), []);
    assert_eq!(summary(&master.seen), [(1, "started"), (1, "finished")]);
}

#[tokio::test]
async fn shutdown_waits_for_the_outbox_to_be_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let worker = worker(dir.path());
    worker
        .dispatch(request(1, shell("true"), &addr.to_string()))
        .unwrap();
    until("the attempt to end", || worker.running() == 0).await;
    let reporter = &worker.inner().reporter;
    until("a failed delivery", || reporter.failures() >= 1).await;
    // The master comes up while the worker is shutting down.
    let listener = TcpListener::bind(addr).await.unwrap();
    let stopping = tokio::spawn({
        let worker = worker.clone();
        async move { worker.shutdown(Duration::from_secs(20)).await }
    });
    let mut master = TestMaster::start_on(listener);
    within("shutdown", stopping).await.unwrap();
    assert_eq!(reporter.pending(), 0);
    assert_eq!(summary(&master.drain()), [(1, "started"), (1, "finished")]);
}

#[tokio::test]
async fn acknowledged_events_are_compacted_away() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::WorkerConfig::new("test-worker", dir.path());
    config.slots = 10_000;
    let worker = crate::Worker::open_with(config, 4096).unwrap();
    let mut master = TestMaster::start().await;
    let segment_size = || std::fs::metadata(segment(dir.path())).unwrap().len();
    for round in 0..10 {
        for tid in 1..=300 {
            worker
                .dispatch(request(round * 1000 + tid, noop(), &master.addr))
                .unwrap();
        }
        for tid in 1..=300 {
            master.finished(round * 1000 + tid).await;
        }
        within("delivery", worker.inner().reporter.flushed()).await;
        // 300 events alone take more than the 4 KiB the segment is compacted at.
        assert!(segment_size() < 3 * 4096, "{} bytes", segment_size());
    }
    close(worker).await;
    assert_eq!(worker_pending(dir.path()).await, 0);
}

/// What a new worker on `data_dir` finds pending.
async fn worker_pending(data_dir: &std::path::Path) -> usize {
    let worker = worker(data_dir);
    worker.inner().reporter.pending()
}
