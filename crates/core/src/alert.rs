//! What an alert rule may name in its `on:` list, and which recorded lifecycle events each
//! name stands for. Alerts are read from the event log (see [`crate::event`]): an alertable
//! kind is one of the recorded [`EventKind`]s, under a name people use in rules.

use crate::event::EventKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! alert_kinds {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// An event an alert rule can be about.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum AlertOn {
            $($(#[$doc])* $variant,)*
        }

        impl AlertOn {
            /// Every alertable kind, for listings, parsing and documentation.
            pub const ALL: &'static [AlertOn] = &[$(AlertOn::$variant),*];

            /// The name used in workflow files, the API and the CLI.
            pub fn as_str(self) -> &'static str {
                match self { $(AlertOn::$variant => $text),* }
            }
        }
    };
}

alert_kinds! {
    /// An instance ended with a failed task.
    InstanceFailed => "instance_failed",
    /// Every task of an instance succeeded.
    InstanceSucceeded => "instance_succeeded",
    /// An instance ended by a stop.
    InstanceStopped => "instance_stopped",
    /// A task failed and no retry follows.
    TaskFailed => "task_failed",
    /// A task failed and is retried after its interval.
    TaskRetrying => "task_retrying",
    /// A task ran past its timeout (a `dependent` task whose dependencies were not met in
    /// time included).
    TaskTimeout => "task_timeout",
    /// The worker (or master) of a task's attempt was lost.
    TaskFailover => "task_failover",
    /// A master adopted an instance whose owner left the cluster.
    InstanceAdopted => "instance_adopted",
    /// A schedule's fire times were skipped (too late, by its misfire policy).
    ScheduleMisfired => "schedule_misfired",
    /// A service's process was started again (it exited, or failed its health checks).
    TaskRestarted => "task_restarted",
}

impl AlertOn {
    /// The alertable kind a recorded event is, if it is one. Events about no project (a
    /// worker lost is the cluster's, not a project's) and routine steps are not alertable.
    pub fn of_event(kind: EventKind) -> Option<AlertOn> {
        match kind {
            EventKind::InstanceFailed => Some(AlertOn::InstanceFailed),
            EventKind::InstanceSucceeded => Some(AlertOn::InstanceSucceeded),
            EventKind::InstanceStopped => Some(AlertOn::InstanceStopped),
            EventKind::TaskFailed => Some(AlertOn::TaskFailed),
            EventKind::TaskRetrying => Some(AlertOn::TaskRetrying),
            EventKind::TaskTimeout => Some(AlertOn::TaskTimeout),
            EventKind::TaskNeedFailover => Some(AlertOn::TaskFailover),
            EventKind::InstanceAdopted => Some(AlertOn::InstanceAdopted),
            EventKind::ScheduleMisfired => Some(AlertOn::ScheduleMisfired),
            EventKind::TaskRestarted => Some(AlertOn::TaskRestarted),
            EventKind::InstanceSubmitted
            | EventKind::InstanceStarted
            | EventKind::InstancePaused
            | EventKind::InstanceResumed
            | EventKind::InstanceRecovered
            | EventKind::TaskDispatched
            | EventKind::TaskStarted
            | EventKind::TaskSucceeded
            | EventKind::TaskKilled
            | EventKind::TaskHealthy
            | EventKind::WorkerLost
            | EventKind::ScheduleFired
            | EventKind::BackfillStarted
            | EventKind::BackfillEnded => None,
        }
    }

    /// The recorded event kind this alertable kind stands for.
    pub fn event_kind(self) -> EventKind {
        match self {
            AlertOn::InstanceFailed => EventKind::InstanceFailed,
            AlertOn::InstanceSucceeded => EventKind::InstanceSucceeded,
            AlertOn::InstanceStopped => EventKind::InstanceStopped,
            AlertOn::TaskFailed => EventKind::TaskFailed,
            AlertOn::TaskRetrying => EventKind::TaskRetrying,
            AlertOn::TaskTimeout => EventKind::TaskTimeout,
            AlertOn::TaskFailover => EventKind::TaskNeedFailover,
            AlertOn::InstanceAdopted => EventKind::InstanceAdopted,
            AlertOn::ScheduleMisfired => EventKind::ScheduleMisfired,
            AlertOn::TaskRestarted => EventKind::TaskRestarted,
        }
    }

