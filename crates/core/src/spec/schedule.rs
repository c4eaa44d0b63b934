//! The `schedule:` block of a workflow file: when the workflow fires by itself.

use crate::duration;
use crate::schedule::{parse_timezone, Cron, Schedule};
use crate::spec::Priority;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What to do with fires missed while no master ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Drop them.
    Skip,
    /// Run once, for the latest missed fire time.
    #[default]
    FireOnce,
    /// Run each of them, oldest first, at most `max_catchup`.
    FireAll,
}

/// What a fire does while an earlier instance of the same schedule still runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concurrency {
    /// Start another instance alongside.
    #[default]
    Allow,
    /// Drop this fire.
    Skip,
    /// Start it when the earlier ones have ended.
    Queue,
    /// Stop the earlier ones, then start.
    Replace,
}

/// A checked schedule block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// A cron expression (5 or 6 fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Fire every interval, measured from one fire to the next.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed_rate: Option<Duration>,
    /// Fire the interval after the previous instance ended.
    #[serde(
        default,
        with = "duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed_delay: Option<Duration>,
    /// IANA zone of the cron expression (default: the workflow's `timezone`, else UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// No fire before this (`2026-01-01` or RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// No fire after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Offline schedules do not fire.
    #[serde(default = "yes")]
    pub online: bool,
    /// Fires missed while no master ran.
    #[serde(default)]
    pub misfire: Misfire,
    /// With `misfire: fire_all`, at most this many catch-up instances.
    #[serde(default = "ten")]
    pub max_catchup: u32,
    /// A fire while an earlier instance still runs.
    #[serde(default)]
    pub concurrency: Concurrency,
    /// Priority of the instances this schedule fires (and of its backfills); default: the
    /// workflow's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
}

fn yes() -> bool {
    true
}
/// The most catch-up instances a schedule may ask for.
pub const MAX_CATCHUP: u32 = 10_000;

fn ten() -> u32 {
    10
}

/// When a schedule fires, resolved.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// On cron fire times.
    Cron(Schedule),
    /// Every interval from the first fire.
    FixedRate(Duration),
    /// The interval after each instance ends.
    FixedDelay(Duration),
}

impl ScheduleSpec {
    /// Checks the block; each problem is a message for the user.
    pub fn check(&self, workflow_tz: Option<&str>) -> Vec<String> {
        let mut problems = Vec::new();
        let kinds = [
            self.cron.is_some(),
            self.fixed_rate.is_some(),
            self.fixed_delay.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            problems
                .push("schedule: give exactly one of `cron`, `fixed_rate`, `fixed_delay`".into());
        }
        if let Some(c) = &self.cron {
            if let Err(e) = Cron::parse(c) {
                problems.push(format!("schedule: cron `{c}`: {e}"));
            }
        }
        for d in [self.fixed_rate, self.fixed_delay].into_iter().flatten() {
            if d < Duration::from_secs(1) {
                problems.push("schedule: a fixed rate or delay must be at least 1s".into());
            }
        }
        if self.max_catchup > MAX_CATCHUP {
            problems.push(format!(
                "schedule: max_catchup {} is too many: at most {MAX_CATCHUP}",
                self.max_catchup
            ));
        }
        let tz = match self.zone(workflow_tz) {
            Ok(tz) => Some(tz),
            Err(e) => {
                problems.push(format!("schedule: {e}"));
                None
            }
        };
        if let Some(tz) = tz {
            for (what, v) in [("start", &self.start), ("end", &self.end)] {
                if let Some(text) = v {
                    if let Err(e) = parse_instant(text, tz) {
                        problems.push(format!("schedule: {what}: {e}"));
                    }
                }
            }
        }
        problems
    }

    /// The priority of the instances it fires: its own, else the workflow's.
    pub fn instance_priority(&self, workflow: Priority) -> Priority {
        self.priority.unwrap_or(workflow)
    }

    /// The zone of the schedule.
    pub fn zone(&self, workflow_tz: Option<&str>) -> Result<Tz, String> {
        match self.timezone.as_deref().or(workflow_tz) {
            Some(name) => parse_timezone(name).map_err(|e| e.to_string()),
            None => Ok(chrono_tz::UTC),
        }
    }

