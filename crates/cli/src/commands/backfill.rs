//! `baton backfill`: run a workflow over a date range, and watch or stop it.

use crate::args::{BackfillArgs, BackfillCommand};
use crate::client::{encode, Empty};
use crate::exit::Exit;
use crate::format;
use baton_api_model::{
    Backfill, BackfillCreated, BackfillList, BackfillRequest, BackfillState, BackfillStopped,
};

pub async fn run(args: BackfillArgs) -> anyhow::Result<()> {
    match args.command {
        Some(BackfillCommand::List { server }) => {
            let r: BackfillList = server.client()?.get("/backfills?limit=200").await?;
            let rows: Vec<Vec<String>> = r
                .backfills
                .iter()
                .map(|b| {
                    vec![
                        b.id.to_string(),
                        format!("{}/{}", b.project, b.workflow),
                        state_name(b.state).to_string(),
                        format!("{}/{}", b.started, b.times.len()),
                        format::at(Some(b.created_at)),
                    ]
                })
                .collect();
            println!(
                "{}",
                format::table(&["ID", "WORKFLOW", "STATE", "STARTED", "CREATED"], &rows)
            );
            Ok(())
        }
        Some(BackfillCommand::Show { id, server }) => {
            let b: Backfill = server.client()?.get(&format!("/backfills/{id}")).await?;
            print!("{}", describe(&b));
            Ok(())
        }
        Some(BackfillCommand::Stop { id, server }) => {
            let _: BackfillStopped = server
                .client()?
                .post(&format!("/backfills/{id}/stop"), &Empty {})
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
            let body = BackfillRequest {
                from: args.from,
                to: args.to,
                dates: args.dates,
                parallel: Some(args.parallel),
                reverse: args.reverse,
            };
            let path = format!(
                "/workflows/{}/backfill?project={}",
                encode(&name),
                encode(&args.project)
            );
            let r: BackfillCreated = args.server.client()?.post(&path, &body).await?;
            println!("{}", r.id);
            eprintln!("backfill {} of {name}: {} instances", r.id, r.instances);
            Ok(())
        }
    }
}

fn state_name(s: BackfillState) -> &'static str {
    match s {
        BackfillState::Running => "running",
        BackfillState::Stopped => "stopped",
        BackfillState::Done => "done",
    }
}

/// The text of `baton backfill show`: every schedule time counted once, then each instance.
fn describe(b: &Backfill) -> String {
    let p = &b.progress;
    let mut out = format!(
        "backfill {}: {}/{}  {}  {} instances, parallel {}\n\
         done {}  failed {}  running {}  waiting {}  stopped {}  cancelled {}\n",
        b.id,
        b.project,
        b.workflow,
        state_name(b.state),
        b.times.len(),
        b.parallel,
        p.succeeded,
        p.failed,
        p.running,
        p.waiting,
        p.stopped,
        p.cancelled,
    );
    if !b.instances.is_empty() {
        let rows: Vec<Vec<String>> = b
            .instances
            .iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    format::at(Some(i.schedule_time)),
                    i.state.to_string(),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&format::table(
            &["INSTANCE", "SCHEDULE TIME", "STATE"],
            &rows,
        ));
        out.push('\n');
    }
    out
}
