//! Each channel's body: the JSON its receiver expects, made from an [`Alert`]. Pure, and
//! tested against the formats' documented shapes.

use crate::channel::Chat;
use crate::message::Alert;
use serde_json::{json, Value};

/// The body of a chat's incoming webhook.
pub fn chat(chat: Chat, alert: &Alert) -> Value {
    let text = alert.text();
    match chat {
        Chat::Slack => json!({ "text": text }),
        Chat::Feishu => json!({ "msg_type": "text", "content": { "text": text } }),
        Chat::Dingtalk => json!({
            "msgtype": "markdown",
            "markdown": { "title": alert.title(), "text": markdown(alert) },
        }),
        Chat::Wecom => json!({ "msgtype": "markdown", "markdown": { "content": markdown(alert) } }),
    }
}

/// The alert as Markdown (DingTalk, WeCom): the title in bold, the rest as lines, the logs
/// as quoted blocks.
fn markdown(alert: &Alert) -> String {
    let mut out = vec![format!("**{}**", alert.title()), alert.message.clone()];
    if let Some(link) = &alert.link {
        out.push(format!("[{link}]({link})"));
    }
    for t in &alert.failed_tasks {
        out.push(format!(
            "failed task {}: {}",
            t.name,
            t.message.as_deref().unwrap_or("failed")
        ));
        if let Some(tail) = &t.log_tail {
            let quoted: Vec<String> = tail.lines().map(|l| format!("> {l}")).collect();
            out.push(quoted.join("\n"));
        }
    }
    out.join("\n\n")
}

/// The key under which PagerDuty deduplicates: one per event, so that a repeated send of the
/// same alert (a retry, a second master) opens no second incident.
pub fn pagerduty_dedup_key(alert: &Alert) -> String {
    if alert.test {
        return format!("baton:{}:test", alert.project);
    }
    format!("baton:{}:event:{}", alert.project, alert.event_id)
}

/// A PagerDuty Events API v2 `trigger` event.
pub fn pagerduty(routing_key: &str, alert: &Alert) -> Value {
    let severity = if alert.kind.is_trouble() && !alert.test {
        "error"
    } else {
        "info"
    };
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": pagerduty_dedup_key(alert),
        "payload": {
            "summary": truncate(&alert.title(), 1024),
            "source": "baton",
            "severity": severity,
            "timestamp": alert.at,
            "component": alert.workflow.clone().unwrap_or_default(),
            "group": alert.project,
            "class": alert.kind.as_str(),
            "custom_details": serde_json::to_value(alert).unwrap_or(Value::Null),
        },
    });
    if let Some(link) = &alert.link {
        event["links"] = json!([{ "href": link, "text": "the instance in Baton" }]);
    }
    event
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The placeholders a webhook template may use.
pub const TEMPLATE_FIELDS: &[&str] = &[
    "title", "text", "kind", "project", "workflow", "instance", "task", "link", "message", "at",
];

fn field(alert: &Alert, name: &str) -> Option<String> {
    Some(match name {
        "title" => alert.title(),
        "text" => alert.text(),
        "kind" => alert.kind.as_str().to_string(),
        "project" => alert.project.clone(),
        "workflow" => alert.workflow.clone().unwrap_or_default(),
        "instance" => alert.instance_id.map(|i| i.to_string()).unwrap_or_default(),
        "task" => alert.task.clone().unwrap_or_default(),
        "link" => alert.link.clone().unwrap_or_default(),
        "message" => alert.message.clone(),
        "at" => alert.at.clone(),
        _ => return None,
    })
}

/// A webhook template filled with the alert: each `{{field}}` becomes the field's value as
/// the contents of a JSON string (quotes and control characters escaped), so a value is
/// always data and the body stays the JSON the template's author wrote.
pub fn fill(template: &str, alert: &Alert) -> Result<Value, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "the template has a `{{` without its `}}`".to_string())?;
        let name = after[..end].trim();
        let value = field(alert, name).ok_or_else(|| {
            format!(
                "the template names `{{{{{name}}}}}`, which is not one of: {}",
                TEMPLATE_FIELDS.join(", ")
            )
        })?;
        let quoted = Value::String(value).to_string();
        out.push_str(&quoted[1..quoted.len() - 1]);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).map_err(|e| format!("the filled template is not JSON: {e}"))
}

