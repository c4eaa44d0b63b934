//! Retention of the event log: events older than the retention period are removed in small
//! batches by a task of their own, off the engine, so that a large backlog never blocks a tick
//! (each batch is a short transaction; the engine's ticks interleave with them).

use baton_store::{now_us, Store};
use std::time::Duration;

/// Events removed per statement.
const BATCH: i64 = 1000;

/// How long to keep events when nothing else is configured.
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Removes events older than `keep`, now and then periodically, until the process ends.
pub(crate) fn spawn(store: Store, keep: Duration) -> tokio::task::JoinHandle<()> {
    // Look about ten times per retention period, at most hourly, at least every minute.
    let every = (keep / 10).clamp(Duration::from_secs(60), Duration::from_secs(3600));
    tokio::spawn(async move {
        loop {
            match prune(&store, keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} events older than the retention period"),
                Err(e) => tracing::warn!("removing old events failed (will try again): {e}"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Removes every event older than `keep`, a batch at a time; returns how many.
pub(crate) async fn prune(store: &Store, keep: Duration) -> Result<u64, baton_store::StoreError> {
    let keep_us = baton_core::duration::micros(keep);
    let before = now_us().saturating_sub(keep_us);
    let mut removed = 0;
    loop {
        let n = store.prune_events(before, BATCH).await?;
        removed += n;
        if n < BATCH as u64 {
            return Ok(removed);
        }
        // Let the engine's transactions in between batches.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::EventKind;
    use baton_store::testing::TestDb;
    use baton_store::NewEvent;

    #[tokio::test]
    async fn old_events_are_removed_in_batches_and_recent_ones_kept() {
        let db = TestDb::sqlite();
        let store = db.store().await;
        let day = 24 * 3600 * 1_000_000_i64;
        let old = now_us() - 40 * day;
        let events: Vec<NewEvent> = (0..2500)
            .map(|i| NewEvent::new(EventKind::WorkerLost, old + i, "old"))
            .chain(std::iter::once(NewEvent::new(
                EventKind::WorkerLost,
                now_us() - day,
                "recent",
            )))
            .collect();
        let mut tx = store.begin_engine().await.unwrap();
        tx.insert_events(&events).await.unwrap();
        tx.commit().await.unwrap();

        assert_eq!(prune(&store, DEFAULT_EVENT_RETENTION).await.unwrap(), 2500);
        let left = store
            .list_events(&baton_store::EventFilter::default())
            .await
            .unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].event.message, "recent");
    }
}
