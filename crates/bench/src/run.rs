//! `fanout`, `chain` and `map`: a generated workflow run once, on a standalone or a cluster.
//!
//! A fan-out is `start` → N tasks in parallel → `end` (`tasks_per_s` is N over the wall time);
//! a chain is N tasks one after the other; a map is `start` → one task mapped over a list of N
//! items → `end`, the same work as the fan-out decided at run time, and the bench then runs
//! the fan-out of N on a fresh server to print the two rates side by side. `gap_*` is, for every task with dependencies, the
//! time from the end of its last dependency to its own start: in a chain, the engine's
//! hand-over time; in a fan-out it also includes the wait for a free slot. The wall time is
//! the bench's own clock, from the start request to the look at the database that sees the
//! instance ended.

use crate::args::{Executor, RunArgs};
use crate::figures::{self, Figures};
use crate::target::{Cpu, Running};
use anyhow::bail;
use baton_core::WorkflowSpec;
use sqlx::Row;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// How often the bench looks whether the instance has ended.
const POLL: Duration = Duration::from_millis(5);

/// The two shapes of workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One task, then N in parallel, then one.
    Fanout,
    /// N tasks one after the other.
    Chain,
    /// One task, then one task mapped over N items, then one.
    Map,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Fanout => "fanout",
            Shape::Chain => "chain",
            Shape::Map => "map",
        }
    }
}

/// Runs the workload and prints its figures (a shell fan-out also measures the ceiling).
pub async fn run(baton: &Path, shape: Shape, args: &RunArgs) -> anyhow::Result<()> {
    let n = args.tasks;
    let source = workload(shape, args.executor, n);
    let spec = WorkflowSpec::from_yaml(&source, "bench.yaml")?;
    let strategy = args.target.strategy.as_deref().unwrap_or("lowest_load");
    let binary = baton;
    let mut baton = Running::start(baton, &args.target, strategy).await?;
    let result = measure(&mut baton, &spec, &source, rows(shape, &spec, n)).await;
    let mut f = Figures::default();
    f.add("workload", shape.name());
    f.add("executor", args.executor.name());
    f.add("tasks", n);
    baton.describe(&mut f);
    baton.add_peak_rss(&mut f);
    if result.is_err() || args.target.keep_logs {
        baton.keep_logs();
    }
    let slots = baton.slots * baton.workers();
    let cluster = args.target.cluster;
    drop(baton);
    let (wall, gaps, (before, after)) = result?;
    let per_s = f64::from(n) / wall.as_secs_f64();
    f.add("wall_s", format!("{:.3}", wall.as_secs_f64()));
    f.add("tasks_per_s", format!("{per_s:.1}"));
    f.add_ms("gap", &figures::sorted_ms(gaps));
    if cluster {
        after.add_since(before, &mut f);
    }
    if shape == Shape::Map {
        let fanout = fanout_rate(binary, args, strategy).await?;
        f.add("fanout_tasks_per_s", format!("{fanout:.1}"));
        f.add(
            "map_vs_fanout",
            format!("{:.1}% of the fan-out's rate", 100.0 * per_s / fanout),
        );
    }
    if shape == Shape::Fanout && args.executor == Executor::Shell {
        let ceiling = crate::ceiling::measure(n, slots).await?;
        f.add("ceiling_tasks_per_s", format!("{ceiling:.1}"));
        f.add(
            "ceiling",
            format!(
                "{ceiling:.0} tasks/s, baton at {:.1}% of it",
                100.0 * per_s / ceiling
            ),
        );
    }
    f.print();
    Ok(())
}

/// The fan-out of the same width as a map, on a fresh server: its tasks per second.
async fn fanout_rate(binary: &Path, args: &RunArgs, strategy: &str) -> anyhow::Result<f64> {
    let source = workload(Shape::Fanout, args.executor, args.tasks);
    let spec = WorkflowSpec::from_yaml(&source, "bench.yaml")?;
    let mut baton = Running::start(binary, &args.target, strategy).await?;
    let expected = rows(Shape::Fanout, &spec, args.tasks);
    let (wall, _, _) = measure(&mut baton, &spec, &source, expected).await?;
    Ok(f64::from(args.tasks) / wall.as_secs_f64())
}

/// How many task instances a run of the workload makes: one per task, and a map's items.
fn rows(shape: Shape, spec: &WorkflowSpec, n: u32) -> usize {
    let items = match shape {
        Shape::Map => usize::try_from(n).unwrap_or(usize::MAX),
        Shape::Fanout | Shape::Chain => 0,
    };
    spec.tasks.len() + items
}

