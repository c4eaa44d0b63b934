//! Durable delivery, driven from the event log and never from in-memory broadcasts: every
//! master (and standalone) runs [`spawn`], a loop off the engine that
//!
//! 1. reads the events after the store's alert cursor, matches them against the project's
//!    rules and the workflow file's `alerts:` ([`matches`], pure), and records one delivery
//!    per (rule, channel, event) under a unique key with the cursor's move, in one
//!    transaction (two masters, or a restart, never make two);
//! 2. claims due deliveries with a lease (a master killed mid-send leaves a claim another
//!    retakes once it runs out), sends each in a task of its own within the channel's
//!    timeout, and records the attempt and what follows ([`after_attempt`], pure: exponential
//!    backoff up to a number of attempts).
//!
//! A dead channel costs only its own sends' timeouts; the engine never waits for any of it.

use crate::channel::{secret_context, Channel};
use crate::logs::LogTail;
use crate::message::{Alert, FailedTask};
use crate::send::Sender;
use baton_api_model::{AlertChannelSettings, AlertChannelType};
use baton_core::alert::{AlertOn, AlertRuleSpec};
use baton_core::{TaskState, WorkflowInstanceId};
use baton_store::{
    AlertRuleRecord, AttemptEnd, DeliveryRecord, EventFilter, EventRecord, NewDelivery, Store,
    StoreError,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// When the attempts after a failure are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure; it doubles after each one.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Attempts in all; after the last failure the delivery is given up.
    pub attempts: i64,
}

impl Default for Backoff {
    /// 2 s, 4 s, 8 s … up to 10 minutes, 10 attempts (about half an hour in all).
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_secs(2),
            max: Duration::from_secs(600),
            attempts: 10,
        }
    }
}

/// How the delivery loop works.
#[derive(Clone)]
pub struct DeliveryConfig {
    /// This process's identity, stable across its restarts (a master's id): its claims carry
    /// it, and a restart lets go at once of the claims it held before.
    pub owner: String,
    /// The API's base URL as people reach it (`--public-url`), for the links in messages.
    pub public_url: Option<String>,
    /// Sends the messages.
    pub sender: Sender,
    /// Opens the channels' secrets.
    pub keyring: Option<Arc<baton_secrets::Keyring>>,
    /// Reads the last lines of a failed task's log.
    pub logs: Option<LogTail>,
    /// How often to look for events and due deliveries.
    pub poll: Duration,
    /// How long a claim holds: past it, another process may retake the delivery.
    pub lease: Duration,
    /// When to try again.
    pub backoff: Backoff,
}

impl DeliveryConfig {
    /// The defaults: a look every second, a 2-minute lease, [`Backoff::default`].
    pub fn new(owner: impl Into<String>, sender: Sender) -> DeliveryConfig {
        DeliveryConfig {
            owner: owner.into(),
            public_url: None,
            sender,
            keyring: None,
            logs: None,
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(120),
            backoff: Backoff::default(),
        }
    }
}

/// How many events are matched per pass, and deliveries claimed per pass.
const BATCH: i64 = 200;
/// Sends in flight at most.
const IN_FLIGHT: usize = 16;

/// The deliveries an alertable event of `project` makes: one per matching project rule and
/// per channel of each matching rule of the workflow's file.
pub fn matches(
    event: &EventRecord,
    kind: AlertOn,
    project_rules: &[AlertRuleRecord],
    workflow_rules: &[AlertRuleSpec],
) -> Vec<NewDelivery> {
    let e = &event.event;
    let Some(project) = e.project.clone() else {
        return Vec::new();
    };
    let new = |rule: String, key: String, channel: &str| NewDelivery {
        once_key: format!("{key}|{channel}|{}", event.id),
        project: project.clone(),
        workflow: e.workflow.clone(),
        instance_id: e.workflow_instance_id.map(|i| i.0),
        event_id: event.id,
        kind,
        rule,
        channel: channel.to_string(),
    };
    let mut out = Vec::new();
    for r in project_rules {
        let workflow_ok = r.workflow.is_none() || r.workflow == e.workflow;
        if workflow_ok && r.on.contains(&kind) {
            out.push(new(
                format!("rule {}", r.id),
                format!("rule:{}", r.id),
                &r.channel,
            ));
        }
    }
    if let Some(workflow) = &e.workflow {
        for (i, r) in workflow_rules.iter().enumerate() {
            if !r.matches(kind) {
                continue;
            }
            for c in &r.channels {
                let rule = format!("workflow {workflow} alerts[{}]", i + 1);
                out.push(new(rule, format!("workflow:{workflow}:{}", i + 1), c));
            }
        }
    }
    out
}

