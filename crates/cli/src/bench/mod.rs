//! `baton bench`: measures Baton and prints figures, one `name: value` a line.
//!
//! - `fanout|chain` on an embedded node ([`embedded`]), or with `--cluster` on a cluster of
//!   real processes: an api, 2 masters and 2 workers on PostgreSQL ([`cluster`]).
//! - `failover` on such a cluster: SIGKILL a master, then a worker, and time until their work
//!   is taken over ([`failover`]).
//!
//! The workloads: a fan-out is `start` → N tasks in parallel → `end` (`tasks_per_s` is N over
//! the wall time); a chain is N tasks one after the other. `gap_*` is, for every task with
//! dependencies, the time from the end of its last dependency to its own start: in a chain,
//! the engine's hand-over time; in a fan-out it also includes the wait for a free slot.

mod cluster;
mod embedded;
mod failover;

use crate::args::{BenchArgs, BenchExecutor, BenchShape};
use baton_core::WorkflowSpec;
use std::collections::HashMap;
use std::fmt::Write;

/// Default worker slots per core in benchmarks (standalone's default is 2).
const BENCH_SLOTS_PER_CORE: usize = 8;

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let work = async {
        match (args.shape, args.cluster) {
            (BenchShape::Failover, _) => failover::run(&args).await,
            (_, true) => cluster::run(&args).await,
            (_, false) => embedded::run(&args).await,
        }
    };
    // On Ctrl-C or SIGTERM the work is dropped: its guards kill the cluster's processes and
    // drop the bench's database.
    tokio::select! {
        result = work => result,
        _ = crate::standalone::shutdown_signal() => anyhow::bail!("interrupted"),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn shape_name(shape: BenchShape) -> &'static str {
    match shape {
        BenchShape::Fanout => "fanout",
        BenchShape::Chain => "chain",
        BenchShape::Failover => "failover",
    }
}

fn executor_name(executor: BenchExecutor) -> &'static str {
    match executor {
        BenchExecutor::Shell => "shell",
        BenchExecutor::Noop => "noop",
    }
}

/// The workflow file of a fan-out or a chain of `n` tasks, named `bench`.
fn workload(shape: BenchShape, executor: BenchExecutor, n: usize) -> String {
    let body = match executor {
        BenchExecutor::Shell => "type: shell, command: 'true'",
        BenchExecutor::Noop => "type: noop",
    };
    let mut y = String::from("name: bench\ntasks:\n");
    match shape {
        BenchShape::Fanout => {
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
        BenchShape::Chain | BenchShape::Failover => {
            for i in 0..n {
                if i == 0 {
                    let _ = writeln!(y, "  - {{name: t0, {body}}}");
                } else {
                    let _ = writeln!(y, "  - {{name: t{i}, {body}, depends_on: [t{}]}}", i - 1);
                }
            }
        }
    }
    y
}

/// For every task with dependencies, the time from the end of its last dependency to its own
/// start, in microseconds, sorted. `times` maps a task's name to its (start, end).
fn gaps(spec: &WorkflowSpec, times: &HashMap<&str, (i64, i64)>) -> Vec<i64> {
    let mut gaps: Vec<i64> = spec
        .tasks
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
        .collect();
    gaps.sort_unstable();
    gaps
}

/// The `p` quantile (0 to 1, nearest rank) of sorted values; 0 if there are none.
fn quantile<T: Copy + Into<f64>>(sorted: &[T], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].into()
}

/// Lines of `name: value`, printed at once.
#[derive(Default)]
struct Figures(String);

impl Figures {
    fn add(&mut self, name: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.0, "{name}: {value}");
    }

    fn print(self) {
        print!("{}", self.0);
    }
}

/// The gap figures of a run, in milliseconds.
fn add_gaps(f: &mut Figures, gaps_us: &[i64]) {
    let ms: Vec<f64> = gaps_us.iter().map(|g| *g as f64 / 1000.0).collect();
    f.add("gap_p50_ms", format!("{:.2}", quantile(&ms, 0.50)));
    f.add("gap_p99_ms", format!("{:.2}", quantile(&ms, 0.99)));
    f.add("gap_max_ms", format!("{:.2}", quantile(&ms, 1.0)));
}

/// The peak resident memory of a process (`self` or a pid), in MB, from /proc.
fn peak_rss_mb(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
