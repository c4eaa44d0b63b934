//! `baton instance …`: list, show, stop, recover, pause, resume, rerun, wait.

use crate::args::{InstanceCommand, ServerArgs};
use crate::client::{encode, Client, Empty};
use crate::exit::Exit;
use crate::format;
use baton_api_model::{
    CommandAccepted, Instance, InstanceDetail, InstanceList, PendingCommand, Rerun,
};
use std::time::Duration;

pub async fn run(cmd: InstanceCommand) -> anyhow::Result<()> {
    match cmd {
        InstanceCommand::List {
            workflow,
            project,
            state,
            limit,
            before,
            since,
            until,
            server,
        } => {
            let mut query = vec![format!("limit={limit}")];
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            };
            for (key, value) in [
                ("workflow", workflow),
                ("project", project),
                ("state", state),
                ("submitted_since", time(since)),
                ("submitted_until", time(until)),
            ] {
                if let Some(v) = value {
                    query.push(format!("{key}={}", encode(&v)));
                }
            }
            if let Some(b) = before {
                query.push(format!(
                    "cursor={}",
                    baton_api_model::Cursor::Id(b).encode()
                ));
            }
            let r: InstanceList = server
                .client()?
                .get(&format!("/instances?{}", query.join("&")))
                .await?;
            print!("{}", list_table(&r.instances));
            Ok(())
        }
        InstanceCommand::Show { id, json, server } => {
            let r: InstanceDetail = server.client()?.get(&format!("/instances/{id}")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", describe(&r));
            }
            Ok(())
        }
        InstanceCommand::Stop { id, server } => command(&server, id, "stop").await,
        InstanceCommand::Recover { id, server } => command(&server, id, "recover").await,
        InstanceCommand::Pause { id, server } => command(&server, id, "pause").await,
        InstanceCommand::Resume { id, server } => command(&server, id, "resume").await,
        InstanceCommand::Rerun { id, server } => {
            let r: Rerun = server
                .client()?
                .post(&format!("/instances/{id}/rerun"), &Empty {})
                .await?;
            println!("{}", r.id);
            Ok(())
        }
        InstanceCommand::Wait { id, server } => {
            let client = server.client()?;
            wait_for(&client, id).await
        }
    }
}

/// Sends a command (`stop`, `recover`, `pause`, `resume`) and says it was accepted.
async fn command(server: &ServerArgs, id: i64, verb: &str) -> anyhow::Result<()> {
    let r: CommandAccepted = server
        .client()?
        .post(&format!("/instances/{id}/{verb}"), &Empty {})
        .await?;
    let doing = match r.command {
        PendingCommand::Stop => "stopping",
        PendingCommand::Recover => "recovering",
        PendingCommand::Pause => "pausing",
        PendingCommand::Resume => "resumed",
        PendingCommand::Start | PendingCommand::ChildEnded => "accepted",
    };
    println!("instance {id} {doing}");
    Ok(())
}

