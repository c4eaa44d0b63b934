//! Alerts: a project's channels (their secret kept only sealed, as the API gives it), its
//! rules, and the deliveries matched from the event log, each attempt recorded.
//!
//! Delivery is durable and shared by every master: the event log is matched after a cursor
//! kept here, each (rule, channel, event) becomes at most one delivery (its `once_key`), and a
//! delivery is sent only by the process holding its claim, a lease that another process
//! retakes once it has run out (the holder was killed mid-send).

use crate::auth::unique;
use crate::error::{Context, StoreError};
use crate::events::{EventRecord, EVENT_COLUMNS};
use crate::records::get;
use crate::{now_us, Store};
use baton_core::alert::AlertOn;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;
use std::fmt;

/// An alert channel as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AlertChannelRecord {
    /// Its id.
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Its name, unique in the project.
    pub name: String,
    /// Its type's name (`webhook`, `slack`, …).
    pub kind: String,
    /// Its settings as JSON (no secret in them).
    pub settings: String,
    /// Its secret, sealed; none when it has none.
    pub secret: Option<String>,
    /// When it was created (µs).
    pub created_at: i64,
    /// When it last changed (µs).
    pub updated_at: i64,
}

/// Its `Debug` never shows the sealed secret, only whether there is one.
impl fmt::Debug for AlertChannelRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertChannelRecord")
            .field("id", &self.id)
            .field("project", &self.project)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .field("has_secret", &self.secret.is_some())
            .finish()
    }
}

/// A channel to create.
#[derive(Clone)]
pub struct NewAlertChannel<'a> {
    /// Its project (which must exist).
    pub project: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its type's name.
    pub kind: &'a str,
    /// Its settings as JSON.
    pub settings: &'a str,
    /// Its secret, already sealed for this record.
    pub secret: Option<&'a str>,
}

/// A project's alert rule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRuleRecord {
    /// Its id.
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Only this workflow's events, if set.
    pub workflow: Option<String>,
    /// The kinds of events.
    pub on: Vec<AlertOn>,
    /// The channel's name.
    pub channel: String,
    /// When it was created (µs).
    pub created_at: i64,
}

/// Where a delivery stands (the API's `DeliveryState`, as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Accepted by its channel.
    Sent,
    /// Given up after its last attempt.
    Failed,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<DeliveryStatus, StoreError> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "sent" => Ok(DeliveryStatus::Sent),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(StoreError::Corrupt {
                context: "alert_delivery.state",
                detail: format!("unknown state `{other}`"),
            }),
        }
    }
}

/// A delivery to record: an event matched by a rule, for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Unique per rule, channel and event: a second match of the same is not recorded.
    pub once_key: String,
    /// The project.
    pub project: String,
    /// The event's workflow.
    pub workflow: Option<String>,
    /// The event's instance.
    pub instance_id: Option<i64>,
    /// The event.
    pub event_id: i64,
    /// What it is about.
    pub kind: AlertOn,
    /// The rule, for people (`rule 3`, `workflow etl alerts[1]`).
    pub rule: String,
    /// The channel's name.
    pub channel: String,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Its id.
    pub id: i64,
    /// What was recorded.
    pub delivery: NewDelivery,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// How many attempts were made.
    pub attempts: i64,
    /// When the next attempt is due (µs).
    pub next_at: i64,
    /// When it was matched (µs).
    pub created_at: i64,
}

/// One recorded attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// Its number, from 1.
    pub n: i64,
    /// When it was made (µs).
    pub at: i64,
    /// Whether the channel accepted the message.
    pub ok: bool,
    /// What failed.
    pub error: Option<String>,
}

/// What came of an attempt, and what follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptEnd {
    /// Accepted: the delivery is done.
    Sent,
    /// Failed; another attempt is due at this time (µs).
    Retry {
        /// What failed.
        error: String,
        /// When to try again.
        at: i64,
    },
    /// Failed, and it was the last attempt.
    GaveUp {
        /// What failed.
        error: String,
    },
}

