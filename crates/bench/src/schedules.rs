//! `schedules`: N workflows whose cron schedules all fire at second 0 of each minute (each
//! one noop task, `misfire: skip`), applied through the API. Then, for each of the next
//! minute boundaries, how late each fire's instance was created (schedule time → submitted)
//! and started, and how many fires due at that boundary created no instance at all.

use crate::args::SchedulesArgs;
use crate::figures::{self, Figures};
use crate::target::Running;
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use sqlx::Row;
use std::path::Path;
use std::time::Duration;

/// Applies running at once.
const APPLY_CONCURRENCY: usize = 8;
/// One minute, in µs.
const MINUTE_US: i64 = 60_000_000;
/// After a boundary, how long the bench waits at most for its fires to be taken.
const SETTLE_US: i64 = 120_000_000;

/// Applies the schedules, measures the boundaries, prints the figures.
pub async fn run(baton: &Path, args: &SchedulesArgs) -> anyhow::Result<()> {
    let strategy = args.target.strategy.as_deref().unwrap_or("lowest_load");
    let mut baton = Running::start(baton, &args.target, strategy).await?;
    let result = measure(&mut baton, args).await;
    let mut f = Figures::default();
    f.add("workload", "schedules");
    f.add("schedules", args.schedules);
    baton.describe(&mut f);
    baton.add_peak_rss(&mut f);
    if result.is_err() || args.target.keep_logs {
        baton.keep_logs();
    }
    drop(baton);
    let boundaries = result?;
    f.print();
    for b in boundaries {
        b.print();
    }
    Ok(())
}

/// The workflow file of schedule `i`.
fn workflow(i: u32) -> String {
    format!(
        "name: sched{i:06}\nschedule: {{cron: '0 * * * * *', misfire: skip}}\n\
         tasks:\n  - {{name: t, type: noop}}\n"
    )
}

async fn measure(baton: &mut Running, args: &SchedulesArgs) -> anyhow::Result<Vec<Figures>> {
    let api = &baton.api;
    futures::stream::iter((0..args.schedules).map(workflow))
        .map(|source| async move { api.apply(&source).await })
        .buffer_unordered(APPLY_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    // The first boundary after every schedule is applied: each has a fire due there.
    let applied = baton_store::now_us();
    let first = (applied / MINUTE_US + 1) * MINUTE_US;
    eprintln!(
        "{} schedules applied; measuring the fires of {} minute(s) from {}",
        args.schedules,
        args.minutes,
        at(first)
    );
    let mut out = Vec::new();
    for m in 0..i64::from(args.minutes) {
        out.push(boundary(baton, first + m * MINUTE_US, args.schedules).await?);
    }
    Ok(out)
}

/// Waits until every fire due at `due` has been taken (an instance created, or the schedule
/// moved past it without one) and its instances have started, or two minutes; then measures.
async fn boundary(baton: &mut Running, due: i64, n: u32) -> anyhow::Result<Figures> {
    let until = due + SETTLE_US;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        baton.check_alive()?;
        let now = baton_store::now_us();
        if now < due + 1_000_000 {
            continue;
        }
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM schedule WHERE online = 1 AND next_fire_at <= $1",
        )
        .bind(due)
        .fetch_one(&baton.db)
        .await?;
        let unstarted: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM workflow_instance WHERE schedule_time = $1 \
             AND schedule_id IS NOT NULL AND started_at IS NULL",
        )
        .bind(due)
        .fetch_one(&baton.db)
        .await?;
        if (pending == 0 && unstarted == 0) || now > until {
            break;
        }
    }
    let rows = sqlx::query(
        "SELECT submitted_at, started_at FROM workflow_instance \
         WHERE schedule_time = $1 AND schedule_id IS NOT NULL",
    )
    .bind(due)
    .fetch_all(&baton.db)
    .await
    .context("reading the fired instances")?;
    let mut created = Vec::with_capacity(rows.len());
    let mut started = Vec::with_capacity(rows.len());
    for r in &rows {
        created.push(r.try_get::<i64, _>(0)? - due);
        if let Some(s) = r.try_get::<Option<i64>, _>(1)? {
            started.push(s - due);
        }
    }
    let missed = i64::from(n) - i64::try_from(rows.len())?;
    let mut f = Figures::default();
    f.add("fire_time", at(due));
    f.add("fires_due", n);
    f.add("instances_created", rows.len());
    f.add("missed_fires", missed.max(0));
    f.add_ms("created_lateness", &figures::sorted_ms(created));
    f.add("instances_started", started.len());
    f.add_ms("started_lateness", &figures::sorted_ms(started));
    Ok(f)
}

/// A time in µs, as RFC 3339 in UTC.
fn at(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| us.to_string())
}

#[cfg(test)]
mod tests {
    use super::workflow;

    #[test]
    fn each_workflow_fires_every_minute_and_skips_misfires() {
        let spec = baton_core::WorkflowSpec::from_yaml(&workflow(7), "s.yaml").unwrap();
        assert_eq!(spec.name, "sched000007");
        let schedule = spec.schedule.expect("a schedule");
        assert_eq!(schedule.misfire, baton_core::spec::Misfire::Skip);
    }
}
