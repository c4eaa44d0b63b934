//! Alerts: a project's channels (where messages go), its rules (which events go to which
//! channel) and the deliveries made from the event log, each with its attempts. A channel's
//! secret (a webhook URL with its token, an SMTP password, a PagerDuty routing key) is
//! write-only: it is sent when the channel is created and never comes back.

use baton_core::alert::AlertOn;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::{IntoParams, ToSchema};

/// The kind of a channel: how a message is formatted and sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertChannelType {
    /// An HTTP POST of the message as JSON (or of a JSON template filled with it).
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A Feishu (Lark) bot webhook.
    Feishu,
    /// A DingTalk robot webhook.
    Dingtalk,
    /// A WeCom (WeChat Work) group robot webhook.
    Wecom,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Email over SMTP.
    Email,
    /// A script of the server's alert script directory, given the message as JSON on stdin.
    Script,
}

impl AlertChannelType {
    /// Every type, for messages.
    pub const ALL: &'static [AlertChannelType] = &[
        AlertChannelType::Webhook,
        AlertChannelType::Slack,
        AlertChannelType::Feishu,
        AlertChannelType::Dingtalk,
        AlertChannelType::Wecom,
        AlertChannelType::Pagerduty,
        AlertChannelType::Email,
        AlertChannelType::Script,
    ];

    /// The name the API and the CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertChannelType::Webhook => "webhook",
            AlertChannelType::Slack => "slack",
            AlertChannelType::Feishu => "feishu",
            AlertChannelType::Dingtalk => "dingtalk",
            AlertChannelType::Wecom => "wecom",
            AlertChannelType::Pagerduty => "pagerduty",
            AlertChannelType::Email => "email",
            AlertChannelType::Script => "script",
        }
    }
}

impl fmt::Display for AlertChannelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AlertChannelType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AlertChannelType::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = AlertChannelType::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown channel type `{s}` (one of: {})", known.join(", "))
            })
    }
}

/// How an email channel speaks TLS to its SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on the same host or a test server.
    None,
}

/// What a channel is, apart from its secret. Which fields a type takes: webhook `url`
/// (unless the URL is the secret) and `template`; pagerduty `url` (default PagerDuty's);
/// email `smtp_host`, `smtp_port`, `smtp_tls`, `username`, `from`, `to`; script `script`;
/// every type `timeout_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertChannelSettings {
    /// Where to send (webhook, pagerduty), when it holds no token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A webhook's JSON body with `{{field}}` placeholders (`title`, `text`, `kind`,
    /// `project`, `workflow`, `instance`, `link`, `message`), filled in as JSON string contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The SMTP server's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    /// Its port (default 587 with starttls, 465 with tls, 25 without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    /// How to speak TLS to it (default starttls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_tls: Option<SmtpTls>,
    /// The SMTP user (its password is the channel's secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// The script's file name in the server's alert script directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// How long a send may take (default 10 s, at most 60 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// Body of `POST /alerts/channels?project=P`.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertChannelRequest {
    /// Its name in the project (letters, digits, `_ - .`, at most 100).
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: AlertChannelType,
    /// What it is, apart from its secret.
    #[serde(default)]
    pub settings: AlertChannelSettings,
    /// The secret, kept sealed and never shown: the webhook URL (slack, feishu, dingtalk,
    /// wecom; a webhook's when it holds a token), the PagerDuty routing key, the SMTP password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Its `Debug` never shows the secret.
impl fmt::Debug for AlertChannelRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertChannelRequest")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A channel as the API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertChannel {
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: AlertChannelType,
    /// What it is, apart from its secret.
    pub settings: AlertChannelSettings,
    /// Whether a secret is kept for it (sealed).
    pub has_secret: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed (a re-seal under a new key included).
    pub updated_at: DateTime<Utc>,
}

/// Answer of `GET /alerts/channels?project=P`, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertChannelList {
    /// This page.
    pub channels: Vec<AlertChannel>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Answer of `POST /alerts/channels/{name}/test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertTest {
    /// The test message was accepted by the channel.
    pub ok: bool,
    /// What happened; when it failed, what failed (never the secret).
    pub message: String,
}

/// Body of `POST /alerts/rules?project=P`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertRuleRequest {
    /// The events it is about.
    #[schema(schema_with = crate::schemas::alert_on_list)]
    pub on: Vec<AlertOn>,
    /// The channel (of the project) they go to.
    pub channel: String,
    /// Only events of this workflow (default: every workflow of the project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
}

/// A project's alert rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertRule {
    /// Its id.
    pub id: i64,
    /// Its project.
    pub project: String,
    /// Only this workflow's events, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The events it is about.
    #[schema(schema_with = crate::schemas::alert_on_list)]
    pub on: Vec<AlertOn>,
    /// The channel they go to.
    pub channel: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Answer of `GET /alerts/rules?project=P`, by id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertRuleList {
    /// This page.
    pub rules: Vec<AlertRule>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not sent yet: its next attempt is due at `next_attempt_at`.
    Pending,
    /// The channel accepted it.
    Sent,
    /// Every attempt failed; no more are made.
    Failed,
}

/// One attempt at sending a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertAttempt {
    /// Its number, from 1.
    pub n: i64,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Whether the channel accepted the message.
    pub ok: bool,
    /// What failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One alert to send: an event matched by a rule, for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertDelivery {
    /// Its id.
    pub id: i64,
    /// The project.
    pub project: String,
    /// The workflow of the event, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The instance of the event, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<i64>,
    /// The event in the event log.
    pub event_id: i64,
    /// What it is about.
    #[schema(schema_with = crate::schemas::alert_on)]
    pub kind: AlertOn,
    /// The rule that matched: `rule N` (a project rule) or `workflow W alerts[N]`.
    pub rule: String,
    /// The channel.
    pub channel: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// When the next attempt is due (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    pub attempts: Vec<AlertAttempt>,
    /// When the event was matched.
    pub created_at: DateTime<Utc>,
}

/// Answer of `GET /alerts/deliveries?project=P`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertDeliveryList {
    /// This page.
    pub deliveries: Vec<AlertDelivery>,
    /// Pass as `cursor` for the next (older) page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `?project=` of the alert routes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// The project (default `default`).
    pub project: Option<String>,
}

/// `?project=&workflow=` of `GET /alerts/deliveries`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertDeliveryQuery {
    /// The project (default `default`).
    pub project: Option<String>,
    /// Only deliveries of this workflow's events.
    pub workflow: Option<String>,
}