/// The workflow file of a fan-out, a chain or a map of `n` tasks, named `bench`.
fn workload(shape: Shape, executor: Executor, n: u32) -> String {
    let body = match executor {
        Executor::Shell => "type: shell, command: 'true'",
        Executor::Noop => "type: noop",
    };
    let mut y = String::from("name: bench\ntasks:\n");
    match shape {
        Shape::Fanout => {
            let _ = writeln!(y, "  - {{name: start, {body}}}");
            for i in 0..n {
                let _ = writeln!(y, "  - {{name: t{i}, {body}, depends_on: [start]}}");
            }
            let all: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
            let _ = writeln!(
                y,
                "  - {{name: end, {body}, depends_on: [{}]}}",
                all.join(", ")
            );
        }
        Shape::Map => {
            let list = vec!["true"; usize::try_from(n).unwrap_or(0)].join(",");
            y = format!("name: bench\nparams: {{items: '[{list}]'}}\ntasks:\n");
            let _ = writeln!(y, "  - {{name: start, {body}}}");
            let _ = writeln!(
                y,
                "  - {{name: m, {body}, depends_on: [start], map: {{over: '${{items}}', as: item, max_items: {n}}}}}"
            );
            let _ = writeln!(y, "  - {{name: end, {body}, depends_on: [m]}}");
        }
        Shape::Chain => {
            let _ = writeln!(y, "  - {{name: t0, {body}}}");
            for i in 1..n {
                let _ = writeln!(y, "  - {{name: t{i}, {body}, depends_on: [t{}]}}", i - 1);
            }
        }
    }
    y
}

/// What one run measured: the wall time, the gaps in µs, and the CPU times at its start and
/// its end.
type Measured = (Duration, Vec<i64>, (Cpu, Cpu));

/// Applies and starts the workflow through the API and waits until it ends.
async fn measure(
    baton: &mut Running,
    spec: &WorkflowSpec,
    source: &str,
    expected_rows: usize,
) -> anyhow::Result<Measured> {
    baton.api.apply(source).await?;
    // Generous: only there so that a stuck run does not hang the bench forever.
    let limit = Duration::from_secs(300)
        + Duration::from_millis(100) * u32::try_from(expected_rows).unwrap_or(u32::MAX);
    let before = baton.cpu();
    let started = Instant::now();
    let id = baton.api.start_instance(&spec.name).await?;
    let state = loop {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM workflow_instance WHERE id = $1")
                .bind(id)
                .fetch_optional(&baton.db)
                .await?;
        if let Some(s @ ("succeeded" | "failed" | "stopped")) = state.as_deref() {
            break s.to_string();
        }
        if started.elapsed() > limit {
            bail!("the benchmark workflow did not end within {limit:?}");
        }
        baton.check_alive()?;
        tokio::time::sleep(POLL).await;
    };
    let wall = started.elapsed();
    let after = baton.cpu();
    anyhow::ensure!(state == "succeeded", "the benchmark workflow ended {state}");
    let rows = sqlx::query(
        "SELECT task_name, started_at, ended_at FROM task_instance WHERE workflow_instance_id = $1",
    )
    .bind(id)
    .fetch_all(&baton.db)
    .await?;
    let mut times: HashMap<String, (i64, i64)> = HashMap::new();
    for r in &rows {
        let (start, end): (Option<i64>, Option<i64>) = (r.try_get(1)?, r.try_get(2)?);
        if let (Some(s), Some(e)) = (start, end) {
            times.insert(r.try_get(0)?, (s, e));
        }
    }
    anyhow::ensure!(
        times.len() == expected_rows,
        "{} of {expected_rows} task instances have start and end times",
        times.len(),
    );
    Ok((wall, gaps(spec, &times), (before, after)))
}

/// For every task with dependencies, the time from the end of its last dependency to its own
/// start, in microseconds. `times` maps a task's name to its (start, end).
fn gaps(spec: &WorkflowSpec, times: &HashMap<String, (i64, i64)>) -> Vec<i64> {
    spec.tasks
        .iter()
        .filter(|t| !t.depends_on.is_empty())
        .filter_map(|t| {
            let start = times.get(t.name.as_str())?.0;
            let ready = t
                .depends_on
                .iter()
                .filter_map(|d| times.get(d.as_str()).map(|x| x.1))
                .max()?;
            Some((start - ready).max(0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_gap_is_the_hand_over_time() {
        let source = workload(Shape::Chain, Executor::Noop, 3);
        let spec = WorkflowSpec::from_yaml(&source, "bench.yaml").unwrap();
        let times: HashMap<String, (i64, i64)> =
            [("t0", (0, 10)), ("t1", (13, 20)), ("t2", (30, 31))]
                .into_iter()
                .map(|(n, t)| (n.to_string(), t))
                .collect();
        let mut g = gaps(&spec, &times);
        g.sort_unstable();
        assert_eq!(g, vec![3, 10]);
    }

    #[test]
    fn a_map_has_a_start_one_task_over_n_items_and_an_end() {
        let source = workload(Shape::Map, Executor::Noop, 5);
        let spec = WorkflowSpec::from_yaml(&source, "bench.yaml").unwrap();
        assert_eq!(spec.tasks.len(), 3);
        let m = spec.tasks.iter().find(|t| t.name == "m").unwrap();
        assert_eq!(m.map.as_ref().unwrap().max_items, 5);
        assert_eq!(spec.params["items"], "[true,true,true,true,true]");
        assert_eq!(rows(Shape::Map, &spec, 5), 8);
    }

    #[test]
    fn a_fanout_has_a_start_n_tasks_and_an_end() {
        let source = workload(Shape::Fanout, Executor::Shell, 4);
        let spec = WorkflowSpec::from_yaml(&source, "bench.yaml").unwrap();
        assert_eq!(spec.tasks.len(), 6);
        let end = spec.tasks.iter().find(|t| t.name == "end").unwrap();
        assert_eq!(end.depends_on.len(), 4);
    }
}
