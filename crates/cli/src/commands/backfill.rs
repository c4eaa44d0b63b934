//! `baton backfill`: run a workflow over a date range, and watch or stop it.

use crate::args::{BackfillArgs, BackfillCommand};
use crate::client::{encode, Client};
use crate::exit::Exit;
use crate::format;
use serde_json::{json, Value};

pub async fn run(args: BackfillArgs) -> anyhow::Result<()> {
    match args.command {
        Some(BackfillCommand::List { server }) => {
            let r: Value = Client::new(&server.server).get("/backfills").await?;
            let rows: Vec<Vec<String>> = r["backfills"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    vec![
                        b["id"].to_string(),
                        b["workflow_id"].to_string(),
                        b["state"].as_str().unwrap_or("").to_string(),
                        format!(
                            "{}/{}",
                            b["started"],
                            b["times"].as_array().map(|t| t.len()).unwrap_or(0)
                        ),
                        format::time(b["created_at"].as_i64()),
                    ]
                })
                .collect();
            println!(
                "{}",
                format::table(&["ID", "WORKFLOW ID", "STATE", "STARTED", "CREATED"], &rows)
            );
            Ok(())
        }
        Some(BackfillCommand::Show { id, server }) => {
            let b: Value = Client::new(&server.server)
                .get(&format!("/backfills/{id}"))
                .await?;
            let progress = &b["progress"];
            let n = |k: &str| progress[k].as_i64().unwrap_or(0);
            println!(
                "backfill {id}: {}  {} instances, parallel {}\ndone {}  failed {}  running {}  waiting {}  stopped {}",
                b["state"].as_str().unwrap_or(""),
                b["times"].as_array().map(|t| t.len()).unwrap_or(0),
                b["parallel"],
                n("succeeded"),
                n("failed"),
                n("running") + n("submitted") + n("pausing") + n("paused") + n("stopping"),
                n("waiting"),
                n("stopped"),
            );
            Ok(())
        }
        Some(BackfillCommand::Stop { id, server }) => {
            let _: Value = Client::new(&server.server)
                .post(&format!("/backfills/{id}/stop"), &json!({}))
                .await?;
            println!("backfill {id} stopped");
            Ok(())
        }
        None => {
            let Some(name) = args.name else {
                return Err(Exit::BadInput(
                    "give a workflow name (or list, show ID, stop ID)".into(),
                )
                .into());
            };
            let body = json!({
                "from": args.from,
                "to": args.to,
                "dates": args.dates,
                "parallel": args.parallel,
                "reverse": args.reverse,
            });
            let path = format!(
                "/workflows/{}/backfill?project={}",
                encode(&name),
                encode(&args.project)
            );
            let r: Value = Client::new(&args.server.server).post(&path, &body).await?;
            println!("{}", r["id"]);
            eprintln!(
                "backfill {} of {name}: {} instances",
                r["id"], r["instances"]
            );
            Ok(())
        }
    }
}
