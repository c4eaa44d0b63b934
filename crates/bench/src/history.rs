//! `baton-bench history`: fills a store with a long history (instances, their task instances,
//! attempts and events, spread over 180 days) and times the store's queries behind the API's
//! history pages — the instance list under each filter, deep pages, one instance's page —
//! and then the retention purge.

use crate::args::HistoryArgs;
use crate::figures::{sorted_ms, Figures};
use crate::target::{is_postgres, BenchDb};
use anyhow::Context;
use baton_core::{WorkflowInstanceId, WorkflowSpec, WorkflowState};
use baton_store::{InstanceFilter, PurgeScope, Store};
use std::fmt::Write;
use std::time::Instant;

/// Instances written per statement.
const FILL_BATCH: i64 = 500;

/// The workflows the history is spread over: most runs belong to a few busy workflows; one,
/// `rare`, has one instance in a thousand (the case a filter that cannot use an index makes
/// slow: a page of it is spread over the whole table).
const BUSY_WORKFLOWS: i64 = 10;

const DAY_US: i64 = 24 * 3600 * 1_000_000;

/// How far back the history goes.
const SPAN_DAYS: i64 = 180;

pub async fn run(args: &HistoryArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("baton-bench-").tempdir()?;
    let pg = match args.database.as_deref() {
        Some(url) if is_postgres(url) => Some(BenchDb::create(url)?),
        Some(url) => {
            anyhow::bail!("--database must be postgres://…, not `{url}` (default: SQLite)")
        }
        None => None,
    };
    let url = match &pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", dir.path().join("baton.db").display()),
    };
    let store = Store::connect(&url).await?;
    let mut f = Figures::default();
    f.add(
        "database",
        if pg.is_some() { "postgresql" } else { "sqlite" },
    );
    f.add("instances", args.instances);
    f.add("task_instances", args.instances * args.tasks_per_instance);

    let workflows = apply_workflows(&store, args.tasks_per_instance).await?;
    let fill = History::new(args.instances, args.tasks_per_instance, workflows);
    let started = Instant::now();
    fill.write(&url).await?;
    let secs = started.elapsed().as_secs_f64();
    f.add("fill_s", format!("{secs:.1}"));
    f.add(
        "fill_task_instances_per_s",
        format!(
            "{:.0}",
            (args.instances * args.tasks_per_instance) as f64 / secs
        ),
    );

    time_lists(&store, &fill, args.samples as usize, &mut f).await?;
    time_instance_page(&store, &fill, args.samples as usize, &mut f).await?;
    time_purge(&store, &fill, &mut f).await?;
    f.print();
    store.close().await;
    drop(pg);
    Ok(())
}

/// Applies the busy workflows and `rare`, each of `tasks` tasks; returns their ids by name.
async fn apply_workflows(store: &Store, tasks: i64) -> anyhow::Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    let names = (0..BUSY_WORKFLOWS)
        .map(|i| format!("w{i}"))
        .chain(std::iter::once("rare".to_string()));
    for name in names {
        let mut text = format!("name: {name}\ntasks:\n");
        for t in 0..tasks {
            let _ = writeln!(text, "  - {{name: t{t}, type: noop}}");
        }
        let spec = WorkflowSpec::from_yaml(&text, "bench.yaml")?;
        let applied = store.apply_workflow(&spec, &text).await?;
        out.push((name, applied.id.0));
    }
    Ok(out)
}

/// The history written: which instance is what, from its id alone.
struct History {
    instances: i64,
    tasks: i64,
    workflows: Vec<(String, i64)>,
    now: i64,
}

impl History {
    fn new(instances: i64, tasks: i64, workflows: Vec<(String, i64)>) -> History {
        History {
            instances,
            tasks,
            workflows,
            now: baton_store::now_us(),
        }
    }

    /// Instance `i` (1-based) was submitted this long after the start of the span: evenly,
    /// oldest first.
    fn submitted_at(&self, i: i64) -> i64 {
        let span = SPAN_DAYS * DAY_US;
        self.now - span + span / self.instances.max(1) * i
    }

    /// Its workflow: `rare` for one in a thousand, else a busy one in turn.
    fn workflow(&self, i: i64) -> &(String, i64) {
        if i % 1000 == 7 {
            &self.workflows[BUSY_WORKFLOWS as usize]
        } else {
            &self.workflows[(i % BUSY_WORKFLOWS) as usize]
        }
    }

