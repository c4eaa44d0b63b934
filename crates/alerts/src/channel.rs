//! A channel, checked: its type with exactly the settings that type takes, and its secret.
//! Built from what the API was given (to refuse a bad channel before it is stored) and again
//! from the stored record before each send; pure.

use baton_api_model::{AlertChannelSettings, AlertChannelType, SmtpTls};
use std::time::Duration;

/// PagerDuty's Events API v2 endpoint, unless a channel names another.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// How long a send may take when the channel does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a channel may let a send take.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// The incoming-webhook formats (the URL is the secret: it holds the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat {
    /// Slack: `{"text"}`.
    Slack,
    /// Feishu: `{"msg_type": "text", "content": {"text"}}`.
    Feishu,
    /// DingTalk: `{"msgtype": "markdown", "markdown": {"title", "text"}}`.
    Dingtalk,
    /// WeCom: `{"msgtype": "markdown", "markdown": {"content"}}`.
    Wecom,
}

/// An email channel's SMTP server and addresses.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    /// The server's host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How TLS is spoken.
    pub tls: SmtpTls,
    /// The user and password, when the server wants a login.
    pub login: Option<(String, String)>,
    /// The sender.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
}

/// What a channel is, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A generic webhook: the alert as JSON, or the template filled with it.
    Webhook {
        /// Where to POST.
        url: String,
        /// The body's template, if any.
        template: Option<String>,
    },
    /// A chat's incoming webhook.
    Chat {
        /// Which format.
        chat: Chat,
        /// Where to POST (with its token).
        url: String,
    },
    /// PagerDuty Events v2.
    Pagerduty {
        /// The Events API endpoint.
        url: String,
        /// The integration's routing key.
        routing_key: String,
    },
    /// Email over SMTP.
    Email(Email),
    /// A script of the server's alert script directory.
    Script {
        /// Its file name there.
        name: String,
    },
}

/// A channel, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Channel {
    /// Its name.
    pub name: String,
    /// Where and how it sends.
    pub target: Target,
    /// How long a send may take.
    pub timeout: Duration,
}

/// Never shows the secret (a URL with a token, a key, a password).
impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel({}, {})", self.name, self.describe())
    }
}

/// A field of a channel's request, so that a refusal can say where it is (a form shows it
/// at its field): a setting, or the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `settings.url`.
    Url,
    /// `settings.template`.
    Template,
    /// `settings.smtp_host`.
    SmtpHost,
    /// `settings.smtp_port`.
    SmtpPort,
    /// `settings.smtp_tls`.
    SmtpTls,
    /// `settings.username`.
    Username,
    /// `settings.from`.
    From,
    /// `settings.to`.
    To,
    /// `settings.script`.
    Script,
    /// `settings.timeout_ms`.
    TimeoutMs,
    /// `secret`.
    Secret,
}

impl Field {
    /// Its setting's name (`url`, `smtp_host`), or `secret`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Url => "url",
            Field::Template => "template",
            Field::SmtpHost => "smtp_host",
            Field::SmtpPort => "smtp_port",
            Field::SmtpTls => "smtp_tls",
            Field::Username => "username",
            Field::From => "from",
            Field::To => "to",
            Field::Script => "script",
            Field::TimeoutMs => "timeout_ms",
            Field::Secret => "secret",
        }
    }

    /// Where it is in the API's request body: `settings.NAME`, or `secret`.
    pub fn path(self) -> String {
        match self {
            Field::Secret => "secret".to_string(),
            setting => format!("settings.{}", setting.name()),
        }
    }
}

/// What is wrong with a channel, and at which field of its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ChannelError {
    /// The field the problem is at.
    pub field: Field,
    /// What is wrong, in the user's words (never quoting the secret).
    pub message: String,
}

fn at(field: Field, message: impl Into<String>) -> ChannelError {
    ChannelError {
        field,
        message: message.into(),
    }
}

/// The settings each type takes (besides `timeout_ms`).
fn takes(kind: AlertChannelType) -> &'static [Field] {
    match kind {
        AlertChannelType::Webhook => &[Field::Url, Field::Template],
        AlertChannelType::Slack
        | AlertChannelType::Feishu
        | AlertChannelType::Dingtalk
        | AlertChannelType::Wecom => &[],
        AlertChannelType::Pagerduty => &[Field::Url],
        AlertChannelType::Email => &[
            Field::SmtpHost,
            Field::SmtpPort,
            Field::SmtpTls,
            Field::Username,
            Field::From,
            Field::To,
        ],
        AlertChannelType::Script => &[Field::Script],
    }
}

