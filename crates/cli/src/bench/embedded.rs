//! `baton bench fanout|chain`: the workload on an embedded node (API-less: the bench talks to
//! the store and the engine directly).

use super::{Figures, BENCH_SLOTS_PER_CORE};
use crate::args::BenchArgs;
use crate::embedded::{Node, NodeOptions};
use baton_core::WorkflowSpec;
use baton_master::RunEvent;
use baton_store::NewInstance;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub(super) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let n = args.tasks.max(1);
    let source = super::workload(args.shape, args.executor, n);
    let spec = WorkflowSpec::from_yaml(&source, "bench")?;
    let dir = tempfile::Builder::new().prefix("baton-bench-").tempdir()?;
    let mut node_args = args.node.clone();
    // Short tasks are bound by round trips, not CPU: more slots than standalone's default
    // keep both the engine and the processes busy. `--slots` overrides; the figure is printed.
    node_args.slots = node_args
        .slots
        .or(Some(BENCH_SLOTS_PER_CORE * super::cores()));
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

    let database = args
        .database
        .as_deref()
        .map(baton_store::redact_url)
        .unwrap_or_else(|| "sqlite (temporary)".into());
    let mut f = Figures::default();
    f.add("workload", super::shape_name(args.shape));
    f.add("executor", super::executor_name(args.executor));
    f.add("tasks", n);
    f.add("slots", slots);
    f.add("database", database);
    f.add("wall_s", format!("{:.3}", wall.as_secs_f64()));
    f.add(
        "tasks_per_s",
        format!("{:.1}", n as f64 / wall.as_secs_f64()),
    );
    super::add_gaps(&mut f, &gaps);
    f.add("peak_rss_mb", format!("{:.1}", super::peak_rss_mb("self")));
    f.print();
    Ok(())
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
    let times: HashMap<&str, (i64, i64)> = tasks
        .iter()
        .filter_map(|t| Some((t.task_name.as_str(), (t.started_at?, t.ended_at?))))
        .collect();
    Ok((wall, super::gaps(spec, &times)))
}
