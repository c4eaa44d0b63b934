//! `baton bench fanout|chain`: runs a generated workflow on an embedded node and prints
//! figures, one `name: value` a line.
//!
//! - fan-out: `start` → N tasks in parallel → `end`; `tasks_per_s` is N over the wall time.
//! - chain: N tasks one after the other.
//!
//! `gap_*` is, for every task with dependencies, the time from the end of its last dependency
//! to its own start (worker clock): in a chain, the engine's hand-over time; in a fan-out it
//! also includes the wait for a free slot.

use crate::args::{BenchArgs, BenchExecutor, BenchShape};
use crate::embedded::{Node, NodeOptions};
use baton_core::WorkflowSpec;
use baton_master::RunEvent;
use baton_store::NewInstance;
use std::collections::HashMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// Default worker slots per core in benchmarks (standalone's default is 2).
const BENCH_SLOTS_PER_CORE: usize = 8;

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let n = args.tasks.max(1);
    let source = workload(args.shape, args.executor, n);
    let spec = WorkflowSpec::from_yaml(&source, "bench")?;
    let dir = tempfile::Builder::new().prefix("baton-bench-").tempdir()?;
    let mut node_args = args.node.clone();
    // Short tasks are bound by round trips, not CPU: more slots than standalone's default
    // keep both the engine and the processes busy. `--slots` overrides; the figure is printed.
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    node_args.slots = node_args.slots.or(Some(BENCH_SLOTS_PER_CORE * cores));
    let node = Node::start(NodeOptions {
        data_dir: dir.path().to_path_buf(),
        database: args.database.clone(),
        grpc_listen: "127.0.0.1:0".parse().expect("a literal address"),
        node: node_args,
    })
    .await?;
    let slots = node.worker.config().slots;
    let result = measure(&node, &spec, &source).await;
    node.stop(Duration::from_secs(2)).await;
    let (wall, gaps) = result?;

    let pct = |p: f64| -> f64 {
        if gaps.is_empty() {
            return 0.0;
        }
        let i = ((gaps.len() as f64 - 1.0) * p).round() as usize;
        gaps[i] as f64 / 1000.0
    };
    let mut out = String::new();
    let shape = match args.shape {
        BenchShape::Fanout => "fanout",
        BenchShape::Chain => "chain",
    };
    let executor = match args.executor {
        BenchExecutor::Shell => "shell",
        BenchExecutor::Noop => "noop",
    };
    let database = args
        .database
        .as_deref()
        .map(baton_store::redact_url)
        .unwrap_or_else(|| "sqlite (temporary)".into());
    writeln!(out, "workload: {shape}")?;
    writeln!(out, "executor: {executor}")?;
    writeln!(out, "tasks: {n}")?;
    writeln!(out, "slots: {slots}")?;
    writeln!(out, "database: {database}")?;
    writeln!(out, "wall_s: {:.3}", wall.as_secs_f64())?;
    writeln!(out, "tasks_per_s: {:.1}", n as f64 / wall.as_secs_f64())?;
    writeln!(out, "gap_p50_ms: {:.2}", pct(0.50))?;
    writeln!(out, "gap_p99_ms: {:.2}", pct(0.99))?;
    writeln!(out, "gap_max_ms: {:.2}", pct(1.0))?;
    writeln!(out, "peak_rss_mb: {:.1}", peak_rss_mb())?;
    print!("{out}");
    Ok(())
}

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
        BenchShape::Chain => {
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

/// Runs the workflow; returns the wall time and the sorted gaps in microseconds.
async fn measure(
    node: &Node,
    spec: &WorkflowSpec,
    source: &str,
) -> anyhow::Result<(Duration, Vec<i64>)> {
    let mut events = node.master.subscribe();
    node.store.apply_workflow(spec, source).await?;
    let workflow = node
        .store
        .get_workflow(&spec.project, &spec.name, None)
        .await?
        .expect("applied");
    let started = Instant::now();
    let id = node
        .store
        .create_instance(NewInstance {
            workflow: &workflow,
            params: Default::default(),
        })
        .await?;
    node.master.waker().wake();
    loop {
        match events.recv().await {
            Ok(RunEvent::InstanceFinished { instance, state }) if instance == id => {
                anyhow::ensure!(
                    state == baton_core::WorkflowState::Succeeded,
                    "the benchmark workflow ended {state}"
                );
                break;
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => anyhow::bail!("engine events: {e}"),
        }
    }
    let wall = started.elapsed();
    let tasks = node.store.task_instances(id).await?;
    let by_name: HashMap<&str, (i64, i64)> = tasks
        .iter()
        .filter_map(|t| Some((t.task_name.as_str(), (t.started_at?, t.ended_at?))))
        .collect();
    let mut gaps: Vec<i64> = spec
        .tasks
        .iter()
        .filter(|t| !t.depends_on.is_empty())
        .filter_map(|t| {
            let start = by_name.get(t.name.as_str())?.0;
            let ready = t
                .depends_on
                .iter()
                .filter_map(|d| by_name.get(d.as_str()).map(|x| x.1))
                .max()?;
            Some((start - ready).max(0))
        })
        .collect();
    gaps.sort_unstable();
    Ok((wall, gaps))
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
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