/// The settings that are set.
fn given(s: &AlertChannelSettings) -> Vec<Field> {
    let mut set = Vec::new();
    let mut mark = |on: bool, field| {
        if on {
            set.push(field)
        }
    };
    mark(s.url.is_some(), Field::Url);
    mark(s.template.is_some(), Field::Template);
    mark(s.smtp_host.is_some(), Field::SmtpHost);
    mark(s.smtp_port.is_some(), Field::SmtpPort);
    mark(s.smtp_tls.is_some(), Field::SmtpTls);
    mark(s.username.is_some(), Field::Username);
    mark(s.from.is_some(), Field::From);
    mark(!s.to.is_empty(), Field::To);
    mark(s.script.is_some(), Field::Script);
    set
}

/// An http(s) URL with a host, or what is wrong with it (without quoting it: it may hold a
/// token).
pub fn check_url(url: &str, what: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{what} is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{what} must be an http:// or https:// URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{what} names no host"));
    }
    Ok(())
}

fn required(value: Option<&str>, field: Field, message: &str) -> Result<String, ChannelError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(at(field, message)),
    }
}

impl Channel {
    /// Checks a channel of type `kind` with these settings and secret; what is wrong, in the
    /// user's words (never quoting the secret), at its field.
    pub fn build(
        name: &str,
        kind: AlertChannelType,
        s: &AlertChannelSettings,
        secret: Option<&str>,
    ) -> Result<Channel, ChannelError> {
        let foreign: Vec<Field> = given(s)
            .into_iter()
            .filter(|f| !takes(kind).contains(f))
            .collect();
        if let Some(first) = foreign.first() {
            let own = match takes(kind) {
                [] => "none but timeout_ms".to_string(),
                fields => {
                    let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
                    format!("{} and timeout_ms", names.join(", "))
                }
            };
            let names: Vec<&str> = foreign.iter().map(|f| f.name()).collect();
            return Err(at(
                *first,
                format!(
                    "a {kind} channel does not take {} (it takes {own})",
                    names.join(", ")
                ),
            ));
        }
        let secret = secret.map(str::trim).filter(|s| !s.is_empty());
        let target = Self::target(kind, s, secret)?;
        let timeout = match s.timeout_ms {
            None => DEFAULT_TIMEOUT,
            Some(0) => return Err(at(Field::TimeoutMs, "timeout_ms must be at least 1")),
            Some(ms) if Duration::from_millis(ms) > MAX_TIMEOUT => {
                return Err(at(
                    Field::TimeoutMs,
                    format!(
                        "timeout_ms is at most {} (a minute)",
                        MAX_TIMEOUT.as_millis()
                    ),
                ))
            }
            Some(ms) => Duration::from_millis(ms),
        };
        Ok(Channel {
            name: name.to_string(),
            target,
            timeout,
        })
    }

    fn target(
        kind: AlertChannelType,
        s: &AlertChannelSettings,
        secret: Option<&str>,
    ) -> Result<Target, ChannelError> {
        let chat = |chat: Chat| -> Result<Target, ChannelError> {
            let url = secret.ok_or_else(|| {
                at(
                    Field::Secret,
                    format!(
                        "a {kind} channel needs its webhook URL as the secret (it holds the \
                         token: give it on stdin or in a file, never as a flag)"
                    ),
                )
            })?;
            check_url(url, "the webhook URL").map_err(|e| at(Field::Secret, e))?;
            Ok(Target::Chat {
                chat,
                url: url.to_string(),
            })
        };
        match kind {
            AlertChannelType::Webhook => Self::webhook(s, secret),
            AlertChannelType::Slack => chat(Chat::Slack),
            AlertChannelType::Feishu => chat(Chat::Feishu),
            AlertChannelType::Dingtalk => chat(Chat::Dingtalk),
            AlertChannelType::Wecom => chat(Chat::Wecom),
            AlertChannelType::Pagerduty => {
                let routing_key = required(
                    secret,
                    Field::Secret,
                    "a pagerduty channel needs its routing key as the secret (stdin or a file)",
                )?;
                let url = s.url.clone().unwrap_or_else(|| PAGERDUTY_URL.to_string());
                check_url(&url, "the PagerDuty URL").map_err(|e| at(Field::Url, e))?;
                Ok(Target::Pagerduty { url, routing_key })
            }
            AlertChannelType::Email => Self::email(s, secret).map(Target::Email),
            AlertChannelType::Script => Self::script(s, secret),
        }
    }

