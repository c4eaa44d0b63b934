//! `baton instance …`: list, show, stop, recover, pause, resume, rerun, wait.

use crate::args::{InstanceCommand, ServerArgs};
use crate::client::{encode, Client, Empty};
use crate::exit::Exit;
use crate::format;
use baton_api_model::{
    CommandAccepted, Instance, InstanceDetail, InstanceList, ItemCounts, ItemList, MapPart,
    PendingCommand, Rerun, TaskInstance,
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
        InstanceCommand::Items {
            id,
            task,
            state,
            limit,
            after,
            server,
        } => {
            let mut query = vec![format!("task={}", encode(&task)), format!("limit={limit}")];
            if let Some(state) = state {
                query.push(format!("state={}", encode(&state)));
            }
            if let Some(after) = after {
                query.push(format!(
                    "cursor={}",
                    baton_api_model::Cursor::Id(after).encode()
                ));
            }
            let path = format!("/instances/{id}/items?{}", query.join("&"));
            let r: ItemList = server.client()?.get(&path).await?;
            print!("{}", items_table(&r.items));
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
    out.push_str(&mapped(r));
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

/// The items of each mapped task, counted by state, and how to list them.
fn mapped(r: &InstanceDetail) -> String {
    let mut out = String::new();
    for t in &r.tasks {
        if let Some(MapPart::Mapped(counts)) = &t.map {
            out.push_str(&format!(
                "\n{}: {} (baton instance items {} {})\n",
                t.task_name,
                counted(counts),
                r.instance.id,
                t.task_name
            ));
        }
    }
    out
}

/// `200 items: 150 succeeded, 40 running, 10 not started`.
fn counted(counts: &ItemCounts) -> String {
    let mut parts: Vec<String> = counts
        .states
        .iter()
        .map(|s| format!("{} {}", s.count, s.state))
        .collect();
    if counts.not_started > 0 {
        parts.push(format!("{} not started", counts.not_started));
    }
    format!("{} items: {}", counts.items, parts.join(", "))
}

fn items_table(items: &[TaskInstance]) -> String {
    task_rows(items, |t| match &t.map {
        Some(MapPart::Item { index, .. }) => index.to_string(),
        Some(MapPart::Mapped(_)) | None => "-".into(),
    })
}

fn tasks_table(r: &InstanceDetail) -> String {
    task_rows(&r.tasks, |t| t.id.to_string())
}

/// A table of task instances; the first column is `first` of each.
fn task_rows(tasks: &[TaskInstance], first: impl Fn(&TaskInstance) -> String) -> String {
    let header = if tasks
        .iter()
        .any(|t| matches!(t.map, Some(MapPart::Item { .. })))
    {
        "ITEM"
    } else {
        "TASK INSTANCE"
    };
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                first(t),
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
            header, "TASK", "STATE", "ATTEMPT", "WORKER", "STARTED", "ENDED", "DURATION", "EXIT",
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
            let pairs: Vec<String> = t
                .outputs
                .iter()
                .map(|(k, v)| format!("{k}={}", shortened(v)))
                .collect();
            format!("  {}: {}", t.task_name, pairs.join(" "))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("\noutput params:\n{}\n", lines.join("\n"))
}

/// A value as `instance show` prints it: a long one (a mapped task's list of outputs) cut,
/// saying how long it is (`--json` shows it whole).
fn shortened(value: &str) -> String {
    const SHOWN: usize = 120;
    match value.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}… ({} bytes)", &value[..end], value.len()),
        None => value.to_string(),
    }
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