    /// Whether it is bad news (a pager's `error`) rather than news (`info`).
    pub fn is_trouble(self) -> bool {
        !matches!(self, AlertOn::InstanceSucceeded)
    }

    /// Parses a comma-separated list (`instance_failed,task_failed`); every name must be
    /// known, and the list may not be empty.
    pub fn parse_list(text: &str) -> Result<Vec<AlertOn>, UnknownAlertKind> {
        let mut kinds = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let kind: AlertOn = part.parse()?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        if kinds.is_empty() {
            return Err(UnknownAlertKind(text.to_string()));
        }
        Ok(kinds)
    }
}

impl fmt::Display for AlertOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an alertable kind, with the known ones for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown alert kind `{0}` (expected one of: {known})", known = known_kinds())]
pub struct UnknownAlertKind(pub String);

/// The alertable kinds' names, comma-separated, for messages.
pub fn known_kinds() -> String {
    AlertOn::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for AlertOn {
    type Err = UnknownAlertKind;
    fn from_str(s: &str) -> Result<Self, UnknownAlertKind> {
        AlertOn::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownAlertKind(s.to_string()))
    }
}

/// One rule of a workflow file's `alerts:` block: these kinds of events of the workflow's
/// instances go to these channels of its project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleSpec {
    /// The kinds of events.
    pub on: Vec<AlertOn>,
    /// The names of the project's channels.
    pub channels: Vec<String>,
}

impl AlertRuleSpec {
    /// What is wrong with the rule, each in words (`index` is its place in the list, from 1).
    pub fn check(&self, index: usize) -> Vec<String> {
        let mut problems = Vec::new();
        if self.on.is_empty() {
            problems.push(format!(
                "alert rule {index}: `on` names no event (one or more of: {})",
                known_kinds()
            ));
        }
        if self.channels.is_empty() {
            problems.push(format!("alert rule {index}: `channels` names no channel"));
        }
        for c in &self.channels {
            if !crate::spec::valid_name(c) {
                problems.push(format!(
                    "alert rule {index}: channel name `{c}` may only use letters, digits, `_`, `-` and `.` (at most 100)"
                ));
            }
        }
        problems
    }

    /// Whether an event of `kind` matches the rule.
    pub fn matches(&self, kind: AlertOn) -> bool {
        self.on.contains(&kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alertable_kind_maps_to_its_event_and_back() {
        for k in AlertOn::ALL {
            assert_eq!(AlertOn::of_event(k.event_kind()), Some(*k));
            assert_eq!(k.as_str().parse::<AlertOn>().unwrap(), *k);
        }
        let alertable = EventKind::ALL
            .iter()
            .filter(|e| AlertOn::of_event(**e).is_some())
            .count();
        assert_eq!(alertable, AlertOn::ALL.len());
        assert_eq!(AlertOn::of_event(EventKind::TaskStarted), None);
        assert_eq!(AlertOn::of_event(EventKind::WorkerLost), None);
    }

    #[test]
    fn lists_are_parsed_with_the_known_names_in_the_error() {
        assert_eq!(
            AlertOn::parse_list("instance_failed, task_failed,instance_failed").unwrap(),
            vec![AlertOn::InstanceFailed, AlertOn::TaskFailed]
        );
        let e = AlertOn::parse_list("instance_faild")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`instance_faild`") && e.contains("task_timeout"),
            "{e}"
        );
        assert!(AlertOn::parse_list(" , ").is_err());
    }

    #[test]
    fn a_rule_matches_its_kinds_and_checks_its_fields() {
        let rule = AlertRuleSpec {
            on: vec![AlertOn::InstanceFailed, AlertOn::TaskTimeout],
            channels: vec!["ops-slack".into()],
        };
        assert!(rule.matches(AlertOn::TaskTimeout));
        assert!(!rule.matches(AlertOn::InstanceSucceeded));
        assert!(rule.check(1).is_empty());
        let bad = AlertRuleSpec {
            on: vec![],
            channels: vec!["no spaces".into()],
        };
        let p = bad.check(2);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("alert rule 2: `on`"), "{p:?}");
    }
}
