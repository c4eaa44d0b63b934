//! Retention of history: ended workflow instances older than a cut-off are removed with their
//! task instances, attempts and events, a small batch per short transaction, so that a purge
//! of millions of rows never holds a lock the engine waits on for long.

use crate::error::Context;
use crate::Store;
use sqlx::Row;

/// Which ended instances a purge removes.
#[derive(Debug, Clone, Default)]
pub struct PurgeScope {
    /// Instances that ended before this time (µs since the epoch).
    pub ended_before: i64,
    /// Only instances of this project…
    pub project: Option<String>,
    /// …or (with no project) of every project but these: the projects that have a retention
    /// of their own.
    pub except_projects: Vec<String>,
}

/// What a purge removed, or what a dry run would remove.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Workflow instances.
    pub instances: u64,
    /// Their task instances.
    pub task_instances: u64,
    /// The ended attempts of those.
    pub attempts: u64,
    /// Their lifecycle events.
    pub events: u64,
}

impl Purged {
    /// Adds a batch's counts.
    pub fn add(&mut self, other: Purged) {
        self.instances += other.instances;
        self.task_instances += other.task_instances;
        self.attempts += other.attempts;
        self.events += other.events;
    }
}

/// When a sub-workflow's child instance is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Children {
    /// Only once its parent is gone (a purge).
    AfterParents,
    /// With its parent (counting what a purge will remove).
    WithParents,
}

impl PurgeScope {
    /// The condition an instance meets to be removed, over `workflow_instance`, with its
    /// values in placeholder order from `$1`. Only ended instances; none with a command
    /// waiting for a master (a recover asked of an old failed run); a sub-workflow's child
    /// only once its parent is gone, so that a kept parent never links to a removed child.
    /// With `children: Children::WithParents` (a count), a child counts as removed with its
    /// parent.
    fn condition(&self, children: Children) -> (String, Vec<Bound>) {
        let mut values = vec![Bound::Int(self.ended_before)];
        let mut sql = String::from(
            "workflow_instance.state IN ('stopped', 'succeeded', 'failed') \
             AND workflow_instance.ended_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM command c \
                 WHERE c.workflow_instance_id = workflow_instance.id)",
        );
        if children == Children::AfterParents {
            sql.push_str(
                " AND (workflow_instance.parent_instance_id IS NULL OR NOT EXISTS \
                 (SELECT 1 FROM workflow_instance p \
                  WHERE p.id = workflow_instance.parent_instance_id))",
            );
        }
        if let Some(p) = &self.project {
            values.push(Bound::Text(p.clone()));
            sql.push_str(&format!(
                " AND workflow_instance.project = ${}",
                values.len()
            ));
        } else if !self.except_projects.is_empty() {
            let mut marks = Vec::new();
            for p in &self.except_projects {
                values.push(Bound::Text(p.clone()));
                marks.push(format!("${}", values.len()));
            }
            sql.push_str(&format!(
                " AND workflow_instance.project NOT IN ({})",
                marks.join(", ")
            ));
        }
        (sql, values)
    }
}

/// Binds `values` in order to `query`.
pub(crate) fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: Vec<Bound>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for value in values {
        query = match value {
            Bound::Text(t) => query.bind(t),
            Bound::Int(i) => query.bind(i),
        };
    }
    query
}

/// A value bound to a placeholder of a query built from the filters given (a listing, a
/// purge's scope).
pub(crate) enum Bound {
    Text(String),
    Int(i64),
}

