//! Opening a store: picking the backend from the URL, tuning SQLite for concurrent use, and
//! running the migrations.

use crate::error::StoreError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Which database is behind the store; a few statements differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, one file; one writer at a time.
    Sqlite,
    /// A server, for clusters.
    Postgres,
}

/// The metadata store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
    /// Writes. On SQLite a single connection, so that writers queue here instead of failing
    /// with "database is locked".
    pub(crate) write: AnyPool,
    /// Reads (the API). On SQLite separate WAL readers; on PostgreSQL the same pool as writes.
    pub(crate) read: AnyPool,
}

use crate::error::Context as _;
pub use baton_core::redact::redact_url as redact;

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH` or `postgres://…`)
    /// and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let store = if url.starts_with("sqlite:") {
            open_sqlite(url).await?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            open_postgres(url).await?
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.write)
                    .await?
            }
            Backend::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.write)
                    .await?
            }
        }
        Ok(())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers a trivial query: what a readiness check asks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
            .ctx("asking the database for `SELECT 1`")
    }

    /// Closes every connection (waits for them to be returned).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// The error for a database that cannot be opened, naming it without its password.
fn open_error(url: &str, source: sqlx::Error) -> StoreError {
    StoreError::Open {
        url: redact(url),
        source,
    }
}

/// Opens an SQLite file (created if missing): one writer connection, so that writers queue
/// instead of failing with "database is locked", and a few WAL readers beside it.
async fn open_sqlite(url: &str) -> Result<Store, StoreError> {
    let open_err = |source| open_error(url, source);
    let url = if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    };
    let options = AnyConnectOptions::from_str(&url).map_err(open_err)?;
    let pool = |max: u32| {
        AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options.clone())
    };
    let write = pool(1).await.map_err(open_err)?;
    let read = pool(4).await.map_err(open_err)?;
    Ok(Store {
        backend: Backend::Sqlite,
        write,
        read,
    })
}

/// Connects to a PostgreSQL server: one pool for reads and writes, with timeouts that turn a
/// stuck lock or transaction into an error.
async fn open_postgres(url: &str) -> Result<Store, StoreError> {
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // A lock held by a stuck peer, or a transaction left open by a bug,
                // becomes an error the engine recovers from, not a silent stall.
                conn.execute(
                    "SET lock_timeout = '30s'; \
                     SET idle_in_transaction_session_timeout = '120s'",
                )
                .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|source| open_error(url, source))?;
    Ok(Store {
        backend: Backend::Postgres,
        write: pool.clone(),
        read: pool,
    })
}
