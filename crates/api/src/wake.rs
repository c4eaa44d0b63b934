//! Waking the event streams when events are recorded: in-process (standalone), or by
//! PostgreSQL's LISTEN on [`EVENTS_CHANNEL`] (a cluster's `api` process).

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The PostgreSQL channel the masters `NOTIFY` in each transaction that records events.
pub const EVENTS_CHANNEL: &str = "baton_events";

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

/// LISTENs on [`EVENTS_CHANNEL`] in the background (PostgreSQL URLs only), waking `waker` at
/// each notification and after each reconnect.
pub(crate) fn listen(url: &str, waker: EventWaker) {
    if !url.starts_with("postgres") {
        return;
    }
    let url = url.to_string();
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(200);
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut listener) => match listener.listen(EVENTS_CHANNEL).await {
                    Ok(()) => {
                        pause = Duration::from_millis(200);
                        // Whatever came while we were not listening.
                        waker.wake();
                        while listener.recv().await.is_ok() {
                            waker.wake();
                        }
                    }
                    Err(e) => tracing::warn!("cannot LISTEN for events: {e}"),
                },
                Err(e) => tracing::warn!("cannot connect to listen for events: {e}"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[tokio::test]
    async fn a_notify_on_the_events_channel_wakes_the_streams() {
        let db = baton_store::testing::TestDb::postgres().await;
        let waker = EventWaker::default();
        let mut woken = waker.subscribe();
        listen(&db.url, waker.clone());
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

    #[test]
    fn a_sqlite_url_listens_to_nothing() {
        // No runtime needed: nothing is spawned.
        listen("sqlite:///tmp/x.db", EventWaker::default());
    }
}