/// Polls until the instance has ended and no command accepted for it is still to be carried
/// out (a recover just sent makes it run again); prints its final state; fails (exit 1)
/// unless it succeeded.
pub(crate) async fn wait_for(client: &Client, id: i64) -> anyhow::Result<()> {
    loop {
        let r: InstanceDetail = client.get(&format!("/instances/{id}")).await?;
        if r.instance.settled() {
            let state = r.instance.state;
            println!("instance {id} {state}");
            return if state == baton_core::WorkflowState::Succeeded {
                Ok(())
            } else {
                Err(Exit::Code(1).into())
            };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The table of `baton instance list`.
fn list_table(instances: &[Instance]) -> String {
    let rows: Vec<Vec<String>> = instances
        .iter()
        .map(|i| {
            vec![
                i.id.to_string(),
                format!("{}/{}", i.project, i.name),
                i.version.to_string(),
                state_of(i),
                format::at(i.schedule_time),
                format::at(Some(i.submitted_at)),
                format::took(i.duration_ms),
            ]
        })
        .collect();
    let header = [
        "ID",
        "WORKFLOW",
        "VERSION",
        "STATE",
        "SCHEDULE TIME",
        "SUBMITTED",
        "DURATION",
    ];
    format!("{}\n", format::table(&header, &rows))
}

/// The state, with the commands about to change it (`stopped (recover pending)`).
fn state_of(i: &Instance) -> String {
    if i.pending_commands.is_empty() {
        return i.state.to_string();
    }
    let pending: Vec<String> = i
        .pending_commands
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    format!("{} ({} pending)", i.state, pending.join(", "))
}

/// The text of `baton instance show`.
/// The line that says what the start overrode, if anything.
fn overrides_line(o: &baton_api_model::Overrides) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(f) = o.failure_strategy {
        parts.push(format!("failure_strategy={}", f.as_str()));
    }
    if let Some(p) = o.priority {
        parts.push(format!("priority={}", p.as_str()));
    }
    if let Some(g) = &o.worker_group {
        parts.push(format!("worker_group={g}"));
    }
    (!parts.is_empty()).then(|| format!("overrides {}\n", parts.join(" ")))
}

fn describe(r: &InstanceDetail) -> String {
    let i = &r.instance;
    let mut out = format!(
        "instance {}  workflow {}/{} version {}  state {}\nsubmitted {}  started {}  ended {}  duration {}\n",
        i.id,
        i.project,
        i.name,
        i.version,
        state_of(i),
        format::at(Some(i.submitted_at)),
        format::at(i.started_at),
        format::at(i.ended_at),
        format::took(i.duration_ms),
    );
    out.push_str(&format!(
        "schedule time {}\n",
        match i.schedule_time {
            Some(t) => format::at(Some(t)),
            None => "- (a manual start: it stands for its start time)".into(),
        }
    ));
    if !i.params.is_empty() {
        let list: Vec<String> = i.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("params {}\n", list.join(" ")));
    }
    if let Some(line) = overrides_line(&i.overrides) {
        out.push_str(&line);
    }
    out.push('\n');
    out.push_str(&tasks_table(r));
    out.push('\n');
    if !r.not_started.is_empty() {
        out.push_str(&format!("\nnot run: {}\n", r.not_started.join(", ")));
    }
    out.push_str(&outputs(r));
    if !r.events.is_empty() {
        out.push_str("\nevents:\n");
        for e in &r.events {
            out.push_str(&format!("  {}\n", super::events::line(e)));
        }
    }
    out.push_str(&history(r));
    out
}

fn tasks_table(r: &InstanceDetail) -> String {
    let rows: Vec<Vec<String>> = r
        .tasks
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.task_name.clone(),
                t.state.to_string(),
                t.attempt.to_string(),
                t.worker.clone().unwrap_or_else(|| "-".into()),
                format::at(t.started_at),
                format::at(t.ended_at),
                format::took(t.duration_ms),
                t.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                t.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    format::table(
        &[
            "TASK INSTANCE",
            "TASK",
            "STATE",
            "ATTEMPT",
            "WORKER",
            "STARTED",
            "ENDED",
            "DURATION",
            "EXIT",
            "MESSAGE",
        ],
        &rows,
    )
}

fn outputs(r: &InstanceDetail) -> String {
    let lines: Vec<String> = r
        .tasks
        .iter()
        .filter(|t| !t.outputs.is_empty())
        .map(|t| {
            let pairs: Vec<String> = t.outputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("  {}: {}", t.task_name, pairs.join(" "))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("\noutput params:\n{}\n", lines.join("\n"))
}

fn history(r: &InstanceDetail) -> String {
    if r.attempts.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nattempts:\n");
    for a in &r.attempts {
        let task = r
            .tasks
            .iter()
            .find(|t| t.id == a.task_instance_id)
            .map(|t| t.task_name.as_str())
            .unwrap_or("?");
        out.push_str(&format!(
            "  {} {} attempt {}: {}{}{}{} ({})\n",
            a.task_instance_id,
            task,
            a.attempt,
            a.state,
            a.exit_code
                .map(|c| format!(", exit {c}"))
                .unwrap_or_default(),
            a.message
                .as_deref()
                .map(|m| format!(", {m}"))
                .unwrap_or_default(),
            // Logic tasks, and attempts cancelled before they ran, had no worker.
            a.worker
                .as_deref()
                .map(|w| format!(" on {w}"))
                .unwrap_or_default(),
            format::took(a.duration_ms),
        ));
    }
    out
}
