//! Wake-ups across processes: on PostgreSQL every new command and every transaction that
//! recorded events is announced with NOTIFY, and masters (commands) and event streams (events)
//! LISTEN, so they act at once rather than at their next poll. SQLite has no such thing; there
//! the process that writes wakes its own readers directly.

use crate::events::EVENTS_CHANNEL;
use crate::instances::COMMAND_CHANNEL;
use crate::{Backend, Store};
use std::time::Duration;

impl Store {
    /// Calls `wake` whenever a command is written by any process (PostgreSQL only; on SQLite
    /// this does nothing). Runs in the background until the process ends, reconnecting after
    /// failures; the masters' periodic poll covers what a broken connection misses.
    pub fn on_commands(&self, url: &str, wake: impl Fn() + Send + Sync + 'static) {
        self.on_notify(url, COMMAND_CHANNEL, "commands", wake);
    }

    /// Calls `wake` whenever a transaction of any process recorded lifecycle events
    /// (PostgreSQL only), like [`Store::on_commands`].
    pub fn on_events(&self, url: &str, wake: impl Fn() + Send + Sync + 'static) {
        self.on_notify(url, EVENTS_CHANNEL, "events", wake);
    }

    /// LISTENs on `channel` in the background and calls `wake` at each notification, and
    /// after each (re)connection for whatever came while nobody listened.
    fn on_notify(
        &self,
        url: &str,
        channel: &'static str,
        what: &'static str,
        wake: impl Fn() + Send + Sync + 'static,
    ) {
        if self.backend != Backend::Postgres {
            return;
        }
        let url = url.to_string();
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(200);
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => match listener.listen(channel).await {
                        Ok(()) => {
                            pause = Duration::from_millis(200);
                            wake();
                            while listener.recv().await.is_ok() {
                                wake();
                            }
                        }
                        Err(e) => tracing::warn!("cannot LISTEN for {what}: {e}"),
                    },
                    Err(e) => tracing::warn!("cannot connect to listen for {what}: {e}"),
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        });
    }
}
