//! `baton alert …`: a project's alert channels and rules, and the history of deliveries.

use crate::args::{AlertChannelCommand, AlertCommand, AlertRuleCommand, ServerArgs};
use crate::client::encode;
use crate::exit::Exit;
use crate::format;
use baton_api_model::{
    AlertChannel, AlertChannelList, AlertChannelRequest, AlertChannelSettings, AlertChannelType,
    AlertDeliveryList, AlertRule, AlertRuleList, AlertRuleRequest, AlertTest, SmtpTls,
};
use baton_core::alert::AlertOn;
use std::path::Path;

/// `?project=P`, or nothing for the default project.
fn project_query(project: &Option<String>) -> String {
    project
        .as_deref()
        .map(|p| format!("?project={}", encode(p)))
        .unwrap_or_default()
}

/// The first line of `text` (its newline dropped); `from` names where it came from.
fn first_line(text: &str, from: &str) -> Result<String, Exit> {
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if line.is_empty() {
        return Err(Exit::BadInput(format!("{from} held no secret")));
    }
    Ok(line)
}

/// The secret from stdin or a file, if asked for.
fn secret(stdin: bool, file: Option<&Path>) -> Result<Option<String>, Exit> {
    if stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Exit::BadInput(format!("cannot read the secret from stdin: {e}")))?;
        return first_line(&line, "--secret-stdin: standard input").map(Some);
    }
    let Some(file) = file else { return Ok(None) };
    let text = std::fs::read_to_string(file).map_err(|e| {
        Exit::BadInput(format!(
            "--secret-file: cannot read {}: {e}",
            file.display()
        ))
    })?;
    first_line(&text, &format!("--secret-file {}", file.display())).map(Some)
}

fn smtp_tls(text: &str) -> Result<SmtpTls, Exit> {
    match text {
        "starttls" => Ok(SmtpTls::Starttls),
        "tls" => Ok(SmtpTls::Tls),
        "none" => Ok(SmtpTls::None),
        other => Err(Exit::BadInput(format!(
            "--smtp-tls: unknown value `{other}` (starttls, tls or none)"
        ))),
    }
}

fn print_channel(c: &AlertChannel) -> anyhow::Result<()> {
    println!("name:       {}", c.name);
    println!("project:    {}", c.project);
    println!("type:       {}", c.kind);
    println!(
        "secret:     {}",
        if c.has_secret { "set (sealed)" } else { "none" }
    );
    let settings = serde_json::to_value(&c.settings)?;
    if let Some(fields) = settings.as_object() {
        for (k, v) in fields {
            println!("{:<11} {}", format!("{k}:"), v);
        }
    }
    println!("created:    {}", format::at(Some(c.created_at)));
    Ok(())
}

/// `baton alert …`.
pub async fn run(cmd: AlertCommand) -> anyhow::Result<()> {
    match cmd {
        AlertCommand::Channel(c) => channel(c).await,
        AlertCommand::Rule(r) => rule(r).await,
        AlertCommand::History {
            project,
            workflow,
            limit,
            json,
            server,
        } => history(project, workflow, limit, json, server).await,
    }
}

async fn channel(cmd: AlertChannelCommand) -> anyhow::Result<()> {
    match cmd {
        AlertChannelCommand::Create(create) => {
            let crate::args::AlertChannelCreate {
                name,
                kind,
                url,
                template,
                smtp_host,
                smtp_port,
                smtp_tls: tls,
                username,
                from,
                to,
                script,
                timeout,
                secret_stdin,
                secret_file,
                project,
                server,
            } = *create;
            let kind: AlertChannelType = kind.parse().map_err(Exit::BadInput)?;
            let settings = AlertChannelSettings {
                url,
                template,
                smtp_host,
                smtp_port,
                smtp_tls: tls.as_deref().map(smtp_tls).transpose()?,
                username,
                from,
                to,
                script,
                timeout_ms: timeout.map(|t| t.as_millis().try_into().unwrap_or(u64::MAX)),
            };
            let body = AlertChannelRequest {
                name,
                kind,
                settings,
                secret: secret(secret_stdin, secret_file.as_deref())?,
            };
            let path = format!("/alerts/channels{}", project_query(&project));
            let created: AlertChannel = server.client()?.post(&path, &body).await?;
            eprintln!(
                "alert channel {} ({}) created in project {} ({})",
                created.name,
                created.kind,
                created.project,
                if created.has_secret {
                    "secret sealed"
                } else {
                    "no secret"
                }
            );
        }
        AlertChannelCommand::List { project, server } => {
            let path = format!("/alerts/channels{}", project_query(&project));
            let list = server
                .client()?
                .all_pages(&path, |p: AlertChannelList| (p.channels, p.next_cursor))
                .await?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.kind.to_string(),
                        if c.has_secret { "yes" } else { "no" }.to_string(),
                    ]
                })
                .collect();
            println!("{}", format::table(&["NAME", "TYPE", "SECRET"], &rows));
        }
        AlertChannelCommand::Show {
            name,
            project,
            json,
            server,
        } => {
            let path = format!(
                "/alerts/channels/{}{}",
                encode(&name),
                project_query(&project)
            );
            let c: AlertChannel = server.client()?.get(&path).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                print_channel(&c)?;
            }
        }
        AlertChannelCommand::Test {
            name,
            project,
            server,
        } => {
            let path = format!(
                "/alerts/channels/{}/test{}",
                encode(&name),
                project_query(&project)
            );
            let t: AlertTest = server
                .client()?
                .post(&path, &crate::client::Empty {})
                .await?;
            if !t.ok {
                return Err(Exit::Failed(t.message).into());
            }
            println!("ok: {}", t.message);
        }
        AlertChannelCommand::Delete {
            name,
            project,
            server,
        } => {
            let path = format!(
                "/alerts/channels/{}{}",
                encode(&name),
                project_query(&project)
            );
            let () = server.client()?.delete(&path).await?;
            eprintln!("alert channel {name} deleted");
        }
    }
    Ok(())
}

