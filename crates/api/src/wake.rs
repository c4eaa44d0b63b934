//! Waking the event streams when events are recorded: in-process (standalone), or by
//! PostgreSQL's LISTEN on the store's events channel (a cluster's `api` process, through
//! [`baton_store::Store::on_events`]).

use std::sync::Arc;
use tokio::sync::watch;

/// Tells every open event stream to look for new events. Cheap to clone; never blocks.
#[derive(Clone)]
pub struct EventWaker {
    tx: Arc<watch::Sender<u64>>,
}

impl Default for EventWaker {
    fn default() -> Self {
        EventWaker {
            tx: Arc::new(watch::channel(0).0),
        }
    }
}

impl EventWaker {
    /// New events may have been recorded.
    pub fn wake(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees each wake-up after it was made.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_store::EVENTS_CHANNEL;
    use sqlx::Connection;
    use std::time::Duration;

    #[tokio::test]
    async fn a_notify_on_the_events_channel_wakes_the_streams() {
        let db = baton_store::testing::TestDb::postgres().await;
        let waker = EventWaker::default();
        let mut woken = waker.subscribe();
        let store = db.store().await;
        let wakes = waker.clone();
        store.on_events(&db.url, move || wakes.wake());
        let limit = Duration::from_secs(10);
        // Once listening, it wakes for what it may have missed.
        tokio::time::timeout(limit, woken.changed())
            .await
            .expect("listening within the deadline")
            .unwrap();
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(EVENTS_CHANNEL)
            .execute(&mut conn)
            .await
            .unwrap();
        tokio::time::timeout(limit, woken.changed())
            .await
            .expect("woken by the NOTIFY within the deadline")
            .unwrap();
    }
}
