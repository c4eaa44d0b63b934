//! `service`: a long-running process (a server) that a worker supervises. It starts when
//! the instance reaches it and runs until the instance is stopped: its row stays `running`
//! while it is up, a crash or failed health checks restart it on the same worker (by
//! `restart`, after `restart_backoff`), a lost worker relaunches it on another worker of the
//! group, and its downstream tasks start once it is healthy.
//!
//! ```yaml
//! - name: api-cache
//!   type: service
//!   command: ./run-cache-server --port 7000
//!   restart: always               # always (default) | on_failure | never
//!   restart_backoff: 1s..1m       # exponential from MIN to MAX, reset after 10 min up
//!   health: {http: "http://127.0.0.1:7000/health", interval: 10s, failures: 3}
//! ```
//!
//! Without `health`, the service is healthy once its process started. A `health` check is
//! `http: URL` (healthy on a 2xx) or `command: CMD` (healthy on exit 0), run every
//! `interval`, each within `timeout`; `failures` failed checks in a row restart the process.
//! `start_period` is a grace after each start during which failed checks do not count.

use super::{KindDef, KindReader};
use crate::spec::TaskKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

pub(super) const KIND: KindDef = KindDef {
    name: "service",
    fields: &["command", "restart", "restart_backoff", "health"],
    read,
};

/// Fields every other task takes that a service refuses, with why (in the user's words).
pub(crate) const REFUSED_FIELDS: &[(&str, &str)] = &[
    (
        "timeout",
        "a service runs until the instance is stopped: it takes no `timeout` (use `health` to restart one that hangs)",
    ),
    (
        "timeout_strategy",
        "a service runs until the instance is stopped: it takes no `timeout_strategy`",
    ),
    (
        "map",
        "a service cannot be mapped (`map:`): at most one copy of it runs",
    ),
];

/// How long a service must stay up for its restart backoff to start again from its minimum.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(600);

/// The shortest backoff, health interval or health timeout a file may give.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The longest backoff, health interval, timeout or start period a file may give.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The most failed health checks in a row a file may ask for before a restart.
pub const MAX_FAILURES: u32 = 100;

/// When a service's process that ended is started again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    /// Whatever its exit (the default): the attempt ends only by a stop or a lost worker.
    #[default]
    Always,
    /// After a non-zero exit; an exit 0 ends the attempt, which succeeds.
    OnFailure,
    /// Never: its exit ends the attempt (exit 0 succeeds, any other fails, and the task's
    /// `retries` apply).
    Never,
}

impl RestartPolicy {
    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on_failure",
            RestartPolicy::Never => "never",
        }
    }

    /// Whether a process that exited (`success`: with code 0) is started again.
    pub fn restarts(self, success: bool) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => !success,
            RestartPolicy::Never => false,
        }
    }
}

/// The waits between restarts: `min` after the first, doubled each time up to `max`; back to
/// `min` once the process stayed up [`BACKOFF_RESET_AFTER`]. Written `MIN..MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait.
    pub min: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// Reads `MIN..MAX` (each a duration as files write them), range-checked.
    pub fn parse(text: &str) -> Result<Backoff, String> {
        let how = "write it as MIN..MAX, e.g. 1s..1m";
        let Some((min, max)) = text.split_once("..") else {
            return Err(format!("`{text}` is not a range of durations: {how}"));
        };
        let min = crate::duration::parse(min).map_err(|e| format!("{e} ({how})"))?;
        let max = crate::duration::parse(max).map_err(|e| format!("{e} ({how})"))?;
        if min < MIN_INTERVAL || max > MAX_INTERVAL {
            return Err(format!(
                "`{text}`: each end is between {} and {}",
                crate::duration::format(MIN_INTERVAL),
                crate::duration::format(MAX_INTERVAL)
            ));
        }
        if min > max {
            return Err(format!("`{text}`: MIN is longer than MAX ({how})"));
        }
        Ok(Backoff { min, max })
    }

    /// The wait before restart number `n` (from 1) of a run of restarts.
    pub fn wait(&self, n: u32) -> Duration {
        let doubled = self
            .min
            .checked_mul(1u32 << n.saturating_sub(1).min(30))
            .unwrap_or(self.max);
        doubled.min(self.max)
    }
}

