//! `baton schedule …`: list schedules, preview fire times, set and delete them, switch them
//! on and off.

use crate::args::{ScheduleCommand, ServerArgs};
use crate::client::{encode, Empty};
use crate::exit::Exit;
use crate::format;
use baton_api_model::{ApplyOutcome, Preview, ScheduleApplied, ScheduleList, ScheduleSwitched};
use baton_core::schedule::{parse_timezone, Cron, Schedule};
use baton_core::spec::ScheduleSpec;
use reqwest::Method;
use serde_json::Value;

pub async fn run(cmd: ScheduleCommand) -> anyhow::Result<()> {
    match cmd {
        ScheduleCommand::List { server } => {
            let r: ScheduleList = server.client()?.get("/schedules?limit=1000").await?;
            let rows: Vec<Vec<String>> = r
                .schedules
                .iter()
                .map(|s| {
                    vec![
                        format!("{}/{}", s.project, s.name),
                        when(&s.spec),
                        if s.online { "online" } else { "offline" }.into(),
                        format::at(s.next_fire_at),
                        format::at(s.last_fire_at),
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
            let r: Preview = server.client()?.get(&path).await?;
            for t in r.fires {
                println!("{}", t.to_rfc3339());
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
            let r: ScheduleApplied = server
                .client()?
                .call(Method::PUT, &path, Some(&Value::Object(block)))
                .await?;
            let version = r.applied.version;
            match r.applied.outcome {
                ApplyOutcome::Unchanged => {
                    println!("schedule of {name} unchanged (version {version})")
                }
                ApplyOutcome::Created | ApplyOutcome::Updated => {
                    println!("schedule of {name} set (version {version})")
                }
            }
            Ok(())
        }
        ScheduleCommand::Delete {
            name,
            project,
            server,
        } => {
            let path = schedule_path(&name, project.as_deref());
            let r: ScheduleApplied = server
                .client()?
                .call::<Empty, _>(Method::DELETE, &path, None)
                .await?;
            println!("schedule of {name} deleted (version {})", r.applied.version);
            Ok(())
        }
        ScheduleCommand::Online {
            name,
            project,
            server,
        } => switch(&server, &name, project, "online").await,
        ScheduleCommand::Offline {
            name,
            project,
            server,
        } => switch(&server, &name, project, "offline").await,
    }
}

fn schedule_path(name: &str, project: Option<&str>) -> String {
    let mut path = format!("/workflows/{}/schedule", encode(name));
    if let Some(p) = project {
        path.push_str(&format!("?project={}", encode(p)));
    }
    path
}

async fn switch(
    server: &ServerArgs,
    name: &str,
    project: Option<String>,
    to: &str,
) -> anyhow::Result<()> {
    let mut path = format!("/workflows/{}/schedule/{to}", encode(name));
    if let Some(p) = project {
        path.push_str(&format!("?project={}", encode(&p)));
    }
    let _: ScheduleSwitched = server.client()?.post(&path, &Empty {}).await?;
    println!("schedule of {name} {to}");
    Ok(())
}

/// What makes a schedule fire, in words.
fn when(spec: &ScheduleSpec) -> String {
    if let Some(cron) = &spec.cron {
        return format!("cron {cron}");
    }
    if let Some(d) = spec.fixed_rate {
        return format!("every {}", baton_core::duration::format(d));
    }
    match spec.fixed_delay {
        Some(d) => format!("{} after each end", baton_core::duration::format(d)),
        None => String::new(),
    }
}
