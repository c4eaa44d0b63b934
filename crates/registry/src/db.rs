//! The `db` registry: one row per member in the metadata database (SQLite or PostgreSQL),
//! with an expiry that the database's own clock sets and checks, so that hosts whose clocks
//! differ still agree on who is alive.

use crate::{Member, Registration, Registry, RegistryError};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The database under a [`DbRegistry`]; the clock expression and table setup differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// "Now" in µs since the epoch, by the database server's clock.
    fn now(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)",
            Dialect::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT",
        }
    }
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS registry_member (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    address TEXT NOT NULL,
    grp TEXT,
    member TEXT NOT NULL,
    session TEXT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
)";

/// An arbitrary constant naming the advisory lock that serialises table creation on
/// PostgreSQL (concurrent `CREATE TABLE IF NOT EXISTS` can fail there otherwise).
const CREATE_LOCK_KEY: i64 = 0x6261_746f_6e72_6567; // "batonreg"

/// Membership kept as rows with an expiry in the metadata database: the default registry,
/// because every Baton cluster already has that database.
#[derive(Debug)]
pub struct DbRegistry {
    pool: AnyPool,
    dialect: Dialect,
    session_timeout: Duration,
    /// When expired rows were last swept, to sweep at most once per session timeout (which
    /// rows are expired is still decided by the database's clock).
    last_sweep: Mutex<Option<Instant>>,
}

fn unavailable(what: &str, e: sqlx::Error) -> RegistryError {
    RegistryError::Unavailable(format!("registry database, {what}: {e}"))
}

use baton_core::redact::redact_url as redact;

impl DbRegistry {
    /// Opens the registry on the metadata database at `database_url` (`sqlite://PATH` or
    /// `postgres://…`) and creates its table if needed; members whose heartbeat is older than
    /// `session_timeout` are dead.
    pub async fn connect(
        database_url: &str,
        session_timeout: Duration,
    ) -> Result<DbRegistry, RegistryError> {
        sqlx::any::install_default_drivers();
        if session_timeout.is_zero() {
            return Err(RegistryError::Config(
                "the session timeout must be positive".into(),
            ));
        }
        let shown = redact(database_url);
        // A call must not wait for a connection longer than a session lasts.
        let acquire = session_timeout.max(Duration::from_secs(1));
        let (dialect, pool) = if database_url.starts_with("sqlite:") {
            let url = if database_url.contains('?') {
                database_url.to_string()
            } else {
                format!("{database_url}?mode=rwc")
            };
            let options = AnyConnectOptions::from_str(&url).map_err(|e| {
                RegistryError::Config(format!("bad registry database URL `{shown}`: {e}"))
            })?;
            let busy_ms = acquire.as_millis();
            let pool = AnyPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(acquire)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        conn.execute(
                            format!(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = {busy_ms};"
                            )
                            .as_str(),
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await
                .map_err(|e| unavailable(&format!("connecting to `{shown}`"), e))?;
            (Dialect::Sqlite, pool)
        } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(acquire)
                .connect(database_url)
                .await
                .map_err(|e| unavailable(&format!("connecting to `{shown}`"), e))?;
            (Dialect::Postgres, pool)
        } else {
            return Err(RegistryError::Config(format!(
                "unsupported registry database URL `{shown}`: expected sqlite:// or postgres://"
            )));
        };
        let registry = DbRegistry {
            pool,
            dialect,
            session_timeout,
            last_sweep: Mutex::new(None),
        };
        registry.create_table().await?;
        tracing::debug!(database = %shown, ?session_timeout, "db registry ready");
        Ok(registry)
    }

    async fn create_table(&self) -> Result<(), RegistryError> {
        let sql = match self.dialect {
            Dialect::Sqlite => CREATE_TABLE.to_string(),
            // One statement, so the transaction-scoped lock lasts exactly as long as the
            // creation and never leaks into a pooled session.
            Dialect::Postgres => format!(
                "DO $baton$ BEGIN PERFORM pg_advisory_xact_lock({CREATE_LOCK_KEY}); \
                 {CREATE_TABLE}; END $baton$"
            ),
        };
        self.pool
            .execute(sql.as_str())
            .await
            .map_err(|e| unavailable("creating table registry_member", e))?;
        Ok(())
    }

    fn timeout_micros(&self) -> i64 {
        self.session_timeout.as_micros().min(i64::MAX as u128) as i64
    }

