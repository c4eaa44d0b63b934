//! Task groups: named pools of slots shared by every master. A master dispatching a task of a
//! group counts the group's attempts on workers under the group's row lock, so two masters
//! never overfill it.

use crate::engine::SqlEngineTx;
use crate::error::{Context, StoreError};
use crate::records::get;
use crate::{now_us, Backend, Store};
use serde::Serialize;
use std::collections::HashMap;

/// A task group and how many of its slots are taken.
#[derive(Debug, Clone, Serialize)]
pub struct TaskGroupRecord {
    /// Its name.
    pub name: String,
    /// Attempts of the group that may be on workers at once.
    pub slots: i64,
    /// Attempts of the group on workers now.
    pub used: i64,
}

const USED: &str = "(SELECT COUNT(*) FROM task_instance t WHERE t.task_group = g.name \
     AND t.state IN ('dispatched', 'running'))";

impl Store {
    /// Creates a task group, or changes its slots.
    pub async fn put_task_group(&self, name: &str, slots: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO task_group (name, slots, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET slots = excluded.slots",
        )
        .bind(name)
        .bind(slots)
        .bind(now_us())
        .execute(&self.write)
        .await
        .ctx("storing a task group")?;
        Ok(())
    }

    /// Every task group with its use.
    pub async fn list_task_groups(&self) -> Result<Vec<TaskGroupRecord>, StoreError> {
        let sql =
            format!("SELECT g.name, g.slots, {USED} AS used FROM task_group g ORDER BY g.name");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.read)
            .await
            .ctx("listing task groups")?;
        rows.iter()
            .map(|r| {
                Ok(TaskGroupRecord {
                    name: get(r, "name")?,
                    slots: get(r, "slots")?,
                    used: get(r, "used")?,
                })
            })
            .collect()
    }
}

impl SqlEngineTx {
    /// Free slots of these groups now, their rows locked until the commit (PostgreSQL); a
    /// group that does not exist is absent from the answer.
    pub async fn task_group_free(
        &mut self,
        names: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut free = HashMap::new();
        for name in names {
            let lock = match self.backend() {
                Backend::Postgres => " FOR UPDATE",
                Backend::Sqlite => "",
            };
            let sql = format!("SELECT slots FROM task_group WHERE name = $1{lock}");
            let slots: Option<i64> = sqlx::query_scalar(&sql)
                .bind(name)
                .fetch_optional(self.conn())
                .await
                .ctx("locking a task group")?;
            let Some(slots) = slots else { continue };
            let used: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM task_instance WHERE task_group = $1 \
                 AND state IN ('dispatched', 'running')",
            )
            .bind(name)
            .fetch_one(self.conn())
            .await
            .ctx("counting a task group's use")?;
            free.insert(name.clone(), slots - used);
        }
        Ok(free)
    }
}