    /// The start and end bounds.
    pub fn bounds(&self, tz: Tz) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let b = |v: &Option<String>| v.as_deref().and_then(|t| parse_instant(t, tz).ok());
        (b(&self.start), b(&self.end))
    }

    /// The trigger of a checked block.
    pub fn trigger(&self, workflow_tz: Option<&str>) -> Result<Trigger, String> {
        if let Some(c) = &self.cron {
            let tz = self.zone(workflow_tz)?;
            let cron = Cron::parse(c).map_err(|e| e.to_string())?;
            let (start, end) = self.bounds(tz);
            let mut schedule = Schedule::new(cron, tz);
            schedule.start = start;
            schedule.end = end;
            return Ok(Trigger::Cron(schedule));
        }
        if let Some(d) = self.fixed_rate {
            return Ok(Trigger::FixedRate(d));
        }
        if let Some(d) = self.fixed_delay {
            return Ok(Trigger::FixedDelay(d));
        }
        Err("schedule: no `cron`, `fixed_rate` or `fixed_delay`".into())
    }
}

impl crate::spec::WorkflowSpec {
    /// The definition with its `schedule:` block replaced (or removed, with `None`), and the
    /// workflow file that says so: what setting a schedule through the API or the CLI stores
    /// as the workflow's new version. A bad block is refused with the same messages as in a
    /// file, naming `source_name`.
    pub fn with_schedule(
        &self,
        schedule: Option<ScheduleSpec>,
        source_name: &str,
    ) -> Result<(crate::spec::WorkflowSpec, String), crate::spec::SpecError> {
        let fail = |messages: Vec<String>| crate::spec::SpecError {
            source_name: source_name.to_string(),
            problems: messages
                .into_iter()
                .map(|message| crate::spec::Problem {
                    task: None,
                    line: None,
                    column: None,
                    message,
                })
                .collect(),
        };
        if let Some(s) = &schedule {
            let problems = s.check(self.timezone.as_deref());
            if !problems.is_empty() {
                return Err(fail(problems));
            }
        }
        let mut changed = self.clone();
        changed.schedule = schedule;
        let source = changed
            .to_yaml()
            .map_err(|e| fail(vec![format!("cannot write the workflow file: {e}")]))?;
        // The same checks as `workflow apply`: what is stored is a file that applies back.
        let checked = crate::spec::WorkflowSpec::from_yaml(&source, source_name)?;
        Ok((checked, source))
    }
}

/// `2026-01-01` (midnight in `tz`) or an RFC 3339 instant.
pub fn parse_instant(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is neither a date (2026-01-31) nor an RFC 3339 time"))?;
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("`{text}` does not exist in {tz}"))
}

/// How long after its time a fire still counts as on time; later, it was missed (no master
/// ran) and the misfire policy decides.
pub const MISFIRE_GRACE_US: i64 = 10_000_000;

/// Fire times of a schedule that were missed while no master ran and that the misfire
/// policy dropped (they start no instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    /// How many were dropped.
    pub count: u64,
    /// The first dropped (µs).
    pub first: i64,
    /// The last dropped (µs).
    pub last: i64,
}

impl Missed {
    fn add(this: &mut Option<Missed>, t: i64) {
        match this {
            Some(m) => {
                m.count += 1;
                m.first = m.first.min(t);
                m.last = m.last.max(t);
            }
            None => {
                *this = Some(Missed {
                    count: 1,
                    first: t,
                    last: t,
                })
            }
        }
    }
}

/// What a master does with a schedule whose fire is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirePlan {
    /// Fire times (µs) to start an instance for, oldest first.
    pub fire: Vec<i64>,
    /// The fires the misfire policy dropped, if any.
    pub missed: Option<Missed>,
    /// Stop the schedule's running instances first (`concurrency: replace`).
    pub stop_running: bool,
    /// The next fire due after this; `None` waits for an instance to end (fixed delay) or
    /// for nothing (the schedule has ended).
    pub next_fire_at: Option<i64>,
}

fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn utc(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

impl ScheduleSpec {
    /// The first fire after `now` (µs) of a schedule that was just created or changed.
    pub fn first_fire(&self, workflow_tz: Option<&str>, now: i64) -> Option<i64> {
        if !self.online {
            return None;
        }
        match self.trigger(workflow_tz).ok()? {
            Trigger::Cron(s) => s.next_after(utc(now)).map(us),
            Trigger::FixedRate(d) | Trigger::FixedDelay(d) => {
                let (start, end) = self.bounds(self.zone(workflow_tz).ok()?);
                let first = now
                    .saturating_add(duration::micros(d))
                    .max(start.map(us).unwrap_or(i64::MIN));
                (end.is_none_or(|e| first <= us(e))).then_some(first)
            }
        }
    }

    /// Decides what a due schedule does now: `due` is its stored next fire (≤ `now`), and
    /// `running` the number of its instances not yet ended. `taking_since` is when the master
    /// deciding began taking work without a break: a fire at or after it became due while a
    /// master ran, so it fires however late the backlog made it. Only the fires before it
    /// were missed while no master ran, and the misfire policy decides about those.
    pub fn plan(
        &self,
        workflow_tz: Option<&str>,
        due: i64,
        now: i64,
        taking_since: i64,
        running: usize,
    ) -> FirePlan {
        let Ok(trigger) = self.trigger(workflow_tz) else {
            return FirePlan {
                fire: Vec::new(),
                missed: None,
                stop_running: false,
                next_fire_at: None,
            };
        };
        let cap = usize::try_from(self.max_catchup.max(1)).unwrap_or(usize::MAX);
        let mut fires = Fires::new(cap, taking_since);
        // Every fire time from `due` up to now (the ones a master missed included).
        fires.push(due);
        let mut next = match &trigger {
            Trigger::Cron(s) => {
                let mut it = s.fires_after(utc(due)).map(us).peekable();
                while let Some(t) = it.next_if(|t| *t <= now) {
                    fires.push(t);
                }
                it.next()
            }
            Trigger::FixedRate(d) => {
                let step = duration::micros(*d).max(1);
                let mut t = due + step;
                while t <= now {
                    fires.push(t);
                    t += step;
                }
                Some(t)
            }
            Trigger::FixedDelay(_) => None,
        };
        if let (Trigger::FixedRate(_), Some(t)) = (&trigger, next) {
            let (_, end) = self.bounds(self.zone(workflow_tz).unwrap_or(chrono_tz::UTC));
            if end.is_some_and(|e| t > us(e)) {
                next = None;
            }
        }
        let (mut fire, missed) = fires.decide(self.misfire, now);
        let mut stop_running = false;
        match self.concurrency {
            Concurrency::Allow => {}
            Concurrency::Skip if running > 0 => fire.clear(),
            Concurrency::Skip => {}
            Concurrency::Replace => stop_running = running > 0 && !fire.is_empty(),
            Concurrency::Queue if running > 0 => {
                // Wait: the fire stays due and goes once the running instances have ended.
                return FirePlan {
                    fire: Vec::new(),
                    missed,
                    stop_running: false,
                    next_fire_at: Some(due),
                };
            }
            Concurrency::Queue => {
                if let Some(first) = fire.first().copied() {
                    // One at a time; the others follow as each ends.
                    let rest: Vec<i64> = fire.drain(..).skip(1).collect();
                    fire = vec![first];
                    if let Some(n) = rest.first() {
                        next = Some(*n);
                    }
                }
            }
        }
        if let Trigger::FixedDelay(d) = trigger {
            // The next fire is set when this instance ends (or, if none starts, a delay from now).
            next = fire
                .is_empty()
                .then_some(now.saturating_add(duration::micros(d)));
        }
        FirePlan {
            fire,
            missed,
            stop_running,
            next_fire_at: next,
        }
    }
}

/// The fire times of one plan, split at the moment the deciding master began taking work.
struct Fires {
    /// Before it (missed while no master ran): the latest `cap + 1` only.
    before: Vec<i64>,
    /// How many fell before it and were not kept.
    dropped: Option<Missed>,
    /// At or after it: every one.
    during: Vec<i64>,
    cap: usize,
    since: i64,
}

impl Fires {
    fn new(cap: usize, since: i64) -> Fires {
        Fires {
            before: Vec::new(),
            dropped: None,
            during: Vec::new(),
            cap,
            since,
        }
    }

    fn push(&mut self, t: i64) {
        if t >= self.since {
            self.during.push(t);
            return;
        }
        self.before.push(t);
        if self.before.len() > self.cap + 1 {
            Missed::add(&mut self.dropped, self.before.remove(0));
        }
    }

    /// The fires to start, oldest first, and those the misfire policy dropped.
    fn decide(self, misfire: Misfire, now: i64) -> (Vec<i64>, Option<Missed>) {
        let Fires {
            before,
            mut dropped,
            during,
            cap,
            ..
        } = self;
        let late = match before.last() {
            Some(last) => before.len() > 1 || now - last > MISFIRE_GRACE_US,
            None => false,
        };
        let kept: Vec<i64> = if !late {
            before
        } else {
            let keep: Vec<i64> = match misfire {
                Misfire::Skip => before
                    .iter()
                    .copied()
                    .filter(|t| now - t <= MISFIRE_GRACE_US)
                    .collect(),
                Misfire::FireOnce => before.last().copied().into_iter().collect(),
                Misfire::FireAll => {
                    let skip = before.len().saturating_sub(cap);
                    before.iter().copied().skip(skip).collect()
                }
            };
            for t in before.iter().filter(|t| !keep.contains(t)) {
                Missed::add(&mut dropped, *t);
            }
            keep
        };
        (kept.into_iter().chain(during).collect(), dropped)
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    const S: i64 = 1_000_000;
    // 2026-01-01T00:00:00Z
    const T0: i64 = 1_767_225_600 * S;

    fn every_minute(misfire: Misfire, concurrency: Concurrency) -> ScheduleSpec {
        ScheduleSpec {
            cron: Some("0 * * * * *".into()),
            fixed_rate: None,
            fixed_delay: None,
            timezone: None,
            start: None,
            end: None,
            online: true,
            misfire,
            max_catchup: 3,
            concurrency,
            priority: None,
        }
    }

    #[test]
    fn fixed_times_saturate_instead_of_wrapping() {
        let delay = ScheduleSpec {
            cron: None,
            fixed_delay: Some(duration::MAX),
            ..every_minute(Misfire::FireOnce, Concurrency::Skip)
        };
        let late = i64::MAX - S;
        assert_eq!(delay.first_fire(None, late), Some(i64::MAX));
        // Skipped (one still runs): the next fire is a delay from now.
        let p = delay.plan(None, late, late, late, 1);
        assert!(p.fire.is_empty());
        assert_eq!(p.next_fire_at, Some(i64::MAX));
    }

    #[test]
    fn an_on_time_fire_fires_once_and_moves_on() {
        let s = every_minute(Misfire::FireOnce, Concurrency::Allow);
        let p = s.plan(None, T0, T0 + S, T0 + S, 0);
        assert_eq!(
            p,
            FirePlan {
                fire: vec![T0],
                missed: None,
                stop_running: false,
                next_fire_at: Some(T0 + 60 * S)
            }
        );
    }

    #[test]
    fn misfire_policies_after_ten_missed_minutes() {
        let now = T0 + 10 * 60 * S + 5 * S;
        let once = every_minute(Misfire::FireOnce, Concurrency::Allow).plan(None, T0, now, now, 0);
        assert_eq!(once.fire, vec![T0 + 600 * S]);
        assert_eq!(once.next_fire_at, Some(T0 + 660 * S));
        let skip = every_minute(Misfire::Skip, Concurrency::Allow).plan(None, T0, now, now, 0);
        assert_eq!(skip.fire, vec![T0 + 600 * S], "only the one still on time");
        let all = every_minute(Misfire::FireAll, Concurrency::Allow).plan(None, T0, now, now, 0);
        assert_eq!(
            all.fire,
            vec![T0 + 480 * S, T0 + 540 * S, T0 + 600 * S],
            "the latest max_catchup"
        );
        let stale = every_minute(Misfire::Skip, Concurrency::Allow).plan(
            None,
            T0,
            T0 + 30 * S,
            T0 + 30 * S,
            0,
        );
        assert!(stale.fire.is_empty(), "a single fire 30s late was missed");
        assert_eq!(
            stale.missed,
            Some(Missed {
                count: 1,
                first: T0,
                last: T0
            })
        );
        assert_eq!(skip.missed.map(|m| m.count), Some(10));
        assert_eq!(
            all.missed.map(|m| (m.count, m.last)),
            Some((8, T0 + 420 * S))
        );
    }

    #[test]
    fn a_backlog_while_a_master_ran_is_not_a_misfire() {
        // Due at T0 while the master was taking work (since T0 - 1 h), decided 10 minutes late.
        let now = T0 + 10 * 60 * S + 5 * S;
        let since = T0 - 3600 * S;
        for misfire in [Misfire::Skip, Misfire::FireOnce, Misfire::FireAll] {
            let p = every_minute(misfire, Concurrency::Allow).plan(None, T0, now, since, 0);
            let every: Vec<i64> = (0..=10).map(|m| T0 + m * 60 * S).collect();
            assert_eq!(p.fire, every, "{misfire:?}: every fire, none dropped");
            assert_eq!(p.missed, None);
            assert_eq!(p.next_fire_at, Some(T0 + 660 * S));
        }
        // Missed for five minutes with no master, then one started: only those five decide.
        let since = T0 + 5 * 60 * S;
        let p = every_minute(Misfire::Skip, Concurrency::Allow).plan(None, T0, now, since, 0);
        let after: Vec<i64> = (5..=10).map(|m| T0 + m * 60 * S).collect();
        assert_eq!(p.fire, after);
        assert_eq!(
            p.missed.map(|m| (m.count, m.first, m.last)),
            Some((5, T0, T0 + 240 * S))
        );
    }

    #[test]
    fn concurrency_policies_with_an_instance_running() {
        let plan = |c| every_minute(Misfire::FireOnce, c).plan(None, T0, T0 + S, T0 + S, 1);
        assert_eq!(plan(Concurrency::Allow).fire, vec![T0]);
        assert!(plan(Concurrency::Skip).fire.is_empty());
        assert_eq!(plan(Concurrency::Skip).next_fire_at, Some(T0 + 60 * S));
        let replace = plan(Concurrency::Replace);
        assert!(replace.stop_running && replace.fire == vec![T0]);
        let queue = plan(Concurrency::Queue);
        assert!(queue.fire.is_empty());
        assert_eq!(queue.next_fire_at, Some(T0), "stays due");
    }

    #[test]
    fn a_schedule_priority_wins_over_the_workflow_s() {
        let yaml = "name: x\npriority: low\nschedule: {cron: '0 0 2 * * *', priority: high}\n\
                    tasks:\n  - {name: a, type: noop}\n";
        let spec = crate::WorkflowSpec::from_yaml(yaml, "x.yaml").unwrap();
        let s = spec.schedule.clone().unwrap();
        assert_eq!(s.priority, Some(Priority::High));
        assert_eq!(s.instance_priority(spec.priority), Priority::High);
        let json = spec.to_json();
        assert!(json.contains(r#""priority":"high""#), "{json}");
        assert_eq!(crate::WorkflowSpec::from_json(&json).unwrap(), spec);
        // Without one, the workflow's, and the stored form is as before (no `priority` key).
        let plain = every_minute(Misfire::FireOnce, Concurrency::Allow);
        assert_eq!(plain.instance_priority(Priority::Low), Priority::Low);
        let text = serde_json::to_string(&plain).unwrap();
        assert!(!text.contains("priority"), "{text}");
        let e = crate::WorkflowSpec::from_yaml(
            "name: x\nschedule: {cron: '* * * * *', priority: urgent}\ntasks:\n  - {name: a, type: noop}\n",
            "x.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown value `urgent`"), "{e}");
    }

    #[test]
    fn with_schedule_makes_a_file_that_applies_back() {
        let spec = crate::WorkflowSpec::from_yaml(
            "name: x\ntimezone: Asia/Shanghai\ntasks:\n  - {name: a, type: shell, command: 'echo ${dt}'}\n\
             params: {dt: '1'}\n",
            "x.yaml",
        )
        .unwrap();
        let mut block = every_minute(Misfire::Skip, Concurrency::Queue);
        block.priority = Some(Priority::Highest);
        let (set, source) = spec
            .with_schedule(Some(block.clone()), "schedule of `x`")
            .unwrap();
        assert_eq!(set.schedule, Some(block.clone()));
        assert_eq!(set.tasks, spec.tasks);
        assert_eq!(
            crate::WorkflowSpec::from_yaml(&source, "again").unwrap(),
            set,
            "{source}"
        );
        let (removed, _) = set.with_schedule(None, "schedule of `x`").unwrap();
        assert_eq!(removed, spec);

        block.cron = Some("0 0 25 * * *".into());
        let e = spec
            .with_schedule(Some(block.clone()), "schedule of `x`")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "schedule of `x`: schedule: cron `0 0 25 * * *`: hour field: 25 is out of range 0-23"
        );
        block.cron = None;
        let e = spec
            .with_schedule(Some(block), "schedule of `x`")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("exactly one of `cron`, `fixed_rate`, `fixed_delay`"),
            "{e}"
        );
    }

    #[test]
    fn fixed_rate_and_delay() {
        let mut s = every_minute(Misfire::FireOnce, Concurrency::Allow);
        s.cron = None;
        s.fixed_rate = Some(Duration::from_secs(30));
        assert_eq!(s.first_fire(None, T0), Some(T0 + 30 * S));
        let p = s.plan(None, T0, T0 + S, T0 + S, 0);
        assert_eq!((p.fire, p.next_fire_at), (vec![T0], Some(T0 + 30 * S)));
        s.fixed_rate = None;
        s.fixed_delay = Some(Duration::from_secs(30));
        let p = s.plan(None, T0, T0 + S, T0 + S, 0);
        assert_eq!(
            (p.fire, p.next_fire_at),
            (vec![T0], None),
            "waits for the instance to end"
        );
        s.online = false;
        assert_eq!(s.first_fire(None, T0), None);
    }
}