fn kinds(on: &[AlertOn]) -> String {
    on.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")
}

async fn rule(cmd: AlertRuleCommand) -> anyhow::Result<()> {
    match cmd {
        AlertRuleCommand::Create {
            on,
            channel,
            workflow,
            project,
            server,
        } => {
            let on = AlertOn::parse_list(&on).map_err(|e| Exit::BadInput(format!("--on: {e}")))?;
            let body = AlertRuleRequest {
                on,
                channel,
                workflow,
            };
            let path = format!("/alerts/rules{}", project_query(&project));
            let r: AlertRule = server.client()?.post(&path, &body).await?;
            println!("{}", r.id);
            eprintln!(
                "alert rule {} created: {} of {} to channel {}",
                r.id,
                kinds(&r.on),
                r.workflow.as_deref().unwrap_or("every workflow"),
                r.channel
            );
        }
        AlertRuleCommand::List { project, server } => {
            let path = format!("/alerts/rules{}", project_query(&project));
            let list = server
                .client()?
                .all_pages(&path, |p: AlertRuleList| (p.rules, p.next_cursor))
                .await?;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        kinds(&r.on),
                        r.workflow.clone().unwrap_or_else(|| "*".into()),
                        r.channel.clone(),
                    ]
                })
                .collect();
            println!(
                "{}",
                format::table(&["ID", "ON", "WORKFLOW", "CHANNEL"], &rows)
            );
        }
        AlertRuleCommand::Delete {
            id,
            project,
            server,
        } => {
            let path = format!("/alerts/rules/{id}{}", project_query(&project));
            let () = server.client()?.delete(&path).await?;
            eprintln!("alert rule {id} deleted");
        }
    }
    Ok(())
}

async fn history(
    project: Option<String>,
    workflow: Option<String>,
    limit: u32,
    json: bool,
    server: ServerArgs,
) -> anyhow::Result<()> {
    let mut path = format!(
        "/alerts/deliveries?project={}&limit={}",
        encode(
            project
                .as_deref()
                .unwrap_or(baton_core::spec::DEFAULT_PROJECT)
        ),
        limit.clamp(1, 1000)
    );
    if let Some(w) = &workflow {
        path.push_str(&format!("&workflow={}", encode(w)));
    }
    let page: AlertDeliveryList = server.client()?.get(&path).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&page.deliveries)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page
        .deliveries
        .iter()
        .map(|d| {
            let last_error = d
                .attempts
                .iter()
                .rev()
                .find_map(|a| a.error.clone())
                .unwrap_or_default();
            vec![
                d.id.to_string(),
                format::at(Some(d.created_at)),
                d.kind.to_string(),
                d.workflow.clone().unwrap_or_default(),
                d.instance_id.map(|i| i.to_string()).unwrap_or_default(),
                d.channel.clone(),
                format!("{:?}", d.state).to_lowercase(),
                d.attempts.len().to_string(),
                last_error,
            ]
        })
        .collect();
    println!(
        "{}",
        format::table(
            &[
                "ID",
                "MATCHED",
                "EVENT",
                "WORKFLOW",
                "INSTANCE",
                "CHANNEL",
                "STATE",
                "ATTEMPTS",
                "LAST ERROR"
            ],
            &rows
        )
    );
    if page.next_cursor.is_some() {
        eprintln!("(older deliveries: raise --limit, or page the API's /alerts/deliveries)");
    }
    Ok(())
}
