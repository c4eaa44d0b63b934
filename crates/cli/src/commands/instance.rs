//! `baton instance …`: list, show, stop, wait.

use crate::args::InstanceCommand;
use crate::client::{encode, Client};
use crate::exit::Exit;
use crate::format;
use serde_json::{json, Value};
use std::time::Duration;

pub async fn run(cmd: InstanceCommand) -> anyhow::Result<()> {
    match cmd {
        InstanceCommand::List {
            workflow,
            project,
            state,
            limit,
            before,
            server,
        } => {
            let client = Client::new(&server.server);
            let mut query = vec![format!("limit={limit}")];
            if let Some(w) = workflow {
                query.push(format!("workflow={}", encode(&w)));
            }
            if let Some(p) = project {
                query.push(format!("project={}", encode(&p)));
            }
            if let Some(s) = state {
                query.push(format!("state={}", encode(&s)));
            }
            if let Some(b) = before {
                query.push(format!("before={b}"));
            }
            let r: Value = client
                .get(&format!("/instances?{}", query.join("&")))
                .await?;
            let rows: Vec<Vec<String>> = r["instances"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    vec![
                        i["id"].to_string(),
                        format!(
                            "{}/{}",
                            i["project"].as_str().unwrap_or(""),
                            i["name"].as_str().unwrap_or("")
                        ),
                        i["version"].to_string(),
                        i["state"].as_str().unwrap_or("").to_string(),
                        format::time(i["submitted_at"].as_i64()),
                        format::span(i["started_at"].as_i64(), i["ended_at"].as_i64()),
                    ]
                })
                .collect();
            println!(
                "{}",
                format::table(
                    &[
                        "ID",
                        "WORKFLOW",
                        "VERSION",
                        "STATE",
                        "SUBMITTED",
                        "DURATION"
                    ],
                    &rows
                )
            );
            Ok(())
        }
        InstanceCommand::Show { id, json, server } => {
            let client = Client::new(&server.server);
            let r: Value = client.get(&format!("/instances/{id}")).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", describe(&r));
            }
            Ok(())
        }
        InstanceCommand::Stop { id, server } => {
            let client = Client::new(&server.server);
            let _: Value = client
                .post(&format!("/instances/{id}/stop"), &json!({}))
                .await?;
            println!("instance {id} stopping");
            Ok(())
        }
        InstanceCommand::Recover { id, server } => {
            let client = Client::new(&server.server);
            let _: Value = client
                .post(&format!("/instances/{id}/recover"), &json!({}))
                .await?;
            println!("instance {id} recovering");
            Ok(())
        }
        InstanceCommand::Pause { id, server } => {
            let client = Client::new(&server.server);
            let _: Value = client
                .post(&format!("/instances/{id}/pause"), &json!({}))
                .await?;
            println!("instance {id} pausing");
            Ok(())
        }
        InstanceCommand::Resume { id, server } => {
            let client = Client::new(&server.server);
            let _: Value = client
                .post(&format!("/instances/{id}/resume"), &json!({}))
                .await?;
            println!("instance {id} resumed");
            Ok(())
        }
        InstanceCommand::Rerun { id, server } => {
            let client = Client::new(&server.server);
            let r: Value = client
                .post(&format!("/instances/{id}/rerun"), &json!({}))
                .await?;
            println!("{}", r["id"]);
            Ok(())
        }
        InstanceCommand::Wait { id, server } => {
            let client = Client::new(&server.server);
            wait_for(&client, id).await
        }
    }
}

/// Polls until the instance ends; prints its final state; fails (exit 1) unless it succeeded.
pub(crate) async fn wait_for(client: &Client, id: i64) -> anyhow::Result<()> {
    loop {
        let r: Value = client.get(&format!("/instances/{id}")).await?;
        let state = r["instance"]["state"].as_str().unwrap_or("").to_string();
        if matches!(state.as_str(), "succeeded" | "failed" | "stopped") {
            println!("instance {id} {state}");
            return if state == "succeeded" {
                Ok(())
            } else {
                Err(Exit::Code(1).into())
            };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The text of `baton instance show`.
fn describe(r: &Value) -> String {
    let i = &r["instance"];
    let mut out = format!(
        "instance {}  workflow {}/{} version {}  state {}\nsubmitted {}  started {}  ended {}  duration {}\n",
        i["id"],
        i["project"].as_str().unwrap_or(""),
        i["name"].as_str().unwrap_or(""),
        i["version"],
        i["state"].as_str().unwrap_or(""),
        format::time(i["submitted_at"].as_i64()),
        format::time(i["started_at"].as_i64()),
        format::time(i["ended_at"].as_i64()),
        format::span(i["started_at"].as_i64(), i["ended_at"].as_i64()),
    );
    if let Some(params) = i["params"].as_object().filter(|p| !p.is_empty()) {
        let list: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        out.push_str(&format!("params {}\n", list.join(" ")));
    }
    let rows: Vec<Vec<String>> = r["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            vec![
                t["id"].to_string(),
                t["task_name"].as_str().unwrap_or("").to_string(),
                t["state"].as_str().unwrap_or("").to_string(),
                t["attempt"].to_string(),
                t["worker"].as_str().unwrap_or("-").to_string(),
                format::time(t["started_at"].as_i64()),
                format::time(t["ended_at"].as_i64()),
                format::span(t["started_at"].as_i64(), t["ended_at"].as_i64()),
                t["exit_code"]
                    .as_i64()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                t["message"].as_str().unwrap_or("").to_string(),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&format::table(
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
    ));
    out.push('\n');
    if let Some(names) = r["not_started"].as_array().filter(|n| !n.is_empty()) {
        let names: Vec<&str> = names.iter().filter_map(|n| n.as_str()).collect();
        out.push_str(&format!("\nnot run: {}\n", names.join(", ")));
    }
    let outputs: Vec<String> = r["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let o = t["outputs"].as_object().filter(|o| !o.is_empty())?;
            let pairs: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            Some(format!(
                "  {}: {}",
                t["task_name"].as_str().unwrap_or(""),
                pairs.join(" ")
            ))
        })
        .collect();
    if !outputs.is_empty() {
        out.push_str(&format!("\noutput params:\n{}\n", outputs.join("\n")));
    }
    let events: Vec<&Value> = r["events"].as_array().into_iter().flatten().collect();
    if !events.is_empty() {
        out.push_str("\nevents:\n");
        for e in events {
            out.push_str(&format!("  {}\n", super::events::line(e)));
        }
    }
    let history: Vec<&Value> = r["attempts"].as_array().into_iter().flatten().collect();
    if !history.is_empty() {
        out.push_str("\nattempts:\n");
        for a in history {
            let task = r["tasks"]
                .as_array()
                .and_then(|ts| ts.iter().find(|t| t["id"] == a["task_instance_id"]))
                .and_then(|t| t["task_name"].as_str())
                .unwrap_or("?");
            out.push_str(&format!(
                "  {} {} attempt {}: {}{}{}{} ({})\n",
                a["task_instance_id"],
                task,
                a["attempt"],
                a["state"].as_str().unwrap_or(""),
                a["exit_code"]
                    .as_i64()
                    .map(|c| format!(", exit {c}"))
                    .unwrap_or_default(),
                a["message"]
                    .as_str()
                    .map(|m| format!(", {m}"))
                    .unwrap_or_default(),
                // Logic tasks, and attempts cancelled before they ran, had no worker.
                a["worker"]
                    .as_str()
                    .map(|w| format!(" on {w}"))
                    .unwrap_or_default(),
                format::span(a["started_at"].as_i64(), a["ended_at"].as_i64()),
            ));
        }
    }
    out
}