/// `$from, $from+1, …` for `n` values.
fn marks(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Removes up to `batch` instances of `scope` (oldest end first) with their task
    /// instances, attempts and events, in one short transaction; returns what it removed.
    /// Call it until it removes no instance.
    pub async fn purge_instances(
        &self,
        scope: &PurgeScope,
        batch: i64,
    ) -> Result<Purged, crate::StoreError> {
        let mut tx = self.write.begin().await.ctx("starting a purge")?;
        // Take the instances' rows first (a no-op update), checking the condition again on
        // the row as it is now: a recover that won the race keeps its instance.
        let (cond, values) = scope.condition(Children::AfterParents);
        let n = values.len();
        let sql = format!(
            "UPDATE workflow_instance SET epoch = epoch WHERE id IN \
             (SELECT id FROM workflow_instance WHERE {cond} ORDER BY ended_at LIMIT ${}) \
             AND {cond} RETURNING id",
            n + 1
        );
        let rows = bind_all(sqlx::query(&sql), values)
            .bind(batch.max(1))
            .fetch_all(&mut *tx)
            .await
            .ctx("choosing instances to purge")?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()
            .ctx("reading the instances to purge")?;
        if ids.is_empty() {
            return Ok(Purged::default());
        }
        let list = marks(1, ids.len());
        let in_batch = |sql: &str| sql.replace("{list}", &list);
        let attempts = delete_ids(
            &mut tx,
            &in_batch(
                "DELETE FROM task_attempt WHERE task_instance_id IN \
                 (SELECT id FROM task_instance WHERE workflow_instance_id IN ({list}))",
            ),
            &ids,
            "purging attempts",
        )
        .await?;
        let task_instances = delete_ids(
            &mut tx,
            &in_batch("DELETE FROM task_instance WHERE workflow_instance_id IN ({list})"),
            &ids,
            "purging task instances",
        )
        .await?;
        let events = delete_ids(
            &mut tx,
            &in_batch("DELETE FROM event WHERE workflow_instance_id IN ({list})"),
            &ids,
            "purging events",
        )
        .await?;
        let instances = delete_ids(
            &mut tx,
            &in_batch("DELETE FROM workflow_instance WHERE id IN ({list})"),
            &ids,
            "purging instances",
        )
        .await?;
        tx.commit().await.ctx("committing a purge")?;
        Ok(Purged {
            instances,
            task_instances,
            attempts,
            events,
        })
    }

    /// Removes every instance of `scope`, `batch` at a time, pausing between batches so that
    /// other transactions go in between, until none is left (returns true) or `deadline` has
    /// passed (returns false: call again to go on).
    pub async fn purge_until(
        &self,
        scope: &PurgeScope,
        batch: i64,
        deadline: Option<std::time::Instant>,
    ) -> Result<(Purged, bool), crate::StoreError> {
        let mut removed = Purged::default();
        loop {
            let done = self.purge_instances(scope, batch).await?;
            if done.instances == 0 {
                return Ok((removed, true));
            }
            removed.add(done);
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok((removed, false));
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// What purging `scope` would remove now, without removing anything. Children of
    /// sub-workflows count as removed with their parents.
    pub async fn count_purgeable(&self, scope: &PurgeScope) -> Result<Purged, crate::StoreError> {
        let (cond, _) = scope.condition(Children::WithParents);
        let chosen = format!("SELECT id FROM workflow_instance WHERE {cond}");
        let queries = [
            format!("SELECT count(*) FROM ({chosen}) chosen"),
            format!("SELECT count(*) FROM task_instance WHERE workflow_instance_id IN ({chosen})"),
            format!(
                "SELECT count(*) FROM task_attempt WHERE task_instance_id IN \
                 (SELECT id FROM task_instance WHERE workflow_instance_id IN ({chosen}))"
            ),
            format!("SELECT count(*) FROM event WHERE workflow_instance_id IN ({chosen})"),
        ];
        let mut counts = [0u64; 4];
        for (count, sql) in counts.iter_mut().zip(queries) {
            let (_, values) = scope.condition(Children::WithParents);
            let row = bind_all(sqlx::query(&sql), values)
                .fetch_one(&self.read)
                .await
                .ctx("counting what a purge removes")?;
            *count = u64::try_from(row.try_get::<i64, _>(0).ctx("reading a count")?).unwrap_or(0);
        }
        Ok(Purged {
            instances: counts[0],
            task_instances: counts[1],
            attempts: counts[2],
            events: counts[3],
        })
    }
}

/// Runs a `DELETE` whose placeholders are `ids`, in the purge's transaction.
async fn delete_ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sql: &str,
    ids: &[i64],
    what: &'static str,
) -> Result<u64, crate::StoreError> {
    let mut query = sqlx::query(sql);
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.execute(&mut **tx).await.ctx(what)?.rows_affected())
}
