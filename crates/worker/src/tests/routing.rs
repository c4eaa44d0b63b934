//! Events go to the master that owns their instance: redirects are followed, an instance
//! without an owner is retried later, and an unreachable master's events try the others.

use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::testkit::*;

#[tokio::test]
async fn a_redirect_sends_the_event_and_the_later_ones_to_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut a = TestMaster::start().await;
    let mut b = TestMaster::start().await;
    a.redirect(7, &b.addr);
    let go = dir.path().join("go");
    worker.dispatch(waiting(1, &go, &a.addr)).unwrap();
    b.started(1).await;
    assert_eq!(a.redirects(), 1);
    // The Finished event goes to the owner directly.
    std::fs::write(&go, b"").unwrap();
    b.finished(1).await;
    within("delivery", worker.inner().reporter.flushed()).await;
    assert_eq!(a.redirects(), 1);
    assert_eq!(summary(&a.drain()), []);
    assert_eq!(summary(&b.seen), [(1, "started"), (1, "finished")]);
}

#[tokio::test]
async fn events_of_an_instance_without_owner_are_sent_again_later() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut a = TestMaster::start().await;
    a.redirect(7, "");
    worker.dispatch(request(1, shell("true"), &a.addr)).unwrap();
    until("a redirect", || a.redirects() >= 1).await;
    until("the attempt to end", || worker.running() == 0).await;
    assert_eq!(worker.inner().reporter.pending(), 2);
    // The adoption is done: the same master now owns the instance.
    a.accept(7);
    within("delivery", worker.inner().reporter.flushed()).await;
    assert_eq!(summary(&a.drain()), [(1, "started"), (1, "finished")]);
}

#[tokio::test]
async fn events_of_an_instance_without_owner_go_to_any_known_master() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker(dir.path());
    let mut a = TestMaster::start().await;
    let mut b = TestMaster::start().await;
    a.redirect(7, "");
    worker.set_masters(vec![a.addr.clone(), b.addr.clone()]);
    worker.dispatch(request(1, shell("true"), &a.addr)).unwrap();
    b.finished(1).await;
    within("delivery", worker.inner().reporter.flushed()).await;
    assert!(a.redirects() >= 1);
    assert_eq!(summary(&a.drain()), []);
    assert_eq!(summary(&b.seen), [(1, "started"), (1, "finished")]);
}

#[tokio::test]
async fn events_for_an_unreachable_master_go_through_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let reroute_after = Duration::from_millis(300);
    let worker = worker_with(dir.path(), |c| c.reroute_after = reroute_after);
    let dead = free_addr().to_string();
    let mut b = TestMaster::start().await;
    let mut c = TestMaster::start().await;
    // B does not own the instance but knows who does.
    b.redirect(7, &c.addr);
    worker.set_masters(vec![dead.clone(), b.addr.clone()]);
    let go = dir.path().join("go");
    let begun = Instant::now();
    worker.dispatch(waiting(1, &go, &dead)).unwrap();
    c.started(1).await;
    assert!(begun.elapsed() >= reroute_after, "{:?}", begun.elapsed());
    assert!(b.redirects() >= 1);
    std::fs::write(&go, b"").unwrap();
    c.finished(1).await;
    within("delivery", worker.inner().reporter.flushed()).await;
    assert_eq!(summary(&c.seen), [(1, "started"), (1, "finished")]);
    assert_eq!(summary(&b.drain()), []);

    // Once the dead master's address listens again (it came back), dispatches from it are
    // reported to it.
    let mut back = TestMaster::start_on(TcpListener::bind(&dead).await.unwrap());
    let mut second = request(2, shell("true"), &dead);
    second.id.as_mut().unwrap().workflow_instance_id = 8;
    worker.dispatch(second).unwrap();
    back.finished(2).await;
}

#[tokio::test]
async fn the_order_of_an_instance_holds_across_a_change_of_master() {
    // Many attempts of one instance, their events spread over a redirect half way.
    let dir = tempfile::tempdir().unwrap();
    let worker = worker_with(dir.path(), |c| c.slots = 100);
    let mut a = TestMaster::start().await;
    let mut b = TestMaster::start().await;
    for tid in 1..=20 {
        worker
            .dispatch(request(tid, shell("true"), &a.addr))
            .unwrap();
    }
    a.started(1).await;
    a.redirect(7, &b.addr);
    for tid in 21..=40 {
        worker
            .dispatch(request(tid, shell("true"), &a.addr))
            .unwrap();
    }
    until("the attempts to end", || worker.running() == 0).await;
    within("delivery", worker.inner().reporter.flushed()).await;
    a.drain();
    b.drain();
    let mut events = a.seen.clone();
    events.extend(b.seen.clone());
    let events = summary(&events);
    assert_eq!(events.len(), 80, "{events:?}");
    for tid in 1..=40 {
        let mine: Vec<_> = events.iter().filter(|(t, _)| *t == tid).collect();
        assert_eq!(mine, [&(tid, "started"), &(tid, "finished")], "{events:?}");
    }
    assert!(!b.seen.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_events_are_sent_in_batches_the_master_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let worker = worker_with(dir.path(), |c| c.slots = 100);
    // The master comes up once every event waits, so that they would all go in one request.
    let addr = free_addr();
    // About 1 MiB of output params each: 70 of them in one request would be past the master's
    // 64 MiB limit.
    let script = "v=$(head -c 61000 /dev/zero | tr '\\0' v); i=0; \
                  while [ $i -lt 17 ]; do echo \"\\${setValue(k$i=$v)}\"; i=$((i+1)); done";
    let total = 70;
    for tid in 1..=total {
        let req = request(tid, shell(script), &addr.to_string());
        worker.dispatch(req).unwrap();
    }
    until("the attempts to end", || worker.running() == 0).await;
    until("every event to wait", || {
        worker.inner().reporter.pending() == 2 * total as usize
    })
    .await;
    let mut master = TestMaster::start_on(TcpListener::bind(addr).await.unwrap());
    for tid in 1..=total {
        let finished = master.finished(tid).await;
        assert_eq!(finished.outputs.len(), 17, "{}", finished.message);
        assert_eq!(finished.outputs["k16"].len(), 61000);
    }
    within("delivery", worker.inner().reporter.flushed()).await;
}