    fn webhook(s: &AlertChannelSettings, secret: Option<&str>) -> Result<Target, ChannelError> {
        let (url, field) =
            match (secret, s.url.as_deref()) {
                (Some(_), Some(_)) => {
                    return Err(at(
                        Field::Url,
                        "give a webhook's URL as `url` or as the secret, not both",
                    ))
                }
                (Some(u), None) => (u.to_string(), Field::Secret),
                (None, Some(u)) => (u.to_string(), Field::Url),
                (None, None) => return Err(at(
                    Field::Url,
                    "a webhook channel needs a URL (`url`, or the secret when it holds a token)",
                )),
            };
        check_url(&url, "the webhook URL").map_err(|e| at(field, e))?;
        if let Some(t) = &s.template {
            crate::format::check_template(t).map_err(|e| at(Field::Template, e))?;
        }
        Ok(Target::Webhook {
            url,
            template: s.template.clone(),
        })
    }

    fn script(s: &AlertChannelSettings, secret: Option<&str>) -> Result<Target, ChannelError> {
        if secret.is_some() {
            return Err(at(Field::Secret, "a script channel takes no secret"));
        }
        let name = required(
            s.script.as_deref(),
            Field::Script,
            "a script channel needs `script`: a file name in the server's alert script directory",
        )?;
        if !baton_core::spec::valid_name(&name) || name.starts_with('.') {
            return Err(at(
                Field::Script,
                format!(
                    "script `{name}` must be a plain file name of the server's alert script \
                     directory (letters, digits, `_`, `-`, `.`; no path)"
                ),
            ));
        }
        Ok(Target::Script { name })
    }

    fn email(s: &AlertChannelSettings, secret: Option<&str>) -> Result<Email, ChannelError> {
        let host = required(
            s.smtp_host.as_deref(),
            Field::SmtpHost,
            "an email channel needs `smtp_host`",
        )?;
        let from = required(
            s.from.as_deref(),
            Field::From,
            "an email channel needs `from`",
        )?;
        if s.to.is_empty() {
            return Err(at(
                Field::To,
                "an email channel needs at least one `to` address",
            ));
        }
        let addresses =
            std::iter::once((Field::From, &from)).chain(s.to.iter().map(|a| (Field::To, a)));
        for (field, address) in addresses {
            address
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| at(field, format!("`{address}` is not an email address ({e})")))?;
        }
        let tls = s.smtp_tls.unwrap_or_default();
        let port = s.smtp_port.unwrap_or(match tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        });
        let login = match (s.username.as_deref(), secret) {
            (Some(user), Some(password)) => Some((user.to_string(), password.to_string())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(at(
                    Field::Secret,
                    "an email channel with a `username` needs its password as the secret (stdin or a file)",
                ))
            }
            (None, Some(_)) => {
                return Err(at(
                    Field::Username,
                    "an email channel with a password needs a `username`",
                ))
            }
        };
        if login.is_some() && tls == SmtpTls::None {
            return Err(at(
                Field::SmtpTls,
                "an email channel with a login needs `smtp_tls` starttls or tls: with `none` the password would cross the network in clear",
            ));
        }
        Ok(Email {
            host,
            port,
            tls,
            login,
            from,
            to: s.to.clone(),
        })
    }

    /// Where it sends, for logs and messages, without its secret: a URL's scheme and host,
    /// an SMTP server, a script's name.
    pub fn describe(&self) -> String {
        let host_of = |url: &str| {
            reqwest::Url::parse(url)
                .ok()
                .map(|u| {
                    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                    format!("{}://{}{port}", u.scheme(), u.host_str().unwrap_or(""))
                })
                .unwrap_or_else(|| "?".into())
        };
        match &self.target {
            Target::Webhook { url, .. }
            | Target::Chat { url, .. }
            | Target::Pagerduty { url, .. } => host_of(url),
            Target::Email(e) => format!("smtp {}:{}", e.host, e.port),
            Target::Script { name } => format!("script {name}"),
        }
    }
}