impl std::fmt::Display for Backoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (min, max) = (
            crate::duration::format(self.min),
            crate::duration::format(self.max),
        );
        write!(f, "{min}..{max}")
    }
}

impl Serialize for Backoff {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Backoff {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Backoff::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What a health check runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthProbe {
    /// A GET of this URL, from the worker: healthy on a 2xx.
    Http(String),
    /// This command, under `bash -c` with the service's environment: healthy on exit 0.
    Command(String),
}

/// How a service's health is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSpec {
    /// What one check runs.
    #[serde(flatten)]
    pub probe: HealthProbe,
    /// Between checks.
    #[serde(with = "crate::duration::required")]
    pub interval: Duration,
    /// Failed checks in a row that restart the process.
    pub failures: u32,
    /// The longest one check may take (then it failed).
    #[serde(with = "crate::duration::required")]
    pub timeout: Duration,
    /// After each start, failed checks do not count for this long.
    #[serde(with = "crate::duration::required")]
    pub start_period: Duration,
}

/// What a `service` task runs and how it is kept up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Given to `bash -c`, as a shell task's.
    pub command: String,
    /// When its process is started again after it ended.
    #[serde(default, skip_serializing_if = "is_default")]
    pub restart: RestartPolicy,
    /// The waits between restarts.
    #[serde(default, skip_serializing_if = "is_default")]
    pub restart_backoff: Backoff,
    /// How its health is checked (none: healthy once started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSpec>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    command: Option<String>,
    restart: Option<RestartPolicy>,
    restart_backoff: Option<String>,
    health: Option<RawHealth>,
}

/// `health:` as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    http: Option<String>,
    command: Option<String>,
    #[serde(default, with = "crate::duration::option")]
    interval: Option<Duration>,
    failures: Option<u32>,
    #[serde(default, with = "crate::duration::option")]
    timeout: Option<Duration>,
    #[serde(default, with = "crate::duration::option")]
    start_period: Option<Duration>,
}

fn read(r: &mut KindReader<'_, '_>) -> Option<TaskKind> {
    let f: Fields = r.read()?;
    let command = r.need(
        f.command.filter(|c| !c.trim().is_empty()),
        "a `command` (the server to run)",
    );
    let mut problems = Vec::new();
    let restart_backoff = match f.restart_backoff.as_deref().map(Backoff::parse) {
        None => Backoff::default(),
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            problems.push(("restart_backoff", format!("`restart_backoff`: {e}")));
            Backoff::default()
        }
    };
    let mut health_problems = Vec::new();
    let health = f.health.and_then(|h| health(h, &mut health_problems));
    problems.extend(health_problems.into_iter().map(|p| ("health", p)));
    if !problems.is_empty() {
        for (field, p) in problems {
            r.problem_at(field, p);
        }
        return None;
    }
    let command = command?;
    Some(TaskKind::Service(ServiceSpec {
        command,
        restart: f.restart.unwrap_or_default(),
        restart_backoff,
        health,
    }))
}