    /// Its state: 2 % stopped, 8 % failed, the rest succeeded; the newest 20 still running.
    fn state(&self, i: i64) -> WorkflowState {
        if i > self.instances - 20 {
            WorkflowState::Running
        } else if i % 50 == 3 {
            WorkflowState::Stopped
        } else if i % 25 == 1 {
            WorkflowState::Failed
        } else {
            WorkflowState::Succeeded
        }
    }

    /// Writes every row, `FILL_BATCH` instances a transaction, as SQL text (numbers and
    /// names the bench made: nothing from outside).
    async fn write(&self, url: &str) -> anyhow::Result<()> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await?;
        let mut first = 1;
        while first <= self.instances {
            let last = (first + FILL_BATCH - 1).min(self.instances);
            let mut tx = pool.begin().await?;
            for sql in self.batch_sql(first, last) {
                sqlx::query(&sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            first = last + 1;
        }
        if is_postgres(url) {
            for table in ["workflow_instance", "task_instance", "event"] {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     (SELECT max(id) FROM {table}))"
                );
                sqlx::query(&sql).execute(&pool).await?;
            }
            sqlx::query("ANALYZE").execute(&pool).await?;
        } else {
            sqlx::query("ANALYZE").execute(&pool).await?;
        }
        let next_task = self.instances * self.tasks + 1;
        sqlx::query(&format!(
            "UPDATE id_block SET next = {next_task} WHERE name = 'task_instance'"
        ))
        .execute(&pool)
        .await
        .context("moving the task id block past the filled ids")?;
        pool.close().await;
        Ok(())
    }

    /// The INSERTs of instances `first..=last`: the instances, their task instances, one
    /// attempt each, and two events per instance (submitted, ended) plus one per failed task.
    fn batch_sql(&self, first: i64, last: i64) -> Vec<String> {
        let mut instances = String::from(
            "INSERT INTO workflow_instance (id, workflow_id, version, project, name, state, \
             params, priority, epoch, submitted_at, started_at, ended_at) VALUES ",
        );
        let mut tasks = String::from(
            "INSERT INTO task_instance (id, workflow_instance_id, task_name, state, attempt, \
             worker, submitted_at, started_at, ended_at, exit_code) VALUES ",
        );
        let mut attempts = String::from(
            "INSERT INTO task_attempt (task_instance_id, attempt, state, worker, started_at, \
             ended_at, exit_code) VALUES ",
        );
        let mut events = String::from(
            "INSERT INTO event (kind, workflow_instance_id, project, workflow, message, at, \
             recorded_at) VALUES ",
        );
        for i in first..=last {
            let sep = if i == first { "" } else { ", " };
            let (name, wf) = self.workflow(i);
            let state = self.state(i);
            let at = self.submitted_at(i);
            let ended = if state.is_final() {
                (at + 60_000_000).to_string()
            } else {
                "NULL".to_string()
            };
            let _ = write!(
                instances,
                "{sep}({i}, {wf}, 1, 'default', '{name}', '{state}', '{{}}', 'medium', 0, \
                 {at}, {at}, {ended})"
            );
            let _ = write!(
                events,
                "{sep}('instance_submitted', {i}, 'default', '{name}', 'submitted', {at}, {at})"
            );
            if state.is_final() {
                let _ = write!(
                    events,
                    ", ('instance_{state}', {i}, 'default', '{name}', 'ended', {ended}, {ended})"
                );
            }
            for t in 0..self.tasks {
                let tid = (i - 1) * self.tasks + t + 1;
                let task_sep = if i == first && t == 0 { "" } else { ", " };
                let (task_state, code) = match state {
                    WorkflowState::Failed if t == self.tasks - 1 => ("failed", 1),
                    WorkflowState::Running => ("running", 0),
                    _ => ("succeeded", 0),
                };
                let _ = write!(
                    tasks,
                    "{task_sep}({tid}, {i}, 't{t}', '{task_state}', 1, 'w1:5690', {at}, {at}, \
                     {ended}, {code})"
                );
                let _ = write!(
                    attempts,
                    "{task_sep}({tid}, 1, '{task_state}', 'w1:5690', {at}, {at}, {code})"
                );
                if task_state == "failed" {
                    let _ = write!(
                        events,
                        ", ('task_failed', {i}, 'default', '{name}', 'exit 1', {at}, {at})"
                    );
                }
            }
        }
        vec![instances, tasks, attempts, events]
    }
}

