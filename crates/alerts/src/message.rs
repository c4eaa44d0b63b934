//! What an alert says: the event and what it concerns, the instance's params, its failed
//! tasks with the last lines of their logs, and a link to the instance. Built from the store
//! by the delivery loop, rendered by [`crate::format`]; pure, so that every channel's words
//! are tested without a network.

use baton_core::alert::AlertOn;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many lines of a failed task's log an alert carries at most.
pub const LOG_TAIL_LINES: usize = 20;
/// How many bytes of a failed task's log an alert carries at most.
pub const LOG_TAIL_BYTES: usize = 4096;

/// One alert, as every channel renders it (and as a webhook or a script receives it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The event in the event log (0 for a test message).
    pub event_id: i64,
    /// What happened.
    pub kind: AlertOn,
    /// The project.
    pub project: String,
    /// The workflow, if the event is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The instance, if the event is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<i64>,
    /// The task, for a task event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The event's own words.
    pub message: String,
    /// When it happened (RFC 3339).
    pub at: String,
    /// The instance's page in the web UI, when the server knows its public URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The instance's start-time params.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The instance's failed tasks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_tasks: Vec<FailedTask>,
    /// A test message (`alert channel test`), about no real event.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

/// A failed task of the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedTask {
    /// Its name.
    pub name: String,
    /// What its last attempt ended with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The last lines of its log (bounded), when they could be read in time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_tail: Option<String>,
}

impl Alert {
    /// A test message for a channel of `project`.
    pub fn test(project: &str, channel: &str, at: String) -> Alert {
        Alert {
            event_id: 0,
            kind: AlertOn::InstanceFailed,
            project: project.to_string(),
            workflow: None,
            instance_id: None,
            task: None,
            message: format!("a test message of alert channel `{channel}`"),
            at,
            link: None,
            params: BTreeMap::new(),
            failed_tasks: Vec::new(),
            test: true,
        }
    }

    /// One line: what happened to what.
    pub fn title(&self) -> String {
        if self.test {
            return format!(
                "[Baton] test of an alert channel of project {}",
                self.project
            );
        }
        let mut what = self.project.clone();
        if let Some(w) = &self.workflow {
            what.push('/');
            what.push_str(w);
        }
        if let Some(i) = self.instance_id {
            what.push_str(&format!(" #{i}"));
        }
        if let Some(t) = &self.task {
            what.push_str(&format!(" task {t}"));
        }
        format!("[Baton] {}: {what}", self.kind)
    }

    /// The whole message as plain text: the title, the event's words, the link, the params,
    /// and each failed task with its log's last lines.
    pub fn text(&self) -> String {
        let mut out = vec![
            self.title(),
            self.message.clone(),
            format!("at {}", self.at),
        ];
        if let Some(link) = &self.link {
            out.push(link.clone());
        }
        if !self.params.is_empty() {
            let params: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push(format!("params: {}", params.join(", ")));
        }
        for t in &self.failed_tasks {
            let why = t.message.as_deref().unwrap_or("failed");
            out.push(format!("failed task {}: {why}", t.name));
            if let Some(tail) = &t.log_tail {
                out.push(tail.trim_end().to_string());
            }
        }
        out.join("\n")
    }
}

/// The last [`LOG_TAIL_LINES`] lines of `log`, at most [`LOG_TAIL_BYTES`] bytes (cut at a
/// character boundary), so that one huge log cannot swell an alert.
pub fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    let tail = lines[start..].join("\n");
    if tail.len() <= LOG_TAIL_BYTES {
        return tail;
    }
    let mut cut = tail.len() - LOG_TAIL_BYTES;
    while !tail.is_char_boundary(cut) {
        cut += 1;
    }
    tail[cut..].to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A failed instance's alert, as the format tests use it.
    pub(crate) fn failed() -> Alert {
        Alert {
            event_id: 7,
            kind: AlertOn::InstanceFailed,
            project: "default".into(),
            workflow: Some("etl".into()),
            instance_id: Some(42),
            task: None,
            message: "task load failed".into(),
            at: "2026-12-03T10:00:00Z".into(),
            link: Some("http://host:12345/instances/42".into()),
            params: BTreeMap::from([("dt".into(), "2026-12-01".into())]),
            failed_tasks: vec![FailedTask {
                name: "load".into(),
                message: Some("exit code 3".into()),
                log_tail: Some("line 1\nboom \"quoted\"\n".into()),
            }],
            test: false,
        }
    }

    #[test]
    fn the_text_says_what_where_and_why() {
        let a = failed();
        assert_eq!(a.title(), "[Baton] instance_failed: default/etl #42");
        let text = a.text();
        for part in [
            "task load failed",
            "http://host:12345/instances/42",
            "params: dt=2026-12-01",
            "failed task load: exit code 3",
            "boom \"quoted\"",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let t = Alert::test("p", "ops", "now".into());
        assert!(t.title().contains("test"), "{}", t.title());
    }

    #[test]
    fn a_log_tail_is_bounded_in_lines_and_bytes() {
        let log: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let tail = log_tail(&log);
        assert_eq!(tail.lines().count(), LOG_TAIL_LINES);
        assert!(
            tail.starts_with("line 81") && tail.ends_with("line 100"),
            "{tail}"
        );
        let wide = "é".repeat(10_000);
        let tail = log_tail(&wide);
        assert!(tail.len() <= LOG_TAIL_BYTES && !tail.is_empty());
    }
}
