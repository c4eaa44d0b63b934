//! Throughput and latency checks against the performance goals (ignored by default; run with
//! `cargo test -p baton-worker --release -- --ignored --nocapture bench`).

use std::time::{Duration, Instant};

use baton_proto::task_event::Event;
use baton_proto::worker_client::WorkerClient;
use tokio::net::TcpListener;

use crate::testkit::*;

async fn start_worker(
    dir: &std::path::Path,
) -> (
    crate::Worker,
    WorkerClient<baton_proto::auth::MemberChannel>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let worker = worker(dir);
    tokio::spawn(crate::serve(
        worker.clone(),
        listener,
        std::future::pending(),
    ));
    let client = crate::testkit::member_client(&worker, addr).await;
    (worker, client)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn bench_throughput_of_true_tasks() {
    let total: i64 = std::env::var("BENCH_TASKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (worker, client) = start_worker(dir.path()).await;
    let mut master = TestMaster::start().await;
    let slots = worker.config().slots as i64;
    let begun = Instant::now();
    let mut next = 1;
    let mut done = 0;
    let master_addr = master.addr.clone();
    let dispatch = |tid: i64| {
        let mut client = client.clone();
        let req = request(tid, shell("true"), &master_addr);
        tokio::spawn(async move {
            let reply = client.dispatch(req).await.unwrap().into_inner();
            assert!(reply.accepted, "{}", reply.reason);
        })
    };
    while next <= slots.min(total) {
        dispatch(next);
        next += 1;
    }
    while done < total {
        let event = master.next().await;
        if let Some(Event::Finished(f)) = event.event {
            assert_eq!(f.outcome, baton_proto::Outcome::Succeeded as i32);
            done += 1;
            if next <= total {
                dispatch(next);
                next += 1;
            }
        }
    }
    let elapsed = begun.elapsed();
    println!(
        "{total} `true` tasks with {slots} slots in {elapsed:?}: {:.0} tasks/s",
        total as f64 / elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn bench_chain_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (_worker, mut client) = start_worker(dir.path()).await;
    let mut master = TestMaster::start().await;
    let mut gaps = Vec::new();
    let mut last_end = None;
    for tid in 1..=300 {
        let reply = client
            .dispatch(request(tid, shell("true"), &master.addr))
            .await
            .unwrap()
            .into_inner();
        assert!(reply.accepted);
        let started = master.started(tid).await;
        if let Some(end) = last_end {
            gaps.push(started.at_us - end);
        }
        last_end = Some(master.finished(tid).await.ended_at_us);
    }
    gaps.sort_unstable();
    let p = |q: f64| Duration::from_micros(gaps[((gaps.len() - 1) as f64 * q) as usize] as u64);
    println!(
        "end-to-start gap over {} links: p50 {:?}, p90 {:?}, p99 {:?}",
        gaps.len(),
        p(0.5),
        p(0.9),
        p(0.99)
    );
}

#[test]
#[ignore]
fn bench_outbox_cost_per_event() {
    use baton_proto::{task_event, AttemptId, Finished, TaskEvent};

    use crate::outbox::{Outbox, SEGMENT_BYTES};

    let dir = tempfile::tempdir().unwrap();
    let (mut outbox, _) = Outbox::open(dir.path(), SEGMENT_BYTES).unwrap();
    let event = |tid: i64| TaskEvent {
        id: Some(AttemptId {
            workflow_instance_id: 7,
            task_instance_id: tid,
            attempt: 1,
            epoch: 1,
        }),
        worker: "127.0.0.1:7001".into(),
        event: Some(task_event::Event::Finished(Finished {
            started_at_us: 1_700_000_000_000_000,
            ended_at_us: 1_700_000_000_001_000,
            outcome: 1,
            exit_code: Some(0),
            message: String::new(),
            outputs: Default::default(),
            subtasks: Vec::new(),
        })),
    };
    let total = 100_000;
    let begun = Instant::now();
    let mut batch = Vec::new();
    let mut bytes = 0;
    for tid in 0..total {
        let (seq, written) = outbox.append("127.0.0.1:7000", &event(tid));
        bytes += written.unwrap();
        batch.push(seq);
        // Acknowledged in batches of 4, like a worker with 4 slots under load.
        if batch.len() == 4 {
            outbox.ack(&batch, bytes).unwrap();
            batch.clear();
            bytes = 0;
            if outbox.wants_compaction() {
                outbox.compact(std::iter::empty()).unwrap();
            }
        }
    }
    let elapsed = begun.elapsed();
    println!(
        "outbox: {total} events appended and acknowledged in {elapsed:?}: {:.2} µs per event",
        elapsed.as_secs_f64() * 1e6 / total as f64
    );
}

#[test]
#[ignore]
fn bench_output_scan() {
    use crate::outputs::Scanner;
    // Typical log text (no `$`), and text with a `$` on every line.
    let plain = "2024-01-01 12:00:00 INFO processed 1000 rows of the input table\n".repeat(512);
    let dollars = "cost $12.50 for ${HOME} and the rest of this line is plain\n".repeat(600);
    for (what, text) in [("plain", &plain), ("dollars", &dollars)] {
        let chunk = &text.as_bytes()[..32 * 1024];
        let rounds = 20_000;
        let begun = Instant::now();
        let mut scanner = Scanner::new();
        for _ in 0..rounds {
            scanner.feed(std::hint::black_box(chunk));
        }
        let found = scanner.finish();
        assert!(found.outputs.is_empty());
        let secs = begun.elapsed().as_secs_f64();
        let mb = (rounds * chunk.len()) as f64 / 1e6;
        println!("output scan, {what}: {:.0} MB/s", mb / secs);
    }
}