/// What follows attempt number `done` (from 1) made at `now` (µs) with this outcome.
pub fn after_attempt(
    done: i64,
    now: i64,
    backoff: &Backoff,
    outcome: Result<(), String>,
) -> AttemptEnd {
    let error = match outcome {
        Ok(()) => return AttemptEnd::Sent,
        Err(e) => e,
    };
    if done >= backoff.attempts {
        return AttemptEnd::GaveUp { error };
    }
    let factor = 1u32 << (done - 1).clamp(0, 20) as u32;
    let wait = backoff.first.saturating_mul(factor).min(backoff.max);
    AttemptEnd::Retry {
        error,
        at: now + baton_core::duration::micros(wait),
    }
}

/// Starts the delivery loop on `store`; `wake` (when given) makes it look at once (events
/// were recorded). Runs until the process ends.
pub fn spawn(
    store: Store,
    config: DeliveryConfig,
    wake: Option<Arc<tokio::sync::Notify>>,
) -> tokio::task::JoinHandle<()> {
    let loop_ = Loop {
        store,
        config: Arc::new(config),
        slots: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
    };
    tokio::spawn(async move {
        match loop_.store.release_claims(&loop_.config.owner).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!("alerts: took back {n} delivery claim(s) of before the restart")
            }
            Err(e) => tracing::warn!("alerts: cannot take back earlier claims: {e}"),
        }
        loop {
            if let Err(e) = loop_.match_events().await {
                tracing::warn!("alerts: matching events failed (will try again): {e}");
            }
            if let Err(e) = loop_.send_due().await {
                tracing::warn!("alerts: finding due deliveries failed (will try again): {e}");
            }
            let poll = tokio::time::sleep(loop_.config.poll);
            match &wake {
                Some(w) => {
                    tokio::select! {
                        _ = poll => {}
                        _ = w.notified() => {}
                    }
                }
                None => poll.await,
            }
        }
    })
}

#[derive(Clone)]
struct Loop {
    store: Store,
    config: Arc<DeliveryConfig>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Loop {
    /// Matches the events after the cursor, a batch at a time, until none is left.
    async fn match_events(&self) -> Result<(), StoreError> {
        loop {
            let cursor = self.store.alert_cursor().await?;
            let events = self
                .store
                .list_events(&EventFilter {
                    after: Some(cursor),
                    limit: Some(BATCH),
                    ..Default::default()
                })
                .await?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(());
            };
            let mut rules = Rules::default();
            let mut new = Vec::new();
            for event in &events {
                let (Some(kind), Some(project)) =
                    (AlertOn::of_event(event.event.kind), &event.event.project)
                else {
                    continue;
                };
                let project_rules = rules.project(&self.store, project).await?;
                let workflow_rules = match &event.event.workflow {
                    Some(w) => rules.workflow(&self.store, project, w).await?,
                    None => Vec::new(),
                };
                new.extend(matches(event, kind, &project_rules, &workflow_rules));
            }
            self.store.record_deliveries(&new, last).await?;
            if (events.len() as i64) < BATCH {
                return Ok(());
            }
        }
    }

    /// Claims the due deliveries and sends each in a task of its own.
    async fn send_due(&self) -> Result<(), StoreError> {
        let now = baton_store::now_us();
        let due = self.store.due_deliveries(now, BATCH).await?;
        for d in due {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            let token = format!("{}:{}", self.config.owner, uuid::Uuid::new_v4());
            let until = now + baton_core::duration::micros(self.config.lease);
            if !self.store.claim_delivery(d.id, &token, now, until).await? {
                continue;
            }
            let this = self.clone();
            tokio::spawn(async move {
                this.attempt(d, &token).await;
                drop(permit);
            });
        }
        Ok(())
    }

