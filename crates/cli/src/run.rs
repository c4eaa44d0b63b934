//! `baton run FILE`: one workflow, to the end, on a throwaway embedded node, with a line per
//! task start and end and a summary. Exit 0 only if the workflow succeeded.

use crate::args::RunArgs;
use crate::commands::{parse_params, read_spec};
use crate::embedded::{Node, NodeOptions};
use crate::exit::Exit;
use crate::format;
use baton_core::{TaskState, WorkflowState};
use baton_master::RunEvent;
use baton_store::NewInstance;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let file = args.file.display().to_string();
    let (text, spec) = read_spec(&args.file).map_err(Exit::BadInput)?;
    let params = parse_params(&args.params)?;
    let refused: Vec<String> = baton_core::params::check_start(&spec, &params)
        .iter()
        .map(ToString::to_string)
        .chain(
            baton_core::params::check(&spec, &params, &Default::default())
                .iter()
                .map(ToString::to_string),
        )
        .map(|e| format!("{file}: {e}"))
        .collect();
    if !refused.is_empty() {
        return Err(Exit::BadInput(refused.join("\n")).into());
    }

    let dir = tempfile::Builder::new().prefix("baton-run-").tempdir()?;
    let node = Node::start(NodeOptions {
        keyring: None,
        data_dir: dir.path().to_path_buf(),
        database: None,
        grpc_listen: "127.0.0.1:0".parse().expect("a literal address"),
        node: args.node.clone(),
        // The node and its logs go when the run ends: nothing outlives it to archive for.
        log_archive: None,
    })
    .await?;
    let outcome = drive(&node, &args, &text, &spec, params, dir.path()).await;
    node.stop(Duration::from_secs(2)).await;
    outcome
}

async fn drive(
    node: &Node,
    args: &RunArgs,
    text: &str,
    spec: &baton_core::WorkflowSpec,
    params: std::collections::BTreeMap<String, String>,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let mut events = node.master.subscribe();
    node.store.apply_workflow(spec, text).await?;
    let workflow = node
        .store
        .get_workflow(&spec.project, &spec.name, None)
        .await?
        .expect("the workflow was just applied");
    let id = node
        .store
        .create_instance(NewInstance {
            workflow: &workflow,
            params,
            overrides: Default::default(),
        })
        .await?;
    node.master.waker().wake();
    println!(
        "workflow {} (instance {id}): {} tasks",
        spec.name,
        spec.tasks.len()
    );

    let mut interrupts = 0;
    let final_state = loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tokio::signal::ctrl_c() => {
                interrupts += 1;
                if interrupts > 1 {
                    return Err(Exit::Code(130).into());
                }
                println!("interrupted: stopping the workflow (Ctrl-C again to quit at once)");
                node.store.request_stop(id).await?;
                node.master.waker().wake();
                continue;
            }
        };
        match event {
            Ok(RunEvent::TaskStarted {
                instance,
                name,
                attempt,
                at_us,
                ..
            }) if instance == id => {
                println!(
                    "{}  start    {name}  attempt {attempt}",
                    format::clock(at_us)
                );
            }
            Ok(RunEvent::TaskEnded {
                instance,
                task,
                name,
                attempt,
                state,
                will_retry,
                started_at,
                ended_at,
                exit_code,
                message,
            }) if instance == id => {
                let mut line = format!(
                    "{}  {:<7}  {name}  attempt {attempt}  {}",
                    format::clock(ended_at),
                    match state {
                        TaskState::Succeeded => "ok",
                        TaskState::Killed => "killed",
                        _ => "FAILED",
                    },
                    format::span(started_at, Some(ended_at)),
                );
                if let Some(code) = exit_code.filter(|_| state != TaskState::Succeeded) {
                    line.push_str(&format!("  exit {code}"));
                }
                if let Some(m) = message {
                    line.push_str(&format!("  ({m})"));
                }
                if will_retry {
                    line.push_str("  -> will retry");
                }
                println!("{line}");
                if args.logs {
                    print_log(data_dir, id.0, task.0, attempt, &name);
                }
            }
            Ok(RunEvent::InstanceFinished { instance, state }) if instance == id => break state,
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => anyhow::bail!("the engine stopped unexpectedly"),
        }
    };

    let tasks = node.store.task_instances(id).await?;
    let rows: Vec<Vec<String>> = spec
        .tasks
        .iter()
        .map(|t| match tasks.iter().find(|ti| ti.task_name == t.name) {
            Some(ti) => vec![
                t.name.clone(),
                ti.state.to_string(),
                ti.attempt.to_string(),
                format::span(ti.started_at, ti.ended_at),
                ti.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                ti.id.to_string(),
            ],
            None => vec![
                t.name.clone(),
                "not run".into(),
                "0".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ],
        })
        .collect();
    println!();
    println!(
        "{}",
        format::table(
            &[
                "TASK",
                "STATE",
                "ATTEMPTS",
                "DURATION",
                "EXIT",
                "TASK INSTANCE"
            ],
            &rows
        )
    );
    let instance = node
        .store
        .get_instance(id)
        .await?
        .expect("the instance exists");
    println!(
        "\nworkflow {} {} in {}",
        spec.name,
        final_state,
        format::span(instance.started_at, instance.ended_at)
    );
    if final_state == WorkflowState::Succeeded {
        Ok(())
    } else {
        Err(Exit::Code(1).into())
    }
}

fn print_log(data_dir: &std::path::Path, instance: i64, task: i64, attempt: i64, name: &str) {
    let path = data_dir
        .join("logs")
        .join(instance.to_string())
        .join(task.to_string())
        .join(format!("{attempt}.log"));
    match std::fs::read(&path) {
        Ok(bytes) if !bytes.is_empty() => {
            println!("----- {name} (attempt {attempt}) output -----");
            let text = String::from_utf8_lossy(&bytes);
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            println!("----- end of {name} -----");
        }
        _ => {}
    }
}
