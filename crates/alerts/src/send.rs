//! The senders: each channel's message goes out here, within the channel's timeout, to hosts
//! the [`SendPolicy`] allows. One [`Sender`] (and its HTTP client) serves a process.

use crate::channel::{Channel, Chat, Email, Target};
use crate::format;
use crate::message::Alert;
use crate::policy::{CheckedResolver, SendPolicy};
use baton_api_model::SmtpTls;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// How much of a receiver's answer (or a script's stderr) an error quotes.
const QUOTED: usize = 300;

/// Sends alerts: the HTTP client (with the policy's resolver, no redirects), the policy, and
/// the directory scripts are taken from.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    policy: Arc<SendPolicy>,
    script_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("policy", &self.policy)
            .field("script_dir", &self.script_dir)
            .finish()
    }
}

fn quote(text: &str) -> String {
    let t = text.trim();
    let mut end = t.len().min(QUOTED);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    t[..end].to_string()
}

impl Sender {
    /// A sender under `policy`, running scripts of `script_dir` (none: script channels fail,
    /// saying so).
    pub fn new(policy: SendPolicy, script_dir: Option<PathBuf>) -> Sender {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("baton-alerts/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the alert HTTP client builds");
        Sender {
            http,
            policy,
            script_dir,
        }
    }

    /// Sends `alert` on `channel`: `Ok` with what the receiver said when it took it, `Err`
    /// with what failed (never the channel's secret).
    pub async fn send(&self, channel: &Channel, alert: &Alert) -> Result<String, String> {
        let timeout = channel.timeout;
        let work = async {
            match &channel.target {
                Target::Webhook { url, template } => {
                    let body = format::webhook(template.as_deref(), alert)?;
                    self.post(url, &body, None).await
                }
                Target::Chat { chat, url } => {
                    self.post(url, &format::chat(*chat, alert), Some(*chat))
                        .await
                }
                Target::Pagerduty { url, routing_key } => {
                    self.post(url, &format::pagerduty(routing_key, alert), None)
                        .await
                }
                Target::Email(email) => self.email(email, alert, timeout).await,
                Target::Script { name } => self.script(name, alert, timeout).await,
            }
        };
        let outcome = match tokio::time::timeout(timeout + Duration::from_secs(1), work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        };
        outcome.map_err(|e| format!("{}: {e}", channel.describe()))
    }

    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        chat: Option<Chat>,
    ) -> Result<String, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("a bad URL ({e})"))?;
        let host = parsed.host_str().unwrap_or_default();
        self.policy.check_host(host)?;
        let answer = self
            .http
            .post(parsed.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| describe_http_error(&e))?;
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("the receiver answered {status}: {}", quote(&text)));
        }
        if let Some(refusal) = chat.and_then(|c| format::chat_refusal(c, &text)) {
            return Err(refusal);
        }
        Ok(format!("the receiver answered {status}"))
    }

    async fn email(&self, e: &Email, alert: &Alert, timeout: Duration) -> Result<String, String> {
        use lettre::message::{header::ContentType, Mailbox};
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
        self.policy.check_host(&e.host)?;
        if !self.policy.allowed(&e.host) {
            let addrs = tokio::net::lookup_host((e.host.as_str(), e.port))
                .await
                .map_err(|err| format!("cannot resolve `{}`: {err}", e.host))?
                .collect::<Vec<_>>();
            let kept = self.policy.filter(&e.host, addrs.clone())?;
            if kept.len() != addrs.len() {
                return Err(format!("`{}` resolves to a refused address", e.host));
            }
        }
        let mailbox = |a: &str| {
            a.parse::<Mailbox>()
                .map_err(|err| format!("`{a}` is not an email address ({err})"))
        };
        let mut message = lettre::Message::builder()
            .from(mailbox(&e.from)?)
            .subject(alert.title());
        for to in &e.to {
            message = message.to(mailbox(to)?);
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(alert.text())
            .map_err(|err| format!("cannot build the email: {err}"))?;
        let builder = match e.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&e.host)
                .map_err(|err| format!("TLS: {err}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&e.host)
                .map_err(|err| format!("TLS: {err}"))?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&e.host),
        };
        let mut builder = builder.port(e.port).timeout(Some(timeout));
        if let Some((user, password)) = &e.login {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let answer = builder
            .build()
            .send(message)
            .await
            .map_err(|err| format!("the SMTP server refused the message: {err}"))?;
        let words: Vec<&str> = answer.message().collect();
        Ok(format!(
            "the SMTP server answered {}: {}",
            answer.code(),
            words.join(" ")
        ))
    }

    async fn script(&self, name: &str, alert: &Alert, timeout: Duration) -> Result<String, String> {
        let dir = self.script_dir.as_ref().ok_or_else(|| {
            "this server runs no alert scripts (start it with --alert-script-dir DIR)".to_string()
        })?;
        let path = dir.join(name);
        if !path.is_file() {
            return Err(format!(
                "there is no script `{name}` in the alert script directory"
            ));
        }
        let input = serde_json::to_vec(alert).map_err(|e| e.to_string())?;
        let mut child = tokio::process::Command::new(&path)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .current_dir(dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run script `{name}`: {e}"))?;
        let mut stdin = child.stdin.take().expect("a piped stdin");
        let run = async move {
            // A script that does not read its input must not hang the send.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
            child.wait_with_output().await
        };
        let out = tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| {
                format!(
                    "script `{name}` did not end within {} ms (killed)",
                    timeout.as_millis()
                )
            })?
            .map_err(|e| format!("script `{name}`: {e}"))?;
        if out.status.success() {
            return Ok(format!("script `{name}` ended well"));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "script `{name}` ended with {}: {}",
            out.status,
            quote(&stderr)
        ))
    }
}

/// A transport error in words: refused by the policy, not answered, timed out.
fn describe_http_error(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = if e.is_timeout() {
        "no answer in time".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    // reqwest's own text names the URL, which may hold a token: only the causes are kept.
    text
}