/// The health check as written, checked; `None` with its problems added.
fn health(h: RawHealth, problems: &mut Vec<String>) -> Option<HealthSpec> {
    let before = problems.len();
    let probe = match (h.http, h.command) {
        (Some(url), None) => {
            match url_host(&url) {
                None => problems.push(format!(
                    "`health.http` must start with http:// or https:// and name a host (got `{url}`)"
                )),
                Some(host) if !is_loopback(host) => problems.push(format!(
                    "`health.http`: `{host}` is not this host: a service is checked on the worker that runs it, at 127.0.0.1, [::1] or localhost"
                )),
                Some(_) => {}
            }
            Some(HealthProbe::Http(url))
        }
        (None, Some(cmd)) if !cmd.trim().is_empty() => Some(HealthProbe::Command(cmd)),
        (Some(_), Some(_)) => {
            problems.push("`health`: give `http` or `command`, not both".into());
            None
        }
        (None, _) => {
            problems
                .push("`health` needs `http: URL` or `command: CMD` (what one check runs)".into());
            None
        }
    };
    let interval = h.interval.unwrap_or(Duration::from_secs(10));
    let timeout = h.timeout.unwrap_or(Duration::from_secs(5).min(interval));
    let failures = h.failures.unwrap_or(3);
    let start_period = h.start_period.unwrap_or_default();
    for (name, d) in [("interval", interval), ("timeout", timeout)] {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&d) {
            problems.push(format!(
                "`health.{name}`: {} is not between {} and {}",
                crate::duration::format(d),
                crate::duration::format(MIN_INTERVAL),
                crate::duration::format(MAX_INTERVAL)
            ));
        }
    }
    if timeout > interval {
        problems.push("`health.timeout` is longer than `health.interval`".into());
    }
    if start_period > MAX_INTERVAL {
        problems.push(format!(
            "`health.start_period` is longer than {}",
            crate::duration::format(MAX_INTERVAL)
        ));
    }
    if !(1..=MAX_FAILURES).contains(&failures) {
        problems.push(format!(
            "`health.failures`: {failures} is not between 1 and {MAX_FAILURES}"
        ));
    }
    if problems.len() > before {
        return None;
    }
    Some(HealthSpec {
        probe: probe?,
        interval,
        failures,
        timeout,
        start_period,
    })
}

/// The host of an `http://` or `https://` URL (an IPv6 literal with its brackets).
fn url_host(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &url[7..]
    } else if lower.starts_with("https://") {
        &url[8..]
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => &host_port[..v6.find(']')? + 2],
        None => host_port.split(':').next().unwrap_or_default(),
    };
    (!host.is_empty()).then_some(host)
}

