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

/// The settings each type takes (besides `timeout_ms`).
fn takes(kind: AlertChannelType) -> &'static [&'static str] {
    match kind {
        AlertChannelType::Webhook => &["url", "template"],
        AlertChannelType::Slack
        | AlertChannelType::Feishu
        | AlertChannelType::Dingtalk
        | AlertChannelType::Wecom => &[],
        AlertChannelType::Pagerduty => &["url"],
        AlertChannelType::Email => &[
            "smtp_host",
            "smtp_port",
            "smtp_tls",
            "username",
            "from",
            "to",
        ],
        AlertChannelType::Script => &["script"],
    }
}

/// The settings that are set.
fn given(s: &AlertChannelSettings) -> Vec<&'static str> {
    let mut set = Vec::new();
    let mut mark = |on: bool, name| {
        if on {
            set.push(name)
        }
    };
    mark(s.url.is_some(), "url");
    mark(s.template.is_some(), "template");
    mark(s.smtp_host.is_some(), "smtp_host");
    mark(s.smtp_port.is_some(), "smtp_port");
    mark(s.smtp_tls.is_some(), "smtp_tls");
    mark(s.username.is_some(), "username");
    mark(s.from.is_some(), "from");
    mark(!s.to.is_empty(), "to");
    mark(s.script.is_some(), "script");
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

fn required(value: Option<&str>, message: &str) -> Result<String, String> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(message.to_string()),
    }
}

impl Channel {
    /// Checks a channel of type `kind` with these settings and secret; what is wrong, in the
    /// user's words (never quoting the secret).
    pub fn build(
        name: &str,
        kind: AlertChannelType,
        s: &AlertChannelSettings,
        secret: Option<&str>,
    ) -> Result<Channel, String> {
        let foreign: Vec<&str> = given(s)
            .into_iter()
            .filter(|f| !takes(kind).contains(f))
            .collect();
        if !foreign.is_empty() {
            let own = match takes(kind) {
                [] => "none but timeout_ms".to_string(),
                fields => format!("{} and timeout_ms", fields.join(", ")),
            };
            return Err(format!(
                "a {kind} channel does not take {} (it takes {own})",
                foreign.join(", ")
            ));
        }
        let secret = secret.map(str::trim).filter(|s| !s.is_empty());
        let target = Self::target(kind, s, secret)?;
        let timeout = match s.timeout_ms {
            None => DEFAULT_TIMEOUT,
            Some(0) => return Err("timeout_ms must be at least 1".into()),
            Some(ms) if Duration::from_millis(ms) > MAX_TIMEOUT => {
                return Err(format!(
                    "timeout_ms is at most {} (a minute)",
                    MAX_TIMEOUT.as_millis()
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
    ) -> Result<Target, String> {
        let chat = |chat: Chat| -> Result<Target, String> {
            let url = secret.ok_or_else(|| {
                format!(
                    "a {kind} channel needs its webhook URL as the secret (it holds the \
                     token: give it on stdin or in a file, never as a flag)"
                )
            })?;
            check_url(url, "the webhook URL")?;
            Ok(Target::Chat {
                chat,
                url: url.to_string(),
            })
        };
        match kind {
            AlertChannelType::Webhook => {
                let url = match (secret, s.url.as_deref()) {
                    (Some(_), Some(_)) => {
                        return Err("give a webhook's URL as `url` or as the secret, not both".into())
                    }
                    (Some(u), None) | (None, Some(u)) => u.to_string(),
                    (None, None) => {
                        return Err("a webhook channel needs a URL (`url`, or the secret when it holds a token)".into())
                    }
                };
                check_url(&url, "the webhook URL")?;
                if let Some(t) = &s.template {
                    crate::format::check_template(t)?;
                }
                Ok(Target::Webhook {
                    url,
                    template: s.template.clone(),
                })
            }
            AlertChannelType::Slack => chat(Chat::Slack),
            AlertChannelType::Feishu => chat(Chat::Feishu),
            AlertChannelType::Dingtalk => chat(Chat::Dingtalk),
            AlertChannelType::Wecom => chat(Chat::Wecom),
            AlertChannelType::Pagerduty => {
                let routing_key = required(
                    secret,
                    "a pagerduty channel needs its routing key as the secret (stdin or a file)",
                )?;
                let url = s.url.clone().unwrap_or_else(|| PAGERDUTY_URL.to_string());
                check_url(&url, "the PagerDuty URL")?;
                Ok(Target::Pagerduty { url, routing_key })
            }
            AlertChannelType::Email => Self::email(s, secret).map(Target::Email),
            AlertChannelType::Script => {
                if secret.is_some() {
                    return Err("a script channel takes no secret".into());
                }
                let name = required(
                    s.script.as_deref(),
                    "a script channel needs `script`: a file name in the server's alert script directory",
                )?;
                if !baton_core::spec::valid_name(&name) || name.starts_with('.') {
                    return Err(format!(
                        "script `{name}` must be a plain file name of the server's alert script \
                         directory (letters, digits, `_`, `-`, `.`; no path)"
                    ));
                }
                Ok(Target::Script { name })
            }
        }
    }

    fn email(s: &AlertChannelSettings, secret: Option<&str>) -> Result<Email, String> {
        let host = required(s.smtp_host.as_deref(), "an email channel needs `smtp_host`")?;
        let from = required(s.from.as_deref(), "an email channel needs `from`")?;
        if s.to.is_empty() {
            return Err("an email channel needs at least one `to` address".into());
        }
        for address in std::iter::once(&from).chain(&s.to) {
            address
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| format!("`{address}` is not an email address ({e})"))?;
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
                return Err("an email channel with a `username` needs its password as the secret (stdin or a file)".into())
            }
            (None, Some(_)) => {
                return Err("an email channel with a password needs a `username`".into())
            }
        };
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
        Channel::build("c", kind, &settings(s), secret)
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
        let m = build(T::Email, mail, Some("pw")).unwrap();
        assert_eq!(m.describe(), "smtp mx.test:587");
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
}
