//! Retention: events older than the event retention, and ended instances (with their tasks,
//! attempts and events) older than the instance retention, are removed in small batches by a
//! task of their own, off the engine, so that a large backlog never blocks a tick (each batch
//! is a short transaction; the engine's ticks interleave with them).

use baton_store::{now_us, PurgeScope, Purged, Store};
use std::collections::BTreeMap;
use std::time::Duration;

/// Events removed per statement.
const BATCH: i64 = 1000;

/// Instances removed per transaction (with their task instances, attempts and events).
const INSTANCE_BATCH: i64 = 200;

/// How long ended workflow instances are kept: by default (none: for ever), and per project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceRetention {
    /// For every project without a period of its own; `None` keeps them.
    pub default: Option<Duration>,
    /// Projects with a period of their own.
    pub projects: BTreeMap<String, Duration>,
}

impl InstanceRetention {
    /// True when nothing is ever removed.
    pub fn keeps_everything(&self) -> bool {
        self.default.is_none() && self.projects.is_empty()
    }

    /// The purges to run at `now` (µs): one per project with its own period, then one for
    /// every other project when there is a default.
    pub fn scopes(&self, now: i64) -> Vec<PurgeScope> {
        let before = |keep: Duration| now.saturating_sub(baton_core::duration::micros(keep));
        let mut scopes: Vec<PurgeScope> = self
            .projects
            .iter()
            .map(|(project, keep)| PurgeScope {
                ended_before: before(*keep),
                project: Some(project.clone()),
                except_projects: Vec::new(),
            })
            .collect();
        if let Some(keep) = self.default {
            scopes.push(PurgeScope {
                ended_before: before(keep),
                project: None,
                except_projects: self.projects.keys().cloned().collect(),
            });
        }
        scopes
    }

    /// The shortest period, which sets how often to look.
    fn shortest(&self) -> Option<Duration> {
        self.default
            .into_iter()
            .chain(self.projects.values().copied())
            .min()
    }
}

/// How long to keep events when nothing else is configured.
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Removes events older than `keep` and the instances `instances` no longer keeps, now and
/// then periodically, until the process ends.
pub(crate) fn spawn(
    store: Store,
    keep: Duration,
    instances: InstanceRetention,
) -> tokio::task::JoinHandle<()> {
    // Look about ten times per retention period, at most hourly, at least every minute.
    let shortest = instances.shortest().map_or(keep, |i| i.min(keep));
    let every = (shortest / 10).clamp(Duration::from_secs(60), Duration::from_secs(3600));
    tokio::spawn(async move {
        loop {
            match prune(&store, keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} events older than the retention period"),
                Err(e) => tracing::warn!("removing old events failed (will try again): {e}"),
            }
            for scope in instances.scopes(now_us()) {
                match purge(&store, &scope).await {
                    Ok(p) if p.instances == 0 => {}
                    Ok(p) => tracing::info!(
                        "removed {} ended instances older than the retention period \
                         ({} task instances, {} attempts, {} events)",
                        p.instances,
                        p.task_instances,
                        p.attempts,
                        p.events
                    ),
                    Err(e) => tracing::warn!("removing old instances failed (will try again): {e}"),
                }
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Removes every instance of `scope`, a batch at a time; returns what it removed.
async fn purge(store: &Store, scope: &PurgeScope) -> Result<Purged, baton_store::StoreError> {
    Ok(store.purge_until(scope, INSTANCE_BATCH, None).await?.0)
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

    #[test]
    fn each_project_with_a_period_is_purged_on_its_own_and_the_rest_by_the_default() {
        let day = Duration::from_secs(24 * 3600);
        let now = 1_000 * 24 * 3600 * 1_000_000_i64;
        let us = |d: Duration| baton_core::duration::micros(d);
        let retention = InstanceRetention {
            default: Some(90 * day),
            projects: BTreeMap::from([("sales".to_string(), 7 * day)]),
        };
        let scopes = retention.scopes(now);
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[0].project.as_deref(), Some("sales"));
        assert_eq!(scopes[0].ended_before, now - us(7 * day));
        assert_eq!(scopes[1].project, None);
        assert_eq!(scopes[1].except_projects, vec!["sales".to_string()]);
        assert_eq!(scopes[1].ended_before, now - us(90 * day));
        assert_eq!(retention.shortest(), Some(7 * day));

        let only_sales = InstanceRetention {
            default: None,
            ..retention
        };
        assert_eq!(
            only_sales.scopes(now).len(),
            1,
            "no default: other projects kept"
        );
        assert!(InstanceRetention::default().scopes(now).is_empty());
        assert!(InstanceRetention::default().keeps_everything());
    }
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