/// Whether a template fills into JSON (checked when the channel is created).
pub fn check_template(template: &str) -> Result<(), String> {
    let sample = Alert::test("project", "channel", "2026-01-01T00:00:00Z".into());
    fill(template, &sample).map(|_| ())
}

/// A generic webhook's body: the template filled, or the alert as it is.
pub fn webhook(template: Option<&str>, alert: &Alert) -> Result<Value, String> {
    match template {
        Some(t) => fill(t, alert),
        None => serde_json::to_value(alert).map_err(|e| e.to_string()),
    }
}

/// Whether a chat's answer says it took the message: they answer 200 with an error code in
/// the body when they did not (DingTalk and WeCom `errcode`, Feishu `code`); `None` when it
/// did, else the receiver's words.
pub fn chat_refusal(chat: Chat, body: &str) -> Option<String> {
    let code_field = match chat {
        Chat::Slack => return None,
        Chat::Feishu => "code",
        Chat::Dingtalk | Chat::Wecom => "errcode",
    };
    let v: Value = serde_json::from_str(body).ok()?;
    let code = v.get(code_field)?.as_i64()?;
    if code == 0 {
        return None;
    }
    let msg = v
        .get("msg")
        .or_else(|| v.get("errmsg"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(format!("the receiver answered {code_field} {code}: {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::failed;

    #[test]
    fn chat_bodies_have_their_receivers_shapes() {
        let a = failed();
        let slack = chat(Chat::Slack, &a);
        assert!(slack["text"]
            .as_str()
            .unwrap()
            .starts_with("[Baton] instance_failed"));
        let feishu = chat(Chat::Feishu, &a);
        assert_eq!(feishu["msg_type"], "text");
        assert!(feishu["content"]["text"]
            .as_str()
            .unwrap()
            .contains("exit code 3"));
        let ding = chat(Chat::Dingtalk, &a);
        assert_eq!(ding["msgtype"], "markdown");
        assert_eq!(ding["markdown"]["title"], a.title());
        assert!(ding["markdown"]["text"]
            .as_str()
            .unwrap()
            .contains("> boom"));
        let wecom = chat(Chat::Wecom, &a);
        assert_eq!(wecom["msgtype"], "markdown");
        assert!(wecom["markdown"]["content"]
            .as_str()
            .unwrap()
            .contains("/instances/42"));
    }

    #[test]
    fn pagerduty_events_carry_a_dedup_key_per_event() {
        let a = failed();
        let e = pagerduty("rk", &a);
        assert_eq!(e["routing_key"], "rk");
        assert_eq!(e["event_action"], "trigger");
        assert_eq!(e["dedup_key"], "baton:default:event:7");
        assert_eq!(e["payload"]["severity"], "error");
        assert_eq!(e["payload"]["source"], "baton");
        assert_eq!(e["links"][0]["href"], "http://host:12345/instances/42");
        assert_eq!(
            pagerduty("rk", &a)["dedup_key"],
            e["dedup_key"],
            "the same on a repeat"
        );
    }

    #[test]
    fn a_template_is_filled_with_values_as_data() {
        let mut a = failed();
        a.message = "say \"hi\"\n}, \"evil\": 1, {".into();
        let body = fill(r#"{"summary": "{{ title }}", "why": "{{message}}"}"#, &a).unwrap();
        assert_eq!(body["why"], a.message.as_str());
        assert_eq!(body.as_object().unwrap().len(), 2, "no field was injected");
        assert!(fill("{\"a\": \"{{nope}}\"}", &a)
            .unwrap_err()
            .contains("not one of"));
        assert!(
            check_template("{\"a\": {{title}}}").is_err(),
            "a bare value is not JSON"
        );
        check_template("{\"text\": \"{{text}}\"}").unwrap();
        assert_eq!(webhook(None, &a).unwrap()["instance_id"], 42);
    }

    #[test]
    fn chat_answers_with_an_error_code_are_refusals() {
        assert_eq!(
            chat_refusal(Chat::Dingtalk, r#"{"errcode":0,"errmsg":"ok"}"#),
            None
        );
        let r = chat_refusal(
            Chat::Wecom,
            r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#,
        );
        assert!(r.unwrap().contains("93000"));
        assert!(chat_refusal(Chat::Feishu, r#"{"code":19001,"msg":"param invalid"}"#).is_some());
        assert_eq!(chat_refusal(Chat::Slack, "ok"), None);
    }
}