/// The record a channel's secret is sealed for: a sealed secret copied onto another channel
/// does not open there.
pub fn secret_context(project: &str, name: &str) -> String {
    format!("alert-channel:{project}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: serde_json::Value) -> AlertChannelSettings {
        serde_json::from_value(json).unwrap()
    }

    fn build(
        kind: AlertChannelType,
        s: serde_json::Value,
        secret: Option<&str>,
    ) -> Result<Channel, String> {
        Channel::build("c", kind, &settings(s), secret).map_err(|e| e.to_string())
    }

    #[test]
    fn each_type_takes_its_own_settings_and_secret() {
        use AlertChannelType as T;
        let slack = build(
            T::Slack,
            serde_json::json!({}),
            Some("https://hooks.slack.test/T/B/x"),
        )
        .unwrap();
        assert_eq!(slack.describe(), "https://hooks.slack.test");
        assert!(
            !format!("{slack:?}").contains("/T/B/x"),
            "Debug hides the URL"
        );
        let e = build(
            T::Slack,
            serde_json::json!({"url": "https://h.test/x"}),
            None,
        )
        .unwrap_err();
        assert!(e.contains("does not take url"), "{e}");
        let e = build(T::Slack, serde_json::json!({}), None).unwrap_err();
        assert!(e.contains("as the secret"), "{e}");
        let e = build(
            T::Webhook,
            serde_json::json!({"url": "ftp://h.test/"}),
            None,
        )
        .unwrap_err();
        assert!(e.contains("http:// or https://"), "{e}");
        build(
            T::Webhook,
            serde_json::json!({"url": "http://h.test/hook"}),
            None,
        )
        .unwrap();
        let pd = build(T::Pagerduty, serde_json::json!({}), Some("key")).unwrap();
        assert_eq!(pd.describe(), "https://events.pagerduty.com");
        assert!(build(T::Pagerduty, serde_json::json!({}), None).is_err());
        let mail = serde_json::json!({"smtp_host": "mx.test", "from": "baton@x.test", "to": ["ops@x.test"], "username": "u"});
        assert!(build(T::Email, mail.clone(), None)
            .unwrap_err()
            .contains("password"));
        let m = build(T::Email, mail.clone(), Some("pw")).unwrap();
        assert_eq!(m.describe(), "smtp mx.test:587");
        let mut clear = mail;
        clear["smtp_tls"] = "none".into();
        let e = build(T::Email, clear, Some("pw")).unwrap_err();
        assert!(e.contains("in clear"), "{e}");
        let bad = serde_json::json!({"smtp_host": "mx.test", "from": "not an address", "to": ["ops@x.test"]});
        assert!(build(T::Email, bad, None)
            .unwrap_err()
            .contains("not an email address"));
        let e = build(T::Script, serde_json::json!({"script": "../bin/sh"}), None).unwrap_err();
        assert!(e.contains("plain file name"), "{e}");
        build(
            T::Script,
            serde_json::json!({"script": "page-ops.sh"}),
            None,
        )
        .unwrap();
        let e = build(
            T::Webhook,
            serde_json::json!({"url": "http://h.test/", "timeout_ms": 600000}),
            None,
        )
        .unwrap_err();
        assert!(e.contains("at most"), "{e}");
    }

    #[test]
    fn each_refusal_names_the_field_it_is_about() {
        use serde_json::json;
        use AlertChannelType as T;
        let field = |kind, s, secret| {
            Channel::build("c", kind, &settings(s), secret)
                .unwrap_err()
                .field
        };
        assert_eq!(
            field(T::Slack, json!({"url": "https://h.test/x"}), None),
            Field::Url
        );
        assert_eq!(field(T::Slack, json!({}), None), Field::Secret);
        assert_eq!(
            field(T::Slack, json!({}), Some("ftp://h.test/")),
            Field::Secret
        );
        assert_eq!(field(T::Webhook, json!({}), None), Field::Url);
        assert_eq!(
            field(T::Webhook, json!({"url": "ftp://h.test/"}), None),
            Field::Url
        );
        assert_eq!(
            field(T::Webhook, json!({}), Some("ftp://h.test/")),
            Field::Secret
        );
        assert_eq!(
            field(
                T::Webhook,
                json!({"url": "http://h.test/", "template": "{\"a\": \"{{nope}}\"}"}),
                None
            ),
            Field::Template
        );
        assert_eq!(
            field(
                T::Webhook,
                json!({"url": "http://h.test/", "timeout_ms": 0}),
                None
            ),
            Field::TimeoutMs
        );
        assert_eq!(field(T::Pagerduty, json!({}), None), Field::Secret);
        assert_eq!(
            field(T::Email, json!({"from": "a@x.test"}), None),
            Field::SmtpHost
        );
        assert_eq!(
            field(T::Email, json!({"smtp_host": "mx"}), None),
            Field::From
        );
        let mail = |to: &str| json!({"smtp_host": "mx", "from": "a@x.test", "to": [to]});
        assert_eq!(field(T::Email, mail("not an address"), None), Field::To);
        assert_eq!(
            field(T::Email, mail("b@x.test"), Some("pw")),
            Field::Username
        );
        assert_eq!(field(T::Script, json!({}), None), Field::Script);
        assert_eq!(
            field(T::Script, json!({"script": "s.sh"}), Some("x")),
            Field::Secret
        );
        assert_eq!(Field::SmtpHost.path(), "settings.smtp_host");
        assert_eq!(Field::Secret.path(), "secret");
    }
}