/// Whether a URL's host is the machine itself: a health check reaches only the service on
/// its own worker, never another host (the worker's http policy refuses loopback to tasks,
/// and a check must not become a way around it to other addresses).
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WorkflowSpec;

    fn service(fields: &str) -> Result<ServiceSpec, String> {
        let text = format!("name: w\ntasks:\n  - name: s\n    type: service\n{fields}");
        match WorkflowSpec::from_yaml(&text, "f.yaml") {
            Ok(spec) => match spec.tasks[0].kind.clone() {
                TaskKind::Service(s) => Ok(s),
                other => panic!("{other:?}"),
            },
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn defaults_are_always_one_second_to_a_minute_and_no_health_check() {
        let s = service("    command: ./server\n").unwrap();
        assert_eq!(s.command, "./server");
        assert_eq!(s.restart, RestartPolicy::Always);
        assert_eq!(s.restart_backoff, Backoff::default());
        assert_eq!(s.health, None);
    }

    #[test]
    fn every_field_is_read() {
        let s = service(
            "    command: ./server --port 7000\n    restart: on_failure\n    restart_backoff: 500ms..30s\n    health: {http: \"http://127.0.0.1:7000/health\", interval: 2s, failures: 5, timeout: 1s, start_period: 10s}\n",
        )
        .unwrap();
        assert_eq!(s.restart, RestartPolicy::OnFailure);
        assert_eq!(
            s.restart_backoff,
            Backoff {
                min: Duration::from_millis(500),
                max: Duration::from_secs(30)
            }
        );
        let h = s.health.unwrap();
        assert_eq!(
            h.probe,
            HealthProbe::Http("http://127.0.0.1:7000/health".into())
        );
        assert_eq!(
            (h.interval, h.failures, h.timeout, h.start_period),
            (
                Duration::from_secs(2),
                5,
                Duration::from_secs(1),
                Duration::from_secs(10)
            )
        );
        let c = service("    command: x\n    health: {command: \"test -e ready\"}\n").unwrap();
        let h = c.health.unwrap();
        assert_eq!(h.probe, HealthProbe::Command("test -e ready".into()));
        assert_eq!((h.interval, h.failures), (Duration::from_secs(10), 3));
    }

    #[test]
    fn a_spec_writes_back_to_a_file_that_reads_the_same() {
        let text = "name: w\ntasks:\n  - name: s\n    type: service\n    command: ./server\n    restart: never\n    restart_backoff: 2s..10m\n    health: {command: \"true\", interval: 3s}\n";
        let spec = WorkflowSpec::from_yaml(text, "f").unwrap();
        let again = WorkflowSpec::from_yaml(&spec.to_yaml().unwrap(), "f").unwrap();
        assert_eq!(spec, again);
        assert_eq!(WorkflowSpec::from_json(&spec.to_json()).unwrap(), spec);
    }

    #[test]
    fn bad_values_are_reported_at_their_line() {
        let e = service("    command: x\n    restart_backoff: 1m..1s\n").unwrap_err();
        assert!(
            e.contains("line 6") && e.contains("MIN is longer than MAX"),
            "{e}"
        );
        let e = service("    command: x\n    restart_backoff: 1s\n").unwrap_err();
        assert!(e.contains("is not a range of durations"), "{e}");
        let e = service("    command: x\n    restart_backoff: 1ms..1s\n").unwrap_err();
        assert!(e.contains("each end is between 100ms and 1day"), "{e}");
        let e = service("    command: x\n    restart: sometimes\n").unwrap_err();
        assert!(
            e.contains("line 6") && e.contains("unknown value `sometimes`"),
            "{e}"
        );
        let e = service("    command: x\n    health: {interval: 1s}\n").unwrap_err();
        assert!(e.contains("needs `http: URL` or `command: CMD`"), "{e}");
        let e =
            service("    command: x\n    health: {http: \"http://10.0.0.8:80/h\"}\n").unwrap_err();
        assert!(e.contains("`10.0.0.8` is not this host"), "{e}");
        for ok in [
            "http://localhost:80/",
            "https://[::1]:8443/x",
            "http://127.0.0.2/",
        ] {
            service(&format!("    command: x\n    health: {{http: \"{ok}\"}}\n")).unwrap();
        }
        let e = service("    command: x\n    health: {http: ftp://h, failures: 0}\n").unwrap_err();
        assert!(e.contains("must start with http://"), "{e}");
        assert!(
            e.contains("`health.failures`: 0 is not between 1 and 100"),
            "{e}"
        );
        let e = service("    command: x\n    health: {command: c, interval: 1s, timeout: 2s}\n")
            .unwrap_err();
        assert!(e.contains("longer than `health.interval`"), "{e}");
        let e = service("    command: x\n    health: {command: c, every: 1s}\n").unwrap_err();
        assert!(e.contains("unknown field `every`"), "{e}");
        let e = service("    restart: never\n").unwrap_err();
        assert!(e.contains("a service task needs a `command`"), "{e}");
    }

    #[test]
    fn options_that_make_no_sense_for_a_service_are_refused_at_their_line() {
        let e = service("    command: x\n    timeout: 10s\n").unwrap_err();
        assert!(
            e.contains("line 6, column 5") && e.contains("takes no `timeout`"),
            "{e}"
        );
        let e = service("    command: x\n    map: {over: \"[1]\"}\n").unwrap_err();
        assert!(
            e.contains("line 6") && e.contains("cannot be mapped"),
            "{e}"
        );
        let e = service("    command: x\n    failover: fail\n").unwrap_err();
        assert!(
            e.contains("line 6") && e.contains("`failover: fail`"),
            "{e}"
        );
        let e = service("    command: x\n    script: y\n").unwrap_err();
        assert!(e.contains("does not take `script`"), "{e}");
    }

    #[test]
    fn the_backoff_doubles_up_to_its_maximum() {
        let b = Backoff::parse("1s..10s").unwrap();
        let waits: Vec<u64> = (1..=6).map(|n| b.wait(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.wait(1000), Duration::from_secs(10));
    }

    #[test]
    fn the_restart_policy_says_which_exits_restart() {
        assert!(RestartPolicy::Always.restarts(true) && RestartPolicy::Always.restarts(false));
        assert!(!RestartPolicy::OnFailure.restarts(true));
        assert!(RestartPolicy::OnFailure.restarts(false));
        assert!(!RestartPolicy::Never.restarts(false));
    }
}