/// Times each listing the API's instance list makes, `samples` times each.
async fn time_lists(
    store: &Store,
    h: &History,
    samples: usize,
    f: &mut Figures,
) -> anyhow::Result<()> {
    let page = |filter: InstanceFilter| InstanceFilter {
        limit: Some(50),
        ..filter
    };
    let mid = h.instances / 2;
    let day_at = h.submitted_at(mid);
    let cases: Vec<(&str, InstanceFilter)> = vec![
        ("list_newest", page(InstanceFilter::default())),
        (
            "list_by_workflow",
            page(InstanceFilter {
                project: Some("default".into()),
                workflow: Some("w3".into()),
                ..Default::default()
            }),
        ),
        (
            "list_by_rare_workflow",
            page(InstanceFilter {
                project: Some("default".into()),
                workflow: Some("rare".into()),
                ..Default::default()
            }),
        ),
        (
            "list_by_state_failed",
            page(InstanceFilter {
                state: Some(WorkflowState::Failed),
                ..Default::default()
            }),
        ),
        (
            "list_by_workflow_and_state",
            page(InstanceFilter {
                project: Some("default".into()),
                workflow: Some("w1".into()),
                state: Some(WorkflowState::Failed),
                ..Default::default()
            }),
        ),
        (
            "list_one_day_90_days_ago",
            page(InstanceFilter {
                submitted_since: Some(day_at),
                submitted_until: Some(day_at + DAY_US),
                ..Default::default()
            }),
        ),
        (
            "list_deep_page",
            page(InstanceFilter {
                before: Some(mid),
                ..Default::default()
            }),
        ),
    ];
    for (name, filter) in cases {
        let mut us = Vec::with_capacity(samples);
        let mut rows = 0;
        for _ in 0..samples {
            let t = Instant::now();
            rows = store.list_instances(&filter).await?.len();
            us.push(elapsed_us(t));
        }
        f.add(&format!("{name}_rows"), rows);
        f.add_ms(name, &sorted_ms(us));
    }
    Ok(())
}

/// Times what the instance page reads: the instance, its tasks, attempts and events.
async fn time_instance_page(
    store: &Store,
    h: &History,
    samples: usize,
    f: &mut Figures,
) -> anyhow::Result<()> {
    let mut us = Vec::with_capacity(samples);
    for n in 0..samples as i64 {
        // Instances spread over the whole history.
        let id = WorkflowInstanceId(1 + (n * 7919) % h.instances);
        let t = Instant::now();
        store.get_instance(id).await?.context("a filled instance")?;
        store.task_instances(id).await?;
        store.attempts(id).await?;
        store.instance_events(id).await?;
        us.push(elapsed_us(t));
    }
    f.add_ms("instance_page", &sorted_ms(us));
    Ok(())
}

/// Purges the oldest 10 % of the history and prints the rate.
async fn time_purge(store: &Store, h: &History, f: &mut Figures) -> anyhow::Result<()> {
    let scope = PurgeScope {
        ended_before: h.submitted_at(h.instances / 10) + 1,
        ..Default::default()
    };
    let t = Instant::now();
    let (purged, _) = store.purge_until(&scope, 200, None).await?;
    let secs = t.elapsed().as_secs_f64().max(1e-9);
    f.add("purge_instances", purged.instances);
    f.add("purge_s", format!("{secs:.1}"));
    f.add(
        "purge_instances_per_s",
        format!("{:.0}", purged.instances as f64 / secs),
    );
    let rows = purged.instances + purged.task_instances + purged.attempts + purged.events;
    f.add("purge_rows_per_s", format!("{:.0}", rows as f64 / secs));
    // A page is as quick once history has gone.
    let t = Instant::now();
    store.list_instances(&InstanceFilter::default()).await?;
    f.add(
        "list_newest_after_purge_ms",
        format!("{:.2}", t.elapsed().as_secs_f64() * 1000.0),
    );
    Ok(())
}

fn elapsed_us(t: Instant) -> i64 {
    i64::try_from(t.elapsed().as_micros()).unwrap_or(i64::MAX)
}