    /// One attempt at a claimed delivery, recorded with what follows.
    async fn attempt(&self, d: DeliveryRecord, token: &str) {
        let outcome = self.send(&d).await;
        let at = baton_store::now_us();
        if let Err(e) = &outcome {
            tracing::warn!(
                "alerts: delivery {} ({} of event {}) to channel {}/{} failed: {e}",
                d.id,
                d.delivery.rule,
                d.delivery.event_id,
                d.delivery.project,
                d.delivery.channel
            );
        }
        let end = after_attempt(d.attempts + 1, at, &self.config.backoff, outcome);
        match self.store.finish_attempt(d.id, token, at, &end).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "alerts: delivery {}: the claim ran out during the send; another process retakes it",
                d.id
            ),
            Err(e) => tracing::warn!("alerts: delivery {}: cannot record the attempt: {e}", d.id),
        }
    }

    async fn send(&self, d: &DeliveryRecord) -> Result<(), String> {
        let channel = load_channel(
            &self.store,
            self.config.keyring.as_deref(),
            &d.delivery.project,
            &d.delivery.channel,
        )
        .await?;
        let alert = self.alert(d).await?;
        self.config.sender.send(&channel, &alert).await.map(|_| ())
    }

    /// The message of a delivery, from its event and its instance.
    async fn alert(&self, d: &DeliveryRecord) -> Result<Alert, String> {
        let store_error = |e: StoreError| format!("cannot read the store: {e}");
        let event = self
            .store
            .get_event(d.delivery.event_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| "its event was removed from the event log (retention)".to_string())?;
        let e = &event.event;
        let mut alert = Alert {
            event_id: event.id,
            kind: d.delivery.kind,
            project: d.delivery.project.clone(),
            workflow: e.workflow.clone(),
            instance_id: e.workflow_instance_id.map(|i| i.0),
            task: e.task_name.clone(),
            message: e.message.clone(),
            at: baton_api_model::time::from_us(e.at).to_rfc3339(),
            link: None,
            params: Default::default(),
            failed_tasks: Vec::new(),
            test: false,
        };
        if let Some(id) = e.workflow_instance_id {
            self.add_instance(&mut alert, id)
                .await
                .map_err(store_error)?;
        }
        Ok(alert)
    }

    async fn add_instance(
        &self,
        alert: &mut Alert,
        id: WorkflowInstanceId,
    ) -> Result<(), StoreError> {
        if let Some(base) = &self.config.public_url {
            alert.link = Some(format!("{}/instances/{}", base.trim_end_matches('/'), id.0));
        }
        let Some(instance) = self.store.get_instance(id).await? else {
            return Ok(());
        };
        // The workflow's defaults, under the values the instance was started with.
        let version = self
            .store
            .get_workflow_version(instance.workflow_id, instance.version)
            .await?;
        let mut params = version.map(|w| w.spec.params).unwrap_or_default();
        params.extend(instance.params);
        alert.params = params;
        // A mapped task stands for its items (its message names the failed ones), so that a
        // map of thousands of items makes one line, not one log read per item.
        let failed = self.store.instance_tasks(id).await?;
        for (i, t) in failed
            .into_iter()
            .filter(|t| t.state == TaskState::Failed)
            .enumerate()
        {
            let log_tail = match &self.config.logs {
                Some(logs) if i < MAX_LOG_TAILS => logs.tail(&t).await,
                Some(_) | None => None,
            };
            alert.failed_tasks.push(FailedTask {
                name: t.task_name.clone(),
                message: t.message.clone(),
                log_tail,
            });
        }
        Ok(())
    }
}

/// At most this many failed tasks of an alert have their log's last lines read.
const MAX_LOG_TAILS: usize = 10;

/// The channel `name` of `project` from the store, its secret opened: ready to send.
pub async fn load_channel(
    store: &Store,
    keyring: Option<&baton_secrets::Keyring>,
    project: &str,
    name: &str,
) -> Result<Channel, String> {
    let record = store
        .get_alert_channel(project, name)
        .await
        .map_err(|e| format!("cannot read the store: {e}"))?
        .ok_or_else(|| format!("there is no alert channel `{name}` in project `{project}`"))?;
    let kind: AlertChannelType = record.kind.parse()?;
    let settings: AlertChannelSettings = serde_json::from_str(&record.settings)
        .map_err(|e| format!("the channel's stored settings are unreadable: {e}"))?;
    let secret = match &record.secret {
        None => None,
        Some(sealed) => {
            let keyring = keyring.ok_or_else(|| {
                "this server has no secret key (--secret-key-file), so it cannot open the \
                 channel's secret"
                    .to_string()
            })?;
            let open = keyring
                .open_text(&secret_context(project, name), sealed)
                .map_err(|e| e.to_string())?;
            Some(open)
        }
    };
    Channel::build(name, kind, &settings, secret.as_deref().map(|s| s.as_str()))
        .map_err(|e| e.to_string())
}