const CHANNEL_COLUMNS: &str = "id, project, name, kind, settings, secret, created_at, updated_at";
const RULE_COLUMNS: &str = "id, project, workflow, kinds, channel, created_at";
const DELIVERY_COLUMNS: &str = "id, once_key, project, workflow, instance_id, event_id, kind, \
     rule, channel, state, attempts, next_at, created_at";

fn channel(row: &AnyRow) -> Result<AlertChannelRecord, StoreError> {
    Ok(AlertChannelRecord {
        id: get(row, "id")?,
        project: get(row, "project")?,
        name: get(row, "name")?,
        kind: get(row, "kind")?,
        settings: get(row, "settings")?,
        secret: get(row, "secret")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

fn kinds_text(on: &[AlertOn]) -> String {
    on.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")
}

fn corrupt_kind(e: baton_core::alert::UnknownAlertKind) -> StoreError {
    StoreError::Corrupt {
        context: "an alert's kind",
        detail: e.to_string(),
    }
}

fn rule(row: &AnyRow) -> Result<AlertRuleRecord, StoreError> {
    let kinds: String = get(row, "kinds")?;
    Ok(AlertRuleRecord {
        id: get(row, "id")?,
        project: get(row, "project")?,
        workflow: get(row, "workflow")?,
        on: AlertOn::parse_list(&kinds).map_err(corrupt_kind)?,
        channel: get(row, "channel")?,
        created_at: get(row, "created_at")?,
    })
}

fn delivery(row: &AnyRow) -> Result<DeliveryRecord, StoreError> {
    let kind: String = get(row, "kind")?;
    let state: String = get(row, "state")?;
    Ok(DeliveryRecord {
        id: get(row, "id")?,
        delivery: NewDelivery {
            once_key: get(row, "once_key")?,
            project: get(row, "project")?,
            workflow: get(row, "workflow")?,
            instance_id: get(row, "instance_id")?,
            event_id: get(row, "event_id")?,
            kind: kind.parse().map_err(corrupt_kind)?,
            rule: get(row, "rule")?,
            channel: get(row, "channel")?,
        },
        status: DeliveryStatus::parse(&state)?,
        attempts: get(row, "attempts")?,
        next_at: get(row, "next_at")?,
        created_at: get(row, "created_at")?,
    })
}

impl Store {
    /// Creates a channel; not found without its project, a conflict if the name is taken.
    pub async fn create_alert_channel(
        &self,
        new: NewAlertChannel<'_>,
    ) -> Result<AlertChannelRecord, StoreError> {
        if !self.project_exists(new.project).await? {
            return Err(StoreError::NotFound(format!("project `{}`", new.project)));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO alert_channel (project, name, kind, settings, secret, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {CHANNEL_COLUMNS}"
        ))
        .bind(new.project)
        .bind(new.name)
        .bind(new.kind)
        .bind(new.settings)
        .bind(new.secret)
        .bind(now_us())
        .fetch_one(&self.write)
        .await
        .map_err(|e| {
            let what = format!(
                "alert channel `{}` exists in project `{}`",
                new.name, new.project
            );
            unique(e, what, "creating an alert channel")
        })?;
        channel(&row)
    }

    /// A page of a project's channels by name: at most `limit` after the name `after`.
    pub async fn list_alert_channels(
        &self,
        project: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AlertChannelRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channel WHERE project = $1 AND name > $2 \
             ORDER BY name LIMIT $3"
        ))
        .bind(project)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .ctx("listing alert channels")?;
        rows.iter().map(channel).collect()
    }

    /// The channel `name` of `project`, if it exists.
    pub async fn get_alert_channel(
        &self,
        project: &str,
        name: &str,
    ) -> Result<Option<AlertChannelRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM alert_channel WHERE project = $1 AND name = $2"
        ))
        .bind(project)
        .bind(name)
        .fetch_optional(&self.read)
        .await
        .ctx("reading an alert channel")?;
        row.as_ref().map(channel).transpose()
    }

    /// Deletes a channel; not found when it does not exist. Its rules stay (their
    /// deliveries fail, saying the channel is gone) until deleted.
    pub async fn delete_alert_channel(&self, project: &str, name: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM alert_channel WHERE project = $1 AND name = $2")
            .bind(project)
            .bind(name)
            .execute(&self.write)
            .await
            .ctx("deleting an alert channel")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "alert channel `{name}` in project `{project}`"
            )));
        }
        Ok(())
    }

    /// Creates a project rule; not found without its project.
    pub async fn create_alert_rule(
        &self,
        project: &str,
        workflow: Option<&str>,
        on: &[AlertOn],
        channel: &str,
    ) -> Result<AlertRuleRecord, StoreError> {
        if !self.project_exists(project).await? {
            return Err(StoreError::NotFound(format!("project `{project}`")));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO alert_rule (project, workflow, kinds, channel, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {RULE_COLUMNS}"
        ))
        .bind(project)
        .bind(workflow)
        .bind(kinds_text(on))
        .bind(channel)
        .bind(now_us())
        .fetch_one(&self.write)
        .await
        .ctx("creating an alert rule")?;
        rule(&row)
    }

    /// A page of a project's rules by id: at most `limit` after the id `after`.
    pub async fn list_alert_rules(
        &self,
        project: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AlertRuleRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM alert_rule WHERE project = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(project)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .ctx("listing alert rules")?;
        rows.iter().map(rule).collect()
    }

    /// Deletes a project rule; not found when the project has no rule of that id.
    pub async fn delete_alert_rule(&self, project: &str, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM alert_rule WHERE project = $1 AND id = $2")
            .bind(project)
            .bind(id)
            .execute(&self.write)
            .await
            .ctx("deleting an alert rule")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "alert rule {id} in project `{project}`"
            )));
        }
        Ok(())
    }

    /// How far the event log has been matched against the rules: the last event id.
    pub async fn alert_cursor(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT event_id FROM alert_cursor WHERE id = 1")
            .fetch_one(&self.read)
            .await
            .ctx("reading the alert cursor")
    }

    /// Records the deliveries matched from the events up to `through` (an event id) and moves
    /// the cursor there, in one transaction: a delivery already recorded (another master
    /// matched the same events) is kept as it is, and the cursor never moves back.
    pub async fn record_deliveries(
        &self,
        new: &[NewDelivery],
        through: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .write
            .begin()
            .await
            .ctx("starting to record deliveries")?;
        let now = now_us();
        for d in new {
            sqlx::query(
                "INSERT INTO alert_delivery (once_key, project, workflow, instance_id, event_id, \
                 kind, rule, channel, state, attempts, next_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9) \
                 ON CONFLICT (once_key) DO NOTHING",
            )
            .bind(&d.once_key)
            .bind(&d.project)
            .bind(d.workflow.as_deref())
            .bind(d.instance_id)
            .bind(d.event_id)
            .bind(d.kind.as_str())
            .bind(&d.rule)
            .bind(&d.channel)
            .bind(now)
            .execute(&mut *tx)
            .await
            .ctx("recording a delivery")?;
        }
        sqlx::query("UPDATE alert_cursor SET event_id = $1 WHERE id = 1 AND event_id < $1")
            .bind(through)
            .execute(&mut *tx)
            .await
            .ctx("moving the alert cursor")?;
        tx.commit().await.ctx("committing deliveries")
    }

    /// Up to `limit` pending deliveries due at `now` (µs) that nobody holds (no claim, or one
    /// run out), oldest due first.
    pub async fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_delivery WHERE state = 'pending' \
             AND next_at <= $1 AND (claim_until IS NULL OR claim_until < $1) \
             ORDER BY next_at, id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .ctx("finding due deliveries")?;
        rows.iter().map(delivery).collect()
    }

    /// Claims a pending delivery under `token` until `until` (µs), if nobody else holds it
    /// at `now`; whether this caller got it.
    pub async fn claim_delivery(
        &self,
        id: i64,
        token: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE alert_delivery SET claim = $1, claim_until = $2 WHERE id = $3 \
             AND state = 'pending' AND (claim_until IS NULL OR claim_until < $4)",
        )
        .bind(token)
        .bind(until)
        .bind(id)
        .bind(now)
        .execute(&self.write)
        .await
        .ctx("claiming a delivery")?;
        Ok(done.rows_affected() == 1)
    }

    /// Lets go every claim whose token starts with `owner` and `:` (the claims a process of
    /// that identity held before it was restarted: they are dead, and need not wait for their
    /// lease); how many.
    pub async fn release_claims(&self, owner: &str) -> Result<u64, StoreError> {
        let escaped = owner
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let done = sqlx::query(
            "UPDATE alert_delivery SET claim = NULL, claim_until = NULL \
             WHERE state = 'pending' AND claim LIKE $1 ESCAPE '\\'",
        )
        .bind(format!("{escaped}:%"))
        .execute(&self.write)
        .await
        .ctx("releasing claims")?;
        Ok(done.rows_affected())
    }

    /// Records an attempt made under the claim `token` and what follows, and lets the claim
    /// go; false (nothing written) when the claim was lost meanwhile (run out and retaken).
    pub async fn finish_attempt(
        &self,
        id: i64,
        token: &str,
        at: i64,
        end: &AttemptEnd,
    ) -> Result<bool, StoreError> {
        let (state, next_at, error) = match end {
            AttemptEnd::Sent => (DeliveryStatus::Sent, at, None),
            AttemptEnd::Retry { error, at: next } => (DeliveryStatus::Pending, *next, Some(error)),
            AttemptEnd::GaveUp { error } => (DeliveryStatus::Failed, at, Some(error)),
        };
        let mut tx = self
            .write
            .begin()
            .await
            .ctx("starting to record an attempt")?;
        let done = sqlx::query(
            "UPDATE alert_delivery SET state = $1, next_at = $2, attempts = attempts + 1, \
             claim = NULL, claim_until = NULL WHERE id = $3 AND claim = $4",
        )
        .bind(state.as_str())
        .bind(next_at)
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await
        .ctx("recording an attempt")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO alert_attempt (delivery_id, n, at, ok, error) \
             SELECT id, attempts, $1, $2, $3 FROM alert_delivery WHERE id = $4",
        )
        .bind(at)
        .bind(i64::from(error.is_none()))
        .bind(error.map(String::as_str))
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("recording an attempt")?;
        tx.commit().await.ctx("committing an attempt")?;
        Ok(true)
    }

    /// A page of a project's deliveries, newest first: at most `limit` with an id below
    /// `before`, of `workflow` when given.
    pub async fn list_deliveries(
        &self,
        project: &str,
        workflow: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_delivery WHERE project = $1 \
             AND ($2 = '' OR workflow = $2) AND id < $3 ORDER BY id DESC LIMIT $4"
        ))
        .bind(project)
        .bind(workflow.unwrap_or(""))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .ctx("listing deliveries")?;
        rows.iter().map(delivery).collect()
    }

    /// One delivery.
    pub async fn get_delivery(&self, id: i64) -> Result<Option<DeliveryRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_delivery WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .ctx("reading a delivery")?;
        row.as_ref().map(delivery).transpose()
    }

    /// The attempts of these deliveries, oldest first, by delivery.
    pub async fn delivery_attempts(
        &self,
        ids: &[i64],
    ) -> Result<BTreeMap<i64, Vec<AttemptRow>>, StoreError> {
        let mut all: BTreeMap<i64, Vec<AttemptRow>> = BTreeMap::new();
        let (Some(low), Some(high)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok(all);
        };
        let rows = sqlx::query(
            "SELECT delivery_id, n, at, ok, error FROM alert_attempt \
             WHERE delivery_id >= $1 AND delivery_id <= $2 ORDER BY delivery_id, n",
        )
        .bind(low)
        .bind(high)
        .fetch_all(&self.read)
        .await
        .ctx("listing delivery attempts")?;
        for r in &rows {
            let id: i64 = get(r, "delivery_id")?;
            if !ids.contains(&id) {
                continue;
            }
            let ok: i64 = get(r, "ok")?;
            all.entry(id).or_default().push(AttemptRow {
                n: get(r, "n")?,
                at: get(r, "at")?,
                ok: ok != 0,
                error: get(r, "error")?,
            });
        }
        Ok(all)
    }

    /// One event of the log, if it is still there.
    pub async fn get_event(&self, id: i64) -> Result<Option<EventRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM event WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .ctx("reading an event")?;
        row.as_ref().map(EventRecord::from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use crate::{EventFilter, NewEvent};
    use baton_core::EventKind;

    fn delivery(key: &str, event_id: i64) -> NewDelivery {
        NewDelivery {
            once_key: key.into(),
            project: "default".into(),
            workflow: Some("etl".into()),
            instance_id: Some(3),
            event_id,
            kind: AlertOn::InstanceFailed,
            rule: "rule 1".into(),
            channel: "ops".into(),
        }
    }

    async fn channels_and_rules(store: &Store) {
        let new = NewAlertChannel {
            project: "default",
            name: "ops",
            kind: "slack",
            settings: "{}",
            secret: Some("v1.k.sealed"),
        };
        let c = store.create_alert_channel(new.clone()).await.unwrap();
        assert_eq!((c.name.as_str(), c.kind.as_str()), ("ops", "slack"));
        assert!(
            !format!("{c:?}").contains("sealed"),
            "Debug hides the secret"
        );
        let again = store.create_alert_channel(new.clone()).await.unwrap_err();
        assert!(matches!(again, StoreError::Conflict(_)), "{again}");
        let elsewhere = NewAlertChannel {
            project: "nope",
            ..new
        };
        assert!(matches!(
            store.create_alert_channel(elsewhere).await.unwrap_err(),
            StoreError::NotFound(_)
        ));
        let page = store
            .list_alert_channels("default", None, 10)
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        assert!(store
            .list_alert_channels("default", Some("ops"), 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .sealed_to_reseal(crate::SealedKind::AlertChannel, "k", 0, 10)
                .await
                .unwrap()
                .len(),
            0
        );
        assert_eq!(
            store
                .sealed_to_reseal(crate::SealedKind::AlertChannel, "other", 0, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(store
            .reseal(
                crate::SealedKind::AlertChannel,
                c.id,
                "v1.k.sealed",
                "v1.n.x"
            )
            .await
            .unwrap());
        assert!(!store
            .reseal(
                crate::SealedKind::AlertChannel,
                c.id,
                "v1.k.sealed",
                "v1.n.y"
            )
            .await
            .unwrap());

        let on = [AlertOn::InstanceFailed, AlertOn::TaskTimeout];
        let r = store
            .create_alert_rule("default", Some("etl"), &on, "ops")
            .await
            .unwrap();
        assert_eq!(r.on, on.to_vec());
        let r2 = store
            .create_alert_rule("default", None, &on[..1], "ops")
            .await
            .unwrap();
        let rules = store.list_alert_rules("default", 0, 10).await.unwrap();
        assert_eq!(
            rules.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![r.id, r2.id]
        );
        assert_eq!(rules[1].workflow, None);
        store.delete_alert_rule("default", r.id).await.unwrap();
        assert!(store.delete_alert_rule("default", r.id).await.is_err());
        store.delete_alert_channel("default", "ops").await.unwrap();
        assert!(store
            .get_alert_channel("default", "ops")
            .await
            .unwrap()
            .is_none());
    }

    async fn deliveries_are_recorded_once_claimed_and_attempted(store: &Store) {
        // The cursor starts at the newest event of the log when alerts came.
        let start = store.alert_cursor().await.unwrap();
        let mut tx = store.begin_engine().await.unwrap();
        tx.insert_events(&[NewEvent::new(EventKind::WorkerLost, 1, "x")])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let event = store.list_events(&EventFilter::default()).await.unwrap()[0].clone();
        assert!(event.id > start);
        assert_eq!(
            store.get_event(event.id).await.unwrap().unwrap().id,
            event.id
        );

        let batch = [delivery("rule:1|ops|9", 9), delivery("rule:1|ops|10", 10)];
        store.record_deliveries(&batch, 10).await.unwrap();
        // Another master matched the same events: nothing new, and the cursor stays.
        store.record_deliveries(&batch[..1], 5).await.unwrap();
        assert_eq!(store.alert_cursor().await.unwrap(), 10);
        let all = store
            .list_deliveries("default", None, None, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].delivery.event_id, 10, "newest first");
        assert_eq!(all[0].status, DeliveryStatus::Pending);
        assert!(store
            .list_deliveries("default", Some("other"), None, 10)
            .await
            .unwrap()
            .is_empty());
        let older = store
            .list_deliveries("default", None, Some(all[0].id), 10)
            .await
            .unwrap();
        assert_eq!(older.len(), 1);

        let now = now_us();
        let due = store.due_deliveries(now, 10).await.unwrap();
        assert_eq!(due.len(), 2);
        let id = due[0].id;
        assert!(store
            .claim_delivery(id, "m_1:x", now, now + 1000)
            .await
            .unwrap());
        assert_eq!(store.release_claims("m%1").await.unwrap(), 0, "no wildcard");
        assert_eq!(
            store.release_claims("m_1").await.unwrap(),
            1,
            "a restarted m_1's claim"
        );
        assert!(store
            .claim_delivery(id, "a", now, now + 1000)
            .await
            .unwrap());
        assert!(
            !store
                .claim_delivery(id, "b", now, now + 1000)
                .await
                .unwrap(),
            "held by a"
        );
        assert_eq!(store.due_deliveries(now, 10).await.unwrap().len(), 1);
        // a's lease runs out (a was killed): b retakes it, and a's late result is refused.
        let later = now + 2000;
        assert!(store
            .claim_delivery(id, "b", later, later + 1000)
            .await
            .unwrap());
        let retry = AttemptEnd::Retry {
            error: "500".into(),
            at: later + 5,
        };
        assert!(!store.finish_attempt(id, "a", later, &retry).await.unwrap());
        assert!(store.finish_attempt(id, "b", later, &retry).await.unwrap());
        assert!(store
            .due_deliveries(later, 10)
            .await
            .unwrap()
            .iter()
            .all(|d| d.id != id));
        let due = store.due_deliveries(later + 5, 10).await.unwrap();
        let d = due.iter().find(|d| d.id == id).unwrap();
        assert_eq!(d.attempts, 1);
        assert!(store
            .claim_delivery(id, "c", later + 5, later + 100)
            .await
            .unwrap());
        assert!(store
            .finish_attempt(id, "c", later + 6, &AttemptEnd::Sent)
            .await
            .unwrap());
        let attempts = store.delivery_attempts(&[id, all[1].id]).await.unwrap();
        let mine = &attempts[&id];
        assert_eq!(mine.len(), 2);
        assert_eq!(
            (mine[0].n, mine[0].ok, mine[0].error.as_deref()),
            (1, false, Some("500"))
        );
        assert_eq!(
            (mine[1].n, mine[1].ok, mine[1].error.as_deref()),
            (2, true, None)
        );
        let done = store.get_delivery(id).await.unwrap().unwrap();
        assert_eq!(done.status, DeliveryStatus::Sent);
        assert!(store
            .due_deliveries(later + 10_000, 10)
            .await
            .unwrap()
            .iter()
            .all(|d| d.id != id));
        let gave_up = AttemptEnd::GaveUp {
            error: "down".into(),
        };
        let other = all.iter().map(|d| d.id).find(|i| *i != id).unwrap();
        assert!(store
            .claim_delivery(other, "d", later, later + 100)
            .await
            .unwrap());
        assert!(store
            .finish_attempt(other, "d", later, &gave_up)
            .await
            .unwrap());
        let failed = store.get_delivery(other).await.unwrap().unwrap();
        assert_eq!(failed.status, DeliveryStatus::Failed);
    }

    #[tokio::test]
    async fn sqlite() {
        let db = TestDb::sqlite();
        let store = db.store().await;
        channels_and_rules(&store).await;
        deliveries_are_recorded_once_claimed_and_attempted(&store).await;
    }

    #[tokio::test]
    async fn postgres() {
        let db = TestDb::postgres().await;
        let store = db.store().await;
        channels_and_rules(&store).await;
        deliveries_are_recorded_once_claimed_and_attempted(&store).await;
    }
}
