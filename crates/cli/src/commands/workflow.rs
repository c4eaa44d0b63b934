//! `baton workflow …`: apply, list, show, start.

use crate::args::WorkflowCommand;
use crate::client::{encode, Client};
use crate::format;
use serde_json::{json, Value};

pub async fn run(cmd: WorkflowCommand) -> anyhow::Result<()> {
    match cmd {
        WorkflowCommand::Apply { files, server } => {
            let client = Client::new(&server.server);
            // Check everything first: one bad file means nothing is applied.
            let specs = super::load_specs(&files)?;
            if specs.is_empty() {
                return Err(crate::Exit::BadInput("no workflow files found".into()).into());
            }
            for (file, text, _) in specs {
                let body = json!({ "source": text, "file": file.display().to_string() });
                let r: Value = client.post("/workflows", &body).await?;
                println!(
                    "workflow {}/{} {} (version {})",
                    r["project"].as_str().unwrap_or(""),
                    r["name"].as_str().unwrap_or(""),
                    r["outcome"].as_str().unwrap_or(""),
                    r["version"]
                );
            }
            Ok(())
        }
        WorkflowCommand::List { project, server } => {
            let client = Client::new(&server.server);
            let path = match project {
                Some(p) => format!("/workflows?project={}", encode(&p)),
                None => "/workflows".to_string(),
            };
            let r: Value = client.get(&path).await?;
            let rows: Vec<Vec<String>> = r["workflows"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|w| {
                    vec![
                        w["project"].as_str().unwrap_or("").to_string(),
                        w["name"].as_str().unwrap_or("").to_string(),
                        w["latest_version"].to_string(),
                        format::time(w["updated_at"].as_i64()),
                    ]
                })
                .collect();
            println!(
                "{}",
                format::table(&["PROJECT", "NAME", "VERSION", "UPDATED"], &rows)
            );
            Ok(())
        }
        WorkflowCommand::Show {
            name,
            project,
            version,
            json,
            server,
        } => {
            let client = Client::new(&server.server);
            let r: Value = client
                .get(&definition_path(&name, &project, version))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            println!(
                "workflow {}/{}  version {} of {}  created {}",
                r["project"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
                r["version"],
                r["latest_version"],
                format::time(r["created_at"].as_i64())
            );
            println!("---");
            print!("{}", r["source"].as_str().unwrap_or(""));
            Ok(())
        }
        WorkflowCommand::Versions {
            name,
            project,
            server,
        } => {
            let client = Client::new(&server.server);
            let path = format!(
                "/workflows/{}/versions?project={}",
                encode(&name),
                encode(&project)
            );
            let r: Value = client.get(&path).await?;
            let rows: Vec<Vec<String>> = r["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    vec![
                        v["version"].to_string(),
                        format::time(v["created_at"].as_i64()),
                    ]
                })
                .collect();
            println!("{}", format::table(&["VERSION", "CREATED"], &rows));
            Ok(())
        }
        WorkflowCommand::Export {
            name,
            project,
            version,
            server,
        } => {
            let client = Client::new(&server.server);
            let r: Value = client
                .get(&definition_path(&name, &project, version))
                .await?;
            let spec: baton_core::WorkflowSpec = serde_json::from_value(r["spec"].clone())?;
            print!("{}", serde_yaml::to_string(&spec)?);
            Ok(())
        }
        WorkflowCommand::Start {
            name,
            project,
            params,
            wait,
            from_task,
            scope,
            server,
        } => {
            if let Some(s) = &scope {
                s.parse::<baton_core::dag::Scope>()
                    .map_err(crate::Exit::BadInput)?;
            }
            let client = Client::new(&server.server);
            let params = super::parse_params(&params)?;
            let path = format!(
                "/workflows/{}/start?project={}",
                encode(&name),
                encode(&project)
            );
            let body = json!({ "params": params, "from_task": from_task, "scope": scope });
            let r: Value = client.post(&path, &body).await?;
            let id = r["id"].as_i64().unwrap_or_default();
            println!("{id}");
            if wait {
                super::wait_for(&client, id).await?;
            }
            Ok(())
        }
    }
}

/// The API path of a workflow's definition, at `version` or the latest.
fn definition_path(name: &str, project: &str, version: Option<i64>) -> String {
    let mut path = format!("/workflows/{}?project={}", encode(name), encode(project));
    if let Some(v) = version {
        path.push_str(&format!("&version={v}"));
    }
    path
}