    /// Deletes rows that expired a while ago; at most once per session timeout.
    async fn sweep(&self) -> Result<(), RegistryError> {
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < self.session_timeout) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let deleted = sqlx::query(&format!(
            "DELETE FROM registry_member WHERE expires_at <= {}",
            self.dialect.now()
        ))
        .execute(&self.pool)
        .await
        .map_err(|e| unavailable("deleting expired members", e))?
        .rows_affected();
        if deleted > 0 {
            tracing::debug!(deleted, "swept expired registry rows");
        }
        Ok(())
    }
}

fn member_json(member: &Member) -> String {
    // A Member holds only strings, numbers and enums: serialising cannot fail.
    serde_json::to_string(member).unwrap_or_default()
}

#[async_trait::async_trait]
impl Registry for DbRegistry {
    async fn register(&self, member: &Member) -> Result<String, RegistryError> {
        let session = uuid::Uuid::new_v4().to_string();
        let now = self.dialect.now();
        let sql = format!(
            "INSERT INTO registry_member \
                 (id, role, address, grp, member, session, heartbeat_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, {now}, {now} + $7) \
             ON CONFLICT (id) DO UPDATE SET role = excluded.role, address = excluded.address, \
                 grp = excluded.grp, member = excluded.member, session = excluded.session, \
                 heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at"
        );
        sqlx::query(&sql)
            .bind(member.id.as_str())
            .bind(member.role.as_str())
            .bind(member.address.as_str())
            .bind(member.group.clone())
            .bind(member_json(member))
            .bind(session.as_str())
            .bind(self.timeout_micros())
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&format!("registering `{}`", member.id), e))?;
        tracing::info!(id = %member.id, role = member.role.as_str(), %session, "registered");
        Ok(session)
    }

    async fn heartbeat(&self, member: &Member, session: &str) -> Result<(), RegistryError> {
        let now = self.dialect.now();
        let sql = format!(
            "UPDATE registry_member SET role = $3, address = $4, grp = $5, member = $6, \
                 heartbeat_at = {now}, expires_at = {now} + $7 \
             WHERE id = $1 AND session = $2 AND expires_at > {now}"
        );
        let updated = sqlx::query(&sql)
            .bind(member.id.as_str())
            .bind(session)
            .bind(member.role.as_str())
            .bind(member.address.as_str())
            .bind(member.group.clone())
            .bind(member_json(member))
            .bind(self.timeout_micros())
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&format!("heartbeat of `{}`", member.id), e))?
            .rows_affected();
        if updated == 0 {
            return Err(RegistryError::SessionLost(member.id.clone()));
        }
        Ok(())
    }

    async fn deregister(&self, id: &str, session: &str) -> Result<(), RegistryError> {
        let deleted = sqlx::query("DELETE FROM registry_member WHERE id = $1 AND session = $2")
            .bind(id)
            .bind(session)
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&format!("deregistering `{id}`"), e))?
            .rows_affected();
        if deleted > 0 {
            tracing::info!(%id, %session, "deregistered");
        }
        Ok(())
    }

    async fn members(&self) -> Result<Vec<Registration>, RegistryError> {
        let sql = format!(
            "SELECT id, member, session, heartbeat_at FROM registry_member \
             WHERE expires_at > {} ORDER BY id",
            self.dialect.now()
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| unavailable("listing members", e))?;
        let mut members = Vec::with_capacity(rows.len());
        for row in rows {
            let read = |row: &sqlx::any::AnyRow| -> Result<Registration, String> {
                let json: String = row.try_get("member").map_err(|e| e.to_string())?;
                Ok(Registration {
                    member: serde_json::from_str(&json).map_err(|e| e.to_string())?,
                    session: row.try_get("session").map_err(|e| e.to_string())?,
                    heartbeat_at: row.try_get("heartbeat_at").map_err(|e| e.to_string())?,
                })
            };
            match read(&row) {
                Ok(registration) => members.push(registration),
                Err(e) => {
                    let id: String = row.try_get("id").unwrap_or_default();
                    tracing::warn!(%id, error = %e, "skipping an unreadable registry row");
                }
            }
        }
        if let Err(e) = self.sweep().await {
            tracing::debug!(error = %e, "could not sweep expired registry rows");
        }
        Ok(members)
    }

    fn session_timeout(&self) -> Duration {
        self.session_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