/// The rules read during one pass, each project's and workflow's once.
#[derive(Default)]
struct Rules {
    projects: HashMap<String, Vec<AlertRuleRecord>>,
    workflows: HashMap<(String, String), Vec<AlertRuleSpec>>,
}

impl Rules {
    async fn project(
        &mut self,
        store: &Store,
        project: &str,
    ) -> Result<Vec<AlertRuleRecord>, StoreError> {
        if let Some(r) = self.projects.get(project) {
            return Ok(r.clone());
        }
        let rules = store.list_alert_rules(project, 0, 1000).await?;
        self.projects.insert(project.to_string(), rules.clone());
        Ok(rules)
    }

    /// The `alerts:` of the workflow's latest version.
    async fn workflow(
        &mut self,
        store: &Store,
        project: &str,
        workflow: &str,
    ) -> Result<Vec<AlertRuleSpec>, StoreError> {
        let key = (project.to_string(), workflow.to_string());
        if let Some(r) = self.workflows.get(&key) {
            return Ok(r.clone());
        }
        let rules = store
            .get_workflow(project, workflow, None)
            .await?
            .map(|w| w.spec.alerts)
            .unwrap_or_default();
        self.workflows.insert(key, rules.clone());
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::EventKind;
    use baton_store::NewEvent;

    fn event(kind: EventKind, workflow: &str) -> EventRecord {
        EventRecord {
            id: 9,
            event: NewEvent::new(kind, 1, "m").instance(WorkflowInstanceId(4), "p", workflow),
            recorded_at: 1,
        }
    }

    fn rule(id: i64, workflow: Option<&str>, on: &[AlertOn], channel: &str) -> AlertRuleRecord {
        AlertRuleRecord {
            id,
            project: "p".into(),
            workflow: workflow.map(str::to_string),
            on: on.to_vec(),
            channel: channel.into(),
            created_at: 0,
        }
    }

    #[test]
    fn rules_match_by_kind_and_workflow_one_delivery_per_rule_and_channel() {
        let e = event(EventKind::InstanceFailed, "etl");
        let kind = AlertOn::InstanceFailed;
        let project = [
            rule(
                1,
                None,
                &[AlertOn::InstanceFailed, AlertOn::TaskFailed],
                "slack",
            ),
            rule(2, Some("other"), &[AlertOn::InstanceFailed], "slack"),
            rule(3, Some("etl"), &[AlertOn::InstanceSucceeded], "mail"),
            rule(4, Some("etl"), &[AlertOn::InstanceFailed], "mail"),
        ];
        let file = [
            AlertRuleSpec {
                on: vec![AlertOn::InstanceFailed],
                channels: vec!["a".into(), "b".into()],
            },
            AlertRuleSpec {
                on: vec![AlertOn::TaskTimeout],
                channels: vec!["c".into()],
            },
        ];
        let got = matches(&e, kind, &project, &file);
        let keys: Vec<(&str, &str)> = got
            .iter()
            .map(|d| (d.rule.as_str(), d.channel.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("rule 1", "slack"),
                ("rule 4", "mail"),
                ("workflow etl alerts[1]", "a"),
                ("workflow etl alerts[1]", "b"),
            ]
        );
        assert_eq!(got[0].once_key, "rule:1|slack|9");
        assert_eq!(got[0].instance_id, Some(4));
        let mut keys: Vec<&str> = got.iter().map(|d| d.once_key.as_str()).collect();
        keys.dedup();
        assert_eq!(keys.len(), 4, "each key is unique");
        assert!(matches(&e, AlertOn::TaskRetrying, &project, &file).is_empty());
    }

    #[test]
    fn failures_back_off_exponentially_then_give_up() {
        let b = Backoff {
            first: Duration::from_secs(2),
            max: Duration::from_secs(5),
            attempts: 4,
        };
        assert_eq!(after_attempt(1, 0, &b, Ok(())), AttemptEnd::Sent);
        let wait = |n| match after_attempt(n, 0, &b, Err("x".into())) {
            AttemptEnd::Retry { at, .. } => Some(at / 1_000_000),
            _ => None,
        };
        assert_eq!(wait(1), Some(2));
        assert_eq!(wait(2), Some(4));
        assert_eq!(wait(3), Some(5), "capped");
        assert_eq!(
            after_attempt(4, 0, &b, Err("down".into())),
            AttemptEnd::GaveUp {
                error: "down".into()
            }
        );
    }
}
