//! The records that hold a value sealed with the secret key (a data source's password, a
//! project secret, an alert channel's secret): what re-sealing them after a key rotation
//! reads and writes, once for all three.

use crate::error::Context;
use crate::{now_us, Store, StoreError};
use sqlx::Row;

/// A kind of record with a sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// A data source's password (`datasource.secret`, optional).
    DataSource,
    /// A project secret (`secret.sealed`).
    Secret,
    /// An alert channel's secret (`alert_channel.secret`, optional).
    AlertChannel,
}

impl SealedKind {
    /// Every kind, in the order re-sealing takes them.
    pub const ALL: [SealedKind; 3] = [
        SealedKind::DataSource,
        SealedKind::AlertChannel,
        SealedKind::Secret,
    ];

    /// Its table and the column of its sealed value.
    fn table_and_column(self) -> (&'static str, &'static str) {
        match self {
            SealedKind::DataSource => ("datasource", "secret"),
            SealedKind::Secret => ("secret", "sealed"),
            SealedKind::AlertChannel => ("alert_channel", "secret"),
        }
    }
}

/// One record's sealed value, as re-sealing reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    /// The record's id.
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Its name in the project.
    pub name: String,
    /// The sealed text (`v1.<key id>.…`).
    pub sealed: String,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedValue({} {}/{})", self.id, self.project, self.name)
    }
}

impl Store {
    /// Up to `limit` records of `kind`, by id after `after_id`, whose value is not sealed with
    /// the key `current_key` (its text does not start `v1.<current_key>.`): those to re-seal.
    pub async fn sealed_to_reseal(
        &self,
        kind: SealedKind,
        current_key: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<SealedValue>, StoreError> {
        let (table, column) = kind.table_and_column();
        let rows = sqlx::query(&format!(
            "SELECT id, project, name, {column} FROM {table} WHERE id > $1 \
             AND {column} IS NOT NULL AND {column} NOT LIKE $2 ORDER BY id LIMIT $3"
        ))
        .bind(after_id)
        // A key id is hex digits: nothing in it is special to LIKE.
        .bind(format!("v1.{current_key}.%"))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .ctx("finding sealed values to re-seal")?;
        rows.iter()
            .map(|r| {
                Ok(SealedValue {
                    id: r.try_get(0)?,
                    project: r.try_get(1)?,
                    name: r.try_get(2)?,
                    sealed: r.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .ctx("reading sealed values to re-seal")
    }

    /// Replaces a record's sealed value if it is still `old` (a change meanwhile wins);
    /// whether it was replaced.
    pub async fn reseal(
        &self,
        kind: SealedKind,
        id: i64,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let (table, column) = kind.table_and_column();
        let done = sqlx::query(&format!(
            "UPDATE {table} SET {column} = $1, updated_at = $2 WHERE id = $3 AND {column} = $4"
        ))
        .bind(new)
        .bind(now_us())
        .bind(id)
        .bind(old)
        .execute(&self.write)
        .await
        .ctx("re-sealing a sealed value")?;
        Ok(done.rows_affected() == 1)
    }
}
