//! Wake-ups across processes: on PostgreSQL every new command is announced with NOTIFY, and
//! masters LISTEN, so a command is taken at once rather than at the next poll. SQLite has no
//! such thing; there the process that writes a command wakes its own master directly.

use crate::instances::COMMAND_CHANNEL;
use crate::{Backend, Store};
use std::time::Duration;

impl Store {
    /// Calls `wake` whenever a command is written by any process (PostgreSQL only; on SQLite
    /// this does nothing). Runs in the background until the process ends, reconnecting after
    /// failures; the masters' periodic poll covers what a broken connection misses.
    pub fn on_commands(&self, url: &str, wake: impl Fn() + Send + Sync + 'static) {
        if self.backend != Backend::Postgres {
            return;
        }
        let url = url.to_string();
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(200);
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => match listener.listen(COMMAND_CHANNEL).await {
                        Ok(()) => {
                            pause = Duration::from_millis(200);
                            // Whatever came while we were not listening.
                            wake();
                            while listener.recv().await.is_ok() {
                                wake();
                            }
                        }
                        Err(e) => tracing::warn!("cannot LISTEN for commands: {e}"),
                    },
                    Err(e) => tracing::warn!("cannot connect to listen for commands: {e}"),
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        });
    }
}
