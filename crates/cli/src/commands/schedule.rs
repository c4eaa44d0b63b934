//! `baton schedule …`: list schedules, preview fire times, set and delete them, switch them
//! on and off.

use crate::args::ScheduleCommand;
use crate::client::{encode, Client};
use crate::exit::Exit;
use crate::format;
use baton_core::schedule::{parse_timezone, Cron, Schedule};
use reqwest::Method;
use serde_json::{json, Value};

pub async fn run(cmd: ScheduleCommand) -> anyhow::Result<()> {
    match cmd {
        ScheduleCommand::List { server } => {
            let r: Value = Client::new(&server.server).get("/schedules").await?;
            let rows: Vec<Vec<String>> = r["schedules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let spec = &s["spec"];
                    let when = spec["cron"]
                        .as_str()
                        .map(|c| format!("cron {c}"))
                        .or_else(|| spec["fixed_rate"].as_str().map(|d| format!("every {d}")))
                        .or_else(|| {
                            spec["fixed_delay"]
                                .as_str()
                                .map(|d| format!("{d} after each end"))
                        })
                        .unwrap_or_default();
                    vec![
                        format!(
                            "{}/{}",
                            s["project"].as_str().unwrap_or(""),
                            s["name"].as_str().unwrap_or("")
                        ),
                        when,
                        if s["online"] == true {
                            "online".into()
                        } else {
                            "offline".into()
                        },
                        format::time(s["next_fire_at"].as_i64()),
                        format::time(s["last_fire_at"].as_i64()),
                    ]
                })
                .collect();
            println!(
                "{}",
                format::table(
                    &["WORKFLOW", "WHEN", "STATE", "NEXT FIRE", "LAST FIRE"],
                    &rows
                )
            );
            Ok(())
        }
        ScheduleCommand::Preview {
            target,
            count,
            timezone,
            after,
            project,
            server,
        } => {
            if target.contains(' ') {
                // A cron expression: computed here.
                let cron = Cron::parse(&target)
                    .map_err(|e| Exit::BadInput(format!("cron `{target}`: {e}")))?;
                let tz = match &timezone {
                    Some(t) => parse_timezone(t).map_err(|e| Exit::BadInput(e.to_string()))?,
                    None => chrono_tz::UTC,
                };
                let after = match &after {
                    Some(t) => {
                        baton_core::spec::schedule::parse_instant(t, tz).map_err(Exit::BadInput)?
                    }
                    None => chrono::Utc::now(),
                };
                for t in Schedule::new(cron, tz).preview(after, count) {
                    println!("{}", t.to_rfc3339());
                }
                return Ok(());
            }
            let mut path = format!(
                "/workflows/{}/schedule/preview?count={count}",
                encode(&target)
            );
            if let Some(p) = project {
                path.push_str(&format!("&project={}", encode(&p)));
            }
            if let Some(a) = after {
                path.push_str(&format!("&after={}", encode(&a)));
            }
            let r: Value = Client::new(&server.server).get(&path).await?;
            for t in r["fires"].as_array().into_iter().flatten() {
                println!("{}", t.as_str().unwrap_or(""));
            }
            Ok(())
        }
        ScheduleCommand::Set {
            name,
            cron,
            fixed_rate,
            fixed_delay,
            timezone,
            start,
            end,
            misfire,
            max_catchup,
            concurrency,
            priority,
            offline,
            project,
            server,
        } => {
            // The `schedule:` block of a workflow file, as JSON: the server checks it.
            let mut block = serde_json::Map::new();
            for (key, value) in [
                ("cron", cron),
                ("fixed_rate", fixed_rate),
                ("fixed_delay", fixed_delay),
                ("timezone", timezone),
                ("start", start),
                ("end", end),
                ("misfire", misfire),
                ("concurrency", concurrency),
                ("priority", priority),
            ] {
                if let Some(v) = value {
                    block.insert(key.into(), Value::String(v));
                }
            }
            if let Some(n) = max_catchup {
                block.insert("max_catchup".into(), n.into());
            }
            block.insert("online".into(), Value::Bool(!offline));
            let path = schedule_path(&name, project.as_deref());
            let r: Value = Client::new(&server.server)
                .call(Method::PUT, &path, Some(&Value::Object(block)))
                .await?;
            match r["outcome"].as_str() {
                Some("unchanged") => {
                    println!("schedule of {name} unchanged (version {})", r["version"])
                }
                _ => println!("schedule of {name} set (version {})", r["version"]),
            }
            Ok(())
        }
        ScheduleCommand::Delete {
            name,
            project,
            server,
        } => {
            let path = schedule_path(&name, project.as_deref());
            let r: Value = Client::new(&server.server)
                .call(Method::DELETE, &path, None)
                .await?;
            println!("schedule of {name} deleted (version {})", r["version"]);
            Ok(())
        }
        ScheduleCommand::Online {
            name,
            project,
            server,
        } => switch(&server.server, &name, project, "online").await,
        ScheduleCommand::Offline {
            name,
            project,
            server,
        } => switch(&server.server, &name, project, "offline").await,
    }
}

fn schedule_path(name: &str, project: Option<&str>) -> String {
    let mut path = format!("/workflows/{}/schedule", encode(name));
    if let Some(p) = project {
        path.push_str(&format!("?project={}", encode(p)));
    }
    path
}

async fn switch(server: &str, name: &str, project: Option<String>, to: &str) -> anyhow::Result<()> {
    let mut path = format!("/workflows/{}/schedule/{to}", encode(name));
    if let Some(p) = project {
        path.push_str(&format!("?project={}", encode(&p)));
    }
    let _: Value = Client::new(server).post(&path, &json!({})).await?;
    println!("schedule of {name} {to}");
    Ok(())
}
